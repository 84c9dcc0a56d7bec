# Benchmarks: each compares a tool with its baseline on this machine (numbers in the README's Speed
# section). Not part of `make test`: they take minutes and their numbers depend on the machine.

##@ Benchmarks

.PHONY: bench-format bench-corrupt bench-train bench-kernel bench-per-example bench-loader gpu-check

bench-format: build ## dataset file throughput: pipe and mmap vs cat and numpy
	$(ROOT)/scripts/bench-format

bench-corrupt: ## corrupt/subset on a CIFAR-sized file vs numpy and vs cat (REPEAT=3 TRAIN=50000 TEST=10000)
	$(ROOT)/scripts/bench-corrupt

bench-train: train ## train-step and epoch throughput vs PyTorch 2.9 eager (needs torch in .venv, see the script)
	$(ROOT)/scripts/bench-train

bench-per-example: data/fashion-mnist.npz build ## train --per-example's overhead: alexnet-small on 2,000 images with and without it (TRAIN EPOCHS REPEAT MODEL)
	$(ROOT)/scripts/bench-per-example

bench-kernel: data/fashion-mnist.npz ## kernel-fit's Gaussian kernel build and Cholesky solve vs numpy and scipy (N=5000 THREADS=1 REPEAT=3)
	$(ROOT)/scripts/bench-kernel

bench-loader: build ## train --stream's loader vs a PyTorch DataLoader over numpy memmaps: 299x299x3 batches from shards, warm and cold (N SHARD BATCH WORKERS REPEAT)
	$(ROOT)/scripts/bench-loader

gpu-check: ## build, then on a GPU machine: train on cuda vs PyTorch (see scripts/gpu-check)
	$(ROOT)/scripts/gpu-check
