# rethink: reproduce "Understanding deep learning requires rethinking generalization".
# Every intermediate is a file target: an interrupted sweep resumes, `make -j N` runs independent
# runs in parallel, and .DELETE_ON_ERROR leaves no half-made target. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SECONDARY:
MAKEFLAGS += --no-builtin-rules
.DEFAULT_GOAL := help

# ---- configuration (override on the command line: make demo SEEDS="1 2 3") ----
# ROOT is the repository; data/, runs/ and report/ are made in the current directory, so
# `make -f /path/to/rethink/Makefile sweep ...` runs a sweep anywhere (e.g. on a shared filesystem).
ROOT        := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
PYTHON      ?= python3
VENV        := $(ROOT)/.venv
VPY         := $(VENV)/bin/python
# Recursive make must name this Makefile: the current directory may be elsewhere.
SUBMAKE      = $(MAKE) --no-print-directory -f $(ROOT)/Makefile
BIN         := $(ROOT)/target/release
APT_PACKAGES := dataset-fashion-mnist binutils groff-base man-db
FMNIST_DIR  ?= /usr/share/datasets/fashion-mnist

DEVICE      ?= cpu
SEEDS       ?= 1
LAUNCH      ?=
# Weight decay and dropout used by the `wd` and `dropout` settings of a sweep.
WD          ?= 0.0005
DROPOUT     ?= 0.5

# The parts, each under its own `make help` heading, listed after this file's: libtorch for `train`
# (LIBTORCH, LIBTORCH_STAMP; TORCH=cuda for a GPU build), the sweep machinery and reports, the study,
# Section 5 (kernel-fit), benchmarks, Slurm. tests/make/help.sh checks that every
# scripts/make/*.mk is included here.
MAKE_PARTS := libtorch sweeps study dynamics precision kernel benches slurm install
include $(MAKE_PARTS:%=$(ROOT)/scripts/make/%.mk)

##@ Setup

.PHONY: help
help: ## list the targets with one line each
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z0-9_./-]+:.*## / {printf "  %-22s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: apt $(VPY) $(LIBTORCH_STAMP) ## install what this machine lacks (apt packages, numpy venv, libtorch)

.PHONY: apt
apt: ## install the Debian packages the project needs (only the missing ones)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >&2; \
	fi

$(VPY): $(ROOT)/scripts/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r $(ROOT)/scripts/requirements.txt
	touch $@

.PHONY: build
build: setup ## build every tool (release) into target/release
	cargo build --release --workspace --manifest-path $(ROOT)/Cargo.toml

# Sweep targets depend on this (order-only): cargo is quick when nothing changed. NOBUILD=1 skips
# it where the tools are prebuilt and cargo is absent (e.g. Slurm compute nodes).
.PHONY: tools
tools:
	$(if $(NOBUILD),@true,@$(SUBMAKE) build >&2)

.PHONY: clean
clean: ## remove build outputs (keeps data/, runs/ and the libtorch cache)
	cargo clean --manifest-path $(ROOT)/Cargo.toml

##@ Tests

.PHONY: test check-vendor-patch
test: setup ## run every test (vendored patch, Rust unit, integration, numpy interop, real Fashion-MNIST, make, Slurm)
	$(ROOT)/scripts/check-vendor-patch
	cargo test --release --workspace --manifest-path $(ROOT)/Cargo.toml
	cargo test --release -p mnist-fetch --manifest-path $(ROOT)/Cargo.toml -- --ignored
	$(ROOT)/tests/make/help.sh
	$(ROOT)/tests/make/sweep.sh
	$(ROOT)/tests/make/imagenet-tiny.sh
	$(ROOT)/tests/make/install.sh
	BIN=$(BIN) $(ROOT)/tests/slurm/run.sh

.PHONY: test-slow
test-slow: setup ## the tests too slow for `make test` (a zip64 entry over 4 GiB, read back by us and by Python); CI runs both
	cargo test --release -p rethink-dataset --test zip64 --manifest-path $(ROOT)/Cargo.toml -- --ignored

