/* SPDX-License-Identifier: MIT */
/*
 * test_examples.c - the examples tell the story the tutorial tells
 *
 * Guards, so that doc/tutorial.md can never drift from the code and the
 * real-world examples keep working:
 *
 *   lunch, onions
 *       run each built example (with a short story minute,
 *       LUNCH_MINUTE_MS=20) and check the order of its events, the time of
 *       each, and its total, against STORY.md's facts.  Orders are exact;
 *       times have a lower bound (a sleep never ends early) and a generous
 *       upper one, since a busy machine only makes things later.  A run
 *       whose order is wrong *and* which ran late is tried again (up to 3
 *       times): lateness on a loaded machine can swap two events 1 story
 *       minute apart on different threads; a run on time cannot.
 *
 *   real_world
 *       checksum, timers and chan_pipeline: real uses, checked by their
 *       output (a known CRC, overlapping waits, a sum of squares)
 *
 *   tutorial
 *       every excerpt in doc/tutorial.md (a fenced block preceded by
 *       `<!-- tutorial:NAME -->`) equals the region of an example between
 *       `tutorial:begin NAME` and `tutorial:end NAME`, and every region is
 *       shown somewhere.  Every image the tutorial links exists.
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

#include <dirent.h>
#include <limits.h>
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

/* Runs `prog args` from ex_dir with LUNCH_MINUTE_MS=MINUTE_MS, stderr
 * merged into stdout, and parses the lines into r. */
