/* SPDX-License-Identifier: MIT */
/*
 * lunch_all_blocking.c - every wait a blocking call: coroutines that never
 * step aside run one after another, as without a library: 15 min.
 * Chapter 3 of doc/tutorial.md.
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>

/* tutorial:begin all-blocking */
static void *cook_pasta(void *arg)            /* async def cook_pasta():    */
{
    (void)arg;
    lunch_event("pasta", "starts", "10 min on the stove");
    lunch_block(10);                          /*   time.sleep(10)           */
    lunch_event("pasta", "done", NULL);
    return NULL;
}

static void *cook_meatloaf(void *arg)
{
    (void)arg;
    lunch_event("meatloaf", "starts", "3 min in the microwave");
    lunch_block(3);                           /*   time.sleep(3)            */
    lunch_event("meatloaf", "done", NULL);
    return NULL;
}
/* tutorial:end all-blocking */

static void *cut_avocado(void *arg)
{
    (void)arg;
    lunch_event("avocado", "starts", "2 min of peeling and slicing");
    lunch_block(2);                           /*   time.sleep(2): hands busy */
    lunch_event("avocado", "done", NULL);
    return NULL;
}

/* asyncio.create_task(dish(), name=name): a task the loop will run later. */
static future_t *spawn(fut_fn dish, const char *name)
{
    future_t *f = fut_spawn(dish, NULL);
    if (f)
        future_set_name(f, name);             /* shown in FUT_TRACE timelines */
    return f;
}

static void *make_lunch(void *arg)            /* async def make_lunch():    */
{
    (void)arg;
    future_set_name(fut_current(), "make_lunch");  /* current_task() */
    future_t *dishes[3] = {spawn(cook_pasta, "pasta"),
                           spawn(cook_meatloaf, "meatloaf"),
                           spawn(cut_avocado, "avocado")};
    if (future_state(dishes[0]) == FUTURE_PENDING)
        lunch_note("3 dishes spawned, none started: they run when we wait");
    int rc = dishes[0] && dishes[1] && dishes[2]
                 ? future_gather(dishes, 3, NULL, FUT_FOREVER) /* await gather */
                 : ENOMEM;
    for (int i = 0; i < 3; i++)
        future_release(dishes[i]);            /* NULL is fine */
    return rc ? fut_raise(rc) : NULL;
}

int main(void)
{
    lunch_begin("the cooperative loop, every wait blocking");
    int rc = fut_run(make_lunch, NULL, NULL); /* asyncio.run(make_lunch()) */
    lunch_end();
    return rc == 0 ? 0 : 1;
}
