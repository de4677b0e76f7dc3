/* SPDX-License-Identifier: MIT */
/*
 * lunch_sequential.c - one cook, one thing after another (no library)
 *
 * The baseline of the lunch story (doc/tutorial.md, step 1): the pasta
 * takes 10 minutes on the stove, the meatloaf 3 in the microwave, the
 * avocado 2 of peeling.  A synchronous program does them one after
 * another and stands by each pot while it cooks: 10 + 3 + 2 = 15 minutes,
 * although the cook's hands were busy for only 2 of them.
 *
 *     make examples && build/examples/lunch_sequential
 *     LUNCH_MINUTE_MS=1000 build/examples/lunch_sequential   # 1 s minutes
 *
 * This file makes no libfutures call, so FUT_TRACE cannot see it;
 * lunch_trace_by_hand() (examples/lunch.h) records its steps instead and
 * writes them in the same trace format when FUT_TRACE is set.
 */
#include "lunch.h"

/* tutorial:begin seq-dishes */
static void cook_pasta(void)             /* def cook_pasta():             */
{
    lunch_event("pasta", "starts", "10 min on the stove");
    lunch_block(10);                     /*     time.sleep(10)            */
    lunch_event("pasta", "done", NULL);
}

static void cook_meatloaf(void)
{
    lunch_event("meatloaf", "starts", "3 min in the microwave");
    lunch_block(3);                      /* standing by the microwave     */
    lunch_event("meatloaf", "done", NULL);
}

static void cut_avocado(void)
{
    lunch_event("avocado", "starts", "2 min of peeling and slicing");
    lunch_block(2);                      /* the cook's own hands          */
    lunch_event("avocado", "done", NULL);
}

int main(void)
{
    lunch_trace_by_hand();               /* FUT_TRACE without the library */
    lunch_begin("one thing after another, no library");
    cook_pasta();
    cook_meatloaf();
    cut_avocado();
    lunch_end();                         /* Eating after 15 min ...       */
    return 0;
}
/* tutorial:end seq-dishes */
