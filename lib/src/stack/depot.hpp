// The stack depot: distinct stack -> 32-bit id. Interning runs on every tracked allocation when
// stacks are on (stack/unwind.hpp captures, then interns here): no lock, no malloc of its own
// (the depot's memory comes from mmap), one syscall only when the arena touches new pages.
// Readers (reports) are lock-free.
//
// Data model: a stack is up to kMaxDepth return addresses plus the module epoch current when it
// was first seen (stack/modules.hpp). Each distinct stack is stored once, in a node of an
// append-only arena, and linked into a chained hash table whose bucket heads are updated with
// compare-and-swap, so concurrent inserts of the same stack keep exactly one copy. Ids count
// from 1 in insertion order (0 = no stack); an id indexes a table of node pointers. Memory is
// never freed: nodes live as long as the process (LSan's StackDepot does the same).
#pragma once

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

inline constexpr int kMaxDepth = 128;
inline constexpr int kDefaultDepth = 32;

// Maps the depot's memory (virtual; pages are touched on use). Start-up only, before any
// intern; idempotent. False if the memory could not be mapped (stacks then stay off).
bool depot_reserve() noexcept;

// Interns a stack (the capture path, tests). 0 for depth 0, before depot_reserve, or when
// the depot is full. A stack seen for the first time keeps g_next_alloc_seq() (stack_first_seq).
std::uint32_t intern_stack(const std::uintptr_t* pcs, int depth, std::uint32_t epoch) noexcept;

// The depot's hash of a stack, in steps, so that the unwinder can hash each frame as it finds
// it (stack/fast_unwind.cpp) instead of walking the stack again: start from kStackHashSeed, add
// every pc in order, then end with the depth. intern_stack_hashed takes that hash; it must be
// the one these functions give for `pcs` (the depot compares stacks by hash first).
inline constexpr std::uint64_t kStackHashSeed = 0x6d656d747261636bull;
[[gnu::always_inline]] inline std::uint64_t stack_hash_add(std::uint64_t h,
                                                           std::uintptr_t pc) noexcept
{
    // Three instructions a frame (rotate, xor, multiply); the end folds the high half down, since
    // the bucket is the low bits.
    return (((h << 27) | (h >> 37)) ^ pc) * 0x9E3779B97F4A7C15ull;
}
[[gnu::always_inline]] inline std::uint64_t stack_hash_end(std::uint64_t h, int depth) noexcept
{
    return h ^ (h >> 32) ^ (static_cast<std::uint64_t>(depth) << 40);
}
std::uint32_t intern_stack_hashed(const std::uintptr_t* pcs, int depth, std::uint32_t epoch,
                                  std::uint64_t hash) noexcept;

// Set by the core at start-up, before any capture: the sequence number the allocation being
// captured is about to take (0: none). Called only when the depot stores a new stack (cold), so
// a capture that hits the memo or the depot costs nothing more. A stack captured for something
// else than an allocation (an invalid free's) keeps the next allocation's number: only sites'
// stacks are asked for theirs.
using NextAllocSeq = std::uint64_t (*)() noexcept;
inline constinit NextAllocSeq g_next_alloc_seq = nullptr;

struct StackView {
    const std::uintptr_t* pcs = nullptr;
    int depth = 0;
    std::uint32_t epoch = 0;
};
// The stack with id `id`, or an empty view for 0 / unknown ids. Lock-free; any thread.
StackView stack_of(std::uint32_t id) noexcept;

// The sequence number of the allocation that first interned stack `id` (0: none, or unknown id):
// a site's first allocation (`first_allocation` in the report). Exact with one allocating
// thread; with several, roughly (another thread may take the number between the capture and the
// allocation's own numbering, and threads that meet a new stack at once keep the number of the
// one whose node was linked first). Lock-free; any thread.
std::uint64_t stack_first_seq(std::uint32_t id) noexcept;

// Number of distinct stacks and the depot's memory (bytes mapped), for the report.
std::uint32_t stack_count() noexcept;
std::size_t depot_bytes() noexcept;

}  // namespace memtrack::detail
