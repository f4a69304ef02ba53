// The allocator API's semantics in core/entry_points.hpp, driven directly (no preload): overflow
// checks, posix_memalign's EINVAL rules, page rounding, the BSD realloc variants, operator new's
// new_handler loop.
#include "core/entry_points.hpp"
#include "fresh.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>
#include <unistd.h>

namespace md = memtrack::detail;

namespace {
const std::size_t kPage = static_cast<std::size_t>(getpagesize());
constexpr std::size_t kHuge = md::kMaxRequest + 1;  // every allocation of this size fails

bool aligned(const void* p, std::size_t a)
{
    return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

// Restores the new_handler a test installs.
struct HandlerScope {
    std::new_handler saved;
    explicit HandlerScope(std::new_handler h) : saved(std::set_new_handler(h)) {}
    ~HandlerScope() { std::set_new_handler(saved); }
    HandlerScope(const HandlerScope&) = delete;
    HandlerScope& operator=(const HandlerScope&) = delete;
};
int g_handler_calls = 0;
}  // namespace

TEST_CASE("entry points: calloc zeroes, and an overflowing product is NULL + ENOMEM",
          "[entry_points]")
{
    Fresh fresh;
    auto* p = static_cast<unsigned char*>(md::alloc_zeroed_array(100, 3));
    REQUIRE(p != nullptr);
    CHECK(md::requested_size(p) == 300);
    for (int i = 0; i < 300; ++i)
        CHECK(p[i] == 0);
    md::release(p);
    errno = 0;
    CHECK(md::alloc_zeroed_array(SIZE_MAX / 2, 3) == nullptr);
    CHECK(errno == ENOMEM);
    CHECK(md::snapshot().live_blocks == 0);
}

TEST_CASE("entry points: reallocarray overflow is NULL + ENOMEM and leaves the block alone",
          "[entry_points]")
{
    Fresh fresh;
    void* p = md::alloc(40);
    REQUIRE(p != nullptr);
    std::memset(p, 7, 40);
    errno = 0;
    CHECK(md::reallocate_array(p, SIZE_MAX / 4, 8) == nullptr);
    CHECK(errno == ENOMEM);
    CHECK(md::requested_size(p) == 40);
    CHECK(static_cast<unsigned char*>(p)[39] == 7);
    void* q = md::reallocate_array(p, 10, 8);
    REQUIRE(q != nullptr);
    CHECK(md::requested_size(q) == 80);
    CHECK(static_cast<unsigned char*>(q)[39] == 7);
    md::release(q);
    CHECK(md::snapshot().live_blocks == 0);
}

TEST_CASE("entry points: posix_memalign rejects bad alignments with EINVAL, *out untouched",
          "[entry_points]")
{
    Fresh fresh;
    void* const sentinel = reinterpret_cast<void*>(std::uintptr_t{0x1234});
    for (std::size_t align : {std::size_t{0}, std::size_t{3}, std::size_t{4}, std::size_t{24},
                              std::size_t{48}, SIZE_MAX}) {
        INFO(align);
        void* out = sentinel;
        CHECK(md::posix_memalign_into(&out, align, 64) == EINVAL);
        CHECK(out == sentinel);
    }
    for (std::size_t align = sizeof(void*); align <= (std::size_t{1} << 20); align *= 2) {
        INFO(align);
        void* out = sentinel;
        REQUIRE(md::posix_memalign_into(&out, align, 100) == 0);
        CHECK(aligned(out, align));
        CHECK(md::requested_size(out) == 100);
        md::release(out);
    }
    // Out of memory: ENOMEM returned, *out and errno untouched.
    void* out = sentinel;
    errno = 0;
    CHECK(md::posix_memalign_into(&out, 64, kHuge) == ENOMEM);
    CHECK(out == sentinel);
    CHECK(errno == 0);
    CHECK(md::snapshot().live_blocks == 0);
}

TEST_CASE("entry points: valloc is page-aligned, pvalloc rounds up to whole pages",
          "[entry_points]")
{
    Fresh fresh;
    void* v = md::alloc_page_aligned(10);
    REQUIRE(v != nullptr);
    CHECK(aligned(v, kPage));
    CHECK(md::requested_size(v) == 10);
    md::release(v);
    for (std::size_t size : {std::size_t{1}, kPage - 1, kPage, kPage + 1, 3 * kPage}) {
        INFO(size);
        void* p = md::alloc_whole_pages(size);
        REQUIRE(p != nullptr);
        CHECK(aligned(p, kPage));
        const auto rounded = static_cast<std::int64_t>((size + kPage - 1) / kPage * kPage);
        CHECK(md::requested_size(p) == rounded);
        md::release(p);
    }
    errno = 0;
    CHECK(md::alloc_whole_pages(SIZE_MAX - kPage + 2) == nullptr);  // rounding would overflow
    CHECK(errno == ENOMEM);
    CHECK(md::snapshot().live_blocks == 0);
}

TEST_CASE("entry points: reallocf frees the block when it fails", "[entry_points]")
{
    Fresh fresh;
    void* p = md::alloc(32);
    REQUIRE(p != nullptr);
    CHECK(md::snapshot().live_blocks == 1);
    errno = 0;
    CHECK(md::reallocate_or_free(p, kHuge) == nullptr);
    CHECK(errno == ENOMEM);
    CHECK(md::snapshot().live_blocks == 0);
    // Success is realloc; size 0 frees once (as realloc does), NULL is malloc.
    void* q = md::reallocate_or_free(nullptr, 16);
    REQUIRE(q != nullptr);
    q = md::reallocate_or_free(q, 64);
    REQUIRE(q != nullptr);
    CHECK(md::requested_size(q) == 64);
    CHECK(md::reallocate_or_free(q, 0) == nullptr);
    CHECK(md::snapshot().live_blocks == 0);
}

TEST_CASE("entry points: reallocarr's return values and the slot it updates", "[entry_points]")
{
    Fresh fresh;
    CHECK(md::reallocate_slot(nullptr, 1, 1) == EINVAL);
    void* slot = nullptr;
    REQUIRE(md::reallocate_slot(&slot, 10, 4) == 0);  // from NULL: an allocation
    REQUIRE(slot != nullptr);
    CHECK(md::requested_size(slot) == 40);
    void* const before = slot;
    CHECK(md::reallocate_slot(&slot, SIZE_MAX / 2, 4) == EOVERFLOW);
    CHECK(slot == before);
    errno = 0;
    CHECK(md::reallocate_slot(&slot, kHuge, 1) == ENOMEM);
    CHECK(slot == before);
    CHECK(errno == 0);
    REQUIRE(md::reallocate_slot(&slot, 25, 4) == 0);
    CHECK(md::requested_size(slot) == 100);
    CHECK(md::reallocate_slot(&slot, 0, 4) == 0);  // zero: freed, NULL stored
    CHECK(slot == nullptr);
    CHECK(md::snapshot().live_blocks == 0);
}

TEST_CASE("entry points: malloc_good_size is what the block would hold", "[entry_points]")
{
    Fresh fresh;
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{5000}}) {
        INFO(size);
        const std::size_t good = md::good_size(size);
        CHECK(good >= size);
        void* p = md::alloc(size);
        REQUIRE(p != nullptr);
        CHECK(md::usable_size(p) >= good);
        md::release(p);
    }
    CHECK(md::good_size(kHuge) == kHuge);
}

