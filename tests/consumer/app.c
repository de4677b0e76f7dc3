/* SPDX-License-Identifier: MIT */
/*
 * app.c - a program built against an INSTALLED libfutures, the way a user
 * builds one (pkg-config or CMake's find_package), by scripts/check-install.sh.
 *
 *   app [VERSION]    runs a pool job and a coroutine; checks that the
 *                    library it runs against is the header's version and,
 *                    given VERSION (pkg-config --modversion, CMake's
 *                    libfutures_VERSION), that one too.  Exit 0 when all hold.
 */
#include <futures.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void *twice(void *a)
{
    return (void *)((uintptr_t)a * 2);
}

static void *co_main(void *a)
{
    future_t *f = fut_spawn(twice, a);
    void *v = NULL;
    int rc = future_get(f, &v);
    future_release(f);
    return rc == 0 ? v : fut_raise(rc);
}

int main(int argc, char **argv)
{
    int bad = 0;
    if (fut_version() != FUTURES_VERSION) {
        fprintf(stderr, "app: linked library %#x, header %#x\n", fut_version(),
                (unsigned)FUTURES_VERSION);
        bad = 1;
    }
    if (argc > 1 && strcmp(argv[1], fut_version_string()) != 0) {
        fprintf(stderr, "app: library %s, package says %s\n", fut_version_string(), argv[1]);
        bad = 1;
    }
    fut_pool_t *p = fut_pool_new(NULL);
    future_t *f = p ? fut_pool_submit(p, twice, (void *)21) : NULL;
    void *v = NULL;
    int rc = f ? future_get(f, &v) : -1;
    future_release(f);
    fut_pool_free(p);
    void *w = NULL;
    int rc2 = fut_run(co_main, (void *)4, &w);
    printf("app: libfutures %s: pool rc=%d value=%lu, loop rc=%d value=%lu\n",
           fut_version_string(), rc, (unsigned long)(uintptr_t)v, rc2,
           (unsigned long)(uintptr_t)w);
    return !bad && rc == 0 && (uintptr_t)v == 42 && rc2 == 0 && (uintptr_t)w == 8 ? 0 : 1;
}
