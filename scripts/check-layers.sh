#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-layers.sh BUILD - checks the library's layering on its object files:
# the core references no internal (fut__) symbol of the pool or the loop,
# and the pool and the loop none of each other's.  A layer is a set of
# object files; each object may use the fut__ symbols its own layer and the
# layers below it define.
#
#   core  alloc trace version thread waiter future wait chan group io
#         ioset (every file that names neither executor)
#   pool  pool                      (uses: core)
#   loop  loop stack coro/*         (uses: core)
#
# Prints one line per violation and exits 1; prints one summary line and
# exits 0 when the layering holds.
set -u
build=${1:-build}
obj=$build/lib
[ -d "$obj" ] || { echo "check-layers: no $obj (build the library first)" >&2; exit 2; }

layer_of() {
    case "$(basename "$1" .c.o)" in
    *.S.o) echo loop ;;
    pool) echo pool ;;
    loop|stack|ctx|ucontext) echo loop ;;
    *) echo core ;;
    esac
}

# fut__ symbols each layer defines
declare -A defs
for o in $(find "$obj" -name '*.o'); do
    l=$(layer_of "$o")
    for s in $(nm --defined-only "$o" 2>/dev/null | awk '$3 ~ /^fut__/ {print $3}'); do
        defs[$s]=$l
    done
done

bad=0
for o in $(find "$obj" -name '*.o' | sort); do
    l=$(layer_of "$o")
    for s in $(nm --undefined-only "$o" 2>/dev/null | awk '$2 ~ /^fut__/ {print $2}'); do
        d=${defs[$s]:-}
        [ -z "$d" ] && continue                 # defined outside the library
        if [ "$d" != core ] && [ "$d" != "$l" ]; then
            echo "check-layers: ${o#"$build"/} ($l) uses $s of the $d layer"
            bad=1
        fi
    done
done
[ $bad -eq 0 ] && echo "check-layers: core, pool and loop layering holds ($(find "$obj" -name '*.o' | wc -l) objects)"
exit $bad
