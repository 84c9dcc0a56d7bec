#!/usr/bin/env bash
# `make imagenet-tiny`, in a scratch directory: make imagenet's whole path on a generated
# ImageNet-style tree (JPEGs in the official train/<wnid>/ and flat val/ + LOC_val_solution.csv
# layouts): imagenet-pack writes the training split as a shard set, corrupt writes the random-label
# shard set, train streams Table 2's seven Inception V3 runs from the shards and report tables them;
# a second `make imagenet-tiny` trains nothing. Needs the tools built (make build) and the venv.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "tests/make/imagenet-tiny.sh: FAIL: $*" >&2; exit 1; }
passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
mk() { make -f "$repo/Makefile" --no-print-directory NOBUILD=1 "$@"; }
inspect() { "$repo/target/release/inspect" "$@"; }

start=$(date +%s)
mk imagenet-tiny >make.log 2>&1 || { cat make.log; fail "make imagenet-tiny"; }
seconds=$(($(date +%s) - start))

[[ $(ls data/imagenet-tiny-tree/train | wc -l) -eq 4 ]] || fail "the generated tree should have 4 class folders"
[[ -f data/imagenet-tiny-tree/LOC_val_solution.csv ]] || fail "the generated tree lacks LOC_val_solution.csv"
inspect --verify data/imagenet-tiny-train >inspect.txt 2>&1 || { cat inspect.txt; fail "inspect --verify data/imagenet-tiny-train"; }
grep -q '^shards     3 files' inspect.txt || fail "the training split should be 3 shards: $(cat inspect.txt)"
shape() { inspect --json "$1" | "$repo/.venv/bin/python" -c '
import json, sys
d = json.load(sys.stdin)
print(*[e["shape"] for e in d["entries"] if e["name"] == sys.argv[1]][0], *d.get("labels", {}).get("train", []), len(d["classes"]))
' "$2"; }
[[ $(shape data/imagenet-tiny-train train_images) == "48 80 80 3 12 12 12 12 4" ]] ||
    fail "data/imagenet-tiny-train is not 48 images of 80x80x3, 12 in each of 4 classes: $(shape data/imagenet-tiny-train train_images)"
ok "imagenet-pack packed the generated tree's training split as 3 shards (48 images, 80x80x3, 4 classes), digests verified"
[[ -f data/imagenet-tiny-val.npz ]] || fail "missing data/imagenet-tiny-val.npz"
[[ $(shape data/imagenet-tiny-val.npz test_images) == "16 80 80 3 4" ]] ||
    fail "data/imagenet-tiny-val.npz should hold 16 test images of 80x80x3: $(shape data/imagenet-tiny-val.npz test_images)"
ok "the flat validation folder was packed with its Kaggle labels (16 images)"
[[ -f data/imagenet-tiny/random-labels-s1/index.json ]] || fail "corrupt should write the random-label set as shards"
inspect --json data/imagenet-tiny/random-labels-s1 | grep -q '"labels": 1' || fail "the random-label shard set is not labels p=1"
ok "corrupt wrote the random-label training set as a shard set"

runs=(runs/imagenet-tiny/*/summary.json)
[[ ${#runs[@]} -eq 7 ]] || fail "expected Table 2's 7 runs, got ${#runs[@]}: ${runs[*]}"
for r in true--inception-v3--rrc+dropout+wd--e1 true--inception-v3--plain--e1 random-labels--inception-v3--dropout+wd--fit1; do
    [[ -f runs/imagenet-tiny/$r--s1/summary.json ]] || fail "missing run $r"
done
grep -q 'train .*--data data/imagenet-tiny-train --test data/imagenet-tiny-val.npz .*--stream' make.log ||
    fail "the true-label runs should stream the training shard set"
"$repo/.venv/bin/python" - <<'PY' || fail "a run's summary.json is not a finished epoch of Inception V3"
import glob, json, math
for path in glob.glob("runs/imagenet-tiny/*/summary.json"):
    s = json.load(open(path))
    assert s["model"] == "inception-v3", (path, s["model"])
    assert s["steps"] == 3, (path, s["steps"])  # 48 images, batch 16, one epoch
    f = s["final"]
    assert 0 <= f["train_acc"] <= 1 and 0 <= f["test_acc"] <= 1 and math.isfinite(f["test_loss"]), (path, f)
PY
ok "Table 2's 7 Inception V3 runs streamed one epoch each from the shards"
[[ $(grep -c '^| Inception V3 ' report/imagenet-tiny/table.md) -eq 7 ]] || fail "report/imagenet-tiny/table.md should have 7 rows"
ok "report/imagenet-tiny/table.md has the 7 rows"

mk imagenet-tiny >again.log 2>&1 || { cat again.log; fail "second make imagenet-tiny"; }
grep -q 'release/train ' again.log && fail "a second make imagenet-tiny trained again: $(cat again.log)"
ok "a second make imagenet-tiny trains nothing"
echo "make imagenet-tiny took ${seconds} s"
echo "$passed passed, 0 failed"
