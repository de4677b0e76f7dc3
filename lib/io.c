/* SPDX-License-Identifier: MIT */
/*
 * io.c - waiting on the outside world: descriptors, child processes,
 * signals
 *
 * Every call here is "try, and wait for readiness only when the kernel says
 * EAGAIN", with one exception: in a coroutine, a read that came back short
 * emptied the descriptor, so the next fut_read on it waits first (the
 * short-read hint, ioset.h: a read less per message, as libuv reads only
 * on readiness).  The wait goes to the calling thread's scheduler
 * (the scheduler's fd_wait: loop.c, ioset.h): in a coroutine the loop's epoll set
 * suspends just the coroutine; anywhere else (a plain thread, a pool job)
 * the thread blocks in poll(2) (poll_wait below).  This file never asks
 * which.
 *
 * Never blocking the loop.  A coroutine must not block its thread in a
 * read or write, whatever the descriptor's mode, and the library must not
 * change the mode (O_NONBLOCK belongs to the open file, which other
 * processes may share).  Sockets: recv/send with MSG_DONTWAIT, which never
 * block.  Other descriptors: their mode is read once per call (F_GETFL);
 * a non-blocking one is used as is; a blocking one is only read after poll
 * readiness says a read will not block, and written in PIPE_BUF pieces
 * after POLLOUT (a pipe with room takes that much without blocking).  Only
 * a second reader or writer of the same pipe racing between the two steps
 * can still make such a call block: futures.h says so.
 *
 * SIGPIPE.  Sockets are written with MSG_NOSIGNAL.  Other descriptors (a
 * pipe whose reader has gone) are written with SIGPIPE blocked in the
 * calling thread for the duration of the write; a SIGPIPE that write
 * raised (and only that one: not one already pending) is consumed with
 * sigtimedwait.  The process's dispositions are never touched.
 *
 * A descriptor closed under a waiting thread.  poll(2) keeps watching the
 * file it found when it started, so a descriptor closed while a thread
 * polls it would hang a wait without a deadline.  poll_wait therefore
 * waits in segments (1 s, doubling to 8 s) and checks between them that
 * the number still names the file it started with (fstat: device and
 * inode); the loop does the same with its registration (loop.c).
 */
#include "ioset.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

FUT_HIDDEN atomic_int fut__io_no_pidfd;

#define CHECK_FIRST_NS 1000000000u
#define CHECK_MAX_NS 8000000000u
/* fut_waitpid without pidfd_open: waitpid(WNOHANG) at intervals doubling
 * from 1 ms to 50 ms. */
#define REAP_FIRST_NS 1000000u
#define REAP_MAX_NS 50000000u

static bool valid_timeout(long timeout_ms)
{
    return timeout_ms >= 0 || timeout_ms == FUT_FOREVER;
}

/* ECANCELED if the calling coroutine has a cancellation to deliver. */
static int cancelled(void)
{
    struct fut__sched *s = fut__sched_self();
    return s->ops->cancelled(s);
}

/* ---------------------------------------------------------------------
 * Waiting for readiness
 * ------------------------------------------------------------------- */

/* Blocks the thread in poll(2) until fd is ready, the deadline, or the
 * descriptor turns out to have been closed (see the top). */
static int poll_wait(int fd, uint32_t events, uint64_t deadline, uint32_t *revents)
{
    struct stat st0;
    bool known = fstat(fd, &st0) == 0;
    if (!known && errno == EBADF)
        return EBADF;
    uint64_t check = CHECK_FIRST_NS;
    for (;;) {
        uint64_t now = fut__now_ns();
        uint64_t seg = deadline;
        if (deadline > now && deadline - now > check)
            seg = now + check;
        uint64_t rel = seg > now ? seg - now : 0;
        struct timespec ts = {(time_t)(rel / 1000000000u), (long)(rel % 1000000000u)};
        struct pollfd p = {fd, (short)events, 0};
        int n = ppoll(&p, 1, &ts, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n > 0) {
            if (p.revents & POLLNVAL)
                return EBADF;
            *revents = (uint16_t)p.revents;
            return 0;
        }
        if (seg == deadline || fut__now_ns() >= deadline)
            return ETIMEDOUT;
        struct stat st;
        if (fstat(fd, &st) != 0) {
            if (errno == EBADF)
                return EBADF;
        } else if (known && (st.st_dev != st0.st_dev || st.st_ino != st0.st_ino)) {
            return EBADF;              /* closed, and the number reused */
        }
        if (check < CHECK_MAX_NS)
            check *= 2;
    }
}

