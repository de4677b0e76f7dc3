#!/bin/sh
# SPDX-License-Identifier: MIT
# check-spdx.sh - every source file names its license in its first lines.
#
# Checks every file git tracks (or, outside a git checkout, every file
# under the source folders) for "SPDX-License-Identifier: MIT" in its first
# three lines (line 2 after a "#!" line).  Files added later are caught the
# same way.  Exempt are formats that cannot carry a comment or are prose
# and data, not source: *.md, *.svg, *.csv, *.json, and LICENSE itself.
# Exit 0 when all have it; otherwise list the files missing it and exit 1.
#
# Used by `make check` (cheap: one head per file) and `make lint`.
set -u
cd "$(dirname "$0")/.." || exit 2

# Files being rewritten on another branch at the time the license landed;
# they get their line when that rewrite merges.  An entry that already has
# its line is reported, so that this list cannot go stale.
PENDING=""

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    list() { git ls-files --cached --others --exclude-standard; }
else
    list() {
        find lib include tests bench examples scripts tools cmake man .ci \
             Makefile libfutures.pc.in -type f 2>/dev/null
    }
fi

missing=0 stale=0
tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp"' EXIT
list > "$tmp"
while IFS= read -r f; do
    [ -f "$f" ] || continue
    case "$f" in
    *.md | *.svg | *.csv | *.json | LICENSE) continue ;;
    esac
    pending=0
    for p in $PENDING; do [ "$f" = "$p" ] && pending=1; done
    if head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
        if [ $pending = 1 ]; then
            echo "check-spdx: $f now has its SPDX line: remove it from PENDING in scripts/check-spdx.sh" >&2
            stale=1
        fi
    elif [ $pending = 0 ]; then
        echo "check-spdx: $f: no 'SPDX-License-Identifier: MIT' in its first 3 lines" >&2
        missing=1
    fi
done < "$tmp"
if [ $missing = 1 ]; then
    echo "check-spdx: add the line at the top (after a #! line), as the other files have it" >&2
fi
[ $missing = 0 ] && [ $stale = 0 ]
