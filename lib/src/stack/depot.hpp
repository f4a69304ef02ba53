// Allocation stacks: capture (libunwind) and the stack depot (distinct stack -> 32-bit id).
// capture_stack runs on every tracked allocation when stacks are on (the slow allocation path
// in that mode): no lock, no malloc of its own (the depot's memory comes from mmap), one
// syscall only when the depot grows (a new 1 MiB chunk). Readers (reports) are lock-free.
//
// Data model: a stack is up to kMaxDepth return addresses plus the module epoch current when it
// was first seen (stack/modules.hpp). Each distinct stack is stored once, in a node of an
// append-only arena, and linked into a chained hash table whose bucket heads are updated with
// compare-and-swap, so concurrent inserts of the same stack keep exactly one copy. Ids count
// from 1 in insertion order (0 = no stack); an id indexes a table of node pointers. Memory is
// never freed: nodes live as long as the process (LSan's StackDepot does the same).
#pragma once

#ifndef UNW_LOCAL_ONLY
#define UNW_LOCAL_ONLY
#endif
#include <libunwind.h>

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

inline constexpr int kMaxDepth = 128;
inline constexpr int kDefaultDepth = 32;

// Sets the capture depth (0 = stacks off). Start-up only, before any capture.
void set_stack_depth(int depth) noexcept;
int stack_depth() noexcept;

// memtrack's own frames at the start of a captured stack, at most (the allocation entry point
// and the slow path; one more through some C++ operators): unwound, then dropped.
inline constexpr int kOwnFrames = 4;
// Frames to unwind per capture: the depth plus kOwnFrames; 0 = stacks off. Set with the depth.
inline constinit int g_unwind_frames = 0;

// The second half of capture_stack: drops memtrack's own leading frames of the `got` return
// addresses in `raw` and interns the rest.
std::uint32_t intern_captured(void* const* raw, int got) noexcept;

// Captures the caller's stack (memtrack's own frames dropped) and returns its depot id, 0 if
// stacks are off or the depot is full. Caller holds the reentrancy Guard (libunwind may
// allocate on first use). Always inlined: a frame of its own would be one more for libunwind
// to walk on every allocation (about 80 instructions).
[[gnu::always_inline]] inline std::uint32_t capture_stack() noexcept
{
    const int frames = g_unwind_frames;
    if (frames == 0) return 0;
    void* raw[kMaxDepth + kOwnFrames];
    return intern_captured(raw, unw_backtrace(raw, frames));
}

// Interns an explicit stack (tests; also the capture path). 0 for depth 0.
std::uint32_t intern_stack(const std::uintptr_t* pcs, int depth, std::uint32_t epoch) noexcept;

struct StackView {
    const std::uintptr_t* pcs = nullptr;
    int depth = 0;
    std::uint32_t epoch = 0;
};
// The stack with id `id`, or an empty view for 0 / unknown ids. Lock-free; any thread.
StackView stack_of(std::uint32_t id) noexcept;

// Number of distinct stacks and the depot's memory (bytes mapped), for the report.
std::uint32_t stack_count() noexcept;
std::size_t depot_bytes() noexcept;

}  // namespace memtrack::detail
