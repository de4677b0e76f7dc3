#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ensure-deps.sh WHAT... - install the Debian packages a make target needs
# when they are missing, saying so.  WHAT:
#   check   the Check unit-test framework and pkg-config; python3 (the man
#           page check, the Python examples and the documentation's
#           figures check); and a decimal-comma locale, de_DE.UTF-8, for the
#           trace tests (generated with localedef from Debian's `locales`)
#   lint    clang-tidy, clang, cppcheck and mandoc (`make lint`)
#   consumers  cmake, g++, clang++ and man-db (CI builds programs against
#           the installed library, compiles the header as C++, reads the
#           installed man pages)
#   fuzz    clang with its libFuzzer runtime (`make fuzz`)
#   cross   the AArch64 cross compiler and qemu-user
#   peers   what `make bench PEERS=1` compares against: GLib, oneTBB, libuv,
#           Boost.Fiber/Context, g++
# Never installs anything already present.  Without root (or password-less
# sudo) it names the packages to install and fails, except for the locale,
# which is only a note: the one test that needs it says so.
set -u
need=()
want_locale=
for what in "$@"; do
    case "$what" in
    check)
        pkg-config --exists check 2>/dev/null || need+=(check pkg-config)
        command -v pkg-config >/dev/null || need+=(pkg-config)
        command -v python3 >/dev/null || need+=(python3)
        locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8' || want_locale=de_DE ;;
    lint)
        command -v clang-tidy >/dev/null || need+=(clang-tidy)
        command -v clang >/dev/null || need+=(clang)
        command -v cppcheck >/dev/null || need+=(cppcheck)
        command -v mandoc >/dev/null || need+=(mandoc)
        command -v python3 >/dev/null || need+=(python3) ;;
    consumers)
        command -v cmake >/dev/null || need+=(cmake)
        command -v g++ >/dev/null || need+=(g++)
        command -v clang++ >/dev/null || need+=(clang)
        command -v pkg-config >/dev/null || need+=(pkg-config)
        command -v make >/dev/null || need+=(make)
        command -v man >/dev/null || need+=(man-db) ;;
    fuzz)
        command -v clang >/dev/null || need+=(clang) ;;
    cross)
        command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
        command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null || need+=(qemu-user) ;;
    peers)
        command -v g++ >/dev/null || need+=(g++)
        command -v pkg-config >/dev/null || need+=(pkg-config)
        pkg-config --exists glib-2.0 2>/dev/null || need+=(libglib2.0-dev)
        pkg-config --exists libuv 2>/dev/null || need+=(libuv1-dev)
        [ -e /usr/include/oneapi/tbb/task_group.h ] || need+=(libtbb-dev)
        [ -e /usr/include/boost/fiber/all.hpp ] || need+=(libboost-fiber-dev)
        [ -e /usr/include/boost/context/fiber.hpp ] || need+=(libboost-context-dev) ;;
    *) echo "ensure-deps.sh: unknown dependency set '$what'" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
export DEBIAN_FRONTEND=noninteractive

# The locale needs Debian's locale sources (package `locales`).
if [ -n "$want_locale" ] && [ ! -e /usr/share/i18n/locales/de_DE ]; then
    need+=(locales)
fi

if [ ${#need[@]} -ne 0 ]; then
    mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
    echo "libfutures: missing Debian packages: ${need[*]}; installing them" >&2
    if [ "$SUDO" = none ]; then
        echo "libfutures: not root and no password-less sudo: run 'apt-get install ${need[*]}' first" >&2
        exit 1
    fi
    $SUDO apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
        { $SUDO apt-get update >&2 && $SUDO apt-get install -y --no-install-recommends "${need[@]}" >&2; } ||
        { echo "libfutures: could not install ${need[*]}" >&2; exit 1; }
fi

if [ -n "$want_locale" ]; then
    if [ "$SUDO" = none ]; then
        echo "libfutures: note: no de_DE.UTF-8 locale (the trace test under a decimal-comma" \
             "locale will not run); as root: localedef -i de_DE -c -f UTF-8 de_DE.UTF-8" >&2
    else
        echo "libfutures: generating the de_DE.UTF-8 locale (for the trace tests)" >&2
        $SUDO localedef -i de_DE -c -f UTF-8 de_DE.UTF-8 >&2 ||
            echo "libfutures: note: could not generate de_DE.UTF-8" >&2
    fi
fi
exit 0
