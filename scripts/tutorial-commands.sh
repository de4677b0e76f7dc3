#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tutorial-commands.sh - run every shell command the tutorial shows, as a
# reader would paste it: the ```sh blocks of doc/tutorial.md, then of
# doc/tutorial/*.md in chapter order (9 before 10), one shell session.
#
#   scripts/tutorial-commands.sh [--build DIR]
#       in a copy of this tree (its files as they are now, committed or
#       not) whose build/ is this tree's DIR (default build), already
#       built by `make`: seconds; `make check` runs it
#   scripts/tutorial-commands.sh --fresh [REPO]
#       in a fresh `git clone` of REPO (default: this repository, its
#       HEAD): the reader's case, the library built from scratch
#   --show: print every block's output, not only a failing one's
#
# HOME is an empty folder for the run, so `make install
# PREFIX=$HOME/.local` installs there.  The quick mode sets a story
# minute of 5 ms unless LUNCH_MINUTE_MS is set; --fresh keeps the
# programs' default (100 ms).  Exits 1 at the first block that fails,
# naming its page and showing its output.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
mode=copy build=build repo=$here show=0
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --fresh) mode=fresh; shift; if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then repo=$1; shift; fi ;;
    --show) show=1; shift ;;
    *) echo "usage: $0 [--build DIR] [--fresh [REPO]] [--show]" >&2; exit 2 ;;
    esac
done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home"
tree=$tmp/libfutures

if [ "$mode" = fresh ]; then
    echo "tutorial-commands: git clone $repo (HEAD) into a fresh folder"
    git clone -q "$repo" "$tree" || exit 1
else
    [ -e "$here/$build/libfutures.a" ] || { echo "tutorial-commands: $build/libfutures.a is not built (make)" >&2; exit 1; }
    mkdir -p "$tree"
    (cd "$here" && git ls-files -co --exclude-standard -z | xargs -0 cp -p --parents -t "$tree") || exit 1
    ln -s "$here/$build" "$tree/build"
    export LUNCH_MINUTE_MS=${LUNCH_MINUTE_MS:-5}
fi

# The blocks, in reading order: "page<TAB>first line number" headers.
# Chapters in their numbers' order (9 before 10), as the tutorial lists them.
pages=("$tree/doc/tutorial.md")
while IFS= read -r p; do pages+=("$p"); done < <(ls "$tree"/doc/tutorial/*.md 2>/dev/null | sort -V)
script=$tmp/commands.sh
n=0
{
    echo 'set -e'
    for p in "${pages[@]}"; do
        awk -v page="${p#"$tree"/}" '
            /^```sh[ \t]*$/ { inb = 1; start = NR + 1; printf "tc_block %s %d <<'"'"'TC_EOF'"'"'\n", page, start; next }
            inb && /^```[ \t]*$/ { inb = 0; print "TC_EOF"; next }
            inb { print }' "$p"
    done
} >"$tmp/blocks"
n=$(grep -c '^tc_block ' "$tmp/blocks")
[ "$n" -gt 0 ] || { echo "tutorial-commands: the tutorial shows no sh block" >&2; exit 1; }

# Each block runs in the same shell (variables carry over), its output
# kept; a failing block stops the run.
cat >"$script" <<'EOF'
tc_i=0
tc_block() {
    local page=$1 line=$2 code log
    code=$(cat)
    tc_i=$((tc_i + 1))
    log=$TC_TMP/block-$tc_i.log
    local t0=${EPOCHREALTIME/./}
    set +e
    ( set -e; eval "$code" ) >"$log" 2>&1
    local rc=$?
    # what a block exports, the next ones see (a reader's shell keeps it)
    eval "$(printf '%s\n' "$code" | grep -E '^[[:space:]]*export[[:space:]]' || true)"
    set -e
    local t1=${EPOCHREALTIME/./}
    printf '[tutorial %d/%d] %s:%d (%d.%d s)\n' "$tc_i" "$TC_N" "$page" "$line" \
        $(((t1 - t0) / 1000000)) $(((t1 - t0) / 100000 % 10))
    if [ "$TC_SHOW" = 1 ] || [ $rc -ne 0 ]; then
        printf '%s\n' "$code" | sed 's/^/    $ /'
        sed 's/^/    /' "$log"
    fi
    if [ $rc -ne 0 ]; then
        echo "tutorial-commands: $page:$line: this block failed (exit $rc)" >&2
        exit 1
    fi
}
EOF
cat "$tmp/blocks" >>"$script"
cd "$tree" || exit 1
t0=$SECONDS
HOME=$tmp/home TC_TMP=$tmp TC_N=$n TC_SHOW=$show bash "$script" || exit 1
echo "tutorial-commands: $n blocks of the tutorial ran as written ($mode, $((SECONDS - t0)) s)"
