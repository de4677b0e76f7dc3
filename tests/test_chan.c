/* SPDX-License-Identifier: MIT */
/*
 * test_chan.c - channels (include/futures.h, section 6): one case per
 * sentence of the contract, and stress cases that count every value
 *
 * Which calls are waiting where is observed through a hidden hook of the
 * library, fut__chan_waiting(c, receivers), so the ordering cases are
 * deterministic: a case starts the next waiter only once the previous one
 * is queued.  No case asserts a duration except as a lower bound (a
 * timeout never ends early).
 *
 * The stress cases give every value a unique number and check, at the
 * end, that each value a send reported as sent (0) was received exactly
 * once, and that no other value was received at all: that is what
 * "no value lost or duplicated" under cancellation and timeouts means.
 */
#include "testutil.h"

/* Hidden test hooks of the library (linked statically). */
size_t fut__chan_waiting(const fut_chan_t *c, bool receivers);
void fut__test_fail_alloc(long n);
extern atomic_long fut__alloc_fail_in;

#define V(x) ((void *)(uintptr_t)(x))
#define U(p) ((uintptr_t)(p))

/* Waits (polling, at most 20 s) until exactly n sends (receivers ==
 * false) or receives are waiting in c. */
static void await_waiting(fut_chan_t *c, bool receivers, size_t n)
{
    for (int i = 0; i < 20000; i++) {
        if (fut__chan_waiting(c, receivers) == n)
            return;
        tu_sleep_ms(1);
    }
    ck_abort_msg("expected %zu waiting %s, have %zu", n, receivers ? "receivers" : "senders",
                 fut__chan_waiting(c, receivers));
}

/* ---------------------------------------------------------------------
 * Helpers: a call in its own thread, a loop in its own thread
 * ------------------------------------------------------------------- */

struct call {
    fut_chan_t *c;
    bool send;
    void *value;              /* send: in; recv: out */
    long timeout_ms;
    int rc;
    atomic_int returned;      /* set once the call has returned */
    pthread_t t;
};

static void *call_main(void *arg)
{
    struct call *k = arg;
    if (k->send)
        k->rc = fut_chan_send(k->c, k->value, k->timeout_ms);
    else
        k->rc = fut_chan_recv(k->c, &k->value, k->timeout_ms);
    atomic_store(&k->returned, 1);
    return NULL;
}

static void call_start(struct call *k, fut_chan_t *c, bool send, void *value, long timeout_ms)
{
    k->c = c;
    k->send = send;
    k->value = value;
    k->timeout_ms = timeout_ms;
    k->rc = -1;
    atomic_init(&k->returned, 0);
    k->t = tu_thread(call_main, k);
}

static void call_join(struct call *k)
{
    tu_join(k->t);
}

/* The same call, in a coroutine. */
static void *call_coro(void *arg)
{
    call_main(arg);
    return NULL;
}

/* A loop running in a thread: main(arg) as its main coroutine. */
struct loop_thread {
    fut_fn main;
    void *arg;
    int rc;
    void *res;
    pthread_t t;
};

static void *loop_thread_main(void *arg)
{
    struct loop_thread *lt = arg;
    lt->rc = fut_run(lt->main, lt->arg, &lt->res);
    return NULL;
}

static void loop_thread_start(struct loop_thread *lt, fut_fn main, void *arg)
{
    lt->main = main;
    lt->arg = arg;
    lt->rc = -1;
    lt->res = NULL;
    lt->t = tu_thread(loop_thread_main, lt);
}

static void loop_thread_join(struct loop_thread *lt)
{
    tu_join(lt->t);
    ck_assert_msg(lt->rc == 0, "loop ended with %d (%s)", lt->rc, strerror(lt->rc));
}

/* A main coroutine that spawns fn(args[i]) for each i, in order, and
 * gathers them. */
struct spawner {
    fut_fn fn;
    void **args;
    size_t n;
};

static void *spawn_all(void *arg)
{
    struct spawner *sp = arg;
    future_t *fs[64];
    if (sp->n > 64)
        return fut_raise(EINVAL);
    for (size_t i = 0; i < sp->n; i++) {
        fs[i] = fut_spawn(sp->fn, sp->args[i]);
        if (!fs[i])
            return fut_raise(ENOMEM);
    }
    int rc = future_gather(fs, sp->n, NULL, FUT_FOREVER);
    for (size_t i = 0; i < sp->n; i++)
        future_release(fs[i]);
    return rc ? fut_raise(rc) : NULL;
}

/* ---------------------------------------------------------------------
 * 1. Creating: capacity, bad input, allocation failures
 * ------------------------------------------------------------------- */

START_TEST(chan_bad_input_einval)
{
    void *v = V(99);
    tu_assert_rc(fut_chan_send(NULL, V(1), 0), EINVAL);
    tu_assert_rc(fut_chan_recv(NULL, &v, 0), EINVAL);
    ck_assert_ptr_null(v);                       /* *value NULL on error */
    tu_assert_rc(fut_chan_try_send(NULL, V(1)), EINVAL);
    v = V(99);
    tu_assert_rc(fut_chan_try_recv(NULL, &v), EINVAL);
    ck_assert_ptr_null(v);
    tu_assert_rc(fut_chan_close(NULL), EINVAL);
    ck_assert_uint_eq(fut_chan_len(NULL), 0);
    fut_chan_free(NULL);                          /* fine */

    fut_chan_t *c = fut_chan_new(2);
    ck_assert_ptr_nonnull(c);
    tu_assert_rc(fut_chan_send(c, V(1), -2), EINVAL);
    tu_assert_rc(fut_chan_send(c, V(1), LONG_MIN), EINVAL);
    ck_assert_uint_eq(fut_chan_len(c), 0);        /* nothing was sent */
    tu_assert_rc(fut_chan_send(c, V(1), 0), 0);
    v = V(99);
    tu_assert_rc(fut_chan_recv(c, &v, -5), EINVAL);
    ck_assert_ptr_null(v);
    ck_assert_uint_eq(fut_chan_len(c), 1);        /* nothing was taken */
    fut_chan_free(c);
}
END_TEST

START_TEST(chan_new_huge_capacity_enomem)
{
    size_t huge[] = {SIZE_MAX, SIZE_MAX / sizeof(void *), SIZE_MAX / sizeof(void *) + 1,
                     (size_t)PTRDIFF_MAX / sizeof(void *)};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++)
        tu_assert_null_errno(fut_chan_new(huge[i]), ENOMEM);
#ifndef TU_SANITIZED
    /* Representable, but 2^60 bytes: more than any address space.  (The
     * sanitizers' allocators abort on such a request instead of failing,
     * so this one runs in the plain build only.) */
    tu_assert_null_errno(fut_chan_new((size_t)1 << 57), ENOMEM);
#endif
    /* Small ones still work afterwards. */
    fut_chan_t *c = fut_chan_new(1000000);
    ck_assert_ptr_nonnull(c);
    fut_chan_free(c);
}
END_TEST

/* Each allocation fut_chan_new makes fails in turn: NULL with ENOMEM and
 * nothing leaked (LeakSanitizer checks under ASan), else a usable
 * channel. */
START_TEST(chan_new_alloc_failure_sweep)
{
    size_t caps[] = {0, 1, 64};
    for (size_t ci = 0; ci < 3; ci++) {
        bool done = false;
        for (long k = 1; !done && k < 16; k++) {
            fut__test_fail_alloc(k);
            errno = 0;
            fut_chan_t *c = fut_chan_new(caps[ci]);
            int err = errno;
            done = atomic_load(&fut__alloc_fail_in) > 0;   /* k-th not reached */
            fut__test_fail_alloc(0);
            if (!c) {
                ck_assert_msg(!done, "NULL without the injected failure");
                ck_assert_int_eq(err, ENOMEM);
                continue;
            }
            ck_assert_msg(done, "fut_chan_new ignored a failed allocation (k=%ld)", k);
            if (caps[ci]) {
                tu_assert_rc(fut_chan_try_send(c, V(5)), 0);
                void *v = NULL;
                tu_assert_rc(fut_chan_try_recv(c, &v), 0);
                ck_assert_ptr_eq(v, V(5));
            }
            fut_chan_free(c);
        }
        ck_assert_msg(done, "fut_chan_new made more than 15 allocations");
    }
}
END_TEST

