// The process site table and the cold halves of core/sites.hpp: claiming shard slots, folding
// shards, recording peaks, copying sites out. Takes the site lock (a pthread mutex); never
// allocates through the tracked path (chunks are own_map'ed, shards come from mimalloc).
#include "core/sites.hpp"

#include "platform/own_memory.hpp"
#include "stack/depot.hpp"

#include <mimalloc.h>

#include <bit>
#include <cstring>
#include <new>
#include <pthread.h>

namespace memtrack::detail {

namespace {

// One site of the process table: 64 bytes. Live and at-peak amounts are signed (a thread may
// fold a free of another thread's block before the allocating thread folds it); 48 bits hold any
// byte count of a 47-bit address space, 40 any block count (each block has a 16-byte header).
// `tag` is the peak epoch the entry last saw (16 bits: when the epoch wraps every tag is reset).
struct SiteEntry {
    std::uint64_t allocations;
    std::uint64_t frees;
    std::uint64_t bytes_allocated;
    std::uint64_t temporary;
    std::int64_t live_bytes : 48;
    std::uint64_t largest_lo : 16;
    std::int64_t live_blocks : 40;
    std::uint64_t largest_mid : 24;
    std::int64_t peak_bytes : 48;
    std::uint64_t tag : 16;
    std::int64_t peak_blocks : 40;
    std::uint64_t largest_hi : 8;
    std::uint64_t spare : 16;
};
static_assert(sizeof(SiteEntry) == 64);

std::uint64_t largest_of(const SiteEntry& e) noexcept
{
    return e.largest_lo | (std::uint64_t{e.largest_mid} << 16) |
           (std::uint64_t{e.largest_hi} << 40);
}

void set_largest(SiteEntry& e, std::uint64_t v) noexcept
{
    e.largest_lo = v & 0xffff;
    e.largest_mid = (v >> 16) & 0xffffff;
    e.largest_hi = (v >> 40) & 0xff;
}

// The table grows in chunks that double: chunk 0 holds ids [0, 4096), chunk c >= 1 ids
// [4096 << (c - 1), 4096 << c). 13 chunks cover the 2^24 ids (header: block.hpp), so a program
// with millions of distinct stacks maps 13 ranges, not one per 4096 sites (own_map keeps a
// fixed number of ranges: the leak scan skips them).
constexpr std::uint32_t kChunkBits = 12;
constexpr std::uint32_t kChunkEntries = 1u << kChunkBits;  // chunk 0; the rounding of g_life
constexpr std::uint32_t kChunks = 13;
constexpr std::uint32_t kEpochLimit = 1u << 16;

constexpr std::uint32_t chunk_of(std::uint32_t id) noexcept
{
    return static_cast<std::uint32_t>(std::bit_width(id >> kChunkBits));
}
constexpr std::uint32_t chunk_base(std::uint32_t c) noexcept
{
    return c == 0 ? 0 : kChunkEntries << (c - 1);
}
constexpr std::uint32_t chunk_size(std::uint32_t c) noexcept
{
    return c == 0 ? kChunkEntries : kChunkEntries << (c - 1);
}
static_assert(chunk_of((1u << 24) - 1) == kChunks - 1 && chunk_of(4095) == 0 && chunk_of(4096) == 1);
static_assert(chunk_base(kChunks - 1) + chunk_size(kChunks - 1) == 1u << 24);

constinit pthread_mutex_t g_site_lock = PTHREAD_MUTEX_INITIALIZER;
constinit SiteEntry* g_chunks[kChunks] = {};  // site lock
constinit bool g_chunk_failed[kChunks] = {};  // own_map refused it (site lock)
constinit std::uint64_t g_chunk_bytes = 0;     // of the chunks mapped
constinit std::uint32_t g_max_id = 0;         // highest id with an entry
constinit std::uint32_t g_epoch = 1;          // entries start with tag 0: "use live"

// The lifetime peak's shares, kept when memtrack_reset_peak() starts a new attribution while
// the peak before it is the highest so far (so the report can still say what held
// heap.peak_bytes). Indexed by id; g_life_level is the level they add up to, -1 = none kept.
struct Share {
    std::int64_t bytes;
    std::int64_t blocks;
};
constinit Share* g_life = nullptr;
constinit std::size_t g_life_cap = 0;  // entries mapped
constinit std::int64_t g_life_level = -1;

// The entry of `id`, mapping its chunk on first use; nullptr if the memory could not be had
// (the site's counts are then lost: the table is short, not wrong elsewhere). Site lock.
SiteEntry* entry_locked(std::uint32_t id) noexcept
{
    const std::uint32_t c = chunk_of(id);
    if (c >= kChunks) return nullptr;
    if (g_chunks[c] == nullptr) {
        if (g_chunk_failed[c]) return nullptr;  // not asked again at every event
        g_chunks[c] = static_cast<SiteEntry*>(own_map(chunk_size(c) * sizeof(SiteEntry)));
        if (g_chunks[c] == nullptr) {
            g_chunk_failed[c] = true;
            return nullptr;
        }
        g_chunk_bytes += std::uint64_t{chunk_size(c)} * sizeof(SiteEntry);
    }
    if (id > g_max_id) g_max_id = id;
    return &g_chunks[c][id - chunk_base(c)];
}

// The entry of `id` if its chunk is mapped, else nullptr. Site lock.
SiteEntry* find_locked(std::uint32_t id) noexcept
{
    const std::uint32_t c = chunk_of(id);
    return c < kChunks && g_chunks[c] != nullptr ? &g_chunks[c][id - chunk_base(c)] : nullptr;
}

// How many entries of chunk c may have been written: up to g_max_id (the loops over the whole
// table stop there, so that they never touch pages of a big chunk no site reached). Site lock.
std::uint32_t used_in(std::uint32_t c) noexcept
{
    if (g_chunks[c] == nullptr || g_max_id < chunk_base(c)) return 0;
    const std::uint32_t n = g_max_id - chunk_base(c) + 1;
    return n < chunk_size(c) ? n : chunk_size(c);
}

// The last id of `id`'s chunk (to skip a chunk that is not mapped).
std::uint32_t chunk_last(std::uint32_t id) noexcept
{
    const std::uint32_t c = chunk_of(id);
    return chunk_base(c) + chunk_size(c) - 1;
}

// The peak moves on: every entry's share is now its live amount. Site lock.
void new_epoch_locked() noexcept
{
    if (++g_epoch == kEpochLimit) {
        for (std::uint32_t c = 0; c < kChunks; ++c)
            for (std::uint32_t i = 0, n = used_in(c); i < n; ++i)
                g_chunks[c][i].tag = 0;
        g_epoch = 1;
    }
}

// The lazy rebase: the first change after the epoch moved copies live into at-peak.
void rebase(SiteEntry& e) noexcept
{
    if (e.tag != g_epoch) {
        e.peak_bytes = e.live_bytes;
        e.peak_blocks = e.live_blocks;
        e.tag = g_epoch;
    }
}

void apply_locked(const SiteDelta& d) noexcept
{
    SiteEntry* e = entry_locked(d.stack);
    if (e == nullptr) return;
    rebase(*e);
    e->allocations += d.allocs;
    e->frees += d.frees;
    e->bytes_allocated += d.bytes_allocated;
    e->temporary += d.temporary;
    e->live_bytes = e->live_bytes + static_cast<std::int64_t>(d.bytes_allocated - d.bytes_freed);
    e->live_blocks = e->live_blocks + static_cast<std::int64_t>(d.allocs - d.frees);
    if (d.largest > largest_of(*e)) set_largest(*e, d.largest);
}

void fold_shard_locked(SiteShard& s) noexcept
{
    for (std::uint32_t k = 0; k < s.ndirty; ++k) {
        SiteDelta& d = s.slots[s.dirty[k]];
        apply_locked(d);
        d = SiteDelta{};
    }
    s.ndirty = 0;
}

std::int64_t level_of(const ThreadState& ts) noexcept
{
    return folded_current_bytes() + ts.pending;
}

// Records the level now as the peak if it is higher (or always). Site lock; the calling
// thread's shard folded.
void record_peak_locked(std::int64_t level, bool always) noexcept
{
    const std::int64_t before = g_site_peak_level.load(std::memory_order_relaxed);
    if (!always && level <= before) return;
    new_epoch_locked();
    g_site_peak_level.store(level, std::memory_order_relaxed);
    g_site_room.fetch_add(level - before, std::memory_order_relaxed);
}

// An entry's share of the recorded peak. Site lock.
Share share_of(const SiteEntry& e) noexcept
{
    if (e.tag == g_epoch) return {e.peak_bytes, e.peak_blocks};
    return {e.live_bytes, e.live_blocks};
}

// Keeps the shares of the recorded peak as the lifetime peak's, if it is the highest so far.
// O(sites); once per memtrack_reset_peak(). Site lock.
void keep_lifetime_locked() noexcept
{
    const std::int64_t level = g_site_peak_level.load(std::memory_order_relaxed);
    if (level <= g_life_level) return;
    const std::size_t need = std::size_t{g_max_id} + 1;
    if (need > g_life_cap) {
        const std::size_t cap = (need + kChunkEntries - 1) / kChunkEntries * kChunkEntries;
        auto* fresh = static_cast<Share*>(own_map(cap * sizeof(Share)));
        if (fresh == nullptr) return;  // the report then attributes the peak since the reset
        if (g_life != nullptr) own_unmap(g_life, g_life_cap * sizeof(Share));
        g_life = fresh;
        g_life_cap = cap;
    }
    for (std::uint32_t id = 0; id <= g_max_id; ++id) {
        const SiteEntry* e = find_locked(id);
        g_life[id] = e == nullptr ? Share{0, 0} : share_of(*e);
    }
    for (std::size_t id = need; id < g_life_cap; ++id)
        g_life[id] = Share{0, 0};
    g_life_level = level;
}

class Locked {
public:
    Locked() noexcept { pthread_mutex_lock(&g_site_lock); }
    ~Locked() { pthread_mutex_unlock(&g_site_lock); }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;
};

}  // namespace

constinit SiteShard g_no_shard{};

namespace {

bool has_shard(const ThreadState& ts) noexcept
{
    return ts.sites != &g_no_shard;
}

// The slot of `stack` in a real shard, claimed for it: another site's deltas there go into the
// table first.
SiteDelta& claim(SiteShard& shard, std::uint32_t stack) noexcept
{
    SiteDelta& d = shard_slot(&shard, stack);
    if (d.stack != kNoSite) {
        Locked lock;
        apply_locked(d);
    } else {
        shard.dirty[shard.ndirty++] = static_cast<std::uint8_t>(stack);  // its slot's index
    }
    d = SiteDelta{};
    d.stack = stack;
    return d;
}

}  // namespace

void site_miss(ThreadState& ts, std::uint32_t stack, std::size_t size, bool alloc,
               bool temporary) noexcept
{
    // A registered thread gets its shard on its first miss; a new or retired one (its first
    // event, thread teardown) or one whose shard could not be had counts in the table directly.
    if (!has_shard(ts) && ts.status == kRegistered) {
        if (auto* fresh = static_cast<SiteShard*>(mi_malloc(sizeof(SiteShard)))) {
            new (fresh) SiteShard{};
            ts.sites = fresh;
        }
    }
    SiteDelta local{};
    SiteDelta* d = &local;
    if (has_shard(ts)) d = &claim(*ts.sites, stack);
    d->stack = stack;
    if (alloc) {
        d->allocs += 1;
        d->bytes_allocated += size;
        if (size > d->largest) d->largest = size;
    } else {
        count_free(*d, size, temporary);
    }
    if (d == &local) {
        Locked lock;
        apply_locked(local);
    }
}

void site_peak_slow(ThreadState& ts) noexcept
{
    Locked lock;
    fold_shard_locked(*ts.sites);
    record_peak_locked(level_of(ts), false);
}

void sites_fold(ThreadState& ts) noexcept
{
    if (!has_shard(ts)) return;
    Locked lock;
    fold_shard_locked(*ts.sites);
}

void sites_retire(ThreadState& ts) noexcept
{
    if (!has_shard(ts)) return;
    SiteShard* s = ts.sites;
    {
        Locked lock;
        fold_shard_locked(*s);
        ts.sites = &g_no_shard;
    }
    mi_free(s);
}

std::size_t top_live_sites(std::uint32_t* ids, std::int64_t* bytes, std::size_t k) noexcept
{
    if (k == 0) return 0;
    ThreadState& ts = t_state;
    Locked lock;
    fold_shard_locked(*ts.sites);
    std::size_t n = 0;
    for (std::uint32_t id = 0; id <= g_max_id; ++id) {
        const SiteEntry* entry = find_locked(id);
        if (entry == nullptr) {
            id = chunk_last(id);
            continue;
        }
        const std::int64_t live = entry->live_bytes;
        if (live <= 0 || (n == k && live <= bytes[n - 1])) continue;
        // Insertion into the sorted top k (k is small).
        std::size_t at = n < k ? n++ : k - 1;
        for (; at > 0 && bytes[at - 1] < live; --at) {
            bytes[at] = bytes[at - 1];
            ids[at] = ids[at - 1];
        }
        bytes[at] = live;
        ids[at] = id;
    }
    return n;
}

void sites_reset_peak() noexcept
{
    ThreadState& ts = t_state;
    Locked lock;
    fold_shard_locked(*ts.sites);
    record_peak_locked(level_of(ts), false);  // the heap may not have fallen from a new high
    keep_lifetime_locked();
    record_peak_locked(level_of(ts), true);
}

std::size_t copy_sites(SiteRecord* out, std::size_t max, SiteTableInfo* info,
                       bool lifetime) noexcept
{
    ThreadState& ts = t_state;
    Locked lock;
    fold_shard_locked(*ts.sites);
    record_peak_locked(level_of(ts), false);
    const bool kept = lifetime && g_life_level > g_site_peak_level.load(std::memory_order_relaxed);
    std::size_t n = 0;
    for (std::uint32_t id = 0; id <= g_max_id; ++id) {
        const SiteEntry* entry = find_locked(id);
        if (entry == nullptr) {
            id = chunk_last(id);
            continue;
        }
        const SiteEntry& e = *entry;
        const bool at_peak = e.tag == g_epoch;
        SiteRecord r;
        r.stack = id;
        r.allocations = e.allocations;
        r.frees = e.frees;
        r.bytes_allocated = e.bytes_allocated;
        r.live_bytes = e.live_bytes;
        r.live_blocks = e.live_blocks;
        r.peak_bytes = at_peak ? e.peak_bytes : e.live_bytes;
        r.peak_blocks = at_peak ? e.peak_blocks : e.live_blocks;
        if (kept) {
            const Share k = id < g_life_cap ? g_life[id] : Share{0, 0};
            r.peak_bytes = k.bytes;
            r.peak_blocks = k.blocks;
        }
        r.temporary = e.temporary;
        r.largest_bytes = largest_of(e);
        if (r.allocations == 0 && r.frees == 0 && r.live_bytes == 0 && r.live_blocks == 0 &&
            r.peak_bytes == 0 && r.peak_blocks == 0)
            continue;
        if (n < max) out[n] = r;
        ++n;
    }
    if (info != nullptr) {
        info->sites = n;
        info->table_bytes = g_chunk_bytes;
        info->entry_bytes = sizeof(SiteEntry);
        info->shard_bytes = sizeof(SiteShard);
        info->peak_level = kept ? g_life_level : g_site_peak_level.load(std::memory_order_relaxed);
    }
    return n;
}

void sites_prepare_fork() noexcept
{
    pthread_mutex_lock(&g_site_lock);
}

void sites_parent_after_fork() noexcept
{
    pthread_mutex_unlock(&g_site_lock);
}

void sites_fold_in_child(ThreadState& ts) noexcept
{
    // The lock is held since prepare; the thread's shard is left allocated (its owner is gone
    // and nothing of what the child inherited is destroyed).
    fold_shard_locked(*ts.sites);
    if (&ts != &t_state) ts.sites = &g_no_shard;
}

void sites_child_after_fork() noexcept
{
    for (std::uint32_t c = 0; c < kChunks; ++c) {
        for (std::uint32_t i = 0, n = used_in(c); i < n; ++i) {
            SiteEntry& e = g_chunks[c][i];
            e.allocations = e.frees = e.bytes_allocated = e.temporary = 0;
            set_largest(e, 0);
        }
    }
    t_state.last_alloc = 0;
    g_life_level = -1;
    record_peak_locked(level_of(t_state), true);
    g_site_lock = PTHREAD_MUTEX_INITIALIZER;
}

void sites_reset_for_tests() noexcept
{
    Locked lock;
    ThreadState& ts = t_state;
    if (has_shard(ts)) *ts.sites = SiteShard{};
    ts.last_alloc = 0;
    for (std::uint32_t c = 0; c < kChunks; ++c)
        if (const std::uint32_t n = used_in(c); n > 0)
            std::memset(static_cast<void*>(g_chunks[c]), 0, n * sizeof(SiteEntry));
    g_max_id = 0;
    g_epoch = 1;
    g_life_level = -1;
    g_site_peak_level.store(0, std::memory_order_relaxed);
    g_site_room.store(-folded_current_bytes(), std::memory_order_relaxed);
}

}  // namespace memtrack::detail
