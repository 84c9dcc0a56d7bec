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
PYTHON      ?= python3
VENV        := .venv
VPY         := $(VENV)/bin/python
BIN         := target/release
LIBTORCH    ?= $(CURDIR)/libtorch
export LIBTORCH
APT_PACKAGES := dataset-fashion-mnist fonts-dejavu-core binutils
FMNIST_DIR  ?= /usr/share/datasets/fashion-mnist

TOOLS := inspect
BINARIES := $(addprefix $(BIN)/,$(TOOLS))

##@ Setup

.PHONY: help
help: ## list the targets with one line each
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z0-9_.-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: apt $(VPY) $(LIBTORCH)/build-version ## install what this machine lacks (apt packages, numpy venv, libtorch)

.PHONY: apt
apt: ## install the Debian packages the project needs (only the missing ones)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >&2; \
	fi

$(VPY): scripts/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
	touch $@

$(LIBTORCH)/build-version: scripts/setup-libtorch
	scripts/setup-libtorch $(LIBTORCH)

.PHONY: build
build: setup ## build every tool (release)
	cargo build --release --workspace

##@ Tests and benchmarks

.PHONY: test
test: setup ## run every test (Rust unit, integration, numpy interop, make sweeps)
	cargo test --release --workspace
	@echo "make test: all tests passed"

.PHONY: bench-format
bench-format: build ## dataset file throughput: pipe and mmap vs cat and numpy
	scripts/bench-format

.PHONY: clean
clean: ## remove build outputs (keeps data/, runs/ and the libtorch cache)
	cargo clean
