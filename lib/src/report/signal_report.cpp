// The report written from a signal handler (see signal_report.hpp). Async-signal-safe: its
// memory is one private mapping made here and unmapped before it returns; /proc and the file
// with raw syscalls; fmt only into stack buffers (integers, strings and fixed-point doubles,
// which fmt formats without allocating or locking).
#include "report/signal_report.hpp"

#include "config/config.hpp"
#include "core/counters.hpp"
#include "core/sampler.hpp"
#include "platform/log.hpp"
#include "platform/process.hpp"
#include "platform/report_file.hpp"
#include "report/json_fields.hpp"
#include "report/report.hpp"
#include "stack/crash_stack.hpp"

#include <cstring>
#include <ctime>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace memtrack::detail {

namespace {

// A NUL-separated list (/proc/self/cmdline) as a range of string_view.
class NulList {
public:
    class iterator {
    public:
        iterator(const char* p, const char* end) noexcept : p_(p), end_(end) {}
        std::string_view operator*() const noexcept { return {p_, strnlen(p_, end_ - p_)}; }
        iterator& operator++() noexcept
        {
            p_ += strnlen(p_, end_ - p_) + 1;
            if (p_ > end_) p_ = end_;
            return *this;
        }
        bool operator!=(const iterator& o) const noexcept { return p_ != o.p_; }

    private:
        const char* p_;
        const char* end_;
    };
    NulList() = default;
    NulList(const char* p, std::size_t n) noexcept : p_(p), n_(n) {}
    iterator begin() const noexcept { return {p_, p_ + n_}; }
    iterator end() const noexcept { return {p_ + n_, p_ + n_}; }

private:
    const char* p_ = nullptr;
    std::size_t n_ = 0;
};

template <class T> struct Span {
    const T* first = nullptr;
    std::size_t count = 0;
    const T* begin() const noexcept { return first; }
    const T* end() const noexcept { return first + count; }
};

// A frame of the interrupted thread's stack, with ReportFrame's members as views.
struct SignalFrame {
    std::uint64_t pc = 0;
    std::string_view function;
    std::string_view file;
    int line = 0;
    std::string_view module;
    std::uint64_t offset = 0;
    bool inlined = false;
};

// ReportModel's members that json_fields.hpp reads, as views into fixed buffers.
struct SignalReportModel {
    std::string_view memtrack_version = MEMTRACK_VERSION_STRING;
    std::string_view reason = "signal";
    int signal = 0;
    std::string_view signal_name;
    struct {
        std::int64_t thread = 0;
        bool has_address = false;
        std::uint64_t address = 0;
        Span<SignalFrame> stack;
    } crash;
    std::string_view program;
    NulList argv;
    std::int64_t pid = 0;
    std::int64_t ppid = 0;
    int exit_status = -1;
    int final_status = -1;
    std::string_view gate;
    ReportModel::Process process;
    ReportModel::Heap heap;
    struct {
        double interval_s = 0;
        int stack_depth = 0;
        bool leak_check = false;
        std::string_view output;
    } config;
    Span<ReportTimelinePoint> timeline;
};

constexpr std::size_t kCmdlineBytes = 64 * 1024;
constexpr std::size_t kMaxTimeline = 16384 + 2;  // the sampler's bound, the peak, the end
constexpr std::size_t kJsonBytes = 2 * 1024 * 1024;
constexpr std::size_t kCrashFrames = 64;

struct Scratch {
    char program[4096];
    char cmdline[kCmdlineBytes];
    TimelinePoint raw[kMaxTimeline];
    ReportTimelinePoint timeline[kMaxTimeline];
    char target[4096];
    char final_path[4200];
    CrashFrame raw_frames[kCrashFrames];
    SignalFrame frames[kCrashFrames];
    char json[kJsonBytes];
};

// The signals whose si_addr is the faulting address (sigaction(2)), when the kernel sent them.
bool has_fault_address(int sig, const siginfo_t* info) noexcept
{
    if (info == nullptr || info->si_code <= 0) return false;  // sent by kill/raise/sigqueue
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE;
}

// The timeline as the normal report has it: the samples, the peak itself and the moment of
// the report, in time order (the samples are in order; the two points are merged in).
std::size_t gather_timeline(Scratch& s, const Snapshot& h) noexcept
{
    std::size_t n = 0;
    // The sampler holds the timeline's lock only briefly: a few tries; then none.
    for (int tries = 0; tries < 20 && n == 0; ++tries) {
        n = copy_timeline_in_signal(s.raw, kMaxTimeline - 2);
        if (n == 0) {
            const timespec pause{0, 200'000};
            nanosleep(&pause, nullptr);
        }
    }
    const TimelinePoint extra[2] = {{h.lifetime_peak_time_ns, h.lifetime_peak_bytes, -1},
                                    {h.uptime_ns, h.current_bytes, current_rss_bytes()}};
    std::size_t out = 0, e = 0;
    for (std::size_t i = 0; i <= n; ++i) {
        while (e < 2 && (i == n || extra[e].t_ns < s.raw[i].t_ns)) {
            s.timeline[out++] = {static_cast<double>(extra[e].t_ns) / 1e9, extra[e].bytes,
                                 extra[e].rss};
            ++e;
        }
        if (i < n)
            s.timeline[out++] = {static_cast<double>(s.raw[i].t_ns) / 1e9, s.raw[i].bytes,
                                 s.raw[i].rss};
    }
    return out;
}

}  // namespace

const char* signal_name(int sig, char* buf, unsigned size) noexcept
{
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev != nullptr)
        fmt::format_to_n(buf, size - 1, "SIG{}", abbrev).out[0] = '\0';
    else
        fmt::format_to_n(buf, size - 1, "SIG?{}", sig).out[0] = '\0';
    buf[size - 1] = '\0';
    return buf;
}

