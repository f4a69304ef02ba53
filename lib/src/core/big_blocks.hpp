// Registry of big blocks (requested size >= kFoldBytes): the leak scan's list of blocks that
// mimalloc may map outside its segment map (2.0.9 places blocks of about 1 GiB and more
// anywhere), where the heap sweep does not look. Part of the block record (block.hpp):
// registered blocks keep their allocation number here. Cold path only (big allocations and
// frees); one mutex, never held while calling mimalloc; memory from own_map.
#pragma once

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

struct BigBlockEntry {
    std::uintptr_t header;
    std::uint64_t seq;  // allocation sequence number, 0 if none was taken
};

// Adds / removes the header address of a big block. Thread-safe. When the table cannot grow
// (own_map failed) the block is not registered: it is counted (big_blocks_dropped) and the
// scan, blind to it, reports itself incomplete.
void big_block_add(std::uintptr_t header, std::uint64_t seq) noexcept;
void big_block_remove(std::uintptr_t header) noexcept;

// The scan: lock for the whole stop-the-world (taken before other threads are paused, so none
// of them can hold it), then copy the entries (at most `max`; returns the number present).
void big_blocks_lock() noexcept;
void big_blocks_unlock() noexcept;
std::size_t big_blocks_copy_locked(BigBlockEntry* out, std::size_t max) noexcept;
std::size_t big_blocks_count_locked() noexcept;

// Live blocks big_block_add could not register (a free of a block not in the registry is taken
// for one of them). Any thread.
std::uint64_t big_blocks_dropped() noexcept;

// Unit tests only: the next `n` adds fail as if the table could not grow.
void big_blocks_fail_adds_for_tests(int n) noexcept;

// Fork: prepare locks, parent and child unlock.
void big_blocks_prepare_fork() noexcept;
void big_blocks_after_fork() noexcept;

}  // namespace memtrack::detail
