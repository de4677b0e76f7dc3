/* SPDX-License-Identifier: MIT */
/*
 * stack.c - coroutine stacks: slabs, a LIFO free list, guard regions and
 * the stack-overflow reporter
 *
 * Design.  A loop may hold 100,000 live coroutines (BENCH W5), and the
 * kernel allows a process vm.max_map_count mappings (65,530 by default).
 * One mmap per stack, plus an mprotect'ed guard page that splits it, costs
 * two mappings per stack and stops near 32,700 coroutines.  So stacks are
 * carved from slabs: one anonymous MAP_NORESERVE mapping of many slots,
 *
 *     slab:  | guard | stack 0 | guard | stack 1 | ... | guard | stack n-1 |
 *            ^ base   ^ lo                                   top of n-1 ^
 *
 * each slot = guard_size (16 KiB, at least a page) + stack_size.  Slabs
 * start at 16 slots and double up to 1024 slots (or 256 MiB), so 100,000
 * stacks take about a hundred mappings.  Only the pages a coroutine
 * touches cost memory: the loop puts its control block at the very top of
 * a stack, so one that only sleeps costs one page.  Slabs are mapped
 * MAP_STACK and MADV_NOHUGEPAGE: a transparent huge page would turn that
 * one touched page into 2 MiB.
 *
 * The free list is a side array of lo pointers (LIFO: the most recently
 * freed stack has warm pages and TLB entries), never a link stored in the
 * stack, so the allocator touches no stack page.  Its capacity is grown
 * when a slab is mapped, so fut__stack_put cannot fail.  Slabs are unmapped
 * only by fut__stacks_destroy; freed stacks keep their touched pages.
 *
 * The first touch.  A new coroutine's first write to its stack top is a
 * page fault: the kernel allocates and zeroes a page, traps in and out.
 * When the loop knows that many new coroutines are queued (W3, W5: a
 * fan-out spawns them all, then they start), fut__stacks_expect populates
 * the top page of the next fresh slots in one process_madvise(2)
 * MADV_POPULATE_WRITE call (Linux >= 6.13 takes any advice for the
 * calling process): the same work per page, without a trap each.  Where
 * the kernel refuses, nothing is populated and pages fault as before.
 *
 * Warm stacks across loops.  A loop's allocator (s->cache) hands its slabs
 * to a small process-wide cache when destroyed (at most FUT__STACK_CACHE
 * carved stacks, CACHE_MAX_SLABS slabs; stacks trimmed to their top page,
 * slabs split by mprotect guards never kept), and the next allocator of
 * the same geometry takes them back as free, already-touched stacks: a
 * program that runs loop after loop (fut_run per request, tests) pays the
 * first touch of its stacks once.  The cache keeps at most a few MiB.
 *
 * Guard regions, and the trade-off against vm.max_map_count.  Decided once
 * per process:
 *   - madvise(MADV_GUARD_INSTALL) (Linux >= 6.13) puts guard markers in
 *     the page tables without splitting the mapping: every stack gets a
 *     guard, for free.  A first probe checks that the call works *and*
 *     that the guard faults (a write(2) from it must fail with EFAULT):
 *     emulators such as qemu-user accept unknown madvise advice as a no-op.
 *     The guards of a new slab are installed together by one
 *     process_madvise(2) call (guards_batch), else one madvise per stack
 *     as it is first carved.
 *   - otherwise mprotect(PROT_NONE), which splits the slab: each guarded
 *     stack costs two mappings.  Guards are then rationed process-wide to a
 *     quarter of vm.max_map_count (read once from /proc): 8,191 guarded
 *     stacks by default.  Stacks carved beyond that have no guard: an
 *     overflow there silently corrupts the slot below (the top of the
 *     previous stack, where its control block lives).  We chose running
 *     100,000 coroutines over guarding all of them; the other
 *     three-quarters of the map budget stay for the program.
 *   - if neither works, no guards.
 * A guard catches a frame that runs off the stack by up to guard_size at
 * once; a larger single frame can jump over it (-fstack-clash-protection
 * makes the compiler probe large frames page by page).
 *
 * The overflow reporter.  A library should not take over signals, so the
 * SIGSEGV handler is installed only if SIGSEGV is at SIG_DFL (a user's
 * handler, or a sanitizer's, is never replaced), with SA_RESETHAND: the
 * first SIGSEGV puts SIG_DFL back.  If the faulting address is in a guard
 * region of a registered slab, it writes (write(2), async-signal-safe)
 *
 *     libfutures: coroutine stack overflow (stack_size = N bytes); raise
 *     fut_loop_opts.stack_size
 *
 * and returns; any other fault just returns.  Either way the faulting
 * instruction runs again under SIG_DFL and the process dies by SIGSEGV
 * with a core dump, as it would have without us.  (A SIGSEGV sent by
 * kill() is re-raised, since returning would not repeat it.)  It runs on
 * an alternate signal stack (the overflowed stack has no room), which
 * fut__stacks_thread_init provides on the loop's thread.  The handler
 * finds slabs through a fixed process-wide registry of lock-free slots;
 * a slab that finds no free slot (more than FUT__STACK_REGISTRY at once)
 * still works, but its overflows die without the message.
 *
 * Threads.  A struct fut__stacks belongs to one loop and is used only by
 * its thread: no locking.  Process-wide state (guard kind, guard budget,
 * registry, reporter) is atomic or set once under pthread_once.
 */
