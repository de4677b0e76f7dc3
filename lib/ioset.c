/* SPDX-License-Identifier: MIT */
/*
 * ioset.c - a loop's epoll set: registrations, readiness, the eventfd
 *
 * ioset.h says what this is and why registrations are one-shot.  Here:
 *
 * The table.  tab[fd] is the loop's record of descriptor number fd: the
 * waiting calls linked on it (struct fut__fdwait, each embedding the core's
 * waiter node), the events the registration was last armed with, and the
 * generation `seq` carried in its events.  It grows (doubling) to the
 * highest number waited on; records hold no pointer into themselves, so
 * moving them is fine.  Loop thread only: no lock.
 *
 * Dispatch.  An event for (fd, seq) that does not match the record (the
 * loop forgot that registration, or never had it) is dropped and counted
 * (fut__io_stale_events, for the tests).  Otherwise each waiter whose
 * events (or ERR/HUP, which poll(2) always reports) came is detached, its
 * revents written, and notified: on the loop thread that makes its
 * coroutine ready at once (loop.c, coro_wake).  One-shot: the event
 * disarmed the registration, so if waiters for other events remain (one
 * coroutine reading, another writing) it is re-armed for them.
 *
 * The eventfd.  Registered level-triggered for EPOLLIN under a token no
 * descriptor uses; another thread writes it (fut__ioset_wake) only to end
 * the loop's sleep, and the loop reads it back to zero when it is reported.
 */
#include "ioset.h"

#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define NEVENTS 512
#define CHECK_FIRST_NS 1000000000u
#define CHECK_MAX_NS 8000000000u
#define EFD_TOKEN UINT64_MAX
/* What epoll always reports, asked for or not. */
#define ALWAYS (EPOLLERR | EPOLLHUP)

FUT_HIDDEN atomic_long fut__io_stale_events;

static uint64_t token(int fd, uint32_t seq)
{
    return (uint64_t)seq << 32 | (uint32_t)fd;
}

int fut__ioset_init(struct fut__ioset *io)
{
    memset(io, 0, sizeof *io);
    io->epfd = io->efd = -1;
    io->ns_timeout = true;
    fut__dlist_init(&io->young);
    fut__dlist_init(&io->old);
    io->now = fut__now_ns();
    io->evs = fut__malloc(NEVENTS * sizeof *io->evs);
    if (!io->evs)
        return ENOMEM;
    io->nevs = NEVENTS;
    io->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (io->epfd < 0)
        goto fail;
    io->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (io->efd < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EFD_TOKEN};
    if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, io->efd, &ev) != 0)
        goto fail;
    return 0;
fail:;
    int e = errno;
    fut__ioset_destroy(io);
    return e == ENOSPC ? ENOMEM : e;
}

void fut__ioset_destroy(struct fut__ioset *io)
{
    if (io->efd >= 0)
        close(io->efd);
    if (io->epfd >= 0)
        close(io->epfd);
    io->efd = io->epfd = -1;
    free(io->evs);
    free(io->tab);
    io->evs = NULL;
    io->tab = NULL;
    io->cap = 0;
}

/* The record of fd, growing the table if needed; NULL on ENOMEM. */
static struct fut__fdrec *rec_get(struct fut__ioset *io, int fd)
{
    if ((size_t)fd < io->cap)
        return &io->tab[fd];
    size_t cap = io->cap ? io->cap : 64;
    while (cap <= (size_t)fd)
        cap *= 2;
    struct fut__fdrec *t = fut__realloc(io->tab, cap * sizeof *t);
    if (!t)
        return NULL;
    memset(t + io->cap, 0, (cap - io->cap) * sizeof *t);
    io->tab = t;
    io->cap = cap;
    return &t[fd];
}

static int ctl(struct fut__ioset *io, int op, int fd, uint32_t events, uint32_t seq)
{
    struct epoll_event ev = {.events = events, .data.u64 = token(fd, seq)};
    if (epoll_ctl(io->epfd, op, fd, &ev) == 0)
        return 0;
    int e = errno;
    if (e == ENOSPC)
        return ENOMEM;                 /* max_user_watches */
    if (e == ELOOP)
        return EINVAL;                 /* an epoll fd watching this one */
    return e;
}

