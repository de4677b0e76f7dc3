/* SPDX-License-Identifier: MIT */
/*
 * echo_server.c - a TCP echo server on one loop: a coroutine per
 * connection, and a graceful shutdown on SIGINT or SIGTERM
 *
 *     echo_server [PORT]        PORT 0 or none: any free port (printed)
 *
 * One thread serves every connection: each has a coroutine that reads and
 * writes back until the peer closes; while one waits for its socket, the
 * loop runs the others.  The main coroutine waits for SIGINT or SIGTERM
 * with fut_signal_wait (the signals are blocked first, in main, so no
 * thread ever takes them the ordinary way), then stops accepting, gives
 * the open connections a moment to finish, and returns: the loop cancels
 * whatever is still running, and each connection's coroutine, woken with
 * ECANCELED, closes its socket.
 *
 * The same server with asyncio:
 *
 *     async def handle(reader, writer):
 *         while data := await reader.read(4096):
 *             writer.write(data); await writer.drain()
 *         writer.close()
 *     server = await asyncio.start_server(handle, "127.0.0.1", port)
 *     loop.add_signal_handler(signal.SIGTERM, stop.set); await stop.wait()
 *
 * Try it:  echo_server 7007 &  then  nc 127.0.0.1 7007  and  kill %1.
 */
#include <futures.h>

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_fd;
static long open_now, served, echoed;   /* touched by the loop's thread only */

/* One connection: echo until the peer closes, an error, or cancellation. */
static void *connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    open_now++;
    for (;;) {
        size_t got;
        int rc = fut_read(fd, buf, sizeof buf, &got, FUT_FOREVER);
        if (rc != 0 || got == 0)       /* error, ECANCELED, or end of file */
            break;
        if (fut_write(fd, buf, got, NULL, FUT_FOREVER) != 0)
            break;
        echoed += (long)got;
    }
    close(fd);
    open_now--;
    served++;
    return NULL;
}

static void *acceptor(void *unused)
{
    (void)unused;
    for (;;) {
        int fd;
        int rc = fut_accept(listen_fd, &fd, FUT_FOREVER);
        if (rc == ECANCELED)
            return NULL;               /* shutting down */
        if (rc == EMFILE || rc == ENFILE) {
            fut_sleep(100);            /* out of descriptors: serve what we have */
            continue;
        }
        if (rc != 0) {
            fprintf(stderr, "echo_server: accept: %s\n", strerror(rc));
            return NULL;
        }
        future_t *c = fut_spawn(connection, (void *)(intptr_t)fd);
        if (c)
            future_release(c);         /* runs on its own; the loop owns it */
        else
            close(fd);
    }
}

static void *server(void *arg)
{
    const sigset_t *stop_signals = arg;
    future_t *acc = fut_spawn(acceptor, NULL);
    if (!acc)
        return fut_raise(errno);
    int signo = 0;
    int rc = fut_signal_wait(stop_signals, &signo, FUT_FOREVER);
    printf("echo_server: %s: stopping (%ld connection%s open)\n",
           rc == 0 ? strsignal(signo) : strerror(rc), open_now, open_now == 1 ? "" : "s");
    future_cancel(acc);                /* no new connections */
    future_wait(acc, FUT_FOREVER);
    future_release(acc);
    for (int i = 0; i < 20 && open_now > 0; i++)
        fut_sleep(50);                 /* a second for the open ones to finish */
    return NULL;                       /* the loop cancels the rest */
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;

    /* Before any thread exists: the signals then stay blocked everywhere,
     * and only fut_signal_wait takes them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(listen_fd, 1024) != 0 || getsockname(listen_fd, (struct sockaddr *)&sa, &len)) {
        perror("echo_server: listen");
        return 1;
    }
    printf("echo_server: listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);

    int rc = fut_run(server, &stop_signals, NULL);
    close(listen_fd);
    printf("echo_server: served %ld connection%s, echoed %ld bytes\n", served,
           served == 1 ? "" : "s", echoed);
    return rc == 0 ? 0 : 1;
}
