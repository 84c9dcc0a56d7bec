# The study: every experiment of the paper with the paper's models, on real data (Fashion-MNIST
# from Debian), sized for a 2-core CPU by sizing the data, not the models. One subset for every
# condition and model: STUDY_TRAIN training and STUDY_TEST test images (stratified, seed 1).
# - Figure 1 (study-fig1): inception-small, alexnet-small, mlp-1x512 under the nine conditions,
#   each until 100% training accuracy (at most STUDY_FIT_EPOCHS epochs), evaluated every
#   STUDY_EVAL_EVERY epochs: steps-to-fit resolves to that interval (coarser than the GPU sweeps'
#   0.25 epoch: a full evaluation of train and test costs about as much as an epoch here).
# - Table 1 (study-table1): the four models x {none, crop, wd, crop+wd} on true labels for a fixed
#   budget of STUDY_BUDGET_EPOCHS epochs; Inception without BatchNorm (plus wd); random labels
#   (plain, and Inception without BN) until they fit, as in Figure 1 (those runs are shared).
# - Random labels with regularizers (study-random-reg): the four models with weight decay, and
#   with crops, until they fit (at most STUDY_FIT_EPOCHS epochs): whether explicit regularization
#   stops the fitting of random labels (the paper's "not sufficient"; its appendix fits random
#   labels with weight decay and with random crops).
# - Figure 2 (study-fig2): Inception plain / without BatchNorm / crop+wd over the same budget.
# Crops on 28x28 images are random 28x28 crops of the image zero-padded by 4 (train --pad).
# The learning rate decays by 0.95 per 50,000 images seen, as in the paper's CIFAR-10 epochs:
# 0.95^(STUDY_TRAIN/50000) per epoch of the subset.
# Runs go to runs/study/; `make study-results` copies what the claims need (config.json,
# summary.json, metrics.jsonl of each finished run; no checkpoints or weights) into
# results/study/, which is committed and which the report reads, so the study accumulates across
# sessions and machines. SEEDS="1 2 3" adds seeds (one make invocation may hold several).

##@ The study (CPU-sized, real Fashion-MNIST, claims checked)

STUDY_TRAIN         ?= 500
STUDY_TEST          ?= 1000
STUDY_FIT_EPOCHS    ?= 300
STUDY_BUDGET_EPOCHS ?= 40
STUDY_EVAL_EVERY    ?= 1
STUDY_LR_DECAY      ?= $(shell awk 'BEGIN { printf "%.6f", 0.95 ^ ($(STUDY_TRAIN) / 50000) }')
STUDY_RESULTS       ?= results/study
# One libtorch thread per training: run the study as `make -j2 study` on 2 cores. Two trainings
# with libtorch's default (a thread per core) oversubscribe the cores and run several times slower.
STUDY_THREADS       ?= 1

STUDY_SWEEP = $(SUBMAKE) sweep-runs NAME=study DATA=data/fmnist-study.npz \
  TRAIN_FLAGS="--lr-decay $(STUDY_LR_DECAY) --threads $(STUDY_THREADS)" FIT_EVAL_EVERY=$(STUDY_EVAL_EVERY)
STUDY_FIT = $(STUDY_SWEEP) STOP=fit$(STUDY_FIT_EPOCHS)
STUDY_BUDGET = $(STUDY_SWEEP) STOP=e$(STUDY_BUDGET_EPOCHS)
# Prints how long a phase took (stderr), from the start time its recipe recorded.
study_time = echo "make $1: $$(( $$(date +%s) - $$start )) s wall" >&2

data/fmnist-study.npz: data/fashion-mnist.npz | tools
	@mkdir -p $(@D)
	$(BIN)/subset --train $(STUDY_TRAIN) --test $(STUDY_TEST) --stratified --seed 1 $< -o $@

.PHONY: study study-fig1 study-table1 study-random-reg study-fig2 study-results study-report
study: ## the whole study, one phase after another, then the claims report in report/study/ (see study-*)
	+@start=$$(date +%s); $(SUBMAKE) study-fig1 && $(SUBMAKE) study-table1 && $(SUBMAKE) study-random-reg && \
	  $(SUBMAKE) study-fig2 && \
	  $(SUBMAKE) study-results study-report && $(call study_time,study)

study-fig1: data/fmnist-study.npz ## Figure 1: 3 models x 9 conditions until 100% train accuracy (max STUDY_FIT_EPOCHS)
	+@start=$$(date +%s); $(STUDY_FIT) MODELS="inception-small alexnet-small mlp-1x512" SETTINGS=plain \
	  CONDITIONS="$(RANDOMIZATIONS)" && $(call study_time,study-fig1)

study-table1: data/fmnist-study.npz ## Table 1: 4 models x {none, crop, wd, crop+wd} for STUDY_BUDGET_EPOCHS; Inception w/o BN; random labels until fit
	+@start=$$(date +%s); \
	$(STUDY_BUDGET) MODELS="inception-small alexnet-small mlp-3x512 mlp-1x512" SETTINGS="plain crop wd crop+wd" CONDITIONS=true && \
	$(STUDY_BUDGET) MODELS=inception-small SETTINGS="nobn nobn+wd" CONDITIONS=true && \
	$(STUDY_FIT) MODELS="inception-small alexnet-small mlp-3x512 mlp-1x512" SETTINGS=plain CONDITIONS=random-labels && \
	$(STUDY_FIT) MODELS=inception-small SETTINGS=nobn CONDITIONS=random-labels && \
	$(call study_time,study-table1)

study-random-reg: data/fmnist-study.npz ## random labels with weight decay, and with crops: 4 models until fit (max STUDY_FIT_EPOCHS)
	+@start=$$(date +%s); $(STUDY_FIT) MODELS="inception-small alexnet-small mlp-3x512 mlp-1x512" SETTINGS="crop wd" \
	  CONDITIONS=random-labels && $(call study_time,study-random-reg)

study-fig2: data/fmnist-study.npz ## Figure 2: Inception plain / without BatchNorm / crop+wd over STUDY_BUDGET_EPOCHS
	+@start=$$(date +%s); $(STUDY_BUDGET) MODELS=inception-small SETTINGS="plain nobn crop+wd" CONDITIONS=true && \
	  $(call study_time,study-fig2)

study-results: ## copy config.json, summary.json, metrics.jsonl of every finished study run into STUDY_RESULTS (committed)
	@for run in $(dir $(wildcard runs/study/*/summary.json)); do \
	  dest=$(STUDY_RESULTS)/$$(basename $$run); mkdir -p $$dest; \
	  cp $$run/config.json $$run/summary.json $$run/metrics.jsonl $$dest/; \
	done

study-report: | tools ## the study's report with the paper's claims checked, from STUDY_RESULTS, into report/study/
	$(BIN)/report $(sort $(dir $(wildcard $(STUDY_RESULTS)/*/summary.json))) --out report/study --paper --claims