#include "stack.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102   /* Linux 6.13 */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23   /* Linux 5.14 */
#endif
#ifndef MAP_STACK
#define MAP_STACK 0
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

#define GUARD_BYTES       (16 * 1024)      /* at least a page */
#define SLAB_FIRST_SLOTS  16
#define SLAB_MAX_SLOTS    1024
#define SLAB_MAX_BYTES    ((size_t)256 << 20)
#define ALTSTACK_BYTES    (64 * 1024)
#define FUT__STACK_REGISTRY 4096

struct fut__stack_slab {
    struct fut__stack_slab *next;   /* older slab; in the cache: the next
                                       cached one (guarded by cache_mu) */
    char *base;                     /* the mapping */
    size_t len;                     /* its length: nslots * stride */
    size_t stride;                  /* guard + stack: its allocator's */
    size_t stack_size;              /* its allocator's */
    size_t nslots;                  /* len / stride */
    size_t ncarved;                 /* slots ever carved (set when retired;
                                       slabs[0] counts by s->carve) */
    size_t npop;                    /* slots with the top page populated, in
                                       the cache (>= ncarved) */
    size_t nguarded;                /* carved slots with a guard */
    size_t mprotect_guards;         /* guards made by mprotect here (budget) */
    int reg;                        /* registry slot; -1: not registered */
    bool guarded;                   /* every slot's guard installed at mapping
                                       time (process_madvise) */
};

/* ---------------------------------------------------------------------
 * Process-wide: page size, guard kind, mprotect budget
 * ------------------------------------------------------------------- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static size_t page_size;                  /* set once */
static atomic_int guard_kind;             /* enum fut__guard_kind; set once,
                                             or by tests */
static long mprotect_limit;               /* set once: guards allowed */
static atomic_long mprotect_used;         /* mprotect guards alive */
static atomic_bool no_batch;              /* process_madvise failed once: use
                                             one madvise per stack */
static atomic_bool no_populate;           /* process_madvise(MADV_POPULATE_WRITE)
                                             refused once: let pages fault */

/* The process's cache of retired slabs (see fut__stacks_destroy). */
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fut__stack_slab *cache_head;   /* guarded by cache_mu */
static size_t cache_carved;                  /* their carved slots; cache_mu */
static size_t cache_nslabs;                  /* cache_mu */
#define CACHE_MAX_SLABS 16

/* Does a guard installed at p (one page) fault?  A kernel copying from it
 * must fail with EFAULT; an emulator ignoring the madvise lets it pass. */
static bool guard_faults(const void *p)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return true;    /* cannot tell; trust the kernel that said yes */
    ssize_t w = write(fds[1], p, 1);
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    return w < 0 && e == EFAULT;
}

