// Per-thread allocation counters and the process totals they fold into. The inline note_*
// functions are the hot path (no lock, syscall or allocation); everything else is cold.
//
// Data model. Each thread owns a ThreadState in initial-exec TLS. An allocation adds its
// requested size to the thread's `pending` balance and counts it; a free subtracts. The balance
// is folded into the process totals (Totals, atomics) only when it reaches +-kFoldBytes, or at
// once for a block of kFoldBytes or more, so threads share no cache line on the hot path.
// `pending_max`, the highest balance since the last fold, is carried with each fold, so the
// process peak is exact to the byte for a single thread and off by less than kFoldBytes per
// other thread that was mid-batch (docs/report-format.md, "Accuracy").
//
// Live threads are linked in a registry (mutex; touched at thread start/exit, by snapshots and
// at fork). A thread registers on its first event: a fresh ThreadState has fold_hi = 0 and
// fold_lo = INT64_MAX, so its first allocation or free takes the slow path. A retired thread
// (its pthread key destructor ran, but it may still free during teardown) keeps those values,
// so each of its late events is folded at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace memtrack::detail {

struct SiteShard;  // core/sites.hpp
// The shard of a thread that has none (core/sites.hpp): every lookup in it misses.
extern SiteShard g_no_shard;

// Fold threshold: the multi-threaded error bound per thread, and the size from which a block
// is accounted at once. Documented in docs/report-format.md; tested in tests/unit.
inline constexpr std::int64_t kFoldBytes = std::int64_t{1} << 20;

// Fields are written only by the owning thread, with plain stores (so the hot path can use
// memory-operand adds); other threads read them with relaxed atomic loads (read_racy) in
// snapshots. Aligned 8-byte stores do not tear on the platforms memtrack supports (x86-64,
// aarch64), and a stale read is within the documented bound. The registry links are guarded
// by the registry lock.
struct ThreadState {
    std::int64_t pending = 0;       // requested bytes allocated - freed, unfolded
    std::int64_t pending_max = -1;  // highest `pending` since the last fold; -1 while the
                                    // thread is new or retired, so every event folds
    std::int64_t fold_hi = 0;       // fold when pending >= fold_hi
    std::int64_t fold_lo = std::numeric_limits<std::int64_t>::max();  // ... or <= fold_lo
    std::uint64_t allocs = 0;                                         // unfolded allocation count
    std::uint64_t frees = 0;                                          // unfolded free count
    std::uint64_t bytes_allocated = 0;  // unfolded sum of allocated sizes
    std::uint64_t small_limit = 0;      // sizes below it take the inline fast path; 0 inside the
                                        // guard and until the thread registers (its first event
                                        // takes the slow path, which writes a full header)
    std::uint32_t guard = 0;            // reentrancy depth: >0 = untracked
    std::uint32_t status = 0;           // kNew, kRegistered, kRetired
    ThreadState* prev = nullptr;        // registry links (registry lock)
    ThreadState* next = nullptr;
    std::uint64_t seq_next = 0;  // allocation numbers this thread holds: [seq_next, seq_end)
    std::uint64_t seq_end = 0;
    std::uint32_t disabled = 0;     // leak-check disable depth (core/ignored.hpp): >0 = its new
                                    // blocks are ignored, and small_limit stays 0
    SiteShard* sites = &g_no_shard;  // this thread's site deltas (core/sites.hpp); full mode
    std::uintptr_t last_alloc = 0;   // key of the last sited allocation (sites.hpp: temporary)
};

// The folded process total of live requested bytes (threads' batches not included). Written
// by folds; read racily by the sited free path (core/sites.hpp) and snapshots.
inline constinit std::atomic<std::int64_t> g_folded_current{0};
inline std::int64_t folded_current_bytes() noexcept
{
    return g_folded_current.load(std::memory_order_relaxed);
}

template <class T> inline T read_racy(const T& field) noexcept
{
    return __atomic_load_n(&field, __ATOMIC_RELAXED);
}

inline constexpr std::uint32_t kNew = 0;
inline constexpr std::uint32_t kRegistered = 1;
inline constexpr std::uint32_t kRetired = 2;

[[gnu::tls_model("initial-exec")]] extern constinit thread_local ThreadState t_state;

// Out-of-line half of note_alloc/note_free: registers the thread if new, folds its batch into
// the process totals and updates the peaks. Cold; may take the registry lock.
[[gnu::noinline, gnu::cold]] void fold_slow(ThreadState& ts) noexcept;

// Cold half of note_alloc: a new high within the batch (kept for the exact peak), and the
// fold when the batch reaches fold_hi.
[[gnu::noinline, gnu::cold]] void note_high(ThreadState& ts, std::int64_t pending) noexcept;

// Hot: counts an allocation of `size` (< kFoldBytes) requested bytes by this thread: three
// memory adds and one compare-and-branch. The branch is taken only when the batch reaches a
// new high (note_high keeps it for the exact peak and folds at fold_hi; since a fold resets
// pending_max to 0 and fold_hi > 0, reaching fold_hi always passes through this branch).
inline void note_alloc(ThreadState& ts, std::size_t size) noexcept
{
    const std::int64_t p = ts.pending + static_cast<std::int64_t>(size);
    ts.pending = p;
    ts.allocs += 1;
    ts.bytes_allocated += size;
    if (p > ts.pending_max) [[unlikely]]
        note_high(ts, p);
}

// Hot: counts a free of a block of `size` (< kFoldBytes) requested bytes by this thread.
inline void note_free(ThreadState& ts, std::size_t size) noexcept
{
    const std::int64_t p = ts.pending - static_cast<std::int64_t>(size);
    ts.pending = p;
    ts.frees += 1;
    if (p <= ts.fold_lo) [[unlikely]]
        fold_slow(ts);
}

