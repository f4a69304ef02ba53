// Report assembly: gather() fills the model, the renderers write it (cold path; allocates inside
// the reentrancy guard; syscalls for /proc, getrusage and the file).
#include "report/report.hpp"

#include "config/config.hpp"
#include "core/counters.hpp"
#include "core/invalid_frees.hpp"
#include "core/sampler.hpp"
#include "core/sites.hpp"
#include "leaks/collector.hpp"
#include "leaks/suppressions.hpp"
#include "platform/log.hpp"
#include "platform/process.hpp"
#include "platform/report_file.hpp"
#include "report/render.hpp"
#include "stack/resolved_stacks.hpp"
#include "stack/unwind.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
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

// The frames of every stack in `used` into the model's stacks.
void gather_stacks(StackTable& stacks, const std::set<std::uint32_t>& used,
                   std::map<std::uint32_t, std::vector<ReportFrame>>& out)
{
    for (const std::uint32_t id : used) {
        if (out.contains(id)) continue;
        std::vector<ReportFrame>& frames = out[id];
        for (const SymbolFrame& f : stacks.get(id).frames)
            frames.push_back(
                {f.pc, f.function, f.file, f.line, f.module, f.module_offset, f.inlined});
    }
}

// Sites listed in the report; the rest fold into one entry with stack 0 (issue 10).
constexpr std::size_t kMaxListedSites = 10000;
// Sites whose stacks are symbolized into `stacks`: the first of each view (peak, exit,
// allocations, bytes allocated, temporary). Symbolizing costs milliseconds per stack (all of
// cc1plus's 2,000 sites made `g++ -c` ten times slower). TODO(#10): an option for more.
constexpr std::size_t kSymbolizedPeak = 10;
constexpr std::size_t kSymbolizedPerView = 10;

// The site profile: every site with a count, largest share of the peak first, and the stacks
// they name.
// The series of the stacked timeline chart: at most this many sites, the others summed.
constexpr std::size_t kTimelineSeries = 10;

// The timeline: the sampled points, the peak itself and the moment of the report, in time
// order; with sites, the bytes of the sites that held the most at some point (the peak's
// shares at the peak, the live amounts at the end). d.sites must be gathered.
void gather_timeline(ReportModel& d, const Snapshot& h)
{
    struct Point {
        TimelinePoint p;
        TimelineSites top;
        int synthetic = 0;  // 1 = the peak, 2 = the end
    };
    const std::size_t cap = timeline_size() + 8;
    std::vector<TimelinePoint> sampled(cap);
    std::vector<TimelineSites> tops(d.sites_recorded ? cap : 0);
    sampled.resize(copy_timeline(sampled.data(), cap, d.sites_recorded ? tops.data() : nullptr));
    std::vector<Point> points;
    points.reserve(sampled.size() + 2);
    for (std::size_t i = 0; i < sampled.size(); ++i)
        points.push_back({sampled[i], d.sites_recorded ? tops[i] : TimelineSites{}, 0});
    points.push_back({{h.lifetime_peak_time_ns, h.lifetime_peak_bytes, -1}, {}, 1});
    points.push_back({{h.uptime_ns, h.current_bytes, current_rss_bytes()}, {}, 2});
    std::stable_sort(points.begin(), points.end(),
                     [](const Point& a, const Point& b) { return a.p.t_ns < b.p.t_ns; });
    d.timeline.reserve(points.size());
    for (const Point& x : points)
        d.timeline.push_back({written_seconds(x.p.t_ns), x.p.bytes, x.p.rss});
    if (!d.sites_recorded) return;

    // The series: listed sites (their stacks are in the report) by the most they held at any
    // point, the peak included.
    std::map<std::uint32_t, const ReportSite*> listed;
    for (const ReportSite& s : d.sites)
        if (s.stack != 0) listed[s.stack] = &s;
    std::map<std::uint32_t, std::int64_t> most;
    for (const auto& [stack, site] : listed)
        most[stack] = std::max(site->peak_bytes, site->exit_bytes);
    for (const Point& x : points)
        for (std::uint32_t k = 0; k < x.top.count; ++k)
            if (auto it = most.find(x.top.stack[k]); it != most.end())
                it->second = std::max(it->second, x.top.bytes[k]);
    std::vector<std::pair<std::int64_t, std::uint32_t>> ranked;
    for (const auto& [stack, bytes] : most)
        if (bytes > 0) ranked.emplace_back(bytes, stack);
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    if (ranked.size() > kTimelineSeries) ranked.resize(kTimelineSeries);
    ReportTimelineSites& out = d.timeline_sites;
    for (const auto& r : ranked)
        out.stacks.push_back(r.second);
    out.values.reserve(points.size());
    for (const Point& x : points) {
        std::vector<std::int64_t> v(out.stacks.size() + 1, 0);
        std::int64_t sum = 0;
        for (std::size_t j = 0; j < out.stacks.size(); ++j) {
            const ReportSite& site = *listed[out.stacks[j]];
            std::int64_t b = 0;
            if (x.synthetic == 1)
                b = site.peak_bytes;
            else if (x.synthetic == 2)
                b = site.exit_bytes;
            else
                for (std::uint32_t k = 0; k < x.top.count; ++k)
                    if (x.top.stack[k] == out.stacks[j]) b = x.top.bytes[k];
            v[j] = b;
            sum += b;
        }
        // Other sites; never negative (a point's sites and bytes are read a moment apart).
        v.back() = std::max<std::int64_t>(0, x.p.bytes - sum);
        out.values.push_back(std::move(v));
    }
}

