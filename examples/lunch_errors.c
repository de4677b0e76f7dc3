/* SPDX-License-Identifier: MIT */
/*
 * lunch_errors.c - who releases what, and what happens when dishes fail.
 * Chapter 7 of doc/tutorial.md.  One cook (a pool of 1 thread): the pasta
 * succeeds with a value, the meatloaf burns (fut_raise), the avocado is
 * cancelled while still queued, and the pasta cannot be cancelled while it
 * cooks (EBUSY).  Then a coroutine of the loop is cancelled in fut_sleep.
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>
#include <stdarg.h>
#include <string.h>

static future_t *on_stove;                    /* a promise: the pasta is cooking */

static const char *code(int rc)               /* the error code's name */
{
    switch (rc) {
    case 0: return "0";
    case EIO: return "EIO";
    case EBUSY: return "EBUSY";
    case ECANCELED: return "ECANCELED";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return strerror(rc);
    }
}

static const char *state_name(enum future_state s)
{
    static const char *names[] = {"FUTURE_PENDING", "FUTURE_RUNNING", "FUTURE_DONE",
                                  "FUTURE_FAILED", "FUTURE_CANCELLED"};
    return names[s];
}

static void *cook_pasta(void *arg)
{
    (void)arg;
    lunch_event("pasta", "starts", "2 min on the stove");
    future_resolve(on_stove, NULL);           /* tell the waiter: cooking now */
    lunch_block(2);
    lunch_event("pasta", "done", NULL);
    return "pasta al dente";                  /* the value: ours, never freed by the library */
}

static void *cook_meatloaf(void *arg)
{
    (void)arg;
    lunch_event("meatloaf", "starts", "1 min in the microwave");
    lunch_block(1);
    lunch_note("meatloaf burnt: return fut_raise(EIO)");
    return fut_raise(EIO);                    /* the future ends FAILED with EIO */
}

static void *cut_avocado(void *arg)
{
    (void)arg;
    lunch_event("avocado", "starts", "2 min of peeling and slicing");
    lunch_block(2);
    lunch_event("avocado", "done", NULL);
    return NULL;
}

/* lunch_note with printf formatting. */
static void say(const char *fmt, ...)
{
    char text[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    lunch_note(text);
}

static int pool_part(void)
{
    fut_pool_t *cook = fut_pool_new(&(fut_pool_opts){.threads = 1, .name = "cook"});
    on_stove = future_new();
    future_t *dishes[3] = {NULL, NULL, NULL};
    int rc = ENOMEM;
    if (!cook || !on_stove)
        goto out;
    dishes[0] = fut_pool_submit(cook, cook_pasta, NULL);
    dishes[1] = fut_pool_submit(cook, cook_meatloaf, NULL);
    dishes[2] = fut_pool_submit(cook, cut_avocado, NULL);
    if (!dishes[0] || !dishes[1] || !dishes[2])
        goto out;
    future_wait(on_stove, FUT_FOREVER);       /* the pasta is on the stove */
    say("future_cancel(avocado) = %s: it had not started", code(future_cancel(dishes[2])));
    say("future_cancel(pasta) = %s: it is cooking", code(future_cancel(dishes[0])));

    void *values[3];
    rc = future_gather(dishes, 3, values, FUT_FOREVER);   /* waits for all three */
    say("future_gather = %s: the first failure by index", code(rc));
    static const char *names[3] = {"pasta", "meatloaf", "avocado"};
    for (int i = 0; i < 3; i++) {
        const char *v = values[i];            /* NULL for a dish that did not succeed */
        int got = future_get(dishes[i], NULL); /* complete: returns at once */
        printf("    %-8s %-16s future_get = %-9s values[%d] = %s%s%s\n", names[i],
               state_name(future_state(dishes[i])), code(got), i, v ? "\"" : "",
               v ? v : "NULL", v ? "\"" : "");
    }
    rc = 0;
out:
    for (int i = 0; i < 3; i++)
        future_release(dishes[i]);            /* one release per submit; NULL is fine */
    future_release(on_stove);                 /* and one for future_new */
    fut_pool_free(cook);                      /* NULL is fine too */
    return rc;
}

static void *simmer_soup(void *arg)           /* a coroutine */
{
    (void)arg;
    lunch_event("soup", "starts", "10 min of simmering");
    int rc = fut_sleep(lunch_ms(10));
    say("soup: fut_sleep = %s, taken off the stove", code(rc));
    return rc ? fut_raise(rc) : NULL;
}

static void *make_soup(void *arg)
{
    (void)arg;
    future_t *soup = fut_spawn(simmer_soup, NULL);
    if (!soup)
        return fut_raise(errno);
    future_set_name(soup, "soup");
    say("future_wait(soup, 2 min) = %s", code(future_wait(soup, lunch_ms(2))));
    say("future_cancel(soup) = %s: it is suspended in fut_sleep", code(future_cancel(soup)));
    int rc = future_get(soup, NULL);          /* waits until it has run to its end */
    say("future_get(soup) = %s, %s", code(rc), state_name(future_state(soup)));
    future_release(soup);
    return NULL;
}

int main(void)
{
    lunch_begin("one cook, then the loop");
    int rc = pool_part();
    if (rc == 0)
        rc = fut_run(make_soup, NULL, NULL);
    lunch_end();
    if (rc)
        fprintf(stderr, "lunch_errors: %s\n", strerror(rc));
    return rc ? 1 : 0;
}
