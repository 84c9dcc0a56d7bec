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
APT_PACKAGES := dataset-fashion-mnist binutils
FMNIST_DIR  ?= /usr/share/datasets/fashion-mnist

DEVICE      ?= cpu
SEEDS       ?= 1
LAUNCH      ?=
# Weight decay and dropout used by the `wd` and `dropout` settings of a sweep.
WD          ?= 0.0005
DROPOUT     ?= 0.5

# libtorch for `train` (LIBTORCH, LIBTORCH_STAMP; TORCH=cuda for a GPU build), the report target.
include $(ROOT)/crates/train/Makefile.inc
include $(ROOT)/crates/report/Makefile.inc
include $(ROOT)/crates/corrupt/Makefile.inc
include $(ROOT)/scripts/slurm.mk

##@ Setup

.PHONY: help
help: ## list the targets with one line each
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z0-9_./-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

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

##@ Tests and benchmarks

.PHONY: test
test: setup ## run every test (Rust unit, integration, numpy interop, real Fashion-MNIST, make sweeps)
	cargo test --release --workspace --manifest-path $(ROOT)/Cargo.toml
	cargo test --release -p mnist-fetch --manifest-path $(ROOT)/Cargo.toml -- --ignored
	$(ROOT)/tests/make/sweep.sh
	BIN=$(BIN) $(ROOT)/tests/slurm/run.sh

.PHONY: bench-format
bench-format: build ## dataset file throughput: pipe and mmap vs cat and numpy
	$(ROOT)/scripts/bench-format

.PHONY: clean
clean: ## remove build outputs (keeps data/, runs/ and the libtorch cache)
	cargo clean --manifest-path $(ROOT)/Cargo.toml

##@ Data

data/fashion-mnist.npz: | tools ## Fashion-MNIST (60k+10k) from Debian's dataset-fashion-mnist
	@mkdir -p $(@D)
	$(BIN)/mnist-fetch --dataset fashion-mnist --dir $(FMNIST_DIR) -o $@

# CIFAR-10 from the official binary archive: CIFAR_ARCHIVE=path/cifar-10-binary.tar.gz when offline.
data/cifar10.npz: | tools ## CIFAR-10 from the official binary archive (CIFAR_ARCHIVE=path when offline)
	@mkdir -p $(@D)
	$(BIN)/cifar-fetch --dataset cifar10 $(if $(CIFAR_ARCHIVE),--archive $(CIFAR_ARCHIVE)) -o $@

##@ Sweeps
# A sweep trains every MODELS x CONDITIONS x SETTINGS x SEEDS combination on DATA:
#   runs/NAME/<condition>--<model>--<setting>--s<seed>/summary.json   (one run each)
#   report/NAME/summary.md                                            (report of runs/NAME/*/)
# CONDITIONS: true, labels<p> (label corruption p, e.g. labels0.4), random-labels, shuffle,
#   random-pixels, gaussian. SETTINGS: '+'-joined tokens: plain, crop, aug (crop+flip), wd,
#   dropout, nobn. A corrupted dataset is made once per condition and seed: data/NAME/<cond>-s<seed>.npz.
# An interrupted run continues from its checkpoint; `make -j N` runs N trainings at once.

NAME        ?= sweep
DATA        ?= data/$(NAME).npz
CONDITIONS  ?= true
MODELS      ?= mlp-1x512
SETTINGS    ?= plain
STOP_FLAGS  ?= --until-train-acc 1.0 --epochs $(EPOCHS)
EPOCHS      ?= 100
TRAIN_FLAGS ?=
# A separate test file (when DATA holds the training split only, as for ImageNet).
TEST_DATA   ?=
RUNS_DIR    := runs/$(NAME)

cond_true :=
cond_random-labels := --labels 1
cond_shuffle := --shuffle-pixels
cond_random-pixels := --random-pixels
cond_gaussian := --gaussian
cond_flags = $(if $(filter labels%,$1),--labels $(patsubst labels%,%,$1),$(if $(filter $1,true random-labels shuffle random-pixels gaussian),$(cond_$1),$(error unknown condition '$1' (true, labels<p>, random-labels, shuffle, random-pixels, gaussian))))
setting_plain :=
setting_crop := --augment crop
setting_aug := --augment crop,flip
setting_wd = --weight-decay $(WD)
setting_dropout = --dropout $(DROPOUT)
setting_nobn := --no-batchnorm
setting_flags = $(foreach t,$(subst +, ,$1),$(if $(filter $t,plain crop aug wd dropout nobn),$(setting_$t),$(error unknown setting token '$t' (plain, crop, aug, wd, dropout, nobn))))
data_of = $(if $(filter true,$1),$(DATA),data/$(NAME)/$1-s$2.npz)

RUN_TARGETS := $(foreach c,$(CONDITIONS),$(foreach m,$(MODELS),$(foreach s,$(SETTINGS),$(foreach seed,$(SEEDS),$(RUNS_DIR)/$c--$m--$s--s$(seed)/summary.json))))

define DATA_RULE
data/$(NAME)/$1-s$2.npz: $(DATA) | tools
	@mkdir -p $$(@D)
	$(BIN)/corrupt $(call cond_flags,$1) --seed $2 $$< -o $$@
