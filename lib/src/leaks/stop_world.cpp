// Stop-the-world with a real-time signal and futexes (see stop_world.hpp). The handler is
// async-signal-safe: atomics, raw syscalls, no allocation.
#include "leaks/stop_world.hpp"

#include "core/sampler.hpp"
#include "platform/clock.hpp"
#include "platform/hex.hpp"
#include "platform/tasks.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace memtrack::detail {

namespace {

constexpr int kMagic = 0x6d740000;  // payload: kMagic | (round & 0xffff)
constexpr std::int64_t kTimeoutNs = 2'000'000'000;

constinit std::atomic<int> g_installed{0};
constinit struct sigaction g_previous {
};
constinit std::atomic<std::uint32_t> g_round{0};   // current stop round
constinit std::atomic<std::uint32_t> g_resume{0};  // == round: resume
constinit std::atomic<std::uint32_t> g_paused{0};  // handlers that recorded themselves
constinit std::atomic<std::uint32_t> g_left{0};    // handlers that returned
constinit std::atomic<std::uint32_t> g_slot{0};    // next slot in g_acks
struct Ack {
    std::atomic<pid_t> tid;
    std::atomic<std::uintptr_t> sp;
    std::atomic<std::uintptr_t> tcb;
};
constinit Ack g_acks[kMaxPausedThreads]{};

long futex(std::atomic<std::uint32_t>* addr, int op, std::uint32_t val,
           const timespec* timeout = nullptr) noexcept
{
    return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), op, val, timeout, nullptr, 0);
}

pid_t gettid_raw() noexcept
{
    return static_cast<pid_t>(syscall(SYS_gettid));
}

void chain(int sig, siginfo_t* info, void* context) noexcept
{
    const struct sigaction& prev = g_previous;
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction != nullptr) prev.sa_sigaction(sig, info, context);
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN &&
               prev.sa_handler != nullptr) {
        prev.sa_handler(sig);
    }
}

void handler(int sig, siginfo_t* info, void* context) noexcept
{
    const int saved_errno = errno;
    const bool ours = info != nullptr && info->si_code == SI_QUEUE && info->si_pid == getpid() &&
                      (info->si_value.sival_int & ~0xffff) == kMagic;
    if (!ours) {
        chain(sig, info, context);
        errno = saved_errno;
        return;
    }
    // A signal taken while no stop is in progress is a late one: ignored. One of an earlier
    // round taken during a stop (queued to a thread in one of glibc's all-signals-blocked
    // windows, which stop_world does not queue twice) pauses the thread for this round.
    const std::uint32_t round = g_round.load(std::memory_order_acquire);
    if (g_resume.load(std::memory_order_acquire) == round) {
        errno = saved_errno;
        return;
    }
    volatile char marker = 0;  // everything of this thread's stack from here up is live
    const std::uint32_t slot = g_slot.fetch_add(1, std::memory_order_relaxed);
    if (slot < kMaxPausedThreads) {
        g_acks[slot].sp.store(reinterpret_cast<std::uintptr_t>(&marker), std::memory_order_relaxed);
        // pthread_self reads the thread pointer register: async-signal-safe in practice.
        g_acks[slot].tcb.store(reinterpret_cast<std::uintptr_t>(pthread_self()),
                               std::memory_order_relaxed);
        g_acks[slot].tid.store(gettid_raw(), std::memory_order_release);
    }
    g_paused.fetch_add(1, std::memory_order_acq_rel);
    futex(&g_paused, FUTEX_WAKE_PRIVATE, INT_MAX);
    while (g_resume.load(std::memory_order_acquire) != round)
        futex(&g_resume, FUTEX_WAIT_PRIVATE, g_resume.load(std::memory_order_relaxed));
    (void)marker;
    g_left.fetch_add(1, std::memory_order_acq_rel);
    futex(&g_left, FUTEX_WAKE_PRIVATE, INT_MAX);
    errno = saved_errno;
}

void install_once() noexcept
{
    if (g_installed.load(std::memory_order_acquire)) return;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigaction(pause_signal(), &sa, &g_previous);
    g_installed.store(1, std::memory_order_release);
}

bool send_pause(pid_t tid, std::uint32_t round) noexcept
{
    siginfo_t si;
    std::memset(&si, 0, sizeof si);
    si.si_signo = pause_signal();
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = kMagic | static_cast<int>(round & 0xffff);
    return syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, pause_signal(), &si) == 0;
}