/* ---------------------------------------------------------------------
 * 2. Order, len, try_ forms on one thread
 * ------------------------------------------------------------------- */

START_TEST(chan_bounded_fifo_and_len)
{
    fut_chan_t *c = fut_chan_new(4);
    ck_assert_uint_eq(fut_chan_len(c), 0);
    for (uintptr_t i = 1; i <= 4; i++) {
        tu_assert_rc(fut_chan_try_send(c, V(i)), 0);
        ck_assert_uint_eq(fut_chan_len(c), i);
    }
    tu_assert_rc(fut_chan_try_send(c, V(5)), EAGAIN);     /* full */
    tu_assert_rc(fut_chan_send(c, V(5), 0), ETIMEDOUT);   /* 0 only tries */
    ck_assert_uint_eq(fut_chan_len(c), 4);
    /* Wrap the ring around a few times: order holds across the wrap. */
    uintptr_t next_in = 5, next_out = 1;
    for (int round = 0; round < 11; round++) {
        void *v = NULL;
        tu_assert_rc(fut_chan_recv(c, &v, FUT_FOREVER), 0);
        ck_assert_uint_eq(U(v), next_out++);
        tu_assert_rc(fut_chan_send(c, V(next_in++), FUT_FOREVER), 0);
        ck_assert_uint_eq(fut_chan_len(c), 4);
    }
    for (int i = 0; i < 4; i++) {
        void *v = NULL;
        tu_assert_rc(fut_chan_try_recv(c, &v), 0);
        ck_assert_uint_eq(U(v), next_out++);
        ck_assert_uint_eq(fut_chan_len(c), 3 - (size_t)i);
    }
    void *v = V(1);
    tu_assert_rc(fut_chan_try_recv(c, &v), EAGAIN);       /* empty */
    ck_assert_ptr_null(v);
    v = V(1);
    tu_assert_rc(fut_chan_recv(c, &v, 0), ETIMEDOUT);
    ck_assert_ptr_null(v);
    fut_chan_free(c);
}
END_TEST

START_TEST(chan_null_values_and_dropped_receive)
{
    fut_chan_t *c = fut_chan_new(3);
    tu_assert_rc(fut_chan_send(c, NULL, 0), 0);           /* NULL is a value */
    tu_assert_rc(fut_chan_send(c, V(7), 0), 0);
    tu_assert_rc(fut_chan_send(c, V(8), 0), 0);
    void *v = V(1);
    tu_assert_rc(fut_chan_recv(c, &v, 0), 0);
    ck_assert_ptr_null(v);
    tu_assert_rc(fut_chan_recv(c, NULL, 0), 0);           /* 7, dropped */
    ck_assert_uint_eq(fut_chan_len(c), 1);
    tu_assert_rc(fut_chan_try_recv(c, NULL), 0);          /* 8, dropped */
    ck_assert_uint_eq(fut_chan_len(c), 0);
    tu_assert_rc(fut_chan_recv(c, NULL, 0), ETIMEDOUT);
    fut_chan_free(c);
}
END_TEST

/* ---------------------------------------------------------------------
 * 3. Unbuffered: a rendezvous
 * ------------------------------------------------------------------- */

START_TEST(chan_unbuffered_send_waits_for_receiver)
{
    fut_chan_t *c = fut_chan_new(0);
    tu_assert_rc(fut_chan_try_send(c, V(1)), EAGAIN);     /* nobody receives */
    tu_assert_rc(fut_chan_send(c, V(1), 0), ETIMEDOUT);
    tu_assert_rc(fut_chan_try_recv(c, NULL), EAGAIN);
    tu_assert_rc(fut_chan_recv(c, NULL, 0), ETIMEDOUT);

    struct call s;
    call_start(&s, c, true, V(42), FUT_FOREVER);
    await_waiting(c, false, 1);
    tu_sleep_ms(20);
    /* The send is still waiting: nothing buffered, nothing returned. */
    ck_assert_int_eq(atomic_load(&s.returned), 0);
    ck_assert_uint_eq(fut_chan_len(c), 0);
    ck_assert_uint_eq(fut__chan_waiting(c, false), 1);
    void *v = NULL;
    tu_assert_rc(fut_chan_recv(c, &v, FUT_FOREVER), 0);
    ck_assert_ptr_eq(v, V(42));
    call_join(&s);
    tu_assert_rc(s.rc, 0);
    ck_assert_uint_eq(fut__chan_waiting(c, false), 0);
    fut_chan_free(c);
}
END_TEST

START_TEST(chan_unbuffered_send_timeout_leaves_nothing)
{
    fut_chan_t *c = fut_chan_new(0);
    uint64_t t0 = tu_now_ns();
    tu_assert_rc(fut_chan_send(c, V(3), 30), ETIMEDOUT);
    ck_assert_uint_ge(tu_now_ns() - t0, 30000000u);       /* never early */
    ck_assert_uint_eq(fut__chan_waiting(c, false), 0);
    tu_assert_rc(fut_chan_try_recv(c, NULL), EAGAIN);     /* not left behind */
    t0 = tu_now_ns();
    void *v = V(9);
    tu_assert_rc(fut_chan_recv(c, &v, 30), ETIMEDOUT);
    ck_assert_uint_ge(tu_now_ns() - t0, 30000000u);
    ck_assert_ptr_null(v);
    ck_assert_uint_eq(fut__chan_waiting(c, true), 0);
    tu_assert_rc(fut_chan_try_send(c, V(1)), EAGAIN);     /* no receiver left */
    fut_chan_free(c);
}
END_TEST

/* try_send hands the value to a receiver already waiting (a thread, then
 * a coroutine), try_recv takes it from a sender already waiting. */
static void *coro_recv_once(void *arg)
{
    struct call *k = arg;
    k->rc = fut_chan_recv(k->c, &k->value, FUT_FOREVER);
    atomic_store(&k->returned, 1);
    return NULL;
}

START_TEST(chan_try_forms_hand_over_to_waiting_partner)
{
    fut_chan_t *c = fut_chan_new(0);
    /* A receiving thread. */
    struct call r;
    call_start(&r, c, false, NULL, FUT_FOREVER);
    await_waiting(c, true, 1);
    tu_assert_rc(fut_chan_try_send(c, V(11)), 0);
    call_join(&r);
    tu_assert_rc(r.rc, 0);
    ck_assert_ptr_eq(r.value, V(11));

    /* A receiving coroutine on a loop in another thread. */
    struct call rc = {.c = c};
    atomic_init(&rc.returned, 0);
    struct loop_thread lt;
    loop_thread_start(&lt, coro_recv_once, &rc);
    await_waiting(c, true, 1);
    tu_assert_rc(fut_chan_try_send(c, V(12)), 0);
    loop_thread_join(&lt);
    tu_assert_rc(rc.rc, 0);
    ck_assert_ptr_eq(rc.value, V(12));

    /* A sending thread: try_recv takes its value, and its send returns 0. */
    struct call s;
    call_start(&s, c, true, V(13), FUT_FOREVER);
    await_waiting(c, false, 1);
    void *v = NULL;
    tu_assert_rc(fut_chan_try_recv(c, &v), 0);
    ck_assert_ptr_eq(v, V(13));
    call_join(&s);
    tu_assert_rc(s.rc, 0);

    /* recv with a timeout of 0 also counts a waiting sender as ready. */
    call_start(&s, c, true, V(14), FUT_FOREVER);
    await_waiting(c, false, 1);
    tu_assert_rc(fut_chan_recv(c, &v, 0), 0);
    ck_assert_ptr_eq(v, V(14));
    call_join(&s);
    tu_assert_rc(s.rc, 0);
    fut_chan_free(c);
}
END_TEST

