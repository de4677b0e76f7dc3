/* SPDX-License-Identifier: MIT */
/*
 * echo_hash.c - both at once: a server on one loop whose requests carry CPU
 * work, which it hands to a thread pool, so the loop keeps serving while
 * the cores compute
 *
 *     echo_hash [THREADS [CLIENTS [REQUESTS [WORK]]]]
 *                                  a demonstration: the server and its
 *                                  clients in one process (defaults 2 16 40 10000)
 *     echo_hash --serve PORT THREADS [LIFETIME_S]
 *                                  the server alone (bench/w7_cpu.sh drives it)
 *
 * The protocol is one line per request, "WORK PAYLOAD\n", answered by one
 * line: the 64-bit FNV-1a hash of PAYLOAD, iterated WORK times over it, in
 * 16 hex digits.  Hashing is CPU work: done in the coroutine, it would hold
 * the loop and every other connection would wait.  So each connection's
 * coroutine submits it to the pool and waits for that future: only that
 * coroutine is suspended; the loop goes on reading, writing and accepting
 * for the others while the pool's threads (one per core) compute.
 * Concurrency for the waiting, parallelism for the work.
 *
 * The same with asyncio (bench/py/echo_hash.py):
 *
 *     h = await loop.run_in_executor(pool, fnv_rounds, payload, work)
 *
 * where the pool is a ThreadPoolExecutor (the GIL lets one thread hash at
 * a time) or a ProcessPoolExecutor (every request pickled to a process).
 *
 * The demonstration runs the clients on a second thread with its own loop;
 * each client checks every answer against its own computation.
 */
#include <futures.h>

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

/* ---- the server ----------------------------------------------------- */

static fut_pool_t *pool;
static int listen_fd;

struct request {
    char line[512];                    /* "WORK PAYLOAD" */
    uint64_t hash;
};

/* A pool job: the CPU work, off the loop's thread. */
static void *hash_job(void *arg)
{
    struct request *r = arg;
    long rounds = 0;
    char payload[512];
    if (sscanf(r->line, "%ld %511s", &rounds, payload) != 2 || rounds < 0)
        return fut_raise(EINVAL);
    r->hash = fnv_rounds(payload, strlen(payload), rounds);
    return r;
}

/* One connection: read lines, have each hashed by the pool, answer. */
static void *connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct request req;
    char in[4096] = "";
    size_t have = 0;
    for (;;) {
        char *nl = memchr(in, '\n', have);
        if (!nl) {
            size_t got;
            if (have == sizeof in ||
                fut_read(fd, in + have, sizeof in - have, &got, FUT_FOREVER) != 0 || got == 0)
                break;
            have += got;
            continue;
        }
        size_t len = (size_t)(nl - in);
        snprintf(req.line, sizeof req.line, "%.*s", (int)len, in);
        memmove(in, nl + 1, have - len - 1);
        have -= len + 1;

        future_t *f = fut_pool_submit(pool, hash_job, &req);   /* the cores work ... */
        int rc = future_get(f, NULL);                          /* ... this coroutine waits */
        future_release(f);
        char out[32];
        int n = rc == 0 ? snprintf(out, sizeof out, "%016" PRIx64 "\n", req.hash)
                        : snprintf(out, sizeof out, "error %d\n", rc);
        if (rc == ECANCELED || fut_write(fd, out, (size_t)n, NULL, FUT_FOREVER) != 0)
            break;
    }
    close(fd);
    return NULL;
}

static void *acceptor(void *unused)
{
    (void)unused;
    for (;;) {
        int fd;
        int rc = fut_accept(listen_fd, &fd, FUT_FOREVER);
        if (rc == EMFILE || rc == ENFILE) {
            fut_sleep(10);
            continue;
        }
        if (rc != 0)
            return NULL;               /* ECANCELED: stopping */
        future_t *c = fut_spawn(connection, (void *)(intptr_t)fd);
        if (c)
            future_release(c);
        else
            close(fd);
    }
}

/* Serves until `stop` (a promise) completes, or for `life_ms` if > 0. */
struct serve {
    future_t *stop;
    long life_ms;
};

static void *server(void *arg)
{
    struct serve *sv = arg;
    future_t *acc = fut_spawn(acceptor, NULL);
    if (sv->life_ms > 0)
        fut_sleep(sv->life_ms);
    else
        future_wait(sv->stop, FUT_FOREVER);
    future_release(acc);
    return NULL;                       /* the loop cancels the connections */
}

static int listen_on(int port)
{
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(listen_fd, 4096) != 0 || getsockname(listen_fd, (struct sockaddr *)&sa, &len))
        return -1;
    return ntohs(sa.sin_port);
}

