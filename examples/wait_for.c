/* SPDX-License-Identifier: MIT */
/*
 * wait_for.c - a timeout that cancels what it waited for
 *
 * asyncio -> libfutures
 *
 *     try:
 *         v = await asyncio.wait_for(t, 4)      rc = future_wait_for(t, lunch_ms(4), &v);
 *     except TimeoutError: ...                  rc == ETIMEDOUT: t was cancelled and has
 *                                               ended; v is NULL
 *     await loop.run_in_executor(pool, f)       a pool job that is already running cannot
 *       (wrapped in wait_for)                   be stopped: wait_for waits for its end,
 *                                               then says ETIMEDOUT
 *
 * The pasta needs 10 minutes but we wait 4: future_wait_for cancels it (its
 * coroutine is woken with ECANCELED and takes the pot off the stove) and
 * returns ETIMEDOUT.  The meatloaf (3 min) comes in time: 0 and its value.
 * The avocado is cut by a helper thread, 2 minutes of hand work; we allow
 * it 1 minute: it cannot be interrupted, so wait_for waits for it to finish
 * and still reports the timeout.
 *
 *     make examples && build/examples/wait_for
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>

static void *cook(void *arg)
{
    const char *dish = arg;
    double minutes = dish[0] == 'p' ? 10 : 3;
    lunch_event(dish, "starts", NULL);
    if (fut_sleep(lunch_ms(minutes)) == ECANCELED) {
        lunch_event(dish, "cancelled", "off the stove");
        return NULL;
    }
    lunch_event(dish, "done", NULL);
    return (void *)dish;
}

static void *cut_avocado(void *arg)
{
    (void)arg;
    lunch_event("avocado", "starts", "on the pool");
    lunch_block(2);
    lunch_event("avocado", "done", NULL);
    return "avocado";
}

static void report(const char *what, int rc, void *v)
{
    printf("[%5.1f min] -- future_wait_for(%s): %s, value %s\n", lunch_now(), what,
           rc ? strerror(rc) : "0", v ? (const char *)v : "NULL");
}

static void *make_lunch(void *arg)
{
    fut_pool_t *pool = arg;
    void *v;
    future_t *pasta = fut_spawn(cook, "pasta");
    int rc = future_wait_for(pasta, lunch_ms(4), &v);
    report("pasta, 4 min", rc, v);
    future_release(pasta);

    future_t *meatloaf = fut_spawn(cook, "meatloaf");
    rc = future_wait_for(meatloaf, lunch_ms(5), &v);
    report("meatloaf, 5 min", rc, v);
    future_release(meatloaf);

    future_t *avocado = fut_pool_submit(pool, cut_avocado, NULL);
    rc = future_wait_for(avocado, lunch_ms(1), &v);
    report("avocado, 1 min", rc, v);
    printf("avocado's own outcome: %s\n",
           future_state(avocado) == FUTURE_DONE ? "done (it could not be stopped)" : "?");
    future_release(avocado);
    return NULL;
}

int main(void)
{
    fut_pool_t *pool = fut_pool_new(&(fut_pool_opts){.threads = 1, .name = "helper"});
    if (!pool) {
        perror("fut_pool_new");
        return 1;
    }
    lunch_begin("waiting with a timeout that cancels");
    int rc = fut_run(make_lunch, pool, NULL);
    lunch_end();
    fut_pool_free(pool);
    return rc;
}
