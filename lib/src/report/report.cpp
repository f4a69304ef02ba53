// Report assembly (cold path; allocates inside the reentrancy guard; syscalls for /proc,
// getrusage and the file).
#include "report/report.hpp"

#include "config/config.hpp"
#include "core/counters.hpp"
#include "core/sampler.hpp"
#include "leaks/collector.hpp"
#include "leaks/leak_report.hpp"
#include "platform/log.hpp"
#include "platform/process.hpp"
#include "platform/report_file.hpp"

#include <memtrack/memtrack.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

namespace memtrack::detail {

namespace {

constexpr int kReportVersion = 2;

double seconds(std::int64_t ns)
{
    return static_cast<double>(ns) / 1e9;
}

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
std::size_t utf8_length(std::string_view s, std::size_t i)
{
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0 && c >= 0xC2)
        n = 2;
    else if ((c & 0xF0) == 0xE0)
        n = 3;
    else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
    return n;
}

struct ReportData {
    Snapshot heap;
    ProcessTimes times;
    std::string program;
    std::vector<std::string> argv;
    std::vector<TimelinePoint> timeline;
    long pid = 0;
    long ppid = 0;
    int exit_status = -1;
    ReportReason reason = ReportReason::Exit;
    LeakReport leaks;
};

ReportData gather(ReportReason reason, int exit_status, std::uintptr_t program_sp)
{
    ReportData d;
    // The scan first: it sees the heap as the program left it, before the report allocates.
    if (config().leak_check && collect(2, program_sp, &d.leaks, false) >= 0 && d.leaks.ran)
        finalize_leaks(d.leaks);
    d.reason = reason;
    d.exit_status = exit_status;
    d.heap = snapshot();
    d.times = process_times();
    d.pid = getpid();
    d.ppid = getppid();
    char buf[4096];
    d.program.assign(buf, executable_path(buf, sizeof buf));
    std::vector<char> cmd(64 * 1024);
    const std::size_t n = command_line(cmd.data(), cmd.size());
    for (std::size_t i = 0; i < n;) {
        const std::size_t len = strnlen(cmd.data() + i, n - i);
        d.argv.emplace_back(cmd.data() + i, len);
        i += len + 1;
    }
    d.timeline.resize(timeline_size() + 8);
    d.timeline.resize(copy_timeline(d.timeline.data(), d.timeline.size()));
    // The peak itself and the moment of the report, in time order.
    d.timeline.push_back({d.heap.lifetime_peak_time_ns, d.heap.lifetime_peak_bytes});
    d.timeline.push_back({d.heap.uptime_ns, d.heap.current_bytes});
    std::stable_sort(
        d.timeline.begin(), d.timeline.end(),
        [](const TimelinePoint& a, const TimelinePoint& b) { return a.t_ns < b.t_ns; });
    return d;
}

std::string render_json(const ReportData& d)
{
    const Config& cfg = config();
    const double wall = seconds(d.heap.uptime_ns);
    const double cpu = d.times.user_s + d.times.sys_s;
    std::string out;
    out.reserve(4096 + d.timeline.size() * 32);
    auto app = std::back_inserter(out);
    fmt::format_to(app, "{{\n  \"format\": \"memtrack-report\",\n  \"version\": {},\n",
                   kReportVersion);
    fmt::format_to(app, "  \"memtrack_version\": \"{}\",\n", MEMTRACK_VERSION_STRING);
    fmt::format_to(app, "  \"reason\": \"{}\",\n", d.reason == ReportReason::Exit ? "exit" : "api");
    out += "  \"program\": ";
    append_json_string(out, d.program);
    out += ",\n  \"argv\": [";
    for (std::size_t i = 0; i < d.argv.size(); ++i) {
        if (i) out += ", ";
        append_json_string(out, d.argv[i]);
    }
    out += "],\n";
    fmt::format_to(app, "  \"pid\": {},\n  \"ppid\": {},\n", d.pid, d.ppid);
    if (d.exit_status >= 0)
        fmt::format_to(app, "  \"exit_status\": {},\n", d.exit_status);
    else
        out += "  \"exit_status\": null,\n";
    fmt::format_to(app,
                   "  \"process\": {{\"wall_s\": {:.6f}, \"user_s\": {:.6f}, \"sys_s\": {:.6f}, "
                   "\"cpu_wall_ratio\": {:.4f}, \"max_rss_bytes\": {}}},\n",
                   wall, d.times.user_s, d.times.sys_s, wall > 0 ? cpu / wall : 0.0,
                   d.times.max_rss_bytes);
    const Snapshot& h = d.heap;
    fmt::format_to(app,
                   "  \"heap\": {{\"current_bytes\": {}, \"peak_bytes\": {}, \"peak_time_s\": "
                   "{:.6f}, \"live_bytes_at_exit\": {}, \"live_blocks_at_exit\": {}, "
                   "\"allocations\": {}, \"frees\": {}, \"bytes_allocated\": {}, "
                   "\"foreign_frees\": {}}},\n",
                   h.current_bytes, h.lifetime_peak_bytes, seconds(h.lifetime_peak_time_ns),
                   h.current_bytes, h.live_blocks, h.allocations, h.frees, h.bytes_allocated,
                   h.foreign_frees);
    if (d.leaks.ran) append_leaks_json(out, d.leaks);
    fmt::format_to(app,
                   "  \"config\": {{\"interval_s\": {}, \"stack_depth\": {}, \"leak_check\": {}, "
                   "\"output\": ",
                   seconds(cfg.interval_ns), cfg.stack_depth, cfg.leak_check);
    append_json_string(out, cfg.output);
    out += "},\n  \"timeline\": [";
    for (std::size_t i = 0; i < d.timeline.size(); ++i) {
        fmt::format_to(app, "{}[{:.6f}, {}]", i ? ", " : "", seconds(d.timeline[i].t_ns),
                       d.timeline[i].bytes);
    }
    out += "]\n}\n";
    return out;
}

void print_summary(const ReportData& d, std::string_view report_line)
{
    const Snapshot& h = d.heap;
    const double wall = seconds(h.uptime_ns);
    const double cpu = d.times.user_s + d.times.sys_s;
    const std::string_view name = base_name(d.program);
    if (d.reason == ReportReason::Exit) {
        if (d.exit_status >= 0)
            log("{} (pid {}) exited with status {}", name, d.pid, d.exit_status);
        else
            log("{} (pid {}) finished", name, d.pid);
    } else {
        log("{} (pid {}) report requested at {:.2f} s", name, d.pid, wall);
    }
    log("  time    wall {:.2f} s, user {:.2f} s, sys {:.2f} s, CPU/wall {:.2f}", wall,
        d.times.user_s, d.times.sys_s, wall > 0 ? cpu / wall : 0.0);
    log("  heap    peak {} at {:.2f} s; live {} {} in {} blocks", Bytes{h.lifetime_peak_bytes},
        seconds(h.lifetime_peak_time_ns), d.reason == ReportReason::Exit ? "at exit" : "now",
        Bytes{h.current_bytes}, h.live_blocks);
    log("  calls   {} allocations, {} frees, {} allocated, {} foreign frees", h.allocations,
        h.frees, Bytes{static_cast<std::int64_t>(h.bytes_allocated)}, h.foreign_frees);
    log("  rss     max RSS {} (tracked heap peak {})", Bytes{d.times.max_rss_bytes},
        Bytes{h.lifetime_peak_bytes});
    if (d.leaks.ran) print_leaks_text(d.leaks);
    if (!report_line.empty()) log("  report  {}", report_line);
}

}  // namespace

