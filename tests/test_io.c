/* SPDX-License-Identifier: MIT */
/*
 * test_io.c - waiting on the outside world (futures.h section 7)
 *
 * Cases, by TCase:
 *
 *   io_behaviour  every sentence of the section: fut_io_wait, fut_read,
 *                 fut_write, fut_accept, fut_connect, fut_waitpid,
 *                 fut_signal_wait, in a coroutine (the loop keeps running
 *                 others meanwhile), on a plain thread and in a pool job;
 *                 many waiters on many descriptors and on one descriptor;
 *                 blocking descriptors that must not block the loop
 *   io_faults     bad input and the faults of issue 11: closed / invalid
 *                 descriptors (EBADF, no hang, no stale registration, the
 *                 dup'ed case), a peer that hangs up mid-write (EPIPE, no
 *                 SIGPIPE), a peer that stops reading (the timeout fires),
 *                 connection refused, accept-queue overflow, EMFILE (the
 *                 server keeps serving), ECHILD
 *   io_cancel     cancellation at every waiting point of every call: the
 *                 call returns ECANCELED and the descriptor, child or
 *                 signal is left as it was
 *   io_nested     a loop run inside a pool job waiting on a descriptor
 *   io_stress     many connections, random cancellations, wake-ups from
 *                 other threads while coroutines wait on descriptors
 *
 * Networking is loopback only (127.0.0.1), bounded in count and time.
 * Times are never asserted, except as generous upper bounds on a wait
 * that must not hang.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* Library hooks (hidden symbols, linked statically). */
extern atomic_long fut__io_stale_events;
extern atomic_int fut__io_no_pidfd;

/* ---------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------- */

static void pipe_nb(int p[2])
{
    ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void pipe_blocking(int p[2])
{
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
}

static void socketpair_nb(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* A TCP listener on 127.0.0.1 (an ephemeral port, written to *sa). */
static int tcp_listener(int backlog, bool nonblocking, struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    ck_assert_int_ge(fd, 0);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)sa, sizeof *sa), 0);
    ck_assert_int_eq(listen(fd, backlog), 0);
    socklen_t l = sizeof *sa;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sa, &l), 0);
    return fd;
}

static int tcp_socket_nb(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    return fd;
}

