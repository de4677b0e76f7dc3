/* SPDX-License-Identifier: MIT */
/*
 * test_examples.c - the examples tell the story the tutorial tells
 *
 * Two guards, so that the tutorial can never drift from the code:
 *
 *   lunch, onions, python, real_world
 *       run each built example, and each Python program of examples/py
 *       (python3, with a short story minute, LUNCH_MINUTE_MS=20), and check
 *       the order of its events, the time of each, and its total, against
 *       STORY.md's facts.  Orders are exact; times have a lower bound (a
 *       sleep never ends early) and a generous upper one, since a busy
 *       machine only makes things later.  A run whose order is wrong *and*
 *       which ran late is tried again (up to 3 times): lateness on a loaded
 *       machine can swap two events 1 story minute apart on different
 *       threads; a run on time cannot.
 *
 *   real_world
 *       checksum, timers and chan_pipeline: real uses, checked by their
 *       output (a known CRC, overlapping waits, a sum of squares)
 *
 *   tutorial
 *       in README.md and the pages of doc/ and doc/tutorial/, every excerpt (a
 *       fenced block preceded by `<!-- tutorial:NAME -->`) equals the
 *       region of an example between `tutorial:begin NAME` and
 *       `tutorial:end NAME`; every whole program (a fenced block preceded
 *       by `<!-- tutorial:file PATH -->`) equals that file, its region
 *       marker lines left out; every region and every Python program of
 *       examples/py is shown somewhere; every image a page links exists.
 *
 * Where things are.  The examples are programs built by `make examples`
 * into $(BUILD)/examples (`make tests` builds them too); this test looks in
 * $EXAMPLES_DIR, else $(FUT_BUILD_DIR)/examples (FUT_BUILD_DIR is defined
 * by the Makefile), else ../examples next to this binary, else
 * build/examples, and FAILS if none holds them.  The sources
 * (doc/, examples/) are found from the current directory (make runs the
 * tests from the repository root), else two levels above this binary.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char ex_dir[PATH_MAX];     /* built examples; set in main */
static char src_root[PATH_MAX];   /* repository root; set in main */
static const char *where_tried;   /* for the failure message */

/* Under a sanitizer every coroutine start costs 10-25 ms (TSan zeroes
 * ~768 KiB per fiber), so a story minute of 20 ms left too little slack on
 * a loaded machine: the minute is longer there. */
#ifdef TU_SANITIZED
#define MINUTE_MS 60
#else
#define MINUTE_MS 20
#endif
#define SLACK_MIN 3.0             /* story minutes a run may be late */

/* ---------------------------------------------------------------------
 * Running an example and reading its lines
 * ------------------------------------------------------------------- */

struct ev {
    char dish[16];
    char what[8];                 /* "starts" or "done" */
    double t;                     /* story minutes */
};

struct run {
    int status;                   /* exit status, -1 if it did not exit */
    bool began;                   /* first line: "Lunch preparation begins" */
    int minutes[8];               /* every "Eating after N min" */
    int nmin;
    bool ends_eating;             /* the last line is an "Eating after" line */
    struct ev ev[96];
    int nev;
    char out[16384];              /* the whole output, for messages */
};

static bool is_dir_with(const char *dir, const char *file)
{
    char p[PATH_MAX];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return stat(p, &st) == 0;
}

/* Runs `cmd` with LUNCH_MINUTE_MS=MINUTE_MS, stderr merged into stdout,
 * and parses the lines into r. */
