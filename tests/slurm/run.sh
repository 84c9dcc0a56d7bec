#!/usr/bin/env bash
# The sweeps on a real Slurm: installs Debian's slurm-wlm and munge when missing, starts a one-node
# cluster on 127.0.0.1 (scripts/slurm-local-cluster), and runs one tiny sweep three ways in three
# scratch directories: locally (`make -j2 sweep`), through `srun` (`LAUNCH="srun ..."`) and as an
# array job (scripts/slurm-sweep), where one run is made to fail and is resubmitted alone, and a
# longer run is cancelled mid-way and resumed by the resubmission. Every run's summary.json must
# equal the local one's (same seeds, one thread: identical numbers); the daemons are stopped by
# their pid files at the end, also when the test fails.
# Skips (exit 0, "skipped: ...") only when Slurm cannot be installed or run here (no root, no apt).
# Needs the tools built (make build) and the project venv. KEEP=1 keeps the scratch directory.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${BIN:-$repo/target/release}
py=$repo/.venv/bin/python
say() { echo "tests/slurm: $*"; }
skip() { say "skipped: $*"; exit 0; }
fail() { echo "tests/slurm: FAIL: $*" >&2; exit 1; }
passed=0
ok() { passed=$((passed + 1)); say "ok - $*"; }

# ---- Slurm itself: install, or skip when that is impossible here ----
have_slurm() { command -v slurmctld && command -v slurmd && command -v munged && command -v sbatch; } >/dev/null
if ! have_slurm; then
  [ "$(id -u)" -eq 0 ] || skip "slurm-wlm and munge are not installed, and installing them needs root"
  command -v apt-get >/dev/null || skip "slurm-wlm and munge are not installed, and there is no apt-get"
  say "installing slurm-wlm and munge with apt-get"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      slurm-wlm munge; } >&2 || skip "apt-get could not install slurm-wlm and munge"
  have_slurm || fail "slurm-wlm and munge were installed but slurmctld/slurmd/munged/sbatch are missing"
fi
[ "$(id -u)" -eq 0 ] || skip "the test cluster's daemons run as root (SlurmUser=root); run as root"

for t in train corrupt report; do
  [ -x "$bin/$t" ] || fail "$bin/$t is missing: run make build first"
done
[ -x "$py" ] || fail "$py is missing: run make setup first"

