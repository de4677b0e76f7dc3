/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - the allocation hook's state: failure injection for the tests
 *
 * Every allocation of the library goes through fut__malloc, fut__calloc
 * and fut__realloc (lib/internal.h), which cost one relaxed load when the
 * hook is off.  tests/test_alloc.c arms it with fut__test_fail_alloc(k) to
 * make the k-th allocation from then on fail, and checks each ENOMEM path.
 * In its own file so that any subset of the library (the AArch64 cross
 * build of lib/stack.c and lib/coro/) links with it.
 */
#include "internal.h"

atomic_long fut__alloc_fail_in;   /* allocations left before the one that
                                     fails; 0: the hook is off */

/* Counts one allocation against the armed hook; true for the one that
 * must fail. */
bool fut__alloc_fails(void)
{
    long n = atomic_load(&fut__alloc_fail_in);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&fut__alloc_fail_in, &n, n - 1))
            return n == 1;
    }
    return false;
}

void fut__test_fail_alloc(long n)
{
    atomic_store(&fut__alloc_fail_in, n > 0 ? n : 0);
}
