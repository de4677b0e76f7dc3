/* SPDX-License-Identifier: MIT */
/*
 * lunch_blocking_pasta.c - the cook stares at the pot: a blocking call
 * inside a coroutine
 *
 * lunch_coop.c with one line changed: the pasta waits with a plain
 * blocking call (nanosleep, through lunch_block) instead of fut_sleep().
 * The library never hears of that wait, so the loop cannot switch away
 * from the pasta: for 10 minutes nothing else starts.  Only what comes
 * after the stare still overlaps (the meatloaf's 3 minutes with the
 * avocado's 2): lunch after 13 minutes.
 *
 * In asyncio this is `time.sleep(10)` inside `async def cook_pasta()`.
 * As asyncio's debug mode does, the loop names the culprit when asked:
 *
 *     $ FUT_DEBUG_SLOW_MS=100 build/examples/lunch_blocking_pasta
 *     ...
 *     libfutures: coroutine pasta held the loop for 1000.4 ms without ...
 *     libfutures: coroutine avocado held the loop for 200.2 ms without ...
 *
 * (the avocado too: its blocking call is deliberate, the pasta's is not).
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>

/* tutorial:begin blocking-pasta */
static void *cook_pasta(void *arg)            /* async def cook_pasta():    */
{
    (void)arg;
    lunch_event("pasta", "starts", "10 min on the stove");
    lunch_block(10);                          /*   time.sleep(10): stares!  */
    lunch_event("pasta", "done", NULL);
    return NULL;
}
/* tutorial:end blocking-pasta */

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
    lunch_begin("the cooperative loop, staring at the pasta");
    int rc = fut_run(make_lunch, NULL, NULL); /* asyncio.run(make_lunch()) */
    lunch_end();
    return rc == 0 ? 0 : 1;
}
