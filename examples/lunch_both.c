/* SPDX-License-Identifier: MIT */
/*
 * lunch_both.c - both at once: the loop cooks, a pool thread peels.
 * Chapter 8 of doc/tutorial.md.  lunch_coop.c, except that the avocado
 * coroutine hands the hand work to a pool thread and waits for it with
 * future_get, which suspends only that coroutine (asyncio.to_thread).
 * The loop's thread is never held: 10 min, and FUT_DEBUG_SLOW_MS=100
 * reports nothing.
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>

static fut_pool_t *helpers;                   /* the cooks who peel */

static void *cook_pasta(void *arg)
{
    (void)arg;
    lunch_event("pasta", "starts", "10 min on the stove");
    int rc = fut_sleep(lunch_ms(10));
    lunch_event("pasta", "done", NULL);
    return rc ? fut_raise(rc) : NULL;
}

static void *cook_meatloaf(void *arg)
{
    (void)arg;
    lunch_event("meatloaf", "starts", "3 min in the microwave");
    int rc = fut_sleep(lunch_ms(3));
    lunch_event("meatloaf", "done", NULL);
    return rc ? fut_raise(rc) : NULL;
}

/* A job for a pool thread: the hand work itself. */
static void *peel(void *arg)
{
    (void)arg;
    lunch_block(2);                           /* blocks the helper, not the loop */
    return NULL;
}

static void *cut_avocado(void *arg)
{
    (void)arg;
    lunch_event("avocado", "starts", "2 min of peeling, by a helper");
    future_t *job = fut_pool_submit(helpers, peel, NULL);   /* to_thread(peel) */
    if (!job)
        return fut_raise(errno);
    future_set_name(job, "peel");
    int rc = future_get(job, NULL);           /* suspends this coroutine only */
    future_release(job);                      /* the submit's reference: ours */
    lunch_event("avocado", "done", NULL);
    return rc ? fut_raise(rc) : NULL;
}

static future_t *spawn(fut_fn dish, const char *name)
{
    future_t *f = fut_spawn(dish, NULL);
    if (f)
        future_set_name(f, name);
    return f;
}

static void *make_lunch(void *arg)
{
    (void)arg;
    future_set_name(fut_current(), "make_lunch");
    future_t *dishes[3] = {spawn(cook_pasta, "pasta"), spawn(cook_meatloaf, "meatloaf"),
                           spawn(cut_avocado, "avocado")};
    int rc = dishes[0] && dishes[1] && dishes[2]
                 ? future_gather(dishes, 3, NULL, FUT_FOREVER)
                 : ENOMEM;
    for (int i = 0; i < 3; i++)
        future_release(dishes[i]);
    return rc ? fut_raise(rc) : NULL;
}

int main(void)
{
    helpers = fut_pool_new(&(fut_pool_opts){.threads = 1, .name = "helper"});
    if (!helpers) {
        perror("fut_pool_new");
        return 1;
    }
    lunch_begin("the loop cooks, a helper thread peels");
    int rc = fut_run(make_lunch, NULL, NULL);
    lunch_end();
    fut_pool_free(helpers);
    return rc == 0 ? 0 : 1;
}
