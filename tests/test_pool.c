/* SPDX-License-Identifier: MIT */
/*
 * test_pool.c - "The thread pool" section of the contract
 *
 * Jobs are held RUNNING with tu_blocker (a gate the library knows nothing
 * about: a job waiting through the library would run queued jobs instead
 * of holding its thread), so "queued" and "running" are deterministic on a
 * one-thread pool.  Shutdown tests learn that shutdown has begun from the
 * pool itself (a try-submit answering ESHUTDOWN), never from a sleep.
 */
#include "testutil.h"

#include <sys/syscall.h>

#define V(n) ((void *)(uintptr_t)(n))
#define SENTINEL V(0xdeadbeef)
#define MS (1000000ull)
/* "Surely a hang": the bound on waits for progress that should take
 * milliseconds, so a deadlock fails its case instead of timing it out. */
#if defined(TU_SANITIZED)
#define BOUND_MS 30000L
#else
#define BOUND_MS 10000L
#endif
/* A generous upper bound for a short timed wait on a loaded machine. */
#if defined(TU_SANITIZED)
#define UPPER_NS (15000ull * MS)
#else
#define UPPER_NS (5000ull * MS)
#endif

static fut_pool_t *pool(size_t threads, size_t queue_max, const char *name)
{
    fut_pool_opts o = { .threads = threads, .queue_max = queue_max, .name = name };
    fut_pool_t *p = fut_pool_new(&o);
    ck_assert_msg(p != NULL, "fut_pool_new: %s", strerror(errno));
    return p;
}

/* Starts b's job on p and waits until it is running. */
static future_t *start_blocker(fut_pool_t *p, tu_blocker *b)
{
    future_t *f = fut_pool_submit(p, tu_blocker_job, b);
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(tu_gate_wait_ms(&b->started, BOUND_MS), "blocker never started");
    return f;
}

/* ---------------------------------------------------------------------
 * Watching for shutdown: a thread that try-submits every millisecond
 * until the pool answers ESHUTDOWN, then releases a blocker.  The jobs it
 * managed to queue before that are kept for the test to check.
 * ------------------------------------------------------------------- */

#define MAX_LATE 512

struct shut_watch {
    fut_pool_t *p;
    tu_blocker *b;
    atomic_int late_ran;          /* runs of the late jobs */
    future_t *late[MAX_LATE];
    int nlate;                    /* queued late jobs (kept or released) */
    int nkept;                    /* of which kept in late[] */
    int saw_eshutdown;
    int other_errno;
};

static void *shut_watch_main(void *arg)
{
    struct shut_watch *w = arg;
    uint64_t end = tu_now_ns() + (uint64_t)BOUND_MS * MS;
    while (tu_now_ns() < end) {
        errno = 0;
        future_t *f = fut_pool_try_submit(w->p, tu_count_job, &w->late_ran);
        if (f) {
            w->nlate++;
            if (w->nkept < MAX_LATE)
                w->late[w->nkept++] = f;
            else
                future_release(f);
        } else if (errno == ESHUTDOWN) {
            w->saw_eshutdown = 1;
            break;
        } else if (errno != EAGAIN) {
            w->other_errno = errno;
            break;
        }
        tu_sleep_ms(1);
    }
    tu_gate_open(&w->b->release);
    return NULL;
}

static pthread_t watch_shutdown(struct shut_watch *w, fut_pool_t *p, tu_blocker *b)
{
    memset(w, 0, sizeof *w);
    w->p = p;
    w->b = b;
    atomic_init(&w->late_ran, 0);
    return tu_thread(shut_watch_main, w);
}

/* ---------------------------------------------------------------------
 * Creation and options
 * ------------------------------------------------------------------- */

/* The default thread count is one per CPU the process may use: its
 * affinity mask, lowered by a cgroup CPU quota (futures.h).  So it is at
 * least 1 and at most the mask's count, whatever taskset or a container
 * did; test_waiter checks that it follows a changed mask exactly. */
static void assert_default_threads(size_t n)
{
    cpu_set_t set;
    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    ck_assert_uint_ge(n, 1);
    ck_assert_uint_le(n, (size_t)CPU_COUNT(&set));
    ck_assert_uint_le(n, (size_t)tu_online_cpus());
}

START_TEST(pool_new_null_opts_defaults)
{
    fut_pool_t *p = fut_pool_new(NULL);
    ck_assert_ptr_nonnull(p);
    assert_default_threads(fut_pool_threads(p));
    future_t *f = fut_pool_submit(p, tu_identity_job, V(17));
    void *v = NULL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, V(17));
    future_release(f);
    fut_pool_free(p);
}
END_TEST

START_TEST(pool_threads_zero_means_online_cpus)
{
    fut_pool_t *p = pool(0, 0, "zero");
    assert_default_threads(fut_pool_threads(p));
    fut_pool_free(p);
}
END_TEST

START_TEST(pool_threads_count)
{
    ck_assert_uint_eq(fut_pool_threads(NULL), 0);
    fut_pool_t *p = pool(3, 0, NULL);
    ck_assert_uint_eq(fut_pool_threads(p), 3);
    fut_pool_free(p);
    p = pool(1, 4, NULL);
    ck_assert_uint_eq(fut_pool_threads(p), 1);
    fut_pool_free(p);
}
END_TEST

START_TEST(pool_threads_run_concurrently)
{
    /* n threads: n jobs that never return until released all run at once */
    enum { N = 3 };
    fut_pool_t *p = pool(N, 0, "conc");
    tu_blocker b[N];
    future_t *f[N];
    for (int i = 0; i < N; i++) {
        tu_blocker_init(&b[i], V(i + 1));
        f[i] = start_blocker(p, &b[i]);
        tu_assert_state(f[i], FUTURE_RUNNING);
    }
    for (int i = 0; i < N; i++)
        tu_gate_open(&b[i].release);
    for (int i = 0; i < N; i++) {
        void *v = NULL;
        tu_assert_rc(future_get(f[i], &v), 0);
        ck_assert_ptr_eq(v, V(i + 1));
        future_release(f[i]);
    }
    fut_pool_free(p);
    for (int i = 0; i < N; i++)
        tu_blocker_destroy(&b[i]);
}
END_TEST

/* ---------------------------------------------------------------------
 * Thread names
 * ------------------------------------------------------------------- */

struct namerec {
    char name[32];       /* pthread_getname_np */
    char comm[32];       /* /proc/self/task/<tid>/comm */
    int getname_rc;
};

static void *name_job(void *arg)
{
    struct namerec *r = arg;
    r->getname_rc = pthread_getname_np(pthread_self(), r->name, sizeof r->name);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/comm", (long)syscall(SYS_gettid));
    FILE *fp = fopen(path, "r");
    if (fp) {
        if (fgets(r->comm, sizeof r->comm, fp))
            r->comm[strcspn(r->comm, "\n")] = '\0';
        fclose(fp);
    }
    return NULL;
}

static void name_of_a_job(fut_pool_t *p, struct namerec *r)
{
    memset(r, 0, sizeof *r);
    r->getname_rc = -1;
    future_t *f = fut_pool_submit(p, name_job, r);
    tu_assert_rc(future_get(f, NULL), 0);
    future_release(f);
    tu_assert_rc(r->getname_rc, 0);
}

START_TEST(pool_thread_names_carry_prefix)
{
    fut_pool_t *p = pool(2, 0, "tpool");
    for (int i = 0; i < 20; i++) {
        struct namerec r;
        name_of_a_job(p, &r);
        ck_assert_msg(strncmp(r.name, "tpool-", 6) == 0, "thread name '%s'", r.name);
        ck_assert_msg(strncmp(r.comm, "tpool-", 6) == 0, "comm '%s'", r.comm);
        ck_assert_str_eq(r.name, r.comm);
    }
    fut_pool_free(p);
}
END_TEST

/* Each thread has its own name: hold one job on each thread at once. */
struct named_blocker {
    tu_blocker b;
    struct namerec r;
};

static void *named_blocker_job(void *arg)
{
    struct named_blocker *nb = arg;
    name_job(&nb->r);
    return tu_blocker_job(&nb->b);
}

START_TEST(pool_thread_names_distinct_per_thread)
{
    fut_pool_t *p = pool(2, 0, "dist");
    struct named_blocker nb[2];
    future_t *f[2];
    for (int i = 0; i < 2; i++) {
        memset(&nb[i].r, 0, sizeof nb[i].r);
        tu_blocker_init(&nb[i].b, NULL);
        f[i] = fut_pool_submit(p, named_blocker_job, &nb[i]);
        ck_assert(tu_gate_wait_ms(&nb[i].b.started, BOUND_MS));
    }
    for (int i = 0; i < 2; i++) {
        tu_gate_open(&nb[i].b.release);
        tu_assert_rc(future_get(f[i], NULL), 0);
        future_release(f[i]);
        ck_assert_msg(strncmp(nb[i].r.comm, "dist-", 5) == 0, "comm '%s'", nb[i].r.comm);
    }
    ck_assert_str_ne(nb[0].r.comm, nb[1].r.comm);
    fut_pool_free(p);
    for (int i = 0; i < 2; i++)
        tu_blocker_destroy(&nb[i].b);
}
END_TEST

START_TEST(pool_thread_name_default_fut)
{
    fut_pool_t *p = fut_pool_new(NULL);
    struct namerec r;
    name_of_a_job(p, &r);
    ck_assert_msg(strncmp(r.comm, "fut-", 4) == 0, "comm '%s'", r.comm);
    fut_pool_free(p);
    p = pool(1, 0, NULL);
    name_of_a_job(p, &r);
    ck_assert_msg(strncmp(r.comm, "fut-", 4) == 0, "comm '%s'", r.comm);
    fut_pool_free(p);
}
END_TEST

START_TEST(pool_thread_name_long_truncated)
{
    /* Linux names are 15 bytes at most; a long prefix still makes a pool */
    const char *longname = "averyveryverylongpoolname";
    fut_pool_t *p = pool(1, 0, longname);
    struct namerec r;
    name_of_a_job(p, &r);
    ck_assert_uint_le(strlen(r.comm), 15);
    ck_assert_uint_ge(strlen(r.comm), 5);
    ck_assert_msg(strncmp(r.comm, longname, 5) == 0, "comm '%s'", r.comm);
    fut_pool_free(p);
}
END_TEST