static void run_cmd(const char *cmd, struct run *r)
{
    memset(r, 0, sizeof *r);
    char full[PATH_MAX * 3 + 1024];
    snprintf(full, sizeof full, "LUNCH_MINUTE_MS=%d %s 2>&1", MINUTE_MS, cmd);
    FILE *p = popen(full, "r");
    ck_assert_msg(p != NULL, "popen %s: %s", full, strerror(errno));
    char line[512];
    size_t used = 0;
    bool first = true;
    while (fgets(line, sizeof line, p)) {
        size_t len = strlen(line);
        if (used + len < sizeof r->out) {
            memcpy(r->out + used, line, len + 1);
            used += len;
        }
        if (first && strncmp(line, "Lunch preparation begins", 24) == 0)
            r->began = true;
        if (strncmp(line, "Lunch preparation begins", 24) == 0 ||
            strncmp(line, "== ", 3) == 0)
            first = false;
        int n;
        r->ends_eating = false;
        if (sscanf(line, "Eating after %d min of prep time.", &n) == 1) {
            if (r->nmin < 8)
                r->minutes[r->nmin++] = n;
            r->ends_eating = true;
            continue;
        }
        struct ev e;
        if (sscanf(line, "[%lf min] %15s %7s", &e.t, e.dish, e.what) == 3 &&
            (strcmp(e.what, "starts") == 0 || strcmp(e.what, "done") == 0) &&
            r->nev < (int)(sizeof r->ev / sizeof r->ev[0]))
            r->ev[r->nev++] = e;
    }
    int st = pclose(p);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs the built example `prog args` from ex_dir. */
static void run_example(const char *prog, const char *args, struct run *r)
{
    char cmd[PATH_MAX * 2 + 512];
    snprintf(cmd, sizeof cmd, "'%s/%s' %s", ex_dir, prog, args ? args : "");
    run_cmd(cmd, r);
}

/* Runs examples/py/`script` with python3. */
static void run_python(const char *script, const char *args, struct run *r)
{
    char cmd[PATH_MAX * 2 + 512];
    snprintf(cmd, sizeof cmd, "python3 '%s/examples/py/%s' %s", src_root, script,
             args ? args : "");
    run_cmd(cmd, r);
}

/* ---------------------------------------------------------------------
 * Expectations: events in order; a run of entries with the same nonzero
 * `any` group may come in any order among themselves.
 * ------------------------------------------------------------------- */

struct want {
    const char *dish, *what;
    double t;                     /* story minute it happens at */
    int any;                      /* 0: ordered; k > 0: group k, any order */
};

/* Checks r against w[0..n); writes why not into msg. */
static bool matches(const struct run *r, const struct want *w, int n, int total,
                    char *msg, size_t len, double *late)
{
    *late = 0;
    for (int i = 0; i < r->nev; i++)
        for (int j = 0; j < n; j++)
            if (strcmp(r->ev[i].dish, w[j].dish) == 0 && strcmp(r->ev[i].what, w[j].what) == 0 &&
                r->ev[i].t - w[j].t > *late)
                *late = r->ev[i].t - w[j].t;
    if (r->status != 0) {
        snprintf(msg, len, "exit status %d", r->status);
        return false;
    }
    if (!r->began) {
        snprintf(msg, len, "the first line is not \"Lunch preparation begins\"");
        return false;
    }
    if (r->nmin != 1 || !r->ends_eating) {
        snprintf(msg, len, "the last line is not \"Eating after N min of prep time.\"");
        return false;
    }
    if (r->nev != n) {
        snprintf(msg, len, "%d events, expected %d", r->nev, n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        /* Which expectation does event i meet?  Ordered: exactly w[i];
         * in a group: any member of w[i]'s group not used yet. */
        const struct ev *e = &r->ev[i];
        int k = -1;
        if (w[i].any == 0) {
            if (strcmp(e->dish, w[i].dish) == 0 && strcmp(e->what, w[i].what) == 0)
                k = i;
        } else {
            for (int j = 0; j < n; j++) {
                if (w[j].any != w[i].any || strcmp(e->dish, w[j].dish) != 0 ||
                    strcmp(e->what, w[j].what) != 0)
                    continue;
                bool used = false;
                for (int m = 0; m < i; m++)
                    used |= strcmp(r->ev[m].dish, w[j].dish) == 0 &&
                            strcmp(r->ev[m].what, w[j].what) == 0;
                if (!used)
                    k = j;
            }
        }
        if (k < 0) {
            snprintf(msg, len, "event %d is \"%s %s\", expected \"%s %s\"", i + 1, e->dish,
                     e->what, w[i].dish, w[i].what);
            return false;
        }
        if (e->t < w[k].t - 0.05 || e->t > w[k].t + SLACK_MIN) {
            snprintf(msg, len, "\"%s %s\" at %.1f min, expected %.0f (at most %.0f late)",
                     e->dish, e->what, e->t, w[k].t, SLACK_MIN);
            return false;
        }
    }
    if (r->minutes[0] < total || r->minutes[0] > total + (int)SLACK_MIN) {
        snprintf(msg, len, "eating after %d min, expected %d (at most %.0f more)",
                 r->minutes[0], total, SLACK_MIN);
        return false;
    }
    return true;
}

/* Runs the example (a built C program, or with `python` set, a Python
 * program of examples/py) until it matches, retrying only runs that were
 * late.  Returns the last run, for further checks. */
static const struct run *check_run(bool python, const char *prog, const char *args,
                                   const struct want *w, int n, int total)
{
    static struct run r;
    char msg[256] = "";
    for (int attempt = 1; attempt <= 3; attempt++) {
        if (python)
            run_python(prog, args, &r);
        else
            run_example(prog, args, &r);
        double late;
        if (matches(&r, w, n, total, msg, sizeof msg, &late))
            return &r;
        if (late < 0.5)
            break;                /* on time and still wrong: a real failure */
        fprintf(stderr, "%s %s: attempt %d ran %.1f min late (%s); again\n", prog,
                args ? args : "", attempt, late, msg);
    }
    ck_abort_msg("%s %s: %s\n--- its output:\n%s", prog, args ? args : "", msg, r.out);
    return &r;
}

static void check_lunch(const char *prog, const char *args, const struct want *w, int n,
                        int total)
{
    check_run(false, prog, args, w, n, total);
}

static void check_py(const char *prog, const char *args, const struct want *w, int n,
                     int total)
{
    check_run(true, prog, args, w, n, total);
}

/* The output of r holds `text`. */
static void check_says(const struct run *r, const char *text)
{
    ck_assert_msg(strstr(r->out, text) != NULL, "the output lacks \"%s\":\n%s", text, r->out);
}

/* ---------------------------------------------------------------------
 * lunch: STORY.md's facts, one case per way of cooking
 * ------------------------------------------------------------------- */

/* The events every lunch of the story shares, one way of cooking each. */
static const struct want W_SEQUENTIAL[] = {
    {"pasta", "starts", 0, 0},     {"pasta", "done", 10, 0},
    {"meatloaf", "starts", 10, 0}, {"meatloaf", "done", 13, 0},
    {"avocado", "starts", 13, 0},  {"avocado", "done", 15, 0},
};
static const struct want W_COOP[] = {
    {"pasta", "starts", 0, 0},    {"meatloaf", "starts", 0, 0},
    {"avocado", "starts", 0, 0},  {"avocado", "done", 2, 0},
    {"meatloaf", "done", 3, 0},   {"pasta", "done", 10, 0},
};
static const struct want W_BLOCKING_PASTA[] = {
    {"pasta", "starts", 0, 0},     {"pasta", "done", 10, 0},
    {"meatloaf", "starts", 10, 0}, {"avocado", "starts", 10, 0},
    {"avocado", "done", 12, 0},    {"meatloaf", "done", 13, 0},
};
static const struct want W_POOL_2[] = {
    {"pasta", "starts", 0, 1},    {"meatloaf", "starts", 0, 1},
    {"meatloaf", "done", 3, 0},   {"avocado", "starts", 3, 0},
    {"avocado", "done", 5, 0},    {"pasta", "done", 10, 0},
};
static const struct want W_POOL_3[] = {
    {"pasta", "starts", 0, 1},    {"meatloaf", "starts", 0, 1},
    {"avocado", "starts", 0, 1},  {"avocado", "done", 2, 0},
    {"meatloaf", "done", 3, 0},   {"pasta", "done", 10, 0},
};
static const struct want W_ERRORS[] = {
    {"pasta", "starts", 0, 0},    {"pasta", "done", 2, 0},
    {"meatloaf", "starts", 2, 0}, {"soup", "starts", 3, 0},
};

START_TEST(lunch_sequential_15)
{
    check_lunch("lunch_sequential", NULL, W_SEQUENTIAL, 6, 15);
}
END_TEST

START_TEST(lunch_coop_10)
{
    check_lunch("lunch_coop", NULL, W_COOP, 6, 10);
}
END_TEST

START_TEST(lunch_blocking_pasta_13)
{
    check_lunch("lunch_blocking_pasta", NULL, W_BLOCKING_PASTA, 6, 13);
}
END_TEST

START_TEST(lunch_all_blocking_15)
{
    check_lunch("lunch_all_blocking", NULL, W_SEQUENTIAL, 6, 15);
}
END_TEST

START_TEST(lunch_pool_1_thread_15)
{
    check_lunch("lunch_pool", "1", W_SEQUENTIAL, 6, 15);
}
END_TEST

START_TEST(lunch_pool_2_threads_10)
{
    /* Pasta on one cook; meatloaf, then avocado, on the other. */
    check_lunch("lunch_pool", "2", W_POOL_2, 6, 10);
}
END_TEST

START_TEST(lunch_pool_3_threads_10)
{
    check_lunch("lunch_pool", "3", W_POOL_3, 6, 10);
}
END_TEST

START_TEST(lunch_pool_bad_thread_count)
{
    struct run r;
    run_example("lunch_pool", "0", &r);
    ck_assert_int_eq(r.status, 2);
}
END_TEST

START_TEST(pool_wait_helps_5)
{
    /* One thread: the lasagne's wait runs the sauce on the same thread. */
    const struct want w[] = {
        {"lasagne", "starts", 0, 0}, {"sauce", "starts", 0, 0},
        {"sauce", "done", 3, 0},     {"lasagne", "done", 5, 0},
    };
    const struct run *r = check_run(false, "pool_wait", NULL, w, 4, 5);
    check_says(r, "future_get(lasagne) = 0");
    ck_assert_msg(strstr(r->out, "[cook-1]") == NULL, "one cook only:\n%s", r->out);
}
END_TEST

START_TEST(pool_wait_edeadlk_3)
{
    const struct want w[] = {
        {"lasagne", "starts", 0, 0}, {"sauce", "starts", 0, 0},
    };
    const struct run *r = check_run(false, "pool_wait", "deadlock", w, 2, 3);
    check_says(r, "sauce waits for the lasagne: EDEADLK");
    check_says(r, "future_get(lasagne) = Resource deadlock");
}
END_TEST

START_TEST(lunch_errors_5)
{
    const struct run *r = check_run(false, "lunch_errors", NULL, W_ERRORS, 4, 5);
    check_says(r, "future_cancel(avocado) = 0: it had not started");
    check_says(r, "future_cancel(pasta) = EBUSY: it is cooking");
    check_says(r, "future_gather = EIO: the first failure by index");
    check_says(r, "pasta    FUTURE_DONE      future_get = 0         values[0] = \"pasta al dente\"");
    check_says(r, "meatloaf FUTURE_FAILED    future_get = EIO       values[1] = NULL");
    check_says(r, "avocado  FUTURE_CANCELLED future_get = ECANCELED values[2] = NULL");
    check_says(r, "future_wait(soup, 2 min) = ETIMEDOUT");
    check_says(r, "future_cancel(soup) = 0");
    check_says(r, "soup: fut_sleep = ECANCELED");
    check_says(r, "future_get(soup) = ECANCELED, FUTURE_CANCELLED");
}
END_TEST

START_TEST(lunch_both_10)
{
    check_lunch("lunch_both", NULL, W_COOP, 6, 10);
}
END_TEST

/* ---------------------------------------------------------------------
 * python: examples/py tell the same story with asyncio and
 * concurrent.futures
 * ------------------------------------------------------------------- */

START_TEST(py_lunch_sequential_15)
{
    check_py("lunch_sequential.py", NULL, W_SEQUENTIAL, 6, 15);
}
END_TEST

START_TEST(py_lunch_coop_10)
{
    check_py("lunch_coop.py", NULL, W_COOP, 6, 10);
}
END_TEST

START_TEST(py_lunch_blocking_pasta_13)
{
    check_py("lunch_blocking_pasta.py", NULL, W_BLOCKING_PASTA, 6, 13);
}
END_TEST

START_TEST(py_lunch_all_blocking_15)
{
    check_py("lunch_all_blocking.py", NULL, W_SEQUENTIAL, 6, 15);
}
END_TEST

START_TEST(py_lunch_pool_1_2_3)
{
    check_py("lunch_pool.py", "1", W_SEQUENTIAL, 6, 15);
    check_py("lunch_pool.py", "2", W_POOL_2, 6, 10);
    check_py("lunch_pool.py", "3", W_POOL_3, 6, 10);
}
END_TEST

START_TEST(py_pool_wait_8)
{
    /* Python's pool does not help: the sauce starts once the lasagne gave up. */
    const struct want w[] = {
        {"lasagne", "starts", 0, 0}, {"sauce", "starts", 5, 0}, {"sauce", "done", 8, 0},
    };
    const struct run *r = check_run(true, "pool_wait.py", NULL, w, 3, 8);
    check_says(r, "lasagne: no sauce after 5 min");
}
END_TEST

START_TEST(py_lunch_errors_5)
{
    const struct run *r = check_run(true, "lunch_errors.py", NULL, W_ERRORS, 4, 5);
    check_says(r, "avocado.cancel() = True");
    check_says(r, "pasta.cancel() = False");
    check_says(r, "meatloaf failed: result() raises RuntimeError('burnt')");
    check_says(r, "soup: asyncio.sleep raised CancelledError");
    check_says(r, "soup.cancelled() = True");
}
END_TEST

START_TEST(py_lunch_both_10)
{
    check_py("lunch_both.py", NULL, W_COOP, 6, 10);
}
END_TEST

START_TEST(py_onions_threads_and_processes)
{
    static struct run r;
    run_python("onions.py", "seq threads 2 processes 2", &r);
    ck_assert_msg(r.status == 0, "onions.py exit %d\n%s", r.status, r.out);
    ck_assert_msg(r.nmin == 3 && r.ends_eating, "three runs, each ending \"Eating after\":\n%s",
                  r.out);
    ck_assert_int_eq(r.nev, 3 * 4 * 2);
    check_says(&r, "== threads 2: a ThreadPoolExecutor of 2 threads");
    check_says(&r, "== processes 2: a ProcessPoolExecutor of 2 processes");
    /* 8 minutes of CPU: never much less (the calibration is a median, so
     * a run may be somewhat quicker); no upper bound on a shared machine. */
    ck_assert_msg(r.minutes[0] >= 5, "one after another: %d min, expected about 8\n%s",
                  r.minutes[0], r.out);
}
END_TEST

/* ---------------------------------------------------------------------
 * onions: CPU work; only the structure and a lower bound are certain
 * ------------------------------------------------------------------- */

START_TEST(onions_coop_and_pool)
{
    static struct run r;
    run_example("onions", "coop 2", &r);
    ck_assert_msg(r.status == 0, "onions exit %d\n%s", r.status, r.out);
    ck_assert_msg(r.nmin == 2 && r.ends_eating, "two runs, each ending \"Eating after\":\n%s",
                  r.out);
    ck_assert_msg(strstr(r.out, "online core") != NULL, "the core count is printed");
    /* Every onion starts once and is done once per run, start first. */
    ck_assert_int_eq(r.nev, 2 * 4 * 2);
    for (int run = 0; run < 2; run++)
        for (int k = 1; k <= 4; k++) {
            char name[16];
            snprintf(name, sizeof name, "onion-%d", k);
            int s = -1, d = -1;
            for (int i = run * 8; i < run * 8 + 8; i++) {
                if (strcmp(r.ev[i].dish, name) != 0)
                    continue;
                if (strcmp(r.ev[i].what, "starts") == 0)
                    s = i;
                else
                    d = i;
            }
            ck_assert_msg(s >= 0 && d > s, "run %d: %s starts, then is done\n%s", run, name,
                          r.out);
        }
    /* 8 minutes of CPU on one thread cannot take much less than 8 minutes
     * (the kernel is calibrated on CPU time, best of several runs); on a
     * pool of 2, no less than 8 / min(2, cores).  No upper bound: other
     * programs may share the cores. */
    long cores = tu_online_cpus();
    int lo2 = (int)(8.0 / (double)(cores < 2 ? cores : 2) * 0.8);
    ck_assert_msg(r.minutes[0] >= 7, "cooperative onions: %d min, expected about 8\n%s",
                  r.minutes[0], r.out);
    ck_assert_msg(r.minutes[1] >= lo2, "pool of 2: %d min, expected at least %d\n%s",
                  r.minutes[1], lo2, r.out);
}
END_TEST

/* ---------------------------------------------------------------------
 * real_world: checksum and timers
 * ------------------------------------------------------------------- */

START_TEST(checksum_crc32_check_value)
{
    /* "123456789" is CRC-32's standard check input: 0xCBF43926. */
    char path[] = "/tmp/test_examples_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "123456789", 9), 9);
    close(fd);
    char args[PATH_MAX];
    snprintf(args, sizeof args, "-j 2 '%s' /nonexistent/file", path);
    static struct run r;
    run_example("checksum", args, &r);
    unlink(path);
    ck_assert_msg(strstr(r.out, "cbf43926           9  ") != NULL, "crc of 123456789:\n%s",
                  r.out);
    ck_assert_msg(strstr(r.out, "/nonexistent/file: No such file") != NULL,
                  "a missing file fails its own job:\n%s", r.out);
    ck_assert_int_eq(r.status, 1);
}
END_TEST

START_TEST(timers_overlap_on_one_thread)
{
    /* 200 timers over 0..100 ms: 10 s of waiting in total. */
    static struct run r;
    run_example("timers", "200 100", &r);
    ck_assert_msg(r.status == 0, "timers exit %d\n%s", r.status, r.out);
    double total, wall;
    const char *l = strstr(r.out, "200 timers (coroutines on one thread): ");
    ck_assert_msg(l && sscanf(l, "200 timers (coroutines on one thread): %lf ms of waiting "
                                 "in total, done in %lf ms",
                              &total, &wall) == 2,
                  "output:\n%s", r.out);
    ck_assert_msg(total > 9800 && total < 10200, "total %.0f ms, expected about 10000", total);
    /* Overlapped: far less than the 10 s of the waits one after another
     * (about 0.1 s; each coroutine costs far more under a sanitizer). */
    ck_assert_msg(wall >= 100 && wall < total / 4, "wall %.1f ms, expected about 100", wall);
}
END_TEST

START_TEST(chan_pipeline_every_number_once)
{
    /* 4 x 2000 numbers through a bounded and an unbuffered channel,
     * producers and workers both threads and coroutines: the count and
     * the sum of squares show each number was squared exactly once. */
    static struct run r;
    run_example("chan_pipeline", "2000", &r);
    ck_assert_msg(r.status == 0, "chan_pipeline exit %d\n%s", r.status, r.out);
    unsigned long long th = 0, co = 0, sum = 0, want = 0;
    long got = 0;
    const char *w = strstr(r.out, "workers:");
    const char *c = strstr(r.out, "collector:");
    ck_assert_msg(w && sscanf(w, "workers: 2 threads squared %llu, 2 coroutines squared %llu",
                              &th, &co) == 2,
                  "output:\n%s", r.out);
    ck_assert_msg(c && sscanf(c, "collector: %ld results, sum of squares %llu (expected %llu)",
                              &got, &sum, &want) == 3,
                  "output:\n%s", r.out);
    ck_assert_int_eq(got, 8000);
    ck_assert_uint_eq(th + co, 8000);
    ck_assert_uint_eq(want, 8000ull * 8001ull * 16001ull / 6);
    ck_assert_uint_eq(sum, want);
    run_example("chan_pipeline", "0", &r);                /* bad argument */
    ck_assert_int_eq(r.status, 2);
}
END_TEST

/* ---------------------------------------------------------------------
 * structured: the task group, timeout, wait_for, as_completed and shield
 * examples (one loop thread decides their orders, so they are exact)
 * ------------------------------------------------------------------- */

/* Asserts that `a` occurs in out, and before `b` when b is not NULL. */
static void assert_in_order(const struct run *r, const char *a, const char *b)
{
    const char *pa = strstr(r->out, a);
    ck_assert_msg(pa != NULL, "no \"%s\" in the output:\n%s", a, r->out);
    if (b) {
        const char *pb = strstr(r->out, b);
        ck_assert_msg(pb != NULL, "no \"%s\" in the output:\n%s", b, r->out);
        ck_assert_msg(pa < pb, "\"%s\" comes after \"%s\":\n%s", a, b, r->out);
    }
}

static void assert_absent(const struct run *r, const char *a)
{
    ck_assert_msg(strstr(r->out, a) == NULL, "\"%s\" in the output:\n%s", a, r->out);
}

/* The event time of `dish what` (story minutes), or -1. */
static double event_t(const struct run *r, const char *dish, const char *what)
{
    for (int i = 0; i < r->nev; i++)
        if (strcmp(r->ev[i].dish, dish) == 0 && strcmp(r->ev[i].what, what) == 0)
            return r->ev[i].t;
    return -1;
}

START_TEST(structured_taskgroup_first_failure_cancels_the_rest)
{
    static struct run r;
    run_example("taskgroup", NULL, &r);
    ck_assert_msg(r.status == 0, "taskgroup exit %d\n%s", r.status, r.out);
    assert_in_order(&r, "meatloaf done", "sauce    burns");
    assert_in_order(&r, "sauce    burns", "pasta    cancelled taken off the stove");
    assert_absent(&r, "pasta    done");
    assert_in_order(&r, "avocado  done", "group: Input/output error");
    assert_in_order(&r, "group: Input/output error", "  pasta    cancelled\n");
    assert_in_order(&r, "  meatloaf done\n", "  sauce    failed\n");
    assert_in_order(&r, "  avocado  done\n", "Lunch abandoned after");
    ck_assert(event_t(&r, "meatloaf", "done") >= 3.0 - 0.05);
}
END_TEST

START_TEST(structured_timeout_deadline_for_the_group)
{
    static struct run r;
    run_example("timeout", NULL, &r);
    ck_assert_msg(r.status == 0, "timeout exit %d\n%s", r.status, r.out);
    assert_in_order(&r, "fut_group_wait(g, 0): Connection timed out (nothing cancelled)",
                    "meatloaf done");
    assert_in_order(&r, "meatloaf done", "pasta    cancelled by the deadline");
    assert_in_order(&r, "pasta    cancelled by the deadline",
                    "fut_group_wait(g, 3 min): Connection timed out");
    assert_in_order(&r, "fut_group_wait again: Connection timed out (final)",
                    "fut_group_spawn now: Invalid argument");
    assert_in_order(&r, "  pasta    cancelled\n  meatloaf done\n  avocado  done\n",
                    "Lunch after 4 min: without the pasta.");
    assert_absent(&r, "pasta    done");
}
END_TEST

START_TEST(structured_wait_for_cancels_on_timeout)
{
    static struct run r;
    run_example("wait_for", NULL, &r);
    ck_assert_msg(r.status == 0, "wait_for exit %d\n%s", r.status, r.out);
    assert_in_order(&r, "pasta    cancelled off the stove",
                    "future_wait_for(pasta, 4 min): Connection timed out, value NULL");
    assert_in_order(&r, "meatloaf done",
                    "future_wait_for(meatloaf, 5 min): 0, value meatloaf");
    /* a running job is waited for to its end, then ETIMEDOUT */
    assert_in_order(&r, "avocado  done",
                    "future_wait_for(avocado, 1 min): Connection timed out, value NULL");
    assert_in_order(&r, "avocado's own outcome: done (it could not be stopped)", NULL);
    ck_assert(event_t(&r, "pasta", "starts") >= 0);
    assert_absent(&r, "pasta    done");
}
END_TEST

START_TEST(structured_as_completed_in_completion_order)
{
    static struct run r;
    run_example("as_completed", NULL, &r);
    ck_assert_msg(r.status == 0, "as_completed exit %d\n%s", r.status, r.out);
    assert_in_order(&r, "future_wait_next(timeout 0): Connection timed out", "avocado  done");
    assert_in_order(&r, "served: avocado (index 2)", "served: meatloaf (index 1)");
    assert_in_order(&r, "served: meatloaf (index 1)", "served: pasta (index 0)");
    ck_assert_int_eq(r.nmin, 1);
    ck_assert_int_ge(r.minutes[0], 10);
}
END_TEST

START_TEST(structured_shield_shared_roast_and_cleanup)
{
    static struct run r;
    run_example("shield", NULL, &r);
    ck_assert_msg(r.status == 0, "shield exit %d\n%s", r.status, r.out);
    assert_in_order(&r, "alice gives up: Connection timed out; the roast goes on",
                    "pasta    cancelled draining the pot first");
    assert_in_order(&r, "a wait now, unshielded: Operation canceled",
                    "pot drained (shielded wait: 0)");
    assert_in_order(&r, "pot drained (shielded wait: 0)", "roast    done");
    assert_in_order(&r, "roast    done", "bob gets the roast");
    assert_absent(&r, "should not be");
    ck_assert(event_t(&r, "roast", "done") >= 6.0 - 0.05);
}
END_TEST

/* ---------------------------------------------------------------------
 * tutorial: the excerpts and programs the pages show equal the files
 * ------------------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    size_t got;
    while (s && (got = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *t = realloc(s, cap *= 2);
            if (!t) {
                free(s);
                s = NULL;
            }
            s = t;
        }
    }
    fclose(f);
    if (s)
        s[n] = '\0';
    return s;
}

/* The text between the line holding "tutorial:begin NAME" and the line
 * holding "tutorial:end NAME" in any .c or .h file of examples/ (a malloc'd
 * copy, marker lines excluded), or NULL.  *file names the file. */
static char *find_region(const char *name, char *file, size_t flen)
{
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/examples", src_root);
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char begin[96], end[96];
    snprintf(begin, sizeof begin, "tutorial:begin %s ", name);
    snprintf(end, sizeof end, "tutorial:end %s ", name);
    char *found = NULL;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 3 || (strcmp(de->d_name + l - 2, ".c") != 0 && strcmp(de->d_name + l - 2, ".h") != 0))
            continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *s = slurp(path);
        if (!s)
            continue;
        char *b = strstr(s, begin);
        if (b) {
            b = strchr(b, '\n');
            char *e = b ? strstr(b, end) : NULL;
            if (e) {
                while (e > b && e[-1] != '\n')
                    e--;                       /* back to the start of the end line */
                found = strndup(b + 1, (size_t)(e - (b + 1)));
                snprintf(file, flen, "examples/%s", de->d_name);
            }
        }
        free(s);
    }
    closedir(d);
    return found;
}

