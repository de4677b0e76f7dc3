/* SPDX-License-Identifier: MIT */
/*
 * lunch_coop.c - one cook with an organiser, the cooperative loop: 10 min.
 * Chapter 2 of doc/tutorial.md; examples/py/lunch_coop.py is the same
 * program with asyncio.
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>

/* tutorial:begin coop-dishes */
static void *cook_pasta(void *arg)            /* async def cook_pasta():    */
{
    (void)arg;
    lunch_event("pasta", "starts", "10 min on the stove");
    fut_sleep(lunch_ms(10));                  /*   await asyncio.sleep(10)  */
    lunch_event("pasta", "done", NULL);
    return NULL;
}

static void *cook_meatloaf(void *arg)
{
    (void)arg;
    lunch_event("meatloaf", "starts", "3 min in the microwave");
    fut_sleep(lunch_ms(3));                   /*   await asyncio.sleep(3)   */
    lunch_event("meatloaf", "done", NULL);
    return NULL;
}

static void *cut_avocado(void *arg)
{
    (void)arg;
    lunch_event("avocado", "starts", "2 min of peeling and slicing");
    lunch_block(2);                           /*   time.sleep(2): hands busy */
    lunch_event("avocado", "done", NULL);
    return NULL;
}
/* tutorial:end coop-dishes */

/* tutorial:begin coop-spawn */
/* asyncio.create_task(dish(), name=name): a task the loop will run later. */
static future_t *spawn(fut_fn dish, const char *name)
{
    future_t *f = fut_spawn(dish, NULL);
    if (f)
        future_set_name(f, name);             /* shown in FUT_TRACE timelines */
    return f;
}
/* tutorial:end coop-spawn */

/* tutorial:begin coop-gather */
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
/* tutorial:end coop-gather */

/* tutorial:begin coop-run */
int main(void)
{
    lunch_begin("one cook, the cooperative loop");
    int rc = fut_run(make_lunch, NULL, NULL); /* asyncio.run(make_lunch()) */
    lunch_end();
    return rc == 0 ? 0 : 1;
}
/* tutorial:end coop-run */
