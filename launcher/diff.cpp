// `memtrack diff A.json B.json`: two saved reports compared, totals, sites and leak groups, with
// CI gates. Exit status as diff(1) and cmp: 0 within the gates, 1 when one failed, 2 for a
// usage, read or compatibility error. Launcher code: allocates and throws.
//
// Sites of two runs are matched by a key that survives a rebuild and ASLR: the sequence of
// (module file name, demangled function) of their frames, innermost first (`--match=line` adds
// each frame's file name and line, heaptrack's --diff key, which breaks as soon as code
// shifts). Sites with equal keys within one report count as one. A site is new (only in B),
// gone (only in A), changed or the same. Leak groups are matched by the same key within their
// kind (direct and indirect together, possible apart): new, fixed, grown or shrunk. Sites
// whose stacks the report did not symbolize (it symbolizes the sites that lead a view) share
// one key, "[stacks not symbolized in the report]", so totals stay exact.
#include "diff_html.hpp"
#include "exports.hpp"
#include "launcher.hpp"
#include "stacks_by_metric.hpp"

#include "config/size.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>

namespace memtrack::launcher {

namespace {

using ojson = nlohmann::ordered_json;

constexpr int kGateFailed = 1;
constexpr int kUsageError = 2;
constexpr std::size_t kTextRows = 20;

enum class Unit { bytes, count, seconds };

// The totals compared: the one list (text rows, JSON "metrics").
struct TotalRow {
    const char* name;   // the JSON field, as the report names it
    const char* label;  // the text table's
    Unit unit;
    std::function<double(const md::ReportModel&)> get;
};

double gc_collections(const md::ReportModel& r)
{
    return static_cast<double>(r.leaks.gc.collections[0] + r.leaks.gc.collections[1] +
                               r.leaks.gc.collections[2]);
}

const std::vector<TotalRow>& total_rows()
{
    using M = const md::ReportModel&;
    static const std::vector<TotalRow> rows = {
        {"heap.peak_bytes", "heap peak", Unit::bytes,
         [](M r) { return static_cast<double>(r.heap.peak_bytes); }},
        {"heap.peak_time_s", "time of the peak", Unit::seconds,
         [](M r) { return r.heap.peak_time_s; }},
        {"heap.live_bytes_at_exit", "live at exit", Unit::bytes,
         [](M r) { return static_cast<double>(r.heap.live_bytes_at_exit); }},
        {"heap.live_blocks_at_exit", "blocks at exit", Unit::count,
         [](M r) { return static_cast<double>(r.heap.live_blocks_at_exit); }},
        {"heap.allocations", "allocations", Unit::count,
         [](M r) { return static_cast<double>(r.heap.allocations); }},
        {"heap.frees", "frees", Unit::count, [](M r) { return static_cast<double>(r.heap.frees); }},
        {"heap.bytes_allocated", "bytes allocated", Unit::bytes,
         [](M r) { return static_cast<double>(r.heap.bytes_allocated); }},
        {"process.max_rss_bytes", "max RSS", Unit::bytes,
         [](M r) { return static_cast<double>(r.process.max_rss_bytes); }},
        {"process.wall_s", "wall time", Unit::seconds, [](M r) { return r.process.wall_s; }},
        {"process.user_s", "user time", Unit::seconds, [](M r) { return r.process.user_s; }},
        {"process.sys_s", "sys time", Unit::seconds, [](M r) { return r.process.sys_s; }},
        {"leaks.totals.direct_bytes", "direct leaks", Unit::bytes,
         [](M r) { return static_cast<double>(r.leaks.totals.direct_bytes); }},
        {"leaks.totals.indirect_bytes", "indirect leaks", Unit::bytes,
         [](M r) { return static_cast<double>(r.leaks.totals.indirect_bytes); }},
        {"leaks.totals.possible_bytes", "possible leaks", Unit::bytes,
         [](M r) { return static_cast<double>(r.leaks.totals.possible_bytes); }},
        {"leaks.totals.suppressed_bytes", "suppressed leaks", Unit::bytes,
         [](M r) { return static_cast<double>(r.leaks.totals.suppressed_bytes); }},
        {"leaks.totals.cycles", "reference cycles", Unit::count,
         [](M r) { return static_cast<double>(r.leaks.totals.cycles); }},
        {"gc.collections", "gc collections", Unit::count, gc_collections},
        {"gc.total_pause_s", "gc pauses", Unit::seconds,
         [](M r) { return r.leaks.gc.total_pause_s; }},
    };
    return rows;
}

std::string human_bytes(double v)
{
    const double a = std::fabs(v);
    const char* sign = v < 0 ? "-" : "";
    if (a < 1024) return fmt::format("{}{:.0f} B", sign, a);
    static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
    double x = a / 1024;
    std::size_t u = 0;
    while (x >= 1024 && u + 1 < std::size(kUnits)) {
        x /= 1024;
        ++u;
    }
    return fmt::format("{}{:.2f} {}", sign, x, kUnits[u]);
}

std::string human(double v, Unit u)
{
    switch (u) {
    case Unit::bytes:
        return human_bytes(v);
    case Unit::seconds:
        return fmt::format("{:.3f} s", v);
    case Unit::count:
        break;
    }
    return fmt::format("{:.0f}", v);
}

std::string signed_human(double v, Unit u)
{
    return (v > 0 ? "+" : "") + human(v, u);
}

// ---- keys ----------------------------------------------------------------------------------

enum class Match { function, line };

constexpr const char* kUnsymbolized = "[stacks not symbolized in the report]";

struct KeyedStack {
    std::string key;
    const std::vector<md::ReportFrame>* frames = nullptr;  // a representative's; may be empty
    std::uint32_t stack = 0;
};

KeyedStack key_of(const md::ReportModel& r, std::uint32_t stack, Match match)
{
    KeyedStack k;
    k.stack = stack;
    const auto it = r.stacks.find(stack);
    if (it == r.stacks.end() || it->second.empty()) {
        k.key = stack == 0 ? missing_stack_frame(0) : kUnsymbolized;
        return k;
    }
    k.frames = &it->second;
    for (const md::ReportFrame& f : it->second) {
        k.key += base_name(f.module);
        k.key += '\x1e';
        k.key += frame_name(f);
        if (match == Match::line) k.key += fmt::format("\x1e{}:{}", base_name(f.file), f.line);
        k.key += '\x1f';
    }
    return k;
}

// "modify2() process_data.cpp:46 <- keep_local() <- main": the program's frame (the first
// outside /usr/, as the summary's "held by" lines) and two of its callers, argument lists
// dropped.
std::string short_function(std::string name)
{
    for (const std::string_view ns : {"(anonymous namespace)::"})
        for (auto at = name.find(ns); at != std::string::npos; at = name.find(ns))
            name.erase(at, ns.size());
    if (name.ends_with(')') && !name.ends_with("()")) {
        int depth = 0;
        for (std::size_t i = name.size(); i-- > 0;) {
            if (name[i] == ')') ++depth;
            if (name[i] == '(' && --depth == 0) {
                name = name.substr(0, i) + "()";
                break;
            }
        }
    }
    return name;
}

std::string label_of(const KeyedStack& k, int max_callers = 2)
{
    if (k.frames == nullptr) return k.key;
    const std::vector<md::ReportFrame>& f = *k.frames;
    std::size_t first = 0;
    while (first < f.size() && (f[first].file.empty() || f[first].file.starts_with("/usr/")))
        ++first;
    if (first == f.size()) first = 0;
    std::string out = short_function(frame_name(f[first]));
    if (!f[first].file.empty())
        out += fmt::format(" {}:{}", base_name(f[first].file), f[first].line);
    int callers = 0;
    for (std::size_t i = first + 1; i < f.size() && callers < max_callers; ++i) {
        if (f[i].inlined) continue;
        out += " <- " + short_function(frame_name(f[i]));
        ++callers;
    }
    return out;
}

ojson frames_json(const KeyedStack& k, Match match)
{
    ojson out = ojson::array();
    if (k.frames == nullptr) return out;
    for (const md::ReportFrame& f : *k.frames) {
        ojson j = {{"module", std::string(base_name(f.module))}, {"function", frame_name(f)}};
        if (match == Match::line) {
            j["file"] = std::string(base_name(f.file));
            j["line"] = f.line;
        }
        out.push_back(std::move(j));
    }
    return out;
}

// ---- sites and leak groups -----------------------------------------------------------------

struct SiteValues {
    std::int64_t peak_bytes = 0, peak_blocks = 0, exit_bytes = 0, exit_blocks = 0;
    std::int64_t allocations = 0, bytes_allocated = 0;
    void add(const md::ReportSite& s)
    {
        peak_bytes += s.peak_bytes;
        peak_blocks += s.peak_blocks;
        exit_bytes += s.exit_bytes;
        exit_blocks += s.exit_blocks;
        allocations += static_cast<std::int64_t>(s.allocations);
        bytes_allocated += static_cast<std::int64_t>(s.bytes_allocated);
    }
    bool operator==(const SiteValues&) const = default;
    ojson json() const
    {
        return {{"peak_bytes", peak_bytes},   {"peak_blocks", peak_blocks},
                {"exit_bytes", exit_bytes},   {"exit_blocks", exit_blocks},
                {"allocations", allocations}, {"bytes_allocated", bytes_allocated}};
    }
    SiteValues minus(const SiteValues& o) const
    {
        return {peak_bytes - o.peak_bytes,   peak_blocks - o.peak_blocks,
                exit_bytes - o.exit_bytes,   exit_blocks - o.exit_blocks,
                allocations - o.allocations, bytes_allocated - o.bytes_allocated};
    }
};

struct SiteDiff {
    KeyedStack where;
    bool in_a = false, in_b = false;
    SiteValues a, b;
    const char* status() const
    {
        if (!in_a) return "new";
        if (!in_b) return "gone";
        return a == b ? "same" : "changed";
    }
    std::int64_t weight() const
    {
        const SiteValues d = b.minus(a);
        return std::max(
            {std::abs(d.peak_bytes), std::abs(d.exit_bytes), std::abs(d.bytes_allocated)});
    }
};

std::vector<SiteDiff> diff_sites(const md::ReportModel& a, const md::ReportModel& b, Match match)
{
    std::map<std::string, SiteDiff> by_key;
    for (const auto& [model, is_a] : {std::pair{&a, true}, std::pair{&b, false}})
        for (const md::ReportSite& s : model->sites) {
            KeyedStack k = key_of(*model, s.stack, match);
            SiteDiff& d = by_key[k.key];
            if (d.where.key.empty() || (d.where.frames == nullptr && k.frames != nullptr))
                d.where = k;
            (is_a ? d.in_a : d.in_b) = true;
            (is_a ? d.a : d.b).add(s);
        }
    std::vector<SiteDiff> out;
    for (auto& [key, d] : by_key)
        out.push_back(std::move(d));
    std::stable_sort(out.begin(), out.end(),
                     [](const SiteDiff& x, const SiteDiff& y) { return x.weight() > y.weight(); });
    return out;
}

// The sites summed by their program frame alone (the function that allocates, whoever called
// it): what held the peak and the exit, by function. Rows that changed, largest change first.
struct FunctionDiff {
    std::string label;
    SiteValues a, b;
};

std::vector<FunctionDiff> diff_functions(const std::vector<SiteDiff>& sites)
{
    std::map<std::string, FunctionDiff> by_label;
    for (const SiteDiff& s : sites) {
        FunctionDiff& f = by_label[label_of(s.where, 0)];
        const SiteValues* from[] = {&s.a, &s.b};
        SiteValues* to[] = {&f.a, &f.b};
        for (int i = 0; i < 2; ++i) {
            to[i]->peak_bytes += from[i]->peak_bytes;
            to[i]->peak_blocks += from[i]->peak_blocks;
            to[i]->exit_bytes += from[i]->exit_bytes;
            to[i]->exit_blocks += from[i]->exit_blocks;
            to[i]->allocations += from[i]->allocations;
            to[i]->bytes_allocated += from[i]->bytes_allocated;
        }
    }
    std::vector<FunctionDiff> out;
    for (auto& [label, f] : by_label) {
        f.label = label;
        if (f.a.peak_bytes != f.b.peak_bytes || f.a.exit_bytes != f.b.exit_bytes)
            out.push_back(std::move(f));
    }
    std::stable_sort(out.begin(), out.end(), [](const FunctionDiff& x, const FunctionDiff& y) {
        const auto w = [](const FunctionDiff& f) {
            return std::max(std::abs(f.b.peak_bytes - f.a.peak_bytes),
                            std::abs(f.b.exit_bytes - f.a.exit_bytes));
        };
        return w(x) > w(y);
    });
    return out;
}

struct LeakDiff {
    KeyedStack where;
    const char* kind = "direct";  // direct|indirect (as in B, else A), possible
    std::int64_t a_bytes = 0, a_blocks = 0, b_bytes = 0, b_blocks = 0;
    bool in_a = false, in_b = false;
    const char* status() const
    {
        if (!in_a) return "new";
        if (!in_b) return "fixed";
        if (b_bytes > a_bytes) return "grown";
        if (b_bytes < a_bytes) return "shrunk";
        return "same";
    }
};

// The groups that changed (all of them with `keep_same`, for the flame graph's totals).
std::vector<LeakDiff> diff_leaks(const md::ReportModel& a, const md::ReportModel& b, Match match,
                                 bool keep_same = false)
{
    std::map<std::pair<bool, std::string>, LeakDiff> by_key;  // (possible?, key)
    for (const auto& [model, is_a] : {std::pair{&a, true}, std::pair{&b, false}}) {
        const std::pair<const std::vector<md::ReportLeakGroup>*, const char*> lists[] = {
            {&model->leaks.direct, "direct"},
            {&model->leaks.indirect, "indirect"},
            {&model->leaks.possible, "possible"}};
        for (const auto& [list, kind] : lists)
            for (const md::ReportLeakGroup& g : *list) {
                KeyedStack k = key_of(*model, g.stack, match);
                const bool possible = std::string_view(kind) == "possible";
                LeakDiff& d = by_key[{possible, k.key}];
                if (d.where.key.empty() || (d.where.frames == nullptr && k.frames != nullptr))
                    d.where = k;
                if (!is_a || !d.in_b) d.kind = kind;
                if (is_a) {
                    d.in_a = true;
                    d.a_bytes += static_cast<std::int64_t>(g.bytes);
                    d.a_blocks += static_cast<std::int64_t>(g.blocks);
                } else {
                    d.in_b = true;
                    d.b_bytes += static_cast<std::int64_t>(g.bytes);
                    d.b_blocks += static_cast<std::int64_t>(g.blocks);
                }
            }
    }
    std::vector<LeakDiff> out;
    for (auto& [key, d] : by_key)
        if (keep_same || std::string_view(d.status()) != "same") out.push_back(std::move(d));
    std::stable_sort(out.begin(), out.end(), [](const LeakDiff& x, const LeakDiff& y) {
        return std::abs(x.b_bytes - x.a_bytes) > std::abs(y.b_bytes - y.a_bytes);
    });
    return out;
}

// ---- gates ---------------------------------------------------------------------------------

// "5%", "1MiB", "5%,1MiB", "0": a relative limit, an absolute floor, or both (a gate then fails
// only when both are exceeded, so that noise of a few bytes or a few percent does not).
struct SizeLimit {
    std::optional<double> percent;
    std::optional<std::int64_t> bytes;
    std::string text;
};

std::optional<SizeLimit> parse_limit(const std::string& text)
{
    SizeLimit l;
    l.text = text;
    std::string_view rest = text;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (item.ends_with('%')) {
            item.remove_suffix(1);
            double v = 0;
            const auto r = std::from_chars(item.data(), item.data() + item.size(), v);
            if (item.empty() || r.ec != std::errc{} || r.ptr != item.data() + item.size() ||
                v < 0 || l.percent)
                return std::nullopt;
            l.percent = v;
        } else {
            const auto b = md::parse_size(item);
            if (!b || l.bytes) return std::nullopt;
            l.bytes = *b;
        }
        if (comma != std::string_view::npos && rest.empty()) return std::nullopt;
    }
    if (!l.percent && !l.bytes) return std::nullopt;
    return l;
}

struct GateResult {
    std::string name;
    std::string limit;
    double a = 0, b = 0;
    bool pass = true;
    std::string why;
};

GateResult size_gate(const char* name, const SizeLimit& l, double a, double b)
{
    GateResult g{name, l.text, a, b, true, {}};
    const double increase = b - a;
    const bool over_percent =
        !l.percent || (a > 0 ? increase * 100.0 / a > *l.percent : increase > 0);
    const bool over_bytes = !l.bytes || increase > static_cast<double>(*l.bytes);
    g.pass = !(over_percent && over_bytes);
    g.why = fmt::format("{} -> {} ({}{})", human_bytes(a), human_bytes(b),
                        signed_human(increase, Unit::bytes),
                        a > 0 ? fmt::format(", {:+.1f}%", increase * 100.0 / a) : "");
    return g;
}

struct Options {
    std::string a_path, b_path;
    std::string match = "function";
    bool json = false, collapsed = false, html = false, force = false;
    std::string metric;  // --collapsed's
    std::string output;
    std::string max_peak, max_exit, max_leak;
    bool fail_on_new_leaks = false;
};

std::string program_name(const md::ReportModel& r)
{
    return std::string(base_name(r.program));
}

ojson side_json(const LoadedReport& l)
{
    const md::ReportModel& m = l.model;
    return {{"path", l.path},
            {"program", m.program},
            {"argv", m.argv},
            {"pid", m.pid},
            {"memtrack_version", m.memtrack_version},
            {"version", l.version}};
}

// --html: the sites (every one, the unchanged too, so the roots are the reports' totals) and the
// direct and indirect leak groups as the flame graph's stacks, with the text diff's tables.
std::string diff_page(const LoadedReport& la, const LoadedReport& lb, const Options& o,
                      const std::vector<SiteDiff>& sites, const std::vector<LeakDiff>& leaks,
                      const std::vector<std::string>& warnings,
                      const std::vector<GateResult>& gates)
{
    const md::ReportModel& a = la.model;
    const md::ReportModel& b = lb.model;
    DiffPage page;
    page.line_keys = o.match == "line";
    for (const SiteDiff& s : sites)
        page.stacks.push_back(
            {s.where.frames,
             s.where.key,
             {s.a.peak_bytes, s.a.exit_bytes, s.a.bytes_allocated, s.a.allocations, 0},
             {s.b.peak_bytes, s.b.exit_bytes, s.b.bytes_allocated, s.b.allocations, 0}});
    for (const LeakDiff& l : leaks)
        if (std::string_view(l.kind) != "possible")
            page.stacks.push_back(
                {l.where.frames, l.where.key, {0, 0, 0, 0, l.a_bytes}, {0, 0, 0, 0, l.b_bytes}});
    const char* const units[] = {"bytes", "count", "seconds"};
    ojson totals = ojson::array();
    for (const TotalRow& row : total_rows())
        totals.push_back(
            {row.name, row.label, units[static_cast<int>(row.unit)], row.get(a), row.get(b)});
    ojson views = ojson::object();
    const Metric metrics[] = {Metric::peak, Metric::exit, Metric::alloc_bytes, Metric::alloc_count,
                              Metric::leaked};
    for (std::size_t v = 0; v < kDiffViews.size(); ++v)
        views[kDiffViews[v]] = {metric_total(a, metrics[v]), metric_total(b, metrics[v])};
    ojson changes = ojson::array();
    std::size_t counts[4] = {0, 0, 0, 0};
    for (const SiteDiff& s : sites) {
        const std::string_view st = s.status();
        ++counts[st == "new" ? 0 : st == "gone" ? 1 : st == "changed" ? 2 : 3];
        if (st == "same" || changes.size() == kTextRows) continue;
        const SiteValues d = s.b.minus(s.a);
        changes.push_back(
            {s.status(), d.peak_bytes, d.exit_bytes, d.bytes_allocated, label_of(s.where)});
    }
    ojson gate_rows = ojson::array();
    for (const GateResult& g : gates)
        gate_rows.push_back(
            {"--" + g.name + (g.limit.empty() ? "" : "=" + g.limit), g.pass, g.why});
    const ojson head = {{"a", side_json(la)},
                        {"b", side_json(lb)},
                        {"match", o.match},
                        {"warnings", warnings},
                        {"totals", std::move(totals)},
                        {"views", std::move(views)},
                        {"sites_recorded", a.sites_recorded && b.sites_recorded},
                        {"site_counts", counts},
                        {"changes", std::move(changes)},
                        {"gates", std::move(gate_rows)}};
    page.head = nlohmann::json::parse(head.dump());
    page.report = {
        {"program", b.program},
        {"pid", b.pid},
        {"config", {{"stack_depth", std::min(a.config.stack_depth, b.config.stack_depth)}}},
        {"sites_recorded", a.sites_recorded && b.sites_recorded}};
    return diff_html_page(page);
}

int run_diff(const Options& o)
{
    const Match match = o.match == "line" ? Match::line : Match::function;
    std::optional<SizeLimit> peak_limit, exit_limit, leak_limit;
    for (const auto& [text, limit, flag] :
         {std::tuple{&o.max_peak, &peak_limit, "--max-peak-increase"},
          std::tuple{&o.max_exit, &exit_limit, "--max-exit-increase"},
          std::tuple{&o.max_leak, &leak_limit, "--max-leak-increase"}}) {
        if (text->empty()) continue;
        *limit = parse_limit(*text);
        if (!*limit) {
            fmt::print(stderr,
                       "memtrack: {}={} is not a limit (e.g. 5%, 1MiB, 5%,1MiB: both must be "
                       "exceeded to fail)\n",
                       flag, *text);
            return kUsageError;
        }
    }
    std::optional<Metric> metric = parse_metric(o.metric.empty() ? "peak" : o.metric);
    if (!metric) {
        fmt::print(stderr, "memtrack: --metric={} is not one of {}\n", o.metric, metric_names());
        return kUsageError;
    }
    if (int(o.json) + int(o.collapsed) + int(o.html) > 1) {
        fmt::print(stderr, "memtrack: --json, --collapsed and --html exclude each other\n");
        return kUsageError;
    }
    LoadedReport la, lb;
    if (const int s = load_report(o.a_path, la); s != 0) return s;
    if (const int s = load_report(o.b_path, lb); s != 0) return s;
    const md::ReportModel& a = la.model;
    const md::ReportModel& b = lb.model;

    // Compatibility: a refusal names both sides and the way past it.
    std::vector<std::string> refusals;
    if (la.version != lb.version)
        refusals.push_back(
            fmt::format("report versions differ ({} and {})", la.version, lb.version));
    if (program_name(a) != program_name(b))
        refusals.push_back(
            fmt::format("programs differ ({} and {})", program_name(a), program_name(b)));
    if (!refusals.empty() && !o.force) {
        fmt::print(stderr, "memtrack: {} and {}: {}; --force compares them anyway\n", o.a_path,
                   o.b_path, refusals.front());
        return kUsageError;
    }
    std::vector<std::string> warnings = refusals;
    if (a.config.stack_depth != b.config.stack_depth)
        warnings.push_back(fmt::format("stack depths differ ({} and {}): sites may not match",
                                       a.config.stack_depth, b.config.stack_depth));
    if (a.config.leak_check != b.config.leak_check || a.leak_checked != b.leak_checked)
        warnings.push_back("the leak check ran in one run only: leak totals are not comparable");
    if (!a.sites_recorded || !b.sites_recorded)
        warnings.push_back("a report has no sites (stats-only run): only totals are compared");
    if (a.memtrack_version != b.memtrack_version)
        warnings.push_back(
            fmt::format("written by memtrack {} and {}", a.memtrack_version, b.memtrack_version));
    for (const std::string& w : warnings)
        fmt::print(stderr, "memtrack: warning: {}\n", w);

    const std::vector<SiteDiff> sites = diff_sites(a, b, match);
    const std::vector<LeakDiff> leaks = diff_leaks(a, b, match);
    const std::vector<FunctionDiff> functions = diff_functions(sites);

    std::vector<GateResult> gates;
    if (peak_limit)
        gates.push_back(size_gate("max-peak-increase", *peak_limit,
                                  static_cast<double>(a.heap.peak_bytes),
                                  static_cast<double>(b.heap.peak_bytes)));
    if (exit_limit)
        gates.push_back(size_gate("max-exit-increase", *exit_limit,
                                  static_cast<double>(a.heap.live_bytes_at_exit),
                                  static_cast<double>(b.heap.live_bytes_at_exit)));
    const auto leaked = [](const md::ReportModel& r) {
        return static_cast<double>(r.leaks.totals.direct_bytes + r.leaks.totals.indirect_bytes);
    };
    if (leak_limit)
        gates.push_back(size_gate("max-leak-increase", *leak_limit, leaked(a), leaked(b)));
    if (o.fail_on_new_leaks) {
        GateResult g{"fail-on-new-leaks", "", 0, 0, true, {}};
        for (const LeakDiff& l : leaks)
            if (std::string_view(l.status()) == "new" && std::string_view(l.kind) != "possible") {
                ++g.b;
                g.pass = false;
            }
        g.why = fmt::format("{} new leak group{}", g.b, g.b == 1 ? "" : "s");
        gates.push_back(g);
    }
    const bool failed =
        std::any_of(gates.begin(), gates.end(), [](const GateResult& g) { return !g.pass; });
    const int status = failed ? kGateFailed : 0;

    std::string out;
    if (o.html) {
        out = diff_page(la, lb, o, sites, diff_leaks(a, b, match, true), warnings, gates);
    } else if (o.collapsed) {
        // difffolded.pl's output: `stack countA countB`, the stack as the collapsed export
        // writes it (so equal function names match).
        std::map<std::string, std::pair<std::int64_t, std::int64_t>> lines;
        try {
            for (const WeightedStack& s : weighted_stacks(a, *metric))
                if (s.value > 0) lines[collapsed_stack(s)].first += s.value;
            for (const WeightedStack& s : weighted_stacks(b, *metric))
                if (s.value > 0) lines[collapsed_stack(s)].second += s.value;
        } catch (const ExportError& e) {
            fmt::print(stderr, "memtrack: {}\n", e.what());
            return kUsageError;
        }
        for (const auto& [stack, v] : lines)
            out += fmt::format("{} {} {}\n", stack, v.first, v.second);
    } else if (o.json) {
        ojson doc = {{"format", "memtrack-diff"}, {"version", 1},     {"a", side_json(la)},
                     {"b", side_json(lb)},        {"match", o.match}, {"warnings", warnings}};
        ojson metrics = ojson::object();
        for (const TotalRow& row : total_rows()) {
            const double va = row.get(a), vb = row.get(b);
            ojson m = {{"a", va}, {"b", vb}, {"delta", vb - va}};
            m["relative"] = va != 0 ? ojson((vb - va) / va) : ojson(nullptr);
            metrics[row.name] = std::move(m);
        }
        doc["metrics"] = std::move(metrics);
        ojson js = ojson::array();
        for (const SiteDiff& s : sites) {
            if (std::string_view(s.status()) == "same") continue;
            js.push_back({{"status", s.status()},
                          {"label", label_of(s.where)},
                          {"frames", frames_json(s.where, match)},
                          {"a", s.a.json()},
                          {"b", s.b.json()},
                          {"delta", s.b.minus(s.a).json()}});
        }
        doc["sites"] = std::move(js);
        ojson jf = ojson::array();
        for (const FunctionDiff& f : functions)
            jf.push_back({{"label", f.label},
                          {"a", f.a.json()},
                          {"b", f.b.json()},
                          {"delta", f.b.minus(f.a).json()}});
        doc["functions"] = std::move(jf);
        ojson jl = ojson::array();
        for (const LeakDiff& l : leaks)
            jl.push_back({{"status", l.status()},
                          {"kind", l.kind},
                          {"label", label_of(l.where)},
                          {"frames", frames_json(l.where, match)},
                          {"a", {{"bytes", l.a_bytes}, {"blocks", l.a_blocks}}},
                          {"b", {{"bytes", l.b_bytes}, {"blocks", l.b_blocks}}}});
        doc["leaks"] = std::move(jl);
        ojson jg = ojson::array();
        for (const GateResult& g : gates) {
            ojson j = {{"name", g.name}, {"a", g.a}, {"b", g.b}, {"pass", g.pass}};
            j["limit"] = g.limit.empty() ? ojson(nullptr) : ojson(g.limit);
            jg.push_back(std::move(j));
        }
        doc["gates"] = std::move(jg);
        doc["result"] = failed ? "fail" : "pass";
        out = doc.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
    } else {
        out += fmt::format("memtrack diff: A = {} ({}, pid {}), B = {} ({}, pid {})\n", o.a_path,
                           program_name(a), a.pid, o.b_path, program_name(b), b.pid);
        out += fmt::format("  {:<18} {:>14} {:>14} {:>14}\n", "", "A", "B", "B - A");
        for (const TotalRow& row : total_rows()) {
            const double va = row.get(a), vb = row.get(b);
            if (va == 0 && vb == 0) continue;
            std::string rel = va != 0 && vb != va && row.unit != Unit::seconds
                                  ? fmt::format(" ({:+.1f}%)", (vb - va) * 100.0 / va)
                                  : "";
            out += fmt::format(
                "  {:<18} {:>14} {:>14} {:>14}{}\n", row.label, human(va, row.unit),
                human(vb, row.unit),
                human(va, row.unit) == human(vb, row.unit) ? "=" : signed_human(vb - va, row.unit),
                rel);
        }
        std::size_t counts[4] = {0, 0, 0, 0};  // new, gone, changed, same
        for (const SiteDiff& s : sites) {
            const std::string_view st = s.status();
            ++counts[st == "new" ? 0 : st == "gone" ? 1 : st == "changed" ? 2 : 3];
        }
        if (a.sites_recorded && b.sites_recorded) {
            out +=
                fmt::format("  sites (matched by {}): {} new, {} gone, {} changed, {} the "
                            "same{}\n",
                            o.match, counts[0], counts[1], counts[2], counts[3],
                            counts[0] + counts[1] + counts[2] > 0 ? "; the largest changes:" : "");
            std::size_t shown = 0;
            for (const SiteDiff& s : sites) {
                if (std::string_view(s.status()) == "same") continue;
                if (shown++ == kTextRows) {
                    out += fmt::format("    ... {} more in --json\n",
                                       counts[0] + counts[1] + counts[2] - kTextRows);
                    break;
                }
                const SiteValues d = s.b.minus(s.a);
                out += fmt::format(
                    "    {:<8} peak {:>11}  exit {:>11}  allocated {:>11}  {}\n", s.status(),
                    signed_human(static_cast<double>(d.peak_bytes), Unit::bytes),
                    signed_human(static_cast<double>(d.exit_bytes), Unit::bytes),
                    signed_human(static_cast<double>(d.bytes_allocated), Unit::bytes),
                    label_of(s.where));
            }
        }
        if (!functions.empty() && a.sites_recorded && b.sites_recorded) {
            out += "  held at the peak and at exit, by allocating function (whoever called it):\n";
            std::size_t shown = 0;
            for (const FunctionDiff& f : functions) {
                if (shown++ == kTextRows) break;
                out += fmt::format("    peak {:>11} -> {:<11} exit {:>11} -> {:<11} {}\n",
                                   human_bytes(static_cast<double>(f.a.peak_bytes)),
                                   human_bytes(static_cast<double>(f.b.peak_bytes)),
                                   human_bytes(static_cast<double>(f.a.exit_bytes)),
                                   human_bytes(static_cast<double>(f.b.exit_bytes)), f.label);
            }
        }
        if (a.leak_checked && b.leak_checked) {
            std::size_t n = 0, fixed = 0, grown = 0;
            for (const LeakDiff& l : leaks) {
                const std::string_view st = l.status();
                n += st == "new";
                fixed += st == "fixed";
                grown += st == "grown";
            }
            out += fmt::format("  leak groups: {} new, {} fixed, {} grown\n", n, fixed, grown);
            std::size_t shown = 0;
            for (const LeakDiff& l : leaks) {
                if (shown++ == kTextRows) break;
                out += fmt::format("    {:<8} {:<8} {:>11} -> {:<11} {}\n", l.status(), l.kind,
                                   human_bytes(static_cast<double>(l.a_bytes)),
                                   human_bytes(static_cast<double>(l.b_bytes)), label_of(l.where));
            }
        }
        for (const GateResult& g : gates)
            out +=
                fmt::format("  gate --{}{}: {}: {}\n", g.name, g.limit.empty() ? "" : "=" + g.limit,
                            g.pass ? "pass" : "FAILED", g.why);
    }
    if (const int w = write_output(o.output, out); w != 0) return w;
    return status;
}

}  // namespace

