/* SPDX-License-Identifier: MIT */
/*
 * subprocess.c - several child processes at once, their output and exit
 * codes collected by one thread (asyncio.create_subprocess_exec's shape)
 *
 *     subprocess [N]          default: 4 children
 *
 * Child k runs `sh -c 'echo ...; sleep 0.k; echo ...; exit k'`, so they
 * finish in a staggered order, each after a different time.  One coroutine
 * per child starts it with its standard output on a pipe, reads that pipe
 * to its end with fut_read, and reaps the child with fut_waitpid (a pidfd:
 * no SIGCHLD handler, no polling).  They all wait at once on one thread;
 * the run takes about as long as the slowest child, not the sum.
 *
 * The same with asyncio:
 *
 *     async def run(k):
 *         p = await asyncio.create_subprocess_exec("sh", "-c", SCRIPT, "sh", str(k),
 *                                                  stdout=asyncio.subprocess.PIPE)
 *         out, _ = await p.communicate(); return p.returncode, out
 *     results = await asyncio.gather(*(run(k) for k in range(1, N + 1)))
 */
#include <futures.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *script =
    "echo \"child $1: started\"; sleep 0.$1; echo \"child $1: done after 0.$1 s\"; exit $1";

struct child {
    int k;
    char out[256];                     /* its standard output */
    size_t len;
    int status;                        /* as waitpid(2) sets it */
    double ms;                         /* how long it ran */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int finished;                   /* the loop's thread only */

static void *run_child(void *arg)
{
    struct child *c = arg;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return fut_raise(errno);
    char num[16];
    snprintf(num, sizeof num, "%d", c->k);
    char *argv[] = {"sh", "-c", (char *)script, "sh", num, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);   /* clears CLOEXEC */
    pid_t pid;
    double t0 = now_ms();
    int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);                       /* ours: the child has its copy */
    if (rc != 0) {
        close(p[0]);
        return fut_raise(rc);
    }
    /* Its output, to the end (the child closing the pipe) ... */
    size_t got;
    while ((rc = fut_read(p[0], c->out + c->len, sizeof c->out - 1 - c->len, &got,
                          FUT_FOREVER)) == 0 && got > 0)
        c->len += got;
    close(p[0]);
    /* ... then its exit code: a wait on its pidfd, which reaps it. */
    int wrc = fut_waitpid(pid, &c->status, FUT_FOREVER);
    c->ms = now_ms() - t0;
    if (rc == 0)
        rc = wrc;
    c->out[c->len] = '\0';
    printf("child %d finished %s (exit %d, %.0f ms)\n", c->k,
           ++finished == 1 ? "first" : "next", WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1,
           c->ms);
    return rc ? fut_raise(rc) : NULL;
}

static void *run_all(void *arg)
{
    int n = (int)(intptr_t)arg;
    struct child *c = calloc((size_t)n, sizeof *c);
    future_t **f = calloc((size_t)n, sizeof *f);
    /* Started in reverse, so the first started is the last to finish. */
    for (int i = 0; i < n; i++) {
        c[i].k = n - i;
        f[i] = fut_spawn(run_child, &c[i]);
    }
    int rc = future_gather(f, (size_t)n, NULL, FUT_FOREVER);
    for (int i = n - 1; i >= 0; i--) {
        printf("child %d: exit code %d; its output:\n%s", c[i].k,
               WIFEXITED(c[i].status) ? WEXITSTATUS(c[i].status) : -1, c[i].out);
        future_release(f[i]);
    }
    free(f);
    free(c);
    return rc ? fut_raise(rc) : NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    if (n < 1 || n > 9) {
        fprintf(stderr, "usage: subprocess [N]   (1 to 9 children)\n");
        return 2;
    }
    double t0 = now_ms();
    int rc = fut_run(run_all, (void *)(intptr_t)n, NULL);
    printf("%d children in %.0f ms on one thread (they slept %d00 ms in all)\n", n,
           now_ms() - t0, n * (n + 1) / 2);
    if (rc)
        printf("failed: %s\n", strerror(rc));
    return rc ? 1 : 0;
}
