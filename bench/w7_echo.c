/* SPDX-License-Identifier: MIT */
/*
 * W7 echo server, libfutures (BENCH.md W7): one coroutine per connection.
 *
 *   w7_echo [--loops N] PORT [LIFETIME_S]
 *
 * Listens on 127.0.0.1:PORT (backlog 4096), sets TCP_NODELAY on each
 * connection, and echoes: fut_read into a 4 KiB buffer on the coroutine's
 * stack (the per-connection buffer Go's and the threads' servers have),
 * fut_write what came, until end of file or an error (the load generator
 * resets its connections when it exits: handled quietly).  Exits by itself
 * after LIFETIME_S seconds (> 0): the main coroutine returns, and the loop
 * cancels every connection's coroutine, which closes its socket.
 *
 * One loop on the main thread by default.  --loops N: N threads, each
 * running its own loop with its own listening socket on the same port
 * (SO_REUSEPORT: the kernel spreads the connections), as a server using
 * every core would (N = 0: one per CPU).
 *
 * Prints "listening PORT" once every listener is up.  Drive it with
 * ../shared/peers/w7 (run.sh, EXTRA_PEERS), as bench/w7.sh does.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <futures.h>

static int port;
static double lifetime_s;
static int nloops = 1;

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[4096];
    for (;;) {
        size_t got;
        if (fut_read(fd, buf, sizeof buf, &got, FUT_FOREVER) != 0 || got == 0)
            break;
        if (fut_write(fd, buf, got, NULL, FUT_FOREVER) != 0)
            break;
    }
    close(fd);
    return NULL;
}

static void *acceptor(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd;
        int rc = fut_accept(lfd, &fd, FUT_FOREVER);
        if (rc == ECANCELED)
            break;
        if (rc == EMFILE || rc == ENFILE || rc == ENOBUFS || rc == ENOMEM) {
            fut_sleep(10);             /* keep serving what we have */
            continue;
        }
        if (rc != 0) {
            fprintf(stderr, "w7_echo: accept: %s\n", strerror(rc));
            break;
        }
        future_t *f = fut_spawn(serve, (void *)(intptr_t)fd);
        if (!f) {
            close(fd);
            continue;
        }
        future_release(f);
    }
    return NULL;
}

static void *loop_main(void *arg)
{
    future_t *a = fut_spawn(acceptor, arg);
    if (!a)
        return fut_raise(errno);
    if (lifetime_s > 0)
        fut_sleep((long)(lifetime_s * 1000));
    else
        future_wait(a, FUT_FOREVER);
    future_release(a);
    return NULL;                       /* the loop cancels the rest */
}

static int listener(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (nloops > 1)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 4096) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *thread_main(void *arg)
{
    int rc = fut_run(loop_main, arg, NULL);
    if (rc)
        fprintf(stderr, "w7_echo: loop: %s\n", strerror(rc));
    return NULL;
}

int main(int argc, char **argv)
{
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--loops") == 0) {
        nloops = atoi(argv[i + 1]);
        if (nloops <= 0)
            nloops = (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (nloops <= 0)
            nloops = 1;
        i += 2;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: w7_echo [--loops N] PORT [LIFETIME_S]\n");
        return 2;
    }
    port = atoi(argv[i]);
    lifetime_s = i + 1 < argc ? atof(argv[i + 1]) : 0;

    int *lfds = calloc((size_t)nloops, sizeof *lfds);
    if (!lfds) {
        perror("w7_echo");
        return 1;
    }
    for (int k = 0; k < nloops; k++) {
        lfds[k] = listener();
        if (lfds[k] < 0) {
            fprintf(stderr, "w7_echo: listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
            free(lfds);
            return 1;
        }
    }
    printf("listening %d\n", port);
    fflush(stdout);
    if (nloops == 1) {
        thread_main((void *)(intptr_t)lfds[0]);
    } else {
        pthread_t *t = calloc((size_t)nloops, sizeof *t);
        for (int k = 0; k < nloops; k++)
            pthread_create(&t[k], NULL, thread_main, (void *)(intptr_t)lfds[k]);
        for (int k = 0; k < nloops; k++)
            pthread_join(t[k], NULL);
        free(t);
    }
    for (int k = 0; k < nloops; k++)
        close(lfds[k]);
    free(lfds);
    return 0;
}