endef
define RUN_RULE
$(RUNS_DIR)/$1--$2--$3--s$4/summary.json: $(call data_of,$1,$4) $(TEST_DATA) | tools
	@if [ -d $$(@D)/checkpoint ]; then echo "resuming $$(@D)" >&2; else rm -rf $$(@D); fi
	$(LAUNCH) $(BIN)/train --model $2 --data $$< $(if $(TEST_DATA),--test $(TEST_DATA)) --out $$(@D) --seed $4 --device $(DEVICE) \
	  $(call setting_flags,$3) $(STOP_FLAGS) $(TRAIN_FLAGS) $$$$([ -d $$(@D)/checkpoint ] && echo --resume)
endef
$(foreach c,$(filter-out true,$(CONDITIONS)),$(foreach seed,$(SEEDS),$(eval $(call DATA_RULE,$c,$(seed)))))
$(foreach c,$(CONDITIONS),$(foreach m,$(MODELS),$(foreach s,$(SETTINGS),$(foreach seed,$(SEEDS),$(eval $(call RUN_RULE,$c,$m,$s,$(seed)))))))

.PHONY: sweep sweep-runs sweep-report print-runs
sweep: sweep-runs ## train a sweep (NAME DATA CONDITIONS MODELS SETTINGS SEEDS ...) and report it
	+@$(SUBMAKE) sweep-report NAME=$(NAME)
sweep-runs: $(RUN_TARGETS) ## train a sweep's runs only
sweep-report: | tools ## report every finished run of runs/NAME/ into report/NAME/
	$(BIN)/report $(sort $(dir $(wildcard $(RUNS_DIR)/*/summary.json))) --out report/$(NAME) $(REPORT_FLAGS)
print-runs: ## print the run targets of a sweep, one per line
	@printf '%s\n' $(RUN_TARGETS)

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

CIFAR_SWEEP = $(SUBMAKE) sweep-runs NAME=cifar10 DATA=data/cifar10.npz

figure1: data/cifar10.npz ## Figure 1 on CIFAR-10 (GPU-sized): randomizations and label corruption levels
	+$(CIFAR_SWEEP) MODELS=inception-small SETTINGS=plain CONDITIONS="true random-labels shuffle random-pixels gaussian"
	+$(CIFAR_SWEEP) MODELS="inception-small alexnet-small mlp-1x512" SETTINGS=plain CONDITIONS="$(RANDOMIZATIONS)"
	+$(SUBMAKE) sweep-report NAME=cifar10 REPORT_FLAGS=--paper

table1: data/cifar10.npz ## Table 1 on CIFAR-10 (GPU-sized): models x {crop, weight decay}, and random labels
	+$(CIFAR_SWEEP) MODELS="inception-small alexnet-small mlp-3x512 mlp-1x512" SETTINGS="plain crop wd crop+wd" CONDITIONS=true
	+$(CIFAR_SWEEP) MODELS=inception-small SETTINGS="nobn nobn+wd" CONDITIONS=true
	+$(CIFAR_SWEEP) MODELS="inception-small alexnet-small mlp-3x512 mlp-1x512" SETTINGS=plain CONDITIONS=random-labels
	+$(SUBMAKE) sweep-report NAME=cifar10 REPORT_FLAGS=--paper

figure2: data/cifar10.npz ## Figure 2 on CIFAR-10 (GPU-sized): test accuracy over training, with/without BatchNorm and regularizers
	+$(CIFAR_SWEEP) MODELS=inception-small SETTINGS="plain nobn aug+wd" CONDITIONS=true
	+$(SUBMAKE) sweep-report NAME=cifar10 REPORT_FLAGS=--paper

paper: figure1 table1 figure2 ## every CIFAR-10 experiment of the paper (GPU-sized); report in report/cifar10/

# ImageNet (Table 2): IMAGENET=ROOT holds train/<wnid>/*.JPEG and val/ (see imagenet-pack);
# IMAGENET_FLAGS go to both splits (e.g. --synsets LOC_synset_mapping.txt), IMAGENET_VAL_FLAGS to
# the validation split only (e.g. --val-labels LOC_val_solution.csv for a flat val/ folder).
# `train` holds a whole dataset file in device memory: this fits ImageNet subsets, not the full
# 1.28M images at 299x299 (~340 GB).
IMAGENET       ?=
IMAGENET_SIZE  ?= 299
IMAGENET_FLAGS ?=
IMAGENET_VAL_FLAGS ?=
IMAGENET_SWEEP = $(SUBMAKE) sweep-runs NAME=imagenet DATA=data/imagenet-train.npz TEST_DATA=data/imagenet-val.npz MODELS=inception-v3

data/imagenet-train.npz data/imagenet-val.npz: data/imagenet-%.npz: | tools
	@[ -n "$(IMAGENET)" ] || { echo "make: set IMAGENET=ROOT (an ImageNet-style tree: ROOT/train/<wnid>/*.JPEG, ROOT/val/)" >&2; exit 2; }
	@mkdir -p $(@D)
	$(BIN)/imagenet-pack $(IMAGENET) --split $* --size $(IMAGENET_SIZE) $(IMAGENET_FLAGS) $(if $(filter val,$*),$(IMAGENET_VAL_FLAGS)) -o $@

.PHONY: imagenet
imagenet: data/imagenet-train.npz data/imagenet-val.npz ## Table 2: Inception V3 on ImageNet (IMAGENET=ROOT; GPU-sized) with/without augmentation, weight decay, dropout, and random labels
	+$(IMAGENET_SWEEP) CONDITIONS=true SETTINGS="aug+dropout+wd aug wd plain"
	+$(IMAGENET_SWEEP) CONDITIONS=random-labels SETTINGS=plain
	+$(SUBMAKE) sweep-report NAME=imagenet REPORT_FLAGS=--paper
