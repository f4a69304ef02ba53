// The JSON rendering of a report (see render.hpp; the format is docs/report-format.md).
#include "report/json_writer.hpp"
#include "report/render.hpp"

#include <fmt/format.h>

namespace memtrack::detail {

namespace {

using Layout = JsonWriter::Layout;

void status(JsonWriter& w, const char* name, int value)
{
    w.key(name);
    if (value >= 0)
        w.value(value);
    else
        w.null();
}

void groups(JsonWriter& w, const char* name, const std::vector<ReportLeakGroup>& list)
{
    w.key(name).begin_array(Layout::Block);
    for (const ReportLeakGroup& g : list) {
        w.begin_object();
        w.key("bytes").value(g.bytes);
        w.key("blocks").value(g.blocks);
        w.key("stack").value(g.stack);
        w.key("first_seq").count_or_null(g.first_seq);
        w.key("last_seq").count_or_null(g.last_seq);
        w.key("type").value(g.type);
        w.end_object();
    }
    w.end_array();
}

template <class T> void triple(JsonWriter& w, const char* name, const T (&v)[3])
{
    w.key(name).begin_array();
    for (const T x : v)
        w.value(x);
    w.end_array();
}

void leaks(JsonWriter& w, const ReportLeaks& l)
{
    w.key("leaks").begin_object(Layout::Block);
    groups(w, "direct", l.direct);
    groups(w, "indirect", l.indirect);
    groups(w, "possible", l.possible);
    groups(w, "suppressed", l.suppressed);
    const ReportLeakTotals& t = l.totals;
    w.key("totals").begin_object();
    w.key("direct_bytes").value(t.direct_bytes);
    w.key("direct_blocks").value(t.direct_blocks);
    w.key("indirect_bytes").value(t.indirect_bytes);
    w.key("indirect_blocks").value(t.indirect_blocks);
    w.key("possible_bytes").value(t.possible_bytes);
    w.key("possible_blocks").value(t.possible_blocks);
    w.key("suppressed_bytes").value(t.suppressed_bytes);
    w.key("suppressed_blocks").value(t.suppressed_blocks);
    w.key("cycles").value(t.cycles);
    w.key("cycle_blocks").value(t.cycle_blocks);
    w.key("ignored_bytes").value(t.ignored_bytes);
    w.key("ignored_blocks").value(t.ignored_blocks);
    w.end_object();
    w.end_object();

    w.key("cycles").begin_array(Layout::Block);
    for (const ReportCycle& c : l.cycles) {
        w.begin_object();
        w.key("blocks").value(c.blocks);
        w.key("bytes").value(c.bytes);
        w.key("count").value(c.count);
        w.key("pure").value(c.pure);
        w.key("reached_from_direct").value(c.reached_from_direct);
        w.key("members").begin_array();
        for (const ReportCycleMember& m : c.members) {
            w.begin_object();
            w.key("size").value(m.size);
            w.key("stack").value(m.stack);
            w.key("seq").count_or_null(m.seq);
            w.key("type").value(m.type);
            w.end_object();
        }
        w.end_array();
        w.end_object();
    }
    w.end_array();

    const ReportScan& s = l.scan;
    w.key("scan").begin_object();
    w.key("roots_bytes").value(s.roots_bytes);
    w.key("heap_bytes").value(s.heap_bytes);
    w.key("swept_bytes").value(s.swept_bytes);
    w.key("blocks").value(s.blocks);
    w.key("duration_s").value(s.duration_s, 6);
    w.key("threads_paused").value(s.threads_paused);
    w.key("threads_not_paused").value(s.threads_not_paused);
    w.key("dead_thread_stacks").value(s.dead_thread_stacks);
    w.key("unregistered_big_blocks").value(s.unregistered_big_blocks);
    w.key("complete").value(s.complete);
    w.key("unreadable_heap_bytes").value(s.unreadable_heap_bytes);
    w.key("interior_references").begin_object();
    w.key("tagged").value(s.interior_references.tagged);
    w.key("array_cookie").value(s.interior_references.array_cookie);
    w.key("secondary_base").value(s.interior_references.secondary_base);
    w.key("old_string").value(s.interior_references.old_string);
    w.end_object();
    w.end_object();

    const ReportGc& g = l.gc;
    w.key("gc").begin_object();
    triple(w, "threshold", g.threshold);
    triple(w, "count", g.count);
    triple(w, "collections", g.collections);
    triple(w, "collected", g.collected);
    w.key("total_pause_s").value(g.total_pause_s, 6);
    w.key("max_pause_s").value(g.max_pause_s, 6);
    triple(w, "live_blocks", g.live_blocks);
    triple(w, "live_bytes", g.live_bytes);
    w.end_object();
}

void stacks(JsonWriter& w, const std::map<std::uint32_t, std::vector<ReportFrame>>& list)
{
    w.key("stacks").begin_object(Layout::Block);
    for (const auto& [id, frames] : list) {
        w.key(fmt::format("{}", id)).begin_array(Layout::Block);
        for (const ReportFrame& f : frames) {
            w.begin_object();
            w.key("pc").value(fmt::format("0x{:x}", f.pc));
            w.key("function").value(f.function);
            w.key("file").value(f.file);
            w.key("line").value(f.line);
            w.key("module").value(f.module);
            w.key("offset").value(fmt::format("0x{:x}", f.offset));
            w.key("inlined").value(f.inlined);
            w.end_object();
        }
        w.end_array();
    }
    w.end_object();
}

void sites(JsonWriter& w, const ReportModel& r)
{
    w.key("sites").begin_array(Layout::Block);
    for (const ReportSite& s : r.sites) {
        w.begin_object();
        w.key("stack").value(s.stack);
        w.key("allocations").value(s.allocations);
        w.key("bytes_allocated").value(s.bytes_allocated);
        w.key("frees").value(s.frees);
        w.key("peak_bytes").value(s.peak_bytes);
        w.key("peak_blocks").value(s.peak_blocks);
        w.key("exit_bytes").value(s.exit_bytes);
        w.key("exit_blocks").value(s.exit_blocks);
        w.key("temporary").value(s.temporary);
        w.key("largest_bytes").value(s.largest_bytes);
        w.end_object();
    }
    w.end_array();
    const ReportSiteTable& t = r.site_table;
    w.key("site_table").begin_object();
    w.key("sites").value(t.sites);
    w.key("listed").value(t.listed);
    w.key("bytes_per_site").value(t.bytes_per_site);
    w.key("table_bytes").value(t.table_bytes);
    w.key("thread_shard_bytes").value(t.thread_shard_bytes);
    w.end_object();
}

}  // namespace

std::string render_json(const ReportModel& r)
{
    JsonWriter w;
    w.begin_object(Layout::Block);
    w.key("format").value(kReportFormat);
    w.key("version").value(kReportVersion);
    w.key("memtrack_version").value(r.memtrack_version);
    w.key("reason").value(r.at_exit ? "exit" : "api");
    w.key("program").value(r.program);
    w.key("argv").begin_array();
    for (const std::string& a : r.argv)
        w.value(a);
    w.end_array();
    w.key("pid").value(r.pid);
    w.key("ppid").value(r.ppid);
    status(w, "exit_status", r.exit_status);
    status(w, "final_status", r.final_status);
    w.key("gate");
    if (r.gate.empty())
        w.null();
    else
        w.value(r.gate);
    w.key("process").begin_object();
    w.key("wall_s").value(r.process.wall_s, 6);
    w.key("user_s").value(r.process.user_s, 6);
    w.key("sys_s").value(r.process.sys_s, 6);
    w.key("cpu_wall_ratio").value(r.process.cpu_wall_ratio, 4);
    w.key("max_rss_bytes").value(r.process.max_rss_bytes);
    w.end_object();
    const ReportModel::Heap& h = r.heap;
    w.key("heap").begin_object();
    w.key("current_bytes").value(h.current_bytes);
    w.key("peak_bytes").value(h.peak_bytes);
    w.key("peak_time_s").value(h.peak_time_s, 6);
    w.key("live_bytes_at_exit").value(h.live_bytes_at_exit);
    w.key("live_blocks_at_exit").value(h.live_blocks_at_exit);
    w.key("allocations").value(h.allocations);
    w.key("frees").value(h.frees);
    w.key("bytes_allocated").value(h.bytes_allocated);
    w.key("foreign_frees").value(h.foreign_frees);
    w.key("peak_attributed_bytes").value(h.peak_attributed_bytes);
    w.end_object();
    if (r.sites_recorded) sites(w, r);
    if (r.leak_checked) leaks(w, r.leaks);
    if (r.leak_checked || r.sites_recorded) stacks(w, r.stacks);
    w.key("config").begin_object();
    w.key("interval_s").value(r.config.interval_s, -1);
    w.key("stack_depth").value(r.config.stack_depth);
    w.key("leak_check").value(r.config.leak_check);
    w.key("output").value(r.config.output);
    w.end_object();
    if (r.unwind_check.on) {
        w.key("unwind_check").begin_object();
        w.key("stacks").value(r.unwind_check.stacks);
        w.key("differences").value(r.unwind_check.differences);
        w.end_object();
    }
    w.key("timeline").begin_array();
    for (const ReportTimelinePoint& p : r.timeline) {
        w.begin_array();
        w.value(p.t_s, 6);
        w.value(p.bytes);
        w.end_array();
    }
    w.end_array();
    w.end_object();
    std::string out = w.take();
    out += '\n';
    return out;
}

}  // namespace memtrack::detail
