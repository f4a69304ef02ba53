// `memtrack report FILE`: validate a saved JSON report, read it once into the report model
// (lib/src/report/model.hpp) and print its summary with the library's own renderer
// (render_summary), on stdout: the lines the run printed at exit. Optional fields that are
// missing or of the wrong type read as zero; `format` and `version` are required.
#include "launcher.hpp"
#include "report_json.hpp"
#include "run_dir.hpp"

#include "crash_stack.hpp"

#include "report/model.hpp"
#include "report/render.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sys/stat.h>

namespace memtrack::launcher {

namespace {

namespace md = memtrack::detail;
using nlohmann::json;

int fail(const std::string& path, std::string_view why)
{
    fmt::print(stderr, "memtrack: {}: {}\n", path, why);
    return 2;
}

// Field readers: a missing field or one of another type reads as 0, "" or false.
const json* member(const json& j, const char* key)
{
    if (!j.is_object()) return nullptr;
    const auto it = j.find(key);
    return it != j.end() ? &*it : nullptr;
}

double number(const json* v)
{
    return v != nullptr && v->is_number() ? v->get<double>() : 0.0;
}

std::int64_t integer(const json* v)
{
    if (v == nullptr || !v->is_number()) return 0;
    if (v->is_number_unsigned()) return static_cast<std::int64_t>(v->get<std::uint64_t>());
    if (v->is_number_integer()) return v->get<std::int64_t>();
    return static_cast<std::int64_t>(v->get<double>());
}

double number(const json& j, const char* key)
{
    return number(member(j, key));
}

std::int64_t integer(const json& j, const char* key)
{
    return integer(member(j, key));
}

std::uint64_t count(const json& j, const char* key)
{
    return static_cast<std::uint64_t>(integer(j, key));
}

bool boolean(const json& j, const char* key, bool fallback)
{
    const json* v = member(j, key);
    return v != nullptr && v->is_boolean() ? v->get<bool>() : fallback;
}

std::string string(const json& j, const char* key, std::string fallback = {})
{
    const json* v = member(j, key);
    return v != nullptr && v->is_string() ? v->get<std::string>() : fallback;
}

// "0x1f" (the report's hex strings) -> 31; 0 if unreadable.
std::uint64_t hex(const json& j, const char* key)
{
    const std::string s = string(j, key);
    return s.starts_with("0x") ? std::strtoull(s.c_str() + 2, nullptr, 16) : 0;
}

// A status: an integer, or -1 for null or anything else.
int status(const json& j, const char* key)
{
    const json* v = member(j, key);
    return v != nullptr && v->is_number_integer() ? static_cast<int>(v->get<std::int64_t>()) : -1;
}

template <class T> void triple(const json& j, const char* key, T (&out)[3])
{
    const json* v = member(j, key);
    for (std::size_t i = 0; i < 3; ++i)
        out[i] = v != nullptr && v->is_array() && i < v->size() ? static_cast<T>(integer(&(*v)[i]))
                                                                : T{};
}

const json& object(const json& j, const char* key)
{
    static const json kEmpty = json::object();
    const json* v = member(j, key);
    return v != nullptr && v->is_object() ? *v : kEmpty;
}

const json& array(const json& j, const char* key)
{
    static const json kEmpty = json::array();
    const json* v = member(j, key);
    return v != nullptr && v->is_array() ? *v : kEmpty;
}

std::vector<md::ReportLeakGroup> groups(const json& leaks, const char* key)
{
    std::vector<md::ReportLeakGroup> out;
    for (const json& g : array(leaks, key))
        out.push_back({count(g, "bytes"), count(g, "blocks"),
                       static_cast<std::uint32_t>(count(g, "stack")), count(g, "first_seq"),
                       count(g, "last_seq"), string(g, "type")});
    return out;
}

void read_leaks(const json& r, md::ReportLeaks& l)
{
    const json& leaks = object(r, "leaks");
    l.direct = groups(leaks, "direct");
    l.indirect = groups(leaks, "indirect");
    l.possible = groups(leaks, "possible");
    l.suppressed = groups(leaks, "suppressed");
    const json& t = object(leaks, "totals");
    l.totals = {
        count(t, "direct_bytes"),     count(t, "direct_blocks"),     count(t, "indirect_bytes"),
        count(t, "indirect_blocks"),  count(t, "possible_bytes"),    count(t, "possible_blocks"),
        count(t, "suppressed_bytes"), count(t, "suppressed_blocks"), count(t, "cycles"),
        count(t, "cycle_blocks"),     count(t, "ignored_bytes"),     count(t, "ignored_blocks")};
    for (const json& c : array(r, "cycles")) {
        md::ReportCycle rc{count(c, "blocks"),
                           count(c, "bytes"),
                           count(c, "count"),
                           boolean(c, "pure", false),
                           boolean(c, "reached_from_direct", false),
                           {}};
        for (const json& m : array(c, "members"))
            rc.members.push_back({count(m, "size"), static_cast<std::uint32_t>(count(m, "stack")),
                                  count(m, "seq"), string(m, "type")});
        l.cycles.push_back(std::move(rc));
    }
    const json& s = object(r, "scan");
    l.scan = {count(s, "roots_bytes"),           count(s, "heap_bytes"),
              count(s, "swept_bytes"),           count(s, "blocks"),
              number(s, "duration_s"),           count(s, "threads_paused"),
              count(s, "threads_not_paused"),    count(s, "dead_thread_stacks"),
              boolean(s, "complete", true),      count(s, "unregistered_big_blocks"),
              count(s, "unreadable_heap_bytes"), {}};
    const json& refs = object(s, "interior_references");
    l.scan.interior_references = {count(refs, "tagged"), count(refs, "array_cookie"),
                                  count(refs, "secondary_base"), count(refs, "old_string")};
    const json& g = object(r, "gc");
    triple(g, "threshold", l.gc.threshold);
    triple(g, "count", l.gc.count);
    triple(g, "collections", l.gc.collections);
    triple(g, "collected", l.gc.collected);
    l.gc.total_pause_s = number(g, "total_pause_s");
    l.gc.max_pause_s = number(g, "max_pause_s");
    triple(g, "live_blocks", l.gc.live_blocks);
    triple(g, "live_bytes", l.gc.live_bytes);
}

// The stacks the leak groups, cycles and sites name.
void read_stacks(const json& r, std::map<std::uint32_t, std::vector<md::ReportFrame>>& stacks)
{
    for (const auto& [id, frames] : object(r, "stacks").items()) {
        if (!frames.is_array()) continue;
        std::vector<md::ReportFrame>& out =
            stacks[static_cast<std::uint32_t>(std::strtoul(id.c_str(), nullptr, 10))];
        for (const json& f : frames)
            out.push_back({hex(f, "pc"), string(f, "function"), string(f, "file"),
                           static_cast<int>(integer(f, "line")), string(f, "module"),
                           hex(f, "offset"), boolean(f, "inlined", false)});
    }
}

// The sites (issue 10).
void read_sites(const json& r, md::ReportModel& m)
{
    m.sites_recorded = member(r, "sites") != nullptr && r["sites"].is_array();
    if (!m.sites_recorded) return;
    for (const json& s : array(r, "sites"))
        m.sites.push_back({static_cast<std::uint32_t>(count(s, "stack")), count(s, "allocations"),
                           count(s, "bytes_allocated"), count(s, "frees"), integer(s, "peak_bytes"),
                           integer(s, "peak_blocks"), integer(s, "exit_bytes"),
                           integer(s, "exit_blocks"), count(s, "temporary"),
                           count(s, "largest_bytes"), count(s, "first_allocation")});
    const json& t = object(r, "site_table");
    m.site_table = {count(t, "sites"), count(t, "listed"), count(t, "bytes_per_site"),
                    count(t, "table_bytes"), count(t, "thread_shard_bytes")};
}

// The whole report, read once.
md::ReportModel read_model(const json& r)
{
    md::ReportModel m;
    m.memtrack_version = string(r, "memtrack_version");
    m.reason = string(r, "reason", "exit");
    if (const auto sig = r.find("signal"); sig != r.end() && sig->is_object()) {
        m.signal = static_cast<int>(integer(*sig, "number"));
        m.signal_name = string(*sig, "name");
        m.crash.thread = integer(*sig, "thread");
        if (const json* a = member(*sig, "address"); a != nullptr && a->is_string()) {
            m.crash.has_address = true;
            m.crash.address = hex(*sig, "address");
        }
        for (const json& f : array(*sig, "stack"))
            m.crash.stack.push_back({hex(f, "pc"), string(f, "function"), string(f, "file"),
                                     static_cast<int>(integer(f, "line")), string(f, "module"),
                                     hex(f, "offset"), boolean(f, "inlined", false)});
        symbolize_crash_stack(m.crash.stack);
    }
    m.program = string(r, "program", "?");
    for (const json& a : array(r, "argv"))
        if (a.is_string()) m.argv.push_back(a.get<std::string>());
    m.pid = integer(r, "pid");
    m.ppid = integer(r, "ppid");
    m.exit_status = status(r, "exit_status");
    // Before the minor revision that added them: the program's status was the process's.
    m.final_status =
        member(r, "final_status") != nullptr ? status(r, "final_status") : m.exit_status;
    m.gate = string(r, "gate");
    const json& p = object(r, "process");
    m.process = {number(p, "wall_s"), number(p, "user_s"), number(p, "sys_s"),
                 number(p, "cpu_wall_ratio"), integer(p, "max_rss_bytes")};
    const json& h = object(r, "heap");
    m.heap = {integer(h, "current_bytes"),
              integer(h, "peak_bytes"),
              number(h, "peak_time_s"),
              integer(h, "live_bytes_at_exit"),
              count(h, "live_blocks_at_exit"),
              count(h, "allocations"),
              count(h, "frees"),
              count(h, "bytes_allocated"),
              count(h, "foreign_frees"),
              integer(h, "peak_attributed_bytes")};
    if (const json* f = member(r, "invalid_frees"); f != nullptr && f->is_object()) {
        m.invalid_frees_total = count(*f, "count");
        for (const json& s : array(*f, "sites"))
            m.invalid_frees.push_back({string(s, "kind"), count(s, "count"), hex(s, "pointer"),
                                       static_cast<std::uint32_t>(count(s, "free_stack")),
                                       static_cast<std::uint32_t>(count(s, "alloc_stack"))});
    }
    read_sites(r, m);
    read_stacks(r, m.stacks);
    m.leak_checked = member(r, "leaks") != nullptr && r["leaks"].is_object();
    if (m.leak_checked) read_leaks(r, m.leaks);
    const json& c = object(r, "config");
    m.config = {number(c, "interval_s"), static_cast<int>(integer(c, "stack_depth")),
                boolean(c, "leak_check", false), string(c, "output")};
    if (const json* u = member(r, "unwind"); u != nullptr && u->is_object())
        m.unwind_tables = {true, count(*u, "thread_table_bytes"),
                           count(*u, "captures_without_tables")};
    if (const json* u = member(r, "unwind_check"); u != nullptr && u->is_object())
        m.unwind_check = {true, count(*u, "stacks"), count(*u, "differences")};
    for (const json& point : array(r, "timeline")) {
        // [t_s, bytes] or [t_s, bytes, rss]; a later revision may add more after them.
        if (!point.is_array() || point.size() < 2 || !point[0].is_number() ||
            !point[1].is_number())
            continue;
        const std::int64_t rss =
            point.size() > 2 && point[2].is_number() ? integer(&point[2]) : -1;
        m.timeline.push_back({point[0].get<double>(), integer(&point[1]), rss});
    }
    return m;
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest is the news.
std::string_view without_id(std::string_view what)
{
    if (what.starts_with("[json.exception.")) {
        const auto end = what.find("] ");
        if (end != std::string_view::npos) what.remove_prefix(end + 2);
    }
    return what;
}

}  // namespace

int load_report_json(const std::string& path, json& r)
{
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return fail(path, std::strerror(errno));
    if (S_ISDIR(st.st_mode)) return fail(path, std::strerror(EISDIR));
    // Read whole and parsed into a tree (several times its size): a bound, far above any
    // report memtrack writes (its lists are capped: 10,000 sites), so that a huge or endless
    // file gets a line instead of exhausting memory.
    constexpr off_t kMaxReportBytes = off_t{256} << 20;
    if (st.st_size > kMaxReportBytes)
        return fail(path, fmt::format("{} bytes: too large for a memtrack report (at most {})",
                                      static_cast<long long>(st.st_size),
                                      static_cast<long long>(kMaxReportBytes)));
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(path, std::strerror(errno));
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) return fail(path, "read error");
    try {
        r = json::parse(text);
    } catch (const json::parse_error& e) {
        const bool began_like_json = text.find_first_not_of(" \t\r\n") != std::string::npos &&
                                     text[text.find_first_not_of(" \t\r\n")] == '{';
        return fail(path, fmt::format("{}: {}",
                                      began_like_json ? "truncated or damaged JSON"
                                                      : "not a JSON file (nor a memtrack report)",
                                      without_id(e.what())));
    }
    if (!r.is_object() || !r.contains("format") || r["format"] != md::kReportFormat)
        return fail(path, "not a memtrack report (no \"format\": \"memtrack-report\")");
    const json* version = member(r, "version");
    if (version == nullptr || !version->is_number_integer())
        return fail(path, "memtrack report without an integer \"version\"");
    const std::int64_t v = version->get<std::int64_t>();
    if (v < 1 || v > md::kReportVersion)
        return fail(path, fmt::format("report version {} is not supported (this memtrack reads "
                                      "versions up to {}; a newer memtrack wrote it?)",
                                      v, md::kReportVersion));
    return 0;
}

int load_report(const std::string& path, LoadedReport& out)
{
    json r;
    if (const int failed = load_report_json(path, r); failed != 0) return failed;
    try {
        out.model = read_model(r);
    } catch (const std::exception& e) {
        return fail(path, fmt::format("malformed memtrack report: {}", e.what()));
    }
    out.version = r["version"].get<int>();
    out.path = path;
    return 0;
}

int load_report(const std::string& path, md::ReportModel& model)
{
    LoadedReport loaded;
    if (const int failed = load_report(path, loaded); failed != 0) return failed;
    model = std::move(loaded.model);
    return 0;
}

int print_report(const std::string& path, bool timeline)
{
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        return print_run(path);  // a run directory (run_dir.cpp)
    md::ReportModel model;
    if (const int rc = load_report(path, model); rc != 0) return rc;
    std::string text_out;
    try {
        for (const std::string& line : md::render_summary(model, {path, timeline}))
            text_out += fmt::format("memtrack: {}\n", line);
    } catch (const std::exception& e) {
        return fail(path, fmt::format("malformed memtrack report: {}", e.what()));
    }
    fmt::print("{}", text_out);
    return 0;
}

md::ReportModel model_of(const json& report)
{
    return read_model(report);
}

}  // namespace memtrack::launcher