void append_json_string(std::string& out, std::string_view text)
{
    out += '"';
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        switch (c) {
        case '"':
            out += "\\\"";
            ++i;
            continue;
        case '\\':
            out += "\\\\";
            ++i;
            continue;
        case '\n':
            out += "\\n";
            ++i;
            continue;
        case '\r':
            out += "\\r";
            ++i;
            continue;
        case '\t':
            out += "\\t";
            ++i;
            continue;
        default:
            break;
        }
        if (c < 0x20) {
            fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
            ++i;
            continue;
        }
        const std::size_t n = utf8_length(text, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD for a byte that is not valid UTF-8
            ++i;
            continue;
        }
        out.append(text.substr(i, n));
        i += n;
    }
    out += '"';
}

namespace {
constinit RunVerdict g_verdict{};
}

RunVerdict last_verdict() noexcept
{
    return g_verdict;
}

int write_report(ReportReason reason, const char* path, int exit_status,
                 std::uintptr_t program_sp) noexcept
{
    Guard guard;
    const Config& cfg = config();
    if (!cfg.report_text && !cfg.report_json && !cfg.gates()) return 0;
    try {
        const ReportData d = gather(reason, exit_status, program_sp);
        g_verdict.leak_checked = d.leaks.ran;
        g_verdict.leaked_blocks = d.leaks.totals.direct_blocks + d.leaks.totals.indirect_blocks;
        g_verdict.leaked_bytes = d.leaks.totals.direct_bytes + d.leaks.totals.indirect_bytes;
        g_verdict.peak_bytes = d.heap.lifetime_peak_bytes;
        int result = 0;
        std::string report_line;
        if (cfg.report_json) {
            char target[4096];
            char final_path[4200];
            const char* templ = path != nullptr ? path : cfg.output;
            if (!expand_template(templ, d.pid, base_name(d.program), target, sizeof target)) {
                log("cannot write the JSON report: path from \"{}\" is too long", templ);
                result = -1;
                report_line = "(JSON report not written: path too long)";
            } else {
                const std::string json = render_json(d);
                const int err = write_report_file(target, json, final_path, sizeof final_path);
                if (err != 0) {
                    log("cannot write the JSON report to {}: {}", target, std::strerror(err));
                    result = -1;
                    report_line = fmt::format("(JSON report not written: {})", std::strerror(err));
                } else {
                    report_line = final_path;
                    if (std::strcmp(final_path, target) != 0)
                        report_line += fmt::format(" ({} existed; not overwritten)", target);
                }
            }
        }
        if (cfg.report_text) print_summary(d, report_line);
        return result;
    } catch (...) {
        log("report failed (out of memory?)");
        return -1;
    }
}

}  // namespace memtrack::detail
