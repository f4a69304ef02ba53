// The one list of the JSON report's fields and their order (docs/report-format.md), as a
// template over the writer's sink and the model's type. Two models use it: ReportModel (std
// containers; render_json.cpp) and SignalReportModel (views into fixed buffers; the report
// written from a signal handler, report/signal_report.cpp), so that the report of a crash has
// exactly the names and number formats of any other. A model needs the members the template
// reads, with string members that convert to std::string_view and ranges for argv and
// timeline; the leak sections are written only for a model that has them. With a BufferSink
// and a model of views this allocates nothing.
#pragma once

#include "report/json_writer.hpp"
#include "report/model.hpp"

#include <string_view>

namespace memtrack::detail {

// The leak sections, the sites and the stack frames of a ReportModel (render_json.cpp).
void write_leak_sections(JsonWriter& w, const ReportLeaks& leaks);
void write_sites(JsonWriter& w, const ReportModel& r);
void write_stacks(JsonWriter& w, const std::map<std::uint32_t, std::vector<ReportFrame>>& list);
void write_timeline_sites(JsonWriter& w, const ReportModel& r);

template <class W> void write_status(W& w, const char* name, int value)
{
    w.key(name);
    if (value >= 0)
        w.value(value);
    else
        w.null();
}

// One stack frame, as the "stacks" section writes it.
template <class W, class F> void write_frame(W& w, const F& f)
{
    w.begin_object();
    w.key("pc").hex(f.pc);
    w.key("function").value(std::string_view(f.function));
    w.key("file").value(std::string_view(f.file));
    w.key("line").value(f.line);
    w.key("module").value(std::string_view(f.module));
    w.key("offset").hex(f.offset);
    w.key("inlined").value(f.inlined);
    w.end_object();
}

template <class W, class M> void write_report_fields(W& w, const M& r)
{
    using Layout = typename W::Layout;
    w.begin_object(Layout::Block);
    w.key("format").value(kReportFormat);
    w.key("version").value(kReportVersion);
    w.key("memtrack_version").value(std::string_view(r.memtrack_version));
    w.key("reason").value(std::string_view(r.reason));
    w.key("signal");
    if (r.signal > 0) {
        w.begin_object();
        w.key("number").value(r.signal);
        w.key("name").value(std::string_view(r.signal_name));
        if (r.crash.thread != 0) {
            w.key("thread").value(static_cast<std::int64_t>(r.crash.thread));
            w.key("address");
            if (r.crash.has_address)
                w.hex(r.crash.address);
            else
                w.null();
            w.key("stack").begin_array(Layout::Block);
            for (const auto& f : r.crash.stack)
                write_frame(w, f);
            w.end_array();
        }
        w.end_object();
    } else {
        w.null();
    }
    w.key("program").value(std::string_view(r.program));
    w.key("argv").begin_array();
    for (const auto& a : r.argv)
        w.value(std::string_view(a));
    w.end_array();
    w.key("pid").value(static_cast<std::int64_t>(r.pid));
    w.key("ppid").value(static_cast<std::int64_t>(r.ppid));
    write_status(w, "exit_status", r.exit_status);
    write_status(w, "final_status", r.final_status);
    w.key("gate");
    if (std::string_view(r.gate).empty())
        w.null();
    else
        w.value(std::string_view(r.gate));
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
    if constexpr (requires { h.peak_attributed_bytes; })
        w.key("peak_attributed_bytes").value(h.peak_attributed_bytes);
    w.end_object();
    if constexpr (requires { r.invalid_frees; }) {
        if (r.invalid_frees_total > 0) {
            w.key("invalid_frees").begin_object(Layout::Block);
            w.key("count").value(r.invalid_frees_total);
            w.key("sites").begin_array(Layout::Block);
            for (const auto& f : r.invalid_frees) {
                w.begin_object();
                w.key("kind").value(std::string_view(f.kind));
                w.key("count").value(f.count);
                w.key("pointer").hex(f.pointer);
                w.key("free_stack").value(f.free_stack);
                w.key("alloc_stack").value(f.alloc_stack);
                w.end_object();
            }
            w.end_array();
            w.end_object();
        }
    }
    if constexpr (requires { r.leaks; }) {
        if (r.sites_recorded) write_sites(w, r);
        if (r.leak_checked) write_leak_sections(w, r.leaks);
        if (r.leak_checked || r.sites_recorded) write_stacks(w, r.stacks);
    }
    w.key("config").begin_object();
    w.key("interval_s").value(r.config.interval_s, -1);
    w.key("stack_depth").value(r.config.stack_depth);
    w.key("leak_check").value(r.config.leak_check);
    w.key("output").value(std::string_view(r.config.output));
    w.end_object();
    if constexpr (requires { r.unwind_tables; }) {
        if (r.unwind_tables.on) {
            w.key("unwind").begin_object();
            w.key("thread_table_bytes").value(r.unwind_tables.thread_table_bytes);
            w.key("captures_without_tables").value(r.unwind_tables.captures_without_tables);
            w.end_object();
        }
    }
    if constexpr (requires { r.unwind_check; }) {
        if (r.unwind_check.on) {
            w.key("unwind_check").begin_object();
            w.key("stacks").value(r.unwind_check.stacks);
            w.key("differences").value(r.unwind_check.differences);
            w.end_object();
        }
    }
    w.key("timeline").begin_array();
    for (const auto& p : r.timeline) {
        w.begin_array();
        w.value(p.t_s, 6);
        w.value(p.bytes);
        if (p.rss >= 0)
            w.value(p.rss);
        else
            w.null();
        w.end_array();
    }
    w.end_array();
    if constexpr (requires { r.timeline_sites; }) {
        if (r.sites_recorded) write_timeline_sites(w, r);
    }
    w.end_object();
}

}  // namespace memtrack::detail