/* ---------------------------------------------------------------------
 * Results and errors
 * ------------------------------------------------------------------- */

static void *raise_job(void *arg)
{
    fut_raise((int)(intptr_t)arg);
    return V(1234);                 /* ignored once fut_raise was called */
}

START_TEST(pool_submit_result)
{
    fut_pool_t *p = pool(2, 0, "res");
    enum { N = 64 };
    future_t *f[N];
    for (int i = 0; i < N; i++)
        ck_assert_ptr_nonnull(f[i] = fut_pool_submit(p, tu_identity_job, V(i + 1)));
    for (int i = 0; i < N; i++) {
        void *v = NULL;
        tu_assert_rc(future_get(f[i], &v), 0);
        ck_assert_ptr_eq(v, V(i + 1));
        tu_assert_state(f[i], FUTURE_DONE);
        future_release(f[i]);
    }
    fut_pool_free(p);
}
END_TEST

START_TEST(pool_job_raise_fails_future)
{
    fut_pool_t *p = pool(1, 0, "raise");
    future_t *a = fut_pool_submit(p, raise_job, V(EIO));
    future_t *b = fut_pool_submit(p, raise_job, V(0));
    future_t *c = fut_pool_submit(p, raise_job, V(-7));
    future_t *d = fut_pool_submit(p, tu_identity_job, V(5));   /* after a raise */
    void *v = SENTINEL;
    tu_assert_rc(future_get(a, &v), EIO);
    ck_assert_ptr_null(v);
    tu_assert_state(a, FUTURE_FAILED);
    tu_assert_rc(future_get(b, NULL), EINVAL);   /* err <= 0 is EINVAL */
    tu_assert_rc(future_get(c, NULL), EINVAL);
    tu_assert_rc(future_get(d, &v), 0);          /* no leak into the next job */
    ck_assert_ptr_eq(v, V(5));
    future_release(a);
    future_release(b);
    future_release(c);
    future_release(d);
    fut_pool_free(p);
}
END_TEST

