/* SPDX-License-Identifier: MIT */
/*
 * version.c - the library's own version, asked at run time
 *
 * Compiled from the same macros as the header the library was built
 * with, so a program can compare what it was compiled against
 * (FUTURES_VERSION) with what it runs against (fut_version()).
 */
#include "futures.h"

#define FUT_STR_(x) #x
#define FUT_STR(x) FUT_STR_(x)

_Static_assert(FUTURES_VERSION_MINOR < 256 && FUTURES_VERSION_PATCH < 256,
               "FUTURES_VERSION packs MINOR and PATCH in 8 bits each");

unsigned fut_version(void)
{
    return FUTURES_VERSION;
}

const char *fut_version_string(void)
{
    return FUT_STR(FUTURES_VERSION_MAJOR) "." FUT_STR(FUTURES_VERSION_MINOR) "." FUT_STR(
        FUTURES_VERSION_PATCH);
}