/* A full bounded channel with a waiting sender: a receive takes the oldest
 * buffered value and the sender's value moves into the buffer, behind the
 * others. */
START_TEST(chan_bounded_waiting_sender_moves_into_buffer)
{
    fut_chan_t *c = fut_chan_new(2);
    tu_assert_rc(fut_chan_try_send(c, V(1)), 0);
    tu_assert_rc(fut_chan_try_send(c, V(2)), 0);
    struct call s;
    call_start(&s, c, true, V(3), FUT_FOREVER);
    await_waiting(c, false, 1);
    ck_assert_uint_eq(fut_chan_len(c), 2);                /* not counted */
    void *v = NULL;
    tu_assert_rc(fut_chan_try_recv(c, &v), 0);
    ck_assert_ptr_eq(v, V(1));
    call_join(&s);
    tu_assert_rc(s.rc, 0);                                /* it is in */
    ck_assert_uint_eq(fut_chan_len(c), 2);
    tu_assert_rc(fut_chan_try_send(c, V(4)), EAGAIN);     /* full again */
    tu_assert_rc(fut_chan_recv(c, &v, 0), 0);
    ck_assert_ptr_eq(v, V(2));
    tu_assert_rc(fut_chan_recv(c, &v, 0), 0);
    ck_assert_ptr_eq(v, V(3));
    fut_chan_free(c);
}
END_TEST

/* ---------------------------------------------------------------------
 * 4. Waiting calls are served in arrival order
 * ------------------------------------------------------------------- */

static void waiting_senders_in_order(size_t cap)
{
    fut_chan_t *c = fut_chan_new(cap);
    for (size_t i = 0; i < cap; i++)
        tu_assert_rc(fut_chan_try_send(c, V(100 + i)), 0);
    struct call s[5];
    for (size_t i = 0; i < 5; i++) {
        call_start(&s[i], c, true, V(i + 1), FUT_FOREVER);
        await_waiting(c, false, i + 1);                  /* queued in this order */
    }
    for (size_t i = 0; i < cap; i++) {
        void *v = NULL;
        tu_assert_rc(fut_chan_recv(c, &v, FUT_FOREVER), 0);
        ck_assert_uint_eq(U(v), 100 + i);
    }
    for (size_t i = 0; i < 5; i++) {
        void *v = NULL;
        tu_assert_rc(fut_chan_recv(c, &v, FUT_FOREVER), 0);
        ck_assert_msg(U(v) == i + 1, "receive %zu got sender %zu's value", i, (size_t)U(v));
    }
    for (size_t i = 0; i < 5; i++) {
        call_join(&s[i]);
        tu_assert_rc(s[i].rc, 0);
    }
    fut_chan_free(c);
}

START_TEST(chan_waiting_senders_served_in_arrival_order)
{
    waiting_senders_in_order(0);
    waiting_senders_in_order(1);
    waiting_senders_in_order(3);
}
END_TEST

START_TEST(chan_waiting_receivers_served_in_arrival_order)
{
    size_t caps[] = {0, 2};
    for (size_t ci = 0; ci < 2; ci++) {
        fut_chan_t *c = fut_chan_new(caps[ci]);
        struct call r[5];
        for (size_t i = 0; i < 5; i++) {
            call_start(&r[i], c, false, NULL, FUT_FOREVER);
            await_waiting(c, true, i + 1);
        }
        for (size_t i = 0; i < 5; i++)
            tu_assert_rc(fut_chan_send(c, V(i + 1), FUT_FOREVER), 0);
        for (size_t i = 0; i < 5; i++) {
            call_join(&r[i]);
            tu_assert_rc(r[i].rc, 0);
            ck_assert_msg(U(r[i].value) == i + 1, "receiver %zu got %zu", i,
                          (size_t)U(r[i].value));
        }
        ck_assert_uint_eq(fut_chan_len(c), 0);
        fut_chan_free(c);
    }
}
END_TEST

/* Coroutines on one loop: receivers queue in spawn order and are served in
 * that order; a coroutine blocked in a channel lets the others run. */
struct coro_order {
    fut_chan_t *c;
    int who;
    int order[4];                /* filled by the receivers */
    atomic_int n;
    int rc[4];
};

struct coro_order_arg {
    struct coro_order *o;
    int i;
};

static void *coro_ordered_recv(void *arg)
{
    struct coro_order_arg *a = arg;
    void *v = NULL;
    a->o->rc[a->i] = fut_chan_recv(a->o->c, &v, FUT_FOREVER);
    a->o->order[a->i] = (int)U(v);
    return NULL;
}

static void *coro_order_main(void *arg)
{
    struct coro_order *o = arg;
    struct coro_order_arg a[4];
    future_t *fs[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct coro_order_arg){o, i};
        fs[i] = fut_spawn(coro_ordered_recv, &a[i]);
    }
    /* Let each run until it waits in the channel: the loop is not
     * blocked by them, or this would never return. */
    while (fut__chan_waiting(o->c, true) < 4)
        fut_yield();
    for (int i = 0; i < 4; i++)
        if (fut_chan_send(o->c, V(i + 10), FUT_FOREVER) != 0)
            return fut_raise(EIO);
    int rc = future_gather(fs, 4, NULL, FUT_FOREVER);
    for (int i = 0; i < 4; i++)
        future_release(fs[i]);
    return rc ? fut_raise(rc) : NULL;
}

START_TEST(chan_coroutines_served_in_arrival_order)
{
    struct coro_order o = {.c = fut_chan_new(0)};
    tu_assert_rc(fut_run(coro_order_main, &o, NULL), 0);
    for (int i = 0; i < 4; i++) {
        tu_assert_rc(o.rc[i], 0);
        ck_assert_int_eq(o.order[i], i + 10);
    }
    fut_chan_free(o.c);
}
END_TEST

/* ---------------------------------------------------------------------
 * 5. Close
 * ------------------------------------------------------------------- */

START_TEST(chan_close_drains_then_epipe)
{
    fut_chan_t *c = fut_chan_new(3);
    tu_assert_rc(fut_chan_send(c, V(1), 0), 0);
    tu_assert_rc(fut_chan_send(c, V(2), 0), 0);
    tu_assert_rc(fut_chan_close(c), 0);
    tu_assert_rc(fut_chan_close(c), EINVAL);              /* twice */
    tu_assert_rc(fut_chan_send(c, V(3), FUT_FOREVER), EPIPE);
    tu_assert_rc(fut_chan_send(c, V(3), 0), EPIPE);
    tu_assert_rc(fut_chan_try_send(c, V(3)), EPIPE);
    ck_assert_uint_eq(fut_chan_len(c), 2);
    void *v = NULL;
    tu_assert_rc(fut_chan_recv(c, &v, FUT_FOREVER), 0);
    ck_assert_ptr_eq(v, V(1));
    tu_assert_rc(fut_chan_try_recv(c, &v), 0);
    ck_assert_ptr_eq(v, V(2));
    v = V(5);
    tu_assert_rc(fut_chan_recv(c, &v, FUT_FOREVER), EPIPE);   /* does not wait */
    ck_assert_ptr_null(v);
    tu_assert_rc(fut_chan_recv(c, &v, 0), EPIPE);
    tu_assert_rc(fut_chan_try_recv(c, &v), EPIPE);
    fut_chan_free(c);

    c = fut_chan_new(0);
    tu_assert_rc(fut_chan_close(c), 0);
    tu_assert_rc(fut_chan_recv(c, NULL, 100), EPIPE);
    tu_assert_rc(fut_chan_send(c, NULL, 100), EPIPE);
    fut_chan_free(c);
}
END_TEST

/* Every waiter wakes: receivers (threads and coroutines) on an empty
 * channel, and senders on a full one, whose values are not sent. */
