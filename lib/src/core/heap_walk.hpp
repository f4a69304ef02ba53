// The leak checker's questions to the allocator, and the only code besides block.* that decodes
// the block record (block.hpp), as compiler-rt's lsan_common.h keeps LSan's scan apart from its
// allocator: which memory is heap; every live tracked block with its size, stack id,
// generation and sequence number; the block that starts at an address, and the one containing
// an address; a block's generation changed. Cold path, for the scan with the world stopped
// (heap_walk_lock held): takes no other lock, allocates nothing but scratch memory, reads through
// platform/safe_read.hpp.
#pragma once

#include "core/block.hpp"
#include "platform/safe_read.hpp"
#include "platform/scratch.hpp"
#include "stack/depot.hpp"
#include "stack/unwind.hpp"

#include <algorithm>
#include <cstdint>

namespace memtrack::detail {

// A live block as the leak checker sees it.
struct LiveBlock {
    std::uintptr_t user = 0;  // the pointer the program holds
    std::uint64_t size = 0;   // requested bytes
    std::uint32_t stack = 0;  // allocation stack id (stack/depot.hpp), 0 = none recorded
    std::uint8_t gen = 0;     // generation (0 = young), before the scan
    bool tracked = true;      // false: allocated inside memtrack (never reported)
    bool ignored = false;     // kIgnored: never reported, a root for what only it reaches
    std::uint64_t seq = 0;    // allocation sequence number, 0 if none was kept
};

// Held for the whole stop-the-world: taken before other threads are paused (so none of them
// holds it), it keeps the big-block registry still while it is read.
void heap_walk_lock() noexcept;
void heap_walk_unlock() noexcept;

// Granularity of heap_memory_at's answers: mimalloc 2.x segments are 4 MiB aligned and made of
// 64 KiB slices; huge segments are 32 MiB aligned.
inline constexpr std::uintptr_t kHeapSlice = std::uintptr_t{64} << 10;
inline constexpr std::uintptr_t kHeapChunk = std::uintptr_t{4} << 20;

// Whether the page at (page-aligned) p lies in a mimalloc segment. mimalloc 2.0.9 answers false
// for the first page of a segment (its own metadata), so the next page is asked too: if that
// one is in a segment, so is p (a segment's first page never answers true).
bool heap_memory_at(std::uintptr_t p) noexcept;

// A header's stack id: meaningful only with stacks on (the inline path leaves aux unwritten;
// bits 24..31 may hold part of a sequence number).
inline std::uint32_t stack_id_of(std::uint32_t aux) noexcept
{
    aux &= kStackIdMask;
    return stack_depth() > 0 && aux <= stack_count() ? aux : 0;
}

// The block containing `addr` (its start, or inside its requested size; a block of size 0
// contains only its start) among `n` blocks sorted by address, as the walk lists them: its
// index, or -1. The record keeps no index of its own (block.hpp: one header per block), so
// containment is answered over a walk's result; Block needs `user` and `size` members.
template <class Block>
std::int64_t block_containing(const Block* sorted, std::size_t n, std::uintptr_t addr) noexcept
{
    std::size_t lo = 0, hi = n;
    while (lo < hi) {
        const std::size_t mid = (lo + hi) / 2;
        if (sorted[mid].user <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return -1;
    const Block& b = sorted[lo - 1];
    if (addr == b.user || addr - b.user < b.size) return static_cast<std::int64_t>(lo - 1);
    return -1;
}

// The block whose user pointer is `user`, if its header is valid; false otherwise.
bool live_block_at(std::uintptr_t user, LiveBlock& out) noexcept;

// A registered block (big_blocks.hpp: >= 1 MiB, or aligned beyond 16 MiB) and its extent from
// the start of its segment: heap whatever mimalloc's map says (mi_is_in_heap_region of 2.0.9
// answers false past a 2 GiB-aligned address inside a huge segment, and knows nothing of
// blocks mapped above its 40 TiB map).
struct RegisteredBlock {
    LiveBlock block;
    std::uintptr_t extent_start = 0;
    std::uintptr_t extent_end = 0;
};
// Appends every registered block with a valid header. heap_walk_lock held.
void registered_blocks(ScratchVector<RegisteredBlock>& out) noexcept;
// Live big blocks that could not be registered: the walk may not see them (mimalloc maps the
// largest outside the map the sweep follows).
std::uint64_t unregistered_blocks() noexcept;

// Calls visit(const LiveBlock&) for every live tracked block whose header lies in [start, end)
// of heap memory, in address order. `run_end`: end of the contiguous heap memory [start, end)
// belongs to (a block may extend that far). `next`: where the sweep may resume (past the last
// block found); updated. A candidate header counts only if its check matches its address, its
// flags are ones a header can have, its number was given out already (threads that could not
// be paused may still be counting: the counter is read again) and its size fits the run.
template <class Visit>
void sweep_live_blocks(std::uintptr_t start, std::uintptr_t end, std::uintptr_t run_end,
                       std::uintptr_t& next, Visit&& visit) noexcept
{
    std::uintptr_t a = (std::max(start, next) + 15) & ~std::uintptr_t{15};
    while (a + kHeaderSize <= end) {
        std::uint64_t sf = 0, tail = 0;
        if (!load64(a + 8, tail)) {  // unreadable (safe mode): on to the next page
            a = (a | 4095) + 1;
            continue;
        }
        const auto check = static_cast<std::uint32_t>(tail >> 32);
        const auto aux = static_cast<std::uint32_t>(tail);
        if (check == 0 || !load64(a, sf)) {
            a += 16;
            continue;
        }
        const std::uintptr_t user = a + kHeaderSize;
        if (!size_flags_plausible(sf) || check != check_of(reinterpret_cast<void*>(user), sf)) {
            a += 16;
            continue;
        }
        const std::uint64_t low = packed_seq(sf, aux);
        const std::uint64_t seq = unpack_seq(low, g_alloc_seq.load(std::memory_order_relaxed));
        if (low != 0 && seq == 0) {
            a += 16;
            continue;
        }
        const std::uint64_t size = size_of(sf);
        if (size > run_end - user) {  // cannot be a block of this heap run
            a += 16;
            continue;
        }
        if (!(sf & kUntracked)) {
            visit(LiveBlock{user, size, stack_id_of(aux),
                            static_cast<std::uint8_t>((sf & kGenMask) >> kGenShift), true,
                            (sf & kIgnored) != 0, seq});
        }
        a = (user + size + 15) & ~std::uintptr_t{15};
        if (a == user) a += 16;  // size 0
    }
    next = std::max(next, a);
}

// Moves the live block at `user` to generation `gen` (0..3) by rewriting its size_flags alone
// (the check does not cover the generation, block.hpp). False if its header no longer
// matches. Only with every thread paused.
bool set_generation(std::uintptr_t user, int gen) noexcept;

}  // namespace memtrack::detail
