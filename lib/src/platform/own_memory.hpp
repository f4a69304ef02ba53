// memtrack's own mappings (stack depot, scan scratch): mmap wrappers that remember each range,
// so that the leak scan never treats memtrack's bookkeeping as a root. Lock-free: own_map claims
// a slot of the range table with compare-and-swap; own_unmap's log of unmapped ranges is not
// serialised (two threads unmapping at once may lose an entry), which is safe because the only
// reader, a scan, holds the big-block lock and the scan lock, the locks of every caller that
// unmaps (big_blocks.cpp, the scan's scratch). Async-signal-safe except for the mmap itself.
#pragma once

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

// mmap(PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE) of `bytes`, remembered.
// nullptr on failure (or when the table of ranges is full; then nothing is mapped).
void* own_map(std::size_t bytes) noexcept;
// Unmaps a range from own_map and forgets it.
void own_unmap(void* p, std::size_t bytes) noexcept;

struct OwnRange {
    std::uintptr_t start;
    std::uintptr_t end;
};
// Copies the current ranges (at most `max`) into `out`; returns how many.
std::size_t own_ranges(OwnRange* out, std::size_t max) noexcept;

// Ranges unmapped by own_unmap since `since` (a value of unmap_sequence()), at most `max`;
// returns how many were copied (the log keeps the last 256). The leak scan reads
// /proc/self/maps and then may unmap scratch buffers that the listing still shows: those
// ranges must not be read as roots.
std::uint64_t unmap_sequence() noexcept;
std::size_t unmapped_since(std::uint64_t since, OwnRange* out, std::size_t max) noexcept;

}  // namespace memtrack::detail
