#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh BUILD - the main demonstration (`make demo`): runs the lunch-story
# examples one after another with a header each, then a summary table.
# Until the lunch examples exist it runs the gather example.
set -u
B=${1:-build}/examples
run() {  # title, command...
    local title=$1; shift
    printf '\n=== %s\n$ %s\n' "$title" "$*"
    "$@"
}
if [ -x "$B/lunch_sequential" ]; then
    exec scripts/lunch-demo.sh "$B"
fi
run "Submit jobs to a pool and gather them" "$B/gather"
