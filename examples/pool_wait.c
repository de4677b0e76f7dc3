/* SPDX-License-Identifier: MIT */
/*
 * pool_wait.c - a job that waits on its own pool.  Chapter 6 of
 * doc/tutorial.md.  One cook (a pool of 1 thread) makes a lasagne, which
 * needs a sauce: the lasagne's job submits the sauce to the same pool and
 * waits for it.  The only thread is busy with the lasagne, so a pool that
 * only slept here would hang for ever; this one makes the sauce right
 * there, inside the wait.
 *
 *     pool_wait              the lasagne waits for its sauce: 5 min
 *     pool_wait deadlock     the sauce also waits for the lasagne: a wait
 *                            that could never end returns EDEADLK at once
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>
#include <string.h>

static fut_pool_t *cooks;                     /* one cook */
static bool sauce_waits_for_lasagne;          /* "deadlock" on the command line */

static void *make_sauce(void *arg)
{
    future_t *lasagne = arg;                  /* borrowed: the lasagne waits for us */
    lunch_event("sauce", "starts", "3 min of stirring");
    lunch_block(3);
    if (sauce_waits_for_lasagne) {
        /* The lasagne is lower on this thread's stack, waiting for us:
         * this wait could never end, so it returns EDEADLK at once. */
        int rc = future_wait(lasagne, FUT_FOREVER);
        char text[96];
        snprintf(text, sizeof text, "sauce waits for the lasagne: %s (%s)",
                 rc == EDEADLK ? "EDEADLK" : "?", strerror(rc));
        lunch_note(text);
        return fut_raise(rc);                 /* the sauce fails with that code */
    }
    lunch_event("sauce", "done", NULL);
    return NULL;
}

static void *make_lasagne(void *arg)
{
    (void)arg;
    lunch_event("lasagne", "starts", "needs a sauce, then 2 min in the oven");
    future_t *sauce = fut_pool_submit(cooks, make_sauce, fut_current());
    if (!sauce)
        return fut_raise(errno);
    future_set_name(sauce, "sauce");
    int rc = future_get(sauce, NULL);         /* the cook makes the sauce here */
    future_release(sauce);
    if (rc) {
        char text[96];
        snprintf(text, sizeof text, "lasagne: no sauce (%s)", strerror(rc));
        lunch_note(text);
        return fut_raise(rc);
    }
    lunch_block(2);
    lunch_event("lasagne", "done", NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    sauce_waits_for_lasagne = argc > 1 && strcmp(argv[1], "deadlock") == 0;
    if (argc > 2 || (argc == 2 && !sauce_waits_for_lasagne)) {
        fprintf(stderr, "usage: %s [deadlock]\n", argv[0]);
        return 2;
    }
    cooks = fut_pool_new(&(fut_pool_opts){.threads = 1, .name = "cook"});
    if (!cooks) {
        perror("fut_pool_new");
        return 1;
    }
    lunch_begin(sauce_waits_for_lasagne ? "one cook, a sauce that waits for the lasagne"
                                        : "one cook, a lasagne that waits for its sauce");
    lunch_show_cooks();
    future_t *lasagne = fut_pool_submit(cooks, make_lasagne, NULL);
    if (!lasagne) {
        perror("fut_pool_submit");
        return 1;
    }
    future_set_name(lasagne, "lasagne");
    int rc = future_get(lasagne, NULL);
    char text[96];
    snprintf(text, sizeof text, "future_get(lasagne) = %s", rc ? strerror(rc) : "0");
    lunch_note(text);
    lunch_end();
    future_release(lasagne);
    fut_pool_free(cooks);
    return rc == 0 || (sauce_waits_for_lasagne && rc == EDEADLK) ? 0 : 1;
}
