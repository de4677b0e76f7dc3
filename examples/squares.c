/* SPDX-License-Identifier: MIT */
#include <futures.h>
#include <stdint.h>
#include <stdio.h>

static void *square(void *x) { return (void *)((uintptr_t)x * (uintptr_t)x); }

int main(void) {
    fut_pool_t *pool = fut_pool_new(NULL);            /* one thread per core */
    future_t *fs[4];
    void *v[4];
    for (uintptr_t i = 0; i < 4; i++)
        fs[i] = fut_pool_submit(pool, square, (void *)(i + 1));
    int rc = future_gather(fs, 4, v, FUT_FOREVER);    /* 0: all succeeded */
    for (int i = 0; i < 4; i++) {
        printf("%lu\n", rc == 0 ? (unsigned long)(uintptr_t)v[i] : 0ul);
        future_release(fs[i]);                        /* one per submit */
    }
    fut_pool_free(pool);
    return rc;
}
