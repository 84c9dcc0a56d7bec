#!/usr/bin/env bash
# The Makefile's parts: every fragment in scripts/make/ is included and opens its own `make help`
# heading before its first documented target (so help groups targets by the file that defines
# them), no Makefile fragment lives anywhere else, every target name that is part of the interface
# still exists, and `make help` lists no target twice. Needs only make.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fail() { echo "tests/make/help.sh: FAIL: $*" >&2; exit 1; }
passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
mk() { make -f "$repo/Makefile" --no-print-directory NOBUILD=1 "$@"; }

included=$(mk --eval 'print-makefiles: ; @printf "%s\n" $(MAKEFILE_LIST)' print-makefiles)
for f in "$repo"/scripts/make/*.mk; do
    grep -qxF "$f" <<<"$included" || fail "$f is not included by the Makefile (a dead fragment)"
    first_heading=$(grep -n '^##@ ' "$f" | head -n1 | cut -d: -f1 || true)
    first_target=$(grep -nE '^[a-zA-Z0-9_./-]+:.*## ' "$f" | head -n1 | cut -d: -f1 || true)
    [[ -n $first_heading ]] || fail "$f has no '##@' heading for make help"
    [[ -z $first_target || $first_heading -lt $first_target ]] || fail "$f documents a target before its '##@' heading"
done
ok "every scripts/make/*.mk is included and opens its own help heading"

stray=$(cd "$repo" && find . -path ./target -prune -o -path ./.git -prune -o -path ./libtorch -prune -o \
    \( -name '*.mk' -o -name 'Makefile.*' -o -name 'Makefile' \) -type f -print |
    grep -v -e '^\./Makefile$' -e '^\./scripts/make/[^/]*\.mk$' -e '^\./crates/train/vendor/' || true)
[[ -z $stray ]] || fail "Makefile fragments outside scripts/make/: $stray"
ok "no Makefile fragment outside scripts/make/"

help=$(mk help)
# -q: print the database without making anything (its exit status says only "not up to date").
targets=$({ mk -pRrq 2>/dev/null || true; } | grep -E '^[a-zA-Z0-9_./-]+:' | cut -d: -f1 | sort -u)
for t in help setup apt build tools clean test check-vendor-patch data/fashion-mnist.npz data/cifar10.npz \
         data/fmnist-demo.npz demo figure1 table1 figure2 paper imagenet data/imagenet-train.npz data/imagenet-val.npz \
         data/imagenet-train imagenet-tiny \
         libtorch train sweep sweep-runs sweep-report print-runs report bench-format bench-corrupt bench-train bench-kernel \
         kernel double-descent \
         study study-fig1 study-table1 study-random-reg study-fig2 study-results study-report \
         gpu-check test-slurm; do
    grep -qxF "$t" <<<"$targets" || fail "target '$t' is gone (target names are an interface)"
done
ok "every interface target exists"
dups=$(grep -E '^  [^ ]' <<<"$help" | awk '{print $1}' | sort | uniq -d)
[[ -z $dups ]] || fail "make help lists twice: $dups"
[[ $(grep -c '^[^ ]' <<<"$help") -ge 6 ]] || fail "make help has too few headings: $help"
ok "make help lists each target once under $(grep -c '^[^ ]' <<<"$help") headings"

echo "$passed passed, 0 failed"