static void detect(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    page_size = pg > 0 ? (size_t)pg : 4096;

    long maps = 65530;   /* the kernel's default, if /proc is unreadable */
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f != NULL) {
        long v;
        if (fscanf(f, "%ld", &v) == 1 && v > 0)
            maps = v;
        fclose(f);
    }
    /* A quarter of the map budget; each mprotect guard costs two. */
    mprotect_limit = maps / 4 / 2;

    int kind = FUT__GUARD_MPROTECT;
    char *p = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
        if (madvise(p, page_size, MADV_GUARD_INSTALL) == 0 && guard_faults(p))
            kind = FUT__GUARD_MADVISE;
        munmap(p, 2 * page_size);
    }
    atomic_store_explicit(&guard_kind, kind, memory_order_relaxed);
}

enum fut__guard_kind fut__stacks_guard_kind(void)
{
    pthread_once(&once, detect);
    return (enum fut__guard_kind)atomic_load_explicit(&guard_kind, memory_order_relaxed);
}

void fut__stacks_set_guard_kind(enum fut__guard_kind k)
{
    pthread_once(&once, detect);
    atomic_store_explicit(&guard_kind, (int)k, memory_order_relaxed);
}

/* ---------------------------------------------------------------------
 * The slab registry, read by the SIGSEGV handler
 *
 * A slot is claimed by CAS on `used`, filled, then published by a release
 * store of `lo`; it is retired by storing lo = 0 first.  The handler reads
 * lo (acquire), the rest, then lo again, and ignores the slot if lo
 * changed.  All fields are atomic so that a handler on another thread reads
 * no torn values.
 * ------------------------------------------------------------------- */

struct reg_slot {
    atomic_int used;             /* 0 free, 1 claimed */
    atomic_uintptr_t lo;         /* slab base; 0: not published */
    atomic_uintptr_t hi;         /* slab end */
    atomic_size_t stride;        /* slot size */
    atomic_size_t guard;         /* guard bytes at the bottom of each slot */
    atomic_size_t stack_size;    /* for the message */
};

static struct reg_slot registry[FUT__STACK_REGISTRY];
static atomic_int registry_top;  /* slots ever claimed: the handler scans [0, top) */

static int registry_add(const struct fut__stacks *s, const struct fut__stack_slab *sl)
{
    for (int i = 0; i < FUT__STACK_REGISTRY; i++) {
        struct reg_slot *r = &registry[i];
        int zero = 0;
        if (atomic_load_explicit(&r->used, memory_order_relaxed) != 0 ||
            !atomic_compare_exchange_strong(&r->used, &zero, 1))
            continue;
        atomic_store_explicit(&r->hi, (uintptr_t)sl->base + sl->len, memory_order_relaxed);
        atomic_store_explicit(&r->stride, s->stride, memory_order_relaxed);
        atomic_store_explicit(&r->guard, s->guard_size, memory_order_relaxed);
        atomic_store_explicit(&r->stack_size, s->stack_size, memory_order_relaxed);
        /* release: pairs with the handler's acquire load of lo */
        atomic_store_explicit(&r->lo, (uintptr_t)sl->base, memory_order_release);
        int top = atomic_load_explicit(&registry_top, memory_order_relaxed);
        while (top < i + 1 &&
               !atomic_compare_exchange_weak_explicit(&registry_top, &top, i + 1,
                                                      memory_order_release,
                                                      memory_order_relaxed)) {
        }
        return i;
    }
    return -1;
}

static void registry_remove(int i)
{
    if (i < 0)
        return;
    atomic_store_explicit(&registry[i].lo, 0, memory_order_release);
    atomic_store_explicit(&registry[i].used, 0, memory_order_release);
}