/* The pages that may show excerpts: README.md and the .md files of doc/
 * and doc/tutorial/, as paths relative to src_root.  Returns the count. */
enum { MAX_PAGES = 64, PAGE_PATH = 256 };
static int list_pages(char pages[][PAGE_PATH])
{
    int n = 0;
    snprintf(pages[n++], PAGE_PATH, "README.md");
    static const char *dirs[] = {"doc", "doc/tutorial"};
    for (size_t k = 0; k < sizeof dirs / sizeof dirs[0]; k++) {
        char dir[PATH_MAX + 32];
        snprintf(dir, sizeof dir, "%s/%s", src_root, dirs[k]);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d)) && n < MAX_PAGES) {
            size_t l = strlen(de->d_name);
            if (l > 3 && strcmp(de->d_name + l - 3, ".md") == 0 &&
                snprintf(pages[n], PAGE_PATH, "%s/%s", dirs[k], de->d_name) < PAGE_PATH)
                n++;                           /* a longer path is not a page of ours */
        }
        closedir(d);
    }
    return n;
}

static char *slurp_page(const char *page)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%.255s", src_root, page);
    return slurp(path);
}

/* The whole file `rel` (relative to src_root) without its region marker
 * lines, malloc'd, or NULL. */
static char *whole_program(const char *rel)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", src_root, rel);
    char *s = slurp(path);
    if (!s)
        return NULL;
    char *out = malloc(strlen(s) + 1), *o = out;
    for (char *line = s; out && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
        if (!memmem(line, len, "tutorial:begin ", 15) && !memmem(line, len, "tutorial:end ", 13)) {
            memcpy(o, line, len);
            o += len;
        }
        line += len;
    }
    if (out)
        *o = '\0';
    free(s);
    return out;
}

