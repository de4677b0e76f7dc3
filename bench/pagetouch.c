/* SPDX-License-Identifier: MIT */
/*
 * The floor under W3 and W5: what one fresh page costs on this machine, the
 * way a coroutine's stack top is laid out (N pages, one per 80 KiB slot: a
 * 64 KiB stack and its 16 KiB guard, MADV_NOHUGEPAGE), in a fresh mapping:
 *
 *   first_touch     one write per page: a page fault each
 *   populate_batch  process_madvise(MADV_POPULATE_WRITE) of all the pages
 *                   in one call (what lib/stack.c does for a fan-out of new
 *                   coroutines); no line where the kernel refuses it
 *
 *   pagetouch [N=1000]
 *
 * Prints: floor first_touch ns_per_page X ns / floor populate_batch ns_per_page X ns
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "bench.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static char *fresh(size_t len)
{
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    CHECK(p != MAP_FAILED, "mmap");
#ifdef MADV_NOHUGEPAGE
    madvise(p, len, MADV_NOHUGEPAGE);
#endif
    return p;
}

int main(int argc, char **argv)
{
    long n = arg_long(argc, argv, 1, 1000);
    CHECK(n > 0 && n <= 1024, "usage: pagetouch [N <= 1024]");
    const size_t stride = 80 * 1024, pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t len = (size_t)n * stride;
    char label[64];

    char *a = fresh(len);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        a[(size_t)(i + 1) * stride - 64] = 1;
    uint64_t t1 = now_ns();
    report("floor", bench_label(label, sizeof label, "first_touch", n, 1000, 0, 0),
           "ns_per_page", (double)(t1 - t0) / (double)n, "ns");
    munmap(a, len);

#if defined(SYS_pidfd_open) && defined(SYS_process_madvise)
    char *b = fresh(len);
    struct iovec *iov = malloc(sizeof *iov * (size_t)n);
    CHECK(iov != NULL, "malloc");
    for (long i = 0; i < n; i++) {
        iov[i].iov_base = b + (size_t)(i + 1) * stride - pg;
        iov[i].iov_len = pg;
    }
    t0 = now_ns();
    long pfd = syscall(SYS_pidfd_open, (long)getpid(), 0L);
    long r = pfd < 0 ? -1 : syscall(SYS_process_madvise, pfd, iov, n, (long)MADV_POPULATE_WRITE, 0L);
    t1 = now_ns();
    if (pfd >= 0)
        close((int)pfd);
    if (r == (long)((size_t)n * pg)) {
        for (long i = 0; i < n; i++)      /* now present: must be cheap */
            b[(size_t)(i + 1) * stride - 64] = 1;
        report("floor", bench_label(label, sizeof label, "populate_batch", n, 1000, 0, 0),
               "ns_per_page", (double)(t1 - t0) / (double)n, "ns");
    }
    free(iov);
    munmap(b, len);
#endif
    return 0;
}
