#!/usr/bin/env bash
# The sweeps on a real Slurm: starts a one-node cluster on 127.0.0.1 (scripts/slurm-local-cluster)
# and runs one tiny sweep three ways in three scratch directories: locally (`make -j2 sweep`),
# through `srun` (`LAUNCH="srun ..."`) and as an array job (scripts/slurm-sweep), where one run is
# made to fail and is resubmitted alone, and a long run is cancelled mid-way and resumed by the
# resubmission. Every run's summary.json must equal the local one's (same seeds, one thread:
# identical numbers); the daemons are stopped by their pid files at the end, also when it fails.
#
# Needs root, Debian's slurm-wlm and munge (installed by `make setup`, never by this test), the
# tools built (make build) and the project venv. Without them it FAILS; RETHINK_SKIP_SLURM=1 skips
# it (exit 0, "skipped") for a machine that cannot run Slurm, and that must be asked for.
# Every wait is bounded: SLURM_TEST_WAIT (seconds, default 300) per sweep, submission, collection
# or queue state, each with a message naming what it waited for; a Slurm query that fails is
# retried (5 times, a second apart) and never read as "no such job". KEEP=1 keeps the scratch
# directory. BIN: where train, corrupt and report are (default target/release).
set -euo pipefail
shopt -s inherit_errexit
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${BIN:-$repo/target/release}
py=$repo/.venv/bin/python
wait_s=${SLURM_TEST_WAIT:-300}
# Messages go to the test's own stdout/stderr (fds 3 and 4), also from inside a redirected command.
exec 3>&1 4>&2
say() { echo "tests/slurm: $*" >&3; }
fail() { echo "tests/slurm: FAIL: $*" >&4; exit 1; }
passed=0
ok() { passed=$((passed + 1)); say "ok - $*"; }

if [ "${RETHINK_SKIP_SLURM:-}" = 1 ]; then
  say "skipped: RETHINK_SKIP_SLURM=1"
  exit 0
fi
[[ $wait_s =~ ^[1-9][0-9]*$ ]] || fail "SLURM_TEST_WAIT='$wait_s' is not a number of seconds"
skip_hint=" (set RETHINK_SKIP_SLURM=1 to skip this test on a machine that cannot run Slurm)"
for p in slurmctld slurmd munged munge sbatch srun squeue scontrol scancel sinfo timeout; do
  command -v $p >/dev/null || fail "$p not found: run make setup, which installs slurm-wlm and munge$skip_hint"
done
[ "$(id -u)" -eq 0 ] || fail "the test cluster's daemons run as root (SlurmUser=root); run as root$skip_hint"
for t in train corrupt report; do
  [ -x "$bin/$t" ] || fail "$bin/$t is missing: run make build first"
done
[ -x "$py" ] || fail "$py is missing: run make setup first"