// Any size; a block of kFoldBytes or more is folded into the totals at once. The slow paths'
// callers (every allocation in full mode): inline, one more compare than note_alloc/note_free.
inline void note_alloc_any(std::size_t size) noexcept
{
    ThreadState& ts = t_state;
    note_alloc(ts, size);
    if (static_cast<std::int64_t>(size) >= kFoldBytes) [[unlikely]]
        fold_slow(ts);
}

inline void note_free_any(std::size_t size) noexcept
{
    ThreadState& ts = t_state;
    note_free(ts, size);
    if (static_cast<std::int64_t>(size) >= kFoldBytes) [[unlikely]]
        fold_slow(ts);
}

// Counts a free or realloc of a pointer memtrack never allocated. Cold.
void note_foreign_free() noexcept;

// The small_limit of a registered thread outside the guard: kFoldBytes, or 0 when every
// allocation must take the slow path (allocation stacks on: the stack is captured there).
// 0 until start-up has read the configuration; threads pick it up when they register and
// whenever a Guard ends. The inline path writes no stack id (aux): only blocks of the slow
// path carry one.
inline constinit std::uint64_t g_small_limit = 0;

// The allocation sequence counter (block.hpp): the highest number handed out so far, counted
// only while g_small_limit is 0 (every allocation then takes the cold path). Threads take
// numbers in runs of kSeqRun (ThreadState::seq_next/seq_end): one relaxed fetch_add per run,
// so that threads allocating at once do not share a cache line per allocation (one counter
// bumped per allocation made two allocating threads 50% slower in full mode). Never touched by
// the inline path.
inline constexpr std::uint64_t kSeqRun = 256;
inline constinit std::atomic<std::uint64_t> g_alloc_seq{0};
// MEMTRACK_BREAK_ALLOC: the number at which the cold path raises SIGTRAP; 0 = never.
inline constinit std::uint64_t g_break_seq = 0;

// True while this thread is inside memtrack (its allocations are not tracked).
inline bool in_guard() noexcept
{
    return t_state.guard != 0;
}

// RAII reentrancy guard: while alive, this thread's allocations go to mimalloc untracked.
class Guard {
public:
    Guard() noexcept
    {
        ThreadState& ts = t_state;
        ++ts.guard;
        ts.small_limit = 0;
    }
    ~Guard()
    {
        ThreadState& ts = t_state;
        if (--ts.guard == 0) ts.small_limit = ts.disabled != 0 ? 0 : g_small_limit;
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
};

// A consistent-enough view of the totals: exact for the calling thread (its batch is folded
// first), other threads' batches read racily. Takes the registry lock; does not allocate.
struct Snapshot {
    std::int64_t current_bytes = 0;
    std::int64_t peak_bytes = 0;
    std::int64_t peak_time_ns = 0;
    std::int64_t lifetime_peak_bytes = 0;
    std::int64_t lifetime_peak_time_ns = 0;
    std::uint64_t live_blocks = 0;
    std::uint64_t allocations = 0;
    std::uint64_t frees = 0;
    std::uint64_t bytes_allocated = 0;
    std::uint64_t foreign_frees = 0;
    std::int64_t uptime_ns = 0;
};
Snapshot snapshot() noexcept;

// Checkpoints (issue 11: a report for SIGKILL and the OOM killer): when the lifetime peak has
// reached g_checkpoint_at, the out-of-line fold on the allocating thread takes the checkpoint
// (the value goes to INT64_MAX meanwhile, so one thread takes it) and calls the hook, which
// writes the checkpoint and sets the next threshold. runtime/ points the hook at its writer.
using CheckpointHook = void (*)(std::int64_t peak_bytes) noexcept;
inline constinit CheckpointHook g_checkpoint_hook = nullptr;
inline constinit std::atomic<std::int64_t> g_checkpoint_at{INT64_MAX};
// snapshot() for a signal handler (issue 11): never waits for the registry lock (the
// interrupted thread may hold it) and folds nothing (it may be mid-fold). Without the lock,
// threads' unfolded batches (each within kFoldBytes) are left out. Async-signal-safe.
Snapshot snapshot_in_signal() noexcept;

// Current bytes only (same accuracy as snapshot()); for the timeline sampler.
std::int64_t current_bytes() noexcept;

// peak_bytes := current bytes (tracemalloc.reset_peak). lifetime peak untouched.
void reset_peak() noexcept;
// peak_bytes := max(peak_bytes, bytes); when raised, its time becomes time_ns.
void raise_peak(std::int64_t bytes, std::int64_t time_ns) noexcept;

// Monotonic nanoseconds since process start (or since fork, in a child). vDSO, no syscall.
std::int64_t uptime_ns() noexcept;
// Starts the clock now (forked child), or `ago_ns` before now (process start, from /proc).
void reset_clock(std::int64_t ago_ns = 0) noexcept;

// Retires the calling thread: folds its batch and unlinks it (thread exit).
void retire_thread() noexcept;

// Fork support: prepare locks the registry; parent unlocks; the child folds and unlinks every
// other thread's state (those threads do not exist in the child), restarts the clock and the
// per-process counters (allocations, frees, bytes, foreign), keeping current bytes, live
// blocks and the inherited heap as the child's starting point.
void counters_prepare_fork() noexcept;
void counters_parent_after_fork() noexcept;
void counters_child_after_fork() noexcept;

// Unit tests only: forget everything (no other thread may be tracking).
void counters_reset_for_tests() noexcept;

}  // namespace memtrack::detail
