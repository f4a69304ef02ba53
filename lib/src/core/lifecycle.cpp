// Start-up, exit report and fork handling (cold path). Runs before main from the library
// constructor and at exit from an on_exit handler; allocates only inside the guard.
#include "core/lifecycle.hpp"

#include "config/config.hpp"
#include "core/counters.hpp"
#include "platform/process.hpp"
#include "report/report.hpp"
#include "report/sampler.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>

namespace memtrack::detail {

namespace {

constinit std::atomic<Phase> g_phase{Phase::Uninit};

// The exit report. An on_exit handler is the only place that learns the status main returned
// or exit() was given. Registered by the library constructor, which ld.so runs before
// __libc_start_main registers _dl_fini, so it runs after _dl_fini: after the program's exit
// handlers, its static destructors and the other libraries' destructors. The report then sees
// the heap as the process left it.
void report_at_exit(int status, void*) noexcept
{
    Phase expected = Phase::Active;
    if (!g_phase.compare_exchange_strong(expected, Phase::Stopping)) return;
    stop_sampler();
    // exit() flushes stdio only after every exit handler: flush stdout now, so that a
    // program's buffered output (to a pipe or file) comes before the summary. Unlocked, as
    // glibc's own exit-time flush is: another thread may hold stdout's lock forever (blocked
    // in a write), and taking it would hang the exit. A stdout the program closed already
    // (coreutils' close_stdout) is glibc's static stream with no buffer: a no-op.
    fflush_unlocked(stdout);
    write_report(ReportReason::Exit, nullptr, status & 0xff);
    g_phase.store(Phase::Stopped);
}

void prepare_fork() noexcept
{
    counters_prepare_fork();
    sampler_prepare_fork();
}

void parent_after_fork() noexcept
{
    sampler_parent_after_fork();
    counters_parent_after_fork();
}

// The child is its own run: own clock, counters, timeline, sampler and report (with its ppid).
void child_after_fork() noexcept
{
    counters_child_after_fork();
    sampler_child_after_fork();
    add_timeline_point(0, current_bytes());
    if (g_phase.load(std::memory_order_relaxed) == Phase::Active)
        start_sampler(config().interval_ns);
}

// Library constructor. Priority 101 (the earliest user priority) so the tracker is running
// before this library's other constructors; allocations before it ran are counted already.
[[gnu::constructor(101)]] void memtrack_constructor() noexcept
{
    start();
}

}  // namespace

Phase phase() noexcept
{
    return g_phase.load(std::memory_order_relaxed);
}

void start() noexcept
{
    Phase expected = Phase::Uninit;
    if (!g_phase.compare_exchange_strong(expected, Phase::Starting)) return;
    Guard guard;
    // Wall time counts from the process start, not from our first allocation.
    const std::int64_t age = process_age_ns();
    reset_clock(age > 0 ? age : 0);
    load_config();
    on_exit(report_at_exit, nullptr);
    pthread_atfork(prepare_fork, parent_after_fork, child_after_fork);
    add_timeline_point(uptime_ns(), current_bytes());
    start_sampler(config().interval_ns);
    g_phase.store(Phase::Active);
}

}  // namespace memtrack::detail