# ---- scratch space, and the cluster's shutdown whatever happens ----
work=$(mktemp -d "${TMPDIR:-/tmp}/rethink-slurm.XXXXXX")
cluster=$work/cluster
local_long=""
cleanup() {
  local rc=$?
  [ -z "$local_long" ] || kill "$local_long" 2>/dev/null || true
  if [ -f "$cluster/slurmctld.pid" ] || [ -f "$cluster/slurmd.pid" ] || [ -f "$cluster/munged.pid" ]; then
    "$repo/scripts/slurm-local-cluster" stop "$cluster" >&3 2>&4 || rc=1
  fi
  if [ $rc -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$work"; else say "scratch directory kept: $work"; fi
  exit $rc
}
trap cleanup EXIT
cd "$work"

# within WHAT COMMAND...: COMMAND, given at most $wait_s seconds (then TERM, and KILL 10 s later,
# to its whole process group); one that runs longer fails the test, naming WHAT.
within() {
  local what=$1 rc=0
  shift
  timeout -k 10 "$wait_s" "$@" || rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then fail "$what did not finish within ${wait_s}s (SLURM_TEST_WAIT)"; fi
  return $rc
}

# The output of a Slurm command (squeue, scontrol, sinfo, scancel), asked again up to 5 times a
# second apart when it fails, each try bounded by 30 s: a transient error is never read as "no job".
query() {
  local out i
  for i in 1 2 3 4 5; do
    if out=$(timeout 30 "$@" 2>"$work/query.err"); then
      [ -z "$out" ] || printf '%s\n' "$out"
      return 0
    fi
    sleep 1
  done
  fail "'$*' failed 5 times in a row: $(tr '\n' ' ' <"$work/query.err")"
}

# The state of job $1 (PENDING, RUNNING, COMPLETING, COMPLETED, CANCELLED, FAILED, ...). The
# cluster keeps a finished job's record for 10 minutes (MinJobAge=600), so no answer is an error.
job_state() {
  local s
  s=$(query squeue -h -j "$1" -t all -o %T) || exit 1
  [ -n "$s" ] || fail "squeue knows no job $1"
  head -n1 <<<"$s"
}
job_ended() {
  local s
  s=$(job_state "$1") || exit 1
  case $s in PENDING | CONFIGURING | RUNNING | COMPLETING | SUSPENDED | SIGNALING | STAGE_OUT | RESIZING | REQUEUE*) return 1 ;; esac
}

# wait_until WHAT TEST...: run TEST every 0.2 s until it succeeds; fail naming WHAT after $wait_s s.
wait_until() {
  local what=$1 deadline=$((SECONDS + wait_s))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "gave up after ${wait_s}s (SLURM_TEST_WAIT) waiting for $what"
    sleep 0.2
  done
}

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
runs=$(make -C local -s --no-print-directory "${sweep[@]}" print-runs)
nruns=$(grep -c . <<<"$runs")
[ "$nruns" -eq 12 ] || fail "expected 12 runs, got: $runs"

# ---- 1. the reference: a local sweep ----
within "the local sweep (make -j2 sweep)" make -C local -j2 --no-print-directory "${sweep[@]}" sweep \
  >local.log 2>&1 || { tail -n 30 local.log; fail "local make sweep"; }
ok "local: $nruns runs and report/tiny/summary.md"

# ---- 2. the cluster ----
within "starting the one-node cluster" "$repo/scripts/slurm-local-cluster" start "$cluster" >cluster.log 2>&1 ||
  { cat cluster.log; fail "the one-node cluster did not start"; }
export SLURM_CONF=$cluster/slurm.conf
nodes=$(query sinfo -h -N -o '%N %T %c')
[ "$nodes" = "localhost idle 2" ] || fail "sinfo: expected 'localhost idle 2', got '$nodes'"
host=$(within "srun hostname" srun -n1 -c1 hostname) || fail "srun hostname failed"
[ "$host" = "$(hostname)" ] || fail "srun hostname printed '$host', not $(hostname)"
ok "one-node cluster up: sinfo shows localhost idle with 2 CPUs; srun hostname works"
jobs_named() {
  local all
  all=$(query scontrol -o show jobs) || exit 1
  grep -c "JobName=$1 " <<<"$all" || true
}

# ---- 3. make -j drives, srun runs each training ----
within "the sweep through srun" make -C srun -j2 --no-print-directory "${sweep[@]}" \
  LAUNCH="srun -n1 -c1 --quiet" sweep >srun.log 2>&1 || { tail -n 30 srun.log; fail "make sweep with LAUNCH=srun"; }
n=$(jobs_named train)
[ "$n" -eq "$nruns" ] || fail "expected $nruns srun jobs named train, slurmctld knows $n"
ok "srun: $nruns trainings ran as Slurm jobs (LAUNCH=\"srun -n1 -c1\")"

