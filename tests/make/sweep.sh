#!/usr/bin/env bash
# The Makefile sweeps end to end on a tiny generated dataset, in a scratch directory:
# every run target is made, the report is written and its table agrees with the runs'
# summary.json, a deleted run (and only it) is made again with the same numbers, a run stopped
# half-way resumes from its checkpoint to the numbers of an uninterrupted run, a STOP rule names its
# runs apart, and `make -n figure1 table1 figure2 imagenet` list the paper's runs, each run folder
# with one command and the stopping rule its name says; `make precision-runs` trains f32 and bf16
# apart and the verdict judges them. Needs the tools built (make build) and the project venv.
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

# Each table row carries the numbers of its run's summary.json (train's own output, read back).
"$repo/.venv/bin/python" - <<'PY' || fail "report/tiny/table.csv disagrees with the runs' summary.json"
import csv, glob, json
rows = list(csv.DictReader(open("report/tiny/table.csv")))
assert len(rows) == 4, rows
for path in glob.glob("runs/tiny/*/summary.json"):
    s = json.load(open(path))
    c = s.get("corruption") or {}
    labels, pixels = c.get("labels") or 0, c.get("pixels") or ""
    match = [r for r in rows if float(r["label_corruption"]) == labels and r["pixels"] == pixels]
    assert len(match) == 1, (path, labels, pixels, rows)
    r, f = match[0], s["final"]
    pct = lambda x: round(100 * x, 2)
    for col, want in [("train_acc_pct", pct(f["train_acc"])), ("test_acc_pct", pct(f["test_acc"])),
                      ("gen_error_pct", pct(s["generalization_error"])), ("runs", 1)]:
        got = float(r[col])
        assert abs(got - want) < 0.006, f"{path}: {col} is {got} in the table, {want} in summary.json"
    fitted = s["steps_to_train_acc"].get("1.0")
    assert (r["steps_to_fit"] or None) == (None if fitted is None else str(fitted)), (path, r["steps_to_fit"], fitted)
print("table rows match the summaries")
PY
ok "each table row has its run's train/test accuracy, generalization error and steps to fit"

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

# A run killed half-way (4 steps per epoch, 12 in all: stopped here after 6, its checkpoint at
# step 6 and an off-schedule evaluation there, its summary.json gone as a killed run has none) is
# resumed by make and trains steps 7-12 only, to the numbers of the run made in one go.
resumed=runs/tiny/random-labels--mlp-1x512--plain--s1
before=$(final $resumed/summary.json)
rm -rf "$resumed"
make "${sweep[@]}" sweep-runs TRAIN_FLAGS="--threads 1 --batch-size 64 --max-steps 6" >make3.log 2>&1 || { cat make3.log; fail "make the half run"; }
[[ $(final $resumed/summary.json | cut -d' ' -f1) == 6 ]] || fail "the half run should stop at step 6: $(final $resumed/summary.json)"
[[ -d $resumed/checkpoint ]] || fail "no checkpoint in $resumed"
rm "$resumed/summary.json"
make "${sweep[@]}" sweep-runs >make3.log 2>&1 || { cat make3.log; fail "make resume"; }
grep -q "resuming $resumed" make3.log || { cat make3.log; fail "the run was not resumed"; }
grep -q "^step 8 epoch 2.00" make3.log && grep -q "^step 12 epoch 3.00" make3.log || { cat make3.log; fail "the resumed run should evaluate at steps 8 and 12"; }
! grep -q "^step [0-4] epoch" make3.log || { cat make3.log; fail "the resumed run trained from the start again"; }
[[ $(final $resumed/summary.json) == "$before" ]] || fail "resumed run differs: $before vs $(final $resumed/summary.json)"
ok "a run killed half-way resumes from its step-6 checkpoint, trains steps 7-12 only, same numbers ($before)"

make "${sweep[@]}" -q -o tools $runs || fail "the sweep should be up to date"
ok "an up-to-date sweep has nothing to do"

stopped=(STOP=e2 CONDITIONS=true)
make "${sweep[@]}" "${stopped[@]}" sweep-runs >make4.log 2>&1 || { cat make4.log; fail "make sweep-runs STOP=e2"; }
fixed=runs/tiny/true--mlp-1x512--plain--e2--s1
[[ $(make -s "${sweep[@]}" "${stopped[@]}" print-runs) == "$fixed/summary.json" ]] || fail "STOP=e2 should name its run $fixed"
[[ -f $fixed/summary.json ]] || { cat make4.log; fail "missing $fixed/summary.json"; }
grep -- "--out $fixed " make4.log | grep -q -- " --epochs 2 " || { cat make4.log; fail "STOP=e2 should train with --epochs 2"; }
"$repo/.venv/bin/python" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["epochs"] != 2)' $fixed/summary.json ||
    fail "$fixed trained other than 2 epochs: $(cat $fixed/summary.json)"
