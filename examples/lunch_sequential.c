/* SPDX-License-Identifier: MIT */
/*
 * lunch_sequential.c - one thing after another, no library: 15 min.
 * Chapter 1 of doc/tutorial.md.  It makes no libfutures call, so
 * lunch_trace_by_hand() records its steps for FUT_TRACE (examples/lunch.h).
 */
#include "lunch.h"

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
