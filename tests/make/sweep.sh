#!/usr/bin/env bash
# The Makefile sweeps end to end on a tiny generated dataset, in a scratch directory:
# every run target is made, the report is written, a deleted run (and only it) is made again with
# the same numbers, a run whose summary is lost resumes from its checkpoint, and `make -n figure1`
# lists the paper's runs. Needs the tools built (make build) and the project venv.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "tests/make/sweep.sh: FAIL: $*" >&2; exit 1; }
passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }

"$repo/.venv/bin/python" - <<'PY'
import numpy as np
rng = np.random.default_rng(0)
def split(n):
    y = rng.integers(0, 4, n).astype(np.uint8)
    x = rng.integers(0, 60, (n, 8, 8, 1)) + (y[:, None, None, None] * 60)  # learnable: class sets brightness
    return x.astype(np.uint8), y
xtr, ytr = split(256); xte, yte = split(128)
np.savez("tiny.npz", train_images=xtr, train_labels=ytr, test_images=xte, test_labels=yte)
PY

sweep=(-f "$repo/Makefile" --no-print-directory NOBUILD=1 NAME=tiny DATA=tiny.npz MODELS=mlp-1x512
       CONDITIONS="true labels0.5 random-labels shuffle" SEEDS=1 STOP_FLAGS="--epochs 3"
       TRAIN_FLAGS="--threads 1 --batch-size 64")
make "${sweep[@]}" sweep >make.log 2>&1 || { cat make.log; fail "make sweep"; }

runs=$(make -s "${sweep[@]}" print-runs)
[[ $(wc -l <<<"$runs") -eq 4 ]] || fail "expected 4 runs, got: $runs"
for r in $runs; do [[ -f $r ]] || fail "missing $r"; done
ok "4 runs made: $(tr '\n' ' ' <<<"$runs")"
for d in labels0.5 random-labels shuffle; do [[ -f data/tiny/$d-s1.npz ]] || fail "missing data/tiny/$d-s1.npz"; done
[[ ! -e data/tiny/true-s1.npz ]] || fail "true labels need no corrupted copy"
ok "one corrupted dataset per condition"
"$repo/target/release/inspect" --json data/tiny/labels0.5-s1.npz | grep -q '"labels": 0.5' || fail "labels0.5 file not corrupted with p=0.5"
ok "the labels0.5 dataset says labels p=0.5"
for f in table.csv table.md summary.md fig1a.png fig1a.svg fig1a.csv; do [[ -s report/tiny/$f ]] || fail "missing report/tiny/$f"; done
[[ $(($(wc -l <report/tiny/table.csv) - 1)) -eq 4 ]] || fail "table.csv should have 4 rows: $(cat report/tiny/table.csv)"
ok "report/tiny has the table (4 rows) and figures"

final() { "$repo/.venv/bin/python" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["steps"], s["final"]["train_acc"], s["final"]["test_acc"], s["final"]["train_loss"])' "$1"; }
gone=runs/tiny/labels0.5--mlp-1x512--plain--s1
kept=runs/tiny/shuffle--mlp-1x512--plain--s1
before=$(final $gone/summary.json)
stamp=$(stat -c '%i %y' $kept/summary.json)
sleep 1
rm -rf "$gone"
make "${sweep[@]}" sweep-runs >make2.log 2>&1 || { cat make2.log; fail "make after deleting a run"; }
grep -c -- "--model" make2.log | grep -qx 1 || { cat make2.log; fail "only the deleted run should train again"; }
[[ $(stat -c '%i %y' $kept/summary.json) == "$stamp" ]] || fail "an untouched run was remade"
[[ $(final $gone/summary.json) == "$before" ]] || fail "the remade run differs: $before vs $(final $gone/summary.json)"
ok "a deleted run, and only it, is made again with identical numbers ($before)"

resumed=runs/tiny/random-labels--mlp-1x512--plain--s1
before=$(final $resumed/summary.json)
[[ -d $resumed/checkpoint ]] || fail "no checkpoint in $resumed"
rm "$resumed/summary.json"
make "${sweep[@]}" sweep-runs STOP_FLAGS="--epochs 3" >make3.log 2>&1 || { cat make3.log; fail "make resume"; }
grep -q "resuming $resumed" make3.log || { cat make3.log; fail "the run was not resumed"; }
[[ $(final $resumed/summary.json) == "$before" ]] || fail "resumed run differs"
ok "a run without summary.json resumes from its checkpoint"

make "${sweep[@]}" -q -o tools $runs || fail "the sweep should be up to date"
ok "an up-to-date sweep has nothing to do"

planned=$(make -f "$repo/Makefile" --no-print-directory -n figure1 NOBUILD=1 CIFAR_ARCHIVE=cifar-10-binary.tar.gz | grep -o -- '--out runs/cifar10/[^ ]*' | sort -u)
n=$(wc -l <<<"$planned")
[[ $n -eq 27 ]] || fail "make -n figure1 should list 27 runs, got $n: $planned"
for r in gaussian--inception-small random-pixels--inception-small labels0.6--alexnet-small random-labels--mlp-1x512; do
    grep -q "runs/cifar10/$r--plain--s1" <<<"$planned" || fail "figure1 lacks $r"
done
ok "make -n figure1 lists the 27 runs of Figure 1"

planned=$(make -f "$repo/Makefile" --no-print-directory -n imagenet NOBUILD=1 IMAGENET=imagenet-root | grep -- '--model inception-v3' | sort -u)
[[ $(wc -l <<<"$planned") -eq 5 ]] || fail "make -n imagenet should list 5 runs: $planned"
grep -q -- "--test data/imagenet-val.npz --out runs/imagenet/random-labels--inception-v3--plain--s1" <<<"$planned" || fail "imagenet runs lack --test: $planned"
ok "make -n imagenet lists the 5 Inception V3 runs of Table 2, scored on the validation file"

echo "$passed passed, 0 failed"
