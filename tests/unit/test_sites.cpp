// Sites (issue 10): per-site aggregates and the exact attribution of the peak, driven through
// the core's allocation primitives with stacks on, against a model the test keeps itself.
#include "core/block.hpp"
#include "core/counters.hpp"
#include "core/sites.hpp"
#include "fresh.hpp"
#include "stack/unwind.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <thread>
#include <vector>

namespace md = memtrack::detail;

namespace {

// Three allocation sites: distinct functions, so distinct stacks.
[[gnu::noinline]] void* site_a(std::size_t n)
{
    void* p = md::alloc(n);
    asm volatile("" ::: "memory");
    return p;
}
[[gnu::noinline]] void* site_b(std::size_t n)
{
    void* p = md::alloc(n);
    asm volatile("" ::: "memory");
    return p;
}
// Blocks of 3000, 4000, ... bytes from one call instruction (so one stack).
[[gnu::noinline]] void site_b_loop(void** out, int n)
{
    for (int i = 0; i < n; ++i) {
        asm volatile("" : "+r"(i));  // an opaque count: the loop is neither unrolled nor peeled
        out[i] = site_b(3000 + 1000 * static_cast<std::size_t>(i));
    }
}
[[gnu::noinline]] void* site_c(std::size_t n)
{
    void* p = md::alloc_aligned(n, 64, false);
    asm volatile("" ::: "memory");
    return p;
}
[[gnu::noinline]] void* site_realloc(void* p, std::size_t n)
{
    void* q = md::reallocate(p, n);
    asm volatile("" ::: "memory");
    return q;
}

std::uint32_t site_of(void* p)
{
    return md::header_of(p)->aux & md::kStackIdMask;
}

std::map<std::uint32_t, md::SiteRecord> sites_now(md::SiteTableInfo* info = nullptr)
{
    std::vector<md::SiteRecord> v(md::copy_sites(nullptr, 0, nullptr) + 16);
    v.resize(std::min(v.size(), md::copy_sites(v.data(), v.size(), info)));
    std::map<std::uint32_t, md::SiteRecord> m;
    for (const md::SiteRecord& r : v)
        m[r.stack] = r;
    return m;
}

// Full mode for the duration of a test: stacks on, every allocation on the slow path, sites
// on (the test binary starts in stats-only mode, tests/unit/main.cpp).
struct Stacks {
    Stacks() : depth_(md::stack_depth()), small_limit_(md::g_small_limit), sites_on_(md::g_sites_on)
    {
        md::set_stack_depth(32);
        md::g_small_limit = 0;
        md::t_state.small_limit = 0;
        md::g_sites_on = true;
    }
    ~Stacks()
    {
        md::g_sites_on = sites_on_;
        md::g_small_limit = small_limit_;
        md::t_state.small_limit = small_limit_;
        md::set_stack_depth(depth_);
    }
    Stacks(const Stacks&) = delete;
    Stacks& operator=(const Stacks&) = delete;

private:
    int depth_;
    std::uint64_t small_limit_;
    bool sites_on_;
};

}  // namespace

TEST_CASE("sites: a site entry is 64 bytes", "[sites]")
{
    Stacks stacks;
    Fresh fresh;
    void* p = site_a(10);
    md::SiteTableInfo info;
    sites_now(&info);
    CHECK(info.entry_bytes == 64);
    CHECK(info.sites >= 1);
    md::release(p);
}

// The table grows in doubling chunks: with one chunk per 4096 sites, a program with a million
// distinct stacks used up own_map's fixed set of ranges, and every later site was lost (and its
// events retried the mapping each time: full mode 4x slower on bench's deep workload).
TEST_CASE("sites: millions of sites are all counted", "[sites]")
{
    Stacks stacks;
    Fresh fresh;
    constexpr std::uint32_t kSites = 2'500'000;
    alignas(16) static char block[32];
    for (std::uint32_t id = 1; id <= kSites; ++id)
        md::site_alloc(id, 8, block + 16);
    md::SiteTableInfo info;
    const std::size_t n = md::copy_sites(nullptr, 0, &info);
    CHECK(n >= kSites);
    CHECK(info.table_bytes >= std::uint64_t{kSites} * 64);
    CHECK(info.table_bytes <= std::uint64_t{2} * (kSites + 4096) * 64);
    for (std::uint32_t id = 1; id <= kSites; ++id)
        md::site_free(id, 8, block + 16);
    md::sites_reset_for_tests();
}