! grep -q -- "--until-train-acc" make4.log || fail "a fixed budget must not stop at a train accuracy: $(cat make4.log)"
[[ $(stat -c '%i %y' $kept/summary.json) == "$stamp" ]] || fail "a STOP run touched the default-rule runs"
ok "STOP=e2 trains its own run folder ($fixed) for 2 epochs, beside the default-rule runs"
if make -s "${sweep[@]}" STOP=e2x print-runs >stop.log 2>&1; then fail "STOP=e2x should be refused"; fi
grep -q "unknown STOP 'e2x'" stop.log || fail "STOP=e2x: $(cat stop.log)"
ok "an unknown STOP is refused"

# The paper's targets, planned (make -n): "<run folder> <train flags after --out>" per line.
plan() { make -f "$repo/Makefile" --no-print-directory -n "$@" NOBUILD=1 CIFAR_ARCHIVE=cifar-10-binary.tar.gz IMAGENET=imagenet-root |
         grep -- '--model' | sed -E 's/.*--out ([^ ]+) (.*) \$\(\[ -d .*/\1 \2/' | tr -s ' ' | sort -u; }
# Each run folder has exactly one command, and its stopping rule is the one its name says.
check_rules() {
    local dups
    dups=$(cut -d' ' -f1 <<<"$1" | uniq -d)
    [[ -z $dups ]] || fail "$2: run folders planned with different commands: $dups"
    while read -r dir flags; do
        case $dir in
            *--e[0-9]*--s*) n=${dir##*--e}; n=${n%%--*}
                [[ " $flags " == *" --epochs $n "* && $flags != *--until-train-acc* ]] || fail "$2: $dir should train exactly $n epochs: $flags" ;;
            *--fit[0-9]*--s*) n=${dir##*--fit}; n=${n%%--*}
                [[ " $flags " == *" --until-train-acc 1.0 --epochs $n "* ]] || fail "$2: $dir should train until it fits, at most $n epochs: $flags" ;;
            *) fail "$2: $dir names no stopping rule" ;;
        esac
    done <<<"$1"
}

planned=$(plan figure1)
[[ $(wc -l <<<"$planned") -eq 27 ]] || fail "make -n figure1 should list 27 runs, got: $planned"
for r in gaussian--inception-small random-pixels--inception-small labels0.6--alexnet-small random-labels--mlp-1x512; do
    grep -q "^runs/cifar10/$r--plain--fit100--s1 " <<<"$planned" || fail "figure1 lacks $r"
done
grep -vq -- "--eval-every 0.25" <<<"$planned" && fail "figure1 runs should evaluate every 0.25 epoch: $planned"
check_rules "$planned" figure1
ok "make -n figure1 lists the 27 runs of Figure 1, each until 100% train accuracy (at most 100 epochs), evaluated every 0.25 epoch"

planned=$(plan table1)
[[ $(wc -l <<<"$planned") -eq 23 ]] || fail "make -n table1 should list 23 runs, got: $planned"
[[ $(grep -c -- '^runs/cifar10/true--.*--e100--s1 ' <<<"$planned") -eq 18 ]] || fail "table1: 18 true-label runs with a 100-epoch budget: $planned"
for r in inception-small--plain inception-small--nobn alexnet-small--plain mlp-3x512--plain mlp-1x512--plain; do
    grep -q "^runs/cifar10/random-labels--$r--fit100--s1 " <<<"$planned" || fail "table1 lacks random labels $r (until fit)"
done
check_rules "$planned" table1
ok "make -n table1 lists 18 fixed-budget true-label runs and 5 random-label runs until fit (Inception without BN too)"

planned=$(plan figure2)
[[ $(wc -l <<<"$planned") -eq 3 ]] || fail "make -n figure2 should list 3 runs, got: $planned"
check_rules "$planned" figure2
planned=$(plan figure1 table1 figure2)
check_rules "$planned" "figure1+table1+figure2"
ok "figure2 trains a fixed budget; across figure1, table1 and figure2 no run folder has two commands"

planned=$(plan imagenet)
[[ $(wc -l <<<"$planned") -eq 7 ]] || fail "make -n imagenet should list 7 runs: $planned"
for r in true--inception-v3--rrc+dropout+wd--e100 true--inception-v3--plain--e100 random-labels--inception-v3--plain--fit100 \
         random-labels--inception-v3--wd--fit100 random-labels--inception-v3--dropout+wd--fit100; do
    grep -q "^runs/imagenet/$r--s1 " <<<"$planned" || fail "imagenet lacks $r: $planned"
