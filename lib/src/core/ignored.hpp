// Blocks the leak checker must never report: objects the program ignored (memtrack_ignore,
// __lsan_ignore_object) and blocks allocated while their thread had the check disabled
// (memtrack_disable_begin, __lsan_disable). Cold path only; the inline allocation path is
// untouched.
//
// Where the state lives. An ignored block carries the header flag kIgnored (block.hpp, bit 52,
// one of the four free flag bits): the heap sweep reads it with the rest of the header, so the
// scan needs no lookup per block, and the flag dies with the block (free clears the check), so
// a later block at the same address is never ignored by mistake, which a side table keyed by
// address would have to handle at every free. The cost lands on the flagged blocks only: the
// flag is mixed into the check like every flag, so their free takes release_slow (one extra
// compare and call) instead of the inline path.
//
// Disabled threads. LSan ignores every block a thread allocates between __lsan_disable and
// __lsan_enable. Testing a per-thread counter on the inline path would cost every allocation a
// load and a branch (the bench-gate measures them), so instead a disabled thread keeps its
// small_limit at 0, as the reentrancy guard does: each of its allocations then takes the slow
// path, which already reads the thread state, and flags the block there (flags_for and
// reallocate in block.cpp). That is exact (no allocation of a disabled thread can reach the
// inline path, whose only door is the small_limit compare) and costs nothing to threads that
// never disable; a disabled thread pays the slow path, as with stacks on.
//
// Setting the flag on a live block rewrites two header words (size_flags and the check). It is
// done under heap_walk_lock, which the scan holds across its whole stop-the-world, so no scan
// sees a half-written header. Another thread freeing the block at the same moment is a
// use-after-free of the program's.
#pragma once

#include "core/block.hpp"

#include <cstdint>

namespace memtrack::detail {

// kIgnored while this thread has the leak check disabled, else 0 (for the slow paths).
inline std::uint64_t disabled_flag() noexcept
{
    return t_state.disabled != 0 ? kIgnored : 0;
}

enum class IgnoreResult { Ignored, AlreadyIgnored, NotABlock };

// Flags the live tracked block whose user pointer is `user` (the start of the block, as
// malloc returned it) as ignored. Takes heap_walk_lock; any thread outside the guard.
IgnoreResult ignore_block(const void* user) noexcept;

// Per-thread nesting of the disabled state. disable_end returns false (and changes nothing)
// when the thread was not disabled. The calling thread only; no lock.
void disable_begin() noexcept;
bool disable_end() noexcept;

}  // namespace memtrack::detail