TEST_CASE("sites: single-thread shares of the peak are exact, per site and in sum", "[sites]")
{
    Stacks stacks;
    Fresh fresh;
    std::mt19937_64 rng(7);
    struct Live {
        void* p;
        std::size_t size;
        int site;
    };
    std::vector<Live> live;
    std::int64_t current = 0, peak = 0;
    std::int64_t by_site[3] = {0, 0, 0}, blocks[3] = {0, 0, 0};
    std::int64_t at_peak[3] = {0, 0, 0}, blocks_at_peak[3] = {0, 0, 0};
    std::uint32_t ids[3] = {0, 0, 0};
    std::uint64_t allocs[3] = {0, 0, 0};
    for (int step = 0; step < 60000; ++step) {
        const bool grow = live.empty() || (rng() % 100) < (step < 30000 ? 55u : 45u);
        if (grow) {
            const int site = static_cast<int>(rng() % 3);
            // Sizes cross the fold threshold now and then (big blocks fold at once).
            const std::size_t size =
                rng() % 500 == 0 ? (1u << 20) + rng() % 5000 : 1 + rng() % 3000;
            void* p = site == 0 ? site_a(size) : site == 1 ? site_b(size) : site_c(size);
            REQUIRE(p != nullptr);
            ids[site] = site_of(p);
            live.push_back({p, size, site});
            current += static_cast<std::int64_t>(size);
            by_site[site] += static_cast<std::int64_t>(size);
            blocks[site] += 1;
            allocs[site] += 1;
            if (current > peak) {
                peak = current;
                std::copy(by_site, by_site + 3, at_peak);
                std::copy(blocks, blocks + 3, blocks_at_peak);
            }
        } else {
            const std::size_t i = rng() % live.size();
            md::release(live[i].p);
            current -= static_cast<std::int64_t>(live[i].size);
            by_site[live[i].site] -= static_cast<std::int64_t>(live[i].size);
            blocks[live[i].site] -= 1;
            live[i] = live.back();
            live.pop_back();
        }
    }
    REQUIRE(ids[0] != ids[1]);
    REQUIRE(ids[1] != ids[2]);
    const md::Snapshot s = md::snapshot();
    REQUIRE(s.peak_bytes == peak);
    const auto m = sites_now();
    std::int64_t sum = 0;
    for (const auto& [id, r] : m)
        sum += r.peak_bytes;
    CHECK(sum == peak);
    for (int k = 0; k < 3; ++k) {
        INFO("site " << k);
        const md::SiteRecord& r = m.at(ids[k]);
        CHECK(r.peak_bytes == at_peak[k]);
        CHECK(r.peak_blocks == blocks_at_peak[k]);
        CHECK(r.live_bytes == by_site[k]);
        CHECK(r.live_blocks == blocks[k]);
        CHECK(r.allocations == allocs[k]);
    }
    for (const Live& l : live)
        md::release(l.p);
}

TEST_CASE("sites: a site freed before the peak holds nothing at it", "[sites]")
{
    Stacks stacks;
    Fresh fresh;
    void* a = site_a(5000);
    const std::uint32_t ia = site_of(a);
    md::release(a);
    void* b = site_b(7000);
    const std::uint32_t ib = site_of(b);
    md::release(b);
    const auto m = sites_now();
    CHECK(m.at(ia).peak_bytes == 0);
    CHECK(m.at(ia).allocations == 1);
    CHECK(m.at(ia).frees == 1);
    CHECK(m.at(ib).peak_bytes == 7000);
    CHECK(m.at(ib).peak_blocks == 1);
    CHECK(m.at(ib).live_bytes == 0);
    CHECK(m.at(ib).largest_bytes == 7000);
}

