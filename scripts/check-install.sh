#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-install.sh [BUILD] - what a packager and a user rely on, checked on
# the installed library (CI runs it; it needs the library built in BUILD,
# default build/):
#
#   1. `make install DESTDIR=...` puts every file in place (header, both
#      libraries and their links, libfutures.pc, the CMake package, every
#      man page and alias); `make uninstall DESTDIR=...` leaves no file or
#      link behind
#   2. into a private prefix: tests/consumer/app.c built through pkg-config
#      against the shared and against the static library, and through CMake
#      (find_package(libfutures VERSION EXACT), libfutures::futures and
#      libfutures::futures_static); each runs and checks that the version it
#      runs against is the one the package names; ldd shows which library
#      each uses
#   3. find_package's version rules (0.Y: only 0.Y.*) and a moved prefix
#      (`pkg-config --define-prefix`, and the CMake package relative to
#      itself)
#   4. the installed header compiled alone as C11, C17 and C2x with gcc and
#      clang, and as C++11 and C++17 with g++ and clang++, warnings as errors
#   5. `man -l` renders every installed page (and the aliases resolve)
#
# Installs cmake, g++ and clang when missing (scripts/ensure-deps.sh
# consumers).  Prints one line per check; exits 1 if any failed.
set -u
cd "$(dirname "$0")/.." || exit 2
BUILD=${1:-build}
scripts/ensure-deps.sh consumers || exit 1

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok    $*"; }
ko() { echo "FAIL  $*"; fail=1; }
run() {   # run DESCRIPTION COMMAND...: ok/FAIL with the output on failure
    local what=$1
    shift
    if "$@" > "$tmp/out" 2>&1; then ok "$what"; else ko "$what"; sed 's/^/      /' "$tmp/out"; fi
}

VERSION=$(sed -n 's/^#define FUTURES_VERSION_\(MAJOR\|MINOR\|PATCH\) *\([0-9]*\).*/\2/p' include/futures.h |
          paste -sd.)
MAJOR=${VERSION%%.*}
MM=${VERSION%.*}
echo "libfutures $VERSION (from include/futures.h), build folder $BUILD"
make -s BUILD="$BUILD" lib >/dev/null || { ko "make lib"; exit 1; }

# ---- 1. DESTDIR install and uninstall ---------------------------------
stage=$tmp/stage
run "make install DESTDIR" make -s BUILD="$BUILD" install DESTDIR="$stage" PREFIX=/usr/local
want=(/usr/local/include/futures.h /usr/local/lib/libfutures.a
      "/usr/local/lib/libfutures.so.$VERSION" "/usr/local/lib/libfutures.so.$MAJOR"
      /usr/local/lib/libfutures.so /usr/local/lib/pkgconfig/libfutures.pc
      /usr/local/lib/cmake/libfutures/libfuturesConfig.cmake
      /usr/local/lib/cmake/libfutures/libfuturesConfigVersion.cmake)
for p in man/man3/*.3; do want+=("/usr/local/share/man/man3/${p##*/}"); done
while read -r alias _; do want+=("/usr/local/share/man/man3/$alias.3"); done < <(grep -v '^#' man/aliases)
missing=0
for f in "${want[@]}"; do
    [ -e "$stage$f" ] || { echo "      missing: $f"; missing=1; }
done
[ $missing = 0 ] && ok "DESTDIR install: all ${#want[@]} files in place" || ko "DESTDIR install: files missing"
extra=$(cd "$stage" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort |
        comm -23 - <(printf '%s\n' "${want[@]}" | sort))
[ -z "$extra" ] && ok "DESTDIR install: nothing unexpected" || { ko "DESTDIR install: unexpected files"; echo "$extra"; }
run "make uninstall DESTDIR" make -s BUILD="$BUILD" uninstall DESTDIR="$stage" PREFIX=/usr/local
left=$(find "$stage" \( -type f -o -type l \) 2>/dev/null)
[ -z "$left" ] && ok "DESTDIR uninstall: no file or link left" ||
    { ko "DESTDIR uninstall left:"; echo "$left" | sed 's/^/      /'; }

# ---- 2. consumers against a private prefix ----------------------------
prefix=$tmp/prefix
run "make install PREFIX=<private prefix>" make -s BUILD="$BUILD" install PREFIX="$prefix"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pcver=$(pkg-config --modversion libfutures 2>/dev/null)
[ "$pcver" = "$VERSION" ] && ok "pkg-config --modversion libfutures: $pcver" ||
    ko "pkg-config --modversion libfutures: '$pcver', header says $VERSION"
app=tests/consumer/app.c

# shellcheck disable=SC2046
run "pkg-config, shared: build" cc -Wall -Werror "$app" -o "$tmp/app-pc-shared" \
    $(pkg-config --cflags --libs libfutures)
run "pkg-config, shared: runs (LD_LIBRARY_PATH)" env LD_LIBRARY_PATH="$prefix/lib" "$tmp/app-pc-shared" "$pcver"
run "pkg-config, shared: loads $prefix/lib/libfutures.so.$MAJOR" \
    env LD_LIBRARY_PATH="$prefix/lib" bash -c "ldd '$tmp/app-pc-shared' | grep 'libfutures.so.$MAJOR => $prefix/lib/'"
# shellcheck disable=SC2046
run "pkg-config, static: build" cc -Wall -Werror "$app" -o "$tmp/app-pc-static" \
    $(pkg-config --cflags libfutures) $(pkg-config --static --libs-only-L libfutures) \
    -Wl,-Bstatic -lfutures -Wl,-Bdynamic $(pkg-config --static --libs-only-other libfutures)
