/* SPDX-License-Identifier: MIT */
/*
 * ioset.h - a loop's epoll set, and how the I/O calls reach a scheduler
 *
 * Two parts:
 *
 *   1. struct fut__ioset (ioset.c): one epoll instance and one eventfd per
 *      loop, and the loop's table of descriptors that coroutines wait on.
 *      Touched by the loop's thread only, except fut__ioset_wake (any
 *      thread).  The loop embeds one and calls it from loop.c: the fd waits
 *      of its coroutines (fut__ioset_add / _del), the collection of
 *      readiness once per turn and the loop's sleep (fut__ioset_poll), and
 *      the check of long waits for a descriptor closed under them.
 *
 *   2. fut__sched_fd_wait (loop.c): what io.c calls to wait on a
 *      descriptor.  The calling thread's scheduler does it when it can (a
 *      coroutine: through the loop's epoll set and the core's waiter); any
 *      other context gets ENOSYS and io.c blocks the thread with poll(2).
 *      (This belongs in struct fut__sched_ops as an `fd_wait` operation;
 *      it is a function here because internal.h belongs to the core.)
 *
 * Registrations (doc/design.md, "Waiting on descriptors", has the
 * measurements behind the choice).  Default: one-shot.  Every wait arms
 * its descriptor with one epoll_ctl (EPOLL_CTL_MOD, or ADD the first time
 * the loop sees the descriptor or after the kernel dropped it); the event
 * disarms it.  That one call per wait is also what tells the loop that the
 * descriptor is still the file it registered: a number closed (EBADF) or
 * closed and reused for another file (ENOENT) is seen at once, so a wait
 * never trusts a registration that the kernel silently dropped when the
 * file was closed.  FUT_EPOLL_MODE selects the persistent variants that were
 * measured against it (build option EPOLL=lt|et): they skip that call and
 * rely on the check of long waits (below) to notice a reused number, a
 * second later, which is why they are not the default.
 *
 * Long waits.  Nothing tells epoll that a watched descriptor was closed:
 * the kernel silently drops the registration of a file whose last copy
 * closes.  So the loop checks each wait that has lasted a second, then at
 * intervals doubling up to 8 s, by re-arming its registration: EBADF (the
 * number is closed) or ENOENT (the number names another file now) ends
 * every wait on that number with POLLNVAL, which the caller turns into
 * EBADF.  No timer per wait: waits sit on a list in arrival order (young,
 * O(1) to link and unlink), and the ones that outlive their first check on
 * a second list (old) swept at most once a second.
 *
 * Events carry (seq << 32 | fd): seq changes whenever the loop forgets a
 * registration, so the events of a registration the kernel still holds
 * for a file closed under another copy (a dup, a forked child: epoll keys
 * on the open file, not the number) are recognised and dropped.
 */
#ifndef FUT_IOSET_H
#define FUT_IOSET_H

#include "internal.h"

#include <stdint.h>
#include <sys/epoll.h>

#define FUT_EPOLL_ONESHOT 0
#define FUT_EPOLL_LT 1
#define FUT_EPOLL_ET 2
#ifndef FUT_EPOLL_MODE
#define FUT_EPOLL_MODE FUT_EPOLL_ONESHOT
#endif

/* One waiting call on one descriptor: the core's waiter node plus what it
 * waits for and, once the loop detached it, what it got. */
struct fut__fdwait {
    struct fut__wnode node;            /* in its fdrec's list; loop thread */
    struct fut__dnode age;             /* on io->young or io->old */
    struct fut__dlist *age_list;       /* which of them; NULL: neither */
    uint64_t since;                    /* when it began (the loop's clock) */
    uint64_t next_check;               /* on io->old: when to check it */
    int fd;                            /* const */
    uint32_t events;                   /* EPOLLIN / EPOLLOUT; const */
    bool drained;                      /* the caller just saw EAGAIN: the
                                          descriptor is not ready now */
    uint32_t revents;                  /* written by the loop before it
                                          notifies the waiter */
};