START_TEST(pool_job_state_transitions)
{
    fut_pool_t *p = pool(1, 0, "state");
    tu_blocker b;
    tu_blocker_init(&b, V(3));
    future_t *a = start_blocker(p, &b);
    future_t *q = fut_pool_submit(p, tu_identity_job, V(4));
    tu_assert_state(a, FUTURE_RUNNING);
    ck_assert(!future_done(a));
    tu_assert_state(q, FUTURE_PENDING);
    tu_assert_rc(future_wait(q, 0), ETIMEDOUT);
    tu_gate_open(&b.release);
    void *v = NULL;
    tu_assert_rc(future_get(q, &v), 0);
    ck_assert_ptr_eq(v, V(4));
    tu_assert_state(a, FUTURE_DONE);
    tu_assert_state(q, FUTURE_DONE);
    future_release(a);
    future_release(q);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

START_TEST(pool_job_resolved_by_hand_first_completion_wins)
{
    fut_pool_t *p = pool(1, 0, "hand");
    tu_blocker b;
    tu_blocker_init(&b, V(3));
    future_t *a = start_blocker(p, &b);
    tu_assert_rc(future_resolve(a, V(77)), 0);
    tu_assert_state(a, FUTURE_DONE);
    tu_gate_open(&b.release);
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    ck_assert_int_eq(atomic_load(&b.finished), 1);
    void *v = NULL;
    tu_assert_rc(future_get(a, &v), 0);
    ck_assert_ptr_eq(v, V(77));          /* the job's return came second */
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* ---------------------------------------------------------------------
 * Bad input
 * ------------------------------------------------------------------- */

START_TEST(pool_null_args_einval)
{
    fut_pool_t *p = pool(1, 0, "null");
    atomic_int ran = 0;
    void *args[2] = { &ran, &ran };
    void *res[2] = { SENTINEL, SENTINEL };
    tu_assert_null_errno(fut_pool_submit(NULL, tu_count_job, &ran), EINVAL);
    tu_assert_null_errno(fut_pool_submit(p, NULL, &ran), EINVAL);
    tu_assert_null_errno(fut_pool_try_submit(NULL, tu_count_job, &ran), EINVAL);
    tu_assert_null_errno(fut_pool_try_submit(p, NULL, &ran), EINVAL);
    tu_assert_rc(fut_pool_map(NULL, tu_count_job, args, res, 2), EINVAL);
    tu_assert_rc(fut_pool_map(p, NULL, args, res, 2), EINVAL);
    tu_assert_rc(fut_pool_map(p, tu_count_job, NULL, res, 2), EINVAL);
    tu_assert_rc(fut_pool_shutdown(NULL, FUT_DRAIN), EINVAL);
    tu_assert_rc(fut_pool_shutdown(NULL, FUT_CANCEL), EINVAL);
    fut_pool_free(NULL);
    ck_assert_uint_eq(fut_pool_threads(NULL), 0);
    /* nothing ran, nothing was written */
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    ck_assert_int_eq(atomic_load(&ran), 0);
    ck_assert_ptr_eq(res[0], SENTINEL);
    fut_pool_free(p);
}
END_TEST

START_TEST(pool_shutdown_bad_how_einval)
{
    fut_pool_t *p = pool(1, 0, "how");
    tu_assert_rc(fut_pool_shutdown(p, (enum fut_shutdown)42), EINVAL);
    tu_assert_rc(fut_pool_shutdown(p, (enum fut_shutdown)-1), EINVAL);
    /* nothing was done: the pool still takes and runs jobs */
    future_t *f = fut_pool_submit(p, tu_identity_job, V(8));
    ck_assert_ptr_nonnull(f);
    void *v = NULL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, V(8));
    future_release(f);
    fut_pool_free(p);
}
END_TEST

struct cbrec {
    atomic_int calls;
    pthread_t thread;
    int state;
};

static void cb_rec(future_t *f, void *arg)
{
    struct cbrec *r = arg;
    r->thread = pthread_self();
    r->state = (int)future_state(f);
    atomic_fetch_add(&r->calls, 1);
}

/* ---------------------------------------------------------------------
 * Cancellation
 * ------------------------------------------------------------------- */

START_TEST(pool_cancel_queued_job_never_runs)
{
    fut_pool_t *p = pool(1, 0, "cq");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    atomic_int ran = 0;
    future_t *a = start_blocker(p, &b);
    future_t *q = fut_pool_submit(p, tu_count_job, &ran);
    tu_assert_state(q, FUTURE_PENDING);
    tu_assert_rc(future_cancel(q), 0);
    tu_assert_state(q, FUTURE_CANCELLED);
    void *v = SENTINEL;
    tu_assert_rc(future_get(q, &v), ECANCELED);
    ck_assert_ptr_null(v);
    tu_assert_rc(future_cancel(q), EINVAL);
    tu_gate_open(&b.release);
    /* a job queued after q has run: the worker went past q */
    future_t *after = fut_pool_submit(p, tu_identity_job, V(1));
    tu_assert_rc(future_get(after, NULL), 0);
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    ck_assert_int_eq(atomic_load(&ran), 0);
    tu_assert_state(q, FUTURE_CANCELLED);
    future_release(after);
    future_release(q);
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

START_TEST(pool_cancel_running_job_ebusy)
{
    fut_pool_t *p = pool(1, 0, "cr");
    tu_blocker b;
    tu_blocker_init(&b, V(21));
    future_t *a = start_blocker(p, &b);
    tu_assert_rc(future_cancel(a), EBUSY);
    tu_assert_state(a, FUTURE_RUNNING);
    tu_gate_open(&b.release);
    void *v = NULL;
    tu_assert_rc(future_get(a, &v), 0);         /* it was not stopped */
    ck_assert_ptr_eq(v, V(21));
    ck_assert_int_eq(atomic_load(&b.finished), 1);
    tu_assert_rc(future_cancel(a), EINVAL);     /* complete */
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

static void *getter_main(void *arg)
{
    future_t *f = arg;
    void *v = SENTINEL;
    int rc = future_get(f, &v);
    return v == NULL ? V(rc) : V(-1);
}

START_TEST(pool_cancel_queued_wakes_waiters)
{
    fut_pool_t *p = pool(1, 0, "cw");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    atomic_int ran = 0;
    struct cbrec r = { 0 };
    future_t *a = start_blocker(p, &b);
    future_t *q = fut_pool_submit(p, tu_count_job, &ran);
    tu_assert_rc(future_on_done(q, cb_rec, &r), 0);
    pthread_t t = tu_thread(getter_main, q);
    tu_sleep_ms(20);
    tu_assert_rc(future_cancel(q), 0);
    ck_assert_ptr_eq(tu_join(t), V(ECANCELED));
    /* its callback ran once, in the cancelling thread */
    ck_assert_int_eq(atomic_load(&r.calls), 1);
    ck_assert_int_eq(r.state, FUTURE_CANCELLED);
    ck_assert(pthread_equal(r.thread, pthread_self()));
    tu_gate_open(&b.release);
    fut_pool_free(p);
    ck_assert_int_eq(atomic_load(&ran), 0);
    future_release(q);
    future_release(a);
    tu_blocker_destroy(&b);
}
END_TEST

/* ---------------------------------------------------------------------
 * Callbacks and continuations on jobs
 * ------------------------------------------------------------------- */

static void *then_add1(void *value, void *arg)
{
    struct cbrec *r = arg;
    r->thread = pthread_self();
    atomic_fetch_add(&r->calls, 1);
    return V((uintptr_t)value + 1);
}

START_TEST(pool_on_done_runs_in_pool_thread)
{
    fut_pool_t *p = pool(1, 0, "cb");
    tu_blocker b;
    tu_blocker_init(&b, V(1));
    future_t *a = start_blocker(p, &b);
    struct cbrec r = { 0 }, t = { 0 };
    tu_assert_rc(future_on_done(a, cb_rec, &r), 0);
    future_t *n = future_then(a, then_add1, &t);
    ck_assert_ptr_nonnull(n);
    ck_assert_int_eq(atomic_load(&r.calls), 0);
    tu_gate_open(&b.release);
    void *v = NULL;
    tu_assert_rc(future_get(n, &v), 0);
    ck_assert_ptr_eq(v, V(2));
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    ck_assert_int_eq(atomic_load(&r.calls), 1);
    ck_assert_int_eq(atomic_load(&t.calls), 1);
    ck_assert_int_eq(r.state, FUTURE_DONE);
    /* the job's thread completed it, so the callbacks ran there */
    ck_assert(!pthread_equal(r.thread, pthread_self()));
    ck_assert(!pthread_equal(t.thread, pthread_self()));
    ck_assert(pthread_equal(r.thread, t.thread));
    future_release(n);
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

START_TEST(pool_then_on_failed_and_cancelled_jobs)
{
    fut_pool_t *p = pool(1, 0, "thenf");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    future_t *a = start_blocker(p, &b);
    future_t *bad = fut_pool_submit(p, raise_job, V(EMSGSIZE));
    future_t *gone = fut_pool_submit(p, tu_identity_job, V(1));
    struct cbrec t1 = { 0 }, t2 = { 0 };
    future_t *n1 = future_then(bad, then_add1, &t1);
    future_t *n2 = future_then(gone, then_add1, &t2);
    tu_assert_rc(future_cancel(gone), 0);
    tu_gate_open(&b.release);
    tu_assert_rc(future_get(n1, NULL), EMSGSIZE);
    tu_assert_rc(future_get(n2, NULL), ECANCELED);
    tu_assert_state(n2, FUTURE_CANCELLED);
    ck_assert_int_eq(atomic_load(&t1.calls), 0);
    ck_assert_int_eq(atomic_load(&t2.calls), 0);
    future_release(n1);
    future_release(n2);
    future_release(bad);
    future_release(gone);
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* ---------------------------------------------------------------------
 * Bounded queue
 * ------------------------------------------------------------------- */

START_TEST(pool_try_submit_eagain_when_full)
{
    fut_pool_t *p = pool(1, 2, "full");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    atomic_int ran = 0;
    future_t *a = start_blocker(p, &b);       /* running: does not count */
    future_t *q1 = fut_pool_try_submit(p, tu_count_job, &ran);
    future_t *q2 = fut_pool_try_submit(p, tu_count_job, &ran);
    ck_assert_ptr_nonnull(q1);
    ck_assert_ptr_nonnull(q2);
    tu_assert_null_errno(fut_pool_try_submit(p, tu_count_job, &ran), EAGAIN);
    tu_assert_null_errno(fut_pool_try_submit(p, tu_count_job, &ran), EAGAIN);
    tu_gate_open(&b.release);
    tu_assert_rc(future_get(q1, NULL), 0);
    tu_assert_rc(future_get(q2, NULL), 0);
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    ck_assert_int_eq(atomic_load(&ran), 2);   /* the refused ones never ran */
    future_release(q1);
    future_release(q2);
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

struct submitter {
    fut_pool_t *p;
    fut_fn fn;
    void *arg;
    atomic_int returned;
    future_t *f;
    int err;
};

static void *submitter_main(void *arg)
{
    struct submitter *s = arg;
    errno = 0;
    s->f = fut_pool_submit(s->p, s->fn, s->arg);
    s->err = errno;
    atomic_store(&s->returned, 1);
    return NULL;
}

START_TEST(pool_submit_waits_for_room)
{
    fut_pool_t *p = pool(1, 1, "room");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    atomic_int ran = 0;
    future_t *a = start_blocker(p, &b);
    future_t *q = fut_pool_submit(p, tu_count_job, &ran);   /* fills it */
    ck_assert_ptr_nonnull(q);
    struct submitter s = { p, tu_identity_job, V(55), 0, NULL, 0 };
    pthread_t t = tu_thread(submitter_main, &s);
    tu_sleep_ms(50);
    ck_assert_msg(atomic_load(&s.returned) == 0, "submit did not wait for room");
    tu_gate_open(&b.release);                 /* q starts: room for one */
    tu_join(t);
    ck_assert_ptr_nonnull(s.f);
    void *v = NULL;
    tu_assert_rc(future_get(s.f, &v), 0);
    ck_assert_ptr_eq(v, V(55));
    ck_assert_int_eq(atomic_load(&ran), 1);
    future_release(s.f);
    future_release(q);
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

START_TEST(pool_submit_waiting_for_room_shutdown_returns)
{
    /* a submit blocked on a full queue when shutdown starts must not hang;
     * it fails with ESHUTDOWN or its job ends complete */
    fut_pool_t *p = pool(1, 1, "roomshut");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    atomic_int ran = 0;
    future_t *a = start_blocker(p, &b);
    future_t *q = fut_pool_submit(p, tu_count_job, &ran);
    struct submitter s = { p, tu_count_job, &ran, 0, NULL, 0 };
    pthread_t t = tu_thread(submitter_main, &s);
    tu_sleep_ms(30);
    struct shut_watch w;
    pthread_t wt = watch_shutdown(&w, p, &b);
    tu_assert_rc(fut_pool_shutdown(p, FUT_CANCEL), 0);
    tu_join(wt);
    tu_join(t);
    ck_assert(w.saw_eshutdown);
    if (s.f) {
        ck_assert(future_done(s.f));
        future_release(s.f);
    } else {
        ck_assert_int_eq(s.err, ESHUTDOWN);
    }
    tu_assert_state(q, FUTURE_CANCELLED);
    ck_assert_int_eq(atomic_load(&ran), 0);
    future_release(q);
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* A job that waited on its queued child may run it itself; once the child
 * has run, it is neither queued nor unstarted, so it holds no room. */
struct inl {
    fut_pool_t *p;
    tu_gate child_done;
    tu_gate release;
    atomic_int child_ran;
    int rc;
};

static void *inline_parent_job(void *arg)
{
    struct inl *x = arg;
    future_t *k = fut_pool_submit(x->p, tu_count_job, &x->child_ran);
    x->rc = k ? future_get(k, NULL) : errno;
    future_release(k);
    tu_gate_open(&x->child_done);
    tu_gate_wait(&x->release);
    return NULL;
}

START_TEST(pool_queue_room_after_awaited_child_ran)
{
    fut_pool_t *p = pool(1, 1, "inl");
    struct inl x;
    x.p = p;
    tu_gate_init(&x.child_done);
    tu_gate_init(&x.release);
    atomic_init(&x.child_ran, 0);
    x.rc = -1;
    future_t *parent = fut_pool_submit(p, inline_parent_job, &x);
    ck_assert(tu_gate_wait_ms(&x.child_done, BOUND_MS));
    tu_assert_rc(x.rc, 0);
    ck_assert_int_eq(atomic_load(&x.child_ran), 1);
    /* the only thread is busy in the parent, nothing is queued: room */
    errno = 0;
    future_t *f = fut_pool_try_submit(p, tu_identity_job, V(5));
    int err = errno;
    tu_gate_open(&x.release);
    ck_assert_msg(f != NULL, "try_submit with an empty queue (queue_max 1): %s",
                  strerror(err));
    void *v = NULL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, V(5));
    future_release(f);
    tu_assert_rc(future_get(parent, NULL), 0);
    future_release(parent);
    fut_pool_free(p);
    tu_gate_destroy(&x.child_done);
    tu_gate_destroy(&x.release);
}
END_TEST

/* A job of a bounded pool that submits more than fits and waits for them:
 * the full-queue submit runs queued jobs meanwhile. */
struct fanout {
    fut_pool_t *p;
    int n;
    atomic_int ran;
};

static void *fanout_job(void *arg)
{
    struct fanout *fo = arg;
    future_t *fs[16];
    for (int i = 0; i < fo->n; i++) {
        fs[i] = fut_pool_submit(fo->p, tu_count_job, &fo->ran);
        if (!fs[i])
            return fut_raise(errno);
    }
    int rc = future_gather(fs, (size_t)fo->n, NULL, FUT_FOREVER);
    for (int i = 0; i < fo->n; i++)
        future_release(fs[i]);
    return rc ? fut_raise(rc) : V(fo->n);
}

START_TEST(pool_submit_full_from_job_no_deadlock)
{
    fut_pool_t *p = pool(1, 1, "fan");
    struct fanout fo = { p, 12, 0 };
    future_t *f = fut_pool_submit(p, fanout_job, &fo);
    tu_assert_rc(future_wait(f, BOUND_MS), 0);
    void *v = NULL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, V(12));
    ck_assert_int_eq(atomic_load(&fo.ran), 12);
    future_release(f);
    fut_pool_free(p);
}
END_TEST

/* ---------------------------------------------------------------------
 * Shutdown
 * ------------------------------------------------------------------- */

START_TEST(pool_submit_after_shutdown_eshutdown)
{
    const enum fut_shutdown hows[2] = { FUT_DRAIN, FUT_CANCEL };
    for (int k = 0; k < 2; k++) {
        fut_pool_t *p = pool(2, k ? 3 : 0, "after");
        atomic_int ran = 0;
        void *args[2] = { &ran, &ran };
        void *res[2] = { SENTINEL, SENTINEL };
        tu_assert_rc(fut_pool_shutdown(p, hows[k]), 0);
        tu_assert_null_errno(fut_pool_submit(p, tu_count_job, &ran), ESHUTDOWN);
        tu_assert_null_errno(fut_pool_try_submit(p, tu_count_job, &ran), ESHUTDOWN);
        tu_assert_rc(fut_pool_map(p, tu_count_job, args, res, 2), ESHUTDOWN);
        ck_assert_int_eq(atomic_load(&ran), 0);
        ck_assert_uint_eq(fut_pool_threads(p), 2);
        fut_pool_free(p);
    }
}
END_TEST

START_TEST(pool_shutdown_twice_harmless)
{
    fut_pool_t *p = pool(2, 0, "twice");
    atomic_int ran = 0;
    future_t *f = fut_pool_submit(p, tu_count_job, &ran);
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    tu_assert_rc(fut_pool_shutdown(p, FUT_CANCEL), 0);
    tu_assert_state(f, FUTURE_DONE);          /* a later CANCEL undoes nothing */
    ck_assert_int_eq(atomic_load(&ran), 1);
    future_release(f);
    fut_pool_free(p);                         /* after shutdown: just frees */

    p = pool(1, 0, "twice2");
    tu_assert_rc(fut_pool_shutdown(p, FUT_CANCEL), 0);
    tu_assert_rc(fut_pool_shutdown(p, FUT_CANCEL), 0);
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    fut_pool_free(p);
}
END_TEST

struct concurrent_shut {
    fut_pool_t *p;
    enum fut_shutdown how;
    int rc;
};

static void *shutdown_main(void *arg)
{
    struct concurrent_shut *c = arg;
    c->rc = fut_pool_shutdown(c->p, c->how);
    return NULL;
}

START_TEST(pool_shutdown_concurrent_callers)
{
    /* two threads shutting down at once: both return 0 after the join */
    fut_pool_t *p = pool(2, 0, "cc");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    future_t *a = start_blocker(p, &b);
    struct concurrent_shut c1 = { p, FUT_DRAIN, -1 }, c2 = { p, FUT_CANCEL, -1 };
    pthread_t t1 = tu_thread(shutdown_main, &c1);
    pthread_t t2 = tu_thread(shutdown_main, &c2);
    struct shut_watch w;
    pthread_t wt = watch_shutdown(&w, p, &b);
    tu_join(wt);
    tu_join(t1);
    tu_join(t2);
    tu_assert_rc(c1.rc, 0);
    tu_assert_rc(c2.rc, 0);
    ck_assert(w.saw_eshutdown);
    ck_assert_int_eq(atomic_load(&b.finished), 1);
    tu_assert_state(a, FUTURE_DONE);
    for (int i = 0; i < w.nkept; i++) {
        ck_assert(future_done(w.late[i]));
        future_release(w.late[i]);
    }
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* Submits racing a shutdown (DRAIN and CANCEL, bounded and not): the
 * check that the pool still takes jobs and the reservation of a place are
 * one atomic operation, so every submit either fails with ESHUTDOWN or
 * returns a future that completes (DONE, or CANCELLED by FUT_CANCEL):
 * none is left queued with no worker to run it. */
struct submit_race {
    fut_pool_t *p;
    atomic_int ready, go;
    long ok, refused;
    future_t *fs[4000];
};

static void *race_job(void *arg)
{
    return arg;
}

static void *race_submitter(void *arg)
{
    struct submit_race *r = arg;
    atomic_store(&r->ready, 1);
    while (!atomic_load(&r->go)) {
    }
    for (int i = 0; i < 4000; i++) {
        future_t *f = fut_pool_try_submit(r->p, race_job, (void *)(intptr_t)i);
        if (f) {
            r->fs[r->ok++] = f;
        } else {
            ck_assert(errno == ESHUTDOWN || errno == EAGAIN);
            if (errno == ESHUTDOWN) {
                r->refused++;
                break;
            }
        }
    }
    return NULL;
}

START_TEST(pool_submit_races_shutdown_nothing_stranded)
{
    long rounds = TU_ROUNDS(200);
    long done = 0, cancelled = 0, refused = 0;
    for (long k = 0; k < rounds; k++) {
        fut_pool_t *p = pool(2, k % 3 == 0 ? 64 : 0, "race");
        struct submit_race r[2];
        pthread_t t[2];
        for (int i = 0; i < 2; i++) {
            memset(&r[i], 0, sizeof r[i]);
            r[i].p = p;
            atomic_init(&r[i].ready, 0);
            atomic_init(&r[i].go, 0);
            t[i] = tu_thread(race_submitter, &r[i]);
        }
        for (int i = 0; i < 2; i++)
            while (!atomic_load(&r[i].ready))
                sched_yield();
        for (int i = 0; i < 2; i++)
            atomic_store(&r[i].go, 1);
        /* 0 to 90 us into the submits */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do
            clock_gettime(CLOCK_MONOTONIC, &t1);
        while ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) <
               (k % 10) * 10000L);
        tu_assert_rc(fut_pool_shutdown(p, k % 2 ? FUT_CANCEL : FUT_DRAIN), 0);
        for (int i = 0; i < 2; i++) {
            tu_join(t[i]);
            refused += r[i].refused;
            for (long j = 0; j < r[i].ok; j++) {
                future_t *f = r[i].fs[j];
                ck_assert_msg(future_done(f), "a job accepted before the close was stranded");
                if (future_state(f) == FUTURE_DONE)
                    done++;
                else
                    cancelled++;
                if (k % 2 == 0)
                    tu_assert_state(f, FUTURE_DONE);    /* DRAIN runs them all */
                future_release(f);
            }
        }
        fut_pool_free(p);
    }
    printf("pool_submit_races_shutdown_nothing_stranded: %ld done, %ld cancelled, "
           "%ld submitters refused\n", done, cancelled, refused);
}
END_TEST

/* ---------------------------------------------------------------------
 * caller_runs: a plain thread waiting for jobs that have not started runs
 * them itself; off by default (a 1-thread pool is one cook)
 * ------------------------------------------------------------------- */

static fut_pool_t *pool_caller_runs(size_t threads)
{
    fut_pool_opts o = { .threads = threads, .name = "cr", .caller_runs = true };
    fut_pool_t *p = fut_pool_new(&o);
    ck_assert_msg(p != NULL, "fut_pool_new: %s", strerror(errno));
    return p;
}

static void *whose_thread(void *arg)
{
    *(pthread_t *)arg = pthread_self();
    return arg;
}

START_TEST(pool_caller_runs_waiter_runs_queued_job)
{
    /* The only worker is held: with caller_runs the waiting thread runs the
     * job itself (and gets its value); without, the wait times out. */
    for (int cr = 0; cr < 2; cr++) {
        fut_pool_t *p = cr ? pool_caller_runs(1) : pool(1, 0, "nocr");
        tu_blocker b;
        tu_blocker_init(&b, NULL);
        future_t *blk = start_blocker(p, &b);
        pthread_t who = 0;
        future_t *f = fut_pool_submit(p, whose_thread, &who);
        ck_assert_ptr_nonnull(f);
        if (cr) {
            void *v = NULL;
            tu_assert_rc(future_get(f, &v), 0);
            ck_assert_ptr_eq(v, &who);
            ck_assert_msg(pthread_equal(who, pthread_self()), "not run by the waiter");
        } else {
            tu_assert_rc(future_wait(f, 30), ETIMEDOUT);
            ck_assert_int_eq(future_state(f), FUTURE_PENDING);
        }
        tu_gate_open(&b.release);
        tu_assert_rc(future_wait(f, FUT_FOREVER), 0);
        if (!cr)
            ck_assert_msg(!pthread_equal(who, pthread_self()), "run by the waiter");
        tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);   /* its queue entry is skipped */
        future_release(f);
        future_release(blk);
        fut_pool_free(p);
        tu_blocker_destroy(&b);
    }
}
END_TEST

static void *add_one(void *arg)
{
    return (void *)((intptr_t)arg + 1);
}

START_TEST(pool_caller_runs_gather_and_map_complete_without_workers)
{
    enum { N = 200 };
    fut_pool_t *p = pool_caller_runs(1);
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    future_t *blk = start_blocker(p, &b);
    future_t *fs[N];
    void *vals[N];
    for (intptr_t i = 0; i < N; i++)
        ck_assert_ptr_nonnull(fs[i] = fut_pool_submit(p, add_one, (void *)i));
    tu_assert_rc(future_gather(fs, N, vals, FUT_FOREVER), 0);
    for (intptr_t i = 0; i < N; i++)
        ck_assert_ptr_eq(vals[i], (void *)(i + 1));
    void *args[N], *res[N];
    for (intptr_t i = 0; i < N; i++)
        args[i] = (void *)(i * 2);
    tu_assert_rc(fut_pool_map(p, add_one, args, res, N), 0);
    for (intptr_t i = 0; i < N; i++)
        ck_assert_ptr_eq(res[i], (void *)(i * 2 + 1));
    ck_assert_int_eq(future_state(blk), FUTURE_RUNNING);   /* the worker never helped */
    tu_gate_open(&b.release);
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    for (int i = 0; i < N; i++)
        future_release(fs[i]);
    future_release(blk);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* A coroutine waiting on a caller_runs pool suspends; it never runs the
 * job on the loop's thread. */
static fut_pool_t *cr_pool;
static tu_blocker *cr_blocker;

static void *coro_waits_on_cr_pool(void *arg)
{
    pthread_t who = 0;
    future_t *f = fut_pool_submit(cr_pool, whose_thread, &who);
    if (!f)
        return fut_raise(errno);
    *(int *)arg = future_wait(f, 30);
    tu_gate_open(&cr_blocker->release);
    int rc = future_wait(f, FUT_FOREVER);
    int same = pthread_equal(who, pthread_self());
    future_release(f);
    return rc ? fut_raise(rc) : (void *)(intptr_t)(same ? 2 : 1);
}

START_TEST(pool_caller_runs_not_from_a_coroutine)
{
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    cr_pool = pool_caller_runs(1);
    cr_blocker = &b;
    future_t *blk = start_blocker(cr_pool, &b);
    int first = -1;
    void *res = NULL;
    tu_assert_rc(fut_run(coro_waits_on_cr_pool, &first, &res), 0);
    tu_assert_rc(first, ETIMEDOUT);
    ck_assert_ptr_eq(res, (void *)(intptr_t)1);     /* a worker ran it */
    tu_assert_rc(fut_pool_shutdown(cr_pool, FUT_DRAIN), 0);
    future_release(blk);
    fut_pool_free(cr_pool);
    tu_blocker_destroy(&b);
}
END_TEST

/* Several plain threads gathering overlapping sets of jobs while the
 * workers run them too: each job runs once, every value arrives. */
static void *count_and_add(void *arg)
{
    struct { atomic_int *runs; intptr_t i; } *c = arg;
    atomic_fetch_add(&c->runs[c->i], 1);
    return (void *)(c->i + 1);
}

struct gather_all {
    future_t **fs;
    int rc;
};

static void *gather_all_main(void *arg)
{
    struct gather_all *g = arg;
    g->rc = future_gather(g->fs, 400, NULL, FUT_FOREVER);
    return NULL;
}

START_TEST(pool_caller_runs_races_workers_each_job_once)
{
    enum { N = 400, T = 3 };
    long rounds = TU_ROUNDS(50);
    fut_pool_t *p = pool_caller_runs(2);
    for (long r = 0; r < rounds; r++) {
        static atomic_int runs[N];
        static struct { atomic_int *runs; intptr_t i; } ctx[N];
        future_t *fs[N];
        for (int i = 0; i < N; i++) {
            atomic_init(&runs[i], 0);
            ctx[i].runs = runs;
            ctx[i].i = i;
            ck_assert_ptr_nonnull(fs[i] = fut_pool_submit(p, count_and_add, &ctx[i]));
        }
        /* This thread and T others gather all of them at once. */
        struct gather_all g[T];
        pthread_t t[T];
        for (int k = 0; k < T; k++) {
            g[k].fs = fs;
            g[k].rc = -1;
            t[k] = tu_thread(gather_all_main, &g[k]);
        }
        void *vals[N];
        tu_assert_rc(future_gather(fs, N, vals, FUT_FOREVER), 0);
        for (int k = 0; k < T; k++) {
            tu_join(t[k]);
            tu_assert_rc(g[k].rc, 0);
        }
        for (int i = 0; i < N; i++) {
            ck_assert_ptr_eq(vals[i], (void *)(intptr_t)(i + 1));
            ck_assert_int_eq(atomic_load(&runs[i]), 1);
            future_release(fs[i]);
        }
    }
    fut_pool_free(p);
}
END_TEST

/* Bursts of tiny jobs on an oversubscribed pool, with and without a pause
 * that lets every worker park: parked workers are woken one at a time
 * (each woken one wakes the next while jobs are left), and no job is ever
 * left queued with every worker asleep. */
START_TEST(pool_bursts_wake_one_at_a_time_nothing_lost)
{
    long rounds = TU_ROUNDS(1500);
    fut_pool_t *p = pool(8, 0, "burst");
    future_t *fs[64];
    void *vals[64];
    for (long r = 0; r < rounds; r++) {
        int k = 1 + (int)(r % 64);
        for (intptr_t i = 0; i < k; i++)
            ck_assert_ptr_nonnull(fs[i] = fut_pool_submit(p, add_one, (void *)i));
        int rc = future_gather(fs, (size_t)k, vals, BOUND_MS);
        ck_assert_msg(rc == 0, "round %ld (%d jobs): %s", r, k, strerror(rc));
        for (intptr_t i = 0; i < k; i++) {
            ck_assert_ptr_eq(vals[i], (void *)(i + 1));
            future_release(fs[i]);
        }
        if (r % 50 == 0)
            tu_sleep_ms(2);            /* past the idle spin: all parked */
    }
    fut_pool_free(p);
}
END_TEST

START_TEST(pool_shutdown_drain_runs_queued)
{
    enum { N = 50 };
    fut_pool_t *p = pool(1, 0, "drain");
    tu_blocker b;
    tu_blocker_init(&b, V(9));
    atomic_int ran = 0;
    struct cbrec cbs[N];
    memset(cbs, 0, sizeof cbs);
    future_t *a = start_blocker(p, &b);
    future_t *q[N];
    for (int i = 0; i < N; i++) {
        q[i] = fut_pool_submit(p, tu_count_job, &ran);
        future_on_done(q[i], cb_rec, &cbs[i]);
    }
    struct shut_watch w;
    pthread_t wt = watch_shutdown(&w, p, &b);
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    tu_join(wt);
    ck_assert_msg(w.saw_eshutdown, "try_submit never saw ESHUTDOWN (errno %d)", w.other_errno);
    /* it waited for the running job, then ran every queued one */
    ck_assert_int_eq(atomic_load(&b.finished), 1);
    tu_assert_state(a, FUTURE_DONE);
    ck_assert_int_eq(atomic_load(&ran), N);
    ck_assert_int_eq(atomic_load(&w.late_ran), w.nlate);
    for (int i = 0; i < N; i++) {
        tu_assert_state(q[i], FUTURE_DONE);
        ck_assert_int_eq(atomic_load(&cbs[i].calls), 1);
        future_release(q[i]);
    }
    for (int i = 0; i < w.nkept; i++) {
        tu_assert_state(w.late[i], FUTURE_DONE);
        future_release(w.late[i]);
    }
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

START_TEST(pool_shutdown_cancel_ends_queued_cancelled)
{
    enum { N = 50 };
    fut_pool_t *p = pool(1, 0, "cancel");
    tu_blocker b;
    tu_blocker_init(&b, V(9));
    atomic_int ran = 0;
    struct cbrec cbs[N];
    memset(cbs, 0, sizeof cbs);
    future_t *a = start_blocker(p, &b);
    future_t *q[N];
    for (int i = 0; i < N; i++) {
        q[i] = fut_pool_submit(p, tu_count_job, &ran);
        future_on_done(q[i], cb_rec, &cbs[i]);
    }
    struct shut_watch w;
    pthread_t wt = watch_shutdown(&w, p, &b);
    tu_assert_rc(fut_pool_shutdown(p, FUT_CANCEL), 0);
    tu_join(wt);
    ck_assert(w.saw_eshutdown);
    /* the running job was waited for and finished normally */
    ck_assert_int_eq(atomic_load(&b.finished), 1);
    void *v = NULL;
    tu_assert_rc(future_get(a, &v), 0);
    ck_assert_ptr_eq(v, V(9));
    /* no queued job ever ran; each ended CANCELLED, callbacks once */
    ck_assert_int_eq(atomic_load(&ran), 0);
    ck_assert_int_eq(atomic_load(&w.late_ran), 0);
    for (int i = 0; i < N; i++) {
        tu_assert_state(q[i], FUTURE_CANCELLED);
        v = SENTINEL;
        tu_assert_rc(future_get(q[i], &v), ECANCELED);
        ck_assert_ptr_null(v);
        ck_assert_int_eq(atomic_load(&cbs[i].calls), 1);
        ck_assert_int_eq(cbs[i].state, FUTURE_CANCELLED);
        future_release(q[i]);
    }
    for (int i = 0; i < w.nkept; i++) {
        tu_assert_state(w.late[i], FUTURE_CANCELLED);
        future_release(w.late[i]);
    }
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* A queued job that submits while the pool drains: refused. */
struct late_submit {
    fut_pool_t *p;
    future_t *f;
    int err;
    int ran;
};

static void *late_submit_job(void *arg)
{
    struct late_submit *ls = arg;
    ls->ran = 1;
    errno = 0;
    ls->f = fut_pool_submit(ls->p, tu_identity_job, NULL);
    ls->err = errno;
    return NULL;
}

START_TEST(pool_submit_from_job_during_drain_eshutdown)
{
    fut_pool_t *p = pool(1, 0, "latesub");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    future_t *a = start_blocker(p, &b);
    struct late_submit ls = { p, SENTINEL, 0, 0 };
    future_t *q = fut_pool_submit(p, late_submit_job, &ls);
    struct shut_watch w;
    pthread_t wt = watch_shutdown(&w, p, &b);
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    tu_join(wt);
    ck_assert_int_eq(ls.ran, 1);
    ck_assert_ptr_null(ls.f);
    tu_assert_rc(ls.err, ESHUTDOWN);
    tu_assert_state(q, FUTURE_DONE);
    for (int i = 0; i < w.nkept; i++)
        future_release(w.late[i]);
    future_release(q);
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

static void *delayed_open_main(void *arg)
{
    tu_sleep_ms(30);
    tu_gate_open(arg);
    return NULL;
}

START_TEST(pool_free_with_pending_work_drains)
{
    enum { N = 40 };
    fut_pool_t *p = pool(1, 0, "free");
    tu_blocker b;
    tu_blocker_init(&b, V(2));
    atomic_int ran = 0;
    future_t *a = start_blocker(p, &b);
    future_t *q[N];
    for (int i = 0; i < N; i++)
        q[i] = fut_pool_submit(p, tu_count_job, &ran);
    pthread_t t = tu_thread(delayed_open_main, &b.release);
    fut_pool_free(p);
    tu_join(t);
    ck_assert_int_eq(atomic_load(&b.finished), 1);
    ck_assert_int_eq(atomic_load(&ran), N);
    tu_assert_state(a, FUTURE_DONE);
    for (int i = 0; i < N; i++) {
        tu_assert_state(q[i], FUTURE_DONE);
        future_release(q[i]);
    }
    future_release(a);
    tu_blocker_destroy(&b);
}
END_TEST

START_TEST(pool_release_pending_job_still_runs)
{
    /* futures dropped while their jobs are running or queued: the jobs
     * still run, and nothing leaks (ASan) or is used after free */
    enum { N = 30 };
    fut_pool_t *p = pool(1, 0, "rel");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    atomic_int ran = 0;
    future_t *a = start_blocker(p, &b);
    future_release(a);
    for (int i = 0; i < N; i++)
        future_release(fut_pool_submit(p, tu_count_job, &ran));
    tu_gate_open(&b.release);
    future_t *last = fut_pool_submit(p, tu_identity_job, NULL);
    tu_assert_rc(future_get(last, NULL), 0);
    future_release(last);
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    ck_assert_int_eq(atomic_load(&b.finished), 1);
    ck_assert_int_eq(atomic_load(&ran), N);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* A child that its waiting parent ran itself: its future is freed once
 * both the parent and the queue are done with it (LeakSanitizer checks). */
static fut_pool_t *inl_pool;

static void *inline_child_parent_job(void *arg)
{
    future_t *k = fut_pool_submit(inl_pool, tu_identity_job, arg);
    if (!k)
        return fut_raise(errno);
    void *v = NULL;
    int rc = future_get(k, &v);
    future_release(k);
    return rc ? fut_raise(rc) : v;
}

START_TEST(pool_child_run_by_waiting_parent_no_leak)
{
    const enum fut_shutdown hows[2] = { FUT_DRAIN, FUT_CANCEL };
    for (int k = 0; k < 2; k++) {
        inl_pool = pool(1, k ? 4 : 0, "inleak");
        future_t *f = fut_pool_submit(inl_pool, inline_child_parent_job, V(31));
        void *v = NULL;
        tu_assert_rc(future_get(f, &v), 0);
        ck_assert_ptr_eq(v, V(31));
        future_release(f);
        tu_assert_rc(fut_pool_shutdown(inl_pool, hows[k]), 0);
        fut_pool_free(inl_pool);
    }
}
END_TEST

START_TEST(pool_release_queued_then_cancel_shutdown_no_leak)
{
    /* released queued jobs cancelled by FUT_CANCEL: freed, never run */
    enum { N = 30 };
    fut_pool_t *p = pool(1, 0, "relc");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    atomic_int ran = 0;
    future_release(start_blocker(p, &b));
    for (int i = 0; i < N; i++)
        future_release(fut_pool_submit(p, tu_count_job, &ran));
    struct shut_watch w;
    pthread_t wt = watch_shutdown(&w, p, &b);
    tu_assert_rc(fut_pool_shutdown(p, FUT_CANCEL), 0);
    tu_join(wt);
    ck_assert_int_eq(atomic_load(&ran), 0);
    for (int i = 0; i < w.nkept; i++)
        future_release(w.late[i]);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* ---------------------------------------------------------------------
 * EDEADLK: waiting for oneself, shutting down from inside
 * ------------------------------------------------------------------- */

struct selfwait {
    tu_gate go;
    future_t *self;
    int rc_wait, rc_wait_t, rc_get, rc_gather, rc_any;
    void *v;
};

static void *selfwait_job(void *arg)
{
    struct selfwait *s = arg;
    tu_gate_wait(&s->go);
    future_t *const me[1] = { s->self };
    size_t idx;
    s->rc_wait = future_wait(s->self, FUT_FOREVER);
    s->rc_wait_t = future_wait(s->self, 10000);
    s->v = SENTINEL;
    s->rc_get = future_get(s->self, &s->v);
    s->rc_gather = future_gather(me, 1, NULL, FUT_FOREVER);
    s->rc_any = future_wait_any(me, 1, FUT_FOREVER, &idx);
    return V(1);
}

START_TEST(pool_job_wait_own_future_edeadlk)
{
    fut_pool_t *p = pool(2, 0, "self");
    struct selfwait s;
    memset(&s, 0, sizeof s);
    tu_gate_init(&s.go);
    future_t *f = fut_pool_submit(p, selfwait_job, &s);
    s.self = f;
    tu_gate_open(&s.go);
    tu_assert_rc(future_wait(f, BOUND_MS), 0);
    void *v = NULL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, V(1));
    tu_assert_rc(s.rc_wait, EDEADLK);
    tu_assert_rc(s.rc_wait_t, EDEADLK);
    tu_assert_rc(s.rc_get, EDEADLK);
    ck_assert_ptr_null(s.v);
    tu_assert_rc(s.rc_gather, EDEADLK);
    tu_assert_rc(s.rc_any, EDEADLK);
    future_release(f);
    fut_pool_free(p);
    tu_gate_destroy(&s.go);
}
END_TEST

struct inside {
    fut_pool_t *p;
    int rc_drain, rc_cancel, free_errno;
};

static void *shutdown_inside_job(void *arg)
{
    struct inside *in = arg;
    in->rc_drain = fut_pool_shutdown(in->p, FUT_DRAIN);
    in->rc_cancel = fut_pool_shutdown(in->p, FUT_CANCEL);
    errno = 0;
    fut_pool_free(in->p);
    in->free_errno = errno;
    return V(3);
}

START_TEST(pool_shutdown_from_pool_thread_edeadlk)
{
    fut_pool_t *p = pool(2, 0, "inside");
    struct inside in = { p, -1, -1, -1 };
    future_t *f = fut_pool_submit(p, shutdown_inside_job, &in);
    tu_assert_rc(future_wait(f, BOUND_MS), 0);
    tu_assert_rc(future_get(f, NULL), 0);
    tu_assert_rc(in.rc_drain, EDEADLK);
    tu_assert_rc(in.rc_cancel, EDEADLK);
    tu_assert_rc(in.free_errno, EDEADLK);
    /* nothing was done: the pool still takes and runs jobs */
    future_t *g = fut_pool_submit(p, tu_identity_job, V(4));
    ck_assert_ptr_nonnull(g);
    void *v = NULL;
    tu_assert_rc(future_get(g, &v), 0);
    ck_assert_ptr_eq(v, V(4));
    future_release(g);
    future_release(f);
    fut_pool_free(p);
}
END_TEST

/* ---------------------------------------------------------------------
 * Waiting inside the pool
 * ------------------------------------------------------------------- */

static fut_pool_t *fib_pool;

static long fib_seq(long n)
{
    long a = 0, b = 1;
    for (long i = 0; i < n; i++) {
        long t = a + b;
        a = b;
        b = t;
    }
    return a;
}

static void *fib_get_job(void *arg)
{
    long n = (long)(intptr_t)arg;
    if (n < 2)
        return arg;
    future_t *x = fut_pool_submit(fib_pool, fib_get_job, V(n - 1));
    future_t *y = fut_pool_submit(fib_pool, fib_get_job, V(n - 2));
    if (!x || !y)
        return fut_raise(ENOMEM);
    void *vx = NULL, *vy = NULL;
    int rx = future_get(x, &vx), ry = future_get(y, &vy);
    future_release(x);
    future_release(y);
    if (rx || ry)
        return fut_raise(rx ? rx : ry);
    return V((long)(intptr_t)vx + (long)(intptr_t)vy);
}

static void *fib_gather_job(void *arg)
{
    long n = (long)(intptr_t)arg;
    if (n < 2)
        return arg;
    future_t *fs[2] = { fut_pool_submit(fib_pool, fib_gather_job, V(n - 1)),
                        fut_pool_submit(fib_pool, fib_gather_job, V(n - 2)) };
    if (!fs[0] || !fs[1])
        return fut_raise(ENOMEM);
    void *vals[2] = { NULL, NULL };
    int rc = future_gather(fs, 2, vals, FUT_FOREVER);
    future_release(fs[0]);
    future_release(fs[1]);
    if (rc)
        return fut_raise(rc);
    return V((long)(intptr_t)vals[0] + (long)(intptr_t)vals[1]);
}

static void *fib_any_job(void *arg)
{
    long n = (long)(intptr_t)arg;
    if (n < 2)
        return arg;
    future_t *fs[2] = { fut_pool_submit(fib_pool, fib_any_job, V(n - 1)),
                        fut_pool_submit(fib_pool, fib_any_job, V(n - 2)) };
    if (!fs[0] || !fs[1])
        return fut_raise(ENOMEM);
    size_t first = 9, second = 9;
    void *v0 = NULL, *v1 = NULL;
    int rc = future_wait_any(fs, 2, FUT_FOREVER, &first);
    if (!rc && first > 1)
        rc = ERANGE;
    if (!rc)
        rc = future_get(fs[first], &v0);
    future_t *other[1] = { fs[first == 0 ? 1 : 0] };
    if (!rc)
        rc = future_wait_any(other, 1, FUT_FOREVER, &second);
    if (!rc && second != 0)
        rc = ERANGE;
    if (!rc)
        rc = future_get(other[0], &v1);
    future_release(fs[0]);
    future_release(fs[1]);
    if (rc)
        return fut_raise(rc);
    return V((long)(intptr_t)v0 + (long)(intptr_t)v1);
}

static void run_fib(size_t threads, size_t queue_max, fut_fn job, long n)
{
    fib_pool = pool(threads, queue_max, "fib");
    future_t *f = fut_pool_submit(fib_pool, job, V(n));
    ck_assert_ptr_nonnull(f);
    int rc = future_wait(f, BOUND_MS);
    ck_assert_msg(rc == 0, "fib(%ld) on %zu thread(s): %s (deadlock?)", n, threads,
                  strerror(rc));
    void *v = NULL;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_int_eq((long)(intptr_t)v, fib_seq(n));
    future_release(f);
    fut_pool_free(fib_pool);
    fib_pool = NULL;
}

#define FIB_N 13

START_TEST(pool_fib_two_threads_get) { run_fib(2, 0, fib_get_job, FIB_N); }
END_TEST
START_TEST(pool_fib_one_thread_get) { run_fib(1, 0, fib_get_job, FIB_N); }
END_TEST
START_TEST(pool_fib_two_threads_gather) { run_fib(2, 0, fib_gather_job, FIB_N); }
END_TEST
START_TEST(pool_fib_one_thread_gather) { run_fib(1, 0, fib_gather_job, FIB_N); }
END_TEST
START_TEST(pool_fib_one_thread_wait_any) { run_fib(1, 0, fib_any_job, FIB_N); }
END_TEST
START_TEST(pool_fib_bounded_queue_one_thread) { run_fib(1, 2, fib_get_job, 10); }
END_TEST
START_TEST(pool_fib_bounded_queue_two_threads) { run_fib(2, 1, fib_gather_job, 10); }
END_TEST

/* A job on a one-thread pool waits for a promise that only a job queued
 * behind it resolves. */
struct relay {
    future_t *promise;
};

static void *resolve_job(void *arg)
{
    struct relay *r = arg;
    future_resolve(r->promise, V(66));
    return NULL;
}

static void *await_promise_job(void *arg)
{
    struct relay *r = arg;
    void *v = NULL;
    int rc = future_get(r->promise, &v);
    return rc ? fut_raise(rc) : v;
}

START_TEST(pool_job_waits_on_queued_job_one_thread)
{
    fut_pool_t *p = pool(1, 0, "relay");
    struct relay r = { future_new() };
    future_t *w = fut_pool_submit(p, await_promise_job, &r);
    future_t *s = fut_pool_submit(p, resolve_job, &r);
    tu_assert_rc(future_wait(w, BOUND_MS), 0);
    void *v = NULL;
    tu_assert_rc(future_get(w, &v), 0);
    ck_assert_ptr_eq(v, V(66));
    tu_assert_rc(future_wait(s, BOUND_MS), 0);
    future_release(w);
    future_release(s);
    future_release(r.promise);
    fut_pool_free(p);
}
END_TEST

/* Raising is per job: a child that raises (run inline by its waiting
 * parent or not) does not fail the parent, a then-step that raises fails
 * only its own future, and a parent that raised before waiting stays
 * failed after its child succeeded. */
static fut_pool_t *raise_pool;

static void *then_raise_step(void *value, void *arg)
{
    (void)value;
    (void)arg;
    return fut_raise(ENOLINK);
}

struct raise_parent {
    int child_rc, then_rc;
};

static void *parent_of_raiser_job(void *arg)
{
    struct raise_parent *rp = arg;
    future_t *k = fut_pool_submit(raise_pool, raise_job, V(EIO));
    future_t *t = k ? future_then(k, then_raise_step, NULL) : NULL;
    future_t *ok = fut_pool_submit(raise_pool, tu_identity_job, V(3));
    future_t *t2 = ok ? future_then(ok, then_raise_step, NULL) : NULL;
    rp->child_rc = k ? future_get(k, NULL) : -1;
    rp->then_rc = t2 ? future_get(t2, NULL) : -1;
    future_get(t, NULL);
    future_release(t);
    future_release(t2);
    future_release(ok);
    future_release(k);
    return V(42);
}

static void *raising_parent_job(void *arg)
{
    (void)arg;
    fut_raise(ENOTTY);
    future_t *k = fut_pool_submit(raise_pool, tu_identity_job, V(1));
    if (k) {
        future_get(k, NULL);
        future_release(k);
    }
    return V(43);
}

START_TEST(pool_raise_is_per_job_under_nesting)
{
    for (size_t threads = 1; threads <= 2; threads++) {
        raise_pool = pool(threads, 0, "rnest");
        struct raise_parent rp = { -1, -1 };
        future_t *a = fut_pool_submit(raise_pool, parent_of_raiser_job, &rp);
        future_t *b = fut_pool_submit(raise_pool, raising_parent_job, NULL);
        void *v = NULL;
        tu_assert_rc(future_get(a, &v), 0);
        ck_assert_ptr_eq(v, V(42));
        tu_assert_rc(rp.child_rc, EIO);
        tu_assert_rc(rp.then_rc, ENOLINK);
        tu_assert_rc(future_get(b, &v), ENOTTY);
        ck_assert_ptr_null(v);
        future_release(a);
        future_release(b);
        fut_pool_free(raise_pool);
    }
}
END_TEST

/* A job of one pool waits on a job of another. */
struct cross {
    fut_pool_t *other;
    tu_blocker *b;
};

static void *cross_job(void *arg)
{
    struct cross *c = arg;
    future_t *f = fut_pool_submit(c->other, tu_blocker_job, c->b);
    if (!f)
        return fut_raise(errno);
    void *v = NULL;
    int rc = future_get(f, &v);
    future_release(f);
    return rc ? fut_raise(rc) : v;
}

START_TEST(pool_job_waits_on_other_pool_job)
{
    fut_pool_t *p = pool(1, 0, "crossA");
    fut_pool_t *q = pool(1, 0, "crossB");
    tu_blocker b;
    tu_blocker_init(&b, V(12));
    struct cross c = { q, &b };
    future_t *f = fut_pool_submit(p, cross_job, &c);
    ck_assert(tu_gate_wait_ms(&b.started, BOUND_MS));
    /* while p's only thread waits on q, p still runs its queued jobs */
    future_t *g = fut_pool_submit(p, tu_identity_job, V(13));
    void *v = NULL;
    tu_assert_rc(future_wait(g, BOUND_MS), 0);
    tu_assert_rc(future_get(g, &v), 0);
    ck_assert_ptr_eq(v, V(13));
    tu_assert_state(f, FUTURE_RUNNING);
    tu_gate_open(&b.release);
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_ptr_eq(v, V(12));
    future_release(g);
    future_release(f);
    fut_pool_free(p);
    fut_pool_free(q);
    tu_blocker_destroy(&b);
}
END_TEST

/* A job waits with a timeout on a pool thread (the helping wait's own
 * deadline, on CLOCK_MONOTONIC). */
struct timed {
    future_t *promise;
    int rc0, rc50;
    uint64_t ns;
};

static void *timed_wait_job(void *arg)
{
    struct timed *t = arg;
    t->rc0 = future_wait(t->promise, 0);
    uint64_t t0 = tu_now_ns();
    t->rc50 = future_wait(t->promise, 50);
    t->ns = tu_now_ns() - t0;
    return NULL;
}

START_TEST(pool_job_wait_timeout_50ms)
{
    fut_pool_t *p = pool(1, 0, "timed");
    struct timed t = { future_new(), -1, -1, 0 };
    future_t *f = fut_pool_submit(p, timed_wait_job, &t);
    tu_assert_rc(future_wait(f, BOUND_MS), 0);
    tu_assert_rc(t.rc0, ETIMEDOUT);
    tu_assert_rc(t.rc50, ETIMEDOUT);
    ck_assert_msg(t.ns >= 50 * MS, "timed out after %" PRIu64 " ns (< 50 ms)", t.ns);
    ck_assert_uint_lt(t.ns, UPPER_NS);
    future_release(f);
    future_release(t.promise);
    fut_pool_free(p);
}
END_TEST

START_TEST(pool_wait_job_timeout_from_thread)
{
    fut_pool_t *p = pool(1, 0, "tw");
    tu_blocker b;
    tu_blocker_init(&b, NULL);
    future_t *a = start_blocker(p, &b);
    future_t *fs[1] = { a };
    size_t idx;
    uint64_t t0 = tu_now_ns();
    tu_assert_rc(future_wait(a, 50), ETIMEDOUT);
    uint64_t dt = tu_now_ns() - t0;
    ck_assert_uint_ge(dt, 50 * MS);
    ck_assert_uint_lt(dt, UPPER_NS);
    tu_assert_rc(future_gather(fs, 1, NULL, 20), ETIMEDOUT);
    tu_assert_rc(future_wait_any(fs, 1, 20, &idx), ETIMEDOUT);
    tu_gate_open(&b.release);
    tu_assert_rc(future_wait(a, FUT_FOREVER), 0);
    future_release(a);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

/* A job waits on a job of its pool that is already running; the one thread
 * that could finish that job is the waiter itself, further down its stack. */
struct outer {
    fut_pool_t *p;
    tu_gate c_queued;
    future_t *a;
    atomic_int b_ran;
};

static void *outer_a_job(void *arg)
{
    struct outer *o = arg;
    tu_gate_wait(&o->c_queued);                   /* C is queued before B */
    future_t *b = fut_pool_submit(o->p, tu_count_job, &o->b_ran);
    if (!b)
        return fut_raise(errno);
    int rc = future_get(b, NULL);
    future_release(b);
    return rc ? fut_raise(rc) : V(100);
}

static void *outer_c_job(void *arg)
{
    struct outer *o = arg;
    void *v = NULL;
    int rc = future_get(o->a, &v);
    return rc ? fut_raise(rc) : v;
}

START_TEST(pool_wait_on_running_job_one_thread_no_deadlock)
{
    fut_pool_t *p = pool(1, 0, "outer");
    struct outer o;
    o.p = p;
    tu_gate_init(&o.c_queued);
    atomic_init(&o.b_ran, 0);
    o.a = fut_pool_submit(p, outer_a_job, &o);
    future_t *c = fut_pool_submit(p, outer_c_job, &o);
    tu_gate_open(&o.c_queued);
    future_t *both[2] = { o.a, c };
    int rc = future_gather(both, 2, NULL, BOUND_MS);
    ck_assert_msg(rc != ETIMEDOUT,
                  "deadlock: A waits on its child B while its thread runs C, "
                  "which waits on A (A %d, B ran %d, C %d)",
                  (int)future_state(o.a), atomic_load(&o.b_ran), (int)future_state(c));
    void *v = NULL;
    tu_assert_rc(future_get(o.a, &v), 0);
    ck_assert_ptr_eq(v, V(100));
    /* C either got A's value or was told it would wait for itself */
    rc = future_get(c, &v);
    ck_assert_msg(rc == 0 || rc == EDEADLK, "C: %s", strerror(rc));
    if (rc == 0)
        ck_assert_ptr_eq(v, V(100));
    future_release(c);
    future_release(o.a);
    fut_pool_free(p);
    tu_gate_destroy(&o.c_queued);
}
END_TEST

/* ---------------------------------------------------------------------
 * fut_pool_map
 * ------------------------------------------------------------------- */

static void *twice_job(void *arg)
{
    return V((uintptr_t)arg * 2);
}

struct maparg {
    atomic_int *ran;
    int err;           /* raise this if > 0 */
    uintptr_t value;
};

static void *map_job(void *arg)
{
    struct maparg *m = arg;
    atomic_fetch_add(m->ran, 1);
    if (m->err)
        return fut_raise(m->err);
    return V(m->value);
}

START_TEST(pool_map_results)
{
    enum { N = 300 };
    fut_pool_t *p = pool(2, 0, "map");
    void *args[N], *res[N];
    for (int i = 0; i < N; i++) {
        args[i] = V(i);
        res[i] = SENTINEL;
    }
    tu_assert_rc(fut_pool_map(p, twice_job, args, res, N), 0);
    for (int i = 0; i < N; i++)
        ck_assert_ptr_eq(res[i], V(2 * i));
    /* results may be NULL */
    tu_assert_rc(fut_pool_map(p, twice_job, args, NULL, N), 0);
    fut_pool_free(p);
}
END_TEST

START_TEST(pool_map_error_lowest_index_waits_all)
{
    enum { N = 40 };
    fut_pool_t *p = pool(2, 0, "maperr");
    atomic_int ran = 0;
    struct maparg m[N];
    void *args[N], *res[N];
    for (int i = 0; i < N; i++) {
        m[i] = (struct maparg){ &ran, 0, (uintptr_t)i + 1 };
        args[i] = &m[i];
        res[i] = SENTINEL;
    }
    m[31].err = EIO;
    m[7].err = ERANGE;
    m[20].err = EPERM;
    tu_assert_rc(fut_pool_map(p, map_job, args, res, N), ERANGE);
    ck_assert_int_eq(atomic_load(&ran), N);      /* every job ran */
    for (int i = 0; i < N; i++) {
        if (i == 7 || i == 20 || i == 31)
            ck_assert_ptr_null(res[i]);
        else
            ck_assert_ptr_eq(res[i], V(i + 1));
    }
    fut_pool_free(p);
}
END_TEST

START_TEST(pool_map_zero_returns_0)
{
    fut_pool_t *p = pool(1, 0, "map0");
    tu_assert_rc(fut_pool_map(p, twice_job, NULL, NULL, 0), 0);
    void *args[1] = { V(1) }, *res[1] = { SENTINEL };
    tu_assert_rc(fut_pool_map(p, twice_job, args, res, 0), 0);
    ck_assert_ptr_eq(res[0], SENTINEL);
    fut_pool_free(p);
}
END_TEST

START_TEST(pool_map_bounded_queue)
{
    enum { N = 100 };
    fut_pool_t *p = pool(2, 2, "mapq");
    void *args[N], *res[N];
    for (int i = 0; i < N; i++)
        args[i] = V(i);
    tu_assert_rc(fut_pool_map(p, twice_job, args, res, N), 0);
    for (int i = 0; i < N; i++)
        ck_assert_ptr_eq(res[i], V(2 * i));
    fut_pool_free(p);
}
END_TEST

/* Shutdown while map is still queueing: map returns ESHUTDOWN, and the
 * jobs it did queue have completed by then. */
struct map_shut {
    fut_pool_t *p;
    void **args;
    void **res;
    size_t n;
    int rc;
    int blocker_finished_at_return;
    tu_blocker *b;
};

static tu_blocker *map_blocker;

/* args[0] is the blocker, the others are map_job arguments. */
static void *blocker_or_count(void *arg)
{
    if (arg == (void *)map_blocker)
        return tu_blocker_job(map_blocker);
    return map_job(arg);
}

static void *map_shut_main(void *arg)
{
    struct map_shut *ms = arg;
    ms->rc = fut_pool_map(ms->p, blocker_or_count, ms->args, ms->res, ms->n);
    ms->blocker_finished_at_return = atomic_load(&ms->b->finished);
    return NULL;
}

START_TEST(pool_map_shutdown_midway_eshutdown)
{
    enum { N = 6 };
    fut_pool_t *p = pool(1, 1, "mapshut");
    tu_blocker b;
    tu_blocker_init(&b, V(1));
    map_blocker = &b;
    atomic_int ran = 0;
    struct maparg m[N];
    void *args[N], *res[N];
    args[0] = &b;
    for (int i = 1; i < N; i++) {
        m[i] = (struct maparg){ &ran, 0, (uintptr_t)i };
        args[i] = &m[i];
    }
    struct map_shut ms = { p, args, res, N, -1, -1, &b };
    pthread_t t = tu_thread(map_shut_main, &ms);
    ck_assert(tu_gate_wait_ms(&b.started, BOUND_MS));
    struct shut_watch w;
    pthread_t wt = watch_shutdown(&w, p, &b);
    tu_assert_rc(fut_pool_shutdown(p, FUT_DRAIN), 0);
    tu_join(wt);
    tu_join(t);
    /* the queue holds one job: at most the blocker and one more got in */
    tu_assert_rc(ms.rc, ESHUTDOWN);
    ck_assert_int_eq(ms.blocker_finished_at_return, 1);
    ck_assert_int_le(atomic_load(&ran), 2);
    for (int i = 0; i < w.nkept; i++)
        future_release(w.late[i]);
    fut_pool_free(p);
    tu_blocker_destroy(&b);
}
END_TEST

struct nested_map {
    fut_pool_t *p;
    int rc;
    void *res[20];
};

static void *nested_map_job(void *arg)
{
    struct nested_map *nm = arg;
    void *args[20];
    for (int i = 0; i < 20; i++)
        args[i] = V(i);
    nm->rc = fut_pool_map(nm->p, twice_job, args, nm->res, 20);
    return NULL;
}

START_TEST(pool_map_from_job_one_thread)
{
    const size_t qmax[2] = { 0, 1 };
    for (int k = 0; k < 2; k++) {
        fut_pool_t *p = pool(1, qmax[k], "nmap");
        struct nested_map nm = { p, -1, { 0 } };
        future_t *f = fut_pool_submit(p, nested_map_job, &nm);
        tu_assert_rc(future_wait(f, BOUND_MS), 0);
        tu_assert_rc(nm.rc, 0);
        for (int i = 0; i < 20; i++)
            ck_assert_ptr_eq(nm.res[i], V(2 * i));
        future_release(f);
        fut_pool_free(p);
    }
}
END_TEST

/* ---------------------------------------------------------------------
 * Volume
 * ------------------------------------------------------------------- */

START_TEST(pool_many_jobs_all_run)
{
    long n = TU_ROUNDS(20000);
    fut_pool_t *p = pool(2, 0, "many");
    atomic_int ran = 0;
    future_t **fs = calloc((size_t)n, sizeof *fs);
    ck_assert_ptr_nonnull(fs);
    for (long i = 0; i < n; i++)
        ck_assert_ptr_nonnull(fs[i] = fut_pool_submit(p, tu_count_job, &ran));
    tu_assert_rc(future_gather(fs, (size_t)n, NULL, FUT_FOREVER), 0);
    ck_assert_int_eq(atomic_load(&ran), n);
    for (long i = 0; i < n; i++)
        future_release(fs[i]);
    free(fs);
    fut_pool_free(p);
}
END_TEST

/* ---------------------------------------------------------------------
 * Suite
 * ------------------------------------------------------------------- */

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc;

    tc = tu_tcase(s, "create", 20);
    tcase_add_test(tc, pool_new_null_opts_defaults);
    tcase_add_test(tc, pool_threads_zero_means_online_cpus);
    tcase_add_test(tc, pool_threads_count);
    tcase_add_test(tc, pool_threads_run_concurrently);
    tcase_add_test(tc, pool_thread_names_carry_prefix);
    tcase_add_test(tc, pool_thread_names_distinct_per_thread);
    tcase_add_test(tc, pool_thread_name_default_fut);
    tcase_add_test(tc, pool_thread_name_long_truncated);

    tc = tu_tcase(s, "jobs", 20);
    tcase_add_test(tc, pool_submit_result);
    tcase_add_test(tc, pool_job_raise_fails_future);
    tcase_add_test(tc, pool_job_state_transitions);
    tcase_add_test(tc, pool_job_resolved_by_hand_first_completion_wins);
    tcase_add_test(tc, pool_null_args_einval);
    tcase_add_test(tc, pool_shutdown_bad_how_einval);
    tcase_add_test(tc, pool_cancel_queued_job_never_runs);
    tcase_add_test(tc, pool_cancel_running_job_ebusy);
    tcase_add_test(tc, pool_cancel_queued_wakes_waiters);
    tcase_add_test(tc, pool_on_done_runs_in_pool_thread);
    tcase_add_test(tc, pool_then_on_failed_and_cancelled_jobs);

    tc = tu_tcase(s, "bounded", 20);
    tcase_add_test(tc, pool_try_submit_eagain_when_full);
    tcase_add_test(tc, pool_submit_waits_for_room);
    tcase_add_test(tc, pool_submit_waiting_for_room_shutdown_returns);
    tcase_add_test(tc, pool_submit_full_from_job_no_deadlock);
    tcase_add_test(tc, pool_queue_room_after_awaited_child_ran);

    tc = tu_tcase(s, "caller_runs", 60);
    tcase_add_test(tc, pool_caller_runs_waiter_runs_queued_job);
    tcase_add_test(tc, pool_caller_runs_gather_and_map_complete_without_workers);
    tcase_add_test(tc, pool_caller_runs_not_from_a_coroutine);
    tcase_add_test(tc, pool_caller_runs_races_workers_each_job_once);

    tc = tu_tcase(s, "wakeups", 60);
    tcase_add_test(tc, pool_bursts_wake_one_at_a_time_nothing_lost);

    tc = tu_tcase(s, "shutdown", 30);
    tcase_add_test(tc, pool_submit_races_shutdown_nothing_stranded);
    tcase_add_test(tc, pool_submit_after_shutdown_eshutdown);
    tcase_add_test(tc, pool_shutdown_twice_harmless);
    tcase_add_test(tc, pool_shutdown_concurrent_callers);
    tcase_add_test(tc, pool_shutdown_drain_runs_queued);
    tcase_add_test(tc, pool_shutdown_cancel_ends_queued_cancelled);
    tcase_add_test(tc, pool_submit_from_job_during_drain_eshutdown);
    tcase_add_test(tc, pool_free_with_pending_work_drains);
    tcase_add_test(tc, pool_release_pending_job_still_runs);
    tcase_add_test(tc, pool_release_queued_then_cancel_shutdown_no_leak);
    tcase_add_test(tc, pool_child_run_by_waiting_parent_no_leak);
    tcase_add_test(tc, pool_job_wait_own_future_edeadlk);
    tcase_add_test(tc, pool_shutdown_from_pool_thread_edeadlk);

    tc = tu_tcase(s, "nested", 30);
    tcase_add_test(tc, pool_fib_two_threads_get);
    tcase_add_test(tc, pool_fib_one_thread_get);
    tcase_add_test(tc, pool_fib_two_threads_gather);
    tcase_add_test(tc, pool_fib_one_thread_gather);
    tcase_add_test(tc, pool_fib_one_thread_wait_any);
    tcase_add_test(tc, pool_fib_bounded_queue_one_thread);
    tcase_add_test(tc, pool_fib_bounded_queue_two_threads);
    tcase_add_test(tc, pool_job_waits_on_queued_job_one_thread);
    tcase_add_test(tc, pool_raise_is_per_job_under_nesting);
    tcase_add_test(tc, pool_job_waits_on_other_pool_job);
    tcase_add_test(tc, pool_job_wait_timeout_50ms);
    tcase_add_test(tc, pool_wait_job_timeout_from_thread);
    tcase_add_test(tc, pool_wait_on_running_job_one_thread_no_deadlock);

    tc = tu_tcase(s, "map", 30);
    tcase_add_test(tc, pool_map_results);
    tcase_add_test(tc, pool_map_error_lowest_index_waits_all);
    tcase_add_test(tc, pool_map_zero_returns_0);
    tcase_add_test(tc, pool_map_bounded_queue);
    tcase_add_test(tc, pool_map_shutdown_midway_eshutdown);
    tcase_add_test(tc, pool_map_from_job_one_thread);
    tcase_add_test(tc, pool_many_jobs_all_run);
    return s;
}

TU_MAIN(pool_suite)
