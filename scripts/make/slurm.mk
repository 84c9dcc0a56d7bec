# Slurm: the sweeps on a real cluster (scripts/slurm-sweep, LAUNCH="srun ...") and their test.
# Included by the root Makefile.

##@ Slurm

.PHONY: test-slurm
test-slurm: build ## tiny sweep on a one-node Slurm (apt slurm-wlm, munge): srun and sbatch --array equal a local run
	BIN=$(BIN) $(ROOT)/tests/slurm/run.sh
