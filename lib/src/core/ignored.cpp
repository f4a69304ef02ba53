// Ignored blocks and disabled threads (see ignored.hpp). Cold path; no allocation.
#include "core/ignored.hpp"

#include "core/heap_walk.hpp"

namespace memtrack::detail {

IgnoreResult ignore_block(const void* user) noexcept
{
    if (user == nullptr) return IgnoreResult::NotABlock;
    void* p = const_cast<void*>(user);
    heap_walk_lock();
    IgnoreResult result = IgnoreResult::NotABlock;
    if (BlockHeader* h = valid_header(p); h != nullptr && !(h->size_flags & kUntracked)) {
        const std::uint64_t sf = h->size_flags;
        if (sf & kIgnored) {
            result = IgnoreResult::AlreadyIgnored;
        } else {
            // The check goes first: a reader that sees the new check before the new flags
            // finds a mismatch and takes the block for none, never a half-flagged one. Only
            // this thread (under the lock) and the block's own free touch the header.
            const std::uint64_t flagged = sf | kIgnored;
            h->check = 0;
            __atomic_store_n(&h->size_flags, flagged, __ATOMIC_RELAXED);
            __atomic_store_n(&h->check, check_of(p, flagged), __ATOMIC_RELEASE);
            result = IgnoreResult::Ignored;
        }
    }
    heap_walk_unlock();
    return result;
}

void disable_begin() noexcept
{
    ThreadState& ts = t_state;
    ts.disabled += 1;
    ts.small_limit = 0;  // every allocation takes the slow path, which flags it
}

bool disable_end() noexcept
{
    ThreadState& ts = t_state;
    if (ts.disabled == 0) return false;
    if (--ts.disabled == 0 && ts.guard == 0) ts.small_limit = g_small_limit;
    return true;
}

}  // namespace memtrack::detail