# ---- 4. sbatch --array, a failed task, and the resubmission of just that run ----
ss=("$repo/scripts/slurm-sweep")
export SLURM_SWEEP_POLL=1 SLURM_SWEEP_TIMEOUT=$wait_s
broken=runs/tiny/shuffle--mlp-1x32--plain--s2/summary.json
# A corrupted-data file that make takes as up to date but train cannot read: that task fails.
mkdir -p sbatch/data/tiny
echo "not an npz" >sbatch/data/tiny/shuffle-s2.npz
cd sbatch
job1=$(within "slurm-sweep submit" "${ss[@]}" submit -c1 -- "${sweep[@]}" 2>../submit1.log) ||
  { cat ../submit1.log; fail "submit"; }
[[ $job1 =~ ^[0-9]+$ ]] || fail "submit printed '$job1', not a job id"
[ "$(grep -c . runs/.slurm/tiny/*.runs)" -eq "$nruns" ] || fail "the first run list should hold all $nruns runs"
if within "slurm-sweep collect" "${ss[@]}" collect -- "${sweep[@]}" >../collect1.log 2>&1; then
  cat ../collect1.log; fail "collect succeeded although one task could not read its data"
fi
grep -q "1 run(s) unfinished" ../collect1.log ||
  { cat ../collect1.log; fail "collect failed, but not by reporting the 1 unfinished run"; }
missing=$(within "slurm-sweep missing" "${ss[@]}" missing -- "${sweep[@]}" || true)
[ "$(cut -f1 <<<"$missing")" = "$broken" ] || fail "missing should list only $broken, got: $missing"
logf=$(cut -f2 <<<"$missing")
grep -q "shuffle-s2.npz" "$logf" || fail "the failed task's log $logf does not name the bad file"
ok "sbatch: job $job1 ran $nruns array tasks; the broken one is reported with its log ($logf)"

declare -A stamp
for r in $runs; do [ "$r" = "$broken" ] || stamp[$r]=$(stat -c "%i %y" "$r"); done
rm data/tiny/shuffle-s2.npz
sleep 1
job2=$(within "slurm-sweep submit" "${ss[@]}" submit -c1 -- "${sweep[@]}" 2>../submit2.log) ||
  { cat ../submit2.log; fail "resubmit"; }
[[ $job2 =~ ^[0-9]+$ ]] && [ "$job2" != "$job1" ] || fail "resubmit printed '$job2'"
list2=$(awk -v j="$job2" '$1 == j { print $2 }' runs/.slurm/tiny/jobs.tsv)
[ "$(cat "runs/.slurm/tiny/$list2.runs")" = "$broken" ] ||
  fail "the resubmission should hold only $broken: $(cat "runs/.slurm/tiny/$list2.runs")"
within "slurm-sweep collect" "${ss[@]}" collect -- "${sweep[@]}" >../collect2.log 2>&1 ||
  { cat ../collect2.log; fail "collect after resubmit"; }
[ -s report/tiny/summary.md ] || fail "collect wrote no report/tiny/summary.md"
for r in "${!stamp[@]}"; do [ "$(stat -c "%i %y" "$r")" = "${stamp[$r]}" ] || fail "$r was made again"; done
third=$(within "slurm-sweep submit" "${ss[@]}" submit -c1 -- "${sweep[@]}" 2>../submit3.log) ||
  { cat ../submit3.log; fail "third submit"; }
[ -z "$third" ] || fail "a third submit found work to do (job $third)"
cd ..
all=$(query scontrol -o show jobs)
arrays=$(grep "JobName=rethink-tiny " <<<"$all" | grep -c ArrayTaskId= || true)
[ "$arrays" -eq $((nruns + 1)) ] || fail "expected $((nruns + 1)) array tasks in total, slurmctld knows $arrays"
ok "sbatch: resubmission $job2 ran only the missing run; collect wrote the report; nothing left to submit"