/* Is a inside a guard region of a registered slab?  Async-signal-safe. */
static bool guard_hit(uintptr_t a, size_t *stack_size)
{
    int top = atomic_load_explicit(&registry_top, memory_order_acquire);
    for (int i = 0; i < top; i++) {
        struct reg_slot *r = &registry[i];
        uintptr_t lo = atomic_load_explicit(&r->lo, memory_order_acquire);
        if (lo == 0 || a < lo)
            continue;
        uintptr_t hi = atomic_load_explicit(&r->hi, memory_order_relaxed);
        size_t stride = atomic_load_explicit(&r->stride, memory_order_relaxed);
        size_t guard = atomic_load_explicit(&r->guard, memory_order_relaxed);
        size_t ssz = atomic_load_explicit(&r->stack_size, memory_order_relaxed);
        if (atomic_load_explicit(&r->lo, memory_order_acquire) != lo)
            continue;   /* retired or reused meanwhile */
        if (a >= hi || stride == 0)
            continue;
        if ((a - lo) % stride < guard) {
            *stack_size = ssz;
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------------
 * The overflow reporter
 * ------------------------------------------------------------------- */

static atomic_bool reporter;     /* installed by us */

static void put_str(char **p, const char *s)
{
    while (*s)
        *(*p)++ = *s++;
}

static void on_segv(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    /* SA_RESETHAND has already put SIG_DFL back. */
    size_t ssz;
    if (si != NULL && si->si_code > 0 && guard_hit((uintptr_t)si->si_addr, &ssz)) {
        char buf[160], num[24], *p = buf;
        int n = 0;
        do {
            num[n++] = (char)('0' + ssz % 10);
            ssz /= 10;
        } while (ssz != 0);
        put_str(&p, "libfutures: coroutine stack overflow (stack_size = ");
        while (n > 0)
            *p++ = num[--n];
        put_str(&p, " bytes); raise fut_loop_opts.stack_size\n");
        ssize_t w = write(STDERR_FILENO, buf, (size_t)(p - buf));
        (void)w;
    }
    /* A fault repeats when we return, now fatal; a SIGSEGV sent by kill()
     * or sigqueue() would not, so send it again (delivered, with the
     * default action, once the handler returns). */
    if (si == NULL || si->si_code <= 0)
        raise(sig);
}

static void reporter_install(void)
{
    struct sigaction old;
    if (sigaction(SIGSEGV, NULL, &old) != 0)
        return;
    if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL)
        return;    /* someone else's (or ours already): leave it */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) == 0)
        atomic_store_explicit(&reporter, true, memory_order_relaxed);
}

bool fut__stacks_reporter_installed(void)
{
    struct sigaction cur;
    if (!atomic_load_explicit(&reporter, memory_order_relaxed) ||
        sigaction(SIGSEGV, NULL, &cur) != 0)
        return false;
    return (cur.sa_flags & SA_SIGINFO) != 0 && cur.sa_sigaction == on_segv;
}

/* ---------------------------------------------------------------------
 * Alternate signal stack of the loop thread
 * ------------------------------------------------------------------- */

/* Per thread, in struct fut__thread: alt_refs (nesting of thread_init),
 * alt_mine (the stack we installed, or NULL) and alt_len. */

int fut__stacks_thread_init(void)
{
    struct fut__thread *t = fut__self();
    if (t->alt_refs > 0) {
        t->alt_refs++;
        return 0;
    }
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0)
        return errno;
    if ((cur.ss_flags & SS_DISABLE) == 0) {
        t->alt_refs = 1;      /* the thread has one: use it */
        t->alt_mine = NULL;
        return 0;
    }
    size_t len = ALTSTACK_BYTES;
#ifdef _SC_SIGSTKSZ
    long want = sysconf(_SC_SIGSTKSZ);
    if (want > 0 && (size_t)want > len)
        len = (size_t)want;
#endif
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED)
        return ENOMEM;
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = p;
    ss.ss_size = len;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        int e = errno;
        munmap(p, len);
        return e;
    }
    t->alt_refs = 1;
    t->alt_mine = p;
    t->alt_len = len;
    return 0;
}