/* What the loop knows of one descriptor number. */
struct fut__fdrec {
    struct fut__dlist waiters;         /* struct fut__fdwait, in arrival order */
    uint32_t armed;                    /* events of the registration as the
                                          loop last set it; 0: disarmed */
    uint32_t seq;                      /* generation in the events' data */
    bool in_set;                       /* registered, as far as we know */
    bool drained;                      /* a read came back short, and no
                                          event has been seen since: the
                                          next read waits first (a hint) */
};

struct fut__ioset {
    int epfd;                          /* const; -1: none */
    int efd;                           /* the eventfd; const; -1: none */
    struct fut__fdrec *tab;            /* indexed by descriptor number */
    size_t cap;                        /* entries in tab */
    size_t nwait;                      /* fdwaits linked now */
    struct fut__dlist young;           /* waits not checked yet, oldest first */
    struct fut__dlist old;             /* waits checked at least once */
    uint64_t now;                      /* the clock at the last poll */
    uint64_t next_sweep;               /* when to sweep old next */
    struct epoll_event *evs;           /* epoll_wait's buffer */
    int nevs;                          /* its size */
    bool ns_timeout;                   /* epoll_pwait2 works here */
};

/* 0, or the errno of epoll_create1 / eventfd / malloc (EMFILE, ENOMEM). */
FUT_HIDDEN int fut__ioset_init(struct fut__ioset *io);
FUT_HIDDEN void fut__ioset_destroy(struct fut__ioset *io);

/* Links w into its descriptor's list and arms the registration for the
 * union of the events waited for.  0; EBADF (not open); EPERM (a file
 * epoll cannot watch: a regular file or a directory, always ready, as
 * poll(2) says); EINVAL; ENOMEM.  On an error w is not linked. */
FUT_HIDDEN int fut__ioset_add(struct fut__ioset *io, struct fut__fdwait *w);
/* Unlinks w if the loop has not detached it.  Returns whether it did. */
FUT_HIDDEN bool fut__ioset_del(struct fut__ioset *io, struct fut__fdwait *w);
/* When the next check of a long wait is due (FUT_NO_DEADLINE: none): the
 * loop's sleep ends by then. */
FUT_HIDDEN uint64_t fut__ioset_next_check(const struct fut__ioset *io);

/* Collects readiness with one epoll_wait: waits until `deadline`
 * (CLOCK_MONOTONIC ns; 0: do not wait; FUT_NO_DEADLINE: no limit), then
 * detaches and notifies every waiter whose events came, drains the eventfd
 * if it was written, and checks the long waits that are due.  Returns the
 * number of waiters notified. */
FUT_HIDDEN size_t fut__ioset_poll(struct fut__ioset *io, uint64_t deadline);
/* Any thread: makes the loop's current or next poll return. */
FUT_HIDDEN void fut__ioset_wake(struct fut__ioset *io);

/* The short-read hint (as libuv, which reads only on readiness): a read
 * that returned less than it asked for emptied the descriptor, so in a
 * coroutine the next read waits for readiness first instead of trying a
 * read that would say EAGAIN.  Only a hint: the wait arms the registration,
 * which reports readiness present at that moment, so a wrong hint costs a
 * turn of the loop, never a wake-up.  Any event for the descriptor clears
 * it.  The scheduler's fd_drained / fd_read_was_short reach it (loop.c). */
/* ioset.c's side of them. */
FUT_HIDDEN bool fut__ioset_drained(struct fut__ioset *io, int fd);
FUT_HIDDEN void fut__ioset_set_drained(struct fut__ioset *io, int fd, bool drained);

/* Test hook (io.c): nonzero makes fut_waitpid behave as on a kernel
 * without pidfd_open. */
FUT_HIDDEN extern atomic_int fut__io_no_pidfd;

#endif /* FUT_IOSET_H */
