#!/usr/bin/env bash
# `make install` / `make uninstall` (scripts/make/install.mk) into scratch folders: every tool runs
# `--version` from PREFIX/bin, every man page is troff that man (or groff) renders without warnings
# and that names each of the tool's long options, the completions are in the standard places and
# bash parses its own, DESTDIR stages the same tree, and uninstall removes exactly those files.
# Needs the tools built (make build); takes seconds.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "tests/make/install.sh: FAIL: $*" >&2; exit 1; }
passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
mk() { make -f "$repo/Makefile" --no-print-directory NOBUILD=1 "$@"; }

tools=$(cd "$repo/crates" && ls -d */src/main.rs | cut -d/ -f1 | grep -vx man)
[[ $(wc -w <<<"$tools") -ge 8 ]] || fail "expected at least 8 tools, found: $tools"

# The default PREFIX is ~/.local.
# (Output captured first: grep -q stops reading early, and make would die of SIGPIPE under pipefail.)
defaults=$(mk -s print-installed HOME=/home/someone)
grep -qx /home/someone/.local/bin/corrupt <<<"$defaults" || fail "the default PREFIX is not \$HOME/.local"
ok "PREFIX defaults to \$HOME/.local"

prefix=$work/prefix
mkdir -p "$prefix/bin" && echo keep >"$prefix/bin/someone-elses-tool"
mk install PREFIX="$prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "make install"; }
listed=$(mk -s print-installed PREFIX="$prefix" | sort)
found=$(find "$prefix" -type f ! -name someone-elses-tool | sort)
[[ $listed == "$found" ]] || fail "installed files differ from print-installed: $(diff <(echo "$listed") <(echo "$found") || true)"
ok "make install put exactly the $(wc -l <<<"$found") listed files under PREFIX"

for t in $tools; do
    out=$(PATH="$prefix/bin:/usr/bin:/bin" "$t" --version) || fail "$t --version from PREFIX/bin"
    [[ $out == "$t "[0-9]* ]] || fail "$t --version printed '$out'"
done
ok "every tool runs --version from PREFIX/bin: $(tr '\n' ' ' <<<"$tools")"

man1=$prefix/share/man/man1
for t in $tools; do
    page=$man1/$t.1
    [[ -s $page ]] || fail "no man page $page"
    # Warnings (-ww) would mean malformed troff (-k: the pages are UTF-8); ASCII text to grep options in.
    warnings=$(groff -k -man -Tutf8 -ww -z "$page" 2>&1) || fail "groff rejects $page"
    [[ -z $warnings ]] || fail "groff warns on $page: $warnings"
    if command -v man >/dev/null; then
        text=$(LC_ALL=C MANWIDTH=100 man -l -P cat "$page" 2>&1) || fail "man -l $page: $text"
    else
        text=$(groff -k -man -Tascii -P-cbou "$page" 2>/dev/null)
    fi
    grep -q "^NAME" <<<"$text" && grep -q "$t" <<<"$text" || fail "$page renders without NAME/$t: $text"
    # Every long option the tool's --help lists is in its page.
    for opt in $("$prefix/bin/$t" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
        grep -qF -- "$opt" <<<"$text" || fail "$page does not mention $opt"
    done
done
ok "every man page renders (man -l, groff -ww without warnings) and names its tool's options"
[[ $(MANPATH=$prefix/share/man man -w corrupt) == "$man1/corrupt.1" ]] || fail "man does not find corrupt.1 under PREFIX/share/man"
ok "man finds the pages through PREFIX/share/man"

for t in $tools; do
    bash_c=$prefix/share/bash-completion/completions/$t
    for f in "$bash_c" "$prefix/share/zsh/site-functions/_$t" "$prefix/share/fish/vendor_completions.d/$t.fish"; do
        [[ -s $f ]] || fail "missing completion $f"
    done
    bash -n "$bash_c" || fail "bash -n rejects $bash_c"
    bash -c 'source "$1" && complete -p "$2"' _ "$bash_c" "$t" >/dev/null || fail "$bash_c registers no completion for $t"
    if command -v zsh >/dev/null; then zsh -n "$prefix/share/zsh/site-functions/_$t" || fail "zsh -n rejects _$t"; fi
    if command -v fish >/dev/null; then fish -n "$prefix/share/fish/vendor_completions.d/$t.fish" || fail "fish -n rejects $t.fish"; fi
done
ok "bash, zsh and fish completions in place; bash parses and registers each"

mk uninstall PREFIX="$prefix" >"$work/uninstall.log" 2>&1 || { cat "$work/uninstall.log"; fail "make uninstall"; }
left=$(find "$prefix" -type f ! -name someone-elses-tool)
[[ -z $left ]] || fail "uninstall left: $left"
[[ $(cat "$prefix/bin/someone-elses-tool") == keep ]] || fail "uninstall touched a file it did not install"
ok "make uninstall removed exactly the installed files"

# DESTDIR stages the tree under DESTDIR/PREFIX and writes nothing at PREFIX itself.
dest=$work/dest
mk install DESTDIR="$dest" PREFIX=/opt/rethink >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "make install DESTDIR"; }
staged=$(cd "$dest" && find . -type f | sed 's|^\.||' | sort)
[[ $staged == "$(mk -s print-installed PREFIX=/opt/rethink | sort)" ]] || fail "DESTDIR staged: $staged"
"$dest/opt/rethink/bin/corrupt" --version >/dev/null || fail "staged corrupt --version"
mk uninstall DESTDIR="$dest" PREFIX=/opt/rethink >/dev/null 2>&1 || fail "make uninstall DESTDIR"
[[ -z $(find "$dest" -type f) ]] || fail "uninstall with DESTDIR left: $(find "$dest" -type f)"
ok "DESTDIR stages the same files under DESTDIR/PREFIX; uninstall with it leaves nothing"

echo "$passed passed, 0 failed"
