// Block primitives: alignment, glibc semantics, foreign pointers, double frees.
#include "core/block.hpp"
#include "fresh.hpp"
#include "core/big_blocks.hpp"
#include "core/invalid_frees.hpp"
#include "config/config.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sys/mman.h>
#include <thread>
#include <vector>

namespace md = memtrack::detail;

namespace {

// MEMTRACK_INVALID_FREE=report while alive (the default, abort, would end the test process),
// with the invalid-free table emptied before and after.
struct ReportInvalidFrees {
    ReportInvalidFrees()
    {
        setenv("MEMTRACK_INVALID_FREE", "report", 1);
        md::load_config();
        md::invalid_frees_child_after_fork();
    }
    ~ReportInvalidFrees()
    {
        unsetenv("MEMTRACK_INVALID_FREE");
        md::load_config();
        md::invalid_frees_child_after_fork();
    }
    static std::uint64_t total()
    {
        std::uint64_t n = 0;
        md::InvalidFreeSite site;
        md::copy_invalid_frees(&site, 1, &n);
        return n;
    }
};
bool aligned(const void* p, std::size_t a)
{
    return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}
}  // namespace

TEST_CASE("blocks: every block is 16-byte aligned, even 1-byte ones", "[blocks]")
{
    Fresh fresh;
    std::vector<void*> ps;
    for (std::size_t size = 0; size <= 300; ++size) {
        void* p = md::alloc(size);
        REQUIRE(p != nullptr);
        CHECK(aligned(p, 16));
        CHECK(md::usable_size(p) >= size);
        ps.push_back(p);
    }
    for (void* p : ps)
        md::release(p);
}

TEST_CASE("blocks: malloc(0) returns unique freeable pointers", "[blocks]")
{
    Fresh fresh;
    std::set<void*> seen;
    std::vector<void*> ps;
    for (int i = 0; i < 100; ++i) {
        void* p = md::alloc(0);
        REQUIRE(p != nullptr);
        CHECK(seen.insert(p).second);
        ps.push_back(p);
    }
    for (void* p : ps)
        md::release(p);
    CHECK(md::snapshot().live_blocks == 0);
}

TEST_CASE("blocks: aligned allocations from 32 B to 64 MiB alignment", "[blocks]")
{
    Fresh fresh;
    for (std::size_t a = 32; a <= (std::size_t{64} << 20); a *= 2) {
        for (std::size_t size : {std::size_t{1}, std::size_t{100}, a, a + 1}) {
            void* p = md::alloc_aligned(size, a, false);
            INFO("align " << a << " size " << size);
            REQUIRE(p != nullptr);
            CHECK(aligned(p, a));
            CHECK(md::requested_size(p) == static_cast<std::int64_t>(size));
            CHECK(md::usable_size(p) >= size);
            std::memset(p, 0xab, size);
            // realloc of an aligned block keeps the contents
            void* q = md::reallocate(p, size + 64);
            REQUIRE(q != nullptr);
            CHECK(static_cast<unsigned char*>(q)[size - 1] == 0xab);
            md::release(q);
        }
    }
    CHECK(md::snapshot().current_bytes == 0);
    CHECK(md::snapshot().foreign_frees == 0);
}

TEST_CASE("blocks: zeroed aligned blocks are zero", "[blocks]")
{
    Fresh fresh;
    for (std::size_t a : {std::size_t{64}, std::size_t{4096}, std::size_t{32} << 20}) {
        auto* p = static_cast<unsigned char*>(md::alloc_aligned(5000, a, true));
        REQUIRE(p != nullptr);
        bool zero = true;
        for (int i = 0; i < 5000; ++i)
            zero = zero && p[i] == 0;
        CHECK(zero);
        md::release(p);
    }
}

TEST_CASE("blocks: memalign rounds a non-power-of-two alignment up", "[blocks]")
{
    Fresh fresh;
    void* p = md::alloc_memalign(48, 10);  // glibc: 64
    REQUIRE(p != nullptr);
    CHECK(aligned(p, 64));
    md::release(p);
    p = md::alloc_memalign(1, 10);  // below 16: 16
    CHECK(aligned(p, 16));
    md::release(p);
    errno = 0;
    CHECK(md::alloc_memalign(SIZE_MAX, 10) == nullptr);
    CHECK(errno == EINVAL);
}

