/* SPDX-License-Identifier: MIT */
/*
 * shield.c - protecting shared work and cleanup from cancellation
 *
 * asyncio -> libfutures
 *
 *     await asyncio.shield(roast)              future_get(future_shield(roast), &v)
 *       # cancelling the waiter does not       cancelling the waiter (or its timeout)
 *       # cancel the roast                     cancels the shield, not the roast
 *     try: ...                                 if (fut_sleep(...) == ECANCELED) {
 *     except CancelledError:                       bool was = fut_cancel_shield(true);
 *         await drain_the_pot()  # must wait       fut_sleep(...);  // not interrupted
 *         raise                                    fut_cancel_shield(was); }
 *                                              (Trio: with CancelScope(shield=True))
 *
 * The roast (6 min in the oven) is shared by two guests.  Alice waits for
 * it through future_shield with a 2-minute patience (future_wait_for): at
 * 2 minutes her wait times out and cancels her shield, but the roast goes
 * on, and Bob, who waits on the roast itself, gets it at 6 minutes.
 * Meanwhile the pasta is cancelled at 3 minutes; cancellation stays
 * delivered at every later wait, so to drain the pot, which takes a minute
 * of waiting, its cleanup turns the shield on: that wait runs to its end.
 *
 *     make examples && build/examples/shield
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>

static void *roast(void *arg)
{
    (void)arg;
    lunch_event("roast", "starts", "6 min in the oven");
    if (fut_sleep(lunch_ms(6)) != 0) {
        lunch_event("roast", "cancelled", "(it should not be!)");
        return NULL;
    }
    lunch_event("roast", "done", NULL);
    return "the roast";
}

static void *alice(void *arg)          /* impatient: 2 minutes */
{
    future_t *shielded = future_shield(arg);
    if (!shielded)
        return fut_raise(errno);
    void *v;
    int rc = future_wait_for(shielded, lunch_ms(2), &v);
    printf("[%5.1f min] -- alice gives up: %s; the roast goes on\n", lunch_now(),
           strerror(rc));
    future_release(shielded);
    return NULL;
}

static void *bob(void *arg)
{
    void *v = NULL;
    int rc = future_get(arg, &v);
    printf("[%5.1f min] -- bob gets %s\n", lunch_now(), rc ? strerror(rc) : (char *)v);
    return NULL;
}

static void *pasta(void *arg)
{
    (void)arg;
    lunch_event("pasta", "starts", "10 min on the stove");
    if (fut_sleep(lunch_ms(10)) == ECANCELED) {
        lunch_event("pasta", "cancelled", "draining the pot first");
        printf("[%5.1f min] -- a wait now, unshielded: %s\n", lunch_now(),
               strerror(fut_sleep(lunch_ms(1))));
        bool was = fut_cancel_shield(true);
        int rc = fut_sleep(lunch_ms(1));          /* cleanup that must wait */
        fut_cancel_shield(was);
        printf("[%5.1f min] -- pot drained (shielded wait: %s)\n", lunch_now(),
               rc ? strerror(rc) : "0");
        return NULL;
    }
    lunch_event("pasta", "done", NULL);
    return NULL;
}

static void *dinner(void *arg)
{
    (void)arg;
    future_t *r = fut_spawn(roast, NULL);
    if (!r)
        return fut_raise(errno);
    future_t *a = fut_spawn(alice, r), *b = fut_spawn(bob, r), *p = fut_spawn(pasta, NULL);
    fut_sleep(lunch_ms(3));
    future_cancel(p);
    future_t *all[4] = {r, a, b, p};
    future_gather(all, 4, NULL, FUT_FOREVER);
    for (int i = 0; i < 4; i++)
        future_release(all[i]);
    return NULL;
}

int main(void)
{
    lunch_begin("a shared roast and a pot to drain");
    int rc = fut_run(dinner, NULL, NULL);
    lunch_end();
    return rc;
}
