// Per-site aggregates (a site is an allocation stack: a depot id) and the exact attribution of
// the heap peak to sites (issue 10). The inline site_alloc/site_free run on the slow allocation
// path and the free of a sited block, which only full mode (stacks on) takes: no lock, no
// syscall, no shared write per event. Everything else is cold and takes the site lock.
//
// Data model. Each thread counts its events per site in a shard: a direct-mapped table of
// kShardSlots deltas (slot = id mod kShardSlots) in mimalloc memory (not a root of the leak
// scan; it holds no pointers). A thread without one (new, retired, or its shard could not be
// had) points at g_no_shard, whose slots match no id: the hot lookups test no pointer, and
// their miss (site_miss) counts the event in the table. The process table holds one 64-byte
// SiteEntry per depot id, in chunks mapped on first use; a shard's deltas reach it only under
// the site lock: when the thread's heap batch folds (counters.hpp: so the unfolded part of a
// shard nets to less than kFoldBytes, the heap's own bound), when a slot is claimed by another
// id, at a new peak, at thread exit and when a report or API call reads the sites.
//
// The peak (memray's HighWaterMarkAggregator, lazy rebase). The heap only grows between frees,
// so its maximum is always reached just before some free. Each sited free first compares the
// heap level (folded total + the thread's batch) with the level recorded at the last peak; if
// higher, a new peak was reached: the thread folds its shard and the peak epoch moves on. An
// entry keeps its live amount, its amount at the peak and the epoch it last saw; the first
// time a delta reaches it after the epoch moved, it copies live into at-peak. An entry's share
// of the peak is then `tag == epoch ? at-peak : live`. O(1) per event, no copy of the table at
// a peak (DHAT and Fil copy every site at each new peak: quadratic on growing programs).
// With one thread the shares sum to heap.peak_bytes to the byte, since every block is sited
// (site 0 holds blocks with no stack). With several, another thread's unfolded deltas count
// after the peak they preceded: the sum is off by less than kFoldBytes per other thread, as
// the heap peak itself. memtrack_reset_peak() records the level at the reset as the peak, so
// the shares are those of the peak since the reset.
//
// Temporary allocations follow heaptrack's rule: a block freed by the thread that allocated it,
// with no other allocation or free of that thread in between (every free forgets the thread's
// last allocation).
#pragma once

#include "core/counters.hpp"

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

// 256: the slot is the id's low byte (one movzbl), and a uint8_t indexes the dirty list.
inline constexpr std::uint32_t kShardSlots = 256;

// The `stack` of a shard slot that holds no deltas (ids are below 2^24): a slot is in use, and
// in the dirty list, exactly when its stack is an id, so the lookup is one compare.
inline constexpr std::uint32_t kNoSite = 0xffffffffu;

struct SiteDelta {
    std::uint32_t stack = kNoSite;
    std::uint32_t spare0 = 0;
    std::uint64_t spare1 = 0;  // to 64 bytes: a slot is found with a shift
    std::uint64_t allocs = 0;
    std::uint64_t frees = 0;
    std::uint64_t bytes_allocated = 0;
    std::uint64_t bytes_freed = 0;  // live bytes are bytes_allocated - bytes_freed
    std::uint64_t temporary = 0;
    std::uint64_t largest = 0;
};

static_assert(sizeof(SiteDelta) == 64);

struct SiteShard {
    SiteDelta slots[kShardSlots];
    std::uint8_t dirty[kShardSlots] = {};  // slot indices in use, in claim order
    std::uint32_t ndirty = 0;
};

// Whether sites are built in (CMake MEMTRACK_SITES, ON by default; OFF only to measure what
// they cost: blocks are then never sited and the hot paths have no site code).
#ifdef MEMTRACK_NO_SITES
inline constexpr bool kSitesBuilt = false;
#else
inline constexpr bool kSitesBuilt = true;
#endif

// Whether new tracked blocks get the kSited flag and a site (block.hpp). On until start-up
// reads the configuration, so that blocks allocated before it are sited too (site 0); then
// on exactly when stacks are on. Written at start-up only.
inline constinit bool g_sites_on = true;

// The heap level at the recorded peak (folded total + the recording thread's batch). Written
// under the site lock.
inline constinit std::atomic<std::int64_t> g_site_peak_level{0};

