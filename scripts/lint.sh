#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lint.sh [BUILD] - `make lint`: every static check, one report.
#
#   1. SPDX lines (scripts/check-spdx.sh)
#   2. the man pages: up to date with the header (scripts/gen-man.py
#      --check) and clean under `mandoc -Tlint` (style warnings included)
#   3. shell scripts parse (bash -n / sh -n)
#   4. clang-tidy with the clang static analyzer (.clang-tidy) on lib/
#      (both context-switch back ends), examples/, tests/ (the soak in
#      tests/stress/ too), fuzz/ and bench/
#   5. cppcheck (.cppcheck-suppressions) on the same files: warning,
#      portability and performance everywhere, style too in lib/ and
#      examples/
#
# Findings are printed one per line, FILE:LINE:COL: message [check].  A
# finding listed in .lint-known (triaged, with its reason and owner) is
# shown as "known" and does not fail the run; any other finding fails it,
# and so does an entry of .lint-known that no longer matches.  To see the
# analyzer's whole path for a finding:
#     clang-tidy FILE -- $(scripts/lint.sh --flags)
#
# Installs clang-tidy, cppcheck and mandoc when missing
# (scripts/ensure-deps.sh lint).  Exits 0 when clean.
set -u
cd "$(dirname "$0")/.." || exit 2
BUILD=${1:-build}

CHECK_CFLAGS=$(pkg-config --cflags check 2>/dev/null)
FLAGS=(-std=c11 -D_GNU_SOURCE -Iinclude -Ilib -Iexamples -Ibench -I../shared/peers/src -pthread)
# shellcheck disable=SC2206
[ -n "$CHECK_CFLAGS" ] && FLAGS+=($CHECK_CFLAGS)
if [ "$BUILD" = --flags ]; then
    echo "${FLAGS[*]}"
    exit 0
fi

scripts/ensure-deps.sh lint check || exit 1

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
fail=0
step() { printf '\n== lint: %s\n' "$*"; }
bad() { fail=1; }

step "SPDX lines"
scripts/check-spdx.sh && echo "ok" || bad

