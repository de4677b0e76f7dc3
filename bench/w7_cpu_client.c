/* SPDX-License-Identifier: MIT */
/*
 * W7 "both at once": the load generator for servers whose requests carry
 * CPU work (examples/echo_hash.c, bench/py/echo_hash.py; bench/w7_cpu.sh).
 *
 *   w7_cpu_client PORT CONNS WORK SECONDS [LABEL]   load: CONNS connections,
 *                                   each a closed loop of requests
 *                                   "WORK PAYLOAD\n" -> one hex line; counts
 *                                   the answers in SECONDS after 0.5 s of
 *                                   warm-up; checks each connection's first
 *                                   answer against its own computation
 *   w7_cpu_client --time WORK       prints the CPU time of one request's
 *                                   work here (ms), to size WORK
 *
 * One loop, one coroutine per connection: the client costs little next to
 * the work it asks for.  Prints "W7cpu LABEL req_per_s X req/s" and
 * "W7cpu LABEL ms_per_req X ms" (mean latency).
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <futures.h>
#include "bench.h"

#define PAYLOAD_LEN 32

static uint64_t fnv_rounds(const char *p, size_t n, long work)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (long r = 0; r < work; r++)
        for (size_t i = 0; i < n; i++) {
            h ^= (unsigned char)p[i];
            h *= 0x100000001b3u;
        }
    return h;
}

static int port;
static long conns, work;
static double seconds;
static uint64_t t_start, t_end;        /* the measured window */
static long counted, wrong, failed;
static double lat_sum;

static void *conn(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = fut_connect(fd, (struct sockaddr *)&sa, sizeof sa, 10000);
    char payload[PAYLOAD_LEN + 1];
    for (int i = 0; i < PAYLOAD_LEN; i++)
        payload[i] = (char)('a' + (id * 7 + i) % 26);
    payload[PAYLOAD_LEN] = '\0';
    char line[96];
    int n = snprintf(line, sizeof line, "%ld %s\n", work, payload);
    for (long k = 0; rc == 0; k++) {
        uint64_t t0 = now_ns();
        if (t0 >= t_end)
            break;
        rc = fut_write(fd, line, (size_t)n, NULL, 60000);
        char ans[64] = "";
        size_t have = 0, got;
        while (rc == 0 && !memchr(ans, '\n', have) &&
               (rc = fut_read(fd, ans + have, sizeof ans - 1 - have, &got, 60000)) == 0) {
            if (got == 0)
                rc = EPIPE;
            have += got;
        }
        if (rc)
            break;
        ans[have] = '\0';
        if (k == 0 && strtoull(ans, NULL, 16) != fnv_rounds(payload, PAYLOAD_LEN, work))
            wrong++;
        uint64_t t1 = now_ns();
        if (t0 >= t_start && t1 <= t_end) {
            counted++;
            lat_sum += (double)(t1 - t0) / 1e6;
        }
    }
    if (rc)
        failed++;
    close(fd);
    return NULL;
}

static void *run(void *unused)
{
    (void)unused;
    t_start = now_ns() + 500000000u;
    t_end = t_start + (uint64_t)(seconds * 1e9);
    future_t **f = calloc((size_t)conns, sizeof *f);
    for (long i = 0; i < conns; i++)
        f[i] = fut_spawn(conn, (void *)(intptr_t)i);
    future_gather(f, (size_t)conns, NULL, FUT_FOREVER);
    for (long i = 0; i < conns; i++)
        future_release(f[i]);
    free(f);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--time") == 0) {
        work = atol(argv[2]);
        char p[PAYLOAD_LEN + 1] = "abcdefghijklmnopqrstuvwxyzabcdef";
        volatile uint64_t sink = 0;
        int reps = 20;
        struct timespec a, b;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
        for (int i = 0; i < reps; i++)
            sink += fnv_rounds(p, PAYLOAD_LEN, work + (long)(sink & 1));
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
        double ms = ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
        printf("%.4f\n", ms / reps);
        return 0;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: w7_cpu_client PORT CONNS WORK SECONDS [LABEL] | --time WORK\n");
        return 2;
    }
    port = atoi(argv[1]);
    conns = atol(argv[2]);
    work = atol(argv[3]);
    seconds = atof(argv[4]);
    const char *label = argc > 5 ? argv[5] : "server";
    if (fut_run(run, NULL, NULL) != 0 || failed || wrong || counted == 0) {
        fprintf(stderr, "w7_cpu_client %s: %ld answered, %ld wrong, %ld connections failed\n",
                label, counted, wrong, failed);
        return 1;
    }
    report("W7cpu", label, "req_per_s", (double)counted / seconds, "req/s");
    report("W7cpu", label, "ms_per_req", lat_sum / (double)counted, "ms");
    return 0;
}
