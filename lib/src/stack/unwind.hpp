// Stack capture: libunwind walks the calling thread's stack, memtrack's own leading frames are
// dropped, and the rest is interned in the depot (stack/depot.hpp). Runs on every tracked
// allocation when stacks are on (the slow allocation path in that mode): no lock, no malloc of
// its own; the caller holds the reentrancy Guard (libunwind may allocate on first use).
#pragma once

#ifndef UNW_LOCAL_ONLY
#define UNW_LOCAL_ONLY
#endif
#include <libunwind.h>

#include "stack/depot.hpp"

#include <cstdint>

namespace memtrack::detail {

// Sets the capture depth (0 = stacks off; above kMaxDepth = kMaxDepth), reserves the depot and
// makes libunwind create its pthread key. Start-up only (inside the guard), before any capture.
// If the depot cannot be mapped, stacks stay off.
void set_stack_depth(int depth) noexcept;
// Frames recorded per stack; 0 = stacks off. Any thread.
int stack_depth() noexcept;

// The own-frame allowance: a contract between this unwinder and the allocation slow path
// (core/block.cpp). A capture starts in memtrack's code and walks at most this many frames of
// libmemtrack.so before the program's first frame: the exported entry point (preload/), the
// slow allocation function, and one more through some C++ operators (new_retry). The slow path
// keeps its side by inlining capture_stack and the helpers that lead to it (stack_for,
// write_block are always_inline): a new frame between the entry point and capture_stack must
// raise kOwnFrames, or stacks lose their deepest program frame. tests/unit checks that every
// entry point gives stacks of exactly the asked depth, starting at the allocating function.
inline constexpr int kOwnFrames = 4;
// Frames to unwind per capture: the depth plus kOwnFrames; 0 = stacks off. Set with the depth.
inline constinit int g_unwind_frames = 0;

// The second half of capture_stack: drops memtrack's own leading frames of the `got` return
// addresses in `raw` and interns the rest (at most stack_depth() frames).
std::uint32_t intern_captured(void* const* raw, int got) noexcept;

// The stack pointer of the innermost call of `function` (an exported symbol, e.g. "exit") on
// the calling thread's stack: its caller's stack pointer at the call, i.e. the lowest address
// of the frames that called it. 0 when no frame is in `function`. Cold (walks the stack with
// libunwind, dladdr per frame); the caller holds the Guard.
std::uintptr_t stack_pointer_at_call_of(const char* function) noexcept;

// Captures the caller's stack (memtrack's own frames dropped) and returns its depot id, 0 if
// stacks are off or the depot is full. Always inlined: a frame of its own would be one more
// for libunwind to walk on every allocation (about 80 instructions).
[[gnu::always_inline]] inline std::uint32_t capture_stack() noexcept
{
    const int frames = g_unwind_frames;
    if (frames == 0) return 0;
    void* raw[kMaxDepth + kOwnFrames];
    return intern_captured(raw, unw_backtrace(raw, frames));
}

}  // namespace memtrack::detail