/* Waits until fd is ready for events (EPOLLIN/EPOLLOUT), in whatever way
 * the calling context waits.  timeout_ms == 0 only checks.  0 with
 * *revents, ETIMEDOUT, ECANCELED, EBADF, EINVAL, ENOMEM. */
static int fd_wait(int fd, uint32_t events, bool drained, long timeout_ms, uint64_t deadline,
                   uint32_t *revents)
{
    *revents = 0;
    if (timeout_ms == 0) {
        struct pollfd p = {fd, (short)events, 0};
        int n;
        while ((n = poll(&p, 1, 0)) < 0 && errno == EINTR) {
        }
        if (n < 0)
            return errno;
        if (n == 0)
            return ETIMEDOUT;
        if (p.revents & POLLNVAL)
            return EBADF;
        *revents = (uint16_t)p.revents;
        return 0;
    }
    struct fut__sched *s = fut__sched_self();
    if (s->ops->fd_wait)
        return s->ops->fd_wait(s, fd, events, drained, deadline, revents);
    return poll_wait(fd, events, deadline, revents);
}

int fut_io_wait(int fd, short events, long timeout_ms, short *revents)
{
    if (revents)
        *revents = 0;
    if (!valid_timeout(timeout_ms) || !(events & (POLLIN | POLLOUT)) ||
        (events & ~(POLLIN | POLLOUT)))
        return EINVAL;
    if (fd < 0)
        return EBADF;
    int rc = cancelled();
    if (rc)
        return rc;
    uint32_t r = 0;
    rc = fd_wait(fd, (uint32_t)events, false, timeout_ms, fut__deadline(timeout_ms), &r);
    if (rc == 0 && revents)
        *revents = (short)(r & (POLLIN | POLLOUT | POLLERR | POLLHUP));
    return rc;
}

/* ---------------------------------------------------------------------
 * Reading and writing
 * ------------------------------------------------------------------- */

enum kind { K_UNKNOWN, K_SOCKET, K_NONBLOCKING, K_BLOCKING, K_BLOCKING_FILE };

/* What a descriptor that is not a socket is: 0 or fcntl's/fstat's errno. */
static int classify(int fd, enum kind *k)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return errno;
    if (fl & O_NONBLOCK) {
        *k = K_NONBLOCKING;
        return 0;
    }
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    *k = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ? K_BLOCKING_FILE : K_BLOCKING;
    return 0;
}

int fut_read(int fd, void *buf, size_t len, size_t *got, long timeout_ms)
{
    if (got)
        *got = 0;
    if (!got || (!buf && len) || !valid_timeout(timeout_ms))
        return EINVAL;
    if (fd < 0)
        return EBADF;
    int rc = cancelled();
    if (rc)
        return rc;
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    uint64_t deadline = fut__deadline(timeout_ms);
    struct fut__sched *s = fut__sched_self();
    if (timeout_ms != 0 && len > 0 && s->ops->fd_drained && s->ops->fd_drained(s, fd)) {
        /* The last read emptied it: wait for readiness before reading. */
        uint32_t r;
        rc = s->ops->fd_wait(s, fd, EPOLLIN, true, deadline, &r);
        if (rc)
            return rc;
    }
    enum kind k = K_UNKNOWN;
    for (;;) {
        ssize_t n;
        if (k == K_UNKNOWN || k == K_SOCKET) {
            n = recv(fd, buf, len, MSG_DONTWAIT);
            if (n < 0 && errno == ENOTSOCK) {
                if ((rc = classify(fd, &k)) != 0)
                    return rc;
                continue;
            }
            if (n >= 0 || errno != ENOTSOCK)
                k = K_SOCKET;
        } else if (k == K_BLOCKING && len > 0) {
            /* Only once poll says a read will not block. */
            uint32_t r;
            rc = fd_wait(fd, EPOLLIN, false, timeout_ms, deadline, &r);
            if (rc)
                return rc;
            n = read(fd, buf, len);
        } else {
            n = read(fd, buf, len);
        }
        if (n >= 0) {
            *got = (size_t)n;
            if (n > 0 && s->ops->fd_read_was_short)
                s->ops->fd_read_was_short(s, fd, (size_t)n < len);
            return 0;
        }
        int e = errno;
        if (e == EINTR)
            continue;
        if (e != EAGAIN && e != EWOULDBLOCK)
            return e;
        if (timeout_ms == 0)
            return ETIMEDOUT;
        uint32_t r;
        rc = fd_wait(fd, EPOLLIN, true, timeout_ms, deadline, &r);
        if (rc)
            return rc;
    }
}

