/* SPDX-License-Identifier: MIT */
/*
 * lunch_pool.c - several cooks, the thread pool: each dish is a job.
 * Chapter 4 of doc/tutorial.md.
 *
 *     lunch_pool 1    one cook:                              15 min
 *     lunch_pool 2    pasta on one, meatloaf then avocado:   10 min
 *     lunch_pool 3    a cook per dish (the default):         10 min
 */
#include "lunch.h"

#include <errno.h>
#include <futures.h>

/* tutorial:begin pool-dishes */
static void *cook_pasta(void *arg)            /* a plain function: a job    */
{
    (void)arg;
    lunch_event("pasta", "starts", "10 min on the stove");
    lunch_block(10);                          /* blocks this cook only      */
    lunch_event("pasta", "done", NULL);
    return NULL;
}
/* tutorial:end pool-dishes */

static void *cook_meatloaf(void *arg)
{
    (void)arg;
    lunch_event("meatloaf", "starts", "3 min in the microwave");
    lunch_block(3);
    lunch_event("meatloaf", "done", NULL);
    return NULL;
}

static void *cut_avocado(void *arg)
{
    (void)arg;
    lunch_event("avocado", "starts", "2 min of peeling and slicing");
    lunch_block(2);
    lunch_event("avocado", "done", NULL);
    return NULL;
}

/* tutorial:begin pool-submit */
static future_t *submit(fut_pool_t *cooks, fut_fn dish, const char *name)
{
    future_t *f = fut_pool_submit(cooks, dish, NULL);   /* pool.submit(dish) */
    if (f)
        future_set_name(f, name);
    return f;
}
/* tutorial:end pool-submit */

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 3;
    if (n < 1 || n > 64) {
        fprintf(stderr, "usage: %s [threads 1..64]\n", argv[0]);
        return 2;
    }
    /* tutorial:begin pool-main */
    fut_pool_t *cooks = fut_pool_new(&(fut_pool_opts){.threads = n, .name = "cook"});
    if (!cooks) {
        perror("fut_pool_new");
        return 1;
    }
    char how[64];
    snprintf(how, sizeof how, "a pool of %zu cook%s", n, n > 1 ? "s" : "");
    lunch_begin(how);
    lunch_show_cooks();                       /* print which thread cooks   */
    future_t *dishes[3] = {submit(cooks, cook_pasta, "pasta"),
                           submit(cooks, cook_meatloaf, "meatloaf"),
                           submit(cooks, cut_avocado, "avocado")};
    int rc = dishes[0] && dishes[1] && dishes[2]
                 ? future_gather(dishes, 3, NULL, FUT_FOREVER)  /* wait(fs) */
                 : ENOMEM;
    lunch_end();
    for (int i = 0; i < 3; i++)
        future_release(dishes[i]);
    fut_pool_free(cooks);                     /* joins the threads          */
    /* tutorial:end pool-main */
    return rc == 0 ? 0 : 1;
}