TEST_CASE("sites: realloc moves the block to the realloc call's site", "[sites]")
{
    Stacks stacks;
    Fresh fresh;
    void* p = site_a(100);
    const std::uint32_t ia = site_of(p);
    p = site_realloc(p, 300);
    const std::uint32_t ir = site_of(p);
    REQUIRE(ir != ia);
    p = site_realloc(p, 2u << 20);  // a big block, from another call: another site
    const std::uint32_t ibig = site_of(p);
    REQUIRE(ibig != ir);
    auto m = sites_now();
    CHECK(m.at(ia).live_bytes == 0);
    CHECK(m.at(ia).frees == 1);
    CHECK(m.at(ir).live_bytes == 0);
    CHECK(m.at(ir).allocations == 1);
    CHECK(m.at(ir).frees == 1);
    CHECK(m.at(ir).largest_bytes == 300);
    CHECK(m.at(ibig).live_bytes == 2 << 20);
    CHECK(m.at(ibig).live_blocks == 1);
    CHECK(m.at(ibig).largest_bytes == 2u << 20);
    CHECK(m.at(ibig).peak_bytes == 2 << 20);  // at the heap now: never fallen from
    CHECK(m.at(ir).peak_bytes == 0);
    md::release(p);
    m = sites_now();
    CHECK(m.at(ibig).peak_bytes == 2 << 20);
    CHECK(m.at(ibig).live_bytes == 0);
}

TEST_CASE("sites: reset_peak attributes the peak since the reset", "[sites]")
{
    Stacks stacks;
    Fresh fresh;
    void* big = site_a(50000);
    const std::uint32_t ia = site_of(big);
    md::release(big);
    md::reset_peak();
    void* b[2];
    site_b_loop(b, 2);
    const std::uint32_t ib = site_of(b[0]);
    REQUIRE(site_of(b[1]) == ib);
    md::release(b[0]);
    md::release(b[1]);
    const auto m = sites_now();
    CHECK(m.at(ia).peak_bytes == 0);
    CHECK(m.at(ib).peak_bytes == 7000);
    CHECK(m.at(ib).peak_blocks == 2);
    CHECK(md::snapshot().peak_bytes == 7000);
    // The lifetime peak's shares were kept at the reset.
    std::vector<md::SiteRecord> v(md::copy_sites(nullptr, 0, nullptr, true) + 16);
    v.resize(std::min(v.size(), md::copy_sites(v.data(), v.size(), nullptr, true)));
    for (const md::SiteRecord& r : v) {
        if (r.stack == ia) CHECK(r.peak_bytes == 50000);
        if (r.stack == ib) CHECK(r.peak_bytes == 0);
    }
}

TEST_CASE("sites: temporary allocations follow heaptrack's rule", "[sites]")
{
    Stacks stacks;
    Fresh fresh;
    std::uint32_t ia = 0, ib = 0;
    for (int i = 0; i < 4; ++i) {
        void* a = site_a(64);
        ia = site_of(a);
        if (i == 3) {  // a, b allocated, b freed (temporary), a freed (not: b came after it)
            void* b = site_b(64);
            ib = site_of(b);
            md::release(b);
        }
        md::release(a);  // the first three: freed before the next allocation, temporary
    }
    const auto m = sites_now();
    CHECK(m.at(ia).temporary == 3);
    CHECK(m.at(ia).allocations == 4);
    CHECK(m.at(ib).temporary == 1);
}

TEST_CASE("sites: threads sharing one site and using their own stay within the bound", "[sites]")
{
    Stacks stacks;
    Fresh fresh;
    constexpr int kThreads = 4;
    constexpr std::size_t kSize = 1000;
    constexpr int kBlocks = 3000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([t] {
            std::vector<void*> mine;
            for (int i = 0; i < kBlocks; ++i)
                mine.push_back(t % 2 == 0 ? site_a(kSize) : site_b(kSize));
            for (void* p : mine)
                md::release(p);
        });
    for (auto& th : threads)
        th.join();
    const md::Snapshot s = md::snapshot();
    const auto m = sites_now();
    std::int64_t sum = 0, live = 0;
    std::uint64_t allocs = 0, frees = 0;
    for (const auto& [id, r] : m) {
        sum += r.peak_bytes;
        live += r.live_bytes;
        allocs += r.allocations;
        frees += r.frees;
    }
    CHECK(live == 0);
    CHECK(allocs == kThreads * kBlocks);
    CHECK(frees == kThreads * kBlocks);
    CHECK(s.peak_bytes <= kThreads * kBlocks * static_cast<std::int64_t>(kSize));
    CHECK(sum <= s.peak_bytes + kThreads * md::kFoldBytes);
    CHECK(sum >= s.peak_bytes - kThreads * md::kFoldBytes);
    CHECK(sum >= static_cast<std::int64_t>(kBlocks * kSize));  // one thread's blocks at least
}
