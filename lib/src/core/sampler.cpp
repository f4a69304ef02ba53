// The timeline and its buffer (cold path; takes its own lock and the registry lock; buffer
// memory from mimalloc, never tracked). No thread (issue 11: the host must not see one): the
// heap only changes when the program allocates or frees, so the allocation path adds the
// points, at the fold points of the per-thread counters (every kFoldBytes of a thread's net
// change, and every block of kFoldBytes or more), at most one per interval.
#include "core/sampler.hpp"

#include "core/counters.hpp"
#include "core/sites.hpp"
#include "platform/process.hpp"

#include <mimalloc.h>

#include <atomic>
#include <cstring>
#include <pthread.h>

namespace memtrack::detail {

namespace {

// Bounded buffer: when full, every other point is dropped and the sampling interval doubles,
// so a long run keeps an even timeline in at most kMaxPoints * 24 bytes (and, with stacks on,
// kMaxPoints * sizeof(TimelineSites) for the top sites: 2.4 MiB).
constexpr std::size_t kMaxPoints = 16384;

struct SamplerState {
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    std::int64_t interval_ns = 0;
    TimelinePoint* points = nullptr;
    TimelineSites* sites = nullptr;  // parallel to points, with stacks on; else null
    std::size_t count = 0;
};
constinit SamplerState g_sampler{};

void append_locked(const TimelinePoint& point, const TimelineSites* top) noexcept
{
    SamplerState& s = g_sampler;
    if (s.points == nullptr) {
        s.points = static_cast<TimelinePoint*>(mi_malloc(kMaxPoints * sizeof(TimelinePoint)));
        if (s.points == nullptr) return;
    }
    if (top != nullptr && s.sites == nullptr) {
        // Points taken before the first with sites have none.
        s.sites = static_cast<TimelineSites*>(mi_zalloc(kMaxPoints * sizeof(TimelineSites)));
    }
    if (s.count == kMaxPoints) {
        for (std::size_t i = 0; i < kMaxPoints / 2; ++i) {
            s.points[i] = s.points[2 * i];
            if (s.sites != nullptr) s.sites[i] = s.sites[2 * i];
        }
        s.count = kMaxPoints / 2;
        s.interval_ns *= 2;
    }
    if (s.sites != nullptr) s.sites[s.count] = top != nullptr ? *top : TimelineSites{};
    s.points[s.count++] = point;
}

// The next moment a fold may add a point (uptime ns), and the interval (0 = timeline off).
constinit std::atomic<std::int64_t> g_next_tick_ns{0};
constinit std::atomic<std::int64_t> g_tick_interval_ns{0};

}  // namespace

std::uintptr_t sampler_tcb() noexcept
{
    return 0;  // no thread of memtrack's own (issue 11)
}

pid_t sampler_tid() noexcept
{
    return 0;
}

void start_sampler(std::int64_t interval_ns) noexcept
{
    if (interval_ns <= 0) return;
    pthread_mutex_lock(&g_sampler.lock);
    g_sampler.interval_ns = interval_ns;
    pthread_mutex_unlock(&g_sampler.lock);
    g_next_tick_ns.store(uptime_ns() + interval_ns, std::memory_order_relaxed);
    g_tick_interval_ns.store(interval_ns, std::memory_order_relaxed);
}

void stop_sampler() noexcept
{
    g_tick_interval_ns.store(0, std::memory_order_relaxed);
}

void timeline_on_fold() noexcept
{
    const std::int64_t interval = g_tick_interval_ns.load(std::memory_order_relaxed);
    if (interval <= 0) return;
    const std::int64_t now = uptime_ns();
    std::int64_t due = g_next_tick_ns.load(std::memory_order_relaxed);
    if (now < due) return;
    // One thread takes each point; the others go on.
    if (!g_next_tick_ns.compare_exchange_strong(due, now + interval, std::memory_order_relaxed))
        return;
    const std::int64_t bytes = current_bytes();
    const std::int64_t rss = current_rss_bytes();
    TimelineSites top;
    if (g_sites_on)
        top.count = static_cast<std::uint32_t>(top_live_sites(top.stack, top.bytes, kTimelineSites));
    pthread_mutex_lock(&g_sampler.lock);
    append_locked(TimelinePoint{now, bytes, rss}, g_sites_on ? &top : nullptr);
    // append_locked doubles the interval when it thins a full buffer.
    g_tick_interval_ns.store(g_sampler.interval_ns, std::memory_order_relaxed);
    pthread_mutex_unlock(&g_sampler.lock);
}

void add_timeline_point(std::int64_t t_ns, std::int64_t bytes) noexcept
{
    const std::int64_t rss = current_rss_bytes();
    pthread_mutex_lock(&g_sampler.lock);
    append_locked(TimelinePoint{t_ns, bytes, rss}, nullptr);
    pthread_mutex_unlock(&g_sampler.lock);
}

std::size_t copy_timeline(TimelinePoint* out, std::size_t cap, TimelineSites* sites) noexcept
{
    pthread_mutex_lock(&g_sampler.lock);
    const std::size_t n = g_sampler.count < cap ? g_sampler.count : cap;
    if (n > 0) std::memcpy(out, g_sampler.points, n * sizeof(TimelinePoint));
    if (sites != nullptr) {
        for (std::size_t i = 0; i < n; ++i)
            sites[i] = g_sampler.sites != nullptr ? g_sampler.sites[i] : TimelineSites{};
    }
    pthread_mutex_unlock(&g_sampler.lock);
    return n;
}

std::size_t copy_timeline_in_signal(TimelinePoint* out, std::size_t cap) noexcept
{
    if (pthread_mutex_trylock(&g_sampler.lock) != 0) return 0;
    const std::size_t n = g_sampler.count < cap ? g_sampler.count : cap;
    if (n > 0) std::memcpy(out, g_sampler.points, n * sizeof(TimelinePoint));
    pthread_mutex_unlock(&g_sampler.lock);
    return n;
}

std::size_t timeline_size() noexcept
{
    pthread_mutex_lock(&g_sampler.lock);
    const std::size_t n = g_sampler.count;
    pthread_mutex_unlock(&g_sampler.lock);
    return n;
}

void sampler_prepare_fork() noexcept
{
    pthread_mutex_lock(&g_sampler.lock);
}

void sampler_parent_after_fork() noexcept
{
    pthread_mutex_unlock(&g_sampler.lock);
}

void sampler_child_after_fork() noexcept
{
    SamplerState& s = g_sampler;
    s.lock = PTHREAD_MUTEX_INITIALIZER;
    s.count = 0;
    g_tick_interval_ns.store(0, std::memory_order_relaxed);  // the caller restarts it
}

}  // namespace memtrack::detail
