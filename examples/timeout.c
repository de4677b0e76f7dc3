/* SPDX-License-Identifier: MIT */
/*
 * timeout.c - a deadline for a whole group of tasks
 *
 * asyncio -> libfutures
 *
 *     try:
 *         async with asyncio.timeout(4):       fut_group_t *g = fut_group_new();
 *             async with asyncio.TaskGroup() as tg:
 *                 tg.create_task(cook_pasta())   fut_group_spawn(g, cook_pasta, NULL);
 *                 ...                            ...
 *                                              int rc = fut_group_wait(g, lunch_ms(4));
 *     except TimeoutError: ...                 rc == ETIMEDOUT: the members still running
 *                                              were cancelled, and have ended
 *     # "are they done yet?" without waiting   fut_group_wait(g, 0) == ETIMEDOUT
 *     # (and without cancelling anything)
 *
 * Lunch must be on the table in 4 minutes.  The meatloaf (3 min) and the
 * avocado (2 min, cut on a pool thread) make it; the pasta (10 min) does
 * not: at the deadline the group cancels it, waits until it is off the
 * stove, and fut_group_wait returns ETIMEDOUT.  A timeout of 0 only looks:
 * at the first minute the group is still cooking, and nothing is
 * cancelled.  Once the wait has returned, its result is final.
 *
 *     make examples && build/examples/timeout
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>

static void *cook(void *arg)           /* a dish that waits: a coroutine */
{
    const char *dish = arg;
    double minutes = dish[0] == 'p' ? 10 : 3;
    char what[32];
    snprintf(what, sizeof what, "%.0f min", minutes);
    lunch_event(dish, "starts", what);
    if (fut_sleep(lunch_ms(minutes)) == ECANCELED) {
        lunch_event(dish, "cancelled", "by the deadline");
        return NULL;
    }
    lunch_event(dish, "done", NULL);
    return (void *)dish;
}

static void *cut_avocado(void *arg)   /* hand work: a pool job */
{
    (void)arg;
    lunch_event("avocado", "starts", "2 min, on the pool");
    lunch_block(2);
    lunch_event("avocado", "done", NULL);
    return NULL;
}

static void *make_lunch(void *arg)
{
    fut_pool_t *pool = arg;
    fut_group_t *g = fut_group_new();
    if (!g)
        return fut_raise(errno);
    future_t *f[3] = {
        fut_group_spawn(g, cook, "pasta"),
        fut_group_spawn(g, cook, "meatloaf"),
        fut_group_submit(g, pool, cut_avocado, NULL),
    };
    fut_sleep(lunch_ms(1));
    int rc = fut_group_wait(g, 0);     /* only looks */
    printf("[%5.1f min] -- fut_group_wait(g, 0): %s (nothing cancelled)\n", lunch_now(),
           strerror(rc));
    rc = fut_group_wait(g, lunch_ms(3));   /* 4 min from the start */
    printf("[%5.1f min] -- fut_group_wait(g, 3 min): %s\n", lunch_now(), strerror(rc));
    printf("fut_group_wait again: %s (final)\n", strerror(fut_group_wait(g, FUT_FOREVER)));
    printf("fut_group_spawn now: %s\n",
           fut_group_spawn(g, cook, "meatloaf") ? "added?!" : strerror(errno));
    const char *names[3] = {"pasta", "meatloaf", "avocado"};
    static const char *states[] = {"pending", "running", "done", "failed", "cancelled"};
    for (int i = 0; i < 3; i++) {
        if (f[i])
            printf("  %-8s %s\n", names[i], states[future_state(f[i])]);
        future_release(f[i]);
    }
    fut_group_free(g);
    return rc ? fut_raise(rc) : NULL;
}

int main(void)
{
    fut_pool_t *pool = fut_pool_new(&(fut_pool_opts){.threads = 1, .name = "helper"});
    if (!pool) {
        perror("fut_pool_new");
        return 1;
    }
    lunch_begin("a group with a 4 min deadline");
    int rc = fut_run(make_lunch, pool, NULL);
    printf("Lunch after %.0f min: %s.\n", lunch_now(),
           rc == ETIMEDOUT ? "without the pasta" : strerror(rc));
    fut_pool_free(pool);
    return rc == ETIMEDOUT ? 0 : 1;
}
