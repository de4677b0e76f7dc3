/* SPDX-License-Identifier: MIT */
/*
 * checksum.c - CRC-32 of many files at once on the thread pool
 *
 * A real-world use of the pool: each file is one job that reads the file
 * and computes its CRC-32 (the IEEE polynomial of zlib, gzip and PNG: the
 * same value as Python's zlib.crc32).  Reading and hashing overlap across
 * the threads, and the results are printed in the order of the arguments,
 * whatever order the jobs finished in.  A file that cannot be read fails
 * its own job only (fut_raise), and the error reaches future_get.
 *
 *     checksum [-j THREADS] [FILE...]
 *
 * With no FILE it checksums the library's own sources (run it from the
 * repository root).  -j 0, the default, is one thread per online CPU.
 *
 *     make examples && build/examples/checksum
 *     build/examples/checksum -j 4 /usr/bin/g*
 */
#include <futures.h>

#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------------
 * CRC-32, reflected, polynomial 0xEDB88320, one table lookup per byte
 * ------------------------------------------------------------------- */

static uint32_t crc_table[256];              /* filled once, before any job */

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---------------------------------------------------------------------
 * One file, one job
 * ------------------------------------------------------------------- */

struct sum {
    const char *path;                        /* in: the file */
    uint32_t crc;                            /* out */
    unsigned long long bytes;                /* out */
};

/* The job: fills s->crc and s->bytes, or fails with the errno of the
 * failing call. */
static void *checksum_file(void *arg)
{
    struct sum *s = arg;
    FILE *f = fopen(s->path, "rb");
    if (!f)
        return fut_raise(errno);
    static _Thread_local unsigned char buf[1 << 16];   /* one per cook */
    uint32_t crc = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        crc = crc_update(crc, buf, n);
        s->bytes += n;
    }
    int err = ferror(f) ? EIO : 0;
    fclose(f);
    if (err)
        return fut_raise(err);
    s->crc = crc;
    return s;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    size_t threads = 0;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "-j") == 0) {
        threads = strtoul(argv[2], NULL, 10);
        first = 3;
    }

    /* The files: the arguments, or the library's own sources. */
    glob_t g = {0};
    char **paths = argv + first;
    size_t n = (size_t)(argc - first);
    if (n == 0) {
        static const char *patterns[] = {"include/*.h", "lib/*.[ch]", "lib/coro/*.[chS]",
                                         "examples/*.[ch]", "tests/*.[ch]"};
        for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++)
            glob(patterns[i], i ? GLOB_APPEND : 0, NULL, &g);
        paths = g.gl_pathv;
        n = g.gl_pathc;
        if (n == 0) {
            fprintf(stderr, "checksum: no FILE given and no sources here "
                            "(run it from the repository root)\n");
            return 2;
        }
    }

    crc_init();
    fut_pool_t *pool = fut_pool_new(&(fut_pool_opts){.threads = threads, .name = "crc"});
    struct sum *sums = calloc(n, sizeof *sums);
    future_t **jobs = calloc(n, sizeof *jobs);
    if (!pool || !sums || !jobs) {
        perror("checksum");
        fut_pool_free(pool);
        free(sums);
        free(jobs);
        return 1;
    }

    /* Submit every file, then gather them all with one wait. */
    double t0 = now_ms();
    size_t submitted = 0;
    for (; submitted < n; submitted++) {
        sums[submitted].path = paths[submitted];
        jobs[submitted] = fut_pool_submit(pool, checksum_file, &sums[submitted]);
        if (!jobs[submitted])
            break;
        future_set_name(jobs[submitted], paths[submitted]);
    }
    future_gather(jobs, submitted, NULL, FUT_FOREVER);
    double ms = now_ms() - t0;

    /* Results in argument order; each job's own outcome from future_get. */
    int failed = 0;
    unsigned long long total = 0;
    for (size_t i = 0; i < submitted; i++) {
        int rc = future_get(jobs[i], NULL);
        if (rc == 0) {
            printf("%08x  %10llu  %s\n", (unsigned)sums[i].crc, sums[i].bytes, sums[i].path);
            total += sums[i].bytes;
        } else {
            fprintf(stderr, "checksum: %s: %s\n", sums[i].path, strerror(rc));
            failed++;
        }
        future_release(jobs[i]);
    }
    fprintf(stderr, "%zu files, %llu bytes in %.1f ms on %zu threads (%d failed)\n",
            submitted, total, ms, fut_pool_threads(pool), failed);

    fut_pool_free(pool);
    free(jobs);
    free(sums);
    globfree(&g);
    return failed || submitted < n ? 1 : 0;
}
