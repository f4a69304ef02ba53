// The conservative reachability scan (LeakSanitizer's model, with memcheck's "possibly lost"):
// stop the world, enumerate live blocks by sweeping mimalloc's segments for valid headers
// (plus the registry of big blocks), take every writable private mapping that is not heap and
// not memtrack's own as roots (thread stacks from each paused thread's stack pointer up;
// static and dynamic TLS, .data and .bss live in such mappings), mark what aligned words point
// at, then resume. Cold path: memory from own_map only; no lock another thread may hold; the
// caller holds the Guard. Never writes user memory; it rewrites only block headers, to move
// survivors up a generation, and only when every thread was paused.
//
// Pointer rules: a word equal to a block's user address reaches it; a word inside the block
// (interior) reaches it only "possibly", unless it is one of the layouts of scan_rules.hpp
// (tagged pointers, new[] array cookies, secondary bases, old-ABI strings), which reach it as a
// start pointer does. Reachable = reached from roots through such pointers; possible = reached
// only through some other interior pointer; the rest is unreachable.
#pragma once

#include "platform/scratch.hpp"

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

// Ignored: an ignored block (core/ignored.hpp) no root reaches, or a block reached only from
// such blocks (LSan's rule: what only an ignored object reaches is not reported either).
enum class BlockState : std::uint8_t { Unvisited = 0, Reachable, Possible, Older, Ignored };

struct ScanBlock {
    std::uintptr_t user;
    std::uint64_t size;
    std::uint32_t stack;
    std::uint8_t gen;  // before the scan
    BlockState state;
    bool ignored;  // the block's kIgnored flag
    std::uint8_t pad;
    std::uint64_t seq;  // allocation sequence number, 0 if none was kept (block.hpp)
};

struct ScanStats {
    std::uint64_t root_bytes = 0;   // bytes of root memory read
    std::uint64_t heap_bytes = 0;   // bytes of block contents read
    std::uint64_t swept_bytes = 0;  // bytes of heap swept for headers
    std::uint64_t blocks = 0;       // live tracked blocks found
    std::uint64_t examined = 0;     // of those, blocks of the scanned generations
    std::int64_t duration_ns = 0;   // from stopping the world to resuming it
    std::uint32_t threads_paused = 0;
    std::uint32_t threads_not_paused = 0;
    std::uint32_t dead_stacks = 0;  // cached stacks of exited threads, not roots
    // Blocks first reached from a root through one of scan_rules.hpp's pointers (issue 10): a
    // tagged pointer, a new[] array cookie, a secondary base, an old-ABI std::string.
    std::uint64_t reached_tagged = 0;
    std::uint64_t reached_array_cookie = 0;
    std::uint64_t reached_secondary_base = 0;
    std::uint64_t reached_old_string = 0;
    // Big blocks the registry could not take (core/big_blocks.hpp): the scan cannot see them,
    // so what only they point at may show as leaked. Non-zero makes the scan incomplete.
    std::uint64_t unregistered_blocks = 0;
    // Heap memory the program made unreadable (mprotect): the blocks in it, or whose header is
    // in it, cannot be seen. Non-zero makes the scan incomplete (issue 14).
    std::uint64_t unreadable_heap_bytes = 0;
    bool complete = true;  // false: some memory could not be scanned (see the report)
};

struct ScanResult {
    ScratchVector<ScanBlock> blocks;      // every live tracked block, by address
    ScratchVector<std::uint32_t> leaked;  // indices of unreachable examined blocks
    // Edges among leaked blocks (CSR over `leaked` positions): leaked[i] points at
    // leaked[edge_targets[edge_offsets[i] .. edge_offsets[i+1])].
    ScratchVector<std::uint32_t> edge_offsets;
    ScratchVector<std::uint32_t> edge_targets;
    std::uint64_t possible_blocks = 0;
    std::uint64_t ignored_blocks = 0, ignored_bytes = 0;  // examined blocks in state Ignored
    std::uint64_t gen_blocks[3] = {0, 0, 0};  // live blocks per generation after the scan
    std::uint64_t gen_bytes[3] = {0, 0, 0};
    ScanStats stats;
};

struct ScanOptions {
    int generation = 2;              // examine blocks of generations <= this
    bool update_generations = true;  // move survivors up (only if the world stopped fully)
};

// Runs one scan. `caller_sp`: the lowest address of the caller's stack that belongs to the
// program (frames below it are memtrack's). False if the scan could not run at all.
bool run_scan(const ScanOptions& options, std::uintptr_t caller_sp, ScanResult& out) noexcept;

// Unit tests and the scan: the block lookup on a sorted block array (index or -1).
std::int64_t find_block(const ScanBlock* blocks, std::size_t n, std::uintptr_t word) noexcept;

}  // namespace memtrack::detail