step "man pages (scripts/gen-man.py --check, mandoc -Tlint)"
scripts/gen-man.py --check include/futures.h man || bad
# mandoc resolves .Xr against a manual tree with its database: lint a copy.
mkdir -p "$tmp/man" && cp -R man/man3 "$tmp/man/" && makewhatis "$tmp/man" 2>/dev/null
( cd "$tmp/man" && mandoc -Tlint -W style -M "$tmp/man" man3/*.3 ) > "$tmp/mandoc.txt" 2>&1
if [ -s "$tmp/mandoc.txt" ]; then
    sed 's|^mandoc: man3/|mandoc: man/man3/|' "$tmp/mandoc.txt"
    bad
else
    echo "mandoc -Tlint: $(ls man/man3/*.3 | wc -l) pages clean"
fi

step "shell scripts parse"
shok=1
while IFS= read -r f; do
    case "$(head -n 1 "$f")" in
    *bash*) bash -n "$f" || { shok=0; echo "$f: does not parse (bash -n)"; } ;;
    '#!/bin/sh'*) sh -n "$f" || { shok=0; echo "$f: does not parse (sh -n)"; } ;;
    esac
done < <(git ls-files --cached --others --exclude-standard 2>/dev/null | grep -E '(^|/)(run|[^/]*\.sh)$')
[ $shok = 1 ] && echo "ok" || bad

# ---- the C analyzers: findings as "TOOL FILE:LINE:COL: message [check]" ----
findings="$tmp/findings.txt"
: > "$findings"

step "clang-tidy $(clang-tidy --version | sed -n 's/.*LLVM version \([0-9.]*\).*/\1/p') (.clang-tidy: analyzer, bugprone)"
ASM_SRCS=(lib/*.c lib/coro/ctx.c)
mkdir -p "$tmp/tidy"
export FLAGS_STR="${FLAGS[*]}"
{
    for f in "${ASM_SRCS[@]}" examples/*.c tests/*.c tests/stress/*.c fuzz/*.c bench/*.c; do
        printf '%s\t%s\t\n' "$tmp/tidy/$(echo "$f" | tr / _).txt" "$f"
    done
    # the other back end: lib/coro/ctx.c and ucontext.c as CORO=ucontext builds them
    for f in lib/coro/ctx.c lib/coro/ucontext.c; do
        printf '%s\t%s\t-DFUT_CORO_UCONTEXT=1\n' "$tmp/tidy/ucontext_$(basename "$f").txt" "$f"
    done
} > "$tmp/tidy.jobs"
# two at a time: the machine is shared
tr '\t' '\n' < "$tmp/tidy.jobs" | xargs -d '\n' -n 3 -P 2 bash -c '
    out=$0 file=$1 extra=$2
    # shellcheck disable=SC2086
    clang-tidy -quiet "$file" -- $FLAGS_STR $extra > "$out" 2>/dev/null || true'
here=$(pwd)
cat "$tmp"/tidy/*.txt |
    grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): .*\[[^]]+\]$' |
    sed -e "s|^$here/||" | grep -v '^/' | sort -u | sed 's/^/clang-tidy /' >> "$findings"
echo "$(ls "$tmp"/tidy/*.txt | wc -l) translation units"

step "cppcheck $(cppcheck --version | awk '{print $2}') (.cppcheck-suppressions)"
CPPC=(cppcheck -q --std=c11 --inconclusive --library=posix -D_GNU_SOURCE -D__GNUC__
      -D__linux__ -Iinclude -Ilib -Iexamples -Ibench
      --suppressions-list=.cppcheck-suppressions
      --template='{file}:{line}:{column}: {severity}: {message} [{id}]')
{
    "${CPPC[@]}" --enable=warning,portability,performance,style -D__x86_64__ lib/*.c lib/coro/ctx.c examples ||
        echo "cppcheck failed on lib/ and examples/ (exit $?)"
    "${CPPC[@]}" --enable=warning,portability,performance,style -DFUT_CORO_UCONTEXT=1 lib/coro/ucontext.c ||
        echo "cppcheck failed on lib/coro/ucontext.c (exit $?)"
    "${CPPC[@]}" --enable=warning,portability,performance -D__x86_64__ tests fuzz bench/*.c ||
        echo "cppcheck failed on tests/, fuzz/ and bench/ (exit $?)"
} > "$tmp/cppcheck.txt" 2>&1
grep -E '^[^ ]+:[0-9]+:[0-9]+: ' "$tmp/cppcheck.txt" | sort -u | sed 's/^/cppcheck /' >> "$findings"
if grep -vqE '^[^ ]+:[0-9]+:[0-9]+: |^$' "$tmp/cppcheck.txt"; then
    grep -vE '^[^ ]+:[0-9]+:[0-9]+: |^$' "$tmp/cppcheck.txt"   # cppcheck itself failed
    bad
fi
echo "lib/, examples/, tests/, fuzz/, bench/*.c"

# ---- compare with .lint-known ----
step "findings"
awk '
    FNR == NR {                             # .lint-known
        if ($0 ~ /^[ \t]*(#|$)/) next
        key = $1 " " $2 " " $3
        want[key] = $4
        next
    }
    {
        tool = $1
        loc = $2; sub(/:.*/, "", loc)        # the file
        check = $0; sub(/.*\[/, "", check); sub(/\]$/, "", check)
        key = tool " " loc " " check
        got[key]++
        n++; line[n] = $0; keyof[n] = key
    }
    END {
        bad = 0
        for (i = 1; i <= n; i++) {
            k = keyof[i]
            tag = (k in want && got[k] == want[k]) ? "known" : "NEW  "
            if (tag != "known") bad = 1
            print tag "  " line[i]
        }
        for (k in want)
            if (got[k] != want[k]) {
                printf "STALE  .lint-known: %s %s, found %d: update .lint-known\n", k, want[k], got[k] + 0
                bad = 1
            }
        exit bad
    }
' .lint-known "$findings" || bad
[ -s "$findings" ] || echo "no findings"

echo
if [ $fail = 0 ]; then
    echo "lint: clean ($(grep -c . "$findings") known findings, see .lint-known)"
else
    echo "lint: FAILED (NEW findings above, or a stale .lint-known entry)"
fi
exit $fail