struct many_coros {
    struct call *calls;
    size_t n;
};

static void *spawn_calls(void *arg)
{
    struct many_coros *m = arg;
    void *args[16];
    for (size_t i = 0; i < m->n; i++)
        args[i] = &m->calls[i];
    struct spawner sp = {call_coro, args, m->n};
    return spawn_all(&sp);
}

static void close_wakes_all(bool senders, size_t cap, bool use_free)
{
    fut_chan_t *c = fut_chan_new(cap);
    for (size_t i = 0; senders && i < cap; i++)
        tu_assert_rc(fut_chan_try_send(c, V(1000 + i)), 0);
    struct call th[3], co[3];
    for (size_t i = 0; i < 3; i++)
        call_start(&th[i], c, senders, V(i + 1), FUT_FOREVER);
    for (size_t i = 0; i < 3; i++) {
        co[i].c = c;
        co[i].send = senders;
        co[i].value = V(i + 11);
        co[i].timeout_ms = i == 0 ? FUT_FOREVER : 60000;  /* timers too */
        co[i].rc = -1;
        atomic_init(&co[i].returned, 0);
    }
    struct many_coros m = {co, 3};
    struct loop_thread lt;
    loop_thread_start(&lt, spawn_calls, &m);
    await_waiting(c, !senders, 6);
    if (use_free) {
        fut_chan_free(c);                  /* closes: wakes them all */
    } else {
        tu_assert_rc(fut_chan_close(c), 0);
    }
    for (size_t i = 0; i < 3; i++) {
        call_join(&th[i]);
        tu_assert_rc(th[i].rc, EPIPE);
    }
    loop_thread_join(&lt);
    for (size_t i = 0; i < 3; i++) {
        tu_assert_rc(co[i].rc, EPIPE);
        if (!senders)
            ck_assert_ptr_null(co[i].value);
    }
    if (use_free)
        return;
    /* The buffered values drain; the waiting senders' values never arrive. */
    for (size_t i = 0; senders && i < cap; i++) {
        void *v = NULL;
        tu_assert_rc(fut_chan_recv(c, &v, 0), 0);
        ck_assert_uint_eq(U(v), 1000 + i);
    }
    tu_assert_rc(fut_chan_recv(c, NULL, FUT_FOREVER), EPIPE);
    fut_chan_free(c);
}

START_TEST(chan_close_wakes_every_waiter)
{
    close_wakes_all(false, 0, false);      /* receivers, unbuffered */
    close_wakes_all(false, 4, false);      /* receivers, bounded */
    close_wakes_all(true, 0, false);       /* senders, unbuffered */
    close_wakes_all(true, 2, false);       /* senders, full */
}
END_TEST

/* fut_chan_free with calls waiting: they wake with EPIPE, and the memory
 * outlives them (ASan would see a use after free). */
START_TEST(chan_free_with_waiters_wakes_them)
{
    close_wakes_all(false, 0, true);
    close_wakes_all(true, 1, true);
}
END_TEST

/* Waiters whose timeouts race fut_chan_free: each returns ETIMEDOUT or
 * EPIPE and none touches freed memory (ASan, TSan). */
START_TEST(chan_free_races_timeouts)
{
    long rounds = TU_ROUNDS(300);
    for (long i = 0; i < rounds; i++) {
        fut_chan_t *c = fut_chan_new(i & 1);
        struct call r[3];
        for (size_t k = 0; k < 3; k++)
            call_start(&r[k], c, k == 2 && (i & 1) == 0, V(1), 3);
        /* Free once all three began to wait, or once any gave up (then
         * the rest are waiting or gone: a call that has not begun yet
         * would be a use after free by the test, not the library). */
        for (;;) {
            int gone0 = 0, gone = 0;
            for (size_t k = 0; k < 3; k++)
                gone0 += atomic_load(&r[k].returned);
            size_t w = fut__chan_waiting(c, true) + fut__chan_waiting(c, false);
            for (size_t k = 0; k < 3; k++)
                gone += atomic_load(&r[k].returned);
            /* gone unchanged around the count: no call went from waiting
             * to returned meanwhile, so none is counted twice (a call
             * counted both ways let the free overtake a call that had not
             * begun: ASan saw its fut_chan_send on the freed channel). */
            if (gone == gone0 && w + (size_t)gone == 3)
                break;
            sched_yield();
        }
        if (i % 3 == 1)
            tu_sleep_ms(2);                 /* right on the deadlines */
        fut_chan_free(c);
        for (size_t k = 0; k < 3; k++) {
            call_join(&r[k]);
            ck_assert_msg(r[k].rc == EPIPE || r[k].rc == ETIMEDOUT || r[k].rc == 0,
                          "rc %d", r[k].rc);
        }
    }
}
END_TEST

/* ---------------------------------------------------------------------
 * 6. Coroutines: suspension, timeouts, cancellation
 * ------------------------------------------------------------------- */

struct pingpong {
    fut_chan_t *ping, *pong;
    long n;
    long got;
    int rc;
};

static void *pinger(void *arg)
{
    struct pingpong *p = arg;
    for (long i = 1; i <= p->n; i++) {
        void *v = NULL;
        int rc = fut_chan_send(p->ping, V(i), FUT_FOREVER);
        if (!rc)
            rc = fut_chan_recv(p->pong, &v, FUT_FOREVER);
        if (rc || U(v) != (uintptr_t)i + 1) {
            p->rc = rc ? rc : EIO;
            return NULL;
        }
    }
    fut_chan_close(p->ping);
    return NULL;
}

static void *ponger(void *arg)
{
    struct pingpong *p = arg;
    void *v;
    while (fut_chan_recv(p->ping, &v, FUT_FOREVER) == 0) {
        p->got++;
        if (fut_chan_send(p->pong, V(U(v) + 1), FUT_FOREVER) != 0)
            break;
    }
    return NULL;
}

/* Two coroutines on one loop pass values back and forth through two
 * unbuffered channels: each wait suspends only the waiting coroutine (a
 * blocked thread would hang here). */
static void *pingpong_main(void *arg)
{
    void *args[2] = {arg, arg};
    struct spawner a = {pinger, args, 1}, b = {ponger, args + 1, 1};
    future_t *fs[2] = {fut_spawn(spawn_all, &a), fut_spawn(spawn_all, &b)};
    int rc = future_gather(fs, 2, NULL, FUT_FOREVER);
    future_release(fs[0]);
    future_release(fs[1]);
    return rc ? fut_raise(rc) : NULL;
}

START_TEST(chan_coroutines_ping_pong_unbuffered)
{
    struct pingpong p = {fut_chan_new(0), fut_chan_new(0), TU_ROUNDS(20000), 0, 0};
    tu_assert_rc(fut_run(pingpong_main, &p, NULL), 0);
    tu_assert_rc(p.rc, 0);
    ck_assert_int_eq(p.got, p.n);
    fut_chan_free(p.ping);
    fut_chan_free(p.pong);
}
END_TEST

/* A coroutine waiting with a timeout: the loop runs others meanwhile, and
 * the wait never ends early. */
struct ctimeout {
    fut_chan_t *empty, *full;
    int rc_recv, rc_send;
    uint64_t took_recv, took_send;
    long ticks_during;           /* ticker steps while the recv waited */
    long ticks;                  /* loop thread only */
    bool started, done;          /* loop thread only */
    size_t len_after;
};

static void *coro_times_out(void *arg)
{
    struct ctimeout *t = arg;
    while (!t->started)
        fut_yield();
    long ticks0 = t->ticks;
    uint64_t t0 = tu_now_ns();
    void *v = V(1);
    t->rc_recv = fut_chan_recv(t->empty, &v, 40);
    t->took_recv = tu_now_ns() - t0;
    t->ticks_during = t->ticks - ticks0;
    if (v != NULL)
        t->rc_recv = -2;
    t0 = tu_now_ns();
    t->rc_send = fut_chan_send(t->full, V(2), 30);
    t->took_send = tu_now_ns() - t0;
    t->len_after = fut_chan_len(t->full);
    t->done = true;
    return NULL;
}