void gather_sites(ReportModel& d, StackTable& stacks)
{
    SiteTableInfo info;
    // The lifetime peak's shares: heap.peak_bytes is the lifetime peak too.
    std::vector<SiteRecord> records(copy_sites(nullptr, 0, &info, true) + 256);
    records.resize(
        std::min(records.size(), copy_sites(records.data(), records.size(), &info, true)));
    d.sites_recorded = true;
    std::vector<ReportSite>& sites = d.sites;
    sites.reserve(records.size());
    for (const SiteRecord& r : records) {
        // The site's first allocation: the one that interned its stack (stack/depot.hpp).
        sites.push_back({r.stack, r.allocations, r.bytes_allocated, r.frees, r.peak_bytes,
                         r.peak_blocks, r.live_bytes, r.live_blocks, r.temporary, r.largest_bytes,
                         stack_first_seq(r.stack)});
        d.heap.peak_attributed_bytes += r.peak_bytes;
    }
    std::sort(sites.begin(), sites.end(), [](const ReportSite& a, const ReportSite& b) {
        if (a.peak_bytes != b.peak_bytes) return a.peak_bytes > b.peak_bytes;
        if (a.exit_bytes != b.exit_bytes) return a.exit_bytes > b.exit_bytes;
        if (a.bytes_allocated != b.bytes_allocated) return a.bytes_allocated > b.bytes_allocated;
        return a.stack < b.stack;
    });
    if (sites.size() > kMaxListedSites) {
        // Stack 0's own entry and every site past the first kMaxListedSites - 1 others fold
        // into one entry with stack 0, so that every total over the list stays exact.
        ReportSite rest;
        std::vector<ReportSite> kept;
        kept.reserve(kMaxListedSites);
        for (const ReportSite& x : sites) {
            if (x.stack != 0 && kept.size() + 1 < kMaxListedSites) {
                kept.push_back(x);
                continue;
            }
            rest.allocations += x.allocations;
            rest.bytes_allocated += x.bytes_allocated;
            rest.frees += x.frees;
            rest.peak_bytes += x.peak_bytes;
            rest.peak_blocks += x.peak_blocks;
            rest.exit_bytes += x.exit_bytes;
            rest.exit_blocks += x.exit_blocks;
            rest.temporary += x.temporary;
            rest.largest_bytes = std::max(rest.largest_bytes, x.largest_bytes);
        }
        kept.push_back(rest);
        std::stable_sort(kept.begin(), kept.end(), [](const ReportSite& x, const ReportSite& y) {
            return x.peak_bytes > y.peak_bytes;
        });
        sites = std::move(kept);
    }
    d.site_table = {info.sites, sites.size(), info.entry_bytes, info.table_bytes, info.shard_bytes};
    // Symbolizing costs milliseconds per stack (cc1plus has thousands of sites): the frames of
    // the sites that lead in one of the views are written, the rest keep their id only.
    std::set<std::uint32_t> used;
    std::vector<const ReportSite*> order;
    for (const ReportSite& s : sites)
        if (s.stack != 0) order.push_back(&s);
    const auto lead = [&](std::size_t count, auto key) {
        const std::size_t n = std::min(order.size(), count);
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n),
                          order.end(), [&](const ReportSite* a, const ReportSite* b) {
                              return key(*a) != key(*b) ? key(*a) > key(*b) : a->stack < b->stack;
                          });
        for (std::size_t i = 0; i < n; ++i)
            if (key(*order[i]) > 0) used.insert(order[i]->stack);
    };
    lead(kSymbolizedPeak, [](const ReportSite& s) { return static_cast<double>(s.peak_bytes); });
    lead(kSymbolizedPerView, [](const ReportSite& s) { return static_cast<double>(s.exit_bytes); });
    lead(kSymbolizedPerView,
         [](const ReportSite& s) { return static_cast<double>(s.allocations); });
    lead(kSymbolizedPerView,
         [](const ReportSite& s) { return static_cast<double>(s.bytes_allocated); });
    lead(kSymbolizedPerView, [](const ReportSite& s) { return static_cast<double>(s.temporary); });
    gather_stacks(stacks, used, d.stacks);
}