void fut__stacks_thread_fini(void)
{
    struct fut__thread *t = fut__self();
    if (t->alt_refs == 0 || --t->alt_refs > 0)
        return;
    if (t->alt_mine == NULL)
        return;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == t->alt_mine) {
        if (cur.ss_flags & SS_ONSTACK)
            return;        /* cannot happen outside a handler; keep it */
        stack_t off;
        memset(&off, 0, sizeof off);
        off.ss_flags = SS_DISABLE;
        sigaltstack(&off, NULL);
    }
    /* Otherwise someone replaced it: ours is unused either way. */
    munmap(t->alt_mine, t->alt_len);
    t->alt_mine = NULL;
    t->alt_len = 0;
}

/* ---------------------------------------------------------------------
 * The allocator
 * ------------------------------------------------------------------- */

int fut__stacks_init(struct fut__stacks *s, size_t stack_size)
{
    if (s == NULL || stack_size == 0)
        return EINVAL;
    pthread_once(&once, detect);
    size_t pg = page_size;
    /* Absurd sizes would overflow the slot arithmetic below. */
    if (stack_size > SIZE_MAX / 4 - GUARD_BYTES - pg)
        return ENOMEM;          /* no address space that large */
    memset(s, 0, sizeof *s);
    s->stack_size = (stack_size + pg - 1) / pg * pg;
    s->guard_size = (GUARD_BYTES + pg - 1) / pg * pg;
    s->stride = s->guard_size + s->stack_size;
    s->next_slots = SLAB_FIRST_SLOTS;
    reporter_install();
    return 0;
}

/* process_madvise(2) of `advice` over iov[0..n) (n <= UIO_MAXIOV) on the
 * calling process.  Returns 0, or the errno of the refusal.  The pidfd is
 * opened per call, never cached: after a fork a cached one would name the
 * parent, and a program may close descriptors it does not know about. */
static int madvise_batch(struct iovec *iov, size_t n, int advice)
{
#if defined(SYS_pidfd_open) && defined(SYS_process_madvise)
    long pfd = syscall(SYS_pidfd_open, (long)getpid(), 0L);
    if (pfd < 0)
        return errno ? errno : ENOSYS;
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += iov[i].iov_len;
    long r = syscall(SYS_process_madvise, pfd, iov, (long)n, (long)advice, 0L);
    int e = r < 0 ? errno : (size_t)r == want ? 0 : EAGAIN;
    close((int)pfd);
    return e;
#else
    (void)iov;
    (void)n;
    (void)advice;
    return ENOSYS;
#endif
}

/* A refusal that will not change for this process: stop asking. */
static bool refused_for_good(int e)
{
    return e == EINVAL || e == ENOSYS || e == EPERM || e == EBADF || e == EMFILE ||
           e == ENFILE;
}

/* MADV_GUARD_INSTALL on the guard of every slot of a new slab in one
 * system call: process_madvise(2) on our own pidfd takes up to UIO_MAXIOV
 * (1024 = SLAB_MAX_SLOTS) ranges, and since Linux 6.13 accepts any advice
 * for the calling process.  One call instead of one per stack: 0.8 us per
 * guard instead of 6 us on the project VM, where system calls are dear.
 * False (nothing assumed installed) if the kernel refuses; slots then get
 * one madvise each when carved. */
static bool guards_batch(struct fut__stacks *s, struct fut__stack_slab *sl, size_t n)
{
    if (atomic_load_explicit(&no_batch, memory_order_relaxed) || n > SLAB_MAX_SLOTS)
        return false;
    struct iovec *iov = fut__malloc(n * sizeof *iov);   /* failing: per-stack madvise */
    if (iov == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        iov[i].iov_base = sl->base + i * s->stride;
        iov[i].iov_len = s->guard_size;
    }
    int e = madvise_batch(iov, n, MADV_GUARD_INSTALL);
    if (refused_for_good(e))
        atomic_store_explicit(&no_batch, true, memory_order_relaxed);
    free(iov);
    return e == 0;
}