// The blocked and pending (thread-directed) signal masks of thread `tid` (SigBlk and SigPnd
// in /proc/self/task/TID/status; bit N-1 is signal N). False if it cannot be read.
bool signal_masks(pid_t tid, std::uint64_t& blocked, std::uint64_t& pending) noexcept
{
    char path[64];
    int n = 0;
    {
        const char* prefix = "/proc/self/task/";
        for (const char* c = prefix; *c != '\0'; ++c)
            path[n++] = *c;
        char digits[16];
        int d = 0;
        for (long v = tid; v > 0; v /= 10)
            digits[d++] = static_cast<char>('0' + v % 10);
        while (d > 0)
            path[n++] = digits[--d];
        for (const char* c = "/status"; *c != '\0'; ++c)
            path[n++] = *c;
        path[n] = '\0';
    }
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[4096];
    const ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0) return false;
    buf[got] = '\0';
    auto field = [&](const char* name, std::uint64_t& out) {
        const char* line = std::strstr(buf, name);
        if (line == nullptr) return false;
        line += std::strlen(name);
        while (*line == ' ' || *line == '\t')
            ++line;
        out = parse_hex(line, buf + got);
        return true;
    };
    return field("SigBlk:", blocked) && field("SigPnd:", pending);
}

bool has_signal(std::uint64_t mask, int sig) noexcept
{
    return sig >= 1 && sig <= 64 && (mask >> (sig - 1)) & 1;
}

// glibc blocks every signal, its own SIGCANCEL (32) and SIGSETXID (33) included, only inside
// short windows of its own: pthread_create around clone (the parent, and the new thread until
// start_thread restores its mask) and a thread's exit (from after its TLS destructors until it
// is gone). A program cannot block those two through sigprocmask or pthread_sigmask (glibc
// removes them from the set), so a thread blocking both is in such a window: it will unblock
// soon (and take a queued pause signal at once) or exit.
bool in_glibc_window(std::uint64_t blocked) noexcept
{
    return has_signal(blocked, 32) && has_signal(blocked, 33);
}

// Whether thread `tid` of this process still exists.
bool task_exists(pid_t tid) noexcept
{
    return syscall(SYS_tgkill, getpid(), tid, 0) == 0 || errno != ESRCH;
}

bool known(const WorldStop& w, pid_t tid) noexcept
{
    for (std::size_t i = 0; i < w.count; ++i)
        if (w.threads[i].tid == tid) return true;
    return false;
}

}  // namespace

int pause_signal() noexcept
{
    return SIGRTMIN + 6;
}

