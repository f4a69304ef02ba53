// The report at a signal's default action (see signals.hpp). Cold path; the handler and the
// interposers are async-signal-safe: glibc's __sigaction (not the interposed name), raw
// syscalls, the signal report's own mapping.
#include "runtime/signals.hpp"

#include "config/config.hpp"
#include "report/signal_report.hpp"
#include "runtime/lifecycle.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// glibc's sigaction under its other exported name: what the interposed sigaction forwards to.
extern "C" int __sigaction(int sig, const struct sigaction* act, struct sigaction* old);

namespace memtrack::detail {

namespace {

constexpr int kWatched[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV,
                            SIGBUS, SIGILL,  SIGFPE, SIGABRT, SIGSYS};

// Set once the handlers are installed: from then on SIG_DFL on a watched signal means ours.
constinit std::atomic<bool> g_installed{false};
// The thread writing the signal report (kernel tid), 0 if none.
constinit std::atomic<pid_t> g_writer{0};

bool watched(int sig) noexcept
{
    for (const int s : kWatched)
        if (s == sig) return true;
    return false;
}

void on_signal(int sig, siginfo_t*, void*) noexcept;

struct sigaction our_action() noexcept
{
    struct sigaction a {};
    a.sa_sigaction = on_signal;
    // Every signal blocked while the report is written: a second fault in it is then fatal at
    // once (the kernel forces the default action on a blocked synchronous fault), so a crash
    // in memtrack's own code never hangs; and a Ctrl-C does not interrupt it.
    sigfillset(&a.sa_mask);
    a.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    return a;
}

bool is_ours(const struct sigaction& a) noexcept
{
    return (a.sa_flags & SA_SIGINFO) != 0 && a.sa_sigaction == on_signal;
}

void default_action(int sig) noexcept
{
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    __sigaction(sig, &dfl, nullptr);
}

// The handler. Writes the report once per process (the first signal's), then restores the
// default action and re-raises on this thread: when the handler returns, the signal is
// delivered with the default action, so the exit status and the core dump are the program's
// own (a fault re-executes the faulting instruction anyway).
void on_signal(int sig, siginfo_t* info, void* ucontext) noexcept
{
    const int saved_errno = errno;
    const auto self = static_cast<pid_t>(syscall(SYS_gettid));
    pid_t expected = 0;
    if (g_writer.compare_exchange_strong(expected, self)) {
        if (begin_signal_report()) {
            write_signal_report(sig, info, ucontext);
            end_final_report();
        }
    } else if (expected != self) {
        // Another thread writes the report and then ends the process: give it a few seconds.
        for (int i = 0; i < 1000 && g_writer.load() != 0; ++i) {
            const timespec pause{0, 5'000'000};
            nanosleep(&pause, nullptr);
        }
    }
    default_action(sig);
    syscall(SYS_tgkill, getpid(), self, sig);
    errno = saved_errno;
}

void install_alternate_stack() noexcept
{
    stack_t cur{};
    if (sigaltstack(nullptr, &cur) != 0 || (cur.ss_flags & SS_DISABLE) == 0) return;
    constexpr std::size_t kSize = 64 * 1024;
    void* mem = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return;
    stack_t ss{};
    ss.ss_sp = mem;
    ss.ss_size = kSize;
    if (sigaltstack(&ss, nullptr) != 0) munmap(mem, kSize);
}

}  // namespace

void install_signal_handlers() noexcept
{
    const Config& cfg = config();
    if (!cfg.report_text && !cfg.report_quiet && !cfg.report_json) return;  // nothing to write
    install_alternate_stack();
    g_installed.store(true);
    const struct sigaction ours = our_action();
    for (const int sig : kWatched) {
        struct sigaction cur {};
        if (__sigaction(sig, nullptr, &cur) == 0 && cur.sa_handler == SIG_DFL)
            __sigaction(sig, &ours, nullptr);
    }
}

int sigaction_tracked(int sig, const struct sigaction* act, struct sigaction* old) noexcept
{
    struct sigaction ours;
    if (act != nullptr && act->sa_handler == SIG_DFL && watched(sig) &&
        g_installed.load(std::memory_order_relaxed) && phase() == Phase::Active) {
        ours = our_action();
        act = &ours;
    }
    const int rc = __sigaction(sig, act, old);
    if (rc == 0 && old != nullptr && is_ours(*old)) {
        std::memset(old, 0, sizeof *old);
        old->sa_handler = SIG_DFL;
    }
    return rc;
}

__sighandler_t signal_tracked(int sig, __sighandler_t handler) noexcept
{
    struct sigaction act {
    }, old{};
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    if (handler == SIG_ERR || sigaddset(&act.sa_mask, sig) < 0) {
        errno = EINVAL;
        return SIG_ERR;
    }
    act.sa_flags = SA_RESTART;
    if (sigaction_tracked(sig, &act, &old) < 0) return SIG_ERR;
    return old.sa_handler;
}

}  // namespace memtrack::detail