check-vendor-patch: ## the vendored burn-tch is the published crate + crates/train/vendor/burn-tch.patch
	$(ROOT)/scripts/check-vendor-patch

##@ Data

data/fashion-mnist.npz: | tools ## Fashion-MNIST (60k+10k) from Debian's dataset-fashion-mnist
	@mkdir -p $(@D)
	$(BIN)/mnist-fetch --dataset fashion-mnist --dir $(FMNIST_DIR) -o $@

# CIFAR-10 from the official binary archive: CIFAR_ARCHIVE=path/cifar-10-binary.tar.gz when offline.
data/cifar10.npz: | tools ## CIFAR-10 from the official binary archive (CIFAR_ARCHIVE=path when offline)
	@mkdir -p $(@D)
	$(BIN)/cifar-fetch --dataset cifar10 $(if $(CIFAR_ARCHIVE),--archive $(CIFAR_ARCHIVE)) -o $@

##@ The paper

DEMO_TRAIN  ?= 2000
DEMO_TEST   ?= 2000
DEMO_MODELS ?= mlp-1x512 mlp-3x512
DEMO_EPOCHS ?= 300
# The paper decays the learning rate by 0.95 per epoch of 50,000 images; a 2,000-image epoch
# gets the same decay per image seen: 0.95^(2000/50000) = 0.998.
DEMO_LR_DECAY ?= 0.998
RANDOMIZATIONS := true labels0.2 labels0.4 labels0.6 labels0.8 random-labels shuffle random-pixels gaussian

data/fmnist-demo.npz: data/fashion-mnist.npz | tools
	@mkdir -p $(@D)
	$(BIN)/subset --train $(DEMO_TRAIN) --test $(DEMO_TEST) --stratified --seed 1 $< -o $@

.PHONY: demo figure1 table1 figure2 paper
demo: setup data/fmnist-demo.npz ## the main job: the randomization study on real Fashion-MNIST, CPU-sized, into report/demo/
	+$(SUBMAKE) sweep NAME=demo DATA=data/fmnist-demo.npz MODELS="$(DEMO_MODELS)" \
	  CONDITIONS="$(RANDOMIZATIONS)" SETTINGS=plain EPOCHS=$(DEMO_EPOCHS) TRAIN_FLAGS="--lr-decay $(DEMO_LR_DECAY)"
	@echo "make demo: report in report/demo/summary.md" >&2

# Stopping rules (STOP, see scripts/make/sweeps.mk); each is part of the run folder's name, so a
# run of Table 1 never stands in for the same model's run of Figure 1:
# - Table 1, Figure 2 and Table 2 report accuracy after a training schedule, and Figure 2 draws the
#   whole schedule: a fixed budget of BUDGET_EPOCHS epochs (STOP=e100). The paper does not give the
#   length. With the learning rate x0.95 per epoch, 99.4% of the schedule's total step size is spent
#   by epoch 100 (1 - 0.95^100), so 100 epochs runs the schedule out.
# - Figure 1 measures how fast each randomization is fitted, and random-label rows test capacity,
#   not a schedule: they train until 100% training accuracy, at most FIT_EPOCHS epochs (the same
#   argument), evaluated every FIT_EVAL_EVERY = 0.25 epoch so that steps-to-fit resolves finer
#   than an epoch (STOP=fit100).
BUDGET_EPOCHS ?= 100
FIT_EPOCHS    ?= 100
CIFAR_SWEEP = $(SUBMAKE) sweep-runs NAME=cifar10 DATA=data/cifar10.npz
CIFAR_BUDGET = $(CIFAR_SWEEP) STOP=e$(BUDGET_EPOCHS)
CIFAR_FIT = $(CIFAR_SWEEP) STOP=fit$(FIT_EPOCHS)