/* Grows the free array to hold `need` stacks, so that put cannot fail. */
static int free_reserve(struct fut__stacks *s, size_t need)
{
    if (need <= s->free_cap)
        return 0;
    size_t cap = s->free_cap ? s->free_cap : 64;
    while (cap < need)
        cap *= 2;
    void **nf = fut__realloc(s->free, cap * sizeof *nf);
    if (nf == NULL)
        return ENOMEM;
    s->free = nf;
    s->free_cap = cap;
    return 0;
}

/* Makes sl the slab carved from, its first `carved` slots already handed
 * out once (a slab from the cache: they go on the free list, warm). */
static void slab_adopt(struct fut__stacks *s, struct fut__stack_slab *sl)
{
    sl->next = s->slabs;
    s->slabs = sl;
    /* Lowest address popped first: the LIFO gets them in slot order. */
    for (size_t i = sl->ncarved; i-- > 0;)
        s->free[s->nfree++] = sl->base + i * s->stride + s->guard_size;
    s->carved += sl->ncarved;
    s->guarded += sl->nguarded;
    s->adopted += sl->ncarved;
    s->carve = sl->base + sl->ncarved * s->stride;
    s->carve_left = sl->nslots - sl->ncarved;
    s->pop_end = sl->base + sl->npop * s->stride;
    s->nslabs++;
    s->mapped += sl->len;
}

static bool cache_put(struct fut__stack_slab *sl);
static void slab_unmap(struct fut__stack_slab *sl);

/* A retired slab of this allocator's geometry from the process's cache,
 * or NULL. */
static struct fut__stack_slab *cache_take(const struct fut__stacks *s)
{
    if (!s->cache)
        return NULL;
    pthread_mutex_lock(&cache_mu);
    struct fut__stack_slab **pp = &cache_head, *sl;
    while ((sl = *pp) != NULL &&
           (sl->stride != s->stride || sl->stack_size != s->stack_size))
        pp = &sl->next;
    if (sl != NULL) {
        *pp = sl->next;
        cache_carved -= sl->ncarved;
        cache_nslabs--;
    }
    pthread_mutex_unlock(&cache_mu);
    return sl;
}

/* Maps a new slab (or takes one from the cache) and makes it the one
 * carved from.  0 or ENOMEM. */
static int slab_new(struct fut__stacks *s)
{
    struct fut__stack_slab *sl = cache_take(s);
    if (sl != NULL) {
        if (free_reserve(s, s->carved + sl->nslots) != 0) {
            if (!cache_put(sl))               /* back where it was */
                slab_unmap(sl);
            return ENOMEM;
        }
        slab_adopt(s, sl);
        if (s->next_slots < sl->nslots * 2)
            s->next_slots = sl->nslots * 2 < SLAB_MAX_SLOTS ? sl->nslots * 2 : SLAB_MAX_SLOTS;
        return 0;
    }

    size_t n = s->next_slots;
    size_t most = SLAB_MAX_BYTES / s->stride;
    if (n > most)
        n = most > 0 ? most : 1;

    /* The free array must be able to hold every stack, so put cannot fail. */
    if (free_reserve(s, s->carved + n) != 0)
        return ENOMEM;

    sl = fut__malloc(sizeof *sl);
    if (sl == NULL)
        return ENOMEM;
    size_t len = n * s->stride;
    void *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) {
        free(sl);
        return ENOMEM;
    }
#ifdef MADV_NOHUGEPAGE
    /* One touched page must stay one page (whole mapping: no split). */
    madvise(base, len, MADV_NOHUGEPAGE);
#endif
    sl->base = base;
    sl->len = len;
    sl->stride = s->stride;
    sl->stack_size = s->stack_size;
    sl->nslots = n;
    sl->ncarved = 0;
    sl->npop = 0;
    sl->nguarded = 0;
    sl->mprotect_guards = 0;
    sl->guarded = atomic_load_explicit(&guard_kind, memory_order_relaxed) ==
                      FUT__GUARD_MADVISE && guards_batch(s, sl, n);
    sl->next = s->slabs;
    sl->reg = registry_add(s, sl);
    s->slabs = sl;
    s->carve = base;
    s->carve_left = n;
    s->pop_end = base;
    s->nslabs++;
    s->mapped += len;
    if (s->next_slots < SLAB_MAX_SLOTS)
        s->next_slots *= 2;
    return 0;
}

