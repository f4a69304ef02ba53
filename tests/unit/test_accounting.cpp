// Accounting: exact current/peak for one thread across fold boundaries, the documented
// multi-thread bound, realloc accounting, scopes and the C API over the core.
#include "core/block.hpp"
#include "core/counters.hpp"
#include "fresh.hpp"

#include <memtrack/memtrack.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace md = memtrack::detail;

TEST_CASE("accounting: one block is counted exactly", "[accounting]")
{
    Fresh fresh;
    void* p = md::alloc(10007);
    auto s = md::snapshot();
    CHECK(s.current_bytes == 10007);
    CHECK(s.peak_bytes == 10007);
    CHECK(s.allocations == 1);
    CHECK(s.live_blocks == 1);
    md::release(p);
    s = md::snapshot();
    CHECK(s.current_bytes == 0);
    CHECK(s.peak_bytes == 10007);
    CHECK(s.frees == 1);
    CHECK(s.live_blocks == 0);
    CHECK(s.bytes_allocated == 10007);
}

TEST_CASE("accounting: single-thread peak is exact to the byte across folds", "[accounting]")
{
    Fresh fresh;
    // A random walk of small blocks that crosses the fold threshold many times; the true peak
    // is computed alongside and must match exactly.
    std::mt19937_64 rng(42);
    std::vector<std::pair<void*, std::size_t>> live;
    std::int64_t current = 0, peak = 0;
    for (int step = 0; step < 200000; ++step) {
        const bool grow = live.empty() || (rng() % 100) < (step < 100000 ? 55u : 45u);
        if (grow) {
            const std::size_t size = 1 + rng() % 4000;
            live.emplace_back(md::alloc(size), size);
            current += static_cast<std::int64_t>(size);
            peak = std::max(peak, current);
        } else {
            const std::size_t i = rng() % live.size();
            md::release(live[i].first);
            current -= static_cast<std::int64_t>(live[i].second);
            live[i] = live.back();
            live.pop_back();
        }
        if (step % 50000 == 0) {
            auto s = md::snapshot();  // folding mid-way must not disturb exactness
            REQUIRE(s.current_bytes == current);
            REQUIRE(s.peak_bytes == peak);
        }
    }
    REQUIRE(peak > 4 * md::kFoldBytes);  // the walk really crossed many folds
    auto s = md::snapshot();
    CHECK(s.current_bytes == current);
    CHECK(s.peak_bytes == peak);
    CHECK(s.lifetime_peak_bytes == peak);
    for (auto& [p, size] : live)
        md::release(p);
    CHECK(md::snapshot().current_bytes == 0);
}

TEST_CASE("accounting: a peak inside one batch is carried by the fold", "[accounting]")
{
    Fresh fresh;
    // Up by 900 KiB (no fold), down again, then a fold: the peak must still be 900 KiB.
    std::vector<void*> blocks;
    for (int i = 0; i < 900; ++i)
        blocks.push_back(md::alloc(1024));
    for (void* p : blocks)
        md::release(p);
    auto s = md::snapshot();
    CHECK(s.current_bytes == 0);
    CHECK(s.peak_bytes == 900 * 1024);
}

TEST_CASE("accounting: a block of 1 MiB or more is folded at once", "[accounting]")
{
    Fresh fresh;
    void* p = md::alloc(static_cast<std::size_t>(md::kFoldBytes));
    // Read the folded totals from another thread: no batch of this thread may hide it.
    std::int64_t seen = 0;
    std::thread([&] { seen = md::current_bytes(); }).join();
    CHECK(seen == md::kFoldBytes);
    md::release(p);
    std::thread([&] { seen = md::current_bytes(); }).join();
    CHECK(seen == 0);
}

TEST_CASE("accounting: threads stay within 1 MiB per thread and are exact once joined",
          "[accounting][threads]")
{
    Fresh fresh;
    constexpr int kThreads = 4;
    constexpr int kPerThread = 20000;
    std::vector<std::vector<void*>> handed(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i)
                handed[t].push_back(md::alloc(100 + t));
        });
    }
    for (auto& th : threads)
        th.join();
    auto s = md::snapshot();
    std::int64_t expect = 0;
    for (int t = 0; t < kThreads; ++t)
        expect += std::int64_t{kPerThread} * (100 + t);
    CHECK(s.current_bytes == expect);  // exited threads folded everything
    CHECK(s.allocations == std::uint64_t{kThreads} * kPerThread);
    // Free every block from a thread that did not allocate it (cross-thread frees) while
    // the main thread samples: each sample is within the documented bound.
    threads.clear();
    std::atomic<bool> done{false};
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (void* p : handed[(t + 1) % kThreads])
                md::release(p);
        });
    std::int64_t worst = 0;
    std::thread sampler([&] {
        while (!done.load()) {
            const std::int64_t c = md::current_bytes();
            worst = std::max(worst, c - expect);  // can never exceed what was allocated
        }
    });
    for (auto& th : threads)
        th.join();
    done = true;
    sampler.join();
    CHECK(worst <= kThreads * md::kFoldBytes);
    s = md::snapshot();
    CHECK(s.current_bytes == 0);
    CHECK(s.frees == std::uint64_t{kThreads} * kPerThread);
    CHECK(s.live_blocks == 0);
    CHECK(s.peak_bytes >= expect);
    CHECK(s.peak_bytes <= expect + kThreads * md::kFoldBytes);
}