// The invalid and double frees (issue 11) and the frames of the stacks they name.
void gather_invalid_frees(ReportModel& d, std::shared_ptr<StackTable>& stacks)
{
    std::vector<InvalidFreeSite> sites(kMaxInvalidFreeSites);
    sites.resize(copy_invalid_frees(sites.data(), sites.size(), &d.invalid_frees_total));
    std::set<std::uint32_t> used;
    for (const InvalidFreeSite& s : sites) {
        d.invalid_frees.push_back(
            {s.kind == InvalidFreeKind::DoubleFree ? "double_free" : "invalid_pointer", s.count,
             s.first_pointer, s.free_stack, s.alloc_stack});
        for (const std::uint32_t id : {s.free_stack, s.alloc_stack})
            if (id != 0) used.insert(id);
    }
    if (used.empty()) return;
    if (stacks == nullptr) stacks = std::make_shared<StackTable>();
    gather_stacks(*stacks, used, d.stacks);
}

// The leak sections of the model: groups and cycles with their types, and the frames of every
// stack they name.
void gather_leaks(const LeakReport& rep, ReportLeaks& out,
                  std::map<std::uint32_t, std::vector<ReportFrame>>& stack_frames)
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
                  t.cycles,         t.cycle_blocks,    t.ignored_bytes,    t.ignored_blocks};
    for (const CycleReport& c : rep.cycles) {
        ReportCycle rc{c.blocks, c.bytes, c.count, c.pure, c.reached_from_direct, {}};
        for (const CycleMember& m : c.members) {
            used.insert(m.stack);
            rc.members.push_back({m.size, m.stack, m.seq, stacks.get(m.stack).type});
        }
        out.cycles.push_back(std::move(rc));
    }
    const ScanStats& s = rep.scan;
    out.scan = {
        s.root_bytes,
        s.heap_bytes,
        s.swept_bytes,
        s.blocks,
        written_seconds(s.duration_ns),
        s.threads_paused,
        s.threads_not_paused,
        s.dead_stacks,
        s.complete,
        s.unregistered_blocks,
        s.unreadable_heap_bytes,
        {s.reached_tagged, s.reached_array_cookie, s.reached_secondary_base, s.reached_old_string}};
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
    gather_stacks(stacks, used, stack_frames);
}

// The leak sections of the check that asked for no more checks (__lsan_do_leak_check); the
// exit report shows them. Process lifetime; written once, under the Guard.
struct FinalLeaks {
    ReportLeaks leaks;
    std::map<std::uint32_t, std::vector<ReportFrame>> stacks;  // the frames they name
};
constinit FinalLeaks* g_final_leaks = nullptr;
constinit std::atomic<bool> g_final_done{false};

