/* SPDX-License-Identifier: MIT */
/*
 * crawler.c - a thousand requests in flight at once from one thread, and
 * the replies gathered (the shape of an asyncio crawler)
 *
 *     crawler [N]             default: 1000 connections at once
 *
 * A small "web server" runs on a thread of its own (its own loop): it
 * answers "GET /n" with a page of a few hundred bytes, after 100 ms, like
 * a slow site.  The crawler, on the main thread, spawns one coroutine per
 * page; each connects, sends its request, reads the whole reply and
 * returns its size.  future_gather collects all N.  Since every request
 * waits on the network, all N are in flight together: the run takes about
 * one slow reply, not N of them, and the program says how many connections
 * were open at the same moment.
 *
 * The same with asyncio:
 *
 *     async def fetch(n):
 *         reader, writer = await asyncio.open_connection("127.0.0.1", port)
 *         writer.write(b"GET /%d\n" % n); return len(await reader.read())
 *     sizes = await asyncio.gather(*(fetch(n) for n in range(N)))
 *
 * Both ends of every connection are in this process: it raises its limit
 * of open descriptors (RLIMIT_NOFILE) as far as the hard limit allows,
 * and crawls fewer pages at once if that is not enough.
 */
#include <futures.h>

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOW_MS 100

static struct sockaddr_in site;        /* the server's address */
static int site_fd;
static long open_now, open_max;        /* crawler's loop thread only */

/* ---- the slow site (its own loop, on its own thread) --------------- */

static void *page(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[64];
    size_t got = 0;
    int n = -1;
    while (got < sizeof req - 1) {     /* one line: "GET /n\n" */
        size_t k;
        if (fut_read(fd, req + got, sizeof req - 1 - got, &k, 5000) != 0 || k == 0)
            break;
        got += k;
        req[got] = '\0';
        if (strchr(req, '\n')) {
            sscanf(req, "GET /%d", &n);
            break;
        }
    }
    if (n >= 0 && fut_sleep(SLOW_MS) == 0) {
        char body[512];
        int len = snprintf(body, sizeof body, "page %d: ", n);
        for (; len < 200 + n % 100; len++)   /* 200 to 299 bytes */
            body[len] = (char)('a' + (n + len) % 26);
        fut_write(fd, body, (size_t)len, NULL, 5000);
    }
    close(fd);
    return NULL;
}

static void *site_accept(void *unused)
{
    (void)unused;
    for (;;) {
        int fd;
        int rc = fut_accept(site_fd, &fd, FUT_FOREVER);
        if (rc == EMFILE || rc == ENFILE) {
            fut_sleep(10);
            continue;
        }
        if (rc != 0)
            return NULL;               /* ECANCELED: the site is closing */
        future_t *f = fut_spawn(page, (void *)(intptr_t)fd);
        if (f)
            future_release(f);
        else
            close(fd);
    }
}

static future_t *site_stop;            /* a promise: resolved to close the site */

static void *site_main(void *unused)
{
    (void)unused;
    future_t *acc = fut_spawn(site_accept, NULL);
    future_wait(site_stop, FUT_FOREVER);
    future_release(acc);
    return NULL;                       /* the loop cancels the acceptor */
}

static void *site_thread(void *unused)
{
    (void)unused;
    fut_run(site_main, NULL, NULL);
    return NULL;
}

/* ---- the crawler ---------------------------------------------------- */

/* One page: connect, ask, read the reply to its end; returns its size. */
static void *fetch(void *arg)
{
    int n = (int)(intptr_t)arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fut_raise(errno);
    int rc = fut_connect(fd, (struct sockaddr *)&site, sizeof site, 10000);
    open_now++;
    if (open_now > open_max)
        open_max = open_now;
    char buf[512];
    size_t total = 0, got = 0;
    if (rc == 0) {
        char req[32];
        rc = fut_write(fd, req, (size_t)snprintf(req, sizeof req, "GET /%d\n", n), NULL, 10000);
    }
    while (rc == 0 && (rc = fut_read(fd, buf, sizeof buf, &got, 10000)) == 0 && got > 0)
        total += got;                  /* until the site closes: end of file */
    open_now--;
    close(fd);
    return rc ? fut_raise(rc) : (void *)(uintptr_t)total;
}

static void *crawl(void *arg)
{
    size_t n = (size_t)(uintptr_t)arg;
    future_t **pages = calloc(n, sizeof *pages);
    void **sizes = calloc(n, sizeof *sizes);
    for (size_t i = 0; i < n; i++)
        pages[i] = fut_spawn(fetch, (void *)(uintptr_t)i);
    int rc = future_gather(pages, n, sizes, FUT_FOREVER);   /* all of them */
    size_t ok = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (future_state(pages[i]) == FUTURE_DONE) {
            ok++;
            bytes += (size_t)(uintptr_t)sizes[i];
        }
        future_release(pages[i]);
    }
    printf("crawler: %zu pages, %zu ok, %zu bytes; %ld connections open at once at most\n",
           n, ok, bytes, open_max);
    if (rc)
        printf("crawler: first failure: %s\n", strerror(rc));
    free(pages);
    free(sizes);
    return rc ? fut_raise(rc) : NULL;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    if (n < 1)
        n = 1;
    /* Two descriptors per page (both ends are here), plus a few. */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)(2 * n + 32)) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)(2 * n + 32)) {
            n = ((long)rl.rlim_cur - 32) / 2;
            printf("crawler: only %ld descriptors allowed: %ld pages at once\n",
                   (long)rl.rlim_cur, n);
        }
    }

    site_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    site = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof site;
    if (site_fd < 0 || bind(site_fd, (struct sockaddr *)&site, sizeof site) != 0 ||
        listen(site_fd, 4096) != 0 || getsockname(site_fd, (struct sockaddr *)&site, &len)) {
        perror("crawler: listen");
        return 1;
    }
    site_stop = future_new();
    pthread_t t;
    if (!site_stop || pthread_create(&t, NULL, site_thread, NULL) != 0) {
        perror("crawler: site");
        return 1;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = fut_run(crawl, (void *)(uintptr_t)n, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("crawler: %.0f ms in all; each reply takes %d ms\n", ms, SLOW_MS);

    future_resolve(site_stop, NULL);   /* from this thread to the site's loop */
    pthread_join(t, NULL);
    future_release(site_stop);
    close(site_fd);
    return rc == 0 ? 0 : 1;
}