static bool is_nonblocking(int fd)
{
    return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

static bool is_cloexec(int fd)
{
    return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

static unsigned long inode_of(int fd)
{
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    return (unsigned long)st.st_ino;
}

/* Does any epoll instance of this process hold a registration of
 * descriptor number fd (for the file with inode ino; 0: any file)?  Reads
 * /proc/self/fdinfo of every epoll descriptor ("tfd: N ... ino:X"). */
static bool epoll_watches(int fd, unsigned long ino)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[300], link[64];
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(p, link, sizeof link - 1);
        if (n <= 0)
            continue;
        link[n] = '\0';
        if (strcmp(link, "anon_inode:[eventpoll]") != 0)
            continue;
        snprintf(p, sizeof p, "/proc/self/fdinfo/%s", e->d_name);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        char line[256];
        while (fgets(line, sizeof line, f)) {
            int tfd;
            if (sscanf(line, "tfd: %d", &tfd) != 1 || tfd != fd)
                continue;
            const char *ip = strstr(line, "ino:");
            unsigned long i = ip ? strtoul(ip + 4, NULL, 16) : 0;
            if (!ino || i == ino)
                found = true;
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

static long elapsed_ms(uint64_t t0)
{
    return (long)((tu_now_ns() - t0) / 1000000u);
}

/* Reads exactly len bytes from a blocking or non-blocking fd on a plain
 * thread (poll + read), at most ms; returns the bytes read. */
static size_t read_full_ms(int fd, void *buf, size_t len, long ms)
{
    size_t have = 0;
    uint64_t t0 = tu_now_ns();
    while (have < len && elapsed_ms(t0) < ms) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = read(fd, (char *)buf + have, len - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    return have;
}

/* A coroutine that counts, sleeping 1 ms between counts, until *stop. */
struct ticker {
    atomic_int ticks;
    atomic_bool stop;
};

static void *ticker_co(void *arg)
{
    struct ticker *t = arg;
    while (!atomic_load(&t->stop)) {
        if (fut_sleep(1) != 0)
            break;
        atomic_fetch_add(&t->ticks, 1);
    }
    return NULL;
}

/* ---------------------------------------------------------------------
 * fut_io_wait
 * ------------------------------------------------------------------- */

struct iow {
    int fd;
    short events;
    long timeout;
    int rc;
    short rev;
    struct ticker tk;
    int wfd;            /* written to after some ticks, if >= 0 */
    int ticks_at_wake;
};

static void *iow_waiter(void *arg)
{
    struct iow *w = arg;
    w->rc = fut_io_wait(w->fd, w->events, w->timeout, &w->rev);
    w->ticks_at_wake = atomic_load(&w->tk.ticks);
    atomic_store(&w->tk.stop, true);
    return NULL;
}

static void *iow_writer(void *arg)
{
    struct iow *w = arg;
    while (atomic_load(&w->tk.ticks) < 5)
        fut_sleep(1);
    ck_assert_int_eq(write(w->wfd, "x", 1), 1);
    return NULL;
}

static void *iow_main(void *arg)
{
    struct iow *w = arg;
    future_t *fs[3] = {fut_spawn(iow_waiter, w), fut_spawn(ticker_co, &w->tk),
                       fut_spawn(iow_writer, w)};
    ck_assert_int_eq(future_gather(fs, 3, NULL, 10000), 0);
    for (int i = 0; i < 3; i++)
        future_release(fs[i]);
    return NULL;
}

/* In a coroutine, fut_io_wait suspends only that coroutine: the loop runs
 * the others (the ticker counts, the writer writes) until the descriptor
 * is ready. */
START_TEST(io_wait_suspends_only_the_coroutine)
{
    int p[2];
    pipe_nb(p);
    struct iow w = {.fd = p[0], .events = POLLIN, .timeout = FUT_FOREVER, .wfd = p[1]};
    ck_assert_int_eq(fut_run(iow_main, &w, NULL), 0);
    tu_assert_rc(w.rc, 0);
    ck_assert_int_eq(w.rev, POLLIN);
    ck_assert_int_ge(w.ticks_at_wake, 5);
    close(p[0]);
    close(p[1]);
}
END_TEST

static void *thread_write_later(void *arg)
{
    int fd = (int)(intptr_t)arg;
    tu_sleep_ms(30);
    ck_assert_int_eq(write(fd, "y", 1), 1);
    return NULL;
}

/* On a plain thread it blocks the thread (poll) until ready; a timeout of
 * 0 only checks; a timeout runs out with ETIMEDOUT. */
START_TEST(io_wait_plain_thread_blocks)
{
    int p[2];
    pipe_nb(p);
    short rev = 123;
    tu_assert_rc(fut_io_wait(p[0], POLLIN, 0, &rev), ETIMEDOUT);
    ck_assert_int_eq(rev, 0);
    tu_assert_rc(fut_io_wait(p[0], POLLIN, 30, &rev), ETIMEDOUT);
    pthread_t t = tu_thread(thread_write_later, (void *)(intptr_t)p[1]);
    tu_assert_rc(fut_io_wait(p[0], POLLIN, 10000, &rev), 0);
    ck_assert_int_eq(rev, POLLIN);
    tu_join(t);
    tu_assert_rc(fut_io_wait(p[0], POLLIN, 0, &rev), 0);   /* still unread */
    tu_assert_rc(fut_io_wait(p[0], POLLIN, 0, NULL), 0);   /* revents may be NULL */
    close(p[0]);
    close(p[1]);
}
END_TEST

/* revents is what poll(2) says for the same descriptor and events: in a
 * coroutine and on a thread, for a pipe with data, a write end, a read end
 * whose writer is gone (POLLHUP), and a socket whose peer is gone. */
struct revcase {
    int fd;
    short events;
};

static short poll_says(int fd, short events)
{
    struct pollfd p = {fd, events, 0};
    ck_assert_int_eq(poll(&p, 1, 0), 1);
    return (short)(p.revents & (POLLIN | POLLOUT | POLLERR | POLLHUP));
}

struct revs {
    struct revcase c[5];
    int n;
    short got[5];
    int rc[5];
};

static void *revs_co(void *arg)
{
    struct revs *r = arg;
    for (int i = 0; i < r->n; i++)
        r->rc[i] = fut_io_wait(r->c[i].fd, r->c[i].events, 1000, &r->got[i]);
    return NULL;
}

START_TEST(io_wait_revents_as_poll)
{
    int p1[2], p2[2], sv[2];
    pipe_nb(p1);
    pipe_nb(p2);
    socketpair_nb(sv);
    ck_assert_int_eq(write(p1[1], "d", 1), 1);
    close(p2[1]);                      /* p2[0]: writer gone */
    close(sv[1]);                      /* sv[0]: peer gone */
    struct revs r = {.c = {{p1[0], POLLIN}, {p1[1], POLLOUT}, {p2[0], POLLIN},
                           {sv[0], POLLIN | POLLOUT}, {sv[0], POLLOUT}},
                     .n = 5};
    ck_assert_int_eq(fut_run(revs_co, &r, NULL), 0);
    for (int i = 0; i < r.n; i++) {
        tu_assert_rc(r.rc[i], 0);
        ck_assert_int_eq(r.got[i], poll_says(r.c[i].fd, r.c[i].events));
        short t = 0;
        tu_assert_rc(fut_io_wait(r.c[i].fd, r.c[i].events, 1000, &t), 0);
        ck_assert_int_eq(t, poll_says(r.c[i].fd, r.c[i].events));
    }
    ck_assert(r.got[2] & POLLHUP);
    ck_assert(r.got[3] & POLLHUP);
    close(p1[0]);
    close(p1[1]);
    close(p2[0]);
    close(sv[0]);
}
END_TEST

/* Bad arguments: EINVAL (events neither POLLIN nor POLLOUT, or any other
 * bit; a timeout below FUT_FOREVER), EBADF (negative or closed fd). */
static void *io_wait_args_co(void *arg)
{
    int *fds = arg;
    short rev = 7;
    fds[1] = dup(fds[0]);              /* a number not open (here and now) */
    close(fds[1]);
    tu_assert_rc(fut_io_wait(fds[0], 0, 10, &rev), EINVAL);
    ck_assert_int_eq(rev, 0);
    tu_assert_rc(fut_io_wait(fds[0], POLLIN | POLLPRI, 10, &rev), EINVAL);
    tu_assert_rc(fut_io_wait(fds[0], POLLIN, -2, &rev), EINVAL);
    tu_assert_rc(fut_io_wait(-1, POLLIN, 10, &rev), EBADF);
    tu_assert_rc(fut_io_wait(fds[1], POLLIN, 10, &rev), EBADF);
    tu_assert_rc(fut_io_wait(fds[1], POLLIN, 0, &rev), EBADF);
    tu_assert_rc(fut_io_wait(fds[1], POLLIN, FUT_FOREVER, &rev), EBADF);
    ck_assert(!epoll_watches(fds[1], 0));
    return NULL;
}

START_TEST(io_wait_bad_arguments)
{
    int p[2];
    pipe_nb(p);
    int fds[2] = {p[0], -1};
    ck_assert_int_eq(fut_run(io_wait_args_co, fds, NULL), 0);
    io_wait_args_co(fds);              /* and on a plain thread */
    close(p[0]);
    close(p[1]);
}
END_TEST

/* A regular file is always ready, as poll(2) says. */
static void *regfile_co(void *arg)
{
    int fd = (int)(intptr_t)arg;
    short rev = 0;
    tu_assert_rc(fut_io_wait(fd, POLLIN | POLLOUT, FUT_FOREVER, &rev), 0);
    ck_assert_int_eq(rev, POLLIN | POLLOUT);
    return NULL;
}

START_TEST(io_wait_regular_file_ready)
{
    char path[] = "/tmp/fut-io-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(fut_run(regfile_co, (void *)(intptr_t)fd, NULL), 0);
    regfile_co((void *)(intptr_t)fd);
    close(fd);
}
END_TEST

/* Many coroutines wait on different descriptors of one loop; each wakes
 * when its own is written, in whatever order a thread writes them. */
#define MANY 64
struct many {
    int p[MANY][2];
    int rc[MANY];
    short rev[MANY];
    atomic_int woke[MANY];
    atomic_int order;
};

struct many_arg {
    struct many *m;
    int i;
};

static void *many_waiter(void *arg)
{
    struct many_arg *a = arg;
    struct many *m = a->m;
    m->rc[a->i] = fut_io_wait(m->p[a->i][0], POLLIN, 10000, &m->rev[a->i]);
    char c;
    ck_assert_int_eq(read(m->p[a->i][0], &c, 1), 1);
    ck_assert_int_eq(c, (char)a->i);
    atomic_store(&m->woke[a->i], atomic_fetch_add(&m->order, 1) + 1);
    return NULL;
}

static void *many_writer_thread(void *arg)
{
    struct many *m = arg;
    tu_sleep_ms(20);
    /* An order no coroutine was spawned in: odd from the top, then even. */
    for (int k = 0; k < MANY; k++) {
        int i = k < MANY / 2 ? MANY - 1 - 2 * k : 2 * (k - MANY / 2);
        char c = (char)i;
        ck_assert_int_eq(write(m->p[i][1], &c, 1), 1);
        if (k % 8 == 0)
            tu_sleep_ms(1);
    }
    return NULL;
}

static void *many_main(void *arg)
{
    struct many *m = arg;
    static struct many_arg a[MANY];
    future_t *fs[MANY];
    for (int i = 0; i < MANY; i++) {
        a[i] = (struct many_arg){m, i};
        fs[i] = fut_spawn(many_waiter, &a[i]);
    }
    pthread_t t = tu_thread(many_writer_thread, m);
    ck_assert_int_eq(future_gather(fs, MANY, NULL, 20000), 0);
    tu_join(t);
    for (int i = 0; i < MANY; i++)
        future_release(fs[i]);
    return NULL;
}

START_TEST(io_wait_many_descriptors_one_loop)
{
    static struct many m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < MANY; i++)
        pipe_nb(m.p[i]);
    ck_assert_int_eq(fut_run(many_main, &m, NULL), 0);
    for (int i = 0; i < MANY; i++) {
        tu_assert_rc(m.rc[i], 0);
        ck_assert_int_eq(m.rev[i], POLLIN);
        ck_assert_int_gt(atomic_load(&m.woke[i]), 0);
        close(m.p[i][0]);
        close(m.p[i][1]);
    }
    ck_assert_int_eq(atomic_load(&m.order), MANY);
}
END_TEST

/* One descriptor, several waiters: one for POLLIN, one for POLLOUT, two
 * more for POLLIN.  The writable one wakes at once; all readers wake when
 * data comes; nobody is woken for an event it did not ask for. */
struct same {
    int fd, peer;
    int rc[4];
    short rev[4];
    short ev[4];
    atomic_int done;
    atomic_int in_done_before_write;
};

struct same_arg {
    struct same *s;
    int i;
};

static void *same_waiter(void *arg)
{
    struct same_arg *a = arg;
    struct same *s = a->s;
    s->rc[a->i] = fut_io_wait(s->fd, s->ev[a->i], 10000, &s->rev[a->i]);
    atomic_fetch_add(&s->done, 1);
    return NULL;
}

static void *same_main(void *arg)
{
    struct same *s = arg;
    struct same_arg a[4];
    future_t *fs[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct same_arg){s, i};
        fs[i] = fut_spawn(same_waiter, &a[i]);
    }
    /* Let them all register; the POLLOUT one is done at once. */
    for (int k = 0; k < 20 && atomic_load(&s->done) < 1; k++)
        fut_sleep(1);
    fut_sleep(20);
    atomic_store(&s->in_done_before_write, atomic_load(&s->done));
    ck_assert_int_eq(write(s->peer, "z", 1), 1);
    ck_assert_int_eq(future_gather(fs, 4, NULL, 10000), 0);
    for (int i = 0; i < 4; i++)
        future_release(fs[i]);
    return NULL;
}

START_TEST(io_wait_same_descriptor_different_events)
{
    int sv[2];
    socketpair_nb(sv);
    struct same s = {.fd = sv[0], .peer = sv[1], .ev = {POLLIN, POLLOUT, POLLIN, POLLIN}};
    ck_assert_int_eq(fut_run(same_main, &s, NULL), 0);
    ck_assert_int_eq(s.in_done_before_write, 1);   /* only the writer */
    for (int i = 0; i < 4; i++)
        tu_assert_rc(s.rc[i], 0);
    ck_assert_int_eq(s.rev[0], POLLIN);
    ck_assert_int_eq(s.rev[1], POLLOUT);
    ck_assert_int_eq(s.rev[2], POLLIN);
    ck_assert_int_eq(s.rev[3], POLLIN);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* A coroutine and a thread wait on the same descriptor at once. */
struct mixed {
    int p[2];
    int rc_thread, rc_co;
    short rev_thread, rev_co;
};

static void *mixed_thread(void *arg)
{
    struct mixed *m = arg;
    m->rc_thread = fut_io_wait(m->p[0], POLLIN, 10000, &m->rev_thread);
    return NULL;
}

static void *mixed_co(void *arg)
{
    struct mixed *m = arg;
    pthread_t t = tu_thread(mixed_thread, m);
    future_t *w = fut_spawn(thread_write_later, (void *)(intptr_t)m->p[1]);
    m->rc_co = fut_io_wait(m->p[0], POLLIN, 10000, &m->rev_co);
    ck_assert_int_eq(future_wait(w, 10000), 0);
    future_release(w);
    tu_join(t);
    return NULL;
}

START_TEST(io_wait_thread_and_coroutine_same_descriptor)
{
    struct mixed m;
    memset(&m, 0, sizeof m);
    pipe_nb(m.p);
    ck_assert_int_eq(fut_run(mixed_co, &m, NULL), 0);
    tu_assert_rc(m.rc_co, 0);
    tu_assert_rc(m.rc_thread, 0);
    ck_assert_int_eq(m.rev_co, POLLIN);
    ck_assert_int_eq(m.rev_thread, POLLIN);
    close(m.p[0]);
    close(m.p[1]);
}
END_TEST

/* ---------------------------------------------------------------------
 * fut_read / fut_write
 * ------------------------------------------------------------------- */

struct rw {
    int rfd, wfd;
    int rc;
    size_t got;
    char buf[64];
    struct ticker tk;
};

static void *read_co(void *arg)
{
    struct rw *r = arg;
    r->rc = fut_read(r->rfd, r->buf, sizeof r->buf, &r->got, 10000);
    atomic_store(&r->tk.stop, true);
    return NULL;
}

static void *write_after_ticks_co(void *arg)
{
    struct rw *r = arg;
    while (atomic_load(&r->tk.ticks) < 3)
        fut_sleep(1);
    size_t w = 0;
    tu_assert_rc(fut_write(r->wfd, "hello", 5, &w, 1000), 0);
    ck_assert_uint_eq(w, 5);
    return NULL;
}

static void *rw_main(void *arg)
{
    struct rw *r = arg;
    future_t *fs[3] = {fut_spawn(read_co, r), fut_spawn(ticker_co, &r->tk),
                       fut_spawn(write_after_ticks_co, r)};
    ck_assert_int_eq(future_gather(fs, 3, NULL, 20000), 0);
    for (int i = 0; i < 3; i++)
        future_release(fs[i]);
    return NULL;
}

/* fut_read waits until a byte can be read, then reads what is there; the
 * loop runs the writer in the meantime, on a non-blocking pipe, a
 * blocking pipe (which must not block the loop: the writer is in the same
 * loop), a non-blocking and a blocking socket. */
START_TEST(read_waits_then_reads)
{
    for (int kind = 0; kind < 4; kind++) {
        int fds[2];
        if (kind == 0)
            pipe_nb(fds);
        else if (kind == 1)
            pipe_blocking(fds);
        else if (kind == 2)
            socketpair_nb(fds);
        else
            ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        struct rw r;
        memset(&r, 0, sizeof r);
        r.rfd = fds[0];
        r.wfd = fds[1];
        ck_assert_int_eq(fut_run(rw_main, &r, NULL), 0);
        tu_assert_rc(r.rc, 0);
        ck_assert_uint_eq(r.got, 5);
        ck_assert_mem_eq(r.buf, "hello", 5);
        ck_assert_int_ge(atomic_load(&r.tk.ticks), 3);
        ck_assert(kind == 0 || kind == 2 || !is_nonblocking(fds[0]));   /* flags untouched */
        close(fds[0]);
        close(fds[1]);
    }
}
END_TEST

/* End of file is 0 with *got == 0; len == 0 returns at once; a timeout of
 * 0 only checks; arguments. */
static void *read_edges_co(void *arg)
{
    (void)arg;
    int p[2];
    pipe_nb(p);
    char b[8];
    size_t got = 99;
    tu_assert_rc(fut_read(p[0], b, sizeof b, &got, 0), ETIMEDOUT);
    ck_assert_uint_eq(got, 0);
    tu_assert_rc(fut_read(p[0], b, sizeof b, &got, 20), ETIMEDOUT);
    tu_assert_rc(fut_read(p[0], b, 0, &got, FUT_FOREVER), 0);   /* does not wait */
    ck_assert_uint_eq(got, 0);
    tu_assert_rc(fut_read(p[0], b, sizeof b, NULL, 10), EINVAL);
    tu_assert_rc(fut_read(p[0], NULL, 4, &got, 10), EINVAL);
    tu_assert_rc(fut_read(p[0], b, sizeof b, &got, -5), EINVAL);
    tu_assert_rc(fut_read(-1, b, sizeof b, &got, 10), EBADF);
    ck_assert_int_eq(write(p[1], "ab", 2), 2);
    tu_assert_rc(fut_read(p[0], b, 1, &got, 0), 0);              /* ready: checks and reads */
    ck_assert_uint_eq(got, 1);
    tu_assert_rc(fut_read(p[0], b, sizeof b, &got, 10), 0);
    ck_assert_uint_eq(got, 1);
    ck_assert_int_eq(b[0], 'b');
    close(p[1]);
    got = 99;
    tu_assert_rc(fut_read(p[0], b, sizeof b, &got, FUT_FOREVER), 0);   /* EOF */
    ck_assert_uint_eq(got, 0);
    close(p[0]);
    return NULL;
}

START_TEST(read_eof_len0_timeouts_arguments)
{
    ck_assert_int_eq(fut_run(read_edges_co, NULL, NULL), 0);
    read_edges_co(NULL);
}
END_TEST

/* read(2)'s error codes pass through: EISDIR, ECONNRESET. */
static void *read_errors_co(void *arg)
{
    (void)arg;
    int d = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(d, 0);
    char b[16];
    size_t got;
    tu_assert_rc(fut_read(d, b, sizeof b, &got, 100), EISDIR);
    close(d);
    struct sockaddr_in sa;
    int l = tcp_listener(4, true, &sa);
    int c = tcp_socket_nb();
    tu_assert_rc(fut_connect(c, (struct sockaddr *)&sa, sizeof sa, 5000), 0);
    int s;
    tu_assert_rc(fut_accept(l, &s, 5000), 0);
    struct linger lg = {1, 0};
    ck_assert_int_eq(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(s);                          /* reset */
    tu_assert_rc(fut_read(c, b, sizeof b, &got, 5000), ECONNRESET);
    ck_assert_uint_eq(got, 0);
    close(c);
    close(l);
    return NULL;
}

START_TEST(read_passes_read_errors)
{
    ck_assert_int_eq(fut_run(read_errors_co, NULL, NULL), 0);
    read_errors_co(NULL);
}
END_TEST

/* fut_write writes all len bytes, waiting while the descriptor is full:
 * 1 MiB through a socket pair and through a blocking pipe (64 KiB of room)
 * to a reader coroutine of the same loop that reads slowly.  A blocking
 * pipe must not block the loop, or the reader would never run. */
#define BIG (1u << 20)
struct bulk {
    int rfd, wfd;
    unsigned char *src, *dst;
    size_t written, have;
    int wrc, rrc;
};

static void *bulk_writer(void *arg)
{
    struct bulk *b = arg;
    b->wrc = fut_write(b->wfd, b->src, BIG, &b->written, 20000);
    return NULL;
}

static void *bulk_reader(void *arg)
{
    struct bulk *b = arg;
    int k = 0;
    while (b->have < BIG) {
        size_t got;
        b->rrc = fut_read(b->rfd, b->dst + b->have, 3000, &got, 20000);
        if (b->rrc || !got)
            break;
        b->have += got;
        if (++k % 64 == 0)
            fut_sleep(1);              /* slow reader */
    }
    return NULL;
}

static void *bulk_main(void *arg)
{
    future_t *fs[2] = {fut_spawn(bulk_writer, arg), fut_spawn(bulk_reader, arg)};
    ck_assert_int_eq(future_gather(fs, 2, NULL, 30000), 0);
    future_release(fs[0]);
    future_release(fs[1]);
    return NULL;
}

START_TEST(write_all_waiting_while_full)
{
    struct bulk b;
    b.src = malloc(BIG);
    b.dst = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        b.src[i] = (unsigned char)(i * 7 + (i >> 11));
    for (int kind = 0; kind < 2; kind++) {
        int fds[2];
        if (kind == 0)
            socketpair_nb(fds);
        else
            pipe_blocking(fds);
        b.rfd = fds[0];
        b.wfd = fds[1];
        b.written = b.have = 0;
        b.wrc = b.rrc = -1;
        memset(b.dst, 0, BIG);
        ck_assert_int_eq(fut_run(bulk_main, &b, NULL), 0);
        tu_assert_rc(b.wrc, 0);
        ck_assert_uint_eq(b.written, BIG);
        ck_assert_uint_eq(b.have, BIG);
        ck_assert(memcmp(b.src, b.dst, BIG) == 0);
        close(fds[0]);
        close(fds[1]);
    }
    free(b.src);
    free(b.dst);
}
END_TEST

/* Arguments; written may be NULL; len == 0 writes nothing and succeeds. */
START_TEST(write_arguments)
{
    int p[2];
    pipe_nb(p);
    size_t w = 9;
    tu_assert_rc(fut_write(p[1], NULL, 3, &w, 10), EINVAL);
    ck_assert_uint_eq(w, 0);
    tu_assert_rc(fut_write(p[1], "abc", 3, &w, -3), EINVAL);
    tu_assert_rc(fut_write(-1, "abc", 3, &w, 10), EBADF);
    tu_assert_rc(fut_write(p[1], "abc", 0, &w, 10), 0);
    ck_assert_uint_eq(w, 0);
    tu_assert_rc(fut_write(p[1], "abc", 3, NULL, 10), 0);
    char b[4];
    ck_assert_int_eq(read(p[0], b, sizeof b), 3);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* A pool job reads and writes too (blocking its thread with poll). */
static void *job_echo_once(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char b[16];
    size_t got;
    int rc = fut_read(fd, b, sizeof b, &got, 10000);
    if (rc)
        return fut_raise(rc);
    rc = fut_write(fd, b, got, NULL, 10000);
    if (rc)
        return fut_raise(rc);
    return (void *)(uintptr_t)got;
}

START_TEST(read_write_in_a_pool_job)
{
    int sv[2];
    socketpair_nb(sv);
    fut_pool_t *p = fut_pool_new(&(fut_pool_opts){.threads = 1});
    future_t *f = fut_pool_submit(p, job_echo_once, (void *)(intptr_t)sv[0]);
    tu_sleep_ms(20);
    ck_assert_int_eq(write(sv[1], "ping", 4), 4);
    void *v;
    tu_assert_rc(future_get(f, &v), 0);
    ck_assert_uint_eq((uintptr_t)v, 4);
    char b[8];
    ck_assert_uint_eq(read_full_ms(sv[1], b, 4, 5000), 4);
    ck_assert_mem_eq(b, "ping", 4);
    future_release(f);
    fut_pool_free(p);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* ---------------------------------------------------------------------
 * fut_accept / fut_connect
 * ------------------------------------------------------------------- */

struct srv {
    int lfd;
    struct sockaddr_in sa;
    int nclients;
    int accepted;
    int rc_accept;
    bool all_nonblocking_cloexec;
    int echoed;
};

static void *echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char b[256];
    for (;;) {
        size_t got;
        if (fut_read(fd, b, sizeof b, &got, 10000) || !got)
            break;
        if (fut_write(fd, b, got, NULL, 10000))
            break;
    }
    close(fd);
    return NULL;
}

static void *client_co(void *arg)
{
    struct srv *s = arg;
    int c = tcp_socket_nb();
    int rc = fut_connect(c, (struct sockaddr *)&s->sa, sizeof s->sa, 10000);
    if (rc) {
        close(c);
        return fut_raise(rc);
    }
    char msg[32], back[32];
    int n = snprintf(msg, sizeof msg, "hello from %d", c);
    rc = fut_write(c, msg, (size_t)n, NULL, 10000);
    size_t have = 0;
    while (!rc && have < (size_t)n) {
        size_t got;
        rc = fut_read(c, back + have, sizeof back - have, &got, 10000);
        if (!rc && !got)
            rc = EPIPE;
        have += got;
    }
    close(c);
    if (rc)
        return fut_raise(rc);
    if (memcmp(msg, back, (size_t)n) != 0)
        return fut_raise(EIO);
    s->echoed++;
    return NULL;
}

static void *server_co(void *arg)
{
    struct srv *s = arg;
    s->all_nonblocking_cloexec = true;
    future_t *conns[64];
    while (s->accepted < s->nclients) {
        int fd;
        s->rc_accept = fut_accept(s->lfd, &fd, 10000);
        if (s->rc_accept)
            break;
        if (!is_nonblocking(fd) || !is_cloexec(fd))
            s->all_nonblocking_cloexec = false;
        conns[s->accepted++] = fut_spawn(echo_conn, (void *)(intptr_t)fd);
    }
    future_gather(conns, (size_t)s->accepted, NULL, 20000);
    for (int i = 0; i < s->accepted; i++)
        future_release(conns[i]);
    return NULL;
}

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    future_t *sv = fut_spawn(server_co, s);
    future_t *cl[64];
    for (int i = 0; i < s->nclients; i++)
        cl[i] = fut_spawn(client_co, s);
    ck_assert_int_eq(future_gather(cl, (size_t)s->nclients, NULL, 20000), 0);
    ck_assert_int_eq(future_wait(sv, 20000), 0);
    for (int i = 0; i < s->nclients; i++)
        future_release(cl[i]);
    future_release(sv);
    return NULL;
}

/* A server and its clients on one loop: each accepted connection is
 * non-blocking and close-on-exec; with a non-blocking listener and with a
 * blocking one (which must not block the loop: the clients are in it). */
START_TEST(accept_connect_echo_one_loop)
{
    for (int blocking = 0; blocking < 2; blocking++) {
        struct srv s;
        memset(&s, 0, sizeof s);
        s.nclients = 32;
        s.lfd = tcp_listener(64, !blocking, &s.sa);
        ck_assert_int_eq(fut_run(srv_main, &s, NULL), 0);
        tu_assert_rc(s.rc_accept, 0);
        ck_assert_int_eq(s.accepted, 32);
        ck_assert_int_eq(s.echoed, 32);
        ck_assert(s.all_nonblocking_cloexec);
        ck_assert(is_nonblocking(s.lfd) == !blocking);   /* flags untouched */
        close(s.lfd);
    }
}
END_TEST

/* On a plain thread: accept and connect block the thread. */
static void *thread_connect(void *arg)
{
    struct sockaddr_in *sa = arg;
    tu_sleep_ms(20);
    int c = tcp_socket_nb();
    int rc = fut_connect(c, (struct sockaddr *)sa, sizeof *sa, 5000);
    close(c);
    return (void *)(intptr_t)rc;
}

START_TEST(accept_connect_plain_threads)
{
    struct sockaddr_in sa;
    int l = tcp_listener(8, true, &sa);
    int fd = 7;
    tu_assert_rc(fut_accept(l, &fd, 0), ETIMEDOUT);
    ck_assert_int_eq(fd, -1);
    tu_assert_rc(fut_accept(l, &fd, 20), ETIMEDOUT);
    pthread_t t = tu_thread(thread_connect, &sa);
    tu_assert_rc(fut_accept(l, &fd, 10000), 0);
    ck_assert(is_nonblocking(fd) && is_cloexec(fd));
    ck_assert_int_eq((int)(intptr_t)tu_join(t), 0);
    close(fd);
    close(l);
}
END_TEST

static void *accept_args_co(void *arg)
{
    (void)arg;
    struct sockaddr_in sa;
    int l = tcp_listener(8, true, &sa);
    int fd = 5;
    tu_assert_rc(fut_accept(l, NULL, 10), EINVAL);
    tu_assert_rc(fut_accept(l, &fd, -7), EINVAL);
    ck_assert_int_eq(fd, -1);
    tu_assert_rc(fut_accept(-1, &fd, 10), EBADF);
    int notl = tcp_socket_nb();        /* not listening: accept(2) says EINVAL */
    tu_assert_rc(fut_accept(notl, &fd, 10), EINVAL);
    int p[2];
    pipe_nb(p);                        /* not a socket */
    tu_assert_rc(fut_accept(p[0], &fd, 10), ENOTSOCK);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);   /* blocking */
    tu_assert_rc(fut_connect(c, (struct sockaddr *)&sa, sizeof sa, 100), EINVAL);
    tu_assert_rc(fut_connect(notl, NULL, sizeof sa, 100), EINVAL);
    tu_assert_rc(fut_connect(notl, (struct sockaddr *)&sa, sizeof sa, -2), EINVAL);
    tu_assert_rc(fut_connect(-1, (struct sockaddr *)&sa, sizeof sa, 100), EBADF);
    close(c);
    close(notl);
    close(p[0]);
    close(p[1]);
    close(l);
    return NULL;
}

START_TEST(accept_connect_arguments)
{
    ck_assert_int_eq(fut_run(accept_args_co, NULL, NULL), 0);
    accept_args_co(NULL);
}
END_TEST

/* ---------------------------------------------------------------------
 * fut_waitpid
 * ------------------------------------------------------------------- */

static pid_t child_exiting(int code, int after_ms)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (after_ms)
            tu_sleep_ms(after_ms);
        _exit(code);
    }
    return pid;
}

/* A child that waits until its pipe closes (or 20 s), then exits 3. */
static pid_t child_waiting(int *wfd)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[1]);
        struct pollfd pf = {p[0], POLLIN, 0};
        poll(&pf, 1, 20000);
        _exit(3);
    }
    close(p[0]);
    *wfd = p[1];
    return pid;
}

