# Slurm: the sweeps on a real cluster (scripts/slurm-sweep, LAUNCH="srun ...") and their test.
# Included by the root Makefile.

# Debian's Slurm and munge, installed by `make setup` (its `apt` target): tests/slurm/run.sh needs
# them and installs nothing itself.
APT_PACKAGES += slurm-wlm munge

##@ Slurm

.PHONY: test-slurm
test-slurm: build ## tiny sweep on a one-node Slurm (as root; RETHINK_SKIP_SLURM=1 skips): srun and sbatch --array equal a local run
	BIN=$(BIN) $(ROOT)/tests/slurm/run.sh