# ---- 5. a task cancelled mid-run (as at a time limit) resumes from its checkpoint when resubmitted ----
# Random pixels and labels, never fitted: the run trains all its EPOCHS (a checkpoint after each),
# tens of seconds in all, and is cancelled at its first checkpoint, an epoch or two in. So scancel
# has the whole rest of the run to win its race with the run's end; were it ever lost, the state
# check below says so (COMPLETED, not CANCELLED) rather than testing nothing.
"$py" - <<'PY'
import numpy as np
rng = np.random.default_rng(3)
np.savez("long.npz", train_images=rng.integers(0, 256, (2000, 16, 16, 1), dtype=np.uint8),
         train_labels=rng.integers(0, 10, 2000).astype(np.uint8),
         test_images=rng.integers(0, 256, (200, 16, 16, 1), dtype=np.uint8),
         test_labels=rng.integers(0, 10, 200).astype(np.uint8))
PY
long=(-f "$repo/Makefile" NOBUILD=1 BIN="$bin" NAME=long DATA="$work/long.npz" MODELS=mlp-1x64
      CONDITIONS=true SEEDS=1 EPOCHS=400 TRAIN_FLAGS="--threads 1")
run=runs/long/true--mlp-1x64--plain--s1
# The uninterrupted reference, meanwhile, in the background (it only slows the cancelled run).
timeout -k 10 "$wait_s" make -C local --no-print-directory "${long[@]}" sweep-runs >local-long.log 2>&1 &
local_long=$!
cd sbatch
job3=$(within "slurm-sweep submit" "${ss[@]}" submit -c1 -- "${long[@]}" 2>../submit4.log) ||
  { cat ../submit4.log; fail "submit long"; }
checkpointed() {
  [ -f "$run/checkpoint/state.json" ] && return 0
  local s
  s=$(job_state "$job3") || exit 1
  case $s in PENDING | CONFIGURING | RUNNING) return 1 ;; esac
  fail "job $job3 is $s before its first checkpoint ($run/checkpoint/state.json)"
}
wait_until "the first checkpoint of job $job3 ($run/checkpoint/state.json)" checkpointed
query scancel "$job3" >/dev/null
wait_until "job $job3 to end after scancel" job_ended "$job3"
state=$(job_state "$job3")
if [ "$state" != CANCELLED ]; then
  [ ! -f "$run/summary.json" ] || fail "job $job3 ended $state: the long run finished before scancel reached it (make it longer: EPOCHS)"
  fail "job $job3 ended $state, not CANCELLED"
fi
[ ! -f "$run/summary.json" ] || fail "job $job3 was cancelled, yet $run/summary.json exists"
cut_at=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["step"])' "$run/checkpoint/state.json")
left=$(within "slurm-sweep missing" "${ss[@]}" missing -- "${long[@]}" || true)
[ "$(cut -f1 <<<"$left")" = "$run/summary.json" ] || fail "missing does not list the cancelled run: '$left'"
job4=$(within "slurm-sweep submit" "${ss[@]}" submit -c1 -- "${long[@]}" 2>../submit5.log) ||
  { cat ../submit5.log; fail "resubmit long"; }
within "slurm-sweep collect" "${ss[@]}" collect -- "${long[@]}" >../collect4.log 2>&1 ||
  { cat ../collect4.log; fail "collect long"; }
grep -q "^resuming $run" "runs/.slurm/long/${job4}_1.out" || fail "job $job4 did not resume $run"
cd ..
rc=0
wait "$local_long" || rc=$?
local_long=""
[ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "the local long run did not finish within ${wait_s}s (SLURM_TEST_WAIT)"
[ $rc -eq 0 ] || { tail -n 30 local-long.log; fail "local long run"; }
steps=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"])' "local/$run/summary.json")
# A cancel that lands near the end leaves the resumption nothing to prove: at least half the run
# must be trained after the resume.
[ $((2 * cut_at)) -le "$steps" ] ||
  fail "job $job3 was cancelled at step $cut_at of $steps: too late for the resume to be tested (make the long run longer: EPOCHS)"
ok "sbatch: job $job3 cancelled at step $cut_at of $steps, resubmitted as $job4, which resumed from the checkpoint"

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