/* write(2) to a descriptor that is not a socket, without letting a SIGPIPE
 * it raises reach the process (see the top). */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
    sigset_t pipe_only, old, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &pipe_only, &old) != 0)
        return write(fd, buf, len);    /* cannot fail with a valid set */
    bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    ssize_t n = write(fd, buf, len);
    int e = errno;
    if (n < 0 && e == EPIPE && !was_pending) {
        /* Ours, raised for this thread: consume it before unblocking. */
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_only, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return n;
}

int fut_write(int fd, const void *buf, size_t len, size_t *written, long timeout_ms)
{
    if (written)
        *written = 0;
    if ((!buf && len) || !valid_timeout(timeout_ms))
        return EINVAL;
    if (fd < 0)
        return EBADF;
    int rc = cancelled();
    if (rc)
        return rc;
    uint64_t deadline = fut__deadline(timeout_ms);
    const char *p = buf;
    size_t done = 0;
    enum kind k = K_UNKNOWN;
    rc = 0;
    while (done < len) {
        size_t want = len - done;
        if (want > SSIZE_MAX)
            want = SSIZE_MAX;
        ssize_t n;
        if (k == K_UNKNOWN || k == K_SOCKET) {
            n = send(fd, p + done, want, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0 && errno == ENOTSOCK) {
                if ((rc = classify(fd, &k)) != 0)
                    break;
                continue;
            }
            k = K_SOCKET;
        } else if (k == K_BLOCKING) {
            /* A pipe with room (POLLOUT) takes PIPE_BUF bytes at once. */
            uint32_t r;
            rc = fd_wait(fd, EPOLLOUT, false, timeout_ms, deadline, &r);
            if (rc)
                break;
            n = write_nosigpipe(fd, p + done, want < PIPE_BUF ? want : PIPE_BUF);
        } else {
            n = write_nosigpipe(fd, p + done, want);
        }
        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        int e = errno;
        if (e == EINTR)
            continue;
        if (e != EAGAIN && e != EWOULDBLOCK) {
            rc = e;
            break;
        }
        if (timeout_ms == 0) {
            rc = ETIMEDOUT;
            break;
        }
        uint32_t r;
        rc = fd_wait(fd, EPOLLOUT, true, timeout_ms, deadline, &r);
        if (rc)
            break;
    }
    if (written)
        *written = done;
    return rc;
}

/* ---------------------------------------------------------------------
 * Sockets
 * ------------------------------------------------------------------- */

/* Errors accept(2) passes on from a connection that died in the queue
 * (accept(2), "Error handling"): try the next one. */
static bool accept_retry(int e)
{
    switch (e) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case ENETDOWN:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

int fut_accept(int listen_fd, int *fd, long timeout_ms)
{
    if (fd)
        *fd = -1;
    if (!fd || !valid_timeout(timeout_ms))
        return EINVAL;
    if (listen_fd < 0)
        return EBADF;
    int rc = cancelled();
    if (rc)
        return rc;
    int fl = fcntl(listen_fd, F_GETFL);
    if (fl < 0)
        return errno;
    bool blocking = !(fl & O_NONBLOCK);
    uint64_t deadline = fut__deadline(timeout_ms);
    for (;;) {
        uint32_t r;
        if (blocking) {
            /* accept4 would block: only once poll says one is queued. */
            rc = fd_wait(listen_fd, EPOLLIN, false, timeout_ms, deadline, &r);
            if (rc)
                return rc;
        }
        int c = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
            *fd = c;
            return 0;
        }
        int e = errno;
        if (accept_retry(e))
            continue;
        if (e != EAGAIN && e != EWOULDBLOCK)
            return e;
        if (timeout_ms == 0)
            return ETIMEDOUT;
        if (!blocking) {
            rc = fd_wait(listen_fd, EPOLLIN, true, timeout_ms, deadline, &r);
            if (rc)
                return rc;
        }
    }
}

