#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-tests.sh BIN... - run each Check test program, print its output and a
# closing summary line; exit 1 if any failed.  Check forks each case and
# applies a per-case timeout (CK_DEFAULT_TIMEOUT, raised under sanitizers).
set -u
total_pass=0 total_fail=0 failed_bins=()
for bin in "$@"; do
    out=$("$bin" 2>&1); rc=$?
    printf '%s\n' "$out"
    # Check's summary: "100%: Checks: 12, Failures: 0, Errors: 0"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -1)
    if [ -n "$line" ]; then
        checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
        fails=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
        errs=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
        total_pass=$((total_pass + checks - fails - errs))
        total_fail=$((total_fail + fails + errs))
    fi
    if [ $rc -ne 0 ] || [ -z "$line" ]; then failed_bins+=("$bin"); [ -z "$line" ] && total_fail=$((total_fail + 1)); fi
done
echo "${total_pass} passed, ${total_fail} failed"
if [ ${#failed_bins[@]} -ne 0 ]; then
    echo "FAILED: ${failed_bins[*]}" >&2
    exit 1
fi