TEST_CASE("entry points: operator new retries through the new_handler, then bad_alloc or NULL",
          "[entry_points]")
{
    Fresh fresh;
    {
        HandlerScope none(nullptr);
        CHECK_THROWS_AS(md::new_block(kHuge), std::bad_alloc);
        CHECK_THROWS_AS(md::new_aligned_block(kHuge, std::align_val_t{64}), std::bad_alloc);
        CHECK(md::new_block_nothrow(kHuge) == nullptr);
        CHECK(md::new_aligned_block_nothrow(kHuge, std::align_val_t{64}) == nullptr);
    }
    {
        // A handler that gives up after three calls by removing itself.
        HandlerScope counting([] {
            if (++g_handler_calls == 3) std::set_new_handler(nullptr);
        });
        g_handler_calls = 0;
        CHECK_THROWS_AS(md::new_block(kHuge), std::bad_alloc);
        CHECK(g_handler_calls == 3);
        std::set_new_handler([] {
            if (++g_handler_calls == 3) std::set_new_handler(nullptr);
        });
        g_handler_calls = 0;
        CHECK(md::new_aligned_block_nothrow(kHuge, std::align_val_t{64}) == nullptr);
        CHECK(g_handler_calls == 3);
    }
    {
        // A throwing handler: its exception for the throwing forms, NULL for nothrow ones.
        HandlerScope throwing([] { throw std::bad_alloc(); });
        CHECK_THROWS_AS(md::new_block(kHuge), std::bad_alloc);
        CHECK(md::new_block_nothrow(kHuge) == nullptr);
    }
    void* p = md::new_aligned_block(24, std::align_val_t{256});
    REQUIRE(p != nullptr);
    CHECK(aligned(p, 256));
    md::release(p);
    CHECK(md::snapshot().live_blocks == 0);
}
