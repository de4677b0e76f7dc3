/* SPDX-License-Identifier: MIT */
/*
 * taskgroup.c - a task group: the first failure cancels the rest
 *
 * asyncio -> libfutures
 *
 *     async with asyncio.TaskGroup() as tg:   fut_group_t *g = fut_group_new();
 *         tg.create_task(cook_pasta())         fut_group_spawn(g, cook_pasta, NULL);
 *         tg.create_task(make_sauce())         fut_group_spawn(g, make_sauce, NULL);
 *         loop.run_in_executor(pool, cut)      fut_group_submit(g, pool, cut_avocado, NULL);
 *     # leaving the block waits for all        int rc = fut_group_wait(g, FUT_FOREVER);
 *     except* OSError as e: ...                rc == EIO: the first failure's code
 *                                              fut_group_free(g);
 *
 * Lunch as one group: the pasta (10 min on the stove), the meatloaf (3 min
 * in the microwave) and a sauce are coroutines of the loop; the avocado is
 * cut on a pool thread.  After 5 minutes the sauce burns: its coroutine
 * fails with fut_raise(EIO), and the group cancels every member still
 * running.  The pasta is woken with ECANCELED from its fut_sleep and taken
 * off the stove; what had finished stays finished.  fut_group_wait
 * returns EIO once every member has ended.
 *
 *     make examples && build/examples/taskgroup
 *     FUT_TRACE=group.json build/examples/taskgroup   # then tools/trace2svg
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>

static void *cook_pasta(void *arg)
{
    (void)arg;
    lunch_event("pasta", "starts", "10 min on the stove");
    if (fut_sleep(lunch_ms(10)) == ECANCELED) {
        lunch_event("pasta", "cancelled", "taken off the stove");
        return NULL;                   /* its future ends CANCELLED */
    }
    lunch_event("pasta", "done", NULL);
    return NULL;
}

static void *cook_meatloaf(void *arg)
{
    (void)arg;
    lunch_event("meatloaf", "starts", "3 min in the microwave");
    if (fut_sleep(lunch_ms(3)) == ECANCELED) {
        lunch_event("meatloaf", "cancelled", NULL);
        return NULL;
    }
    lunch_event("meatloaf", "done", NULL);
    return NULL;
}

static void *make_sauce(void *arg)
{
    (void)arg;
    lunch_event("sauce", "starts", "5 min on a high flame");
    if (fut_sleep(lunch_ms(5)) == ECANCELED)
        return NULL;
    lunch_event("sauce", "burns", "the first failure: EIO");
    return fut_raise(EIO);             /* raise OSError */
}

static void *cut_avocado(void *arg)   /* a pool job: the helper's hands */
{
    (void)arg;
    lunch_event("avocado", "starts", "2 min of cutting, on the pool");
    lunch_block(2);
    lunch_event("avocado", "done", NULL);
    return NULL;
}

static void *make_lunch(void *arg)
{
    fut_pool_t *pool = arg;
    future_set_name(fut_current(), "make_lunch");
    fut_group_t *g = fut_group_new();
    if (!g)
        return fut_raise(errno);
    const char *names[4] = {"pasta", "meatloaf", "sauce", "avocado"};
    future_t *f[4] = {
        fut_group_spawn(g, cook_pasta, NULL),
        fut_group_spawn(g, cook_meatloaf, NULL),
        fut_group_spawn(g, make_sauce, NULL),
        fut_group_submit(g, pool, cut_avocado, NULL),
    };
    for (int i = 0; i < 4; i++)
        if (f[i])
            future_set_name(f[i], names[i]);   /* for FUT_TRACE */
    int rc = fut_group_wait(g, FUT_FOREVER);   /* every member has ended */
    printf("group: %s\n", rc ? strerror(rc) : "all succeeded");
    static const char *states[] = {"pending", "running", "done", "failed", "cancelled"};
    for (int i = 0; i < 4; i++) {
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
    lunch_begin("a task group; the sauce burns after 5 min");
    int rc = fut_run(make_lunch, pool, NULL);
    printf("Lunch abandoned after %.0f min: %s.\n", lunch_now(), strerror(rc));
    fut_pool_free(pool);
    return rc == EIO ? 0 : 1;
}
