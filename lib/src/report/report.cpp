// Report assembly: gather() fills the model, the renderers write it (cold path; allocates inside
// the reentrancy guard; syscalls for /proc, getrusage and the file).
#include "report/report.hpp"

#include "config/config.hpp"
#include "core/counters.hpp"
#include "core/sampler.hpp"
#include "leaks/collector.hpp"
#include "leaks/suppressions.hpp"
#include "platform/log.hpp"
#include "platform/process.hpp"
#include "platform/report_file.hpp"
#include "report/render.hpp"
#include "stack/resolved_stacks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

namespace memtrack::detail {

namespace {

double seconds(std::int64_t ns)
{
    return static_cast<double>(ns) / 1e9;
}

// Seconds as the JSON holds them (6 decimals).
double written_seconds(std::int64_t ns)
{
    return as_written(seconds(ns), 6);
}

ReportLeakGroup group_of(const LeakGroup& g, StackTable& stacks, std::set<std::uint32_t>& used)
{
    used.insert(g.stack);
    return {g.bytes, g.blocks, g.stack, g.first_seq, g.last_seq, stacks.get(g.stack).type};
}

// The leak sections of the model: groups and cycles with their types, and the frames of every
// stack they name.
void gather_leaks(const LeakReport& rep, ReportLeaks& out)
{
    StackTable& stacks = *rep.stacks;
    std::set<std::uint32_t> used;
    for (const auto& [from, to] :
         {std::pair{&rep.direct, &out.direct}, std::pair{&rep.indirect, &out.indirect},
          std::pair{&rep.possible, &out.possible}, std::pair{&rep.suppressed, &out.suppressed}})
        for (const LeakGroup& g : *from)
            to->push_back(group_of(g, stacks, used));
    const LeakTotals& t = rep.totals;
    out.totals = {t.direct_bytes,   t.direct_blocks,   t.indirect_bytes,   t.indirect_blocks,
                  t.possible_bytes, t.possible_blocks, t.suppressed_bytes, t.suppressed_blocks,
                  t.cycles,         t.cycle_blocks};
    for (const CycleReport& c : rep.cycles) {
        ReportCycle rc{c.blocks, c.bytes, c.count, c.pure, c.reached_from_direct, {}};
        for (const CycleMember& m : c.members) {
            used.insert(m.stack);
            rc.members.push_back({m.size, m.stack, m.seq, stacks.get(m.stack).type});
        }
        out.cycles.push_back(std::move(rc));
    }
    const ScanStats& s = rep.scan;
    out.scan = {s.root_bytes,
                s.heap_bytes,
                s.swept_bytes,
                s.blocks,
                written_seconds(s.duration_ns),
                s.threads_paused,
                s.threads_not_paused,
                s.dead_stacks,
                s.complete,
                s.unregistered_blocks};
    const GcCounters& g = rep.gc;
    ReportGc& rg = out.gc;
    for (int i = 0; i < 3; ++i) {
        rg.threshold[i] = g.threshold[i];
        rg.count[i] = g.count[i];
        rg.collections[i] = g.collections[i];
        rg.collected[i] = g.collected[i];
        rg.live_blocks[i] = g.gen_blocks[i];
        rg.live_bytes[i] = g.gen_bytes[i];
    }
    rg.total_pause_s = written_seconds(g.total_pause_ns);
    rg.max_pause_s = written_seconds(g.max_pause_ns);
    for (const std::uint32_t id : used) {
        std::vector<ReportFrame>& frames = out.stacks[id];
        for (const SymbolFrame& f : stacks.get(id).frames)
            frames.push_back(
                {f.pc, f.function, f.file, f.line, f.module, f.module_offset, f.inlined});
    }
}

ReportModel gather(ReportReason reason, int exit_status, std::uintptr_t program_sp)
{
    const Config& cfg = config();
    ReportModel d;
    // The scan first: it sees the heap as the program left it, before the report allocates.
    LeakReport leaks;
    if (cfg.leak_check && reason != ReportReason::Exec && reason != ReportReason::Checkpoint &&
        collect(2, program_sp, &leaks, false) >= 0 && leaks.ran) {
        finalize_leaks(leaks);
        d.leak_checked = true;
        gather_leaks(leaks, d.leaks);
    }
    d.memtrack_version = MEMTRACK_VERSION_STRING;
    d.reason = reason_name(reason);
    d.exit_status = exit_status;
    d.final_status = exit_status;
    const Snapshot h = snapshot();
    const ProcessTimes times = process_times();
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
    const double wall = seconds(h.uptime_ns);
    d.process = {as_written(wall, 6), as_written(times.user_s, 6), as_written(times.sys_s, 6),
                 as_written(wall > 0 ? (times.user_s + times.sys_s) / wall : 0.0, 4),
                 times.max_rss_bytes};
    d.heap = {h.current_bytes, h.lifetime_peak_bytes, written_seconds(h.lifetime_peak_time_ns),
              h.current_bytes, h.live_blocks,         h.allocations,
              h.frees,         h.bytes_allocated,     h.foreign_frees};
    d.config = {seconds(cfg.interval_ns), cfg.stack_depth, cfg.leak_check, cfg.output};
    std::vector<TimelinePoint> timeline(timeline_size() + 8);
    timeline.resize(copy_timeline(timeline.data(), timeline.size()));
    // The peak itself and the moment of the report, in time order.
    timeline.push_back({h.lifetime_peak_time_ns, h.lifetime_peak_bytes});
    timeline.push_back({h.uptime_ns, h.current_bytes});
    std::stable_sort(
        timeline.begin(), timeline.end(),
        [](const TimelinePoint& a, const TimelinePoint& b) { return a.t_ns < b.t_ns; });
    d.timeline.reserve(timeline.size());
    for (const TimelinePoint& p : timeline)
        d.timeline.push_back({written_seconds(p.t_ns), p.bytes});
    return d;
}

constinit GateVerdict g_gate{};
// This process's last checkpoint file; "" if none (or once the end's report replaced it).
constinit char g_checkpoint_path[4200] = {};

}  // namespace

const char* checkpoint_path() noexcept
{
    return g_checkpoint_path;
}

void forget_checkpoint_in_child() noexcept
{
    g_checkpoint_path[0] = '\0';
}

const char* reason_name(ReportReason reason) noexcept
{
    switch (reason) {
    case ReportReason::Exit:
        return "exit";
    case ReportReason::QuickExit:
        return "_exit";
    case ReportReason::Exec:
        return "exec";
    case ReportReason::Checkpoint:
        return "checkpoint";
    case ReportReason::Api:
        return "api";
    }
    return "api";
}

GateVerdict last_gate_verdict() noexcept
{
    return g_gate;
}

int write_report(ReportReason reason, const char* path, int exit_status, std::uintptr_t program_sp,
                 char* written, std::size_t written_size) noexcept
{
    Guard guard;
    if (written != nullptr && written_size > 0) written[0] = '\0';
    const Config& cfg = config();
    if (!cfg.report_text && !cfg.report_json && !cfg.gates()) return 0;
    try {
        ReportModel d = gather(reason, exit_status, program_sp);
        if (reason == ReportReason::Exit || reason == ReportReason::QuickExit) {
            g_gate = evaluate_gates(cfg, d);
            if (g_gate.failed) {
                d.final_status = g_gate.status;
                d.gate = g_gate.reason;
            }
        }
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
                // A checkpoint replaces the last one, and the end's report the checkpoint.
                const bool replace = reason != ReportReason::Api && g_checkpoint_path[0] != '\0';
                const int err =
                    replace ? replace_report_file(g_checkpoint_path, json, final_path,
                                                  sizeof final_path)
                            : write_report_file(target, json, final_path, sizeof final_path);
                if (err == 0 && reason == ReportReason::Checkpoint)
                    std::snprintf(g_checkpoint_path, sizeof g_checkpoint_path, "%s", final_path);
                else if (err == 0 && replace)
                    g_checkpoint_path[0] = '\0';
                if (err != 0) {
                    log("cannot write the JSON report to {}: {}", target, std::strerror(err));
                    result = -1;
                    report_line = fmt::format("(JSON report not written: {})", std::strerror(err));
                } else {
                    report_line = final_path;
                    if (written != nullptr && written_size > 0)
                        std::snprintf(written, written_size, "%s", final_path);
                    if (std::strcmp(final_path, target) != 0)
                        report_line += fmt::format(" ({} existed; not overwritten)", target);
                }
            }
        }
        if (cfg.report_text && reason != ReportReason::Exec && reason != ReportReason::Checkpoint) {
            const SummaryLog to_log(d.pid, base_name(d.program));
            for (const std::string& line : render_summary(d, {report_line, false}))
                log("{}", line);
        } else if (g_gate.failed) {
            log("{}", gate_line(d));  // a changed status is never silent
        }
        return result;
    } catch (...) {
        log("report failed (out of memory?)");
        return -1;
    }
}

}  // namespace memtrack::detail