// The sited free's peak test in one value: g_site_peak_level - g_folded_current, so that a
// thread's batch above it is a heap level above the recorded peak. Every change of either side
// is applied to it as an atomic add (the folds of counters.cpp, record_peak_locked), so no
// update is lost; a reader between a fold's two adds sees it off by that one fold, as it would
// see the two values themselves. Read racily by every sited free.
inline constinit std::atomic<std::int64_t> g_site_room{0};

// The fold of counters.cpp moved `delta` into g_folded_current.
inline void sites_on_fold(std::int64_t delta) noexcept
{
    if constexpr (kSitesBuilt) g_site_room.fetch_sub(delta, std::memory_order_relaxed);
}

// Whether the heap level (folded total + this thread's batch) is above the recorded peak. On
// x86-64 one compare with the value in memory (a relaxed load is a plain mov there, but the
// compiler will not fold an atomic load into the compare).
inline bool above_site_peak(const ThreadState& ts) noexcept
{
#if defined(__x86_64__)
    bool above;
    asm("cmpq %2, %1" : "=@ccg"(above) : "r"(ts.pending), "m"(g_site_room));
    return above;
#else
    return ts.pending > g_site_room.load(std::memory_order_relaxed);
#endif
}

// The key of a block in ThreadState::last_alloc: its user address - 8, a word inside its
// header. A thread's TLS is a root of the leak scan, and the block's own address there would
// make a leaked block reachable; the key is never a block's start, a tagged start or inside a
// block (scan_rules.hpp), and costs nothing to form: the sited paths have the header address
// at hand.
inline std::uintptr_t alloc_key(const void* user) noexcept
{
    return reinterpret_cast<std::uintptr_t>(user) - 8;
}

// Cold halves. site_miss counts an event whose site is not in the thread's shard (another
// site's slot, or the thread has no shard: g_no_shard): it claims the slot or counts in the
// table.
[[gnu::noinline]] void site_miss(ThreadState& ts, std::uint32_t stack, std::size_t size,
                                 bool alloc, bool temporary) noexcept;
[[gnu::noinline]] void site_peak_slow(ThreadState& ts) noexcept;

// The slot of `stack` in a shard (it holds that site's deltas only if its stack is `stack`).
inline SiteDelta& shard_slot(SiteShard* shard, std::uint32_t stack) noexcept
{
    static_assert(kShardSlots == 256 && sizeof(SiteDelta) == 64);
    const std::uintptr_t offset = std::uintptr_t{static_cast<std::uint8_t>(stack)} << 6;
    return *reinterpret_cast<SiteDelta*>(reinterpret_cast<char*>(shard->slots) + offset);
}

// An allocation of `size` bytes at `user` from site `stack`, after the heap counted it.
// Hot in full mode: a slot lookup and four plain updates.
inline void site_alloc(std::uint32_t stack, std::size_t size, const void* user) noexcept
{
    ThreadState& ts = t_state;
    ts.last_alloc = alloc_key(user);
    SiteDelta& d = shard_slot(ts.sites, stack);
    if (d.stack != stack) [[unlikely]]
        return site_miss(ts, stack, size, true, false);
    d.allocs += 1;
    d.bytes_allocated += size;
    if (size > d.largest) d.largest = size;
}

// Whether the free of `user` is temporary (heaptrack's rule, above); forgets the thread's last
// allocation (the address may come back from another thread's allocation). Once per sited free.
inline bool take_temporary(ThreadState& ts, const void* user) noexcept
{
    const bool temporary = alloc_key(user) == ts.last_alloc;
    ts.last_alloc = 0;
    return temporary;
}

// A free's counts in a slot, its temporary test done (site_miss).
inline void count_free(SiteDelta& d, std::size_t size, bool temporary) noexcept
{
    d.frees += 1;
    d.bytes_freed += size;
    d.temporary += temporary ? 1 : 0;
}