/* Fails naming the first line where `want` (from `file`) and the page's
 * block `got` (blen bytes) differ. */
static void compare_block(const char *page, const char *what, const char *file,
                          const char *want, const char *got, size_t blen)
{
    if (strlen(want) == blen && strncmp(want, got, blen) == 0)
        return;
    const char *a = want, *b = got, *la = want, *lb = got;
    int line = 1;
    while (*a && *a == *b && b < got + blen) {
        if (*a == '\n') {
            line++;
            la = a + 1;
            lb = b + 1;
        }
        a++, b++;
    }
    ck_abort_msg("%s: %s differs from %s at line %d:\n  file: %.*s\n  page: %.*s\n"
                 "(copy it from the file into the page)",
                 page, what, file, line, (int)strcspn(la, "\n"), la, (int)strcspn(lb, "\n"), lb);
}

START_TEST(tutorial_excerpts_match_examples)
{
    static char pages[MAX_PAGES][PAGE_PATH];
    int npages = list_pages(pages);
    int excerpts = 0;
    for (int pg = 0; pg < npages; pg++) {
        char *doc = slurp_page(pages[pg]);
        ck_assert_msg(doc != NULL, "cannot read %s", pages[pg]);
        for (char *p = strstr(doc, "<!-- tutorial:"); p; p = strstr(p + 1, "<!-- tutorial:")) {
            char name[64];
            bool whole = strncmp(p, "<!-- tutorial:file ", 19) == 0;
            ck_assert_msg(whole ? sscanf(p, "<!-- tutorial:file %63[A-Za-z0-9_./-] -->", name) == 1
                                : sscanf(p, "<!-- tutorial:%63[a-z0-9-] -->", name) == 1,
                          "%s: bad excerpt marker near: %.40s", pages[pg], p);
            /* The next line opens a fence; the excerpt runs to the closing one. */
            char *fence = strchr(p, '\n');
            ck_assert_msg(fence && strncmp(fence + 1, "```", 3) == 0,
                          "%s: <!-- tutorial:%s --> must be followed by a ``` fence", pages[pg],
                          name);
            char *body = strchr(fence + 1, '\n') + 1;
            char *close = strstr(body, "\n```");
            ck_assert_msg(close != NULL, "%s: excerpt %s: no closing fence", pages[pg], name);
            size_t blen = (size_t)(close - body) + 1;   /* with its last newline */
            char file[PATH_MAX], what[PATH_MAX + 32];
            char *want;
            if (whole) {
                want = whole_program(name);
                ck_assert_msg(want != NULL, "%s shows the program %s, which does not exist",
                              pages[pg], name);
                snprintf(file, sizeof file, "%s", name);
                snprintf(what, sizeof what, "the program");
            } else {
                want = find_region(name, file, sizeof file);
                ck_assert_msg(want != NULL,
                              "%s: excerpt %s: no region \"tutorial:begin %s\" in examples/",
                              pages[pg], name, name);
                snprintf(what, sizeof what, "excerpt %s", name);
            }
            compare_block(pages[pg], what, file, want, body, blen);
            free(want);
            excerpts++;
        }
        free(doc);
    }
    ck_assert_msg(excerpts > 0, "no page shows an excerpt");
}
END_TEST