int fut_connect(int fd, const struct sockaddr *addr, socklen_t len, long timeout_ms)
{
    if (!addr || !valid_timeout(timeout_ms))
        return EINVAL;
    if (fd < 0)
        return EBADF;
    int rc = cancelled();
    if (rc)
        return rc;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return errno;
    if (!(fl & O_NONBLOCK))
        return EINVAL;                 /* connect(2) would block the caller */
    if (connect(fd, addr, len) == 0)
        return 0;
    rc = errno;
    /* EINTR: the connection goes on in the background, as EINPROGRESS.
     * EALREADY: an earlier attempt (one we timed out on) still is. */
    if (rc != EINPROGRESS && rc != EINTR && rc != EALREADY)
        return rc;
    uint32_t r;
    rc = fd_wait(fd, EPOLLOUT, false, timeout_ms, fut__deadline(timeout_ms), &r);
    if (rc)
        return rc;
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
        return errno;
    return err;
}

/* ---------------------------------------------------------------------
 * Child processes and signals
 * ------------------------------------------------------------------- */

/* Sleeps until `until` (bounded by the deadline) in the calling context:
 * suspends a coroutine (ECANCELED if it is cancelled), sleeps a thread. */
static int nap_until(uint64_t until)
{
    uint64_t now = fut__now_ns();
    if (until <= now)
        return 0;
    if (fut_in_coroutine())
        return fut_sleep((long)((until - now + 999999u) / 1000000u));
    struct timespec ts = fut__timespec(until);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
    return 0;
}

/* 1: reaped (status set), 0: still running, < 0: -errno. */
static int reap(pid_t pid, int *status)
{
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (status)
                *status = st;
            return 1;
        }
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int fut_waitpid(pid_t pid, int *status, long timeout_ms)
{
    if (pid <= 0 || !valid_timeout(timeout_ms))
        return EINVAL;
    int rc = cancelled();
    if (rc)
        return rc;
    /* First: is it our child, and has it exited already? */
    int r = reap(pid, status);
    if (r != 0)
        return r > 0 ? 0 : -r;
    if (timeout_ms == 0)
        return ETIMEDOUT;
    uint64_t deadline = fut__deadline(timeout_ms);
    int pfd = -1;
#ifdef SYS_pidfd_open
    if (!atomic_load_explicit(&fut__io_no_pidfd, memory_order_relaxed))
        pfd = (int)syscall(SYS_pidfd_open, pid, 0);   /* close-on-exec */
#endif
    if (pfd >= 0) {
        /* Readable once the child has exited; then reaping cannot wait. */
        for (;;) {
            uint32_t ev;
            rc = fd_wait(pfd, EPOLLIN, false, timeout_ms, deadline, &ev);
            if (rc)
                break;
            r = reap(pid, status);
            if (r != 0) {
                rc = r > 0 ? 0 : -r;
                break;
            }
        }
        close(pfd);
        return rc;
    }
    /* No pidfd (a kernel before 5.3, a seccomp filter, no descriptor
     * left): ask again at doubling intervals. */
    uint64_t step = REAP_FIRST_NS;
    for (;;) {
        uint64_t now = fut__now_ns();
        if (now >= deadline)
            return ETIMEDOUT;
        uint64_t until = deadline - now > step ? now + step : deadline;
        if ((rc = nap_until(until)) != 0)
            return rc;
        r = reap(pid, status);
        if (r != 0)
            return r > 0 ? 0 : -r;
        if (step < REAP_MAX_NS)
            step *= 2;
    }
}

int fut_signal_wait(const sigset_t *set, int *signo, long timeout_ms)
{
    if (signo)
        *signo = 0;
    if (!set || !valid_timeout(timeout_ms) || sigisemptyset(set))
        return EINVAL;
    int rc = cancelled();
    if (rc)
        return rc;
    int sfd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0)
        return errno;
    uint64_t deadline = fut__deadline(timeout_ms);
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(sfd, &si, sizeof si);
        if (n == (ssize_t)sizeof si) {
            if (signo)
                *signo = (int)si.ssi_signo;
            rc = 0;
            break;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN) {
            rc = errno;
            break;
        }
        if (timeout_ms == 0) {
            rc = ETIMEDOUT;
            break;
        }
        uint32_t ev;
        rc = fd_wait(sfd, EPOLLIN, true, timeout_ms, deadline, &ev);
        if (rc)
            break;
    }
    close(sfd);
    return rc;
}