/* ---- the demonstration's clients (a loop on another thread) --------- */

static int port_used;
static long n_clients, n_requests, work;
static long answered, wrong;           /* the clients' loop thread only */

static void *client(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port_used),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = fut_connect(fd, (struct sockaddr *)&sa, sizeof sa, 10000);
    for (long r = 0; rc == 0 && r < n_requests; r++) {
        char payload[64], line[128], ans[64] = "";
        snprintf(payload, sizeof payload, "client%d-request%ld-%08lx", id, r,
                 (unsigned long)(r * 2654435761u));
        int n = snprintf(line, sizeof line, "%ld %s\n", work, payload);
        rc = fut_write(fd, line, (size_t)n, NULL, 30000);
        size_t have = 0, got;
        while (rc == 0 && !memchr(ans, '\n', have) &&
               (rc = fut_read(fd, ans + have, sizeof ans - 1 - have, &got, 30000)) == 0 && got)
            have += got;
        if (rc)
            break;
        ans[have] = '\0';
        uint64_t want = fnv_rounds(payload, strlen(payload), work);
        if (strtoull(ans, NULL, 16) == want)
            answered++;
        else
            wrong++;
    }
    close(fd);
    return rc ? fut_raise(rc) : NULL;
}

static void *clients(void *unused)
{
    (void)unused;
    future_t **c = calloc((size_t)n_clients, sizeof *c);
    for (long i = 0; i < n_clients; i++)
        c[i] = fut_spawn(client, (void *)(intptr_t)i);
    int rc = future_gather(c, (size_t)n_clients, NULL, FUT_FOREVER);
    for (long i = 0; i < n_clients; i++)
        future_release(c[i]);
    free(c);
    return rc ? fut_raise(rc) : NULL;
}

static future_t *clients_done;         /* resolved by the clients' thread */

static void *clients_thread(void *unused)
{
    (void)unused;
    int rc = fut_run(clients, NULL, NULL);
    future_resolve(clients_done, (void *)(intptr_t)rc);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct serve sv = {NULL, 0};
    long threads;
    bool serve_only = argc > 1 && strcmp(argv[1], "--serve") == 0;
    if (serve_only) {
        if (argc < 4) {
            fprintf(stderr, "usage: echo_hash --serve PORT THREADS [LIFETIME_S]\n");
            return 2;
        }
        threads = atol(argv[3]);
        sv.life_ms = argc > 4 ? (long)(atof(argv[4]) * 1000) : 0;
        port_used = listen_on(atoi(argv[2]));
    } else {
        threads = argc > 1 ? atol(argv[1]) : 2;
        n_clients = argc > 2 ? atol(argv[2]) : 16;
        n_requests = argc > 3 ? atol(argv[3]) : 40;
        work = argc > 4 ? atol(argv[4]) : 10000;
        if (n_clients < 1 || n_requests < 1 || work < 0) {
            fprintf(stderr, "usage: echo_hash [THREADS [CLIENTS [REQUESTS [WORK]]]]\n");
            return 2;
        }
        port_used = listen_on(0);
    }
    if (threads < 1 || port_used < 0) {
        fprintf(stderr, "echo_hash: bad thread count, or cannot listen: %s\n", strerror(errno));
        return 2;
    }
    pool = fut_pool_new(&(fut_pool_opts){.threads = (size_t)threads, .name = "hash"});
    if (!pool) {
        perror("echo_hash: pool");
        return 1;
    }
    int rc;
    if (serve_only) {
        printf("listening %d\n", port_used);
        fflush(stdout);
        sv.stop = future_new();        /* never resolved: forever unless a lifetime */
        rc = fut_run(server, &sv, NULL);
        future_release(sv.stop);
    } else {
        /* The clients on a thread of their own; the server's loop here. */
        clients_done = future_new();
        sv.stop = clients_done;
        pthread_t t;
        double t0 = now_s();
        pthread_create(&t, NULL, clients_thread, NULL);
        rc = fut_run(server, &sv, NULL);
        pthread_join(t, NULL);
        double s = now_s() - t0;
        void *crc = NULL;
        future_get(clients_done, &crc);
        future_release(clients_done);
        if (rc == 0)
            rc = (int)(intptr_t)crc;
        printf("%ld clients x %ld requests of %ld rounds: %ld answers right, %ld wrong\n",
               n_clients, n_requests, work, answered, wrong);
        printf("%ld pool thread%s: %.0f requests/s\n", threads, threads == 1 ? "" : "s",
               (double)(answered + wrong) / s);
        if (wrong)
            rc = EIO;
    }
    close(listen_fd);
    fut_pool_free(pool);
    if (rc)
        printf("failed: %s\n", strerror(rc));
    return rc ? 1 : 0;
}