TEST_CASE("blocks: failed allocations return NULL with errno ENOMEM", "[blocks]")
{
    Fresh fresh;
    // volatile: keep the compiler from folding impossible sizes into the inline fast path
    volatile std::size_t huge = SIZE_MAX - 8, above = std::size_t{1} << 48, half = SIZE_MAX / 2,
                         quarter = SIZE_MAX / 4;
    errno = 0;
    CHECK(md::alloc(huge) == nullptr);
    CHECK(errno == ENOMEM);
    errno = 0;
    CHECK(md::alloc(above) == nullptr);  // above kMaxRequest
    CHECK(errno == ENOMEM);
    errno = 0;
    CHECK(md::alloc_zeroed(half) == nullptr);
    CHECK(errno == ENOMEM);
    errno = 0;
    CHECK(md::alloc_aligned(quarter, 64, false) == nullptr);
    CHECK(errno == ENOMEM);
    void* p = md::alloc(10);
    errno = 0;
    CHECK(md::reallocate(p, half) == nullptr);
    CHECK(errno == ENOMEM);
    CHECK(md::requested_size(p) == 10);  // untouched
    md::release(p);
    auto s = md::snapshot();
    CHECK(s.current_bytes == 0);
    CHECK(s.allocations == 1);
}

TEST_CASE("blocks: foreign pointers are counted, never freed or crashed on", "[blocks]")
{
    Fresh fresh;
    ReportInvalidFrees report;
    int on_stack = 0;
    static char in_data[64];
    void* from_glibc = std::malloc(100);  // the unit-test process's malloc is glibc's
    std::memset(from_glibc, 7, 100);
    void* mapped = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mapped != MAP_FAILED);
    md::release(&on_stack);
    md::release(in_data + 16);
    md::release(from_glibc);
    md::release(mapped);
    // std::malloc may be libmimalloc.so's override here (the test links mimalloc): then its
    // block lies in mimalloc's heap without memtrack's header, an invalid free (issue 11).
    const std::uint64_t judged = ReportInvalidFrees::total();
    CHECK(judged <= 1);
    CHECK(md::snapshot().foreign_frees + judged == 4);
    CHECK(md::usable_size(from_glibc) == 0);
    CHECK(md::requested_size(mapped) == -1);
    // realloc of a foreign block copies its bytes into a tracked one; the old is left alone
    auto* q = static_cast<unsigned char*>(md::reallocate(from_glibc, 50));
    REQUIRE(q != nullptr);
    CHECK(q[49] == 7);
    CHECK(md::snapshot().foreign_frees + judged == 5);
    // ...even when the new size runs past the end of the foreign mapping
    static_cast<unsigned char*>(mapped)[4095] = 9;
    auto* r =
        static_cast<unsigned char*>(md::reallocate(static_cast<char*>(mapped) + 4000, 100000));
    REQUIRE(r != nullptr);
    CHECK(r[95] == 9);
    md::release(q);
    md::release(r);
    std::free(from_glibc);
    munmap(mapped, 4096);
    CHECK(md::snapshot().current_bytes == 0);
}