/* Steps (yields) until the other is done: it runs only while the other is
 * suspended, so its count shows the wait did not hold the loop. */
static void *coro_ticker(void *arg)
{
    struct ctimeout *t = arg;
    t->started = true;
    while (!t->done) {
        fut_yield();
        t->ticks++;
    }
    return NULL;
}

static void *timeouts_main(void *arg)
{
    future_t *fs[2] = {fut_spawn(coro_times_out, arg), fut_spawn(coro_ticker, arg)};
    int rc = future_gather(fs, 2, NULL, FUT_FOREVER);
    future_release(fs[0]);
    future_release(fs[1]);
    return rc ? fut_raise(rc) : NULL;
}

START_TEST(chan_coroutine_timeouts)
{
    struct ctimeout t = {.empty = fut_chan_new(0), .full = fut_chan_new(1)};
    tu_assert_rc(fut_chan_try_send(t.full, V(9)), 0);
    tu_assert_rc(fut_run(timeouts_main, &t, NULL), 0);
    tu_assert_rc(t.rc_recv, ETIMEDOUT);
    tu_assert_rc(t.rc_send, ETIMEDOUT);
    ck_assert_uint_ge(t.took_recv, 40000000u);
    ck_assert_uint_ge(t.took_send, 30000000u);
    ck_assert_int_ge(t.ticks_during, 1);                  /* others ran */
    ck_assert_uint_eq(t.len_after, 1);                    /* 2 was not sent */
    void *v = NULL;
    tu_assert_rc(fut_chan_try_recv(t.full, &v), 0);
    ck_assert_ptr_eq(v, V(9));
    tu_assert_rc(fut_chan_try_recv(t.full, &v), EAGAIN);
    fut_chan_free(t.empty);
    fut_chan_free(t.full);
}
END_TEST

/* A coroutine cancelled while blocked in a send or a receive: ECANCELED,
 * and the call had no effect; its later waiting calls on the channel
 * return ECANCELED without effect even where they would not wait; the
 * try_ forms are not waiting calls and still work. */
struct cancel_case {
    fut_chan_t *c, *room;        /* c: unbuffered; room: bounded, one value */
    bool send;
    int rc, rc_send_later, rc_recv_later, rc_try_send, rc_try_recv;
    future_t *victim;
};

static void *coro_blocked_then_more(void *arg)
{
    struct cancel_case *k = arg;
    void *v = NULL;
    k->rc = k->send ? fut_chan_send(k->c, V(77), FUT_FOREVER)
                    : fut_chan_recv(k->c, &v, FUT_FOREVER);
    k->rc_send_later = fut_chan_send(k->room, V(78), 0);
    k->rc_recv_later = fut_chan_recv(k->room, &v, FUT_FOREVER);
    k->rc_try_send = fut_chan_try_send(k->room, V(79));
    k->rc_try_recv = fut_chan_try_recv(k->room, &v);
    return v;
}

static void *cancel_main(void *arg)
{
    struct cancel_case *k = arg;
    future_t *f = fut_spawn(coro_blocked_then_more, k);
    while (fut__chan_waiting(k->c, !k->send) < 1)
        fut_yield();
    int rc = future_cancel(f);
    if (rc == 0)
        rc = future_wait(f, FUT_FOREVER);
    k->victim = f;
    return rc ? fut_raise(rc) : NULL;
}

START_TEST(chan_cancelled_coroutine_sends_and_takes_nothing)
{
    for (int send = 0; send < 2; send++) {
        struct cancel_case k = {fut_chan_new(0), fut_chan_new(2), send != 0, -1, -1, -1, -1, -1,
                                NULL};
        tu_assert_rc(fut_chan_try_send(k.room, V(70)), 0);
        tu_assert_rc(fut_run(cancel_main, &k, NULL), 0);
        tu_assert_state(k.victim, FUTURE_CANCELLED);
        future_release(k.victim);
        tu_assert_rc(k.rc, ECANCELED);
        ck_assert_uint_eq(fut__chan_waiting(k.c, false) + fut__chan_waiting(k.c, true), 0);
        /* Nothing was sent (no value waits) or taken (no receiver waits). */
        tu_assert_rc(fut_chan_try_recv(k.c, NULL), EAGAIN);
        tu_assert_rc(fut_chan_try_send(k.c, V(1)), EAGAIN);
        tu_assert_rc(k.rc_send_later, ECANCELED);
        tu_assert_rc(k.rc_recv_later, ECANCELED);
        tu_assert_rc(k.rc_try_send, 0);                   /* 79 is in */
        tu_assert_rc(k.rc_try_recv, 0);                   /* took 70 */
        void *v = NULL;
        tu_assert_rc(fut_chan_try_recv(k.room, &v), 0);
        ck_assert_ptr_eq(v, V(79));                       /* 78 never went in */
        tu_assert_rc(fut_chan_try_recv(k.room, &v), EAGAIN);
        fut_chan_free(k.c);
        fut_chan_free(k.room);
    }
}
END_TEST

/* The hand-over rule, made deterministic.  A coroutine R waits in the
 * channel; a thread takes R's call (hands it a value, or takes R's value)
 * while R's loop is held by another coroutine M, so R cannot run yet; M
 * then cancels R.  R's wait ends with the cancellation, but its call was
 * already completed by the partner: it must return 0 (with the value),
 * not ECANCELED, or the value is lost.  Its next waiting call delivers
 * the cancellation. */
struct handover {
    fut_chan_t *c;
    bool r_sends;
    int rc, rc_next;
    void *got;
    int partner_rc;
    void *partner_got;
};

static void *handover_r(void *arg)
{
    struct handover *h = arg;
    h->rc = h->r_sends ? fut_chan_send(h->c, V(21), FUT_FOREVER)
                       : fut_chan_recv(h->c, &h->got, FUT_FOREVER);
    h->rc_next = fut_chan_recv(h->c, NULL, FUT_FOREVER);
    return NULL;
}

static void *handover_partner(void *arg)
{
    struct handover *h = arg;
    h->partner_rc = h->r_sends ? fut_chan_try_recv(h->c, &h->partner_got)
                               : fut_chan_try_send(h->c, V(22));
    return NULL;
}

static void *handover_m(void *arg)
{
    struct handover *h = arg;
    future_t *r = fut_spawn(handover_r, h);
    while (fut__chan_waiting(h->c, !h->r_sends) < 1)
        fut_yield();
    /* Holds the loop (a plain blocking call) while the partner thread
     * completes R's call: R's wake-up is queued, not yet acted on. */
    pthread_t t;
    if (pthread_create(&t, NULL, handover_partner, h) != 0)
        return fut_raise(EAGAIN);
    pthread_join(t, NULL);
    int rc = future_cancel(r);
    future_wait(r, FUT_FOREVER);
    future_release(r);
    return rc ? fut_raise(rc) : NULL;
}

START_TEST(chan_cancel_after_hand_over_keeps_the_exchange)
{
    for (int r_sends = 0; r_sends < 2; r_sends++) {
        struct handover h = {.c = fut_chan_new(0), .r_sends = r_sends != 0, .rc = -1};
        tu_assert_rc(fut_run(handover_m, &h, NULL), 0);
        tu_assert_rc(h.partner_rc, 0);
        tu_assert_rc(h.rc, 0);                            /* the exchange stands */
        if (r_sends)
            ck_assert_ptr_eq(h.partner_got, V(21));
        else
            ck_assert_ptr_eq(h.got, V(22));
        tu_assert_rc(h.rc_next, ECANCELED);               /* delivered next */
        fut_chan_free(h.c);
    }
}
END_TEST

/* ---------------------------------------------------------------------
 * 7. Cancellation and timeouts racing a partner: no loss, no duplicate
 * ------------------------------------------------------------------- */

#define RACE_MAX 200000

