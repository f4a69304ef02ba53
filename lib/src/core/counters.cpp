// Process totals, the thread registry and folding (cold half of counters.hpp). May take the
// registry lock; never allocates; async-signal-unsafe.
#include "core/counters.hpp"

#include "core/sites.hpp"

#include "core/sampler.hpp"
#include "platform/check.hpp"
#include "platform/clock.hpp"

#include <ctime>
#include <pthread.h>

namespace memtrack::detail {

[[gnu::tls_model("initial-exec")]] constinit thread_local ThreadState t_state{};

namespace {

// Folded process totals. `live_base` is the live block count a forked child inherited.
struct Totals {
    std::atomic<std::int64_t> peak{0};
    std::atomic<std::int64_t> peak_ns{0};
    std::atomic<std::int64_t> life_peak{0};
    std::atomic<std::int64_t> life_peak_ns{0};
    std::atomic<std::uint64_t> allocs{0};
    std::atomic<std::uint64_t> frees{0};
    std::atomic<std::uint64_t> bytes_allocated{0};
    std::atomic<std::uint64_t> foreign_frees{0};
    std::atomic<std::uint64_t> live_base{0};
    std::atomic<std::int64_t> clock_base_ns{0};  // CLOCK_MONOTONIC at start; 0 = not yet
};
constinit Totals g_totals{};

// Registry of live threads' states. A plain pthread mutex: constinit, no allocation, and
// re-initialisable in a forked child.
constinit pthread_mutex_t g_registry_lock = PTHREAD_MUTEX_INITIALIZER;
constinit ThreadState* g_registry_head = nullptr;

// pthread key whose destructor retires a thread at exit; created on first registration.
constinit pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
constinit pthread_key_t g_exit_key = 0;
constinit bool g_key_ok = false;

void raise_to(std::atomic<std::int64_t>& peak, std::atomic<std::int64_t>& peak_ns,
              std::int64_t value, std::int64_t now) noexcept
{
    std::int64_t old = peak.load(std::memory_order_relaxed);
    while (value > old) {
        if (peak.compare_exchange_weak(old, value, std::memory_order_relaxed)) {
            peak_ns.store(now, std::memory_order_relaxed);
            return;
        }
    }
}

void on_thread_exit(void*) noexcept
{
    retire_thread();
}

void make_key() noexcept
{
    g_key_ok = pthread_key_create(&g_exit_key, on_thread_exit) == 0;
}

void link_locked(ThreadState& ts) noexcept
{
    ts.prev = nullptr;
    ts.next = g_registry_head;
    if (g_registry_head != nullptr) g_registry_head->prev = &ts;
    g_registry_head = &ts;
}

void unlink_locked(ThreadState& ts) noexcept
{
    if (ts.prev != nullptr)
        ts.prev->next = ts.next;
    else if (MEMTRACK_CHECK(g_registry_head == &ts))  // a head with no prev is the list's head
        g_registry_head = ts.next;
    if (ts.next != nullptr) ts.next->prev = ts.prev;
    ts.prev = ts.next = nullptr;
}

// Moves the thread's batch into the totals. Caller: the owning thread, or anyone while the
// owner cannot run (registry lock held at fork, or retired). Updates both peaks.
void fold_into_totals(ThreadState& ts) noexcept
{
    const std::int64_t pending = ts.pending;
    const std::int64_t before = g_folded_current.fetch_add(pending, std::memory_order_relaxed);
    sites_on_fold(pending);
    const std::int64_t high = before + (ts.pending_max > pending ? ts.pending_max : pending);
    // (pending_max may be -1 for a new thread: then high = before + pending.)
    if (high > g_totals.life_peak.load(std::memory_order_relaxed) ||
        high > g_totals.peak.load(std::memory_order_relaxed)) {
        const std::int64_t now = uptime_ns();
        raise_to(g_totals.peak, g_totals.peak_ns, high, now);
        raise_to(g_totals.life_peak, g_totals.life_peak_ns, high, now);
    }
    g_totals.allocs.fetch_add(ts.allocs, std::memory_order_relaxed);
    g_totals.frees.fetch_add(ts.frees, std::memory_order_relaxed);
    g_totals.bytes_allocated.fetch_add(ts.bytes_allocated, std::memory_order_relaxed);
    __atomic_store_n(&ts.pending, 0, __ATOMIC_RELAXED);
    ts.pending_max = 0;
    __atomic_store_n(&ts.allocs, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&ts.frees, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&ts.bytes_allocated, 0, __ATOMIC_RELAXED);
}

void register_thread(ThreadState& ts) noexcept
{
    Guard guard;  // pthread_once/pthread_setspecific may allocate
    if (g_totals.clock_base_ns.load(std::memory_order_relaxed) == 0) {
        std::int64_t zero = 0;
        g_totals.clock_base_ns.compare_exchange_strong(zero, monotonic_ns());
    }
    pthread_once(&g_key_once, make_key);
    // Without the exit hook the thread could leave the registry pointing at its dead TLS:
    // such a thread is never linked and folds every event at once (exact, just slower).
    if (!g_key_ok || pthread_setspecific(g_exit_key, &ts) != 0) {
        ts.status = kRetired;
        return;
    }
    pthread_mutex_lock(&g_registry_lock);
    link_locked(ts);
    ts.status = kRegistered;
    ts.fold_hi = kFoldBytes;
    ts.fold_lo = -kFoldBytes;
    pthread_mutex_unlock(&g_registry_lock);
}

// The process totals as folded, then with every registered thread's unfolded batch
// (registry lock held) added: snapshot() and snapshot_in_signal() share them.
struct Sums {
    std::int64_t current;
    std::uint64_t allocs, frees, bytes;
};

Sums folded_sums() noexcept
{
    return {g_folded_current.load(std::memory_order_relaxed),
            g_totals.allocs.load(std::memory_order_relaxed),
            g_totals.frees.load(std::memory_order_relaxed),
            g_totals.bytes_allocated.load(std::memory_order_relaxed)};
}

void add_threads_locked(Sums& sum) noexcept
{
    for (ThreadState* t = g_registry_head; t != nullptr; t = t->next) {
        sum.current += read_racy(t->pending);
        sum.allocs += read_racy(t->allocs);
        sum.frees += read_racy(t->frees);
        sum.bytes += read_racy(t->bytes_allocated);
    }
}

}  // namespace

std::int64_t uptime_ns() noexcept
{
    const std::int64_t base = g_totals.clock_base_ns.load(std::memory_order_relaxed);
    return base == 0 ? 0 : monotonic_ns() - base;
}

void reset_clock(std::int64_t ago_ns) noexcept
{
    g_totals.clock_base_ns.store(monotonic_ns() - ago_ns, std::memory_order_relaxed);
}

void fold_slow(ThreadState& ts) noexcept
{
    if (ts.status == kNew) register_thread(ts);
    fold_into_totals(ts);
    if (ts.status == kRetired) ts.pending_max = -1;
    // The shard's unfolded part stays within the heap batch's bound (core/sites.hpp).
    sites_fold(ts);
    timeline_on_fold();  // the timeline's points come from here (core/sampler.hpp)
    std::int64_t at = g_checkpoint_at.load(std::memory_order_relaxed);
    const std::int64_t peak = g_totals.life_peak.load(std::memory_order_relaxed);
    if (peak >= at && g_checkpoint_hook != nullptr && ts.guard == 0) [[unlikely]]
        if (g_checkpoint_at.compare_exchange_strong(at, INT64_MAX, std::memory_order_relaxed))
            g_checkpoint_hook(peak);
}

void note_high(ThreadState& ts, std::int64_t pending) noexcept
{
    ts.pending_max = pending;
    if (pending >= ts.fold_hi) fold_slow(ts);
}

void note_foreign_free() noexcept
{
    g_totals.foreign_frees.fetch_add(1, std::memory_order_relaxed);
}

void retire_thread() noexcept
{
    ThreadState& ts = t_state;
    if (ts.status != kRegistered) return;
    pthread_mutex_lock(&g_registry_lock);
    fold_into_totals(ts);
    sites_retire(ts);
    unlink_locked(ts);
    ts.status = kRetired;
    ts.fold_hi = 0;  // late events during thread teardown fold at once
    ts.fold_lo = std::numeric_limits<std::int64_t>::max();
    ts.pending_max = -1;
    pthread_mutex_unlock(&g_registry_lock);
}

Snapshot snapshot() noexcept
{
    ThreadState& self = t_state;
    if (self.status == kRegistered) fold_into_totals(self);
    Snapshot s;
    pthread_mutex_lock(&g_registry_lock);
    Sums sum = folded_sums();
    add_threads_locked(sum);
    pthread_mutex_unlock(&g_registry_lock);
    const auto [current, allocs, frees, bytes] = sum;
    // Another thread's batch can make `current` exceed the folded peak: the peak is at least
    // what we see now.
    const std::int64_t now = uptime_ns();
    raise_to(g_totals.peak, g_totals.peak_ns, current, now);
    raise_to(g_totals.life_peak, g_totals.life_peak_ns, current, now);
    s.current_bytes = current;
    s.peak_bytes = g_totals.peak.load(std::memory_order_relaxed);
    s.peak_time_ns = g_totals.peak_ns.load(std::memory_order_relaxed);
    s.lifetime_peak_bytes = g_totals.life_peak.load(std::memory_order_relaxed);
    s.lifetime_peak_time_ns = g_totals.life_peak_ns.load(std::memory_order_relaxed);
    s.allocations = allocs;
    s.frees = frees;
    s.bytes_allocated = bytes;
    s.live_blocks = g_totals.live_base.load(std::memory_order_relaxed) + allocs - frees;
    s.foreign_frees = g_totals.foreign_frees.load(std::memory_order_relaxed);
    s.uptime_ns = now;
    return s;
}

Snapshot snapshot_in_signal() noexcept
{
    Snapshot s;
    Sums sum = folded_sums();
    if (pthread_mutex_trylock(&g_registry_lock) == 0) {
        add_threads_locked(sum);
        pthread_mutex_unlock(&g_registry_lock);
    }
    const auto [current, allocs, frees, bytes] = sum;
    const std::int64_t now = uptime_ns();
    const std::int64_t life_peak = g_totals.life_peak.load(std::memory_order_relaxed);
    s.current_bytes = current;
    s.peak_bytes = g_totals.peak.load(std::memory_order_relaxed);
    s.peak_time_ns = g_totals.peak_ns.load(std::memory_order_relaxed);
    s.lifetime_peak_bytes = life_peak > current ? life_peak : current;
    s.lifetime_peak_time_ns =
        life_peak > current ? g_totals.life_peak_ns.load(std::memory_order_relaxed) : now;
    s.allocations = allocs;
    s.frees = frees;
    s.bytes_allocated = bytes;
    s.live_blocks = g_totals.live_base.load(std::memory_order_relaxed) + allocs - frees;
    s.foreign_frees = g_totals.foreign_frees.load(std::memory_order_relaxed);
    s.uptime_ns = now;
    return s;
}

std::int64_t current_bytes() noexcept
{
    std::int64_t current = 0;
    pthread_mutex_lock(&g_registry_lock);
    current = g_folded_current.load(std::memory_order_relaxed);
    for (ThreadState* t = g_registry_head; t != nullptr; t = t->next)
        current += read_racy(t->pending);
    pthread_mutex_unlock(&g_registry_lock);
    return current;
}

void reset_peak() noexcept
{
    const std::int64_t current = snapshot().current_bytes;
    g_totals.peak.store(current, std::memory_order_relaxed);
    g_totals.peak_ns.store(uptime_ns(), std::memory_order_relaxed);
    sites_reset_peak();
}

void raise_peak(std::int64_t bytes, std::int64_t time_ns) noexcept
{
    raise_to(g_totals.peak, g_totals.peak_ns, bytes, time_ns);
}

void counters_prepare_fork() noexcept
{
    pthread_mutex_lock(&g_registry_lock);
}

void counters_parent_after_fork() noexcept
{
    pthread_mutex_unlock(&g_registry_lock);
}

void counters_child_after_fork() noexcept
{
    // Only the forking thread exists here. The other threads' states are still mapped (the
    // address space was copied) and none of them can change: fold and drop them.
    ThreadState& self = t_state;
    ThreadState* t = g_registry_head;
    while (t != nullptr) {
        ThreadState* next = t->next;
        fold_into_totals(*t);
        sites_fold_in_child(*t);
        if (t != &self) {
            t->status = kRetired;
            t->prev = t->next = nullptr;
        }
        t = next;
    }
    g_registry_head = nullptr;
    if (self.status == kRegistered) link_locked(self);
    g_registry_lock = PTHREAD_MUTEX_INITIALIZER;
    // The child's own run starts now, from the heap it inherited.
    const std::uint64_t live = g_totals.live_base.load(std::memory_order_relaxed) +
                               g_totals.allocs.load(std::memory_order_relaxed) -
                               g_totals.frees.load(std::memory_order_relaxed);
    g_totals.live_base.store(live, std::memory_order_relaxed);
    g_totals.allocs.store(0, std::memory_order_relaxed);
    g_totals.frees.store(0, std::memory_order_relaxed);
    g_totals.bytes_allocated.store(0, std::memory_order_relaxed);
    g_totals.foreign_frees.store(0, std::memory_order_relaxed);
    reset_clock();
    const std::int64_t current = g_folded_current.load(std::memory_order_relaxed);
    g_totals.peak.store(current, std::memory_order_relaxed);
    g_totals.peak_ns.store(0, std::memory_order_relaxed);
    g_totals.life_peak.store(current, std::memory_order_relaxed);
    g_totals.life_peak_ns.store(0, std::memory_order_relaxed);
}

void counters_reset_for_tests() noexcept
{
    ThreadState& self = t_state;
    pthread_mutex_lock(&g_registry_lock);
    if (self.status == kRegistered) unlink_locked(self);
    pthread_mutex_unlock(&g_registry_lock);
    self.pending = 0;
    self.pending_max = -1;
    self.allocs = 0;
    self.frees = 0;
    self.bytes_allocated = 0;
    self.status = kNew;
    self.seq_next = self.seq_end = 0;  // the next allocation starts a fresh run of numbers
    self.fold_hi = 0;
    self.fold_lo = std::numeric_limits<std::int64_t>::max();
    g_folded_current.store(0);
    g_totals.peak.store(0);
    g_totals.peak_ns.store(0);
    g_totals.life_peak.store(0);
    g_totals.life_peak_ns.store(0);
    g_totals.allocs.store(0);
    g_totals.frees.store(0);
    g_totals.bytes_allocated.store(0);
    g_totals.foreign_frees.store(0);
    g_totals.live_base.store(0);
    sites_reset_for_tests();
}

}  // namespace memtrack::detail
