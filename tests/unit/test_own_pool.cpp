// The pool of per-thread tables (platform/own_pool.hpp): many slots per own range, zeros on
// every take, slots reused after give_back.
#include "platform/own_memory.hpp"
#include "platform/own_pool.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <set>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace md = memtrack::detail;

namespace {

std::size_t own_range_count()
{
    static md::OwnRange ranges[1024];
    return md::own_ranges(ranges, 1024);
}

bool all_zero(const void* p, std::size_t n)
{
    const auto* c = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i)
        if (c[i] != 0) return false;
    return true;
}

}  // namespace

TEST_CASE("own pool: 400 slots take 7 own ranges, not 400", "[own_memory]")
{
    static md::OwnPool pool;  // never unmapped, as the unwinder's
    pool.set_slot_bytes(3 * 4096 + 100);
    REQUIRE(pool.slot_bytes() % 4096 == 0);
    REQUIRE(pool.slot_bytes() >= 3 * 4096 + 100);
    const std::size_t before = own_range_count();
    std::vector<void*> slots;
    std::set<std::uintptr_t> distinct;
    for (int i = 0; i < 400; ++i) {
        void* p = pool.take();
        REQUIRE(p != nullptr);
        CHECK(reinterpret_cast<std::uintptr_t>(p) % 4096 == 0);
        CHECK(all_zero(p, pool.slot_bytes()));
        std::memset(p, 0xab, pool.slot_bytes());  // no slot overlaps another or the links
        slots.push_back(p);
        distinct.insert(reinterpret_cast<std::uintptr_t>(p));
    }
    CHECK(distinct.size() == 400);
    for (void* p : slots)
        CHECK(static_cast<unsigned char*>(p)[pool.slot_bytes() - 1] == 0xab);
    CHECK(own_range_count() - before == 7);  // slabs of 8, 8, 16, 32, 64, 128, 256 slots
    CHECK(pool.usage().taken == 400);
    CHECK(pool.usage().slots == 512);

    // Given back, the slots are handed out again, reading zeros, with no new slab.
    for (void* p : slots)
        pool.give_back(p);
    pool.give_back(nullptr);
    pool.give_back(static_cast<char*>(slots[0]) + 8);  // not a slot's start: ignored
    CHECK(pool.usage().taken == 0);
    for (int i = 0; i < 400; ++i) {
        void* p = pool.take();
        REQUIRE(p != nullptr);
        CHECK(distinct.count(reinterpret_cast<std::uintptr_t>(p)) == 1);
        CHECK(all_zero(p, pool.slot_bytes()));
    }
    CHECK(own_range_count() - before == 7);
    CHECK(pool.usage().taken == 400);
}

TEST_CASE("own pool: a forked child gives back the slots of the threads it does not have",
          "[own_memory][fork]")
{
    static md::OwnPool pool;
    pool.set_slot_bytes(4096);
    void* a = pool.take();
    void* b = pool.take();
    void* c = pool.take();
    REQUIRE((a != nullptr && b != nullptr && c != nullptr));
    std::memset(a, 1, 4096);
    std::memset(b, 2, 4096);
    std::memset(c, 3, 4096);
    pool.give_back(c);
    pool.give_back(c);  // not taken any more: ignored
    REQUIRE(pool.usage().taken == 2);
    pool.prepare_fork();
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // b is the forking thread's; a belonged to a thread the child does not have.
        pool.after_fork();
        pool.release_others_in_child(b);
        const bool ok = pool.usage().taken == 1 && all_zero(a, 4096) &&
                        static_cast<unsigned char*>(b)[4095] == 2 && pool.take() != nullptr &&
                        pool.take() != nullptr && pool.usage().taken == 3;
        _exit(ok ? 0 : 1);
    }
    pool.after_fork();
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    // The parent keeps both.
    CHECK(pool.usage().taken == 2);
    CHECK(static_cast<unsigned char*>(a)[0] == 1);
}
