// SPDX-License-Identifier: MIT
// oneTBB on BENCH.md's pool workloads, set up as ../shared/peers/src/
// w{1,2,6}_tbb.cc do (written here again): global_control limits TBB to T
// threads in all, and the submitting thread is one of them (it runs tasks
// inside task_group::wait()), so TBB has T threads where libfutures and
// GLib have T workers plus the submitter.  Results go to a vector touched
// before timing.
//
//   tbb w1 [N=1000000] [threads=ncpus] [rounds=1]   task_group run/wait
//   tbb w2 [N=2000] [iters=26000] [threads=ncpus]   speedup
//   tbb w6 [N=20000] [threads=ncpus]   task_arena::enqueue + std::promise
//                                      (the job runs on a TBB worker: the
//                                      comparable row), and task_group
//                                      run + wait (the caller may run the
//                                      job itself: an inline floor)
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <future>
#include <vector>
#include "bench.h"
#include "stats.h"

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "";
    char label[64];
    if (strcmp(w, "w1") == 0) {
        long n = arg_long(argc, argv, 2, 1000000);
        long nt = arg_long(argc, argv, 3, ncpus());
        long rounds = arg_long(argc, argv, 4, 1);
        CHECK(n > 0 && nt > 0 && rounds > 0, "usage: tbb w1 [N] [threads] [rounds]");
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, (size_t)nt);
        std::vector<long> res((size_t)n);
        std::vector<double> per((size_t)rounds);
        { tbb::task_group warm; warm.run([] {}); warm.wait(); }
        for (long r = 0; r < rounds; r++) {
            uint64_t t0 = now_ns();
            tbb::task_group tg;
            for (long i = 0; i < n; i++)
                tg.run([&res, i] { res[(size_t)i] = i + 1; });
            tg.wait();
            long sum = 0;
            for (long i = 0; i < n; i++)
                sum += res[(size_t)i];
            uint64_t t1 = now_ns();
            CHECK(sum == n * (n + 1) / 2, "sum");
            per[(size_t)r] = (double)(t1 - t0) / (double)n;
        }
        if (rounds > 1) {
            snprintf(label, sizeof label, "tbb-task_group-N%ld", n);
            double cold = per[0];
            report("W1-scale", label, "ns_per_task", bench_median(per.data() + 1, (size_t)rounds - 1), "ns");
            report("W1-scale", label, "cold_ns_per_task", cold, "ns");
        } else {
            report("W1", bench_label(label, sizeof label, "tbb-task_group", n, 1000000, nt, ncpus()),
                   "ns_per_task", per[0], "ns");
        }
    } else if (strcmp(w, "w2") == 0) {
        long n = arg_long(argc, argv, 2, 2000);
        long iters = arg_long(argc, argv, 3, 26000);
        long nt = arg_long(argc, argv, 4, ncpus());
        CHECK(n > 0 && iters > 0 && nt > 0, "usage: tbb w2 [N] [iters] [threads]");
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, (size_t)nt);
        uint64_t ref = 0;
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            ref += hash_kernel((uint64_t)i, iters);
        uint64_t t1 = now_ns();
        std::vector<uint64_t> res((size_t)n);
        { tbb::task_group warm; warm.run([] {}); warm.wait(); }
        uint64_t t2 = now_ns();
        tbb::task_group tg;
        for (long i = 0; i < n; i++)
            tg.run([&res, i, iters] { res[(size_t)i] = hash_kernel((uint64_t)i, iters); });
        tg.wait();
        uint64_t sum = 0;
        for (long i = 0; i < n; i++)
            sum += res[(size_t)i];
        uint64_t t3 = now_ns();
        CHECK(sum == ref, "sum");
        report("W2", bench_label(label, sizeof label, "tbb-task_group", n, 2000, nt, ncpus()),
               "speedup", (double)(t1 - t0) / (double)(t3 - t2), "x");
    } else if (strcmp(w, "w6") == 0) {
        long n = arg_long(argc, argv, 2, 20000);
        long nt = arg_long(argc, argv, 3, ncpus());
        CHECK(n > 0 && nt > 0, "usage: tbb w6 [N] [threads]");
        // nt workers for the arena + this external thread blocking in get()
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, (size_t)nt + 1);
        std::vector<uint64_t> lat((size_t)n);
        {
            tbb::task_arena arena((int)nt, 0);
            for (long i = -100; i < n; i++) {
                uint64_t t0 = now_ns();
                std::promise<long> p;
                std::future<long> f = p.get_future();
                arena.enqueue([&p, i] { p.set_value(i + 1); });
                long v = f.get();
                uint64_t t1 = now_ns();
                CHECK(v == i + 1, "value");
                if (i >= 0)
                    lat[(size_t)i] = t1 - t0;
            }
            bench_label(label, sizeof label, "tbb-arena-enqueue+future", n, 20000, nt, ncpus());
            report("W6", label, "median_rtt", percentile_us(lat.data(), (size_t)n, 50), "us");
            report("W6", label, "p99_rtt", percentile_us(lat.data(), (size_t)n, 99), "us");
        }
        {
            tbb::task_group tg;
            for (long i = -100; i < n; i++) {
                long v = 0;
                uint64_t t0 = now_ns();
                tg.run([&v, i] { v = i + 1; });
                tg.wait();
                uint64_t t1 = now_ns();
                CHECK(v == i + 1, "value");
                if (i >= 0)
                    lat[(size_t)i] = t1 - t0;
            }
            bench_label(label, sizeof label, "tbb-task_group-wait", n, 20000, nt, ncpus());
            report("W6", label, "median_rtt", percentile_us(lat.data(), (size_t)n, 50), "us");
            report("W6", label, "p99_rtt", percentile_us(lat.data(), (size_t)n, 99), "us");
        }
    } else {
        fprintf(stderr, "usage: tbb w1|w2|w6 [sizes]\n");
        return 2;
    }
    return 0;
}
