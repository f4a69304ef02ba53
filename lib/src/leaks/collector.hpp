// The leak checker's front: scans on request (API collect, the exit report, automatic
// generation thresholds), Python-gc-style generation counters, and the leak report model
// built from a scan once the world runs again. Cold path; allocates under the Guard;
// thread-safe (one scan at a time, serialised by a mutex no paused thread can hold).
#pragma once

#include "leaks/scan.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace memtrack::detail {

struct LeakGroup {
    std::uint32_t stack = 0;
    std::uint64_t bytes = 0;
    std::uint64_t blocks = 0;
    // Allocation sequence numbers of the group's oldest and newest block; 0 when none was kept
    // (stats-only mode).
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;
    void add(const ScanBlock& b) noexcept
    {
        stack = b.stack;
        bytes += b.size;
        blocks += 1;
        if (b.seq != 0) {
            first_seq = first_seq == 0 ? b.seq : std::min(first_seq, b.seq);
            last_seq = std::max(last_seq, b.seq);
        }
    }
};

struct CycleMember {
    std::uint64_t size;
    std::uint32_t stack;
    std::uint64_t seq;  // of this member in the first cycle of the shape; 0 if none was kept
};

struct CycleReport {
    std::vector<CycleMember> members;  // one cycle, in cycle order
    std::uint64_t blocks = 0;          // members x count
    std::uint64_t bytes = 0;
    std::uint32_t count = 1;  // cycles of this shape from these sites
    bool pure = false;
    bool reached_from_direct = false;
};

struct LeakTotals {
    std::uint64_t suppressed_bytes = 0, suppressed_blocks = 0;
    std::uint64_t direct_bytes = 0, direct_blocks = 0;
    std::uint64_t indirect_bytes = 0, indirect_blocks = 0;
    std::uint64_t possible_bytes = 0, possible_blocks = 0;
    std::uint64_t cycle_blocks = 0, cycles = 0;
    // Ignored objects (memtrack_ignore, blocks of disabled threads) no root reaches, and what
    // only they reach (core/ignored.hpp): never reported.
    std::uint64_t ignored_bytes = 0, ignored_blocks = 0;
};

struct GcCounters {
    int threshold[3] = {700, 10, 10};
    std::int64_t count[3] = {0, 0, 0};
    std::uint64_t collections[3] = {0, 0, 0};
    std::uint64_t collected[3] = {0, 0, 0};  // unreachable blocks found by scans of each gen
    std::int64_t total_pause_ns = 0;
    std::int64_t max_pause_ns = 0;
    std::uint64_t gen_blocks[3] = {0, 0, 0};  // as of the last scan
    std::uint64_t gen_bytes[3] = {0, 0, 0};
    bool scanned = false;
};

class StackTable;  // stack/resolved_stacks.hpp: symbolized stacks, shared by the report

struct LeakReport {
    bool ran = false;
    ScanStats scan;
    std::vector<LeakGroup> direct, indirect, possible;  // by bytes, largest first
    std::vector<LeakGroup> suppressed;                  // any kind, matched a suppression
    std::shared_ptr<StackTable> stacks;                 // set by finalize_leaks
    std::vector<CycleReport> cycles;                    // folded, largest first
    LeakTotals totals;
    GcCounters gc;
};

// The program's part of the calling thread's stack ends here: memtrack's public entry points
// (the API, the exit handler) take it first thing, so that memtrack's own deeper frames, whose
// uninitialised buffers may hold stale pointers, are never roots. Callee-saved registers are
// spilled into the entry frame, above the marker, and so are scanned.
#define MEMTRACK_PROGRAM_SP(name)                                                                  \
    __builtin_unwind_init();                                                                       \
    volatile int name##_marker = 0;                                                                \
    const std::uintptr_t name = reinterpret_cast<std::uintptr_t>(&name##_marker)

// Runs a scan of generations <= `generation` (0..2) and updates the gc counters. Returns the
// number of unreachable blocks found, or -1 (bad generation or scan impossible).
// `program_sp`: from MEMTRACK_PROGRAM_SP in the public entry point. `report`, if given,
// receives the leak report of this scan. `exclude_suppressed`: leave blocks whose stacks match
// a suppression out of the count (symbolizes: not from inside the allocator). `new_only`
// (MEMTRACK_LEAKS_NEW): the report leaves out the unreachable blocks an earlier report already
// listed. Every report remembers the blocks it lists, by address, size, stack id and sequence
// number (a block freed and replaced by one with the same four values, possible only in
// stats-only mode where blocks have no number, is taken for the old one).
std::int64_t collect(int generation, std::uintptr_t program_sp, LeakReport* report,
                     bool exclude_suppressed, bool new_only = false) noexcept;

// Automatic scans (MEMTRACK_GC=auto): runtime/ installs this as core's before-allocation hook
// (core/block.hpp, g_alloc_slow_hook), so the slow allocation path calls it before it
// allocates (the new block cannot look unreachable). Every 64 allocations of a thread are
// added to a shared count; when it passes threshold 0, the exact count (live blocks added
// since the last scan) is checked and, as Python does, the oldest generation whose count
// exceeds its threshold is scanned. Cold; called outside the Guard only.
[[gnu::noinline, gnu::cold]] void gc_tick_slow() noexcept;

// Python's gc.get_threshold / set_threshold / get_count.
void gc_get_threshold(int out[3]) noexcept;
void gc_set_threshold(int t0, int t1, int t2) noexcept;
void gc_get_count(std::int64_t out[3]) noexcept;
GcCounters gc_counters() noexcept;

// Fork: prepare takes the scan and counter locks (a scan in progress finishes first); parent
// and child release them.
void collector_prepare_fork() noexcept;
void collector_after_fork() noexcept;

}  // namespace memtrack::detail