# ---- scratch space, and the cluster's shutdown whatever happens ----
work=$(mktemp -d "${TMPDIR:-/tmp}/rethink-slurm.XXXXXX")
cluster=$work/cluster
cleanup() {
  local rc=$?
  if [ -f "$cluster/slurmctld.pid" ] || [ -f "$cluster/slurmd.pid" ] || [ -f "$cluster/munged.pid" ]; then
    "$repo/scripts/slurm-local-cluster" stop "$cluster" || rc=1
  fi
  if [ $rc -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$work"; else say "scratch directory kept: $work"; fi
  exit $rc
}
trap cleanup EXIT
cd "$work"

# A tiny learnable dataset (class sets a bright band), written by numpy, as users' files are.
"$py" - <<'PY'
import numpy as np
rng = np.random.default_rng(7)
def split(n):
    y = rng.integers(0, 4, n).astype(np.uint8)
    x = rng.integers(0, 120, (n, 8, 8, 1))
    for c in range(4):
        x[y == c, 2 * c:2 * c + 2, :, 0] += 100
    return x.astype(np.uint8), y
xtr, ytr = split(96); xte, yte = split(48)
np.savez("tiny.npz", train_images=xtr, train_labels=ytr, test_images=xte, test_labels=yte)
PY

sweep=(-f "$repo/Makefile" NOBUILD=1 BIN="$bin" NAME=tiny DATA="$work/tiny.npz" MODELS=mlp-1x32
       CONDITIONS="true labels0.5 random-labels shuffle random-pixels gaussian" SEEDS="1 2"
       EPOCHS=4 TRAIN_FLAGS="--threads 1 --batch-size 16")
mkdir local srun sbatch
runs=$(cd local && make -s --no-print-directory "${sweep[@]}" print-runs)
nruns=$(grep -c . <<<"$runs")
[ "$nruns" -eq 12 ] || fail "expected 12 runs, got: $runs"

# ---- 1. the reference: a local sweep ----
(cd local && make -j2 --no-print-directory "${sweep[@]}" sweep) >local.log 2>&1 ||
  { tail -n 30 local.log; fail "local make sweep"; }
ok "local: $nruns runs and report/tiny/summary.md"

# ---- 2. the cluster ----
"$repo/scripts/slurm-local-cluster" start "$cluster" >cluster.log 2>&1 ||
  { cat cluster.log; fail "the one-node cluster did not start"; }
export SLURM_CONF=$cluster/slurm.conf
[ "$(sinfo -h -N -o '%N %T %c')" = "localhost idle 2" ] || fail "sinfo: $(sinfo -N)"
[ "$(srun -n1 -c1 hostname)" = "$(hostname)" ] || fail "srun hostname did not print $(hostname)"
ok "one-node cluster up: sinfo shows localhost idle with 2 CPUs; srun hostname works"
jobs_named() { scontrol -o show jobs 2>/dev/null | grep -c "JobName=$1 " || true; }

# ---- 3. make -j drives, srun runs each training ----
(cd srun && make -j2 --no-print-directory "${sweep[@]}" LAUNCH="srun -n1 -c1 --quiet" sweep) >srun.log 2>&1 ||
  { tail -n 30 srun.log; fail "make sweep with LAUNCH=srun"; }
[ "$(jobs_named train)" -eq "$nruns" ] ||
  fail "expected $nruns srun jobs named train, slurmctld knows $(jobs_named train)"
ok "srun: $nruns trainings ran as Slurm jobs (LAUNCH=\"srun -n1 -c1\")"

# ---- 4. sbatch --array, a failed task, and the resubmission of just that run ----
ss=("$repo/scripts/slurm-sweep")
export SLURM_SWEEP_POLL=1
broken=runs/tiny/shuffle--mlp-1x32--plain--s2/summary.json
# A corrupted-data file that make takes as up to date but train cannot read: that task fails.
mkdir -p sbatch/data/tiny
echo "not an npz" >sbatch/data/tiny/shuffle-s2.npz
cd sbatch
job1=$("${ss[@]}" submit -c1 -- "${sweep[@]}" 2>../submit1.log) || { cat ../submit1.log; fail "submit"; }
[[ $job1 =~ ^[0-9]+$ ]] || fail "submit printed '$job1', not a job id"
[ "$(grep -c . runs/.slurm/tiny/*.runs)" -eq "$nruns" ] || fail "the first run list should hold all $nruns runs"
if "${ss[@]}" collect -- "${sweep[@]}" >../collect1.log 2>&1; then
  cat ../collect1.log; fail "collect succeeded although one task could not read its data"
fi
missing=$("${ss[@]}" missing -- "${sweep[@]}" || true)
[ "$(cut -f1 <<<"$missing")" = "$broken" ] || fail "missing should list only $broken, got: $missing"
logf=$(cut -f2 <<<"$missing")
grep -q "shuffle-s2.npz" "$logf" || fail "the failed task's log $logf does not name the bad file"
ok "sbatch: job $job1 ran $nruns array tasks; the broken one is reported with its log ($logf)"

declare -A stamp
for r in $runs; do [ "$r" = "$broken" ] || stamp[$r]=$(stat -c "%i %y" "$r"); done
rm data/tiny/shuffle-s2.npz
sleep 1
job2=$("${ss[@]}" submit -c1 -- "${sweep[@]}" 2>../submit2.log) || { cat ../submit2.log; fail "resubmit"; }
[[ $job2 =~ ^[0-9]+$ ]] && [ "$job2" != "$job1" ] || fail "resubmit printed '$job2'"
list2=$(awk -v j="$job2" '$1 == j { print $2 }' runs/.slurm/tiny/jobs.tsv)
[ "$(cat "runs/.slurm/tiny/$list2.runs")" = "$broken" ] ||
  fail "the resubmission should hold only $broken: $(cat "runs/.slurm/tiny/$list2.runs")"
"${ss[@]}" collect -- "${sweep[@]}" >../collect2.log 2>&1 || { cat ../collect2.log; fail "collect after resubmit"; }
[ -s report/tiny/summary.md ] || fail "collect wrote no report/tiny/summary.md"
for r in "${!stamp[@]}"; do [ "$(stat -c "%i %y" "$r")" = "${stamp[$r]}" ] || fail "$r was made again"; done
[ -z "$("${ss[@]}" submit -c1 -- "${sweep[@]}" 2>/dev/null)" ] || fail "a third submit found work to do"
cd ..
arrays=$(scontrol -o show jobs | grep "JobName=rethink-tiny " | grep -c ArrayTaskId= || true)
[ "$arrays" -eq $((nruns + 1)) ] || fail "expected $((nruns + 1)) array tasks in total, slurmctld knows $arrays"
ok "sbatch: resubmission $job2 ran only the missing run; collect wrote the report; nothing left to submit"

# ---- 5. a task cancelled mid-run (as at a time limit) resumes from its checkpoint when resubmitted ----
"$py" - <<'PY'
import numpy as np
rng = np.random.default_rng(3)  # random pixels and labels: never fitted, so it runs all its epochs
np.savez("long.npz", train_images=rng.integers(0, 256, (2000, 16, 16, 1), dtype=np.uint8),
         train_labels=rng.integers(0, 10, 2000).astype(np.uint8),
         test_images=rng.integers(0, 256, (200, 16, 16, 1), dtype=np.uint8),
         test_labels=rng.integers(0, 10, 200).astype(np.uint8))
PY
long=(-f "$repo/Makefile" NOBUILD=1 BIN="$bin" NAME=long DATA="$work/long.npz" MODELS=mlp-1x64
      CONDITIONS=true SEEDS=1 EPOCHS=200 TRAIN_FLAGS="--threads 1")
run=runs/long/true--mlp-1x64--plain--s1
(cd local && make --no-print-directory "${long[@]}" sweep-runs) >local-long.log 2>&1 ||
  { tail -n 30 local-long.log; fail "local long run"; }
cd sbatch
job3=$("${ss[@]}" submit -c1 -- "${long[@]}" 2>../submit3.log) || { cat ../submit3.log; fail "submit long"; }
until [ -f "$run/checkpoint/state.json" ]; do
  [ -n "$(squeue -h -j "$job3" 2>/dev/null)" ] || fail "job $job3 ended before its first checkpoint"
  sleep 0.2
done
scancel "$job3"
while [ -n "$(squeue -h -j "$job3" 2>/dev/null)" ]; do sleep 0.2; done
[ ! -f "$run/summary.json" ] || fail "the long run finished before it could be cancelled"
cut_at=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["step"])' "$run/checkpoint/state.json")
[ "$("${ss[@]}" missing -- "${long[@]}" | cut -f1)" = "$run/summary.json" ] || fail "missing does not list the cancelled run"
job4=$("${ss[@]}" submit -c1 -- "${long[@]}" 2>../submit4.log) || { cat ../submit4.log; fail "resubmit long"; }
"${ss[@]}" collect -- "${long[@]}" >../collect4.log 2>&1 || { cat ../collect4.log; fail "collect long"; }
grep -q "^resuming $run" "runs/.slurm/long/${job4}_1.out" || fail "job $job4 did not resume $run"
cd ..
ok "sbatch: job $job3 cancelled at step $cut_at, resubmitted as $job4, which resumed from the checkpoint"