/* Installs the guard at the bottom of a slot; false if none could be. */
static bool guard_install(struct fut__stacks *s, char *slot)
{
    switch (atomic_load_explicit(&guard_kind, memory_order_relaxed)) {
    case FUT__GUARD_MADVISE:
        return madvise(slot, s->guard_size, MADV_GUARD_INSTALL) == 0;
    case FUT__GUARD_MPROTECT:
        if (atomic_fetch_add_explicit(&mprotect_used, 1, memory_order_relaxed) >= mprotect_limit)
            break;
        if (mprotect(slot, s->guard_size, PROT_NONE) == 0) {
            s->slabs->mprotect_guards++;
            return true;
        }
        break;
    default:
        return false;
    }
    atomic_fetch_sub_explicit(&mprotect_used, 1, memory_order_relaxed);
    return false;
}

int fut__stack_get(struct fut__stacks *s, struct fut__stack *out)
{
    char *lo;
    if (s->nfree == 0 && s->carve_left == 0) {
        int e = slab_new(s);           /* a cached slab comes with free stacks */
        if (e != 0)
            return e;
    }
    if (s->nfree > 0) {
        lo = s->free[--s->nfree];
    } else {
        char *slot = s->carve;
        s->carve += s->stride;
        s->carve_left--;
        s->carved++;
        if (s->slabs->guarded || guard_install(s, slot)) {
            s->guarded++;
            s->slabs->nguarded++;
        }
        lo = slot + s->guard_size;
    }
    s->live++;
    out->lo = lo;
    out->size = s->stack_size;
    return 0;
}

void fut__stack_put(struct fut__stacks *s, const struct fut__stack *st)
{
    assert(st->size == s->stack_size);
    assert(s->nfree < s->free_cap && s->live > 0);
    s->free[s->nfree++] = st->lo;
    s->live--;
}

/* MADV_POPULATE_WRITE on the top page of k never-used slots from `from`,
 * in one process_madvise call.  What the kernel does for each page is
 * what a first-touch fault does (allocate, zero, map), without a trap per
 * page.  False if nothing was populated. */
static bool populate_tops(struct fut__stacks *s, char *from, size_t k)
{
    struct iovec *iov = fut__malloc(k * sizeof *iov);
    if (iov == NULL)
        return false;
    for (size_t i = 0; i < k; i++) {
        iov[i].iov_base = from + (i + 1) * s->stride - page_size;
        iov[i].iov_len = page_size;
    }
    int e = madvise_batch(iov, k, MADV_POPULATE_WRITE);
    free(iov);
    if (refused_for_good(e))
        atomic_store_explicit(&no_populate, true, memory_order_relaxed);
    return e == 0;
}

void fut__stacks_expect(struct fut__stacks *s, size_t n)
{
    if (n <= s->nfree + 1 || atomic_load_explicit(&no_populate, memory_order_relaxed))
        return;
    /* (A slab from the cache comes with warm stacks on the free list.) */
    if (s->carve_left == 0 && (slab_new(s) != 0 || n <= s->nfree + 1))
        return;
    if (s->pop_end > s->carve)
        return;                          /* populated ones left: refill when used */
    /* Fresh slots the next gets will carve, but no more than there are
     * stacks in use now: the batch doubles while the coroutines stay alive
     * (a fan-out of sleepers, W3 and W5), and coroutines that end before
     * the next one starts (their stack comes back to the free list) never
     * make it populate pages that would not be used. */
    size_t want = n - s->nfree;
    if (want > s->live)
        want = s->live;
    if (want > s->carve_left)
        want = s->carve_left;
    if (want > SLAB_MAX_SLOTS)
        want = SLAB_MAX_SLOTS;
    if (want < 2)
        return;                          /* a fault costs no more than a call */
    if (populate_tops(s, s->carve, want)) {
        s->pop_end = s->carve + want * s->stride;
        s->populated += want;
    }
}