static void run_example(const char *prog, const char *args, struct run *r)
{
    memset(r, 0, sizeof *r);
    char cmd[PATH_MAX + 256];
    snprintf(cmd, sizeof cmd, "LUNCH_MINUTE_MS=%d '%s/%s' %s 2>&1", MINUTE_MS, ex_dir,
             prog, args ? args : "");
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen %s: %s", cmd, strerror(errno));
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

/* Runs the example until it matches, retrying only runs that were late. */
static void check_lunch(const char *prog, const char *args, const struct want *w, int n,
                        int total)
{
    static struct run r;
    char msg[256] = "";
    for (int attempt = 1; attempt <= 3; attempt++) {
        run_example(prog, args, &r);
        double late;
        if (matches(&r, w, n, total, msg, sizeof msg, &late))
            return;
        if (late < 0.5)
            break;                /* on time and still wrong: a real failure */
        fprintf(stderr, "%s %s: attempt %d ran %.1f min late (%s); again\n", prog,
                args ? args : "", attempt, late, msg);
    }
    ck_abort_msg("%s %s: %s\n--- its output:\n%s", prog, args ? args : "", msg, r.out);
}

/* ---------------------------------------------------------------------
 * lunch: STORY.md's facts, one case per way of cooking
 * ------------------------------------------------------------------- */

START_TEST(lunch_sequential_15)
{
    const struct want w[] = {
        {"pasta", "starts", 0, 0},     {"pasta", "done", 10, 0},
        {"meatloaf", "starts", 10, 0}, {"meatloaf", "done", 13, 0},
        {"avocado", "starts", 13, 0},  {"avocado", "done", 15, 0},
    };
    check_lunch("lunch_sequential", NULL, w, 6, 15);
}
END_TEST

START_TEST(lunch_coop_10)
{
    const struct want w[] = {
        {"pasta", "starts", 0, 0},    {"meatloaf", "starts", 0, 0},
        {"avocado", "starts", 0, 0},  {"avocado", "done", 2, 0},
        {"meatloaf", "done", 3, 0},   {"pasta", "done", 10, 0},
    };
    check_lunch("lunch_coop", NULL, w, 6, 10);
}
END_TEST

START_TEST(lunch_blocking_pasta_13)
{
    const struct want w[] = {
        {"pasta", "starts", 0, 0},     {"pasta", "done", 10, 0},
        {"meatloaf", "starts", 10, 0}, {"avocado", "starts", 10, 0},
        {"avocado", "done", 12, 0},    {"meatloaf", "done", 13, 0},
    };
    check_lunch("lunch_blocking_pasta", NULL, w, 6, 13);
}
END_TEST

START_TEST(lunch_all_blocking_15)
{
    const struct want w[] = {
        {"pasta", "starts", 0, 0},     {"pasta", "done", 10, 0},
        {"meatloaf", "starts", 10, 0}, {"meatloaf", "done", 13, 0},
        {"avocado", "starts", 13, 0},  {"avocado", "done", 15, 0},
    };
    check_lunch("lunch_all_blocking", NULL, w, 6, 15);
}
END_TEST

START_TEST(lunch_pool_1_thread_15)
{
    const struct want w[] = {
        {"pasta", "starts", 0, 0},     {"pasta", "done", 10, 0},
        {"meatloaf", "starts", 10, 0}, {"meatloaf", "done", 13, 0},
        {"avocado", "starts", 13, 0},  {"avocado", "done", 15, 0},
    };
    check_lunch("lunch_pool", "1", w, 6, 15);
}
END_TEST

START_TEST(lunch_pool_2_threads_10)
{
    /* Pasta on one cook; meatloaf, then avocado, on the other. */
    const struct want w[] = {
        {"pasta", "starts", 0, 1},    {"meatloaf", "starts", 0, 1},
        {"meatloaf", "done", 3, 0},   {"avocado", "starts", 3, 0},
        {"avocado", "done", 5, 0},    {"pasta", "done", 10, 0},
    };
    check_lunch("lunch_pool", "2", w, 6, 10);
}
END_TEST

START_TEST(lunch_pool_3_threads_10)
{
    const struct want w[] = {
        {"pasta", "starts", 0, 1},    {"meatloaf", "starts", 0, 1},
        {"avocado", "starts", 0, 1},  {"avocado", "done", 2, 0},
        {"meatloaf", "done", 3, 0},   {"pasta", "done", 10, 0},
    };
    check_lunch("lunch_pool", "3", w, 6, 10);
}
END_TEST

START_TEST(lunch_pool_bad_thread_count)
{
    struct run r;
    run_example("lunch_pool", "0", &r);
    ck_assert_int_eq(r.status, 2);
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
 * tutorial: excerpts in doc/tutorial.md equal the marked regions
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

START_TEST(tutorial_excerpts_match_examples)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/doc/tutorial.md", src_root);
    char *doc = slurp(path);
    ck_assert_msg(doc != NULL, "cannot read %s", path);
    int excerpts = 0;
    for (char *p = strstr(doc, "<!-- tutorial:"); p; p = strstr(p + 1, "<!-- tutorial:")) {
        char name[64];
        ck_assert_msg(sscanf(p, "<!-- tutorial:%63[a-z0-9-] -->", name) == 1,
                      "bad excerpt marker near: %.40s", p);
        /* The next line opens a fence; the excerpt runs to the closing one. */
        char *fence = strchr(p, '\n');
        ck_assert_msg(fence && strncmp(fence + 1, "```", 3) == 0,
                      "<!-- tutorial:%s --> must be followed by a ``` fence", name);
        char *body = strchr(fence + 1, '\n') + 1;
        char *close = strstr(body, "\n```");
        ck_assert_msg(close != NULL, "excerpt %s: no closing fence", name);
        size_t blen = (size_t)(close - body) + 1;   /* with its last newline */
        char file[PATH_MAX];
        char *region = find_region(name, file, sizeof file);
        ck_assert_msg(region != NULL, "excerpt %s: no region \"tutorial:begin %s\" in examples/",
                      name, name);
        if (strlen(region) != blen || strncmp(region, body, blen) != 0) {
            /* Name the first line that differs. */
            const char *a = region, *b = body, *la = region, *lb = body;
            int line = 1;
            while (*a && *a == *b && b < body + blen) {
                if (*a == '\n') {
                    line++;
                    la = a + 1;
                    lb = b + 1;
                }
                a++, b++;
            }
            ck_abort_msg("doc/tutorial.md excerpt %s differs from %s at line %d of the "
                         "region:\n  example: %.*s\n  doc:     %.*s\n(copy the region "
                         "from the example into the doc)",
                         name, file, line, (int)strcspn(la, "\n"), la,
                         (int)strcspn(lb, "\n"), lb);
        }
        free(region);
        excerpts++;
    }
    ck_assert_msg(excerpts > 0, "doc/tutorial.md shows no excerpt");
    free(doc);
}
END_TEST

START_TEST(tutorial_shows_every_region)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/doc/tutorial.md", src_root);
    char *doc = slurp(path);
    ck_assert_msg(doc != NULL, "cannot read %s", path);
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
            ck_assert_msg(strstr(doc, marker) != NULL,
                          "%s: region %s is shown nowhere in doc/tutorial.md", de->d_name, name);
        }
        free(s);
    }
    closedir(d);
    free(doc);
}
END_TEST

START_TEST(tutorial_images_exist)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/doc/tutorial.md", src_root);
    char *doc = slurp(path);
    ck_assert_msg(doc != NULL, "cannot read %s", path);
    int images = 0;
    for (char *p = strstr(doc, "](img/"); p; p = strstr(p + 1, "](img/")) {
        char rel[128];
        ck_assert(sscanf(p, "](%127[^)])", rel) == 1);
        char img[PATH_MAX + 160];
        snprintf(img, sizeof img, "%s/doc/%s", src_root, rel);
        struct stat st;
        ck_assert_msg(stat(img, &st) == 0, "doc/tutorial.md shows %s, which does not exist "
                      "(scripts/timelines.sh draws them)", rel);
        images++;
    }
    ck_assert_msg(images > 0, "doc/tutorial.md shows no timeline");
    free(doc);
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
    }
    tc = tu_tcase(s, "tutorial", 10);
    tcase_add_test(tc, tutorial_excerpts_match_examples);
    tcase_add_test(tc, tutorial_shows_every_region);
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
