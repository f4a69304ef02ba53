// Registry of big blocks (requested size >= kFoldBytes): the leak scan's list of blocks that
// mimalloc may map outside its segment map (2.0.9 places blocks of about 1 GiB and more
// anywhere), where the heap sweep does not look. Cold path only (big allocations and frees);
// one mutex, never held while calling mimalloc; memory from own_map.
#pragma once

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

struct BigBlockEntry {
    std::uintptr_t header;
    std::uint64_t seq;  // allocation sequence number, 0 if none was taken
};

// Adds / removes the header address of a big block. Thread-safe.
void big_block_add(std::uintptr_t header, std::uint64_t seq) noexcept;
void big_block_remove(std::uintptr_t header) noexcept;

// The scan: lock for the whole stop-the-world (taken before other threads are paused, so none
// of them can hold it), then copy the entries (at most `max`; returns the number present).
void big_blocks_lock() noexcept;
void big_blocks_unlock() noexcept;
std::size_t big_blocks_copy_locked(BigBlockEntry* out, std::size_t max) noexcept;
std::size_t big_blocks_count_locked() noexcept;

// Fork: prepare locks, parent and child unlock.
void big_blocks_prepare_fork() noexcept;
void big_blocks_after_fork() noexcept;

}  // namespace memtrack::detail