/* The events every waiter on rec wants. */
static uint32_t wanted(const struct fut__fdrec *rec)
{
    uint32_t ev = 0;
    for (const struct fut__dnode *n = rec->waiters.first; n; n = n->next)
        ev |= fut__container_of(n, struct fut__fdwait, node.link)->events;
    return ev;
}

/* Forgets what the loop knew of fd's registration: its events, whatever
 * the kernel still holds, are stale from now on. */
static void forget(struct fut__fdrec *rec)
{
    rec->in_set = false;
    rec->armed = 0;
    rec->drained = false;
    rec->seq++;
}

bool fut__ioset_drained(struct fut__ioset *io, int fd)
{
    return fd >= 0 && (size_t)fd < io->cap && io->tab[fd].drained;
}

void fut__ioset_set_drained(struct fut__ioset *io, int fd, bool drained)
{
    /* Only descriptors the loop has waited on have a record: a first read
     * on a new one always tries. */
    if (fd >= 0 && (size_t)fd < io->cap)
        io->tab[fd].drained = drained;
}

/* Registers fd for `want`, as the mode says.  `probe`: a check during a
 * wait (the loop registered this file at the wait's start), so finding no
 * registration means the file was closed.  0, EBADF, EPERM, EINVAL,
 * ENOMEM. */