struct race {
    fut_chan_t *c;
    bool coro_sends;             /* the coroutine sends, the thread receives */
    bool cancel_from_thread;
    unsigned seed;
    atomic_int stop;             /* the partner thread stops */
    _Atomic(future_t *) victim;  /* the coroutine, for a cancel from a thread */
    int coro_rc;
    long coro_ops;
    unsigned char *sent;         /* [RACE_MAX + 1]: by the sending side */
    unsigned char *got;          /* by the receiving side (thread or coro) */
    unsigned char *drained;      /* by the test after the round */
};

static void *race_coro(void *arg)
{
    struct race *r = arg;
    int rc;
    if (r->coro_sends) {
        uintptr_t i = 1;
        while (i <= RACE_MAX && (rc = fut_chan_send(r->c, V(i), FUT_FOREVER)) == 0)
            r->sent[i++] = 1;
    } else {
        void *v;
        while ((rc = fut_chan_recv(r->c, &v, FUT_FOREVER)) == 0)
            r->got[U(v)]++;
    }
    r->coro_rc = rc;
    return NULL;
}

static void *race_main(void *arg)
{
    struct race *r = arg;
    future_t *f = fut_spawn(race_coro, r);
    if (!f)
        return fut_raise(ENOMEM);
    atomic_store(&r->victim, future_retain(f));
    if (!r->cancel_from_thread) {
        unsigned n = r->seed % 40;
        if (n < 30) {
            for (unsigned i = 0; i < n; i++)
                fut_yield();
        } else {
            fut_sleep(1);
        }
        future_cancel(f);
    }
    future_wait(f, FUT_FOREVER);
    future_release(f);
    return NULL;
}

static void *race_partner(void *arg)
{
    struct race *r = arg;
    if (r->coro_sends) {
        void *v;
        while (!atomic_load(&r->stop)) {
            if (fut_chan_recv(r->c, &v, 1) == 0)
                r->got[U(v)]++;
        }
    } else {
        for (uintptr_t i = 1; i <= RACE_MAX && !atomic_load(&r->stop); i++)
            if (fut_chan_send(r->c, V(i), 1) == 0)
                r->sent[i] = 1;
    }
    return NULL;
}

static void race_round(struct race *r, size_t cap)
{
    r->c = fut_chan_new(cap);
    atomic_store(&r->stop, 0);
    atomic_store(&r->victim, NULL);
    r->coro_rc = -1;
    memset(r->sent, 0, RACE_MAX + 1);
    memset(r->got, 0, RACE_MAX + 1);
    memset(r->drained, 0, RACE_MAX + 1);
    pthread_t partner = tu_thread(race_partner, r);
    struct loop_thread lt;
    loop_thread_start(&lt, race_main, r);
    if (r->cancel_from_thread) {
        future_t *f;
        while (!(f = atomic_load(&r->victim)))
            sched_yield();
        /* A short random delay: the cancel lands anywhere in the traffic. */
        uint64_t until = tu_now_ns() + (r->seed % 300) * 1000u;
        while (tu_now_ns() < until)
            ;
        int rc = future_cancel(f);
        ck_assert(rc == 0 || rc == EINVAL);
    }
    loop_thread_join(&lt);
    atomic_store(&r->stop, 1);
    tu_join(partner);
    future_t *f = atomic_load(&r->victim);
    /* Cancelled; or (a canceller stalled that long) it sent every value. */
    int st = (int)future_state(f);
    ck_assert_msg(st == FUTURE_CANCELLED || (st == FUTURE_DONE && r->coro_rc == 0),
                  "coroutine state %d, rc %d", st, r->coro_rc);
    future_release(f);
    void *v;
    while (fut_chan_try_recv(r->c, &v) == 0)
        r->drained[U(v)]++;
    fut_chan_free(r->c);
    /* Each value: sent (0 from a send) exactly when received once.  (No
     * assertion per value: each passing one costs Check a system call.) */
    size_t bad = 0;
    int bad_sent = 0, bad_recv = 0;
    for (size_t i = 1; i <= RACE_MAX; i++) {
        int recv = r->got[i] + r->drained[i];
        if (recv != r->sent[i] && !bad) {
            bad_sent = r->sent[i];
            bad_recv = recv;
            bad = i;
        }
    }
    ck_assert_msg(bad == 0, "value %zu: sent %d, received %d times (%s, cap %zu)", bad,
                  bad_sent, bad_recv, r->coro_sends ? "coroutine sends" : "coroutine receives",
                  cap);
    /* -1: the coroutine was cancelled before it started. */
    ck_assert_msg(r->coro_rc == ECANCELED || r->coro_rc == -1 || st == FUTURE_DONE,
                  "coroutine rc %d", r->coro_rc);
}

START_TEST(chan_cancel_races_partner_no_loss)
{
    struct race r;
    r.sent = calloc(RACE_MAX + 1, 1);
    r.got = calloc(RACE_MAX + 1, 1);
    r.drained = calloc(RACE_MAX + 1, 1);
    ck_assert(r.sent && r.got && r.drained);
    long rounds = TU_ROUNDS(800);
    unsigned seed = 12345;
    for (long i = 0; i < rounds; i++) {
        seed = seed * 1103515245u + 12345u;
        r.seed = seed >> 8;
        r.coro_sends = i & 1;
        r.cancel_from_thread = (i >> 1) & 1;
        race_round(&r, (size_t)((i >> 2) & 1));
    }
    free(r.sent);
    free(r.got);
    free(r.drained);
}
END_TEST

/* Threads and a coroutine send and receive with short timeouts (0, 1 or
 * 2 ms) on one channel: every value a send reported as sent is received
 * exactly once, and no other value is received. */
#define TR_VALUES 4000

struct tr {
    fut_chan_t *c;
    atomic_uint next;            /* the next value to send */
    long per_sender;
    atomic_int stop;
    atomic_uchar sent[TR_VALUES * 8];
    atomic_uchar got[TR_VALUES * 8];
};

static long tr_timeout(unsigned *seed, bool coro)
{
    *seed = *seed * 1103515245u + 12345u;
    long t = (long)((*seed >> 16) % 3);
    return coro && t == 0 ? 1 : t;      /* a coroutine alone would spin on 0 */
}

static void tr_send_all(struct tr *t, unsigned seed, bool coro)
{
    for (long k = 0; k < t->per_sender; k++) {
        unsigned i = atomic_fetch_add(&t->next, 1);
        int rc = fut_chan_send(t->c, V(i), tr_timeout(&seed, coro));
        if (rc == 0)
            atomic_fetch_add(&t->sent[i], 1);
        else if (rc == ETIMEDOUT && !coro)
            sched_yield();
    }
}

static void tr_recv_until_stop(struct tr *t, unsigned seed, bool coro)
{
    while (!atomic_load(&t->stop)) {
        void *v;
        int rc = fut_chan_recv(t->c, &v, tr_timeout(&seed, coro));
        if (rc == 0)
            atomic_fetch_add(&t->got[U(v)], 1);
        else if (rc == ETIMEDOUT && !coro)
            sched_yield();
    }
}

static void *tr_sender_thread(void *arg)
{
    tr_send_all(arg, (unsigned)(uintptr_t)pthread_self(), false);
    return NULL;
}

static void *tr_receiver_thread(void *arg)
{
    tr_recv_until_stop(arg, (unsigned)(uintptr_t)pthread_self() ^ 77u, false);
    return NULL;
}

static void *tr_sender_coro(void *arg)
{
    tr_send_all(arg, 99u, true);
    return NULL;
}

static void *tr_receiver_coro(void *arg)
{
    tr_recv_until_stop(arg, 7u, true);
    return NULL;
}

static void *tr_loop_main(void *arg)
{
    future_t *fs[2] = {fut_spawn(tr_sender_coro, arg), fut_spawn(tr_receiver_coro, arg)};
    int rc = future_gather(fs, 2, NULL, FUT_FOREVER);
    future_release(fs[0]);
    future_release(fs[1]);
    return rc ? fut_raise(rc) : NULL;
}