/* Does any page hold `marker`? */
static bool shown_somewhere(const char *marker)
{
    static char pages[MAX_PAGES][PAGE_PATH];
    int npages = list_pages(pages);
    bool found = false;
    for (int pg = 0; pg < npages && !found; pg++) {
        char *doc = slurp_page(pages[pg]);
        found = doc && strstr(doc, marker);
        free(doc);
    }
    return found;
}

START_TEST(tutorial_shows_every_region_and_python_program)
{
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/examples", src_root);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 3 || (strcmp(de->d_name + l - 2, ".c") != 0 && strcmp(de->d_name + l - 2, ".h") != 0))
            continue;
        char file[PATH_MAX + 300];
        snprintf(file, sizeof file, "%s/%s", dir, de->d_name);
        char *s = slurp(file);
        ck_assert(s != NULL);
        for (char *p = strstr(s, "tutorial:begin "); p; p = strstr(p + 1, "tutorial:begin ")) {
            char name[64], marker[96], end[96];
            ck_assert(sscanf(p, "tutorial:begin %63[a-z0-9-]", name) == 1);
            snprintf(marker, sizeof marker, "<!-- tutorial:%s -->", name);
            snprintf(end, sizeof end, "tutorial:end %s ", name);
            ck_assert_msg(strstr(p, end) != NULL, "%s: region %s has no end marker",
                          de->d_name, name);
            ck_assert_msg(shown_somewhere(marker), "%s: region %s is shown on no page",
                          de->d_name, name);
        }
        free(s);
    }
    closedir(d);
    snprintf(dir, sizeof dir, "%s/examples/py", src_root);
    d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    int programs = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 4 || strcmp(de->d_name + l - 3, ".py") != 0)
            continue;
        char marker[PATH_MAX];
        snprintf(marker, sizeof marker, "<!-- tutorial:file examples/py/%s -->", de->d_name);
        ck_assert_msg(shown_somewhere(marker), "examples/py/%s is shown whole on no page",
                      de->d_name);
        programs++;
    }
    closedir(d);
    ck_assert_msg(programs > 0, "no Python program in examples/py");
}
END_TEST

