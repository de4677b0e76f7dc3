// SPDX-License-Identifier: MIT
// Boost.Fiber (and the raw Boost.Context switch under it) on BENCH.md's
// cooperative workloads, set up as ../shared/peers/src/w{3,4,5}_bfiber.cc
// and w4_bctx.cc do (written here again): one thread, the default
// round_robin scheduler, fibers::async + fibers::future to gather.
// Stacks: fixedsize_stack of 16 KiB where many fibers live at once (W1,
// W5, timers): the default 128 KiB is malloc'ed above the mmap threshold,
// one mapping per fiber, and 100,000 fibers would pass vm.max_map_count.
//
//   bfiber w1 [N=100000] [rounds=1]   spawn N fibers (async, launch::post)
//                                     returning i + 1, get() each: the
//                                     counterpart of bench/w1_loop.c
//   bfiber w3 [N=1000] [ms=10]        N fibers each sleep_for(10 ms): wall
//   bfiber w4 [N=2000000]             two fibers yield() to each other
//   bfiber ctx [N=2000000]            raw boost::context::fiber resume():
//                                     the floor under any scheduler
//   bfiber w5 [N=100000] [ms=100] [stack=16384]
//   bfiber timers N [K=8] [max_ms=4]  as bench/timers.c: CPU per yield,
//                                     per sleep_for, their difference
#include <boost/context/fiber.hpp>
#include <boost/fiber/all.hpp>
#include <chrono>
#include <vector>
#include "bench.h"
#include "stats.h"

namespace bf = boost::fibers;
namespace ctx = boost::context;

static const long W1_DEFAULT = 100000;

static int w1(long n, long rounds)
{
    std::vector<double> per((size_t)rounds);
    std::vector<bf::future<long>> fs;
    fs.reserve((size_t)n);
    { bf::async(bf::launch::post, std::allocator_arg, bf::fixedsize_stack(16384), [] { return 0L; }).get(); }
    for (long r = 0; r < rounds; r++) {
        fs.clear();
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            fs.push_back(bf::async(bf::launch::post, std::allocator_arg, bf::fixedsize_stack(16384),
                                   [i] { return i + 1; }));
        long sum = 0;
        for (auto &f : fs)
            sum += f.get();
        uint64_t t1 = now_ns();
        CHECK(sum == n * (n + 1) / 2, "sum");
        per[(size_t)r] = (double)(t1 - t0) / (double)n;
    }
    char label[64];
    if (rounds > 1) {
        snprintf(label, sizeof label, "boost-fiber-async-N%ld", n);
        double cold = per[0];
        report("W1-scale", label, "ns_per_task", bench_median(per.data() + 1, (size_t)rounds - 1), "ns");
        report("W1-scale", label, "cold_ns_per_task", cold, "ns");
    } else {
        report("W1", bench_label(label, sizeof label, "boost-fiber-async", n, W1_DEFAULT, 0, 0),
               "ns_per_task", per[0], "ns");
    }
    return 0;
}

static int timers(long n, long k, long max_ms)
{
    bf::promise<void> p_yield, p_sleep;
    bf::shared_future<void> go_yield = p_yield.get_future().share();
    bf::shared_future<void> go_sleep = p_sleep.get_future().share();
    bf::promise<void> y_done, s_done;
    long yielded = 0, slept = 0;
    std::vector<bf::future<long>> fs;
    fs.reserve((size_t)n);
    for (long i = 0; i < n; i++)
        fs.push_back(bf::async(bf::launch::post, std::allocator_arg, bf::fixedsize_stack(16384),
                               [&, i] {
                                   uint64_t seed = (uint64_t)i * 7919u + 1;
                                   go_yield.wait();
                                   for (long j = 0; j < k; j++)
                                       boost::this_fiber::yield();
                                   if (++yielded == n)
                                       y_done.set_value();
                                   go_sleep.wait();
                                   for (long j = 0; j < k; j++)
                                       boost::this_fiber::sleep_for(std::chrono::milliseconds(
                                           1 + (long)(bench_rand(&seed) % (uint64_t)max_ms)));
                                   if (++slept == n)
                                       s_done.set_value();
                                   return i;
                               }));
    boost::this_fiber::yield(); // every fiber starts and parks on go_yield
    uint64_t c0 = thread_cpu_ns();
    p_yield.set_value();
    y_done.get_future().get();
    uint64_t c1 = thread_cpu_ns(), w1 = now_ns();
    p_sleep.set_value();
    s_done.get_future().get();
    uint64_t c2 = thread_cpu_ns(), w2 = now_ns();
    long sum = 0;
    for (auto &f : fs)
        sum += f.get();
    CHECK(sum == n * (n - 1) / 2, "sum");
    double ops = (double)n * (double)k;
    double y = (double)(c1 - c0) / ops, s = (double)(c2 - c1) / ops;
    char label[64];
    snprintf(label, sizeof label, "boost-fiber-N%ld", n);
    report("W5-timers", label, "cpu_ns_per_yield", y, "ns");
    report("W5-timers", label, "cpu_ns_per_sleep", s, "ns");
    report("W5-timers", label, "ns_per_timer", s - y, "ns");
    report("W5-timers", label, "sleep_wall", (double)(w2 - w1) / 1e6, "ms");
    return 0;
}