struct kids {
    pid_t pid[5];
    int rc[5];
    int status[5];
    struct ticker tk;
};

struct kid_arg {
    struct kids *k;
    int i;
};

static void *kid_waiter(void *arg)
{
    struct kid_arg *a = arg;
    a->k->rc[a->i] = fut_waitpid(a->k->pid[a->i], &a->k->status[a->i], 20000);
    return NULL;
}

static void *kids_main(void *arg)
{
    struct kids *k = arg;
    struct kid_arg a[5];
    future_t *fs[6];
    for (int i = 0; i < 5; i++) {
        a[i] = (struct kid_arg){k, i};
        fs[i] = fut_spawn(kid_waiter, &a[i]);
    }
    fs[5] = fut_spawn(ticker_co, &k->tk);
    ck_assert_int_eq(future_gather(fs, 5, NULL, 30000), 0);
    atomic_store(&k->tk.stop, true);
    ck_assert_int_eq(future_wait(fs[5], 5000), 0);
    for (int i = 0; i < 6; i++)
        future_release(fs[i]);
    return NULL;
}

/* Several children at once, waited for by coroutines of one loop (which
 * keeps running meanwhile): each one's exit status, then ECHILD. */
static void waitpid_children(bool no_pidfd)
{
    atomic_store(&fut__io_no_pidfd, no_pidfd);
    struct kids k;
    memset(&k, 0, sizeof k);
    for (int i = 0; i < 5; i++)
        k.pid[i] = child_exiting(10 + i, 20 + 15 * (4 - i));
    ck_assert_int_eq(fut_run(kids_main, &k, NULL), 0);
    for (int i = 0; i < 5; i++) {
        tu_assert_rc(k.rc[i], 0);
        ck_assert(WIFEXITED(k.status[i]));
        ck_assert_int_eq(WEXITSTATUS(k.status[i]), 10 + i);
        tu_assert_rc(fut_waitpid(k.pid[i], NULL, 10), ECHILD);   /* reaped */
    }
    ck_assert_int_gt(atomic_load(&k.tk.ticks), 0);
    atomic_store(&fut__io_no_pidfd, 0);
}

