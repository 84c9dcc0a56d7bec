# libtorch for `train` (crates/train) and the build environment cargo needs for it.
# Every cargo command that builds or tests `train` (or the whole workspace) needs LIBTORCH in its
# environment and the libtorch folder in place: `export LIBTORCH` below reaches every recipe, and
# each target that runs cargo on train or on the workspace depends on $(LIBTORCH_STAMP).
# Changing LIBTORCH rebuilds torch-sys and burn (~6 min): keep it at this one fixed path.
#
# TORCH=cuda (on a GPU machine): a venv with the full torch==2.9.0 wheel (~4 GB of CUDA wheels)
# replaces the CPU-only folder; torch-sys finds it through LIBTORCH_USE_PYTORCH and the venv's
# `python`, and crates/train/build.rs gives the binary an rpath to that venv's torch/lib.

##@ libtorch (train's backend)

TORCH ?= cpu
LIBTORCH_DIR := $(ROOT)/libtorch
CUDA_VENV := $(ROOT)/.venv-cuda

ifeq ($(TORCH),cuda)
export LIBTORCH_USE_PYTORCH := 1
export VIRTUAL_ENV := $(CUDA_VENV)
export PATH := $(CUDA_VENV)/bin:$(PATH)
LIBTORCH_STAMP := $(CUDA_VENV)/.torch-2.9.0
else
export LIBTORCH := $(LIBTORCH_DIR)
LIBTORCH_STAMP := $(LIBTORCH_DIR)/.rethink-stamp
endif

.PHONY: libtorch train

libtorch: $(LIBTORCH_STAMP) ## libtorch 2.9.0 for `train` (CPU from PyPI wheels, ~0.9 GB download, cached; TORCH=cuda: full wheel)

$(LIBTORCH_DIR)/.rethink-stamp: $(ROOT)/scripts/setup-libtorch
	$(ROOT)/scripts/setup-libtorch $(LIBTORCH_DIR)

$(CUDA_VENV)/.torch-2.9.0:
	python3 -m venv $(CUDA_VENV)
	$(CUDA_VENV)/bin/pip install torch==2.9.0 numpy
	touch $@

train: $(LIBTORCH_STAMP) ## build target/release/train only (runs without LD_LIBRARY_PATH)
	cargo build --release -p train --manifest-path $(ROOT)/Cargo.toml
