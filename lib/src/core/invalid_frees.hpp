// Invalid and double frees (issue 11): free() of a pointer into memtrack's heap that is not a
// live block memtrack handed out. Cold path, reached from free_foreign only (block.cpp): a
// spinlock around a fixed table of distinct sites, no allocation of its own (the stack capture
// runs under the Guard). Pointers outside memtrack's heap (allocated before memtrack loaded,
// or by another allocator) are not invalid here: they stay counted in foreign_frees.
#pragma once

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

enum class InvalidFreeKind : std::uint8_t {
    // The block's header says memtrack freed it (its check word is cleared at every free): a
    // double free, or a free of a pointer whose block was freed through another pointer (or a
    // pointer into a block whose 8 bytes before it happen to be zero: it reads the same).
    DoubleFree,
    // In memtrack's heap but not the start of a block memtrack handed out: a pointer into a
    // block, misaligned, or a block whose header the program overwrote.
    InvalidPointer,
};

// One distinct site: the kind, the stack of the free and, for a double free, the allocation
// stack its header still holds (stack ids of stack/depot.hpp; 0 = none recorded).
struct InvalidFreeSite {
    InvalidFreeKind kind = InvalidFreeKind::DoubleFree;
    std::uint32_t free_stack = 0;
    std::uint32_t alloc_stack = 0;
    std::uint64_t count = 0;
    std::uintptr_t first_pointer = 0;  // the pointer of the site's first free
};

// Sites kept; further distinct sites are counted in the last entry's kind with stack 0.
inline constexpr std::size_t kMaxInvalidFreeSites = 64;

// The kind of a free of p that failed the header check, or false for a pointer memtrack does
// not own (foreign: count it). Reads the 16 bytes before p only inside mimalloc's heap.
bool classify_invalid_free(void* p, InvalidFreeKind& kind, std::uint32_t& alloc_stack) noexcept;

// Records one invalid free of p at the calling stack (captured here when stacks are on);
// returns the number of invalid frees so far. Any thread; not inside the Guard.
std::uint64_t note_invalid_free(void* p, InvalidFreeKind kind, std::uint32_t alloc_stack) noexcept;

// Copies up to max sites (in the order first seen) into out; returns how many. Total count of
// invalid frees in *total. Any thread (the report).
std::size_t copy_invalid_frees(InvalidFreeSite* out, std::size_t max,
                               std::uint64_t* total) noexcept;

// A forked child starts its own run: no sites, the lock free (its holder is not in the child).
void invalid_frees_child_after_fork() noexcept;

}  // namespace memtrack::detail
