// Start-up, exit report and fork handling (cold path). Runs before main from the library
// constructor and at exit from an on_exit handler; allocates only inside the guard.
#include "runtime/lifecycle.hpp"

#include "config/config.hpp"
#include "core/invalid_frees.hpp"
#include "core/big_blocks.hpp"
#include "core/block.hpp"
#include "core/counters.hpp"
#include "core/sampler.hpp"
#include "core/sites.hpp"
#include "leaks/collector.hpp"
#include "leaks/root_regions.hpp"
#include "platform/process.hpp"
#include "platform/tasks.hpp"
#include "report/report.hpp"
#include "runtime/ends.hpp"
#include "runtime/lsan.hpp"
#include "runtime/signals.hpp"
#include "stack/symbolize.hpp"
#include "stack/unwind.hpp"

#include "platform/log.hpp"
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

namespace memtrack::detail {

namespace {

// The depot's g_next_alloc_seq (stack/depot.hpp): the number the cold allocation path
// (core/block.cpp) gives the tracked block whose stack is being captured, taken right after the
// capture: the thread's next number, or the first of the run it is about to take. 0 while
// nothing is numbered.
std::uint64_t next_alloc_seq() noexcept
{
    if (g_small_limit != 0) return 0;
    const ThreadState& ts = t_state;
    if (ts.seq_next != ts.seq_end) return ts.seq_next;
    return g_alloc_seq.load(std::memory_order_relaxed) + 1;
}

constinit std::atomic<Phase> g_phase{Phase::Uninit};
// The process the counters are this run's of: set at start and in a forked child. A vfork
// child (no fork handler) has another pid and shares its parent's memory.
constinit std::atomic<pid_t> g_pid{0};

// CI gates (MEMTRACK_ERROR_EXITCODE, MEMTRACK_MAX_PEAK, MEMTRACK_MAX_LEAKED): a run the exit
// report failed (report/gates.cpp decides; the report says why) ends here with the error
// status, as valgrind's --error-exitcode does. Exit handlers and destructors have all run (this
// handler is the last); stdio is flushed first: all streams when no other thread is left to
// hold a stream lock, else stdout and stderr without their locks.
void apply_gates() noexcept
{
    const GateVerdict v = last_gate_verdict();
    if (!v.failed) return;
    if (only_thread_left())
        fflush(nullptr);
    else
        fflush_unlocked(stdout);
    exit_process_now(v.status);
}

// The exit report. An on_exit handler is the only place that learns the status main returned
// or exit() was given. Registered by the library constructor, which ld.so runs before
// __libc_start_main registers _dl_fini, so it runs after _dl_fini: after the program's exit
// handlers, its static destructors and the other libraries' destructors. The report then sees
// the heap as the process left it.
void report_at_exit(int status, void*) noexcept
{
    // The leak scan's view of this thread: the frames of whoever called exit(), from the stack
    // pointer of that call up (issue 14, as current LSan does): glibc's exit path below it is
    // dead stack, whose unwritten slots keep stale copies of the program's pointers (main's
    // frames and its callees' lay there) and hid leaks. Not its registers: at exit they hold
    // whatever the program's last calls left (memset returns its pointer in rax), which would
    // hide leaks. Without a frame of exit() (an on_exit handler run otherwise), from here up.
    const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    Phase expected = Phase::Active;
    if (!g_phase.compare_exchange_strong(expected, Phase::Stopping)) return;
    std::uintptr_t program_sp = 0;
    {
        Guard guard;  // libunwind may allocate
        program_sp = stack_pointer_at_call_of("exit");
    }
    if (program_sp <= here) program_sp = here;
    stop_sampler();
    // exit() flushes stdio only after every exit handler: flush stdout now, so that a
    // program's buffered output (to a pipe or file) comes before the summary. Unlocked, as
    // glibc's own exit-time flush is: another thread may hold stdout's lock forever (blocked
    // in a write), and taking it would hang the exit. A stdout the program closed already
    // (coreutils' close_stdout) is glibc's static stream with no buffer: a no-op.
    fflush_unlocked(stdout);
    // LSan's rules: no check at exit after __lsan_do_leak_check (the report shows that one's
    // leaks) or when the program's __lsan_is_turned_off() says so.
    LeakCheckRequest request;
    request.run = config().leak_check && !lsan_final_check_done() && !lsan_turned_off();
    write_report(ReportReason::Exit, nullptr, status & 0xff, program_sp, request);
    g_phase.store(Phase::Stopped);
    apply_gates();
}

void prepare_fork() noexcept
{
    collector_prepare_fork();
    root_regions_prepare_fork();
    big_blocks_prepare_fork();
    counters_prepare_fork();
    sites_prepare_fork();
    sampler_prepare_fork();
    unwind_prepare_fork();
}

void parent_after_fork() noexcept
{
    unwind_after_fork();
    sampler_parent_after_fork();
    sites_parent_after_fork();
    counters_parent_after_fork();
    big_blocks_after_fork();
    root_regions_after_fork();
    collector_after_fork();
}

// The child is its own run: own clock, counters, timeline, sampler and report (with its ppid).
void child_after_fork() noexcept
{
    g_pid.store(getpid(), std::memory_order_relaxed);
    unwind_child_after_fork();
    counters_child_after_fork();
    sites_child_after_fork();
    invalid_frees_child_after_fork();
    big_blocks_after_fork();
    root_regions_after_fork();
    collector_after_fork();
    sampler_child_after_fork();
    add_timeline_point(0, current_bytes());
    forget_checkpoint_in_child();
    if (g_checkpoint_hook != nullptr) start_checkpoints();
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

bool own_process() noexcept
{
    return getpid() == g_pid.load(std::memory_order_relaxed);
}

bool begin_final_report() noexcept
{
    if (getpid() != g_pid.load(std::memory_order_relaxed)) return false;
    Phase expected = Phase::Active;
    if (!g_phase.compare_exchange_strong(expected, Phase::Stopping)) return false;
    stop_sampler();
    return true;
}

bool begin_signal_report() noexcept
{
    if (getpid() != g_pid.load(std::memory_order_relaxed)) return false;
    Phase expected = Phase::Active;
    return g_phase.compare_exchange_strong(expected, Phase::Stopping);
}

void end_final_report() noexcept
{
    g_phase.store(Phase::Stopped);
}

void resume_after_exec() noexcept
{
    start_sampler(config().interval_ns);
    g_phase.store(Phase::Active);
}

void start() noexcept
{
    Phase expected = Phase::Uninit;
    if (!g_phase.compare_exchange_strong(expected, Phase::Starting)) return;
    Guard guard;
    // Wall time counts from the process start, not from our first allocation.
    const std::int64_t age = process_age_ns();
    reset_clock(age > 0 ? age : 0);
    g_pid.store(getpid(), std::memory_order_relaxed);
    load_config();
    // Before any lookup that fails: glibc keeps a failed dlsym's message until the next dl*
    // call frees it, and a freed start-up page may be reused for another size class with
    // mimalloc's free-list links still in it, which the leak scan then reads as pointers
    // (the program's first blocks showed as indirect leaks).
    resolve_exec_functions();
    // MEMTRACK_SKIP (issue 11): a skipped program stays dormant: blocks keep their header (the
    // allocator is the same) and are counted on the inline paths, but nothing else starts.
    if (config().skip[0] != '\0') {
        char exe[4096];
        const std::size_t n = executable_path(exe, sizeof exe);
        if (skip_matches(config().skip, std::string_view(exe, n))) {
            set_stack_depth(0);
            g_sites_on = false;
            g_small_limit = kFoldBytes;
            g_phase.store(Phase::Dormant);
            return;
        }
    }
    lsan_start();  // the program's __lsan_default_options(), read before anything uses config
    // Stacks are captured on the slow allocation path: with them on, every allocation takes it.
    set_unwind_check(config().unwind_check);
    set_debuginfod(config().debuginfod);
    g_next_alloc_seq = next_alloc_seq;
    set_stack_depth(config().stack_depth);
    // Sites need stacks: stats-only mode has none (its blocks, but those allocated before
    // this point, take the inline paths).
    g_sites_on = stack_depth() > 0;
    // MEMTRACK_GC=auto counts allocations on the slow path too, and MEMTRACK_BREAK_ALLOC needs
    // every allocation numbered (block.hpp).
    if (config().gc_auto) g_alloc_slow_hook = gc_tick_slow;
    g_break_seq = config().break_alloc;
    if (g_break_seq != 0) {
        // The number is this process's: programs it execs count from 1 again, so the variable
        // is not passed on (forked children go on with this numbering and keep it).
        unsetenv("MEMTRACK_BREAK_ALLOC");
        const ThreadState& ts = t_state;  // start-up runs on the thread that numbered so far
        const std::uint64_t before = ts.seq_next > 0 ? ts.seq_next - 1 : 0;
        if (before >= g_break_seq)
            log("MEMTRACK_BREAK_ALLOC={}: that allocation came before memtrack started (after "
                "allocation #{}); no break",
                g_break_seq, before);
    }
    g_small_limit = stack_depth() > 0 || config().gc_auto || g_break_seq != 0 ? 0 : kFoldBytes;
    start_checkpoints();
    install_signal_handlers();
    on_exit(report_at_exit, nullptr);
    pthread_atfork(prepare_fork, parent_after_fork, child_after_fork);
    add_timeline_point(uptime_ns(), current_bytes());
    start_sampler(config().interval_ns);
    g_phase.store(Phase::Active);
}

}  // namespace memtrack::detail