static void timeouts_race(size_t cap)
{
    struct tr *t = calloc(1, sizeof *t);
    ck_assert_ptr_nonnull(t);
    t->c = fut_chan_new(cap);
    atomic_init(&t->next, 1);
    t->per_sender = TU_ROUNDS(TR_VALUES);
    pthread_t s[2], r[2];
    for (int i = 0; i < 2; i++) {
        s[i] = tu_thread(tr_sender_thread, t);
        r[i] = tu_thread(tr_receiver_thread, t);
    }
    /* The coroutine pair: its receiver stops with the others. */
    struct loop_thread lt;
    loop_thread_start(&lt, tr_loop_main, t);
    for (int i = 0; i < 2; i++)
        tu_join(s[i]);
    /* The thread senders are done; keep receiving until the coroutine's
     * last send has begun. */
    while (atomic_load(&t->next) < 1 + 3 * (unsigned)t->per_sender)
        tu_sleep_ms(1);
    /* A send still in flight now either completes (its value is received
     * or stays buffered and is drained below) or times out: counted either
     * way. */
    atomic_store(&t->stop, 1);
    for (int i = 0; i < 2; i++)
        tu_join(r[i]);
    loop_thread_join(&lt);
    void *v;
    while (fut_chan_try_recv(t->c, &v) == 0)
        atomic_fetch_add(&t->got[U(v)], 1);
    unsigned n = atomic_load(&t->next);
    long sent = 0;
    unsigned bad = 0;
    for (unsigned i = 1; i < n; i++) {
        int sd = atomic_load(&t->sent[i]), gt = atomic_load(&t->got[i]);
        if (sd != gt && !bad)
            bad = i;
        sent += sd;
    }
    ck_assert_msg(bad == 0, "value %u: sent %d, received %d (cap %zu)", bad,
                  bad ? atomic_load(&t->sent[bad]) : 0, bad ? atomic_load(&t->got[bad]) : 0, cap);
    ck_assert_int_gt(sent, 0);
    fut_chan_free(t->c);
    free(t);
}

START_TEST(chan_timeouts_race_partner_no_loss)
{
    timeouts_race(0);
    timeouts_race(1);
}
END_TEST

/* ---------------------------------------------------------------------
 * 8. Many senders and receivers, threads, coroutines and pool jobs mixed
 * ------------------------------------------------------------------- */

#define MIX_PRODUCERS 5            /* 2 threads, 2 coroutines, 1 pool job */
#define MIX_CONSUMERS 5            /* the same */
#define MIX_SHIFT 20               /* value = producer << 20 | seq */

struct mix {
    fut_chan_t *c;
    long n;                        /* values per producer */
    atomic_uchar *seen;            /* [MIX_PRODUCERS << MIX_SHIFT]: times received */
    atomic_long count;
    atomic_int order_errors;       /* a consumer saw a producer's seq go back */
    atomic_int errors;             /* an unexpected return code */
};

struct mix_role {
    struct mix *m;
    int id;                        /* producer id, or consumer id */
    int style;                     /* how it calls: 0 plain, 1 timeouts, 2 try first */
};

static void *mix_produce(void *arg)
{
    struct mix_role *r = arg;
    struct mix *m = r->m;
    for (long seq = 1; seq <= m->n; seq++) {
        void *v = V(((uintptr_t)r->id << MIX_SHIFT) | (uintptr_t)seq);
        int rc;
        switch (r->style) {
        case 1:   /* short timeouts, retried: a timed-out send sent nothing */
            while ((rc = fut_chan_send(m->c, v, 1)) == ETIMEDOUT) {
            }
            break;
        case 2:   /* try first, then wait */
            rc = fut_chan_try_send(m->c, v);
            if (rc == EAGAIN)
                rc = fut_chan_send(m->c, v, FUT_FOREVER);
            break;
        default:
            rc = fut_chan_send(m->c, v, FUT_FOREVER);
        }
        if (rc != 0) {
            atomic_fetch_add(&m->errors, 1);
            return NULL;
        }
    }
    return NULL;
}

static void *mix_consume(void *arg)
{
    struct mix_role *r = arg;
    struct mix *m = r->m;
    long last[MIX_PRODUCERS] = {0};
    for (;;) {
        void *v = NULL;
        int rc;
        switch (r->style) {
        case 1:
            while ((rc = fut_chan_recv(m->c, &v, 1)) == ETIMEDOUT) {
            }
            break;
        case 2:
            rc = fut_chan_try_recv(m->c, &v);
            if (rc == EAGAIN)
                rc = fut_chan_recv(m->c, &v, FUT_FOREVER);
            break;
        default:
            rc = fut_chan_recv(m->c, &v, FUT_FOREVER);
        }
        if (rc == EPIPE)
            return NULL;                   /* closed and drained */
        if (rc != 0) {
            atomic_fetch_add(&m->errors, 1);
            return NULL;
        }
        uintptr_t p = U(v) >> MIX_SHIFT, seq = U(v) & (((uintptr_t)1 << MIX_SHIFT) - 1);
        if (p >= MIX_PRODUCERS || seq < 1 || seq > (uintptr_t)m->n) {
            atomic_fetch_add(&m->errors, 1);
            continue;
        }
        /* FIFO: one sender's values reach any one receiver in order. */
        if ((long)seq <= last[p])
            atomic_fetch_add(&m->order_errors, 1);
        last[p] = (long)seq;
        atomic_fetch_add(&m->seen[U(v)], 1);
        atomic_fetch_add(&m->count, 1);
    }
}

static void *mix_pool_job(void *arg)
{
    struct mix_role *r = arg;
    return r->id >= 100 ? mix_consume(arg) : mix_produce(arg);
}

/* A loop's main coroutine: the two roles given, as coroutines. */
static void *mix_loop_main(void *arg)
{
    struct mix_role *r = arg;      /* r[0], r[1] */
    fut_fn fn = r[0].id >= 100 ? mix_consume : mix_produce;
    future_t *fs[2] = {fut_spawn(fn, &r[0]), fut_spawn(fn, &r[1])};
    int rc = future_gather(fs, 2, NULL, FUT_FOREVER);
    future_release(fs[0]);
    future_release(fs[1]);
    return rc ? fut_raise(rc) : NULL;
}

static void *mix_thread(void *arg)
{
    struct mix_role *r = arg;
    return r->id >= 100 ? mix_consume(arg) : mix_produce(arg);
}