figure1: data/cifar10.npz ## Figure 1 on CIFAR-10 (GPU-sized): randomizations and label corruption; each run until 100% train accuracy (max FIT_EPOCHS=100), evaluated every 0.25 epoch
	+$(CIFAR_FIT) MODELS=inception-small SETTINGS=plain CONDITIONS="true random-labels shuffle random-pixels gaussian"
	+$(CIFAR_FIT) MODELS="inception-small alexnet-small mlp-1x512" SETTINGS=plain CONDITIONS="$(RANDOMIZATIONS)"
	+$(SUBMAKE) sweep-report NAME=cifar10 REPORT_FLAGS=--paper

table1: data/cifar10.npz ## Table 1 on CIFAR-10 (GPU-sized): models x {crop, weight decay} for BUDGET_EPOCHS=100 epochs; random labels (with/without BN) until 100% train accuracy
	+$(CIFAR_BUDGET) MODELS="inception-small alexnet-small mlp-3x512 mlp-1x512" SETTINGS="plain crop wd crop+wd" CONDITIONS=true
	+$(CIFAR_BUDGET) MODELS=inception-small SETTINGS="nobn nobn+wd" CONDITIONS=true
	+$(CIFAR_FIT) MODELS="inception-small alexnet-small mlp-3x512 mlp-1x512" SETTINGS=plain CONDITIONS=random-labels
	+$(CIFAR_FIT) MODELS=inception-small SETTINGS=nobn CONDITIONS=random-labels
	+$(SUBMAKE) sweep-report NAME=cifar10 REPORT_FLAGS=--paper

figure2: data/cifar10.npz ## Figure 2 on CIFAR-10 (GPU-sized): Inception's test accuracy over BUDGET_EPOCHS=100 epochs, plain / without BatchNorm / aug+wd
	+$(CIFAR_BUDGET) MODELS=inception-small SETTINGS="plain nobn aug+wd" CONDITIONS=true
	+$(SUBMAKE) sweep-report NAME=cifar10 REPORT_FLAGS=--paper

paper: figure1 table1 figure2 ## every CIFAR-10 experiment of the paper (GPU-sized); report in report/cifar10/

# ImageNet (Table 2): IMAGENET=ROOT holds train/<wnid>/*.JPEG and val/ (see imagenet-pack);
# IMAGENET_FLAGS go to both splits (e.g. --synsets LOC_synset_mapping.txt), IMAGENET_VAL_FLAGS to
# the validation split only (e.g. --val-labels LOC_val_solution.csv for a flat val/ folder).
# The training split is packed as a shard set, data/imagenet-train/ (IMAGENET_SHARD_SIZE images a
# shard), that `train` streams from its memory maps (the 1.28M images at 342x342 are ~450 GB);
# the validation split is one file, data/imagenet-val.npz, streamed too when it is large.
# data/imagenet-train.npz packs the training split as one file instead (for subsets).
IMAGENET       ?=
# IMAGENET_NAME names the data files, runs/ and report/ folders (imagenet-tiny uses its own).
IMAGENET_NAME  ?= imagenet
# Packed at 342x342 (shorter side resized to 342, center crop) so that training crops of 299 can
# move (random resized crops with `rrc`); evaluation takes the center 299x299 (the usual
# resize-342/center-crop-299 protocol).
IMAGENET_SIZE  ?= 342
IMAGENET_CROP  ?= 299
IMAGENET_SHARD_SIZE ?= 5000
IMAGENET_FLAGS ?=
IMAGENET_VAL_FLAGS ?=
IMAGENET_TRAIN_FLAGS ?=
IMAGENET_TRAIN := data/$(IMAGENET_NAME)-train
IMAGENET_VAL   := data/$(IMAGENET_NAME)-val.npz
IMAGENET_SWEEP = $(SUBMAKE) sweep-runs NAME=$(IMAGENET_NAME) DATA=$(IMAGENET_TRAIN) DATA_EXT= TEST_DATA=$(IMAGENET_VAL) \
  MODELS=inception-v3 TRAIN_FLAGS="--crop $(IMAGENET_CROP) $(IMAGENET_TRAIN_FLAGS)"