int diff_main(int argc, char** argv)
{
    CLI::App app{"Compare two saved memtrack reports: totals, sites and leak groups, with CI "
                 "gates.\nExit status: 0 within the gates, 1 when a gate failed, 2 for a usage, "
                 "read or compatibility error.",
                 "memtrack diff"};
    Options o;
    app.add_option("a", o.a_path, "the report before (A)")->required();
    app.add_option("b", o.b_path, "the report after (B)")->required();
    app.add_option("--match", o.match,
                   "how sites of the two runs are matched: function (module and function of "
                   "each frame; survives a rebuild) or line (also file and line)")
        ->check(CLI::IsMember({"function", "line"}));
    app.add_flag("--json", o.json, "write the memtrack-diff JSON (docs/report-format.md)");
    app.add_flag("--html", o.html,
                 "write a differential flame graph page (red grew, blue shrank) with the totals");
    app.add_flag("--collapsed", o.collapsed,
                 "write `stack countA countB` lines (flamegraph.pl's difffolded input)");
    app.add_option("--metric", o.metric,
                   "what --collapsed counts: peak (default), exit, leaked, alloc-bytes, "
                   "alloc-count");
    app.add_option("-o,--output", o.output, "write to FILE instead of stdout")->type_name("FILE");
    app.add_flag("--force", o.force, "compare reports of different programs or versions");
    app.add_option("--max-peak-increase", o.max_peak,
                   "fail (exit 1) if the heap peak grew by more than this: 5%, 1MiB, or both "
                   "(5%,1MiB: fails only when both are exceeded)")
        ->type_name("LIMIT");
    app.add_option("--max-exit-increase", o.max_exit, "the same for the heap live at exit")
        ->type_name("LIMIT");
    app.add_option("--max-leak-increase", o.max_leak,
                   "the same for the leaked bytes (direct and indirect)")
        ->type_name("LIMIT");
    app.add_flag("--fail-on-new-leaks", o.fail_on_new_leaks,
                 "fail if B has a direct or indirect leak group that A has not");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        fmt::print(stderr, "memtrack: {} (see memtrack diff --help)\n", e.what());
        return kUsageError;
    }
    try {
        return run_diff(o);
    } catch (const std::exception& e) {
        fmt::print(stderr, "memtrack: diff: {}\n", e.what());
        return kUsageError;
    }
}

}  // namespace memtrack::launcher