START_TEST(waitpid_children_exit_codes)
{
    waitpid_children(false);
}
END_TEST

START_TEST(waitpid_children_without_pidfd)
{
    waitpid_children(true);
}
END_TEST

/* On a plain thread; a child that has already exited; a timeout leaves
 * the child unreaped; a signalled child; ECHILD for a process that is not
 * our child; EINVAL. */
static void waitpid_thread_cases(bool no_pidfd)
{
    atomic_store(&fut__io_no_pidfd, no_pidfd);
    int st = 0;
    pid_t a = child_exiting(5, 0);
    tu_sleep_ms(50);
    tu_assert_rc(fut_waitpid(a, &st, 0), 0);                 /* exited already */
    ck_assert_int_eq(WEXITSTATUS(st), 5);
    int wfd;
    pid_t b = child_waiting(&wfd);
    tu_assert_rc(fut_waitpid(b, &st, 0), ETIMEDOUT);
    tu_assert_rc(fut_waitpid(b, &st, 30), ETIMEDOUT);
    int raw;
    ck_assert_int_eq(waitpid(b, &raw, WNOHANG), 0);           /* left unreaped */
    ck_assert_int_eq(kill(b, SIGKILL), 0);
    tu_assert_rc(fut_waitpid(b, &st, 10000), 0);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    close(wfd);
    pid_t c = child_waiting(&wfd);
    close(wfd);                        /* it exits 3 now */
    tu_assert_rc(fut_waitpid(c, NULL, 10000), 0);             /* status may be NULL */
    tu_assert_rc(fut_waitpid(getppid(), &st, 100), ECHILD);  /* not ours */
    tu_assert_rc(fut_waitpid(1, &st, 100), ECHILD);
    tu_assert_rc(fut_waitpid(0, &st, 100), EINVAL);
    tu_assert_rc(fut_waitpid(-1, &st, 100), EINVAL);
    tu_assert_rc(fut_waitpid(getpid(), &st, -9), EINVAL);
    atomic_store(&fut__io_no_pidfd, 0);
}

START_TEST(waitpid_plain_thread_timeout_echild)
{
    waitpid_thread_cases(false);
    waitpid_thread_cases(true);
}
END_TEST

/* ---------------------------------------------------------------------
 * fut_signal_wait
 * ------------------------------------------------------------------- */

static void block_usr(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, set, NULL), 0);
}

struct sig {
    sigset_t set;
    int rc, signo;
    struct ticker tk;
};

static void *sig_waiter(void *arg)
{
    struct sig *s = arg;
    s->rc = fut_signal_wait(&s->set, &s->signo, 10000);
    atomic_store(&s->tk.stop, true);
    return NULL;
}

static void *sig_raiser(void *arg)
{
    struct sig *s = arg;
    while (atomic_load(&s->tk.ticks) < 3)
        fut_sleep(1);
    ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
    return NULL;
}

