// Invalid and double frees (see invalid_frees.hpp). Cold path.
//
// What survives of a block memtrack freed: mimalloc 2.0.9 (release build) writes its free-list
// link into the block's first word only, which is the header's size_flags (with the sequence
// number's low bits); aux (the allocation stack id) and the cleared check word stay until the
// block is handed out again. So a double free still shows its allocation stack when stacks
// are on, but not its sequence number. Once the block is reused its header is valid again and
// a second free frees the new block: no allocator that reuses memory can tell that case (glibc's
// tcache cannot either).
#include "core/invalid_frees.hpp"

#include "core/block.hpp"
#include "stack/depot.hpp"
#include "stack/unwind.hpp"

#include <atomic>
#include <mimalloc.h>

namespace memtrack::detail {

namespace {

constinit std::atomic<bool> g_lock{false};
constinit InvalidFreeSite g_sites[kMaxInvalidFreeSites]{};
constinit std::size_t g_count = 0;
constinit std::uint64_t g_total = 0;

class SpinLock {
public:
    SpinLock() noexcept
    {
        while (g_lock.exchange(true, std::memory_order_acquire))
            while (g_lock.load(std::memory_order_relaxed))
                __builtin_ia32_pause();
    }
    ~SpinLock() { g_lock.store(false, std::memory_order_release); }
    SpinLock(const SpinLock&) = delete;
    SpinLock& operator=(const SpinLock&) = delete;
};

}  // namespace

bool classify_invalid_free(void* p, InvalidFreeKind& kind, std::uint32_t& alloc_stack) noexcept
{
    alloc_stack = 0;
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    // Not memtrack's heap: allocated before it loaded, by another allocator, or one of
    // mimalloc's huge blocks mapped outside its region map (about 1 GiB and more).
    if (!mi_is_in_heap_region(p)) return false;
    if ((addr & 15) != 0 || (addr & 4095) < kHeaderSize) {
        // Every block memtrack hands out is 16-aligned; one at a page start has its header in
        // the page before, which may belong to another mapping.
        if ((addr & 15) != 0 || !mi_is_in_heap_region(reinterpret_cast<void*>(addr - 16))) {
            kind = InvalidFreeKind::InvalidPointer;
            return true;
        }
    }
    const BlockHeader* h = header_of(p);
    if (h->check != 0) {
        kind = InvalidFreeKind::InvalidPointer;
        return true;
    }
    kind = InvalidFreeKind::DoubleFree;
    // aux's stack id is meaningful only where every block's header is written by the slow
    // path (stacks on); an id the depot never gave is left out.
    if (stack_depth() > 0) {
        const std::uint32_t id = h->aux & kStackIdMask;
        if (id != 0 && id <= stack_count()) alloc_stack = id;
    }
    return true;
}

std::uint64_t note_invalid_free(void* p, InvalidFreeKind kind, std::uint32_t alloc_stack) noexcept
{
    std::uint32_t free_stack = 0;
    {
        Guard guard;  // the capture may allocate (libunwind's first use in a thread)
        free_stack = capture_stack();
    }
    SpinLock lock;
    ++g_total;
    for (std::size_t i = 0; i < g_count; ++i) {
        InvalidFreeSite& s = g_sites[i];
        if (s.kind == kind && s.free_stack == free_stack && s.alloc_stack == alloc_stack) {
            ++s.count;
            return g_total;
        }
    }
    if (g_count < kMaxInvalidFreeSites) {
        g_sites[g_count++] = {kind, free_stack, alloc_stack, 1,
                              reinterpret_cast<std::uintptr_t>(p)};
        return g_total;
    }
    // The table is full: the rest go into one entry without stacks.
    InvalidFreeSite& rest = g_sites[kMaxInvalidFreeSites - 1];
    rest.free_stack = 0;
    rest.alloc_stack = 0;
    ++rest.count;
    return g_total;
}

std::size_t copy_invalid_frees(InvalidFreeSite* out, std::size_t max,
                               std::uint64_t* total) noexcept
{
    SpinLock lock;
    const std::size_t n = g_count < max ? g_count : max;
    for (std::size_t i = 0; i < n; ++i)
        out[i] = g_sites[i];
    if (total != nullptr) *total = g_total;
    return n;
}

void invalid_frees_child_after_fork() noexcept
{
    g_lock.store(false, std::memory_order_relaxed);
    g_count = 0;
    g_total = 0;
}

}  // namespace memtrack::detail
