// The interior pointers the leak scan counts as references (leaks/scan_rules.hpp, issue 10),
// on memory laid out by hand and on real C++ objects: each rule's positive case and the near
// misses that must stay "possible".
#include "leaks/scan_rules.hpp"
#include "platform/maps.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <new>

namespace md = memtrack::detail;

namespace {

std::uintptr_t addr(const void* p)
{
    return reinterpret_cast<std::uintptr_t>(p);
}

const md::ModuleImages& images()
{
    static md::ModuleImages im;
    static bool built = false;
    if (!built) {
        md::ScratchVector<md::Mapping> maps;
        REQUIRE(md::read_maps(maps));
        im.build(maps);
        built = true;
    }
    return im;
}

md::InteriorRule rule(const void* user, std::size_t offset, std::uint64_t size)
{
    return md::interior_rule(addr(user) + offset, addr(user), size, images());
}

struct First {
    virtual ~First() = default;
    long first = 1;
};
struct Second {
    virtual long get() const { return second; }
    long second = 2;
};
struct Both : First, Second {
    long get() const override { return 3; }
};

}  // namespace

TEST_CASE("issue 10: tagged pointers are a block's start with some of its low 3 bits set",
          "[scan][interior]")
{
    const std::uintptr_t user = 0x7f0000001000;
    CHECK(md::tagged_start(user + 1, user));
    CHECK(md::tagged_start(user + 7, user));
    CHECK_FALSE(md::tagged_start(user, user));      // the start itself
    CHECK_FALSE(md::tagged_start(user + 8, user));  // a field's address
    CHECK_FALSE(md::tagged_start(user + 9, user));
}

TEST_CASE("issue 10: an array cookie is a count n below the pointer that divides the rest",
          "[scan][interior]")
{
    alignas(64) static std::uint64_t words[64];
    std::memset(words, 0, sizeof words);
    words[0] = 3;  // new T[3] of a 24-byte T: 8 + 72 bytes
    CHECK(rule(words, 8, 80) == md::InteriorRule::ArrayCookie);
    CHECK(rule(words, 8, 81) == md::InteriorRule::None);  // 73 is no multiple of 3
    words[0] = 0;
    CHECK(rule(words, 8, 80) == md::InteriorRule::None);  // no elements
    // Over-aligned: alignas(64) T, the count in the word below start + 64.
    words[7] = 2;
    CHECK(rule(words, 64, 64 + 128) == md::InteriorRule::ArrayCookie);
    CHECK(rule(words + 2, 48, 48 + 128) == md::InteriorRule::None);  // 48: no power of two
    // start + 32 of a block that is not 32-aligned: no over-aligned new[] gave it.
    words[2 + 3] = 2;
    CHECK(rule(words + 2, 32, 32 + 64) == md::InteriorRule::None);
    CHECK(rule(words, 64, 64) == md::InteriorRule::None);  // no room for any element
}

TEST_CASE("issue 10: an old-ABI string is {length, capacity, refcount} and capacity + 1 chars",
          "[scan][interior]")
{
    alignas(16) static std::uint64_t rep[32];
    std::memset(rep, 0, sizeof rep);
    rep[0] = 5;    // length
    rep[1] = 100;  // capacity
    CHECK(rule(rep, 24, 24 + 100 + 1) == md::InteriorRule::OldString);
    CHECK(rule(rep, 24, 24 + 100 + 2) == md::InteriorRule::None);
    rep[0] = 101;  // longer than its capacity
    CHECK(rule(rep, 24, 24 + 100 + 1) == md::InteriorRule::None);
}

TEST_CASE("issue 10: a secondary base is a vtable pointer whose offset-to-top is its offset",
          "[scan][interior]")
{
    alignas(16) static unsigned char storage[sizeof(Both) + 64];
    Both* both = new (storage) Both;
    Second* second = both;
    const std::size_t d = addr(second) - addr(both);
    REQUIRE(d == 16);
    CHECK(rule(both, d, sizeof(Both)) == md::InteriorRule::SecondaryBase);
    CHECK(rule(both, 8, sizeof(Both)) == md::InteriorRule::None);  // First::first, not a vptr
    // The same vtable pointer 16 bytes further in: its offset-to-top (-16) is not -32.
    alignas(64) static std::uint64_t copy[8];
    std::memcpy(copy, storage, 32);
    std::memcpy(copy + 4, storage + 16, 8);
    copy[3] = 7;  // below start + 32: no element count that divides the rest either
    CHECK(rule(copy, 32, sizeof copy) == md::InteriorRule::None);
    // A block whose first word is no vtable pointer.
    std::memcpy(copy, storage, 32);
    copy[0] = 12345;
    copy[1] = 7;
    CHECK(rule(copy, 16, sizeof copy) == md::InteriorRule::None);
    copy[0] = reinterpret_cast<const std::uint64_t*>(storage)[0];
    CHECK(rule(copy, 16, sizeof copy) == md::InteriorRule::SecondaryBase);
    both->~Both();
}
