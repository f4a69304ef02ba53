// Stack capture: the calling thread's stack is unwound (a per-thread memo, compact rules from
// .eh_frame, libunwind for the rest: stack/fast_unwind.cpp), memtrack's own leading frames are
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
// (core/block.cpp). A capture starts in memtrack's code (capture_stack_slow) and steps the
// frames of libmemtrack.so up to the program's first frame with the compact rules: the exported
// entry point (preload/), the slow allocation function, and up to two more (new_retry, and the
// glibc entry points of core/entry_points: valloc -> alloc_page_aligned -> alloc_memalign). Those
// frames are stepped, never recorded, whatever their number (up to 16). When a stack is left to
// libunwind (frames the rules cannot express), it is asked for the depth plus the own frames
// counted so far, or plus kOwnFrames when none were counted yet. The slow path keeps its side by
// inlining capture_stack and the helpers that lead to it (stack_for, write_block are
// always_inline). tests/integration checks that every entry point gives stacks of exactly the asked
// depth, starting at the allocating function.
inline constexpr int kOwnFrames = 4;
// Nonzero when stacks are on (the depth plus kOwnFrames). Set with the depth.
inline constinit int g_unwind_frames = 0;
// memtrack's own code: leading frames in [g_self_lo, g_self_hi) are dropped from stacks. Empty
// in a program that links the core statically (the unit tests). Set with the depth.
inline constinit std::uintptr_t g_self_lo = 0;
inline constinit std::uintptr_t g_self_hi = 0;

// The capture (stack/fast_unwind.cpp): the stack of capture_stack_slow's caller, memtrack's own
// frames dropped, interned; its depot id, 0 if stacks are off or the depot is full. The caller
// holds the reentrancy Guard. Not inlined: the unwind starts in its own frame.
[[gnu::noinline]] std::uint32_t capture_stack_slow() noexcept;

// The same capture when the caller knows the registers of the program's frame that called the
// allocation function: `ra` its return address (not in memtrack's code), `sp` the stack
// pointer after that call returns, `bp` its rbp. No own frame is stepped. Stacks on; the
// caller holds the Guard.
[[gnu::noinline]] std::uint32_t capture_stack_from(std::uintptr_t ra, std::uintptr_t sp,
                                                   std::uintptr_t bp) noexcept;

// Start-up, with the depth (set_stack_depth): sizes the per-thread memo.
void unwind_setup(int depth) noexcept;

// MEMTRACK_UNWIND_CHECK: when on, every capture also asks unw_backtrace and counts the stacks
// that differ. Set at start-up, before any capture; read any time (relaxed counters).
void set_unwind_check(bool on) noexcept;
struct UnwindCheck {
    bool on = false;
    std::uint64_t stacks = 0;       // captures compared
    std::uint64_t differences = 0;  // of those, stacks unlike unw_backtrace's
};
UnwindCheck unwind_check() noexcept;

// The capture's per-thread tables (memo, rule cache, own-frame chains): their size, and the
// captures a thread without them made (its tables could not be mapped: every capture is then a
// full libunwind backtrace, many times slower). Any thread, any time (a relaxed counter).
struct UnwindTables {
    std::uint64_t thread_bytes = 0;    // memory per thread that captures; 0 = stacks off
    std::uint64_t without_tables = 0;  // captures of threads that had no tables
};
UnwindTables unwind_tables() noexcept;

// fork: the prepare handler takes the lock of the tables' pool (thread start and exit take it),
// after every other lock of memtrack's: the pool's holder takes none. The parent releases it;
// the child releases it and gives back the tables of the threads it does not have.
void unwind_prepare_fork() noexcept;
void unwind_after_fork() noexcept;
void unwind_child_after_fork() noexcept;

// The stack pointer of the innermost call of `function` (an exported symbol, e.g. "exit") on
// the calling thread's stack: its caller's stack pointer at the call, i.e. the lowest address
// of the frames that called it. 0 when no frame is in `function`. Cold (walks the stack with
// libunwind, dladdr per frame); the caller holds the Guard.
std::uintptr_t stack_pointer_at_call_of(const char* function) noexcept;

// Captures the caller's stack (memtrack's own frames dropped) and returns its depot id, 0 if
// stacks are off or the depot is full. Inlined: one load and a call when stacks are on.
[[gnu::always_inline]] inline std::uint32_t capture_stack() noexcept
{
    if (g_unwind_frames == 0) return 0;
    return capture_stack_slow();
}

}  // namespace memtrack::detail