START_TEST(tutorial_images_exist)
{
    static char pages[MAX_PAGES][PAGE_PATH];
    int npages = list_pages(pages);
    int images = 0;
    for (int pg = 0; pg < npages; pg++) {
        char *doc = slurp_page(pages[pg]);
        ck_assert_msg(doc != NULL, "cannot read %s", pages[pg]);
        char pagedir[PAGE_PATH];
        snprintf(pagedir, sizeof pagedir, "%.255s", pages[pg]);
        char *slash = strrchr(pagedir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(pagedir, sizeof pagedir, ".");
        for (char *p = strstr(doc, "]("); p; p = strstr(p + 1, "](")) {
            char rel[256];
            if (sscanf(p, "](%255[^)\n])", rel) != 1)
                continue;
            size_t l = strlen(rel);
            if (l < 5 || strcmp(rel + l - 4, ".svg") != 0)
                continue;
            char img[PATH_MAX * 3];
            snprintf(img, sizeof img, "%s/%s/%s", src_root, pagedir, rel);
            struct stat st;
            ck_assert_msg(stat(img, &st) == 0,
                          "%s shows %s, which does not exist (make docs-figures draws it)",
                          pages[pg], rel);
            images++;
        }
        free(doc);
    }
    ck_assert_msg(images > 0, "no page shows a picture");
}
END_TEST

/* ---------------------------------------------------------------------
 * outside_world: the I/O examples (echo server, crawler, subprocesses,
 * echo + hash on a pool), small sizes, loopback only
 * ------------------------------------------------------------------- */

/* The whole output of run_example, and the status. */
#define OUT_HAS(r, s) ck_assert_msg(strstr((r)->out, (s)) != NULL, "expected \"%s\" in:\n%s", (s), (r)->out)

/* A client of the echo server: connects, and echoes `msg` (blocking,
 * bounded by a receive timeout). */
static int echo_client(int port, const char *msg)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    size_t n = strlen(msg);
    ck_assert_int_eq(write(fd, msg, n), (ssize_t)n);
    char back[64] = "";
    size_t have = 0;
    while (have < n) {
        ssize_t k = read(fd, back + have, n - have);
        ck_assert_int_gt(k, 0);
        have += (size_t)k;
    }
    ck_assert(memcmp(back, msg, n) == 0);
    return fd;
}

