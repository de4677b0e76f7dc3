#!/usr/bin/env bash
# ensure-deps.sh WHAT... - install the Debian packages a make target needs
# when they are missing, saying so.  WHAT: check (the Check unit-test
# framework, pkg-config, and python3 for the Python examples and the
# documentation's checks), cross (the AArch64 cross compiler and
# qemu-user), peers (what `make bench PEERS=1` compares against: GLib,
# oneTBB, libuv, Boost.Fiber/Context, g++).  Never installs anything
# already present.
set -u
need=()
for what in "$@"; do
    case "$what" in
    check)
        pkg-config --exists check 2>/dev/null || need+=(check pkg-config)
        command -v pkg-config >/dev/null || need+=(pkg-config)
        command -v python3 >/dev/null || need+=(python3) ;;
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
[ ${#need[@]} -eq 0 ] && exit 0
# de-duplicate
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
echo "libfutures: missing Debian packages: ${need[*]}; installing them" >&2
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "libfutures: not root and no password-less sudo: run 'apt-get install ${need[*]}' first" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
    { $SUDO apt-get update >&2 && $SUDO apt-get install -y --no-install-recommends "${need[@]}" >&2; } ||
    { echo "libfutures: could not install ${need[*]}" >&2; exit 1; }
