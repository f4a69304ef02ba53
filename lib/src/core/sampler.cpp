// Timeline sampler thread and its buffer (cold path; takes its own lock and the registry lock;
// buffer memory from mimalloc, never tracked).
#include "core/sampler.hpp"

#include "core/counters.hpp"

#include <mimalloc.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <ctime>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace memtrack::detail {

namespace {

// Bounded buffer: when full, every other point is dropped and the sampling interval doubles,
// so a long run keeps an even timeline in at most kMaxPoints * 16 bytes.
constexpr std::size_t kMaxPoints = 16384;

struct SamplerState {
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t wake{};
    bool cond_ready = false;
    bool running = false;
    bool stop = false;
    pthread_t thread{};
    std::int64_t interval_ns = 0;
    TimelinePoint* points = nullptr;
    std::size_t count = 0;
};
constinit SamplerState g_sampler{};

void append_locked(std::int64_t t_ns, std::int64_t bytes) noexcept
{
    SamplerState& s = g_sampler;
    if (s.points == nullptr) {
        s.points = static_cast<TimelinePoint*>(mi_malloc(kMaxPoints * sizeof(TimelinePoint)));
        if (s.points == nullptr) return;
    }
    if (s.count == kMaxPoints) {
        for (std::size_t i = 0; i < kMaxPoints / 2; ++i)
            s.points[i] = s.points[2 * i];
        s.count = kMaxPoints / 2;
        s.interval_ns *= 2;
    }
    s.points[s.count++] = TimelinePoint{t_ns, bytes};
}

void init_cond_locked() noexcept
{
    if (g_sampler.cond_ready) return;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g_sampler.wake, &attr);
    pthread_condattr_destroy(&attr);
    g_sampler.cond_ready = true;
}

constinit std::atomic<pid_t> g_sampler_tid{0};

void* sampler_main(void*) noexcept
{
    g_sampler_tid.store(static_cast<pid_t>(syscall(SYS_gettid)), std::memory_order_relaxed);
    Guard guard;  // for the rest of this thread's life: nothing it allocates is tracked
    SamplerState& s = g_sampler;
    pthread_mutex_lock(&s.lock);
    timespec next{};
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!s.stop) {
        const std::int64_t ns = next.tv_nsec + s.interval_ns;
        next.tv_sec += ns / 1'000'000'000;
        next.tv_nsec = ns % 1'000'000'000;
        while (!s.stop && pthread_cond_timedwait(&s.wake, &s.lock, &next) == 0) {
        }
        if (s.stop) break;
        pthread_mutex_unlock(&s.lock);
        const std::int64_t bytes = current_bytes();
        const std::int64_t t = uptime_ns();
        pthread_mutex_lock(&s.lock);
        append_locked(t, bytes);
    }
    pthread_mutex_unlock(&s.lock);
    return nullptr;
}

}  // namespace

std::uintptr_t sampler_tcb() noexcept
{
    return g_sampler_tid.load(std::memory_order_relaxed) != 0
               ? static_cast<std::uintptr_t>(g_sampler.thread)
               : 0;
}

pid_t sampler_tid() noexcept
{
    return g_sampler_tid.load(std::memory_order_relaxed);
}

void start_sampler(std::int64_t interval_ns) noexcept
{
    if (interval_ns <= 0) return;
    Guard guard;  // pthread_create allocates
    SamplerState& s = g_sampler;
    pthread_mutex_lock(&s.lock);
    init_cond_locked();
    if (s.running) {
        pthread_mutex_unlock(&s.lock);
        return;
    }
    s.interval_ns = interval_ns;
    s.stop = false;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);  // the thread inherits "all blocked"
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    s.running = pthread_create(&s.thread, &attr, sampler_main, nullptr) == 0;
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    // Wait (briefly) for its tid: the leak scan's stop-the-world must know to skip it, and it
    // publishes its tid first thing, before it takes this lock.
    for (int i = 0; s.running && i < 2000 && g_sampler_tid.load(std::memory_order_relaxed) == 0;
         ++i) {
        const timespec pause{0, 50'000};
        nanosleep(&pause, nullptr);
    }
    pthread_mutex_unlock(&s.lock);
}

void stop_sampler() noexcept
{
    SamplerState& s = g_sampler;
    pthread_mutex_lock(&s.lock);
    if (!s.running) {
        pthread_mutex_unlock(&s.lock);
        return;
    }
    s.stop = true;
    pthread_cond_signal(&s.wake);
    const pthread_t thread = s.thread;
    s.running = false;
    pthread_mutex_unlock(&s.lock);
    Guard guard;
    pthread_join(thread, nullptr);
}

void add_timeline_point(std::int64_t t_ns, std::int64_t bytes) noexcept
{
    pthread_mutex_lock(&g_sampler.lock);
    append_locked(t_ns, bytes);
    pthread_mutex_unlock(&g_sampler.lock);
}

std::size_t copy_timeline(TimelinePoint* out, std::size_t cap) noexcept
{
    pthread_mutex_lock(&g_sampler.lock);
    const std::size_t n = g_sampler.count < cap ? g_sampler.count : cap;
    if (n > 0) std::memcpy(out, g_sampler.points, n * sizeof(TimelinePoint));
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
    s.cond_ready = false;  // the parent's condition variable may be mid-use: make a new one
    s.running = false;
    s.stop = false;
    s.count = 0;
    g_sampler_tid.store(0, std::memory_order_relaxed);
}

}  // namespace memtrack::detail