static void *sig_main(void *arg)
{
    future_t *fs[3] = {fut_spawn(sig_waiter, arg), fut_spawn(ticker_co, &((struct sig *)arg)->tk),
                       fut_spawn(sig_raiser, arg)};
    ck_assert_int_eq(future_gather(fs, 3, NULL, 20000), 0);
    for (int i = 0; i < 3; i++)
        future_release(fs[i]);
    return NULL;
}

/* A coroutine waits for a signal while the loop runs the others; the
 * signal is taken (no longer pending). */
START_TEST(signal_wait_in_coroutine)
{
    struct sig s;
    memset(&s, 0, sizeof s);
    block_usr(&s.set);
    ck_assert_int_eq(fut_run(sig_main, &s, NULL), 0);
    tu_assert_rc(s.rc, 0);
    ck_assert_int_eq(s.signo, SIGUSR2);
    sigset_t pend;
    sigpending(&pend);
    ck_assert(!sigismember(&pend, SIGUSR2));
}
END_TEST

static void *thread_kill_later(void *arg)
{
    tu_sleep_ms(30);
    kill(getpid(), (int)(intptr_t)arg);
    return NULL;
}

/* On a plain thread; a signal already pending is taken at once; timeouts;
 * EINVAL for a NULL or empty set. */
START_TEST(signal_wait_plain_thread)
{
    sigset_t set, empty;
    block_usr(&set);
    int signo = -1;
    tu_assert_rc(fut_signal_wait(&set, &signo, 0), ETIMEDOUT);
    ck_assert_int_eq(signo, 0);
    tu_assert_rc(fut_signal_wait(&set, &signo, 20), ETIMEDOUT);
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    tu_assert_rc(fut_signal_wait(&set, &signo, 0), 0);
    ck_assert_int_eq(signo, SIGUSR1);
    pthread_t t = tu_thread(thread_kill_later, (void *)(intptr_t)SIGUSR2);
    tu_assert_rc(fut_signal_wait(&set, NULL, 10000), 0);      /* signo may be NULL */
    tu_join(t);
    sigemptyset(&empty);
    tu_assert_rc(fut_signal_wait(NULL, &signo, 10), EINVAL);
    tu_assert_rc(fut_signal_wait(&empty, &signo, 10), EINVAL);
    tu_assert_rc(fut_signal_wait(&set, &signo, -4), EINVAL);
}
END_TEST

/* ---------------------------------------------------------------------
 * Faults
 * ------------------------------------------------------------------- */

/* A descriptor closed while a coroutine waits on it: the waiter gets
 * EBADF (within the library's check, a second or so), not a hang; the loop
 * forgets it, holds no registration for it, and keeps serving others.
 * Three ways: the number closed; closed and reused by a new file at once
 * (whose own waiter still gets its data); closed while a dup keeps the
 * file open (the kernel keeps that registration until the dup closes: it
 * reports at most once more, and that event is dropped). */
struct closing {
    int mode;                          /* 0 plain close, 1 reuse, 2 dup */
    int p[2];
    int dupfd;
    unsigned long ino;
    int rc;
    long waited_ms;
    int rc_new;
    long stale_before, stale_after;
    bool watched_after;
};

static void *closing_waiter(void *arg)
{
    struct closing *c = arg;
    uint64_t t0 = tu_now_ns();
    c->rc = fut_io_wait(c->p[0], POLLIN, 20000, NULL);
    c->waited_ms = elapsed_ms(t0);
    return NULL;
}

static void *closing_main(void *arg)
{
    struct closing *c = arg;
    c->ino = inode_of(c->p[0]);
    if (c->mode == 2)
        c->dupfd = dup(c->p[0]);
    future_t *w = fut_spawn(closing_waiter, c);
    fut_sleep(30);
    ck_assert(epoll_watches(c->p[0], c->ino));   /* registered while it waits */
    int n[2] = {-1, -1};
    close(c->p[0]);
    if (c->mode == 1) {
        pipe_nb(n);                    /* takes the lowest free number */
        ck_assert_int_eq(n[0], c->p[0]);
    }
    ck_assert_int_eq(future_wait(w, 15000), 0);
    future_release(w);
    if (c->mode == 1) {
        /* The new file behind the number works as any other. */
        ck_assert_int_eq(write(n[1], "n", 1), 1);
        short rev = 0;
        c->rc_new = fut_io_wait(n[0], POLLIN, 5000, &rev);
        close(n[0]);
        close(n[1]);
    }
    if (c->mode == 2) {
        /* Make the old file ready, again and again: its registration
         * reports at most once. */
        c->stale_before = atomic_load(&fut__io_stale_events);
        for (int i = 0; i < 5; i++) {
            ck_assert_int_eq(write(c->p[1], "s", 1), 1);
            fut_sleep(10);
        }
        c->stale_after = atomic_load(&fut__io_stale_events);
        close(c->dupfd);
    }
    c->watched_after = epoll_watches(c->p[0], c->ino);
    /* The loop still serves descriptors. */
    int q[2];
    pipe_nb(q);
    ck_assert_int_eq(write(q[1], "q", 1), 1);
    tu_assert_rc(fut_io_wait(q[0], POLLIN, 5000, NULL), 0);
    close(q[0]);
    close(q[1]);
    return NULL;
}

START_TEST(closed_while_waiting_coroutine)
{
    for (int mode = 0; mode < 3; mode++) {
        struct closing c;
        memset(&c, 0, sizeof c);
        c.mode = mode;
        pipe_nb(c.p);
        ck_assert_int_eq(fut_run(closing_main, &c, NULL), 0);
        ck_assert_msg(c.rc == EBADF, "mode %d: rc %d", mode, c.rc);
        ck_assert_int_lt(c.waited_ms, 12000);
        ck_assert(!c.watched_after);
        if (mode == 1)
            tu_assert_rc(c.rc_new, 0);
        if (mode == 2)
            ck_assert_int_le(c.stale_after - c.stale_before, 1);
        close(c.p[1]);
    }
}
END_TEST

/* A long wait on a descriptor that stays open outlives the library's
 * checks for a closed descriptor (at 1 s, then 2 s...): it ends when the
 * data comes, in a coroutine (two waiters on the same pipe, one for
 * POLLIN, one for a read) and on a thread. */
struct longwait {
    int p[2];
    int rc_wait, rc_read;
    size_t got;
    short rev;
};

static void *long_waiter(void *arg)
{
    struct longwait *lw = arg;
    lw->rc_wait = fut_io_wait(lw->p[0], POLLIN, 20000, &lw->rev);
    return NULL;
}

static void *long_reader(void *arg)
{
    struct longwait *lw = arg;
    char b[8];
    lw->rc_read = fut_read(lw->p[0], b, sizeof b, &lw->got, 20000);
    return NULL;
}

static void *long_main(void *arg)
{
    struct longwait *lw = arg;
    future_t *fs[2] = {fut_spawn(long_waiter, lw), fut_spawn(long_reader, lw)};
    fut_sleep(2300);
    ck_assert(!future_done(fs[0]) && !future_done(fs[1]));
    ck_assert_int_eq(write(lw->p[1], "late", 4), 4);
    ck_assert_int_eq(future_gather(fs, 2, NULL, 10000), 0);
    future_release(fs[0]);
    future_release(fs[1]);
    return NULL;
}

static void *write_after_thread(void *arg)
{
    tu_sleep_ms(2300);
    ck_assert_int_eq(write((int)(intptr_t)arg, "x", 1), 1);
    return NULL;
}

START_TEST(long_wait_outlives_the_checks)
{
    struct longwait lw;
    memset(&lw, 0, sizeof lw);
    pipe_nb(lw.p);
    ck_assert_int_eq(fut_run(long_main, &lw, NULL), 0);
    tu_assert_rc(lw.rc_wait, 0);
    ck_assert_int_eq(lw.rev, POLLIN);
    tu_assert_rc(lw.rc_read, 0);
    ck_assert_uint_eq(lw.got, 4);
    pthread_t t = tu_thread(write_after_thread, (void *)(intptr_t)lw.p[1]);
    short rev = 0;
    tu_assert_rc(fut_io_wait(lw.p[0], POLLIN, 20000, &rev), 0);
    ck_assert_int_eq(rev, POLLIN);
    tu_join(t);
    close(lw.p[0]);
    close(lw.p[1]);
}
END_TEST

static void *close_later_thread(void *arg)
{
    tu_sleep_ms(30);
    close((int)(intptr_t)arg);
    return NULL;
}

/* The same on a plain thread (poll keeps watching the old file): EBADF
 * within the check, not a hang.  (ThreadSanitizer reports the close racing
 * with the poll, which is the point of the case: it runs in the other
 * builds.) */
START_TEST(closed_while_waiting_plain_thread)
{
#ifdef TU_TSAN
    return;
#endif
    int p[2];
    pipe_nb(p);
    pthread_t t = tu_thread(close_later_thread, (void *)(intptr_t)p[0]);
    uint64_t t0 = tu_now_ns();
    tu_assert_rc(fut_io_wait(p[0], POLLIN, 20000, NULL), EBADF);
    ck_assert_int_lt(elapsed_ms(t0), 12000);
    tu_join(t);
    close(p[1]);
}
END_TEST

/* A peer that hangs up mid-write: EPIPE (or ECONNRESET for TCP, whose
 * peer resets a connection it closes with unread data), *written says how
 * much went out, and SIGPIPE, left at its default (which kills), never
 * reaches the process; the disposition is unchanged; no SIGPIPE is left
 * pending.  A pipe whose reader has gone: EPIPE the same way, and a
 * SIGPIPE the user had pending (blocked) stays pending. */
struct hangup {
    int wfd, rfd;
    int rc;
    size_t written;
    unsigned char *buf;
    size_t len;
};

static void *hangup_writer(void *arg)
{
    struct hangup *h = arg;
    h->rc = fut_write(h->wfd, h->buf, h->len, &h->written, 20000);
    return NULL;
}