/* echo_server: serves connections, then stops on SIGTERM (and SIGINT)
 * with the connections still open counted, and exits 0. */
static void echo_server_stops_on(int sig, const char *name)
{
    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(out[1], 2);
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/echo_server", ex_dir);
        execl(path, "echo_server", "0", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[256] = "";
    int port = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_msg(sscanf(line, "echo_server: listening on 127.0.0.1:%d", &port) == 1, "%s", line);
    int a = echo_client(port, "one");
    int b = echo_client(port, "two two");
    int c = echo_client(port, "three");
    close(a);
    tu_sleep_ms(100);                  /* let the server see a's end */
    ck_assert_int_eq(kill(pid, sig), 0);
    static struct run r;
    memset(&r, 0, sizeof r);
    size_t used = 0;
    while (fgets(line, sizeof line, f) && used + strlen(line) < sizeof r.out) {
        memcpy(r.out + used, line, strlen(line) + 1);
        used += strlen(line);
    }
    fclose(f);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d\n%s", st, r.out);
    char want[96];
    snprintf(want, sizeof want, "echo_server: %s: stopping (2 connections open)", name);
    OUT_HAS(&r, want);
    OUT_HAS(&r, "echo_server: served 3 connections, echoed 15 bytes");
    close(b);
    close(c);
}

START_TEST(echo_server_stops_on_sigterm_and_sigint)
{
    echo_server_stops_on(SIGTERM, strsignal(SIGTERM));
    echo_server_stops_on(SIGINT, strsignal(SIGINT));
}
END_TEST

/* crawler: N connections open at once, every page fetched; the bytes are
 * sum(200 + n % 100). */
START_TEST(crawler_all_at_once)
{
    static struct run r;
    run_example("crawler", "200", &r);
    ck_assert_msg(r.status == 0, "crawler exit %d\n%s", r.status, r.out);
    OUT_HAS(&r, "crawler: 200 pages, 200 ok, 49900 bytes; "
                "200 connections open at once at most");
}
END_TEST

/* subprocess: every child's exit code and output, collected at once. */
START_TEST(subprocess_collects_codes_and_output)
{
    static struct run r;
    run_example("subprocess", "3", &r);
    ck_assert_msg(r.status == 0, "subprocess exit %d\n%s", r.status, r.out);
    for (int k = 1; k <= 3; k++) {
        char want[128];
        snprintf(want, sizeof want,
                 "child %d: exit code %d; its output:\nchild %d: started\n"
                 "child %d: done after 0.%d s\n", k, k, k, k, k);
        OUT_HAS(&r, want);
    }
    OUT_HAS(&r, "child 1 finished first (exit 1");
    OUT_HAS(&r, "3 children in ");
    run_example("subprocess", "0", &r);   /* bad input: a usage line, status 2 */
    ck_assert_int_eq(r.status, 2);
}
END_TEST

/* echo_hash: every answer (a hash computed by the pool) right, with one
 * pool thread and with two. */
START_TEST(echo_hash_answers_right)
{
    static struct run r;
    run_example("echo_hash", "1 4 10 500", &r);
    ck_assert_msg(r.status == 0, "echo_hash exit %d\n%s", r.status, r.out);
    OUT_HAS(&r, "4 clients x 10 requests of 500 rounds: 40 answers right, 0 wrong");
    OUT_HAS(&r, "1 pool thread: ");
    run_example("echo_hash", "2 6 8 300", &r);
    ck_assert_msg(r.status == 0, "echo_hash exit %d\n%s", r.status, r.out);
    OUT_HAS(&r, "6 clients x 8 requests of 300 rounds: 48 answers right, 0 wrong");
    OUT_HAS(&r, "2 pool threads: ");
}
END_TEST

/* ---------------------------------------------------------------------
 * Suite
 * ------------------------------------------------------------------- */

START_TEST(examples_are_built)
{
    ck_assert_msg(ex_dir[0] != '\0',
                  "the lunch examples are not built (looked in %s).  Build them first "
                  "(make BUILD=... examples).",
                  where_tried);
}
END_TEST

static Suite *examples_suite(void)
{
    Suite *s = suite_create("examples");
    TCase *tc = tu_tcase(s, "built", 5);
    tcase_add_test(tc, examples_are_built);
    if (ex_dir[0]) {
        tc = tu_tcase(s, "lunch", 30);
        tcase_add_test(tc, lunch_sequential_15);
        tcase_add_test(tc, lunch_coop_10);
        tcase_add_test(tc, lunch_blocking_pasta_13);
        tcase_add_test(tc, lunch_all_blocking_15);
        tcase_add_test(tc, lunch_pool_1_thread_15);
        tcase_add_test(tc, lunch_pool_2_threads_10);
        tcase_add_test(tc, lunch_pool_3_threads_10);
        tcase_add_test(tc, lunch_pool_bad_thread_count);
        tcase_add_test(tc, pool_wait_helps_5);
        tcase_add_test(tc, pool_wait_edeadlk_3);
        tcase_add_test(tc, lunch_errors_5);
        tcase_add_test(tc, lunch_both_10);
        tc = tu_tcase(s, "onions", 60);
        tcase_add_test(tc, onions_coop_and_pool);
        tc = tu_tcase(s, "real_world", 30);
        tcase_add_test(tc, checksum_crc32_check_value);
        tcase_add_test(tc, timers_overlap_on_one_thread);
        tcase_add_test(tc, chan_pipeline_every_number_once);
        tc = tu_tcase(s, "structured", 30);
        tcase_add_test(tc, structured_taskgroup_first_failure_cancels_the_rest);
        tcase_add_test(tc, structured_timeout_deadline_for_the_group);
        tcase_add_test(tc, structured_wait_for_cancels_on_timeout);
        tcase_add_test(tc, structured_as_completed_in_completion_order);
        tcase_add_test(tc, structured_shield_shared_roast_and_cleanup);
        tc = tu_tcase(s, "outside_world", 30);
        tcase_add_test(tc, echo_server_stops_on_sigterm_and_sigint);
        tcase_add_test(tc, crawler_all_at_once);
        tcase_add_test(tc, subprocess_collects_codes_and_output);
        tcase_add_test(tc, echo_hash_answers_right);
    }
    /* The Python programs need only python3 and the sources. */
    tc = tu_tcase(s, "python", 60);
    tcase_add_test(tc, py_lunch_sequential_15);
    tcase_add_test(tc, py_lunch_coop_10);
    tcase_add_test(tc, py_lunch_blocking_pasta_13);
    tcase_add_test(tc, py_lunch_all_blocking_15);
    tcase_add_test(tc, py_lunch_pool_1_2_3);
    tcase_add_test(tc, py_pool_wait_8);
    tcase_add_test(tc, py_lunch_errors_5);
    tcase_add_test(tc, py_lunch_both_10);
    tcase_add_test(tc, py_onions_threads_and_processes);
    tc = tu_tcase(s, "tutorial", 10);
    tcase_add_test(tc, tutorial_excerpts_match_examples);
    tcase_add_test(tc, tutorial_shows_every_region_and_python_program);
    tcase_add_test(tc, tutorial_images_exist);
    return s;
}

/* dirname(argv0) + "/" + rel, made absolute. */
static void beside_binary(const char *argv0, const char *rel, char *out, size_t len)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", argv0);
    char *slash = strrchr(tmp, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(tmp, sizeof tmp, ".");
    char joined[PATH_MAX * 2];
    snprintf(joined, sizeof joined, "%s/%s", tmp, rel);
    if (!realpath(joined, out)) {
        size_t n = strlen(joined);
        if (n >= len)
            n = len - 1;
        memcpy(out, joined, n);
        out[n] = '\0';
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    static char tried[PATH_MAX * 4];
    char cand[4][PATH_MAX];
    int nc = 0;
    const char *env = getenv("EXAMPLES_DIR");
    if (env && *env)
        snprintf(cand[nc++], PATH_MAX, "%s", env);
#ifdef FUT_BUILD_DIR
    snprintf(cand[nc++], PATH_MAX, "%s/examples", FUT_BUILD_DIR);
#endif
    beside_binary(argv[0], "../examples", cand[nc++], PATH_MAX);
    snprintf(cand[nc++], PATH_MAX, "build/examples");
    for (int i = 0; i < nc; i++) {
        size_t u = strlen(tried);
        snprintf(tried + u, sizeof tried - u, "%s%s", i ? ", " : "", cand[i]);
        if (!ex_dir[0] && is_dir_with(cand[i], "lunch_sequential") &&
            is_dir_with(cand[i], "onions"))
            snprintf(ex_dir, sizeof ex_dir, "%s", cand[i]);
    }
    where_tried = tried;

    if (is_dir_with(".", "doc/tutorial.md") || is_dir_with(".", "examples/lunch.h"))
        snprintf(src_root, sizeof src_root, ".");
    else
        beside_binary(argv[0], "../..", src_root, sizeof src_root);
    return tu_run_suite(examples_suite);
}