# ---- 6. the numbers: every run equals the local one ----
"$py" - "$runs $run/summary.json" <<'PY' || fail "the Slurm runs differ from the local runs"
import json, sys
runs = sys.argv[1].split()
def load(where, run):
    s = json.load(open(f"{where}/{run}"))
    s.pop("wall_s", None)  # the only field that may differ
    return s
bad = 0
print(f"{'run':40} {'steps':>5} {'train':>6} {'test':>6}  local = srun = sbatch (long: local = sbatch)")
for run in runs:
    ref = load("local", run)
    others = ("sbatch",) if "/long/" in run else ("srun", "sbatch")
    same = all(load(w, run) == ref for w in others)
    bad += not same
    f = ref["final"]
    print(f"{'/'.join(run.split('/')[1:3]):40} {ref['steps']:>5} {f['train_acc']:6.3f} {f['test_acc']:6.3f}  {'yes' if same else 'NO'}")
sys.exit(1 if bad else 0)
PY
ok "all summary.json files (accuracies, losses, steps) are identical local, via srun and via sbatch, the resumed one too"

# ---- 7. the daemons stop by their pid files ----
pids=$(cat "$cluster"/{munged,slurmctld,slurmd}.pid)
"$repo/scripts/slurm-local-cluster" stop "$cluster" >>cluster.log 2>&1 || fail "stopping the cluster"
for p in $pids; do [ ! -d "/proc/$p" ] || fail "daemon pid $p still runs after stop"; done
ok "the daemons (pids $(tr '\n' ' ' <<<"$pids")) are stopped"
say "all $passed checks passed"
