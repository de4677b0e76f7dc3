#!/bin/sh
# SPDX-License-Identifier: MIT
# check-spdx.sh - every source file names its license in its first lines.
#
# Checks every file git tracks (or, outside a git checkout, every file
# under the source folders) for "SPDX-License-Identifier: MIT" in its first
# three lines (line 2 after a "#!" line).  Files added later are caught the
# same way.  Exempt are formats that cannot carry a comment or are prose
# and data, not source: *.md, *.svg, *.csv, *.json, the fuzzer's binary
# seed inputs (fuzz/corpus/), and LICENSE itself.
# Exit 0 when all have it; otherwise list the files missing it and exit 1.
#
# Used by `make check` (cheap: one head per file) and `make lint`.
set -u
cd "$(dirname "$0")/.." || exit 2

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    list() { git ls-files --cached --others --exclude-standard; }
else
    list() {
        find lib include tests bench examples scripts tools cmake man .ci \
             Makefile libfutures.pc.in -type f 2>/dev/null
    }
fi

missing=0
tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp"' EXIT
list > "$tmp"
while IFS= read -r f; do
    [ -f "$f" ] || continue
    case "$f" in
    *.md | *.svg | *.csv | *.json | fuzz/corpus/* | LICENSE) continue ;;
    esac
    if ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
        echo "check-spdx: $f: no 'SPDX-License-Identifier: MIT' in its first 3 lines" >&2
        missing=1
    fi
done < "$tmp"
if [ $missing = 1 ]; then
    echo "check-spdx: add the line at the top (after a #! line), as the other files have it" >&2
fi
[ $missing = 0 ]
