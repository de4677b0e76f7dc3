/* SPDX-License-Identifier: MIT */
/*
 * as_completed.c - results in the order they complete
 *
 * asyncio -> libfutures
 *
 *     tasks = [create_task(c) for c in dishes]   fs[i] = fut_spawn(cook, dish[i]);
 *     for t in asyncio.as_completed(tasks):      bool done[N] = {false};
 *                                                for (k = 0; k < N; k++) {
 *                                                    future_wait_next(fs, N, done,
 *                                                                     FUT_FOREVER, &i);
 *         dish = await t                             future_get(fs[i], &dish);
 *         serve(dish)                                serve(dish); }
 *
 * Three dishes are started in the order pasta (10 min), meatloaf (3 min),
 * avocado (2 min) and served in the order they are ready: avocado,
 * meatloaf, pasta.  future_wait_next marks each future it hands out in
 * done[], and picks, among those complete, the one that completed first,
 * so two dishes ready between two calls still come out in their order.
 * With a timeout of 0 it only looks.
 *
 *     make examples && build/examples/as_completed
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>
#include <stdint.h>

static const char *const dishes[] = {"pasta", "meatloaf", "avocado"};
static const double minutes[] = {10, 3, 2};

static void *cook(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    lunch_event(dishes[i], "starts", NULL);
    int rc = fut_sleep(lunch_ms(minutes[i]));
    if (rc)
        return fut_raise(rc);
    lunch_event(dishes[i], "done", NULL);
    return (void *)dishes[i];
}

static void *serve_lunch(void *arg)
{
    (void)arg;
    enum { N = 3 };
    future_t *fs[N];
    for (size_t i = 0; i < N; i++) {
        fs[i] = fut_spawn(cook, (void *)(uintptr_t)i);
        if (!fs[i])
            return fut_raise(errno);
    }
    bool done[N] = {false};
    size_t i;
    int rc = future_wait_next(fs, N, done, 0, &i);
    printf("[%5.1f min] -- future_wait_next(timeout 0): %s\n", lunch_now(), strerror(rc));
    for (int k = 0; k < N; k++) {
        rc = future_wait_next(fs, N, done, FUT_FOREVER, &i);
        if (rc)
            return fut_raise(rc);
        void *dish = NULL;
        future_get(fs[i], &dish);
        printf("[%5.1f min] -- served: %s (index %zu)\n", lunch_now(), (const char *)dish, i);
    }
    for (size_t k = 0; k < N; k++)
        future_release(fs[k]);
    return NULL;
}

int main(void)
{
    lunch_begin("served as completed");
    int rc = fut_run(serve_lunch, NULL, NULL);
    lunch_end();
    return rc;
}
