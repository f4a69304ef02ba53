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

// Fold threshold: the multi-threaded error bound per thread, and the size from which a block
// is accounted at once. Documented in docs/report-format.md; tested in tests/unit.
inline constexpr std::int64_t kFoldBytes = std::int64_t{1} << 20;

// Owner-written fields are relaxed atomics so that snapshots may read them from other threads;
// on x86-64 a relaxed load/add/store compiles to plain moves.
struct ThreadState {
    std::atomic<std::int64_t> pending{0};        // requested bytes allocated - freed, unfolded
    std::int64_t pending_max = 0;                // highest `pending` since the last fold, >= 0
    std::int64_t fold_hi = 0;                    // fold when pending >= fold_hi
    std::int64_t fold_lo = std::numeric_limits<std::int64_t>::max();  // ... or <= fold_lo
    std::atomic<std::uint64_t> allocs{0};        // unfolded allocation count
    std::atomic<std::uint64_t> frees{0};         // unfolded free count
    std::atomic<std::uint64_t> bytes_allocated{0};  // unfolded sum of allocated sizes
    std::uint32_t guard = 0;                     // reentrancy depth: >0 = untracked
    std::uint32_t status = 0;                    // kNew, kRegistered, kRetired
    ThreadState* prev = nullptr;                 // registry links (registry lock)
    ThreadState* next = nullptr;
};

inline constexpr std::uint32_t kNew = 0;
inline constexpr std::uint32_t kRegistered = 1;
inline constexpr std::uint32_t kRetired = 2;

[[gnu::tls_model("initial-exec")]] extern constinit thread_local ThreadState t_state;

// Out-of-line half of note_alloc/note_free: registers the thread if new, folds its batch into
// the process totals and updates the peaks. Cold; may take the registry lock.
[[gnu::noinline, gnu::cold]] void fold_slow(ThreadState& ts) noexcept;

template <class T>
inline void bump(std::atomic<T>& a, T delta) noexcept
{
    a.store(a.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

// Hot: counts an allocation of `size` requested bytes by this thread. About 12 instructions:
// four TLS read-modify-writes, a max, one compare-and-branch.
inline void note_alloc(std::size_t size) noexcept
{
    ThreadState& ts = t_state;
    const auto s = static_cast<std::int64_t>(size);
    const std::int64_t p = ts.pending.load(std::memory_order_relaxed) + s;
    ts.pending.store(p, std::memory_order_relaxed);
    if (p > ts.pending_max) ts.pending_max = p;
    bump(ts.allocs, std::uint64_t{1});
    bump(ts.bytes_allocated, static_cast<std::uint64_t>(size));
    if ((p >= ts.fold_hi) | (s >= kFoldBytes)) [[unlikely]]
        fold_slow(ts);
}

// Hot: counts a free of a block of `size` requested bytes by this thread.
inline void note_free(std::size_t size) noexcept
{
    ThreadState& ts = t_state;
    const auto s = static_cast<std::int64_t>(size);
    const std::int64_t p = ts.pending.load(std::memory_order_relaxed) - s;
    ts.pending.store(p, std::memory_order_relaxed);
    bump(ts.frees, std::uint64_t{1});
    if ((p <= ts.fold_lo) | (s >= kFoldBytes)) [[unlikely]]
        fold_slow(ts);
}

// Counts a free or realloc of a pointer memtrack never allocated. Cold.
void note_foreign_free() noexcept;

// True while this thread is inside memtrack (its allocations are not tracked).
inline bool in_guard() noexcept { return t_state.guard != 0; }

// RAII reentrancy guard: while alive, this thread's allocations go to mimalloc untracked.
class Guard {
public:
    Guard() noexcept { ++t_state.guard; }
    ~Guard() { --t_state.guard; }
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