int write_signal_report(int sig, const siginfo_t* info, const void* ucontext) noexcept
{
    const Config& cfg = config();
    if (!cfg.report_text && !cfg.report_quiet && !cfg.report_json) return 0;
    void* mem =
        mmap(nullptr, sizeof(Scratch), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        write_line("report after a signal not written: no memory");
        return -1;
    }
    auto& s = *static_cast<Scratch*>(mem);
    char name[32];
    SignalReportModel d;
    d.signal = sig;
    d.signal_name = signal_name(sig, name, sizeof name);
    d.pid = getpid();
    d.ppid = getppid();
    d.program = std::string_view(s.program, executable_path(s.program, sizeof s.program));
    d.crash.thread = syscall(SYS_gettid);
    d.crash.has_address = has_fault_address(sig, info);
    if (d.crash.has_address) d.crash.address = reinterpret_cast<std::uintptr_t>(info->si_addr);
    const std::size_t frames = crash_stack(ucontext, s.raw_frames, kCrashFrames);
    for (std::size_t i = 0; i < frames; ++i) {
        const CrashFrame& c = s.raw_frames[i];
        // The main program's link map has no name: its path is the executable's.
        const std::string_view module = !c.in_module          ? std::string_view()
                                        : c.module[0] == '\0' ? d.program
                                                              : std::string_view(c.module);
        s.frames[i] = {c.pc, {}, {}, 0, module, c.in_module ? c.offset : 0, false};
    }
    d.crash.stack = {s.frames, frames};
    d.argv = NulList(s.cmdline, command_line(s.cmdline, sizeof s.cmdline));
    const Snapshot h = snapshot_in_signal();
    const ProcessTimes times = process_times();
    const double wall = static_cast<double>(h.uptime_ns) / 1e9;
    d.process = {wall, times.user_s, times.sys_s,
                 wall > 0 ? (times.user_s + times.sys_s) / wall : 0.0, times.max_rss_bytes};
    d.heap = {
        h.current_bytes, h.lifetime_peak_bytes, static_cast<double>(h.lifetime_peak_time_ns) / 1e9,
        h.current_bytes, h.live_blocks,         h.allocations,
        h.frees,         h.bytes_allocated,     h.foreign_frees};
    d.config = {static_cast<double>(cfg.interval_ns) / 1e9, cfg.stack_depth, cfg.leak_check,
                cfg.output};
    d.timeline = {s.timeline, gather_timeline(s, h)};

    int result = 0;
    const char* report_line = "";
    if (cfg.report_json) {
        const std::string_view program = d.program;
        const std::size_t slash = program.rfind('/');
        const std::string_view base =
            slash == std::string_view::npos ? program : program.substr(slash + 1);
        BasicJsonWriter<BufferSink> w(BufferSink(s.json, sizeof s.json - 1));
        write_report_fields(w, d);
        w.sink().put('\n');
        if (w.sink().overflowed()) {
            report_line = "(JSON report not written: too large for the signal path)";
            result = -1;
        } else if (!expand_template(cfg.output, d.pid, base, s.target, sizeof s.target)) {
            report_line = "(JSON report not written: path too long)";
            result = -1;
        } else if ((checkpoint_path()[0] != '\0'
                        ? replace_report_file(checkpoint_path(), w.sink().text(), s.final_path,
                                              sizeof s.final_path)
                        : write_report_file(s.target, w.sink().text(), s.final_path,
                                            sizeof s.final_path)) != 0) {
            report_line = "(JSON report not written)";
            result = -1;
        } else {
            report_line = s.final_path;
        }
    }
    if (cfg.report_text || cfg.report_quiet) {  // a signal is always worth a summary
        const std::string_view program = d.program;
        const SummaryLog to_log(d.pid, program.substr(program.rfind('/') + 1));
        const std::size_t slash = program.rfind('/');
        log("{} (pid {}) killed by {} (signal {})",
            slash == std::string_view::npos ? program : program.substr(slash + 1), d.pid,
            d.signal_name, sig);
        log("  heap    peak {} B at {:.2f} s; live at exit {} B in {} blocks", d.heap.peak_bytes,
            d.heap.peak_time_s, d.heap.current_bytes, d.heap.live_blocks_at_exit);
        log("  calls   {} allocations, {} frees, {} B allocated", d.heap.allocations, d.heap.frees,
            d.heap.bytes_allocated);
        const std::size_t shown = frames < 6 ? frames : 6;
        for (std::size_t i = 0; i < shown; ++i) {
            const SignalFrame& f = s.frames[i];
            const std::string_view m = f.module.substr(f.module.rfind('/') + 1);
            if (m.empty())
                log("  {} #{} 0x{:x}", i == 0 ? "stack" : "     ", i, f.pc);
            else
                log("  {} #{} 0x{:x} ({}+0x{:x})", i == 0 ? "stack" : "     ", i, f.pc, m,
                    f.offset);
        }
        if (frames > shown)
            log("        ... {} more frames in the JSON report (memtrack report names them)",
                frames - shown);
        log("  (written in the signal handler: no leak check)");
        if (report_line[0] != '\0') log("  report  {}", report_line);
    } else if (result != 0) {
        log("{}", report_line);
    }
    munmap(mem, sizeof(Scratch));
    return result;
}

}  // namespace memtrack::detail