// A free's counts in its site's slot (site_free, and release_sited of core/block.hpp): count_free
// with take_temporary folded in. The difference
// of the keys is 0 exactly for a temporary free, and on x86-64 the count adds the carry of
// `difference < 1` (cmp, adc: the compiler would materialise a bool with sete and movzbl).
inline void count_free_taking(ThreadState& ts, SiteDelta& d, std::size_t size,
                              const void* user) noexcept
{
    const std::uintptr_t difference = alloc_key(user) ^ ts.last_alloc;
    ts.last_alloc = 0;
    d.frees += 1;
    d.bytes_freed += size;
#if defined(__x86_64__)
    asm("cmpq $1, %1\n\tadcq $0, %0" : "+m"(d.temporary) : "r"(difference) : "cc");
#else
    d.temporary += difference == 0 ? 1 : 0;
#endif
}

// A free of a sited block, before the heap counts it: the peak test (one relaxed load of a
// line written only at folds and peaks), a slot lookup, three updates. release_sited of
// core/block.hpp does the same inline.
inline void site_free(std::uint32_t stack, std::size_t size, const void* user) noexcept
{
    ThreadState& ts = t_state;
    if (above_site_peak(ts)) [[unlikely]]
        site_peak_slow(ts);
    SiteDelta& d = shard_slot(ts.sites, stack);
    if (d.stack != stack) [[unlikely]]
        return site_miss(ts, stack, size, false, take_temporary(ts, user));
    count_free_taking(ts, d, size, user);
}

// Moves the calling (or a stopped) thread's shard into the table. Takes the site lock.
void sites_fold(ThreadState& ts) noexcept;
// Thread exit: folds the shard and frees it; later events of the thread go to the table.
void sites_retire(ThreadState& ts) noexcept;
// memtrack_reset_peak(): the level now is the recorded peak; its shares are the live amounts.
// The shares of the peak before it are kept if that is the highest so far (copy_sites).
void sites_reset_peak() noexcept;

// One site as reports and the API read it.
struct SiteRecord {
    std::uint32_t stack = 0;
    std::uint64_t allocations = 0;
    std::uint64_t frees = 0;
    std::uint64_t bytes_allocated = 0;
    std::int64_t peak_bytes = 0;
    std::int64_t peak_blocks = 0;
    std::int64_t live_bytes = 0;
    std::int64_t live_blocks = 0;
    std::uint64_t temporary = 0;
    std::uint64_t largest_bytes = 0;
};

struct SiteTableInfo {
    std::uint64_t sites = 0;        // entries with any count
    std::uint64_t table_bytes = 0;  // memory of the process table (mapped chunks)
    std::uint64_t entry_bytes = 0;  // per site (sizeof SiteEntry)
    std::uint64_t shard_bytes = 0;  // per allocating thread
    std::int64_t peak_level = 0;    // the heap level the peak shares add up to
};

// Copies at most `max` sites with any count into `out` (ascending ids) after folding the
// calling thread's shard and recording the level now as the peak if it is higher (the heap may
// not have fallen from it yet). Peak values: the peak since start or the last reset, or with
// `lifetime` the highest peak since start (the report's heap.peak_bytes): memtrack_reset_peak()
// keeps the shares of the peak before it when that one is the highest so far (O(sites) per
// reset). Returns the number of such sites (may exceed `max`). Takes the site lock; does not
// allocate. Any thread.
std::size_t copy_sites(SiteRecord* out, std::size_t max, SiteTableInfo* info,
                       bool lifetime = false) noexcept;

// The `k` sites holding the most live bytes now, most first, into ids/bytes (for the
// timeline's stacked chart); returns how many (sites with live bytes > 0, at most k). Folds
// the calling thread's shard; records no peak. O(sites). Takes the site lock; does not
// allocate. Any thread, not under the site lock.
std::size_t top_live_sites(std::uint32_t* ids, std::int64_t* bytes, std::size_t k) noexcept;

// Fork: prepare takes the site lock, the parent releases it. In the child,
// sites_fold_in_child folds a vanished thread's shard (registry walk of counters.cpp, lock
// held), then sites_child_after_fork restarts the counts (allocations, frees, bytes, temporary,
// largest: the child's run starts now), keeps the live amounts, records the level now as the
// peak and recreates the lock.
void sites_prepare_fork() noexcept;
void sites_parent_after_fork() noexcept;
void sites_fold_in_child(ThreadState& ts) noexcept;
void sites_child_after_fork() noexcept;

// Unit tests only: forget every site (no other thread may be tracking).
void sites_reset_for_tests() noexcept;

}  // namespace memtrack::detail
