// The allocator's answers to the leak checker (see heap_walk.hpp).
#include "core/heap_walk.hpp"

#include "core/big_blocks.hpp"
#include "platform/check.hpp"

#include <mimalloc.h>

namespace memtrack::detail {

namespace {

constexpr std::uintptr_t kPage = 4096;
constexpr std::uintptr_t kHugeSegmentAlign = std::uintptr_t{32} << 20;

}  // namespace

void heap_walk_lock() noexcept
{
    big_blocks_lock();
}

void heap_walk_unlock() noexcept
{
    big_blocks_unlock();
}

bool heap_memory_at(std::uintptr_t p) noexcept
{
    return mi_is_in_heap_region(reinterpret_cast<void*>(p)) ||
           mi_is_in_heap_region(reinterpret_cast<void*>(p + kPage));
}

bool live_block_at(std::uintptr_t user, LiveBlock& out) noexcept
{
    const std::uintptr_t header = user - kHeaderSize;
    std::uint64_t sf = 0, tail = 0;
    if (!load64(header, sf) || !load64(header + 8, tail)) return false;
    if (static_cast<std::uint32_t>(tail >> 32) != check_of(reinterpret_cast<void*>(user), sf))
        return false;
    const auto aux = static_cast<std::uint32_t>(tail);
    out = LiveBlock{user,
                    size_of(sf),
                    stack_id_of(aux),
                    static_cast<std::uint8_t>((sf & kGenMask) >> kGenShift),
                    !(sf & kUntracked),
                    (sf & kIgnored) != 0,
                    unpack_seq(packed_seq(sf, aux), g_alloc_seq.load(std::memory_order_relaxed))};
    return true;
}

void registered_blocks(ScratchVector<RegisteredBlock>& out) noexcept
{
    const std::size_t n = big_blocks_count_locked();
    ScratchVector<BigBlockEntry> entries;
    entries.resize(n);
    big_blocks_copy_locked(entries.data(), n);
    for (const BigBlockEntry& entry : entries) {
        RegisteredBlock r;
        if (!live_block_at(entry.header + kHeaderSize, r.block)) continue;
        r.block.seq = entry.seq;  // registered blocks keep their number in the registry
        r.extent_start = entry.header & ~(kHugeSegmentAlign - 1);
        r.extent_end = r.block.user + r.block.size;
        out.push_back(r);
    }
}

std::uint64_t unregistered_blocks() noexcept
{
    return big_blocks_dropped();
}

bool set_generation(std::uintptr_t user, int gen) noexcept
{
    MEMTRACK_ASSERT(gen >= 0 && gen <= 3);
    auto* h = reinterpret_cast<BlockHeader*>(user - kHeaderSize);
    const std::uint64_t sf = h->size_flags;
    if (h->check != check_of(reinterpret_cast<void*>(user), sf)) return false;  // changed
    h->size_flags = (sf & ~kGenMask) | (static_cast<std::uint64_t>(gen & 3) << kGenShift);
    return true;
}

}  // namespace memtrack::detail