/* Reserves room in the process's cache for sl (false: full); the caller
 * then hands it over with cache_link, or gives the room back. */
static bool cache_reserve(const struct fut__stack_slab *sl)
{
    pthread_mutex_lock(&cache_mu);
    bool ok = cache_nslabs < CACHE_MAX_SLABS &&
              cache_carved + sl->ncarved <= FUT__STACK_CACHE;
    if (ok) {
        cache_carved += sl->ncarved;
        cache_nslabs++;
    }
    pthread_mutex_unlock(&cache_mu);
    return ok;
}

static void cache_link(struct fut__stack_slab *sl)
{
    pthread_mutex_lock(&cache_mu);
    sl->next = cache_head;
    cache_head = sl;
    pthread_mutex_unlock(&cache_mu);
}

/* Hands sl to the process's cache; false if the cache is full. */
static bool cache_put(struct fut__stack_slab *sl)
{
    if (!cache_reserve(sl))
        return false;
    cache_link(sl);
    return true;
}

static void slab_unmap(struct fut__stack_slab *sl)
{
    registry_remove(sl->reg);   /* before the range can be reused */
    munmap(sl->base, sl->len);
    if (sl->mprotect_guards > 0)
        atomic_fetch_sub_explicit(&mprotect_used, (long)sl->mprotect_guards,
                                  memory_order_relaxed);
    free(sl);
}

/* Gives back the pages of sl's carved stacks below their top page (a
 * cached stack keeps what a coroutine that only waits touches).  mincore
 * says which stacks went deeper: usually none, and then this is one call. */
static void trim_stacks(struct fut__stack_slab *sl)
{
    size_t pages = sl->len / page_size, per = sl->stride / page_size;
    size_t guard_pages = (sl->stride - sl->stack_size) / page_size;
    unsigned char *vec = fut__malloc(pages);
    bool known = vec != NULL && mincore(sl->base, sl->len, vec) == 0;
    size_t below = sl->stack_size / page_size - 1;        /* pages under the top */
    for (size_t i = 0; i < sl->ncarved && below > 0; i++) {
        char *lo = sl->base + i * sl->stride + (sl->stride - sl->stack_size);
        const unsigned char *v = vec + i * per + guard_pages;
        bool deep = !known;
        /* mincore's bytes are 0 or 1 (the low bit: resident), 8 at a time */
        size_t j = 0;
        for (; known && !deep && j + 8 <= below; j += 8) {
            uint64_t x;
            memcpy(&x, v + j, 8);
            deep = (x & 0x0101010101010101ull) != 0;
        }
        for (; known && !deep && j < below; j++)
            deep = (v[j] & 1) != 0;
        if (deep)
            madvise(lo, below * page_size, MADV_DONTNEED);
    }
    free(vec);
}

void fut__stacks_destroy(struct fut__stacks *s)
{
    struct fut__stack_slab *sl = s->slabs;
    /* Only an allocator whose stacks are all back may retire its slabs:
     * a cached stack must be unused.  Slabs split by mprotect guards cost
     * two mappings a stack and are not kept. */
    bool keep = s->cache && s->live == 0;
    while (sl != NULL) {
        struct fut__stack_slab *next = sl->next;
        if (sl == s->slabs) {
            sl->ncarved = (size_t)(s->carve - sl->base) / s->stride;
            char *pe = s->pop_end > s->carve ? s->pop_end : s->carve;
            sl->npop = (size_t)(pe - sl->base) / s->stride;
        } else {
            sl->ncarved = sl->npop = sl->nslots;
        }
        if (keep && sl->mprotect_guards == 0 && sl->ncarved > 0 &&
            sl->ncarved <= FUT__STACK_CACHE && cache_reserve(sl)) {
            trim_stacks(sl);            /* before any other loop can take it */
            cache_link(sl);
            sl = next;
            continue;
        }
        slab_unmap(sl);
        sl = next;
    }
    free(s->free);
    memset(s, 0, sizeof *s);
}