static void *hangup_reader_closes(void *arg)
{
    struct hangup *h = arg;
    char b[4096];
    size_t total = 0, got;
    while (total < 100000 && fut_read(h->rfd, b, sizeof b, &got, 5000) == 0 && got)
        total += got;
    close(h->rfd);                     /* hangs up with the writer mid-way */
    return NULL;
}

static void *hangup_main(void *arg)
{
    future_t *fs[2] = {fut_spawn(hangup_writer, arg), fut_spawn(hangup_reader_closes, arg)};
    ck_assert_int_eq(future_gather(fs, 2, NULL, 30000), 0);
    future_release(fs[0]);
    future_release(fs[1]);
    return NULL;
}

static bool sigpipe_pending(void)
{
    sigset_t pend;
    sigpending(&pend);
    return sigismember(&pend, SIGPIPE) == 1;
}

START_TEST(peer_hangs_up_mid_write_epipe_no_sigpipe)
{
    struct sigaction before, after;
    sigaction(SIGPIPE, NULL, &before);
    ck_assert(before.sa_handler == SIG_DFL);
    struct hangup h;
    h.len = 8u << 20;
    h.buf = calloc(1, h.len);
    for (int kind = 0; kind < 3; kind++) {
        int fds[2];
        int lfd = -1;
        if (kind == 0) {
            socketpair_nb(fds);
            h.rfd = fds[0];
            h.wfd = fds[1];
        } else if (kind == 1) {
            pipe_nb(fds);
            h.rfd = fds[0];
            h.wfd = fds[1];
        } else {
            struct sockaddr_in sa;
            lfd = tcp_listener(4, false, &sa);
            h.wfd = tcp_socket_nb();
            ck_assert_int_eq(fut_connect(h.wfd, (struct sockaddr *)&sa, sizeof sa, 5000), 0);
            h.rfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            ck_assert_int_ge(h.rfd, 0);
        }
        h.written = 0;
        ck_assert_int_eq(fut_run(hangup_main, &h, NULL), 0);
        if (kind == 2)
            ck_assert_msg(h.rc == EPIPE || h.rc == ECONNRESET, "TCP: rc %d", h.rc);
        else
            ck_assert_msg(h.rc == EPIPE, "kind %d: rc %d", kind, h.rc);
        ck_assert_uint_ge(h.written, 100000);
        ck_assert_uint_lt(h.written, h.len);
        ck_assert(!sigpipe_pending());
        close(h.wfd);
        if (lfd >= 0)
            close(lfd);
    }
    free(h.buf);
    /* A pipe without a reader, from a plain thread, with a SIGPIPE the
     * user raised and blocked: theirs stays pending. */
    int p[2];
    pipe_nb(p);
    close(p[0]);
    tu_assert_rc(fut_write(p[1], "x", 1, NULL, 100), EPIPE);
    ck_assert(!sigpipe_pending());
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    raise(SIGPIPE);
    tu_assert_rc(fut_write(p[1], "x", 1, NULL, 100), EPIPE);
    ck_assert(sigpipe_pending());
    int sig;
    sigwait(&pipe_only, &sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(p[1]);
    sigaction(SIGPIPE, NULL, &after);
    ck_assert(after.sa_handler == SIG_DFL);
}
END_TEST

/* A peer that stops reading: the writer waits, and its timeout fires with
 * part of the data written. */
static void *stalled_writer(void *arg)
{
    struct hangup *h = arg;
    h->rc = fut_write(h->wfd, h->buf, h->len, &h->written, 150);
    return NULL;
}

START_TEST(peer_stops_reading_timeout_fires)
{
    struct sockaddr_in sa;
    int lfd = tcp_listener(4, true, &sa);
    struct hangup h;
    h.wfd = tcp_socket_nb();
    ck_assert_int_eq(fut_connect(h.wfd, (struct sockaddr *)&sa, sizeof sa, 5000), 0);
    h.rfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);   /* never read */
    ck_assert_int_ge(h.rfd, 0);
    h.len = 64u << 20;
    h.buf = calloc(1, h.len);
    uint64_t t0 = tu_now_ns();
    ck_assert_int_eq(fut_run(stalled_writer, &h, NULL), 0);
    tu_assert_rc(h.rc, ETIMEDOUT);
    ck_assert_int_ge(elapsed_ms(t0), 150);
    ck_assert_uint_gt(h.written, 0);
    ck_assert_uint_lt(h.written, h.len);
    /* And on a plain thread. */
    size_t w2 = 0;
    tu_assert_rc(fut_write(h.wfd, h.buf, h.len, &w2, 50), ETIMEDOUT);
    ck_assert_uint_lt(w2, h.len);
    free(h.buf);
    close(h.rfd);
    close(h.wfd);
    close(lfd);
}
END_TEST

