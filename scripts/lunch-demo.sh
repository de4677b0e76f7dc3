#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lunch-demo.sh EXAMPLES_DIR - the lunch story, one way of cooking after
# another, then a table of the minutes each took (`make demo` runs it
# through scripts/demo.sh).  Builds nothing: run `make examples` first.
#
#   scripts/lunch-demo.sh build/examples
#   LUNCH_MINUTE_MS=50 scripts/lunch-demo.sh build/examples   # faster
#
# A story minute is LUNCH_MINUTE_MS milliseconds (default 100), so the
# whole demo takes about 10 s.  Exits 1 if a program failed or printed no
# "Eating after N min" line.
set -u
B=${1:-build/examples}
cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT
failed=0
rows=()          # "way|threads|minutes|story"

# show TITLE EXPLANATION COMMAND...: print a header, run, keep the output.
show() {
    local title=$1 what=$2; shift 2
    printf '\n=== %s\n%s\n$ %s\n' "$title" "$what" "${*#"$B"/}"
    if [ ! -x "$1" ]; then
        echo "lunch-demo: $1 is not built (make examples)" >&2
        failed=1
        : >"$tmp"
        return
    fi
    "$@" | tee "$tmp"
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
}

# minutes: N from the last "Eating after N min" line of the last run.
minutes() {
    sed -n 's/^Eating after \([0-9]*\) min of prep time\.$/\1/p' "$tmp" | tail -1
}

row() {  # way threads story (minutes from the last run)
    local m
    m=$(minutes)
    [ -n "$m" ] || { m="?"; failed=1; }
    rows+=("$1|$2|$m|$3")
}

printf 'The lunch story: pasta 10 min on the stove, meatloaf 3 min in the microwave,\n'
printf 'avocado 2 min of peeling.  1 story minute = %s ms (LUNCH_MINUTE_MS).\n' \
    "${LUNCH_MINUTE_MS:-100}"

show "1. One after another (no library)" \
"The cook stands by each pot until it is done: 10 + 3 + 2 minutes." \
    "$B/lunch_sequential"
row "one after another, no library" 1 15

show "2. One cook with an organiser: the cooperative loop" \
"Pasta and meatloaf wait with fut_sleep, so the loop switches to the next dish;
the avocado is peeled by hand (a blocking call).  The longest wait decides." \
    "$B/lunch_coop"
row "cooperative loop" 1 10

show "2a. The cook stares at the pot: a blocking wait in a coroutine" \
"The pasta waits with a plain blocking call: the loop can switch nothing away
from it for 10 minutes; only the meatloaf and avocado after it overlap." \
    "$B/lunch_blocking_pasta"
row "loop, pasta waits blocking" 1 13

show "2b. Every wait blocking: coroutines that never step aside" \
"No library wait, no switch: the loop runs the dishes one after another." \
    "$B/lunch_all_blocking"
row "loop, every wait blocking" 1 15

for n in 1 2 3; do
    case $n in
    1) why="One cook, no organiser: one job after another, as without a library." ;;
    2) why="Pasta on one cook; meatloaf then avocado on the other." ;;
    3) why="A cook per dish: even blocking waits overlap, one per thread." ;;
    esac
    show "3. Several cooks: a pool of $n thread$([ "$n" -gt 1 ] && echo s)" "$why" \
        "$B/lunch_pool" "$n"
    row "thread pool" "$n" "$([ "$n" = 1 ] && echo 15 || echo 10)"
done

show "4. Real hand work: four onions, 2 min of CPU each" \
"Chopping is CPU work, not waiting: the loop cannot overlap it (about 8 min),
a pool speeds it up only up to the number of cores ($cores here)." \
    "$B/onions" coop 1 2 3 4
# One run, five blocks: "== <title>" ... "Eating after N min ...".
while IFS='|' read -r title m busy; do
    case $title in
    cooperative*) way="onions, cooperative loop"; t=1; story="~8" ;;
    pool*)        t=$(sed 's/^pool of \([0-9]*\).*/\1/' <<<"$title")
                  way="onions, thread pool"
                  use=$((t < cores ? t : cores))
                  story="~$(( (8 + use / 2) / use ))" ;;
    *)            continue ;;
    esac
    rows+=("$way|$t|$m|$story|$busy")
done < <(awk '/^== /{t=substr($0,4)} /cores busy/{b=$(NF-4)}
              /^Eating after/{print t "|" $3 "|" b}' "$tmp")

printf '\n=== Summary (story minute %s ms, %s cores)\n\n' "${LUNCH_MINUTE_MS:-100}" "$cores"
printf '%-32s %7s %8s %7s %11s\n' "way of cooking" threads minutes story "cores busy"
printf '%-32s %7s %8s %7s %11s\n' "--------------" ------- ------- ----- ----------
for r in "${rows[@]}"; do
    IFS='|' read -r way t m story busy <<<"$r"
    if [ -n "${busy:-}" ]; then
        printf '%-32s %7s %8s %7s %11s\n' "$way" "$t" "$m" "$story" "$busy"
    else
        printf '%-32s %7s %8s %7s\n' "$way" "$t" "$m" "$story"
    fi
done
echo
echo "minutes: measured wall time / story minute; story: what the story says;"
echo "cores busy: the onions' CPU time / wall time (below the thread count when"
echo "other programs share the cores: then the onions take longer)."
echo "Timelines of such runs: doc/img/timeline-*.svg (make docs-figures draws them)."
exit $failed
