/* SPDX-License-Identifier: MIT */
/*
 * gather.c - submit jobs to the pool, gather their results.
 *
 * The smallest useful libfutures program: a pool with one thread per
 * core squares eight numbers in parallel, future_gather waits for all of
 * them on one condition variable, and one job that fails with fut_raise
 * shows how an error reaches the gatherer.
 *
 *     make examples && build/examples/gather
 */
#include <futures.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void *square(void *arg)
{
    uintptr_t x = (uintptr_t)arg;
    if (x == 13)
        return fut_raise(EDOM);        /* this job fails: unlucky number */
    return (void *)(x * x);
}

int main(void)
{
    fut_pool_t *pool = fut_pool_new(&(fut_pool_opts){.name = "squares"});
    if (!pool) {
        perror("fut_pool_new");
        return 1;
    }
    printf("pool of %zu threads\n", fut_pool_threads(pool));

    enum { N = 8 };
    future_t *fs[N];
    void *values[N];
    for (uintptr_t i = 0; i < N; i++)
        fs[i] = fut_pool_submit(pool, square, (void *)(i + 1));
    int rc = future_gather(fs, N, values, FUT_FOREVER);
    printf("gather: %s\n", rc ? strerror(rc) : "all succeeded");
    for (int i = 0; i < N; i++) {
        printf("  %d^2 = %lu\n", i + 1, (unsigned long)(uintptr_t)values[i]);
        future_release(fs[i]);
    }

    /* An error travels to every waiter: gather returns the lowest-index
     * failure, and future_get returns the job's own code. */
    future_t *bad[2] = {fut_pool_submit(pool, square, (void *)12),
                        fut_pool_submit(pool, square, (void *)13)};
    rc = future_gather(bad, 2, values, FUT_FOREVER);
    printf("gather with 13: %s (values: %lu, %p)\n", strerror(rc),
           (unsigned long)(uintptr_t)values[0], values[1]);
    future_release(bad[0]);
    future_release(bad[1]);

    fut_pool_free(pool);
    return rc == EDOM ? 0 : 1;
}
