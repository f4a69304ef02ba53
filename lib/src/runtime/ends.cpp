// The ends of a process other than exit() (see ends.hpp): _exit/_Exit and exec. Cold path;
// allocates only inside the guard (the report, dlsym at start-up). Also defines the variadic
// execl, execle and execlp (exports.def lists them by name: a one-line forwarder cannot take
// `...`), which build an argv on the stack as glibc's do.
#include "runtime/ends.hpp"

#include "config/config.hpp"
#include "core/counters.hpp"
#include "platform/process.hpp"
#include "report/report.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/lsan.hpp"

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char** environ;

namespace memtrack::detail {

namespace {

using ExecveFn = int (*)(const char*, char* const[], char* const[]);
using FexecveFn = int (*)(int, char* const[], char* const[]);

constinit std::atomic<ExecveFn> g_execve{nullptr};
constinit std::atomic<ExecveFn> g_execvpe{nullptr};
constinit std::atomic<FexecveFn> g_fexecve{nullptr};

template <class Fn> Fn next_function(std::atomic<Fn>& slot, const char* name) noexcept
{
    Fn f = slot.load(std::memory_order_acquire);
    if (f == nullptr) {
        Guard guard;  // dlsym may allocate
        f = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
        slot.store(f, std::memory_order_release);
    }
    return f;
}

bool executable_file(const char* path) noexcept
{
    struct stat st {};
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

// Whether execvp would find `file`: a path with a slash as it is, else the PATH entries in
// order (glibc's default "/bin:/usr/bin"; an empty entry is the current directory).
bool found_on_path(const char* file) noexcept
{
    if (file == nullptr || *file == '\0') return false;
    if (std::strchr(file, '/') != nullptr) return executable_file(file);
    const char* path = getenv("PATH");
    if (path == nullptr) path = "/bin:/usr/bin";
    const std::size_t file_len = std::strlen(file);
    char candidate[4096];
    for (const char* p = path;; ++p) {
        const char* end = std::strchr(p, ':');
        const std::size_t dir_len =
            end != nullptr ? static_cast<std::size_t>(end - p) : std::strlen(p);
        if (dir_len + file_len + 2 <= sizeof candidate) {
            std::size_t n = 0;
            if (dir_len == 0) {
                candidate[n++] = '.';
            } else {
                std::memcpy(candidate, p, dir_len);
                n = dir_len;
            }
            candidate[n++] = '/';
            std::memcpy(candidate + n, file, file_len + 1);
            if (executable_file(candidate)) return true;
        }
        if (end == nullptr) return false;
        p = end;
    }
}

// The exec report of this process, written before the image goes and removed again if the
// exec fails after all.
class ExecReport {
public:
    ExecReport(bool can_succeed, std::uintptr_t program_sp) noexcept
    {
        if (!can_succeed || !begin_final_report()) return;
        active_ = true;
        write_report(ReportReason::Exec, nullptr, -1, program_sp, path_, sizeof path_);
    }
    // Only reached when the exec failed.
    void failed() noexcept
    {
        if (!active_) return;
        const int saved = errno;
        if (path_[0] != '\0') unlink(path_);
        resume_after_exec();
        errno = saved;
    }

private:
    bool active_ = false;
    char path_[4200] = {};
};

}  // namespace

void resolve_exec_functions() noexcept
{
    next_function(g_execve, "execve");
    next_function(g_execvpe, "execvpe");
    next_function(g_fexecve, "fexecve");
}

namespace {
// The checkpoint rules' state, written by the one thread in the hook (the fold's
// compare-exchange); relaxed atomics for the forked child's reset.
constinit std::atomic<std::int64_t> g_next_growth{kCheckpointFloor};  // the growth rule's peak
constinit std::atomic<std::int64_t> g_last_peak{0};        // the last checkpoint's peak
constinit std::atomic<std::int64_t> g_last_time_ns{0};     // and its time (uptime)

// The threshold the fold compares the peak with: the growth rule's, or with an interval any
// rise of the peak (the hook then looks at the clock).
void arm_checkpoint() noexcept
{
    const Config& c = config();
    std::int64_t at = c.checkpoint_percent > 0 ? g_next_growth.load(std::memory_order_relaxed)
                                               : INT64_MAX;
    if (c.checkpoint_interval_ns > 0) {
        const std::int64_t rise = g_last_peak.load(std::memory_order_relaxed) + 1;
        if (rise < at) at = rise;
    }
    g_checkpoint_at.store(at, std::memory_order_relaxed);
}
}  // namespace

void start_checkpoints() noexcept
{
    const Config& c = config();
    if (!c.report_json || (c.checkpoint_percent == 0 && c.checkpoint_interval_ns == 0)) {
        g_checkpoint_hook = nullptr;
        g_checkpoint_at.store(INT64_MAX, std::memory_order_relaxed);
        return;
    }
    g_next_growth.store(kCheckpointFloor, std::memory_order_relaxed);
    g_last_peak.store(0, std::memory_order_relaxed);
    g_last_time_ns.store(uptime_ns(), std::memory_order_relaxed);
    g_checkpoint_hook = write_checkpoint;
    arm_checkpoint();
}

void write_checkpoint(std::int64_t peak_bytes) noexcept
{
    const Config& c = config();
    const std::int64_t now = uptime_ns();
    const bool by_growth =
        c.checkpoint_percent > 0 && peak_bytes >= g_next_growth.load(std::memory_order_relaxed);
    const bool by_time = c.checkpoint_interval_ns > 0 &&
                         peak_bytes > g_last_peak.load(std::memory_order_relaxed) &&
                         now - g_last_time_ns.load(std::memory_order_relaxed) >=
                             c.checkpoint_interval_ns;
    if (by_growth || by_time) {
        if (phase() == Phase::Active && own_process())
            write_report(ReportReason::Checkpoint, nullptr, -1, 0);
        const std::int64_t next = peak_bytes + peak_bytes / 100 * c.checkpoint_percent;
        g_next_growth.store(next > kCheckpointFloor ? next : kCheckpointFloor,
                            std::memory_order_relaxed);
        g_last_peak.store(peak_bytes, std::memory_order_relaxed);
        g_last_time_ns.store(now, std::memory_order_relaxed);
    }
    arm_checkpoint();
}

void quick_exit_tracked(int status) noexcept
{
    // The leak scan's view of this thread: its frames from here up (as at exit).
    const auto program_sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    if (begin_final_report()) {
        // LSan's rules, as at exit (lifecycle.cpp).
        LeakCheckRequest request;
        request.run = config().leak_check && !lsan_final_check_done() && !lsan_turned_off();
        write_report(ReportReason::QuickExit, nullptr, status & 0xff, program_sp, request);
        end_final_report();
        const GateVerdict v = last_gate_verdict();
        if (v.failed) status = v.status;
    }
    exit_process_now(status);
}

int execve_tracked(const char* path, char* const argv[], char* const envp[]) noexcept
{
    const auto program_sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    const ExecveFn real = next_function(g_execve, "execve");
    ExecReport report(path != nullptr && executable_file(path), program_sp);
    char* const* env = envp != nullptr ? envp : environ;
    const int rc = real != nullptr ? real(path, argv, env)
                                   : static_cast<int>(syscall(SYS_execve, path, argv, env));
    report.failed();
    return rc;
}

int execvp_tracked(const char* file, char* const argv[], char* const envp[]) noexcept
{
    const auto program_sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    const ExecveFn real = next_function(g_execvpe, "execvpe");
    if (real == nullptr) {
        errno = ENOSYS;
        return -1;
    }
    ExecReport report(found_on_path(file), program_sp);
    const int rc = real(file, argv, envp != nullptr ? envp : environ);
    report.failed();
    return rc;
}

int fexecve_tracked(int fd, char* const argv[], char* const envp[]) noexcept
{
    const auto program_sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    const FexecveFn real = next_function(g_fexecve, "fexecve");
    if (real == nullptr) {
        errno = ENOSYS;
        return -1;
    }
    struct stat st {};
    ExecReport report(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), program_sp);
    const int rc = real(fd, argv, envp);
    report.failed();
    return rc;
}

}  // namespace memtrack::detail

