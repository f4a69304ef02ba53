// The JSON rendering of a report (see render.hpp; the format is docs/report-format.md; the
// field list is report/json_fields.hpp).
#include "report/json_fields.hpp"
#include "report/render.hpp"

#include <fmt/format.h>

namespace memtrack::detail {

namespace {

using Layout = JsonWriter::Layout;

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

}  // namespace

void write_leak_sections(JsonWriter& w, const ReportLeaks& l)
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

void write_stacks(JsonWriter& w, const std::map<std::uint32_t, std::vector<ReportFrame>>& list)
{
    w.key("stacks").begin_object(Layout::Block);
    for (const auto& [id, frames] : list) {
        w.key(fmt::format("{}", id)).begin_array(Layout::Block);
        for (const ReportFrame& f : frames) {
            w.begin_object();
            w.key("pc").hex(f.pc);
            w.key("function").value(f.function);
            w.key("file").value(f.file);
            w.key("line").value(f.line);
            w.key("module").value(f.module);
            w.key("offset").hex(f.offset);
            w.key("inlined").value(f.inlined);
            w.end_object();
        }
        w.end_array();
    }
    w.end_object();
}

void write_sites(JsonWriter& w, const ReportModel& r)
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
        w.key("first_allocation").count_or_null(s.first_allocation);
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

void write_timeline_sites(JsonWriter& w, const ReportModel& r)
{
    w.key("timeline_sites").begin_object(Layout::Block);
    w.key("stacks").begin_array();
    for (const std::uint32_t s : r.timeline_sites.stacks)
        w.value(s);
    w.end_array();
    w.key("values").begin_array(Layout::Block);
    for (const std::vector<std::int64_t>& point : r.timeline_sites.values) {
        w.begin_array();
        for (const std::int64_t v : point)
            w.value(v);
        w.end_array();
    }
    w.end_array();
    w.end_object();
}

std::string render_json(const ReportModel& r)
{
    JsonWriter w;
    write_report_fields(w, r);
    std::string out = w.take();
    out += '\n';
    return out;
}

}  // namespace memtrack::detail
