# Mixed precision, the same science (issue 19): mlp-1x512, alexnet-small and inception-small on
# PRECISION_TRAIN Fashion-MNIST training images (stratified, seed 1), true and random labels,
# PRECISION_SEEDS seeds, each until 100% training accuracy (at most PRECISION_EPOCHS epochs), once
# with `train --precision f32` (runs/precision-f32/) and once with bf16 (runs/precision-bf16/);
# then their config, summary and metrics into results/precision/ (committed), one report of both
# (report/precision/: runs of different precision are separate rows) and scripts/precision-verdict's
# check: mean test accuracies within twice the pooled seed standard deviation, every random-label
# run fitted. One libtorch thread per training: `make -j2 precision`
# on 2 cores.

##@ Mixed precision (bf16 against f32: the same science?)

PRECISION_TRAIN      ?= 250
PRECISION_TEST       ?= 1000
PRECISION_EPOCHS     ?= 200
PRECISION_SEEDS      ?= 1 2 3
PRECISION_MODELS     ?= mlp-1x512 alexnet-small inception-small
PRECISION_THREADS    ?= 1
PRECISION_LR_DECAY   ?= $(shell awk 'BEGIN { printf "%.6f", 0.95 ^ ($(PRECISION_TRAIN) / 50000) }')

data/fmnist-precision.npz: data/fashion-mnist.npz | tools
	@mkdir -p $(@D)
	$(BIN)/subset --train $(PRECISION_TRAIN) --test $(PRECISION_TEST) --stratified --seed 1 $< -o $@

PRECISION_SWEEP = $(SUBMAKE) sweep-runs DATA=data/fmnist-precision.npz MODELS="$(PRECISION_MODELS)" \
  CONDITIONS="true random-labels" SETTINGS=plain SEEDS="$(PRECISION_SEEDS)" STOP=fit$(PRECISION_EPOCHS) \
  FIT_EVAL_EVERY=1

PRECISION_RESULTS    ?= results/precision

.PHONY: precision precision-runs precision-f32-runs precision-bf16-runs precision-results precision-report
precision: precision-runs ## bf16 vs f32 on 3 models x {true, random labels} x PRECISION_SEEDS: results, report/precision/, the verdict
	+@$(SUBMAKE) precision-results precision-report
precision-results: ## copy config.json, summary.json, metrics.jsonl of every finished run into PRECISION_RESULTS/{f32,bf16}/ (committed)
	@for run in $(dir $(wildcard runs/precision-f32/*/summary.json runs/precision-bf16/*/summary.json)); do \
	  p=$$(basename $$(dirname $$run)); dest=$(PRECISION_RESULTS)/$${p#precision-}/$$(basename $$run); mkdir -p $$dest; \
	  cp $$run/config.json $$run/summary.json $$run/metrics.jsonl $$dest/; \
	done
precision-report: | tools ## report of PRECISION_RESULTS into report/precision/, and scripts/precision-verdict's judgement (verdict.md)
	$(BIN)/report $(sort $(dir $(wildcard $(PRECISION_RESULTS)/*/*/summary.json))) --out report/precision
	$(ROOT)/scripts/precision-verdict report/precision/table.csv | tee report/precision/verdict.md
precision-runs: precision-f32-runs precision-bf16-runs ## the runs only (runs/precision-f32/, runs/precision-bf16/)
precision-f32-runs precision-bf16-runs: data/fmnist-precision.npz
	+@$(PRECISION_SWEEP) NAME=$(@:-runs=) \
	  TRAIN_FLAGS="--precision $(patsubst precision-%-runs,%,$@) --lr-decay $(PRECISION_LR_DECAY) --threads $(PRECISION_THREADS)"
