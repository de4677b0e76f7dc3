# SPDX-License-Identifier: MIT
# bench/progress.sh - sourced by bench/run.sh: which program runs, which
# round of how many, and the time left, on one updating line of stderr when
# it is a terminal (plain lines otherwise).
#
#   progress_plan ENTRY...     the runs to come, in order (one word each:
#                              entries with spaces are passed quoted)
#   progress_start I ENTRY LABEL   before run I (0-based) of the plan
#   progress_now                   a clock in ms
#   progress_done ENTRY MS         after run I: its duration, for the estimate
#   progress_end                   clears the line; saves the durations
#
# The time left adds up the durations of the runs still to come: measured
# in this run where the entry already ran, else taken from the previous
# run's $PROGRESS_FILE, else the mean of those known.
PROGRESS_FILE=${PROGRESS_FILE:-}
declare -A pdur=()
plan=()
progress_tty=0
[ -t 2 ] && progress_tty=1
if [ -n "$PROGRESS_FILE" ] && [ -s "$PROGRESS_FILE" ]; then
    while IFS=$'\t' read -r e d; do pdur["$e"]=$d; done <"$PROGRESS_FILE"
fi
declare -A pnow=()
progress_plan() { plan=("$@"); }
progress_now() { local t=${EPOCHREALTIME:-$(date +%s.%6N)}; t=${t/./}; echo $((10#${t:0:${#t}-3})); }
progress_left() {    # progress_left I -> ms
    local i sum=0 known=0 nk=0 unknown=0 e d
    for e in "${!pnow[@]}"; do known=$((known + pnow[$e])); nk=$((nk + 1)); done
    for ((i = $1; i < ${#plan[@]}; i++)); do
        e=${plan[$i]}
        d=${pnow[$e]:-${pdur[$e]:-}}
        if [ -n "$d" ]; then sum=$((sum + d)); else unknown=$((unknown + 1)); fi
    done
    [ "$nk" -gt 0 ] && sum=$((sum + unknown * known / nk))
    echo "$sum"
}
progress_fmt() {
    local s=$1
    if [ "$s" -ge 60 ]; then printf '%d min %02d s' $((s / 60)) $((s % 60))
    elif [ "$s" -ge 1 ]; then printf '%d s' "$s"
    else printf 'under a second'; fi
}
progress_start() {   # I ENTRY LABEL
    local left msg
    left=$(progress_left "$1")
    msg="[bench $(($1 + 1))/${#plan[@]}] $3, $(progress_fmt $(((left + 500) / 1000))) left"
    if [ "$progress_tty" = 1 ]; then printf '\r\033[K%s' "$msg" >&2; else echo "$msg" >&2; fi
}
progress_done() { pnow["$1"]=$2; }
progress_end() {
    [ "$progress_tty" = 1 ] && printf '\r\033[K' >&2
    if [ -n "$PROGRESS_FILE" ]; then
        local e
        for e in "${!pnow[@]}"; do pdur["$e"]=${pnow[$e]}; done
        for e in "${!pdur[@]}"; do printf '%s\t%s\n' "$e" "${pdur[$e]}"; done >"$PROGRESS_FILE"
    fi
    return 0
}