done
commands=$(make -f "$repo/Makefile" --no-print-directory -n imagenet NOBUILD=1 IMAGENET=imagenet-root | grep -- '--model inception-v3')
grep -vq -- "--test data/imagenet-val.npz --out" <<<"$commands" && fail "imagenet runs lack --test: $commands"
check_rules "$planned" imagenet
packs=$(make -f "$repo/Makefile" --no-print-directory -n imagenet NOBUILD=1 IMAGENET=imagenet-root | grep 'imagenet-pack')
grep -q -- "--split train --size 342 --shard-size 5000 .*-o data/imagenet-train$" <<<"$packs" || fail "make imagenet should pack the training split as shards: $packs"
grep -q -- "--data data/imagenet-train --test" <<<"$commands" || fail "imagenet runs should train on the shard set: $commands"
grep -q -- "--data data/imagenet/random-labels-s1 --test" <<<"$commands" || fail "random-label runs should train on a corrupted shard set: $commands"
ok "make -n imagenet packs the training split as shards and lists the 7 Inception V3 runs of Table 2 on them (random labels with none / wd / dropout+wd), scored on the validation file"

# Mixed precision, the same science (make precision-runs; issue 19): the same runs in f32 and bf16
# on real Fashion-MNIST, one report whose rows keep the precisions apart, and the verdict script's
# table with one line per model and condition. The verdict's own rule is checked on made-up tables.
prec=(-f "$repo/Makefile" --no-print-directory NOBUILD=1 PRECISION_TRAIN=40 PRECISION_TEST=100
      PRECISION_MODELS=mlp-1x512 PRECISION_SEEDS="1 2" PRECISION_EPOCHS=300)
make "${prec[@]}" precision-runs >precision.log 2>&1 || { cat precision.log; fail "make precision-runs"; }
for p in f32 bf16; do
    [[ $(ls runs/precision-$p/*/summary.json | wc -l) -eq 4 ]] || fail "runs/precision-$p should hold 4 runs"
    grep -q "\"precision\": \"$p\"" runs/precision-$p/true--mlp-1x512--plain--fit300--s1/config.json ||
        fail "runs/precision-$p was not trained in $p"
done
"$repo/target/release/report" runs/precision-f32/*/ runs/precision-bf16/*/ --out report/precision 2>/dev/null
[[ $(grep -c ',bf16,' report/precision/table.csv) -eq 2 && $(grep -c ',f32,' report/precision/table.csv) -eq 2 ]] ||
    fail "the report should have 2 rows per precision: $(cat report/precision/table.csv)"
rc=0; "$repo/scripts/precision-verdict" report/precision/table.csv >verdict.md || rc=$?
[[ $rc -le 1 ]] || fail "precision-verdict exit $rc: $(cat verdict.md)"
grep -q '^| MLP 1x512 | true labels | 2, 2 |' verdict.md && grep -q '^| MLP 1x512 | random labels | 2, 2 |' verdict.md ||
    fail "the verdict lacks the MLP rows: $(cat verdict.md)"
table() {  # model,data,label_corruption,precision,runs,in_progress,test,test_std,runs_fitted,epochs
    echo "model,data,label_corruption,precision,runs,in_progress,test_acc_pct,test_acc_pct_std,runs_fitted,epochs_to_fit"
    printf '%s\n' "$@"
}
table "M,true labels,0,f32,3,0,80,1,3,10" "M,true labels,0,bf16,3,0,81.5,1,3,11" >same.csv
table "M,true labels,0,f32,3,0,80,1,3,10" "M,true labels,0,bf16,3,0,83,0.5,3,11" >apart.csv
table "M,random labels,1,f32,3,0,10,1,3,50" "M,random labels,1,bf16,3,0,10,1,2,60" >unfit.csv
rc=0; "$repo/scripts/precision-verdict" same.csv >/dev/null || rc=$?
[[ $rc -eq 0 ]] || fail "1.5 pp apart with pooled std 1 is the same science (exit $rc)"
for t in apart unfit; do
    rc=0; "$repo/scripts/precision-verdict" $t.csv >/dev/null || rc=$?
    [[ $rc -eq 1 ]] || fail "precision-verdict should fail on $t.csv (exit $rc)"
done
# The verdict docs/performance.md shows is the one the committed results give.
"$repo/target/release/report" "$repo"/results/precision/*/*/ --out committed 2>/dev/null
"$repo/scripts/precision-verdict" committed/table.csv >committed.md || true
sed -n '/<!-- precision-verdict -->/,/<!-- \/precision-verdict -->/p' "$repo/docs/performance.md" | sed '1d;$d' >shown.md
diff -q committed.md shown.md >/dev/null || fail "docs/performance.md's verdict differs from results/precision: $(diff committed.md shown.md)"
ok "make precision-runs trains f32 and bf16 apart, report keeps them apart, precision-verdict judges within 2 pooled std and fitting"

echo "$passed passed, 0 failed"
