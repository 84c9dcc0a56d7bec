# Per-example learning dynamics (issue 21): which training examples are fitted first, which are
# forgotten, which can only be memorized. mlp-1x512 and alexnet-small on DYNAMICS_TRAIN
# Fashion-MNIST training images (stratified, seed 1, cut like the study's data/fmnist-study.npz)
# under true labels, label corruption 0.4, random labels and random pixels, DYNAMICS_SEEDS seeds,
# each until 100% training accuracy (at most DYNAMICS_EPOCHS epochs), evaluated every
# DYNAMICS_EVAL_EVERY epochs with every training example recorded (train --per-example); then
# report/dynamics/ (dynamics.md, the ECDF figure, the hardest/easiest index lists). One libtorch
# thread per training: run as `make -j2 dynamics` on 2 cores.

##@ Per-example dynamics (which examples are fitted when, forgotten, memorized)

DYNAMICS_TRAIN      ?= 2000
DYNAMICS_TEST       ?= 1000
DYNAMICS_EPOCHS     ?= 300
DYNAMICS_EVAL_EVERY ?= 1
DYNAMICS_SEEDS      ?= 1 2 3
DYNAMICS_THREADS    ?= 1
DYNAMICS_LR_DECAY   ?= $(shell awk 'BEGIN { printf "%.6f", 0.95 ^ ($(DYNAMICS_TRAIN) / 50000) }')

data/fmnist-dynamics.npz: data/fashion-mnist.npz | tools
	@mkdir -p $(@D)
	$(BIN)/subset --train $(DYNAMICS_TRAIN) --test $(DYNAMICS_TEST) --stratified --seed 1 $< -o $@

.PHONY: dynamics dynamics-runs
dynamics: dynamics-runs ## per-example dynamics: 2 models x 4 conditions x DYNAMICS_SEEDS seeds (train --per-example), reported into report/dynamics/
	+@$(SUBMAKE) sweep-report NAME=dynamics
dynamics-runs: data/fmnist-dynamics.npz ## the dynamics runs only (runs/dynamics/)
	+@$(SUBMAKE) sweep-runs NAME=dynamics DATA=data/fmnist-dynamics.npz \
	  MODELS="mlp-1x512 alexnet-small" CONDITIONS="true labels0.4 random-labels random-pixels" SETTINGS=plain \
	  SEEDS="$(DYNAMICS_SEEDS)" STOP=fit$(DYNAMICS_EPOCHS) FIT_EVAL_EVERY=$(DYNAMICS_EVAL_EVERY) \
	  TRAIN_FLAGS="--per-example --lr-decay $(DYNAMICS_LR_DECAY) --threads $(DYNAMICS_THREADS)"