/* Connection refused: a port bound but not listening. */
static void *refused_co(void *arg)
{
    (void)arg;
    int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(b, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t l = sizeof sa;
    getsockname(b, (struct sockaddr *)&sa, &l);
    for (int i = 0; i < 3; i++) {
        int c = tcp_socket_nb();
        tu_assert_rc(fut_connect(c, (struct sockaddr *)&sa, sizeof sa, 5000), ECONNREFUSED);
        close(c);
    }
    close(b);
    return NULL;
}

START_TEST(connect_refused)
{
    ck_assert_int_eq(fut_run(refused_co, NULL, NULL), 0);
    refused_co(NULL);
}
END_TEST

/* A listener whose accept queue overflows (backlog 1, nobody accepting):
 * the connections beyond it are not completed, and fut_connect times out
 * on them (ETIMEDOUT, no hang); the queued ones are then accepted, accept
 * times out on the empty queue, and the listener serves new connections.
 * A second fut_connect on a timed-out attempt waits for it again. */
#define OVER 8
struct overflow {
    int lfd;
    struct sockaddr_in sa;
    int c[OVER];
    int rc[OVER];
    int accepted;
    int rc_after;
    int rc_again;
    int next;
};

static void *over_client(void *arg)
{
    struct overflow *o = arg;
    int i = o->next++;                 /* the loop's thread only */
    o->c[i] = tcp_socket_nb();
    o->rc[i] = fut_connect(o->c[i], (struct sockaddr *)&o->sa, sizeof o->sa, 400);
    return NULL;
}

static void *over_main(void *arg)
{
    struct overflow *o = arg;
    future_t *fs[OVER];
    for (int i = 0; i < OVER; i++)
        fs[i] = fut_spawn(over_client, o);
    ck_assert_int_eq(future_gather(fs, OVER, NULL, 10000), 0);
    for (int i = 0; i < OVER; i++)
        future_release(fs[i]);
    for (int i = 0; i < OVER; i++)
        if (o->rc[i] == ETIMEDOUT) {
            o->rc_again = fut_connect(o->c[i], (struct sockaddr *)&o->sa, sizeof o->sa, 50);
            break;
        }
    int fd;
    while (fut_accept(o->lfd, &fd, 100) == 0) {
        o->accepted++;
        close(fd);
    }
    for (int i = 0; i < OVER; i++)
        close(o->c[i]);
    fut_sleep(50);
    while (fut_accept(o->lfd, &fd, 50) == 0)   /* whatever the kernel let in late */
        close(fd);
    int n = tcp_socket_nb();
    o->rc_after = fut_connect(n, (struct sockaddr *)&o->sa, sizeof o->sa, 5000);
    if (o->rc_after == 0) {
        o->rc_after = fut_accept(o->lfd, &fd, 5000);
        if (!o->rc_after)
            close(fd);
    }
    close(n);
    return NULL;
}

START_TEST(accept_queue_overflow)
{
    struct overflow o;
    memset(&o, 0, sizeof o);
    o.lfd = tcp_listener(1, true, &o.sa);
    ck_assert_int_eq(fut_run(over_main, &o, NULL), 0);
    int ok = 0, timedout = 0;
    for (int i = 0; i < OVER; i++) {
        /* A kernel set to reset on overflow (tcp_abort_on_overflow) refuses
         * instead of dropping the handshake. */
        ck_assert_msg(o.rc[i] == 0 || o.rc[i] == ETIMEDOUT || o.rc[i] == ECONNREFUSED ||
                      o.rc[i] == ECONNRESET, "client %d: rc %d", i, o.rc[i]);
        ok += o.rc[i] == 0;
        timedout += o.rc[i] != 0;
    }
    ck_assert_int_gt(timedout, 0);     /* the queue did overflow */
    ck_assert_int_ge(o.accepted, 1);
    ck_assert_int_le(o.accepted, ok);
    ck_assert_msg(o.rc_again == ETIMEDOUT || o.rc_again == 0 || o.rc_again == ECONNREFUSED ||
                  o.rc_again == ECONNRESET, "again: %d", o.rc_again);
    tu_assert_rc(o.rc_after, 0);
    close(o.lfd);
}
END_TEST

/* Out of descriptors.  In a child with RLIMIT_NOFILE lowered, an echo
 * server on one loop accepts until EMFILE; it keeps echoing on the
 * connections it has; once one of them closes, the connection that was
 * left queued is accepted and served.  The clients are in the parent (its
 * own descriptor table). */
struct emfile_srv {
    int lfd, ctl;
    atomic_int saw_emfile;
};

static void *emfile_acceptor(void *arg)
{
    struct emfile_srv *s = arg;
    for (;;) {
        int fd;
        int rc = fut_accept(s->lfd, &fd, FUT_FOREVER);
        if (rc == EMFILE || rc == ENFILE) {
            atomic_store(&s->saw_emfile, 1);
            if (fut_sleep(10))
                break;
            continue;
        }
        if (rc)
            break;
        future_t *f = fut_spawn(echo_conn, (void *)(intptr_t)fd);
        if (f)
            future_release(f);
        else
            close(fd);
    }
    return NULL;
}

static void *emfile_main(void *arg)
{
    struct emfile_srv *s = arg;
    future_t *a = fut_spawn(emfile_acceptor, s);
    char b;
    size_t got;
    fut_read(s->ctl, &b, 1, &got, 20000);   /* until the parent closes it */
    future_release(a);
    return NULL;
}

static bool echoes(int fd, const char *msg, long ms)
{
    size_t n = strlen(msg);
    if (write(fd, msg, n) != (ssize_t)n)
        return false;
    char b[64];
    return read_full_ms(fd, b, n, ms) == n && memcmp(b, msg, n) == 0;
}

START_TEST(emfile_server_keeps_serving)
{
    struct sockaddr_in sa;
    int lfd = tcp_listener(16, true, &sa);
    int ctl[2];
    ck_assert_int_eq(pipe2(ctl, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(ctl[1]);
        /* Room for the loop's two descriptors and three connections: fill
         * the free numbers below the highest open one, then allow five
         * above it. */
        int maxfd = 0;
        for (int fd = 0; fd < 1024; fd++)
            if (fcntl(fd, F_GETFD) >= 0)
                maxfd = fd;
        for (;;) {
            int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                _exit(2);
            if (fd > maxfd) {
                close(fd);
                break;
            }
        }
        struct rlimit rl = {(rlim_t)maxfd + 1 + 2 + 3, (rlim_t)maxfd + 1 + 2 + 3};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(2);
        struct emfile_srv s = {.lfd = lfd, .ctl = ctl[0]};
        atomic_init(&s.saw_emfile, 0);
        int rc = fut_run(emfile_main, &s, NULL);
        _exit(rc ? 3 : atomic_load(&s.saw_emfile) ? 0 : 4);
    }
    close(ctl[0]);
    int c[5];
    for (int i = 0; i < 5; i++) {
        c[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(connect(c[i], (struct sockaddr *)&sa, sizeof sa), 0);
    }
    /* Served: exactly the connections the server could accept. */
    bool served[5];
    int nserved = 0;
    for (int i = 0; i < 5; i++) {
        served[i] = echoes(c[i], "one", nserved < 3 ? 3000 : 300);
        nserved += served[i];
    }
    ck_assert_int_eq(nserved, 3);
    /* They keep being served while the others wait. */
    for (int i = 0; i < 5; i++)
        if (served[i])
            ck_assert(echoes(c[i], "two", 3000));
    /* Free one: a waiting connection gets in and its message is echoed. */
    int first = served[0] ? 0 : served[1] ? 1 : 2;
    close(c[first]);
    int waiting = -1;
    for (int i = 0; i < 5 && waiting < 0; i++)
        if (!served[i])
            waiting = i;
    char b[8];
    size_t r = read_full_ms(c[waiting], b, 3, 5000);   /* its "one", echoed late */
    if (r != 3) {
        /* The other waiting one may have been let in instead. */
        for (int i = waiting + 1; i < 5 && r != 3; i++)
            if (!served[i] && (r = read_full_ms(c[i], b, 3, 2000)) == 3)
                waiting = i;
    }
    ck_assert_uint_eq(r, 3);
    ck_assert_mem_eq(b, "one", 3);
    ck_assert(echoes(c[waiting], "three", 3000));
    close(ctl[1]);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    for (int i = 0; i < 5; i++)
        if (i != first)
            close(c[i]);
    close(lfd);
}
END_TEST

/* ---------------------------------------------------------------------
 * Cancellation at every waiting point
 * ------------------------------------------------------------------- */

enum call { C_IO_WAIT, C_READ, C_WRITE, C_ACCEPT, C_CONNECT, C_WAITPID, C_WAITPID_POLL,
            C_SIGNAL, C_NCALLS };

struct cancel {
    enum call call;
    int fd, peer, lfd;
    struct sockaddr_in sa;
    pid_t pid;
    sigset_t set;
    unsigned char *buf;
    size_t len, written, got;
    int rc, rc_later;
    atomic_bool waiting;
    bool remote;                       /* cancel from another thread */
};

static void *cancel_victim(void *arg)
{
    struct cancel *c = arg;
    atomic_store(&c->waiting, true);
    int fd, signo, st;
    short rev;
    switch (c->call) {
    case C_IO_WAIT:
        c->rc = fut_io_wait(c->fd, POLLIN, FUT_FOREVER, &rev);
        break;
    case C_READ:
        c->rc = fut_read(c->fd, c->buf, 16, &c->got, FUT_FOREVER);
        break;
    case C_WRITE:
        c->rc = fut_write(c->fd, c->buf, c->len, &c->written, FUT_FOREVER);
        break;
    case C_ACCEPT:
        c->rc = fut_accept(c->lfd, &fd, FUT_FOREVER);
        break;
    case C_CONNECT:
        c->rc = fut_connect(c->fd, (struct sockaddr *)&c->sa, sizeof c->sa, FUT_FOREVER);
        break;
    case C_WAITPID:
    case C_WAITPID_POLL:
        c->rc = fut_waitpid(c->pid, &st, FUT_FOREVER);
        break;
    case C_SIGNAL:
        c->rc = fut_signal_wait(&c->set, &signo, FUT_FOREVER);
        break;
    default:
        break;
    }
    /* Every later call of a cancelled coroutine: ECANCELED at once,
     * touching nothing. */
    size_t g;
    char b[4];
    c->rc_later = fut_read(c->peer >= 0 ? c->peer : 0, b, sizeof b, &g, 0);
    return NULL;
}

static void *cancel_from_thread(void *arg)
{
    tu_sleep_ms(30);
    tu_assert_rc(future_cancel(arg), 0);
    return NULL;
}

static void *cancel_main(void *arg)
{
    struct cancel *c = arg;
    future_t *f = fut_spawn(cancel_victim, c);
    while (!atomic_load(&c->waiting))
        fut_sleep(1);
    fut_sleep(20);                     /* it is suspended in the call now */
    ck_assert(!future_done(f));
    if (c->remote) {
        pthread_t t = tu_thread(cancel_from_thread, f);
        ck_assert_int_eq(future_wait(f, 10000), 0);
        tu_join(t);
    } else {
        tu_assert_rc(future_cancel(f), 0);
        ck_assert_int_eq(future_wait(f, 10000), 0);
    }
    tu_assert_state(f, FUTURE_CANCELLED);
    future_release(f);
    return NULL;
}

static void cancel_call(enum call call, bool remote)
{
    struct cancel c;
    memset(&c, 0, sizeof c);
    c.call = call;
    c.remote = remote;
    c.fd = c.peer = c.lfd = -1;
    int sv[2], wfd = -1;
    c.buf = calloc(1, 8u << 20);
    switch (call) {
    case C_IO_WAIT:
    case C_READ:
        socketpair_nb(sv);
        c.fd = sv[0];
        c.peer = sv[1];
        break;
    case C_WRITE:
        socketpair_nb(sv);
        c.fd = sv[0];
        c.peer = sv[1];
        c.len = 8u << 20;              /* more than the pair holds */
        break;
    case C_ACCEPT:
        c.lfd = tcp_listener(4, true, &c.sa);
        break;
    case C_CONNECT: {
        /* A listener whose queue is full: the connect hangs in SYN_SENT. */
        c.lfd = tcp_listener(0, true, &c.sa);
        for (int i = 0; i < 3; i++) {
            int f = tcp_socket_nb();
            if (connect(f, (struct sockaddr *)&c.sa, sizeof c.sa) != 0) {
                /* EINPROGRESS: the handshake goes on; it fills the queue */
            }
        }
        tu_sleep_ms(50);
        c.fd = tcp_socket_nb();
        break;
    }
    case C_WAITPID:
    case C_WAITPID_POLL:
        atomic_store(&fut__io_no_pidfd, call == C_WAITPID_POLL);
        c.pid = child_waiting(&wfd);
        break;
    case C_SIGNAL:
        block_usr(&c.set);
        break;
    default:
        break;
    }
    ck_assert_int_eq(fut_run(cancel_main, &c, NULL), 0);
    ck_assert_msg(c.rc == ECANCELED, "call %d: rc %d", (int)call, c.rc);
    tu_assert_rc(c.rc_later, ECANCELED);
    /* Left as it was. */
    switch (call) {
    case C_IO_WAIT:
    case C_READ: {
        ck_assert_uint_eq(c.got, 0);
        ck_assert_int_eq(write(c.peer, "kept", 4), 4);
        char b[8];
        ck_assert_uint_eq(read_full_ms(c.fd, b, 4, 2000), 4);   /* nothing was consumed */
        ck_assert_mem_eq(b, "kept", 4);
        break;
    }
    case C_WRITE: {
        ck_assert_uint_gt(c.written, 0);
        ck_assert_uint_lt(c.written, c.len);
        size_t total = 0;
        unsigned char *b = malloc(1 << 16);
        for (;;) {
            ssize_t n = read(c.peer, b, 1 << 16);
            if (n <= 0)
                break;
            total += (size_t)n;
        }
        free(b);
        ck_assert_uint_eq(total, c.written);   /* *written is what went out */
        break;
    }
    case C_ACCEPT: {
        int cl = tcp_socket_nb();
        if (connect(cl, (struct sockaddr *)&c.sa, sizeof c.sa) != 0) {
            /* EINPROGRESS: accepted below once the handshake is done */
        }
        int fd;
        tu_assert_rc(fut_accept(c.lfd, &fd, 5000), 0);   /* still listening, nothing lost */
        close(fd);
        close(cl);
        break;
    }
    case C_CONNECT: {
        int e = 0;
        socklen_t el = sizeof e;
        ck_assert_int_eq(getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &e, &el), 0);
        ck_assert_int_eq(e, 0);        /* still in progress, no error */
        break;
    }
    case C_WAITPID:
    case C_WAITPID_POLL: {
        int st;
        ck_assert_int_eq(waitpid(c.pid, &st, WNOHANG), 0);   /* not reaped */
        close(wfd);
        tu_assert_rc(fut_waitpid(c.pid, &st, 10000), 0);
        ck_assert_int_eq(WEXITSTATUS(st), 3);
        atomic_store(&fut__io_no_pidfd, 0);
        break;
    }
    case C_SIGNAL: {
        kill(getpid(), SIGUSR1);       /* nothing was taken: it is there */
        int signo;
        tu_assert_rc(fut_signal_wait(&c.set, &signo, 0), 0);
        ck_assert_int_eq(signo, SIGUSR1);
        break;
    }
    default:
        break;
    }
    if (c.fd >= 0)
        close(c.fd);
    if (c.peer >= 0)
        close(c.peer);
    if (c.lfd >= 0)
        close(c.lfd);
    free(c.buf);
}

START_TEST(cancel_at_every_waiting_point)
{
    for (int call = 0; call < C_NCALLS; call++)
        cancel_call((enum call)call, false);
}
END_TEST

START_TEST(cancel_from_another_thread)
{
    for (int call = 0; call < C_NCALLS; call++)
        cancel_call((enum call)call, true);
}
END_TEST

/* ---------------------------------------------------------------------
 * A loop run inside a pool job
 * ------------------------------------------------------------------- */

struct nested_io {
    fut_pool_t *pool;
    int p[2];
    int rc;
    size_t got;
};

static void *nested_helper_job(void *arg)
{
    return (void *)((uintptr_t)arg * 2);
}

static void *nested_co(void *arg)
{
    struct nested_io *n = arg;
    char b[8];
    /* A job of the same pool, run by this very thread while the loop
     * sleeps (a 1-thread pool), and a descriptor, at once. */
    future_t *j = fut_pool_submit(n->pool, nested_helper_job, (void *)21);
    n->rc = fut_read(n->p[0], b, sizeof b, &n->got, 10000);
    void *v = NULL;
    ck_assert_int_eq(future_get(j, &v), 0);
    ck_assert_uint_eq((uintptr_t)v, 42);
    future_release(j);
    return NULL;
}

static void *nested_job(void *arg)
{
    void *r = NULL;
    int rc = fut_run(nested_co, arg, &r);
    return rc ? fut_raise(rc) : r;
}

START_TEST(loop_in_pool_job_waits_on_descriptor)
{
    struct nested_io n;
    memset(&n, 0, sizeof n);
    n.pool = fut_pool_new(&(fut_pool_opts){.threads = 1});
    pipe_nb(n.p);
    future_t *f = fut_pool_submit(n.pool, nested_job, &n);
    tu_sleep_ms(50);
    ck_assert_int_eq(write(n.p[1], "wake", 4), 4);
    tu_assert_rc(future_wait(f, 15000), 0);
    tu_assert_rc(future_get(f, NULL), 0);
    tu_assert_rc(n.rc, 0);
    ck_assert_uint_eq(n.got, 4);
    future_release(f);
    fut_pool_free(n.pool);
    close(n.p[0]);
    close(n.p[1]);
}
END_TEST

/* ---------------------------------------------------------------------
 * Stress
 * ------------------------------------------------------------------- */

/* Echo over many socket pairs on one loop while another thread resolves
 * promises the loop's coroutines wait on (the eventfd wake-ups) and
 * cancels some connections' coroutines at random. */
#define PAIRS 48
struct stress {
    int sv[PAIRS][2];
    future_t *echo[PAIRS];
    future_t *prom[64];
    atomic_int rounds_ok;
    atomic_int ready;
};

struct stress_arg {
    struct stress *s;
    int i;
};

static void *stress_echo(void *arg)
{
    struct stress_arg *a = arg;
    int fd = a->s->sv[a->i][0];
    char b[512];
    for (;;) {
        size_t got;
        int rc = fut_read(fd, b, sizeof b, &got, 10000);
        if (rc || !got)
            return rc ? fut_raise(rc) : NULL;
        rc = fut_write(fd, b, got, NULL, 10000);
        if (rc)
            return fut_raise(rc);
    }
}

static void *stress_client(void *arg)
{
    struct stress_arg *a = arg;
    int fd = a->s->sv[a->i][1];
    unsigned seed = (unsigned)a->i * 2654435761u;
    for (int r = 0; r < (int)TU_ROUNDS(60); r++) {
        char m[300], back[300];
        size_t n = 1 + (seed = seed * 1103515245u + 12345u) % sizeof m;
        memset(m, 'a' + (r % 26), n);
        int rc = fut_write(fd, m, n, NULL, 10000);
        size_t have = 0;
        while (!rc && have < n) {
            size_t got;
            rc = fut_read(fd, back + have, n - have, &got, 10000);
            if (!rc && !got)
                rc = EPIPE;
            have += got;
        }
        if (rc)
            return rc == ECANCELED ? NULL : fut_raise(rc);
        if (memcmp(m, back, n) != 0)
            return fut_raise(EIO);
        atomic_fetch_add(&a->s->rounds_ok, 1);
    }
    return NULL;
}

static void *stress_prom_waiter(void *arg)
{
    return future_get(arg, NULL) == 0 ? arg : fut_raise(EIO);
}

static void *stress_thread(void *arg)
{
    struct stress *s = arg;
    while (atomic_load(&s->ready) == 0)
        tu_sleep_ms(1);
    for (int i = 0; i < 64; i++) {
        future_resolve(s->prom[i], NULL);
        if (i % 8 == 0)
            future_cancel(s->echo[(i * 5) % PAIRS]);   /* a server side goes */
        tu_sleep_ms(1);
    }
    return NULL;
}

static void *stress_main(void *arg)
{
    struct stress *s = arg;
    static struct stress_arg a[PAIRS];
    future_t *cl[PAIRS], *pw[64];
    for (int i = 0; i < PAIRS; i++) {
        a[i] = (struct stress_arg){s, i};
        s->echo[i] = fut_spawn(stress_echo, &a[i]);
        cl[i] = fut_spawn(stress_client, &a[i]);
    }
    for (int i = 0; i < 64; i++) {
        s->prom[i] = future_new();
        pw[i] = fut_spawn(stress_prom_waiter, s->prom[i]);
    }
    pthread_t t = tu_thread(stress_thread, s);
    atomic_store(&s->ready, 1);
    ck_assert_int_eq(future_gather(pw, 64, NULL, 30000), 0);
    tu_join(t);
    /* Clients of a cancelled server side would wait for their timeout:
     * close those pairs' server ends so they see end of file. */
    for (int i = 0; i < PAIRS; i++)
        if (future_state(s->echo[i]) == FUTURE_CANCELLED)
            shutdown(s->sv[i][0], SHUT_RDWR);
    future_gather(cl, PAIRS, NULL, 30000);
    for (int i = 0; i < PAIRS; i++) {
        ck_assert(future_done(cl[i]));
        int rc = future_get(cl[i], NULL);
        ck_assert_msg(rc == 0 || rc == EPIPE || rc == ECONNRESET, "client %d: %d", i, rc);
        future_release(cl[i]);
        shutdown(s->sv[i][1], SHUT_RDWR);
    }
    future_gather(s->echo, PAIRS, NULL, 30000);
    for (int i = 0; i < PAIRS; i++)
        future_release(s->echo[i]);
    for (int i = 0; i < 64; i++) {
        future_release(pw[i]);
        future_release(s->prom[i]);
    }
    return NULL;
}

START_TEST(stress_echo_cancel_remote_wakes)
{
    static struct stress s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < PAIRS; i++)
        socketpair_nb(s.sv[i]);
    ck_assert_int_eq(fut_run(stress_main, &s, NULL), 0);
    ck_assert_int_gt(atomic_load(&s.rounds_ok), PAIRS);
    for (int i = 0; i < PAIRS; i++) {
        close(s.sv[i][0]);
        close(s.sv[i][1]);
    }
}
END_TEST

/* ---------------------------------------------------------------------
 * Suite
 * ------------------------------------------------------------------- */

static Suite *io_suite(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tu_tcase(s, "io_behaviour", 30);
    tcase_add_test(tc, io_wait_suspends_only_the_coroutine);
    tcase_add_test(tc, io_wait_plain_thread_blocks);
    tcase_add_test(tc, io_wait_revents_as_poll);
    tcase_add_test(tc, io_wait_bad_arguments);
    tcase_add_test(tc, io_wait_regular_file_ready);
    tcase_add_test(tc, io_wait_many_descriptors_one_loop);
    tcase_add_test(tc, io_wait_same_descriptor_different_events);
    tcase_add_test(tc, io_wait_thread_and_coroutine_same_descriptor);
    tcase_add_test(tc, read_waits_then_reads);
    tcase_add_test(tc, read_eof_len0_timeouts_arguments);
    tcase_add_test(tc, read_passes_read_errors);
    tcase_add_test(tc, write_all_waiting_while_full);
    tcase_add_test(tc, write_arguments);
    tcase_add_test(tc, read_write_in_a_pool_job);
    tcase_add_test(tc, accept_connect_echo_one_loop);
    tcase_add_test(tc, accept_connect_plain_threads);
    tcase_add_test(tc, accept_connect_arguments);
    tcase_add_test(tc, waitpid_children_exit_codes);
    tcase_add_test(tc, waitpid_children_without_pidfd);
    tcase_add_test(tc, waitpid_plain_thread_timeout_echild);
    tcase_add_test(tc, signal_wait_in_coroutine);
    tcase_add_test(tc, signal_wait_plain_thread);
    tc = tu_tcase(s, "io_faults", 40);
    tcase_add_test(tc, closed_while_waiting_coroutine);
    tcase_add_test(tc, closed_while_waiting_plain_thread);
    tcase_add_test(tc, long_wait_outlives_the_checks);
    tcase_add_test(tc, peer_hangs_up_mid_write_epipe_no_sigpipe);
    tcase_add_test(tc, peer_stops_reading_timeout_fires);
    tcase_add_test(tc, connect_refused);
    tcase_add_test(tc, accept_queue_overflow);
    tcase_add_test(tc, emfile_server_keeps_serving);
    tc = tu_tcase(s, "io_cancel", 40);
    tcase_add_test(tc, cancel_at_every_waiting_point);
    tcase_add_test(tc, cancel_from_another_thread);
    tc = tu_tcase(s, "io_nested", 30);
    tcase_add_test(tc, loop_in_pool_job_waits_on_descriptor);
    tc = tu_tcase(s, "io_stress", 60);
    tcase_add_test(tc, stress_echo_cancel_remote_wakes);
    return s;
}

TU_MAIN(io_suite)
