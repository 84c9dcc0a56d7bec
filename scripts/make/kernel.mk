# Section 5 of the paper with kernel-fit, on real data (Fashion-MNIST from Debian), CPU-sized:
# - `make kernel`: the Gaussian kernel's minimum-norm interpolant (K alpha = Y solved exactly,
#   gamma = KERNEL_GAMMA for pixels in [0, 1]) on KERNEL_TRAIN training images (stratified, seed 1)
#   under each of KERNEL_LABELS (true labels, label corruption p, random labels; `corrupt --seed 1`),
#   scored on KERNEL_TEST test images. Runs: runs/kernel/<labels>/; report: report/kernel/.
#   K is KERNEL_TRAIN^2 float64: 800 MB at 10,000 (kernel-fit states it and refuses what does not fit).
# - `make double-descent`: least squares on N random ReLU features (minimum norm, by SVD), N/n over
#   DD_RATIOS of DD_TRAIN training images, for each of DD_NOISE. Runs:
#   runs/double-descent/<labels>--N<N>/; report (table and the double-descent figures):
#   report/double-descent/.
# kernel-fit uses every core (KERNEL_THREADS=0); run these without -j. Changing a size, gamma or
# grid: delete data/fmnist-kernel.npz / data/fmnist-dd.npz, data/kernel/ or data/dd/, and the runs,
# or make keeps the old ones.

##@ Section 5: linear models (kernel-fit, CPU-sized, real Fashion-MNIST)

KERNEL_TRAIN   ?= 10000
KERNEL_TEST    ?= 10000
KERNEL_GAMMA   ?= 0.02
KERNEL_LABELS  ?= true labels0.2 labels0.4 random-labels
KERNEL_THREADS ?= 0
KERNEL_FLAGS   ?=
DD_TRAIN       ?= 2000
DD_TEST        ?= 2000
DD_NOISE       ?= true labels0.2
DD_RATIOS      ?= 0.05 0.1 0.2 0.4 0.6 0.8 0.9 1 1.1 1.25 1.5 2 4 8 20
DD_SEED        ?= 1
DD_FLAGS       ?=
# N for each ratio: round(ratio * DD_TRAIN).
DD_FEATURES    := $(shell awk 'BEGIN { n = split("$(DD_RATIOS)", r, " "); for (i = 1; i <= n; i++) printf "%d ", r[i] * $(DD_TRAIN) + 0.5 }')

kernel_time = echo "make $1: $$(( $$(date +%s) - $$start )) s wall" >&2
# The corrupted copy of $2 for condition $1 (true: the file itself).
kernel_data = $(if $(filter true,$1),$2,$(basename $2)/$1.npz)

data/fmnist-kernel.npz: data/fashion-mnist.npz | tools
	@mkdir -p $(@D)
	$(BIN)/subset --train $(KERNEL_TRAIN) --test $(KERNEL_TEST) --stratified --seed 1 $< -o $@

data/fmnist-dd.npz: data/fashion-mnist.npz | tools
	@mkdir -p $(@D)
	$(BIN)/subset --train $(DD_TRAIN) --test $(DD_TEST) --stratified --seed 1 $< -o $@

data/fmnist-kernel/%.npz: data/fmnist-kernel.npz | tools
	@mkdir -p $(@D)
	$(BIN)/corrupt $(call cond_flags,$*) --seed 1 $< -o $@

data/fmnist-dd/%.npz: data/fmnist-dd.npz | tools
	@mkdir -p $(@D)
	$(BIN)/corrupt $(call cond_flags,$*) --seed 1 $< -o $@

define KERNEL_RULE
runs/kernel/$1/summary.json: $(call kernel_data,$1,data/fmnist-kernel.npz) | tools
	$(BIN)/kernel-fit --data $$< --kernel gaussian --gamma $(KERNEL_GAMMA) --threads $(KERNEL_THREADS) $(KERNEL_FLAGS) --out $$(@D)
endef
define DD_RULE
runs/double-descent/$1--N$2/summary.json: $(call kernel_data,$1,data/fmnist-dd.npz) | tools
	$(BIN)/kernel-fit --data $$< --random-features $2 --feature-map relu --seed $(DD_SEED) --threads $(KERNEL_THREADS) $(DD_FLAGS) --out $$(@D)
endef
$(foreach c,$(KERNEL_LABELS),$(eval $(call KERNEL_RULE,$c)))
$(foreach c,$(DD_NOISE),$(foreach n,$(DD_FEATURES),$(eval $(call DD_RULE,$c,$n))))

KERNEL_RUNS := $(KERNEL_LABELS:%=runs/kernel/%/summary.json)
DD_RUNS     := $(foreach c,$(DD_NOISE),$(foreach n,$(DD_FEATURES),runs/double-descent/$c--N$n/summary.json))

.PHONY: kernel double-descent
kernel: ## Section 5: Gaussian-kernel interpolation of KERNEL_TRAIN=10000 Fashion-MNIST images, true/corrupted/random labels; report/kernel/
	+@start=$$(date +%s); $(SUBMAKE) $(KERNEL_RUNS) && \
	  $(BIN)/report $(dir $(KERNEL_RUNS)) --out report/kernel --paper && $(call kernel_time,kernel)

double-descent: ## random ReLU features, N/n from 1/20 to 20 on DD_TRAIN=2000 images, 0% and 20% label noise; report/double-descent/
	+@start=$$(date +%s); $(SUBMAKE) $(DD_RUNS) && \
	  $(BIN)/report $(dir $(DD_RUNS)) --out report/double-descent && $(call kernel_time,double-descent)