// The raw switch in a function of its own: inlined into main() beside the
// fiber code, the same loop measured 11 ns a switch instead of 5.6-6.2.
__attribute__((noinline)) static int raw_switch(long n)
{
    long half = n / 2;
    char label[64];
    volatile long counter = 0;
    ctx::fiber f{[half, &counter](ctx::fiber &&sink) {
        for (long i = 0; i < half; i++) {
            counter = counter + 1;
            sink = std::move(sink).resume();
        }
        return std::move(sink);
    }};
    uint64_t t0 = now_ns();
    for (long i = 0; i < half; i++)
        f = std::move(f).resume();
    uint64_t t1 = now_ns();
    f = std::move(f).resume(); // let it finish
    CHECK(counter == half && !f, "counter");
    report("W4", bench_label(label, sizeof label, "boost-context-fiber", n, 2000000, 0, 0),
           "ns_per_switch", (double)(t1 - t0) / (double)(2 * half), "ns");
    return 0;
}

int main(int argc, char **argv)
{
    std::string w = argc > 1 ? argv[1] : "";
    char label[64];
    if (w == "w1") {
        long n = arg_long(argc, argv, 2, W1_DEFAULT);
        long rounds = arg_long(argc, argv, 3, 1);
        CHECK(n > 0 && rounds > 0, "usage: bfiber w1 [N] [rounds]");
        return w1(n, rounds);
    }
    if (w == "w3") {
        long n = arg_long(argc, argv, 2, 1000);
        long ms = arg_long(argc, argv, 3, 10);
        CHECK(n > 0 && ms >= 0, "usage: bfiber w3 [N] [ms]");
        std::vector<long> res((size_t)n);
        std::vector<bf::fiber> fs;
        fs.reserve((size_t)n);
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            fs.emplace_back([&res, i, ms] {
                boost::this_fiber::sleep_for(std::chrono::milliseconds(ms));
                res[(size_t)i] = i;
            });
        for (auto &f : fs)
            f.join();
        long sum = 0;
        for (long i = 0; i < n; i++)
            sum += res[(size_t)i];
        uint64_t t1 = now_ns();
        CHECK(sum == n * (n - 1) / 2, "sum");
        report("W3", bench_label(label, sizeof label, "boost-fiber", n, 1000, 0, 0), "wall",
               (double)(t1 - t0) / 1e6, "ms");
        return 0;
    }
    if (w == "w4") {
        long n = arg_long(argc, argv, 2, 2000000);
        long half = n / 2, ca = 0, cb = 0;
        CHECK(half > 0, "usage: bfiber w4 [N]");
        uint64_t t0 = now_ns();
        bf::fiber a([&] { for (long i = 0; i < half; i++) { ca++; boost::this_fiber::yield(); } });
        bf::fiber b([&] { for (long i = 0; i < half; i++) { cb++; boost::this_fiber::yield(); } });
        a.join();
        b.join();
        uint64_t t1 = now_ns();
        CHECK(ca == half && cb == half, "counter");
        report("W4", bench_label(label, sizeof label, "boost-fiber-yield", n, 2000000, 0, 0),
               "ns_per_switch", (double)(t1 - t0) / (double)(2 * half), "ns");
        return 0;
    }
    if (w == "ctx") {
        long n = arg_long(argc, argv, 2, 2000000);
        CHECK(n / 2 > 0, "usage: bfiber ctx [N]");
        return raw_switch(n);
    }
    if (w == "w5") {
        long n = arg_long(argc, argv, 2, 100000);
        long ms = arg_long(argc, argv, 3, 100);
        long stack = arg_long(argc, argv, 4, 16384);
        CHECK(n > 0 && ms >= 0 && stack > 0, "usage: bfiber w5 [N] [ms] [stack]");
        long rss0 = proc_status_kb("VmRSS");
        std::vector<bf::future<long>> fs;
        fs.reserve((size_t)n);
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            fs.push_back(bf::async(bf::launch::post, std::allocator_arg, bf::fixedsize_stack((size_t)stack),
                                   [i, ms] {
                                       boost::this_fiber::sleep_for(std::chrono::milliseconds(ms));
                                       return i;
                                   }));
        long sum = 0;
        for (auto &f : fs)
            sum += f.get();
        uint64_t t1 = now_ns();
        CHECK(sum == n * (n - 1) / 2, "sum");
        long hwm = proc_status_kb("VmHWM");
        char base[48];
        snprintf(base, sizeof base, "boost-fiber-%ldKiBstack", stack / 1024);
        bench_label(label, sizeof label, base, n, 100000, 0, 0);
        report("W5", label, "wall", (double)(t1 - t0) / 1e6, "ms");
        report("W5", label, "peak_rss", (double)hwm, "KB");
        report("W5", label, "bytes_per_task", (double)(hwm - rss0) * 1024.0 / (double)n, "B");
        return 0;
    }
    if (w == "timers") {
        long n = arg_long(argc, argv, 2, 10000);
        long k = arg_long(argc, argv, 3, 8);
        long max_ms = arg_long(argc, argv, 4, 4);
        CHECK(n > 0 && k > 0 && max_ms > 0, "usage: bfiber timers N [K] [max_ms]");
        return timers(n, k, max_ms);
    }
    fprintf(stderr, "usage: bfiber w1|w3|w4|ctx|w5|timers [sizes]\n");
    return 2;
}