static void mix_stress(size_t cap)
{
    struct mix m;
    m.c = fut_chan_new(cap);
    m.n = TU_ROUNDS(20000);
    ck_assert_int_lt(m.n, 1L << MIX_SHIFT);
    m.seen = calloc((size_t)MIX_PRODUCERS << MIX_SHIFT, 1);
    ck_assert_ptr_nonnull(m.seen);
    atomic_init(&m.count, 0);
    atomic_init(&m.order_errors, 0);
    atomic_init(&m.errors, 0);
    /* Producers 0..4: threads 0 and 1, coroutines 2 and 3, pool job 4.
     * Consumers (id 100 + k): the same shapes.  Styles vary. */
    struct mix_role prod[MIX_PRODUCERS], cons[MIX_CONSUMERS];
    for (int i = 0; i < MIX_PRODUCERS; i++)
        prod[i] = (struct mix_role){&m, i, i % 3};
    for (int i = 0; i < MIX_CONSUMERS; i++)
        cons[i] = (struct mix_role){&m, 100 + i, (i + 1) % 3};
    /* Producers and consumers in separate pools: a pool thread that waits
     * runs its own pool's queued jobs, and a consumer nested above a
     * waiting producer would never let it resume before the close. */
    fut_pool_opts o = {.threads = 1};
    fut_pool_t *pp = fut_pool_new(&o), *pc = fut_pool_new(&o);
    ck_assert(pp && pc);
    future_t *cjob = fut_pool_submit(pc, mix_pool_job, &cons[4]);
    future_t *pjob = fut_pool_submit(pp, mix_pool_job, &prod[4]);
    ck_assert(pjob && cjob);
    pthread_t pt[2], ct[2];
    struct loop_thread pl, cl;
    loop_thread_start(&cl, mix_loop_main, &cons[2]);
    for (int i = 0; i < 2; i++)
        ct[i] = tu_thread(mix_thread, &cons[i]);
    for (int i = 0; i < 2; i++)
        pt[i] = tu_thread(mix_thread, &prod[i]);
    loop_thread_start(&pl, mix_loop_main, &prod[2]);

    for (int i = 0; i < 2; i++)
        tu_join(pt[i]);
    loop_thread_join(&pl);
    tu_assert_rc(future_get(pjob, NULL), 0);
    tu_assert_rc(fut_chan_close(m.c), 0);              /* consumers drain, then EPIPE */
    for (int i = 0; i < 2; i++)
        tu_join(ct[i]);
    loop_thread_join(&cl);
    tu_assert_rc(future_get(cjob, NULL), 0);
    future_release(pjob);
    future_release(cjob);
    fut_pool_free(pp);
    fut_pool_free(pc);

    ck_assert_int_eq(atomic_load(&m.errors), 0);
    ck_assert_int_eq(atomic_load(&m.order_errors), 0);
    ck_assert_int_eq(atomic_load(&m.count), MIX_PRODUCERS * m.n);
    for (uintptr_t p = 0; p < MIX_PRODUCERS; p++)
        for (long seq = 1; seq <= m.n; seq++)
            if (atomic_load(&m.seen[(p << MIX_SHIFT) | (uintptr_t)seq]) != 1)
                ck_abort_msg("producer %zu value %ld received %d times (cap %zu)", (size_t)p,
                             seq, (int)atomic_load(&m.seen[(p << MIX_SHIFT) | (uintptr_t)seq]),
                             cap);
    ck_assert_uint_eq(fut_chan_len(m.c), 0);
    fut_chan_free(m.c);
    free(m.seen);
}

START_TEST(chan_stress_mixed_unbuffered_exactly_once)
{
    mix_stress(0);
}
END_TEST

START_TEST(chan_stress_mixed_bounded_exactly_once)
{
    mix_stress(1);
    mix_stress(64);
}
END_TEST

/* One sender, one receiver: the exact sequence comes out (global FIFO),
 * across threads. */
struct seq_check {
    fut_chan_t *c;
    long n;
    long bad;
};

static void *seq_sender(void *arg)
{
    struct seq_check *s = arg;
    for (long i = 1; i <= s->n; i++)
        if (fut_chan_send(s->c, V(i), FUT_FOREVER) != 0)
            break;
    fut_chan_close(s->c);
    return NULL;
}

START_TEST(chan_one_sender_one_receiver_exact_sequence)
{
    size_t caps[] = {0, 1, 7};
    for (size_t ci = 0; ci < 3; ci++) {
        struct seq_check s = {fut_chan_new(caps[ci]), TU_ROUNDS(50000), 0};
        pthread_t t = tu_thread(seq_sender, &s);
        long expect = 1;
        void *v;
        int rc;
        while ((rc = fut_chan_recv(s.c, &v, FUT_FOREVER)) == 0) {
            if (U(v) != (uintptr_t)expect)
                ck_abort_msg("got %zu, expected %ld (cap %zu)", (size_t)U(v), expect, caps[ci]);
            expect++;
        }
        tu_assert_rc(rc, EPIPE);
        ck_assert_int_eq(expect, s.n + 1);
        tu_join(t);
        fut_chan_free(s.c);
    }
}
END_TEST

/* ---------------------------------------------------------------------
 * 9. Pool jobs: a waiting job runs its pool's queued jobs meanwhile
 * ------------------------------------------------------------------- */

static void *job_recv(void *arg)
{
    void *v = NULL;
    int rc = fut_chan_recv(arg, &v, FUT_FOREVER);
    return rc ? fut_raise(rc) : v;
}

static void *job_send(void *arg)
{
    int rc = fut_chan_send(arg, V(5), FUT_FOREVER);
    return rc ? fut_raise(rc) : V(6);
}

START_TEST(chan_pool_job_waits_and_helps_its_pool)
{
    fut_pool_opts o = {.threads = 1};
    fut_pool_t *p = fut_pool_new(&o);
    for (int order = 0; order < 2; order++) {
        fut_chan_t *c = fut_chan_new(0);
        /* One thread: the first job waits in the channel; its partner is
         * queued behind it and runs on the same thread meanwhile. */
        future_t *a = fut_pool_submit(p, order ? job_send : job_recv, c);
        future_t *b = fut_pool_submit(p, order ? job_recv : job_send, c);
        void *va = NULL, *vb = NULL;
        tu_assert_rc(future_get(a, &va), 0);
        tu_assert_rc(future_get(b, &vb), 0);
        ck_assert_ptr_eq(order ? vb : va, V(5));
        ck_assert_ptr_eq(order ? va : vb, V(6));
        future_release(a);
        future_release(b);
        fut_chan_free(c);
    }
    fut_pool_free(p);
}
END_TEST

/* ---------------------------------------------------------------------
 * Suite
 * ------------------------------------------------------------------- */

static Suite *chan_suite(void)
{
    Suite *s = suite_create("chan");
    TCase *tc;

    tc = tu_tcase(s, "contract", 30);
    tcase_add_test(tc, chan_bad_input_einval);
    tcase_add_test(tc, chan_new_huge_capacity_enomem);
    tcase_add_test(tc, chan_new_alloc_failure_sweep);
    tcase_add_test(tc, chan_bounded_fifo_and_len);
    tcase_add_test(tc, chan_null_values_and_dropped_receive);

    tc = tu_tcase(s, "waiting", 30);
    tcase_add_test(tc, chan_unbuffered_send_waits_for_receiver);
    tcase_add_test(tc, chan_unbuffered_send_timeout_leaves_nothing);
    tcase_add_test(tc, chan_try_forms_hand_over_to_waiting_partner);
    tcase_add_test(tc, chan_bounded_waiting_sender_moves_into_buffer);
    tcase_add_test(tc, chan_waiting_senders_served_in_arrival_order);
    tcase_add_test(tc, chan_waiting_receivers_served_in_arrival_order);
    tcase_add_test(tc, chan_coroutines_served_in_arrival_order);

    tc = tu_tcase(s, "close", 30);
    tcase_add_test(tc, chan_close_drains_then_epipe);
    tcase_add_test(tc, chan_close_wakes_every_waiter);
    tcase_add_test(tc, chan_free_with_waiters_wakes_them);
    tcase_add_test(tc, chan_free_races_timeouts);

    tc = tu_tcase(s, "coroutines", 30);
    tcase_add_test(tc, chan_coroutines_ping_pong_unbuffered);
    tcase_add_test(tc, chan_coroutine_timeouts);
    tcase_add_test(tc, chan_cancelled_coroutine_sends_and_takes_nothing);
    tcase_add_test(tc, chan_cancel_after_hand_over_keeps_the_exchange);
    tcase_add_test(tc, chan_pool_job_waits_and_helps_its_pool);

    tc = tu_tcase(s, "cancel_race", 60);
    tcase_add_test(tc, chan_cancel_races_partner_no_loss);
    tc = tu_tcase(s, "timeout_race", 60);
    tcase_add_test(tc, chan_timeouts_race_partner_no_loss);
    tc = tu_tcase(s, "mixed", 60);
    tcase_add_test(tc, chan_stress_mixed_unbuffered_exactly_once);
    tcase_add_test(tc, chan_stress_mixed_bounded_exactly_once);
    tc = tu_tcase(s, "sequence", 60);
    tcase_add_test(tc, chan_one_sender_one_receiver_exact_sequence);
    return s;
}

TU_MAIN(chan_suite)