TEST_CASE("blocks: a foreign pointer just after an unmapped page is not read before", "[blocks]")
{
    Fresh fresh;
    // Two pages; unmap the first: a pointer 8 bytes into the second has its would-be header in
    // the unmapped page. Reading it would crash the test.
    auto* two = static_cast<char*>(
        mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    REQUIRE(two != MAP_FAILED);
    REQUIRE(munmap(two, 4096) == 0);
    for (int offset : {0, 8, 15})
        md::release(two + 4096 + offset);
    CHECK(md::snapshot().foreign_frees == 3);
    CHECK(md::usable_size(two + 4096 + 8) == 0);
    munmap(two + 4096, 4096);
}

TEST_CASE("blocks: huge blocks are freed, not taken for foreign (mimalloc's region map misses "
          "them)",
          "[blocks]")
{
    Fresh fresh;
    // mimalloc 2.0.9 maps blocks of 1 GiB and more wherever mmap puts them, often above the
    // range of its segment map, where mi_is_in_heap_region says false. Untouched: no RSS.
    for (std::size_t size : {std::size_t{1} << 30, (std::size_t{3} << 30) + 5}) {
        void* p = md::alloc(size);
        REQUIRE(p != nullptr);
        CHECK(md::requested_size(p) == static_cast<std::int64_t>(size));
        CHECK(md::usable_size(p) >= size);
        p = md::reallocate(p, size + 4096);
        REQUIRE(p != nullptr);
        md::release(p);
        void* q = md::alloc_aligned(size, 4096, false);  // page-aligned user pointer
        REQUIRE(q != nullptr);
        md::release(q);
    }
    const auto s = md::snapshot();
    CHECK(s.foreign_frees == 0);
    CHECK(s.current_bytes == 0);
    CHECK(s.frees == 6);  // per size: the realloc's old block, the block, the aligned one
}

TEST_CASE("blocks: a double free is caught as an invalid free (issue 11), not freed again",
          "[blocks]")
{
    Fresh fresh;
    ReportInvalidFrees report;
    void* p = md::alloc(40);
    void* keep = md::alloc(40);  // keeps the page alive so the header stays readable
    md::release(p);
    md::release(p);
    auto s = md::snapshot();
    CHECK(s.frees == 1);
    CHECK(s.foreign_frees == 0);
    CHECK(ReportInvalidFrees::total() == 1);
    md::InvalidFreeSite site;
    REQUIRE(md::copy_invalid_frees(&site, 1, nullptr) == 1);
    CHECK(site.kind == md::InvalidFreeKind::DoubleFree);
    CHECK(site.first_pointer == reinterpret_cast<std::uintptr_t>(p));
    CHECK(s.current_bytes == 40);
    md::release(keep);
}

TEST_CASE("blocks: an interior pointer is an invalid free (issue 11), the block stays",
          "[blocks]")
{
    Fresh fresh;
    ReportInvalidFrees report;
    auto* p = static_cast<char*>(md::alloc(256));
    std::memset(p, 0x5a, 256);
    md::release(p + 32);
    md::release(p + 8);  // misaligned
    CHECK(md::snapshot().foreign_frees == 0);
    CHECK(ReportInvalidFrees::total() == 2);
    md::InvalidFreeSite site;
    REQUIRE(md::copy_invalid_frees(&site, 1, nullptr) == 1);  // one site: no stacks here
    CHECK(site.kind == md::InvalidFreeKind::InvalidPointer);
    CHECK(site.count == 2);
    CHECK(md::requested_size(p) == 256);
    md::release(p);
}

TEST_CASE("blocks: a sequence number packed into a header survives with size, flags and "
          "generation, across the 42-bit wrap",
          "[blocks][seq]")
{
    const std::uint64_t wrap = std::uint64_t{1} << md::kSeqBits;
    const void* user = reinterpret_cast<void*>(0x7f0000001010);
    for (const std::uint64_t seq :
         {std::uint64_t{1}, std::uint64_t{0x0fffffff}, std::uint64_t{0x10000000}, wrap - 1,
          wrap + 5, 3 * wrap + std::uint64_t{0x123456789}}) {
        for (const std::uint64_t size :
             {std::uint64_t{0}, std::uint64_t{1000}, md::kSmallSizeMask}) {
            for (const std::uint64_t flags : {std::uint64_t{0}, md::kAligned}) {
                std::uint64_t sf = size | flags | (std::uint64_t{2} << md::kGenShift);
                std::uint32_t aux = 0xabcdef;  // a stack id
                md::pack_seq(seq, sf, aux);
                INFO("seq " << seq << " size " << size << " flags " << flags);
                CHECK(md::size_of(sf) == size);
                CHECK((sf & md::kFlagByte) == flags);
                CHECK((sf & md::kGenMask) >> md::kGenShift == 2);
                CHECK((aux & md::kStackIdMask) == 0xabcdef);
                CHECK(md::size_flags_plausible(sf));
                const std::uint64_t low = md::packed_seq(sf, aux);
                CHECK(md::unpack_seq(low, seq) == seq);
                CHECK(md::unpack_seq(low, seq + 1000) == seq);
                CHECK(md::unpack_seq(low, seq + wrap - 1) == seq);
                if (seq < wrap)  // not given out yet: garbage (later, an older number)
                    CHECK(md::unpack_seq(low, seq - 1) == 0);
                // The number does not change the check: the inline free takes a plain block
                // (and reads its size from the low 20 bits), never a flagged one.
                CHECK((md::check_of(user, sf) == md::check_of(user)) == (flags == 0));
                CHECK((static_cast<std::uint32_t>(sf) & md::kSmallSizeMask) == size);
            }
        }
    }
    // Every flag byte changes the check the inline free compares with.
    for (std::uint64_t flags = 1; flags < 256; ++flags) {
        const std::uint64_t sf = 48 | (flags << md::kFlagShift);
        INFO("flags " << flags);
        CHECK(md::check_of(user, sf) != md::check_of(user));
    }
    // No number: stats-only blocks (aux unwritten), registered blocks, and the one number in
    // 2^34 whose bits in size_flags are all 0.
    CHECK(md::packed_seq(1000, 0xff000000u) == 0);
    CHECK(md::packed_seq((std::uint64_t{3} << 20) | md::kBig, 0) == 0);
    {
        std::uint64_t sf = 48;
        std::uint32_t aux = 0;
        md::pack_seq(std::uint64_t{1} << 34, sf, aux);
        CHECK(md::packed_seq(sf, aux) == 0);
    }
    CHECK(md::size_of((std::uint64_t{5} << 40) | md::kBig) == std::uint64_t{5} << 40);
    CHECK_FALSE(md::size_flags_plausible(md::kBig | (std::uint64_t{1} << 60)));
    CHECK_FALSE(md::size_flags_plausible(std::uint64_t{1} << 53));  // an unknown flag
}

namespace {
// Every allocation takes the cold path, as with stacks on, for the scope's lifetime.
struct AllCold {
    std::uint64_t saved = md::g_small_limit;
    AllCold()
    {
        md::g_small_limit = 0;
        md::Guard refresh;  // the thread's limit is reloaded when a Guard ends
    }
    ~AllCold()
    {
        md::g_small_limit = saved;
        md::Guard refresh;
    }
    AllCold(const AllCold&) = delete;
    AllCold& operator=(const AllCold&) = delete;
};

std::uint64_t seq_of_block(void* p)
{
    const md::BlockHeader* h = md::header_of(p);
    return md::unpack_seq(md::packed_seq(h->size_flags, h->aux), md::g_alloc_seq.load());
}
}  // namespace

TEST_CASE("blocks: with every allocation on the cold path, each tracked block gets the next "
          "sequence number, and sizes and accounting stay exact",
          "[blocks][seq]")
{
    Fresh fresh;
    AllCold cold;
    const std::uint64_t s0 = md::g_alloc_seq.load();
    void* a = md::alloc(24);
    void* b = md::alloc_zeroed(1000);
    void* c = md::alloc_aligned(100, 64, false);
    void* d = md::reallocate(a, 5000);                // a realloc is a new allocation
    void* e = md::alloc((std::size_t{1} << 20) + 3);  // big: its number is in the registry
    void* f = md::alloc((std::size_t{1} << 20) - 1);  // the largest packed size
    REQUIRE((b != nullptr && c != nullptr && d != nullptr && e != nullptr && f != nullptr));
    CHECK(md::g_alloc_seq.load() == s0 + md::kSeqRun);  // Fresh: the thread took a new run
    CHECK(seq_of_block(b) == s0 + 2);
    CHECK(seq_of_block(c) == s0 + 3);
    CHECK(seq_of_block(d) == s0 + 4);
    CHECK(seq_of_block(e) == 0);
    CHECK(seq_of_block(f) == s0 + 6);
    CHECK(md::requested_size(b) == 1000);
    CHECK(md::requested_size(c) == 100);
    CHECK(md::requested_size(d) == 5000);
    CHECK(md::requested_size(e) == (1 << 20) + 3);
    CHECK(md::requested_size(f) == (1 << 20) - 1);
    std::uint64_t big_seq = 0;
    {
        md::big_blocks_lock();
        std::vector<md::BigBlockEntry> entries(md::big_blocks_count_locked());
        const std::size_t n = md::big_blocks_copy_locked(entries.data(), entries.size());
        md::big_blocks_unlock();
        for (std::size_t i = 0; i < n && i < entries.size(); ++i)
            if (entries[i].header == reinterpret_cast<std::uintptr_t>(md::header_of(e)))
                big_seq = entries[i].seq;
    }
    CHECK(big_seq == s0 + 5);
    CHECK(md::snapshot().current_bytes ==
          static_cast<std::int64_t>(1000 + 100 + 5000 + (1 << 20) + 3 + (1 << 20) - 1));
    for (void* p : {b, c, d, e, f})
        md::release(p);
    const auto s = md::snapshot();
    CHECK(s.current_bytes == 0);
    CHECK(s.foreign_frees == 0);
    CHECK(s.allocations == 6);
}

TEST_CASE("blocks: threads allocating at once get unique numbers, increasing in each thread",
          "[blocks][seq]")
{
    Fresh fresh;
    AllCold cold;
    constexpr int kThreads = 4, kBlocks = 3000;  // several runs of numbers per thread
    std::vector<std::vector<void*>> blocks(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&blocks, t] {
            for (int i = 0; i < kBlocks; ++i)
                blocks[t].push_back(md::alloc(24));
        });
    for (auto& th : threads)
        th.join();
    std::set<std::uint64_t> all;
    for (const auto& mine : blocks) {
        std::uint64_t last = 0;
        for (void* p : mine) {
            const std::uint64_t n = seq_of_block(p);
            REQUIRE(n > last);
            last = n;
            all.insert(n);
        }
    }
    CHECK(all.size() == std::size_t{kThreads} * kBlocks);
    for (const auto& mine : blocks)
        for (void* p : mine)
            md::release(p);
}