run "pkg-config, static: runs without the shared library" "$tmp/app-pc-static" "$pcver"
run "pkg-config, static: no libfutures.so needed" bash -c "! ldd '$tmp/app-pc-static' | grep libfutures"

cm=$tmp/cmake
run "CMake: find_package(libfutures $VERSION EXACT) configures" \
    cmake -S tests/consumer -B "$cm" -DCMAKE_PREFIX_PATH="$prefix" -DWANT="$VERSION" -DCMAKE_BUILD_TYPE=Release
run "CMake: builds app_shared and app_static" cmake --build "$cm"
run "CMake, libfutures::futures: runs" "$cm/app_shared" "$VERSION"
run "CMake, libfutures::futures: loads the installed libfutures.so.$MAJOR" \
    bash -c "ldd '$cm/app_shared' | grep 'libfutures.so.$MAJOR => $prefix/lib/'"
run "CMake, libfutures::futures_static: runs" "$cm/app_static" "$VERSION"
run "CMake, libfutures::futures_static: no libfutures.so needed" \
    bash -c "! ldd '$cm/app_static' | grep libfutures"

# ---- 3. version rules and moved prefixes -------------------------------
probe() {   # probe VERSION EXPECT(found|not found)
    cmake -S tests/consumer -B "$tmp/probe" -DCMAKE_PREFIX_PATH="$prefix" -DPROBE="$1" 2>&1 |
        grep -q "probe $1: $2" || return 1
    rm -rf "$tmp/probe"
}
run "CMake: find_package(libfutures $MM) is found" probe "$MM" "found"
run "CMake: find_package(libfutures $MAJOR.$(( ${MM#*.} + 1 ))) is not" probe "$MAJOR.$(( ${MM#*.} + 1 ))" "not found"
if [ "$MAJOR" = 0 ] && [ "${MM#*.}" -gt 0 ]; then
    run "CMake: find_package(libfutures 0.$(( ${MM#*.} - 1 ))) is not (0.x: minor releases may break)" \
        probe "0.$(( ${MM#*.} - 1 ))" "not found"
fi
run "CMake: find_package(libfutures $(( MAJOR + 1 )).0) is not" probe "$(( MAJOR + 1 )).0" "not found"

moved=$tmp/moved
mv "$prefix" "$moved"
# shellcheck disable=SC2046
run "pkg-config --define-prefix: builds against the moved prefix" \
    cc "$app" -o "$tmp/app-moved" $(PKG_CONFIG_PATH="$moved/lib/pkgconfig" pkg-config --define-prefix --cflags --libs libfutures)
run "pkg-config --define-prefix: runs from the moved prefix" env LD_LIBRARY_PATH="$moved/lib" "$tmp/app-moved" "$VERSION"
run "CMake: the moved package configures and builds" bash -c \
    "cmake -S tests/consumer -B '$tmp/cm-moved' -DCMAKE_PREFIX_PATH='$moved' >/dev/null && cmake --build '$tmp/cm-moved' >/dev/null && '$tmp/cm-moved/app_static' '$VERSION'"
mv "$moved" "$prefix"

# ---- 4. the header alone, as C and C++ ---------------------------------
printf '#include <futures.h>\nint main(void) { return fut_version() == FUTURES_VERSION ? 0 : 1; }\n' > "$tmp/h.c"
printf '#include <futures.h>\nint main() { return fut_version() == FUTURES_VERSION ? 0 : 1; }\n' > "$tmp/h.cc"
for cc in gcc clang; do
    for std in c11 c17 c2x; do
        run "header alone: $cc -std=$std" "$cc" -std=$std -Wall -Wextra -Wpedantic -Wstrict-prototypes \
            -Werror -I"$prefix/include" -c "$tmp/h.c" -o "$tmp/h.o"
    done
done
for cxx in g++ clang++; do
    for std in c++11 c++17; do
        run "header alone: $cxx -std=$std (and links)" "$cxx" -std=$std -Wall -Wextra -Wpedantic -Werror \
            -I"$prefix/include" "$tmp/h.cc" -o "$tmp/h-cxx" -L"$prefix/lib" -lfutures -pthread
    done
done
run "header alone: the C++ program runs against the shared library" env LD_LIBRARY_PATH="$prefix/lib" "$tmp/h-cxx"

# ---- 5. man pages ------------------------------------------------------
if command -v man >/dev/null; then
    bad=0 n=0
    for p in "$prefix"/share/man/man3/*.3; do
        n=$((n + 1))
        out=$(MANWIDTH=80 man -l "$p" 2>&1 >/dev/null)
        if [ -n "$out" ] || ! MANWIDTH=80 man -l "$p" 2>/dev/null | grep -q 'SYNOPSIS'; then
            echo "      man -l $p: ${out:-no SYNOPSIS rendered}"
            bad=1
        fi
    done
    [ $bad = 0 ] && ok "man -l renders all $n installed pages and aliases" || ko "man -l"
    run "man finds a page by an alias name (fut_pool_opts: fut_pool_t.3)" \
        bash -c "MANPATH='$prefix/share/man' man -w 3 fut_pool_opts | grep -q '/fut_pool_t.3\$'"
else
    ko "man is not installed"
fi

run "make uninstall PREFIX=<private prefix>" make -s BUILD="$BUILD" uninstall PREFIX="$prefix"
left=$(find "$prefix" \( -type f -o -type l \) 2>/dev/null)
[ -z "$left" ] && ok "uninstall from the private prefix: nothing left" || { ko "uninstall left:"; echo "$left"; }

echo
[ $fail = 0 ] && echo "check-install: OK" || echo "check-install: FAILED"
exit $fail