TEST_CASE("accounting: realloc counts the old block out and the new one in", "[accounting]")
{
    Fresh fresh;
    void* p = md::reallocate(nullptr, 100);
    CHECK(md::snapshot().current_bytes == 100);
    p = md::reallocate(p, 5000);  // grows (may move)
    CHECK(md::snapshot().current_bytes == 5000);
    p = md::reallocate(p, 10);
    auto s = md::snapshot();
    CHECK(s.current_bytes == 10);
    CHECK(s.peak_bytes == 5000);  // no transient old+new sum, as tracemalloc
    CHECK(s.allocations == 3);
    CHECK(s.frees == 2);
    CHECK(md::reallocate(p, 0) == nullptr);  // glibc: frees and returns NULL
    s = md::snapshot();
    CHECK(s.current_bytes == 0);
    CHECK(s.live_blocks == 0);
}

TEST_CASE("accounting: allocations inside the guard are not tracked", "[accounting]")
{
    Fresh fresh;
    void* p = nullptr;
    {
        md::Guard guard;
        p = md::alloc(777);
    }
    CHECK(md::snapshot().current_bytes == 0);
    CHECK(md::t_state.small_limit == md::g_small_limit);                     // fast path back
    CHECK(md::g_small_limit == static_cast<std::uint64_t>(md::kFoldBytes));  // stacks off here
    CHECK(md::t_state.guard == 0);
    md::release(p);  // freeing an untracked block does not count either
    auto s = md::snapshot();
    CHECK(s.current_bytes == 0);
    CHECK(s.frees == 0);
    CHECK(s.foreign_frees == 0);
}

TEST_CASE("api: reset_peak and nested scopes each get their own peak", "[api]")
{
    Fresh fresh;
    void* base = md::alloc(1000);
    memtrack::Measurement outer_result, inner_result;
    {
        memtrack::Scope outer;
        void* a = md::alloc(50000);
        md::release(a);  // outer peak: +50000
        {
            memtrack::Scope inner;
            void* b = md::alloc(2000);
            inner_result = inner.result();
            md::release(b);
        }
        void* c = md::alloc(300);
        outer_result = outer.result();
        md::release(c);
    }
    CHECK(inner_result.current.value == 2000);
    CHECK(inner_result.peak.value == 2000);
    CHECK(outer_result.current.value == 300);
    CHECK(outer_result.peak.value == 50000);
    // After both scopes the process peak is the true one again.
    CHECK(memtrack::stats().peak_bytes == 51000);
    memtrack::reset_peak();
    CHECK(memtrack::stats().peak_bytes == 1000);
    CHECK(memtrack::stats().lifetime_peak_bytes == 51000);
    md::release(base);
}

TEST_CASE("api: measure(fn) destroys the result inside and reports the peak", "[api]")
{
    Fresh fresh;
    struct Buffer {
        void* p;
        explicit Buffer(std::size_t n) : p(md::alloc(n)) {}
        Buffer(Buffer&& o) noexcept : p(o.p) { o.p = nullptr; }
        ~Buffer() { md::release(p); }
    };
    const memtrack::Measurement m = memtrack::measure([] {
        Buffer a(3 << 20);
        Buffer b(1 << 20);
        return Buffer(5);
    });
    CHECK(m.current.value == 0);
    CHECK(m.peak.value == (3 << 20) + (1 << 20) + 5);
}

TEST_CASE("api: memory_usage samples while fn runs", "[api]")
{
    Fresh fresh;
    void* big = nullptr;
    const auto samples = memtrack::memory_usage(
        [&] {
            big = md::alloc(8 << 20);
            std::this_thread::sleep_for(std::chrono::milliseconds(120));
        },
        std::chrono::milliseconds(20));
    REQUIRE(samples.size() >= 3);
    CHECK(samples.front().bytes < (8 << 20));
    CHECK(samples.back().bytes >= (8 << 20));
    for (std::size_t i = 1; i < samples.size(); ++i)
        CHECK(samples[i].t_s >= samples[i - 1].t_s);
    md::release(big);
}

TEST_CASE("api: memtrack_get_stats honours the caller's struct size", "[api]")
{
    Fresh fresh;
    void* p = md::alloc(123);
    memtrack_stats s = memtrack_stats_init();
    REQUIRE(memtrack_get_stats(&s) == 0);
    CHECK(s.version == MEMTRACK_STATS_VERSION);
    CHECK(s.current_bytes == 123);
    // An older, smaller struct gets only its fields.
    memtrack_stats small = memtrack_stats_init();
    small.size = offsetof(memtrack_stats, lifetime_peak_bytes);
    small.live_blocks = 999;
    REQUIRE(memtrack_get_stats(&small) == 0);
    CHECK(small.current_bytes == 123);
    CHECK(small.live_blocks == 999);  // beyond its size: untouched
    CHECK(memtrack_get_stats(nullptr) == -1);
    md::release(p);
}