void stop_world(WorldStop& w) noexcept
{
    w.count = 0;
    w.not_paused = 0;
    install_once();
    // Reset before the round starts: from the increment on, a pending signal of an earlier
    // round may be taken (see handler) and must find the counters clean.
    g_paused.store(0, std::memory_order_relaxed);
    g_left.store(0, std::memory_order_relaxed);
    g_slot.store(0, std::memory_order_relaxed);
    for (auto& a : g_acks)
        a.tid.store(0, std::memory_order_relaxed);
    const std::uint32_t round = g_round.fetch_add(1, std::memory_order_acq_rel) + 1;
    const pid_t self = gettid_raw();
    const pid_t sampler = sampler_tid();
    std::uint32_t sent = 0;
    // Threads running now may start new ones before they are paused: list again until a
    // listing shows no thread we have not signalled.
    static pid_t tids[kMaxPausedThreads];
    static pid_t batch[kMaxPausedThreads];  // signalled in this pass, not known gone
    std::uint32_t gone = 0;                 // signalled threads that exited without answering
    for (int pass = 0; pass < 8; ++pass) {
        const std::size_t n = list_tasks(tids, kMaxPausedThreads);
        bool fresh = false;
        std::size_t batch_n = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const pid_t tid = tids[i];
            if (tid == self || tid == sampler || known(w, tid) || w.count == kMaxPausedThreads)
                continue;
            fresh = true;
            std::uint64_t blocked = 0, pending = 0;
            const bool masks = signal_masks(tid, blocked, pending);
            // Issue 10, the stress test under load: a thread inside one of glibc's windows
            // (in_glibc_window) was given 20 ms, then left running during the scan. Now it gets
            // the pause signal queued, taken the moment it unblocks, and is waited for like
            // the others, until it answers or exits. Queued once: a signal still pending from
            // an earlier round is not stacked on (the handler takes it for the current round).
            const bool window =
                masks && has_signal(blocked, pause_signal()) && in_glibc_window(blocked);
            if (window && has_signal(pending, pause_signal())) {
                w.threads[w.count++] = ThreadStop{tid, 0, 0, false};
                batch[batch_n++] = tid;
                ++sent;
                continue;
            }
            // A thread the program made block the signal would never answer: a moment (up to
            // ~20 ms) for a mask being changed, then it is not waited for.
            bool blocked_here = !window && masks && has_signal(blocked, pause_signal());
            for (int wait = 0; blocked_here && wait < 20; ++wait) {
                const timespec ms{0, 1'000'000};
                nanosleep(&ms, nullptr);
                blocked_here = signal_masks(tid, blocked, pending) &&
                               has_signal(blocked, pause_signal()) && !in_glibc_window(blocked);
            }
            if (blocked_here) {
                w.threads[w.count++] = ThreadStop{tid, 0, 0, false};
                continue;
            }
            if (!send_pause(tid, round)) continue;  // it exited meanwhile
            w.threads[w.count++] = ThreadStop{tid, 0, 0, false};
            batch[batch_n++] = tid;
            ++sent;
        }
        if (!fresh) break;
        // Wait for this batch before listing again, so that the threads it had running are
        // paused and cannot create more. A signalled thread that exits first (glibc's exit
        // window blocks every signal) never answers: after each millisecond without news the
        // ones not answered yet are looked up, and those gone are not waited for.
        const std::int64_t deadline = monotonic_ns() + kTimeoutNs;
        for (;;) {
            const std::uint32_t paused = g_paused.load(std::memory_order_acquire);
            if (paused + gone >= sent) break;
            const std::int64_t left = deadline - monotonic_ns();
            if (left <= 0) break;
            const std::int64_t slice = std::min<std::int64_t>(left, 1'000'000);
            timespec ts{0, static_cast<long>(slice)};
            if (futex(&g_paused, FUTEX_WAIT_PRIVATE, paused, &ts) == 0 ||
                g_paused.load(std::memory_order_acquire) != paused)
                continue;  // news
            for (std::size_t k = 0; k < batch_n; ++k) {
                if (batch[k] != 0 && !task_exists(batch[k])) {
                    batch[k] = 0;
                    ++gone;
                }
            }
        }
    }
    const std::uint32_t acked = g_slot.load(std::memory_order_acquire);
    for (std::uint32_t s = 0; s < acked && s < kMaxPausedThreads; ++s) {
        const pid_t tid = g_acks[s].tid.load(std::memory_order_acquire);
        for (std::size_t i = 0; i < w.count; ++i) {
            if (w.threads[i].tid == tid) {
                w.threads[i].paused = true;
                w.threads[i].sp = g_acks[s].sp.load(std::memory_order_relaxed);
                w.threads[i].tcb = g_acks[s].tcb.load(std::memory_order_relaxed);
            }
        }
    }
    // Threads that exited without answering cannot change memory any more: not counted.
    std::size_t kept = 0;
    for (std::size_t i = 0; i < w.count; ++i) {
        if (!w.threads[i].paused && !task_exists(w.threads[i].tid)) continue;
        w.threads[kept++] = w.threads[i];
    }
    w.count = kept;
    for (std::size_t i = 0; i < w.count; ++i)
        if (!w.threads[i].paused) ++w.not_paused;
}

void resume_world(WorldStop& w) noexcept
{
    const std::uint32_t round = g_round.load(std::memory_order_acquire);
    g_resume.store(round, std::memory_order_release);
    futex(&g_resume, FUTEX_WAKE_PRIVATE, INT_MAX);
    // Wait until every thread that paused has left the handler, so that the next round starts
    // clean. Those that never paused are not waited for (a late signal is ignored).
    const std::int64_t deadline = monotonic_ns() + kTimeoutNs;
    for (;;) {
        const std::uint32_t left = g_left.load(std::memory_order_acquire);
        if (left >= g_paused.load(std::memory_order_acquire)) break;
        const std::int64_t rest = deadline - monotonic_ns();
        if (rest <= 0) break;
        timespec ts{static_cast<time_t>(rest / 1'000'000'000),
                    static_cast<long>(rest % 1'000'000'000)};
        futex(&g_left, FUTEX_WAIT_PRIVATE, left, &ts);
    }
    (void)w;
}

}  // namespace memtrack::detail
