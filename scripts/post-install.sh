#!/bin/sh
# SPDX-License-Identifier: MIT
# post-install.sh LIBDIR SONAME - the end of `make install` (without
# DESTDIR): make the new shared library findable by the dynamic loader, or
# say how to.  As root, runs ldconfig (a system install then works at
# once); then reports whether LIBDIR is on the loader's path.  Never fails
# the install.
libdir=$1
soname=$2
if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then
    ldconfig || echo "libfutures: ldconfig failed" >&2
fi
if command -v ldconfig >/dev/null 2>&1 &&
   ldconfig -p 2>/dev/null | grep -q "=> $libdir/$soname\$"; then
    echo "libfutures: $libdir/$soname is known to the dynamic loader"
elif [ "$(id -u)" = 0 ]; then
    echo "libfutures: $libdir is not on the dynamic loader's path: run programs with" \
         "LD_LIBRARY_PATH=$libdir, or add it to /etc/ld.so.conf.d/ and run ldconfig"
else
    echo "libfutures: $libdir is not (yet) known to the dynamic loader: run 'ldconfig' as" \
         "root for a system folder, or run programs with LD_LIBRARY_PATH=$libdir"
fi
exit 0