# Table 2's stopping rules are Table 1's: true labels a fixed budget, random labels until they fit
# (evaluated once an epoch: a pass over the training set costs as much as an epoch of training).
IMAGENET_EPOCHS ?= 100
IMAGENET_FIT_EVAL_EVERY ?= 1
imagenet_root = @[ -n "$(IMAGENET)" ] || { echo "make: set IMAGENET=ROOT (an ImageNet-style tree: ROOT/train/<wnid>/*.JPEG, ROOT/val/)" >&2; exit 2; }

data/$(IMAGENET_NAME)-train.npz data/$(IMAGENET_NAME)-val.npz: data/$(IMAGENET_NAME)-%.npz: | tools
	$(imagenet_root)
	@mkdir -p $(@D)
	$(BIN)/imagenet-pack $(IMAGENET) --split $* --size $(IMAGENET_SIZE) $(IMAGENET_FLAGS) $(if $(filter val,$*),$(IMAGENET_VAL_FLAGS)) -o $@

$(IMAGENET_TRAIN): | tools
	$(imagenet_root)
	@mkdir -p $(@D)
	$(BIN)/imagenet-pack $(IMAGENET) --split train --size $(IMAGENET_SIZE) --shard-size $(IMAGENET_SHARD_SIZE) $(IMAGENET_FLAGS) -o $@

.PHONY: imagenet
imagenet: $(IMAGENET_TRAIN) $(IMAGENET_VAL) ## Table 2: Inception V3 on ImageNet (IMAGENET=ROOT; GPU-sized), streamed from shards: {aug (rrc), wd, dropout} for IMAGENET_EPOCHS=100 epochs; random labels (none, wd, wd+dropout) until 100% train accuracy
	+$(IMAGENET_SWEEP) STOP=e$(IMAGENET_EPOCHS) CONDITIONS=true SETTINGS="rrc+dropout+wd rrc wd plain"
	+$(IMAGENET_SWEEP) STOP=fit$(IMAGENET_EPOCHS) FIT_EVAL_EVERY=$(IMAGENET_FIT_EVAL_EVERY) CONDITIONS=random-labels SETTINGS="dropout+wd wd plain"
	+$(SUBMAKE) sweep-report NAME=$(IMAGENET_NAME) REPORT_FLAGS=--paper

# make imagenet's whole path (pack shards, corrupt shards, stream Table 2's seven runs, report) on
# a generated ImageNet-style tree of 4 classes (48 training, 16 validation JPEGs): seconds.
IMAGENET_TINY_TREE := data/imagenet-tiny-tree
$(IMAGENET_TINY_TREE): | $(VPY)
	@rm -rf $@.tmp
	$(VPY) $(ROOT)/scripts/imagenet-tree $@.tmp --classes 4 --train 12 --val 4 --min 80 --max 120 --seed 1
	@mv $@.tmp $@

.PHONY: imagenet-tiny
imagenet-tiny: $(IMAGENET_TINY_TREE) ## make imagenet end to end on a generated tree, in seconds (data/imagenet-tiny-*, runs/imagenet-tiny/, report/imagenet-tiny/)
	+$(SUBMAKE) imagenet IMAGENET=$(IMAGENET_TINY_TREE) IMAGENET_NAME=imagenet-tiny IMAGENET_SIZE=80 IMAGENET_CROP=75 \
	  IMAGENET_SHARD_SIZE=16 IMAGENET_EPOCHS=1 IMAGENET_TRAIN_FLAGS="--batch-size 16 --lr 0.01 --stream" \
	  IMAGENET_FLAGS="--synsets $(IMAGENET_TINY_TREE)/LOC_synset_mapping.txt" \
	  IMAGENET_VAL_FLAGS="--val-labels $(IMAGENET_TINY_TREE)/LOC_val_solution.csv"