// Scans (unless the final check ran already) and fills the model's leak sections and the
// frames of their stacks. Returns the scan's symbolized stacks (for the sites to share), or
// nullptr.
std::shared_ptr<StackTable> gather_leak_sections(ReportReason reason,
                                                 const LeakCheckRequest& request,
                                                 std::uintptr_t program_sp, ReportModel& d)
{
    if ((reason == ReportReason::Exit || reason == ReportReason::QuickExit) &&
        g_final_done.load()) {
        if (g_final_leaks != nullptr) {
            d.leak_checked = true;
            d.leaks = g_final_leaks->leaks;
            d.stacks.insert(g_final_leaks->stacks.begin(), g_final_leaks->stacks.end());
        }
        return nullptr;
    }
    // An exec report is written just before the image goes, a checkpoint while the heap grows:
    // neither scans.
    if (!request.run || reason == ReportReason::Exec || reason == ReportReason::Checkpoint)
        return nullptr;
    LeakReport leaks;
    if (collect(2, program_sp, &leaks, false, request.new_only) < 0 || !leaks.ran) return nullptr;
    finalize_leaks(leaks);
    d.leak_checked = true;
    gather_leaks(leaks, d.leaks, d.stacks);
    if (request.totals != nullptr) *request.totals = leaks.totals;
    if (request.final && !g_final_done.exchange(true))
        g_final_leaks = new FinalLeaks{d.leaks, d.stacks};
    return leaks.stacks;
}

ReportModel gather(ReportReason reason, int exit_status, std::uintptr_t program_sp,
                   const LeakCheckRequest& request)
{
    const Config& cfg = config();
    ReportModel d;
    // The scan first: it sees the heap as the program left it, before the report allocates.
    const std::shared_ptr<StackTable> leak_stacks =
        gather_leak_sections(reason, request, program_sp, d);
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
    d.heap = {h.current_bytes,
              h.lifetime_peak_bytes,
              written_seconds(h.lifetime_peak_time_ns),
              h.current_bytes,
              h.live_blocks,
              h.allocations,
              h.frees,
              h.bytes_allocated,
              h.foreign_frees,
              0};
    std::shared_ptr<StackTable> stacks = leak_stacks;
    if (g_sites_on) {
        if (stacks == nullptr) stacks = std::make_shared<StackTable>();
        gather_sites(d, *stacks);
    }
    gather_invalid_frees(d, stacks);
    d.config = {seconds(cfg.interval_ns), cfg.stack_depth, cfg.leak_check, cfg.output};
    const UnwindCheck check = unwind_check();
    d.unwind_check = {check.on, check.stacks, check.differences};
    const UnwindTables tables = unwind_tables();
    d.unwind_tables = {tables.thread_bytes != 0, tables.thread_bytes, tables.without_tables};
    gather_timeline(d, h);
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
    LeakCheckRequest request;
    request.run = config().leak_check;
    return write_report(reason, path, exit_status, program_sp, request, written, written_size);
}

bool check_leaks(const LeakCheckRequest& request, std::uintptr_t program_sp) noexcept
{
    if (request.write) {
        LeakTotals totals;
        LeakCheckRequest r = request;
        r.totals = &totals;
        write_report(ReportReason::Api, nullptr, -1, program_sp, r);
        if (request.totals != nullptr) *request.totals = totals;
        return true;
    }
    Guard guard;
    try {
        ReportModel d;
        gather_leak_sections(ReportReason::Api, request, program_sp, d);
        return d.leak_checked;
    } catch (...) {
        return false;
    }
}

int write_report(ReportReason reason, const char* path, int exit_status, std::uintptr_t program_sp,
                 const LeakCheckRequest& request, char* written, std::size_t written_size) noexcept
{
    Guard guard;
    if (written != nullptr && written_size > 0) written[0] = '\0';
    const Config& cfg = config();
    if (!cfg.report_text && !cfg.report_quiet && !cfg.report_json && !cfg.gates() &&
        request.totals == nullptr)
        return 0;
    try {
        ReportModel d = gather(reason, exit_status, program_sp, request);
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
        const bool text = cfg.report_text || (cfg.report_quiet && needs_attention(d));
        if (text && reason != ReportReason::Exec && reason != ReportReason::Checkpoint) {
            const SummaryLog to_log(d.pid, base_name(d.program));
            for (const std::string& line : render_summary(d, {report_line, false}))
                log("{}", line);
        } else if (g_gate.failed) {
            // A changed status is never silent; the line is the summary's, so it goes where
            // the summary would (MEMTRACK_LOG: the launcher's run directory).
            const SummaryLog to_log(d.pid, base_name(d.program));
            log("{}", gate_line(d));
        }
        return result;
    } catch (...) {
        log("report failed (out of memory?)");
        // The exit status still changes (lifecycle.cpp): say why, from the verdict's own
        // buffer (no allocation).
        if (g_gate.failed) log("exit status {}: {}", g_gate.status, g_gate.reason);
        return -1;
    }
}

}  // namespace memtrack::detail