namespace md = memtrack::detail;

namespace {

// The arguments after `arg` up to the terminating null, into a stack array (glibc's execl
// does the same with a variable-length array); envp_out gets the pointer after the null for
// execle.
template <class Call> int with_list(const char* arg, va_list ap, bool has_envp, Call call) noexcept
{
    va_list count;
    va_copy(count, ap);
    std::size_t n = 1;
    while (n < 1 << 20 && va_arg(count, char*) != nullptr)
        ++n;
    va_end(count);
    if (n >= 1 << 20) {
        errno = E2BIG;
        return -1;
    }
    auto** argv = static_cast<char**>(__builtin_alloca((n + 1) * sizeof(char*)));
    argv[0] = const_cast<char*>(arg);
    for (std::size_t i = 1; i <= n; ++i)
        argv[i] = va_arg(ap, char*);  // the last one read is the terminating null
    char* const* envp = has_envp ? va_arg(ap, char* const*) : nullptr;
    return call(argv, envp);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int execl(const char* path, const char* arg,
                                                            ...) noexcept
{
    va_list ap;
    va_start(ap, arg);
    const int rc = with_list(arg, ap, false, [path](char* const* argv, char* const*) {
        return md::execve_tracked(path, argv, nullptr);
    });
    va_end(ap);
    return rc;
}

extern "C" __attribute__((visibility("default"))) int execle(const char* path, const char* arg,
                                                             ...) noexcept
{
    va_list ap;
    va_start(ap, arg);
    const int rc = with_list(arg, ap, true, [path](char* const* argv, char* const* envp) {
        return md::execve_tracked(path, argv, envp);
    });
    va_end(ap);
    return rc;
}

extern "C" __attribute__((visibility("default"))) int execlp(const char* file, const char* arg,
                                                             ...) noexcept
{
    va_list ap;
    va_start(ap, arg);
    const int rc = with_list(arg, ap, false, [file](char* const* argv, char* const*) {
        return md::execvp_tracked(file, argv, nullptr);
    });
    va_end(ap);
    return rc;
}