static int arm(struct fut__ioset *io, int fd, struct fut__fdrec *rec, uint32_t want,
               bool drained, bool probe)
{
    uint32_t ev;
    int rc;
#if FUT_EPOLL_MODE == FUT_EPOLL_ONESHOT
    (void)drained;
    if (probe && !rec->in_set)
        return EBADF;                  /* forgotten: its file is gone */
    ev = want | EPOLLONESHOT;
#elif FUT_EPOLL_MODE == FUT_EPOLL_LT
    (void)drained;
    if (rec->in_set && !probe && (rec->armed & want) == want)
        return 0;
    ev = (rec->in_set ? rec->armed : 0) | want;
#else
    /* Edge-triggered, registered once for everything: an edge that came
     * while nobody waited is gone, so unless the caller has just seen
     * EAGAIN, re-arm (which reports the level now) as one-shot does. */
    (void)want;
    if (rec->in_set && !probe && drained)
        return 0;
    ev = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
#endif
    if (rec->in_set) {
        rc = ctl(io, EPOLL_CTL_MOD, fd, ev, rec->seq);
        if (rc == 0)
            goto armed;
        if (rc != ENOENT)
            return rc;
        /* No registration for the file fd names now: the one we made was
         * dropped with its file.  During a wait that file is gone (one-shot);
         * otherwise (or in the persistent variants) register the new one. */
        forget(rec);
        if (probe && FUT_EPOLL_MODE == FUT_EPOLL_ONESHOT)
            return EBADF;
    }
    rc = ctl(io, EPOLL_CTL_ADD, fd, ev, rec->seq);
    if (rc == EEXIST)
        rc = ctl(io, EPOLL_CTL_MOD, fd, ev, rec->seq);
    if (rc)
        return rc;
    rec->in_set = true;
armed:
    rec->armed = ev & (EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    return 0;
}

int fut__ioset_add(struct fut__ioset *io, struct fut__fdwait *w)
{
    if (w->fd < 0)
        return EBADF;
    if (w->fd == io->epfd || w->fd == io->efd)
        return EINVAL;                 /* the loop's own: a stale number */
    struct fut__fdrec *rec = rec_get(io, w->fd);
    if (!rec)
        return ENOMEM;
    int rc = arm(io, w->fd, rec, wanted(rec) | w->events, w->drained, false);
    if (rc)
        return rc;
    fut__dlist_append(&rec->waiters, &w->node.link);
    io->nwait++;
    w->since = io->now;
    w->age_list = &io->young;
    fut__dlist_append(&io->young, &w->age);
    return 0;
}

static void age_unlink(struct fut__fdwait *w)
{
    if (w->age_list) {
        fut__dlist_remove(w->age_list, &w->age);
        w->age_list = NULL;
    }
}

bool fut__ioset_del(struct fut__ioset *io, struct fut__fdwait *w)
{
    if (!w->node.link.on)
        return false;
    fut__dlist_remove(&io->tab[w->fd].waiters, &w->node.link);
    io->nwait--;
    age_unlink(w);
    return true;
}

/* Detaches every waiter of rec whose events are in rev (all of them if
 * rev has POLLNVAL), writes its revents and notifies it.  Returns the
 * number notified. */
static size_t fire(struct fut__ioset *io, struct fut__fdrec *rec, uint32_t rev)
{
    size_t k = 0;
    struct fut__dnode *n = rec->waiters.first;
    while (n) {
        struct fut__dnode *next = n->next;
        struct fut__fdwait *w = fut__container_of(n, struct fut__fdwait, node.link);
        uint32_t r = rev & (w->events | ALWAYS | POLLNVAL);
        if (r) {
            fut__dlist_remove(&rec->waiters, n);
            io->nwait--;
            age_unlink(w);
            w->revents = r;
            fut__waiter_notify(w->node.w);   /* loop thread: makes it ready */
            k++;
        }
        n = next;
    }
    return k;
}

/* Is w's descriptor still the file the loop registered?  Re-arms it.  If
 * not, every wait on that number ends (POLLNVAL: EBADF).  Returns the
 * number of waiters notified. */
static size_t check(struct fut__ioset *io, struct fut__fdwait *w)
{
    struct fut__fdrec *rec = &io->tab[w->fd];
    if (arm(io, w->fd, rec, wanted(rec), false, true) == 0)
        return 0;
    if (rec->in_set)
        forget(rec);
    return fire(io, rec, POLLNVAL);
}

uint64_t fut__ioset_next_check(const struct fut__ioset *io)
{
    if (io->young.first)
        return fut__container_of(io->young.first, struct fut__fdwait, age)->since +
               CHECK_FIRST_NS;
    return io->old.first ? io->next_sweep : FUT_NO_DEADLINE;
}

/* Checks the waits that are due (see ioset.h, "Long waits"). */
static size_t check_long_waits(struct fut__ioset *io)
{
    size_t k = 0;
    uint64_t now = io->now;
    struct fut__dnode *n;
    while ((n = io->young.first)) {
        struct fut__fdwait *w = fut__container_of(n, struct fut__fdwait, age);
        if (w->since + CHECK_FIRST_NS > now)
            break;
        fut__dlist_remove(&io->young, n);
        w->age_list = NULL;
        size_t f = check(io, w);
        k += f;
        if (!f) {
            if (!io->old.first)
                io->next_sweep = now + CHECK_FIRST_NS;
            w->next_check = now + 2 * (uint64_t)CHECK_FIRST_NS;
            w->age_list = &io->old;
            fut__dlist_append(&io->old, &w->age);
        }
    }
    if (!io->old.first || now < io->next_sweep)
        return k;
    /* The due ones first onto a list of their own: a check may end other
     * waits on the same number, which then leave whichever list they are
     * on. */
    struct fut__dlist due;
    fut__dlist_init(&due);
    for (n = io->old.first; n;) {
        struct fut__dnode *next = n->next;
        struct fut__fdwait *w = fut__container_of(n, struct fut__fdwait, age);
        if (w->next_check <= now) {
            fut__dlist_remove(&io->old, n);
            w->age_list = &due;
            fut__dlist_append(&due, n);
        }
        n = next;
    }
    while ((n = fut__dlist_pop(&due))) {
        struct fut__fdwait *w = fut__container_of(n, struct fut__fdwait, age);
        w->age_list = NULL;
        size_t f = check(io, w);
        k += f;
        if (!f) {
            uint64_t waited = now - w->since;
            w->next_check = now + (waited < CHECK_MAX_NS ? waited : CHECK_MAX_NS);
            w->age_list = &io->old;
            fut__dlist_append(&io->old, n);
        }
    }
    io->next_sweep = now + CHECK_FIRST_NS;
    return k;
}

static void dispatch(struct fut__ioset *io, const struct epoll_event *ev, bool idle,
                     size_t *woken)
{
    if (ev->data.u64 == EFD_TOKEN) {
        uint64_t v;
        while (read(io->efd, &v, sizeof v) < 0 && errno == EINTR) {
        }
        return;
    }
    int fd = (int)(uint32_t)ev->data.u64;
    uint32_t seq = (uint32_t)(ev->data.u64 >> 32);
    struct fut__fdrec *rec = (size_t)fd < io->cap ? &io->tab[fd] : NULL;
    if (!rec || !rec->in_set || rec->seq != seq) {
        atomic_fetch_add_explicit(&fut__io_stale_events, 1, memory_order_relaxed);
        return;
    }
    rec->drained = false;              /* something happened: read again */
    size_t k = fire(io, rec, ev->events);
    *woken += k;
#if FUT_EPOLL_MODE == FUT_EPOLL_ONESHOT
    rec->armed = 0;                    /* the event disarmed it */
    if (!fut__dlist_empty(&rec->waiters) &&
        arm(io, fd, rec, wanted(rec), false, false) != 0) {
        forget(rec);
        fire(io, rec, POLLNVAL);
        (*woken)++;
    }
    (void)idle;
#elif FUT_EPOLL_MODE == FUT_EPOLL_LT
    /* Lazy: the registration stays while its coroutines keep coming back;
     * reported with nobody to wake while the loop has nothing else to run
     * (so the coroutine it woke has had its turn), it is narrowed or
     * removed, or level triggering would report it on every turn. */
    if (k == 0 && idle) {
        uint32_t want = wanted(rec);
        if (!want) {
            ctl(io, EPOLL_CTL_DEL, fd, 0, rec->seq);
            forget(rec);
        } else if (ctl(io, EPOLL_CTL_MOD, fd, want, rec->seq) == 0) {
            rec->armed = want;
        }
    }
#else
    (void)idle;
#endif
}

size_t fut__ioset_poll(struct fut__ioset *io, uint64_t deadline)
{
    int n;
    if (deadline == 0) {
        n = epoll_wait(io->epfd, io->evs, io->nevs, 0);
    } else if (deadline == FUT_NO_DEADLINE) {
        n = epoll_wait(io->epfd, io->evs, io->nevs, -1);
    } else {
        uint64_t now = fut__now_ns();
        uint64_t rel = deadline > now ? deadline - now : 0;
        n = -1;
        errno = ENOSYS;
        if (io->ns_timeout) {
            struct timespec ts = {(time_t)(rel / 1000000000u), (long)(rel % 1000000000u)};
            n = epoll_pwait2(io->epfd, io->evs, io->nevs, &ts, NULL);
            if (n < 0 && errno == ENOSYS)
                io->ns_timeout = false;
        }
        if (!io->ns_timeout) {
            /* Milliseconds, rounded up: never wake before the deadline. */
            uint64_t ms = (rel + 999999u) / 1000000u;
            n = epoll_wait(io->epfd, io->evs, io->nevs, ms > INT_MAX ? INT_MAX : (int)ms);
        }
    }
    size_t woken = 0;
    for (int i = 0; i < n; i++)
        dispatch(io, &io->evs[i], deadline != 0, &woken);
    if (io->young.first || io->old.first) {
        io->now = fut__now_ns();
        woken += check_long_waits(io);
    } else if (deadline != 0) {
        io->now = fut__now_ns();       /* the loop slept: a new wait's start */
    }
    return woken;
}

void fut__ioset_wake(struct fut__ioset *io)
{
    uint64_t one = 1;
    while (write(io->efd, &one, sizeof one) < 0 && errno == EINTR) {
    }
    /* EAGAIN would mean a counter at 2^64 - 2: a wake-up is pending anyway. */
}
