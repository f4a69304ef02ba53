// The run directory (issue 11): planning it before the program starts, collecting the reports
// the run's processes wrote into it, the index file (written by the launcher alone, after the
// run: no process of the tree writes it, so none can race another) and `memtrack report DIR`.
// May allocate and throw; single-threaded.
#include "run_dir.hpp"

#include "config/options.hpp"
#include "platform/report_name.hpp"
#include "report/render.hpp"

#include <memtrack/memtrack.hpp>  // memtrack::Bytes and its formatter

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <filesystem>
#include <fnmatch.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace memtrack::launcher {

namespace {

namespace md = memtrack::detail;
using nlohmann::json;

constexpr const char* kReportTemplate = "memtrack.%e.%p.json";
constexpr const char* kLogTemplate = "memtrack.%e.%p.log";
// File times come from the kernel's coarse clock, which may lag clock_gettime by a tick.
constexpr time_t kClockSlackS = 1;

// The value the command line or the launcher's environment gives `variable`; nullptr if neither.
const std::string* given(const RunRequest& r, const char* variable, std::string& env_value)
{
    for (const Setting& s : r.settings)
        if (s.variable == variable) return &s.value;
    if (const char* env = std::getenv(variable); env != nullptr) {
        env_value = env;
        return &env_value;
    }
    return nullptr;
}

void set(RunRequest& r, const char* variable, std::string value)
{
    for (Setting& s : r.settings)
        if (s.variable == variable) {
            s.value = std::move(value);
            return;
        }
    r.settings.push_back({variable, std::move(value)});
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// MEMTRACK_REPORT's list, as the library reads it (config.cpp parse_report_kinds).
bool parse_wanted(std::string_view text, ReportWanted& out)
{
    text = trim(text);
    ReportWanted w{false, false, false};
    if (text == "none") {
        out = w;
        return true;
    }
    bool any = false;
    while (!text.empty()) {
        const std::size_t comma = text.find(',');
        const std::string_view item = trim(text.substr(0, comma));
        if (item == "text")
            w.text = true;
        else if (item == "quiet")
            w.quiet = true;
        else if (item == "json")
            w.json = true;
        else
            return false;
        any = true;
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    if (!any) return false;
    if (w.text) w.quiet = false;
    out = w;
    return true;
}

std::string current_directory()
{
    char cwd[PATH_MAX];
    return getcwd(cwd, sizeof cwd) != nullptr ? std::string(cwd) : std::string(".");
}

std::string absolute_to(const std::string& cwd, const std::string& path)
{
    if (path.starts_with('/')) return path;
    if (path.empty() || path == ".") return cwd;
    return cwd + "/" + path;
}

// A program name fit for a directory name and a template: no '/', no '%'.
std::string name_part(const std::string& program)
{
    std::string name = program.substr(program.rfind('/') + 1);
    std::replace(name.begin(), name.end(), '%', '_');
    return name.empty() ? std::string("run") : name;
}

// fnmatch(3) pattern for the file names the template's last part expands to, %p and %e as
// wildcards (and the ".N" names taken when a name exists: report_file.cpp).
std::string name_pattern(std::string_view templ)
{
    std::string p;
    for (std::size_t i = 0; i < templ.size(); ++i) {
        const char c = templ[i];
        if (c == '%' && i + 1 < templ.size()) {
            const char n = templ[++i];
            if (n == 'p' || n == 'e') {
                p += '*';
                continue;
            }
            if (n != '%') p += '%';
            if (n == '*' || n == '?' || n == '[' || n == '\\') p += '\\';
            p += n;
            continue;
        }
        if (c == '*' || c == '?' || c == '[' || c == '\\') p += '\\';
        p += c;
    }
    return p;
}

// TSV fields: tab, newline, carriage return and backslash escaped (docs/report-format.md).
std::string escaped(std::string_view s)
{
    std::string out;
    for (const char c : s) {
        if (c == '\t')
            out += "\\t";
        else if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c == '\\')
            out += "\\\\";
        else
            out += c;
    }
    return out;
}

std::string unescaped(std::string_view s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 == s.size()) {
            out += s[i];
            continue;
        }
        const char c = s[++i];
        out += c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
    }
    return out;
}

std::vector<std::string> split_tabs(const std::string& line)
{
    std::vector<std::string> fields;
    std::size_t begin = 0;
    for (;;) {
        const std::size_t tab = line.find('\t', begin);
        fields.push_back(unescaped(std::string_view(line).substr(begin, tab - begin)));
        if (tab == std::string::npos) break;
        begin = tab + 1;
    }
    return fields;
}

constexpr const char* kColumns[] = {"pid",          "ppid",          "program",
                                    "reason",       "status",        "peak_bytes",
                                    "leaked_bytes", "leaked_blocks", "report"};
constexpr std::string_view kIndexHeader = "# memtrack run index, version 1";

// A report file of the run, or nullopt if `path` is not one (not JSON, another format, a
// version this launcher cannot read).
bool read_entry(const std::string& path, const std::string& name, IndexEntry& e)
{
    std::ifstream in(path, std::ios::binary);
    const json r = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!r.is_object() || r.value("format", "") != md::kReportFormat) return false;
    const auto version = r.find("version");
    if (version == r.end() || !version->is_number_integer() || *version < 1 ||
        *version > md::kReportVersion)
        return false;
    try {
        e.model = model_of(r);
    } catch (const std::exception&) {
        return false;
    }
    const md::ReportModel& m = e.model;
    e.pid = m.pid;
    e.ppid = m.ppid;
    e.program = m.program;
    e.reason = m.reason;
    if (m.reason == "signal")
        e.status = m.signal_name.empty() ? fmt::format("signal {}", m.signal) : m.signal_name;
    else
        e.status = m.final_status >= 0 ? std::to_string(m.final_status) : "-";
    e.peak_bytes = m.heap.peak_bytes;
    const md::ReportLeakTotals& t = m.leaks.totals;
    e.leaked_bytes = static_cast<long long>(t.direct_bytes + t.indirect_bytes);
    e.leaked_blocks = static_cast<long long>(t.direct_blocks + t.indirect_blocks);
    e.report = name;
    e.attention = md::needs_attention(m);
    return true;
}

// Parents before children, siblings by pid; the reports of one pid (an exec chain) in the
// order they were written.
void tree_order(std::vector<IndexEntry>& entries)
{
    std::stable_sort(entries.begin(), entries.end(), [](const IndexEntry& a, const IndexEntry& b) {
        if (a.pid != b.pid) return a.pid < b.pid;
        return a.written_ns < b.written_ns;
    });
    std::set<long long> pids;
    for (const IndexEntry& e : entries)
        pids.insert(e.pid);
    std::map<long long, std::vector<long long>> children;  // ppid -> pids, sorted
    std::vector<long long> roots;
    std::set<long long> placed;
    for (const IndexEntry& e : entries) {
        if (!placed.insert(e.pid).second) continue;
        if (pids.contains(e.ppid) && e.ppid != e.pid)
            children[e.ppid].push_back(e.pid);
        else
            roots.push_back(e.pid);
    }
    std::vector<long long> order;
    std::set<long long> visited;
    std::vector<long long> stack(roots.rbegin(), roots.rend());
    while (!stack.empty()) {
        const long long pid = stack.back();
        stack.pop_back();
        if (!visited.insert(pid).second) continue;
        order.push_back(pid);
        const auto& kids = children[pid];
        for (auto it = kids.rbegin(); it != kids.rend(); ++it)
            stack.push_back(*it);
    }
    for (const long long pid : pids)  // a cycle of recycled pids: what is left, by pid
        if (!visited.contains(pid)) order.push_back(pid);
    std::map<long long, std::size_t> rank;
    for (std::size_t i = 0; i < order.size(); ++i)
        rank[order[i]] = i;
    std::stable_sort(entries.begin(), entries.end(), [&](const IndexEntry& a, const IndexEntry& b) {
        return rank[a.pid] < rank[b.pid];
    });
}

// Depth of each entry in the tree its ppids make.
std::vector<int> depths(const std::vector<IndexEntry>& entries)
{
    std::map<long long, long long> parent;
    for (const IndexEntry& e : entries)
        parent.emplace(e.pid, e.ppid);
    std::vector<int> out;
    for (const IndexEntry& e : entries) {
        int d = 0;
        long long p = e.ppid;
        while (parent.contains(p) && d < 64 && p != e.pid) {
            ++d;
            p = parent[p];
        }
        out.push_back(d);
    }
    return out;
}

bool read_index(const std::string& path, std::vector<IndexEntry>& entries)
{
    std::ifstream in(path);
    if (!in) return false;
    std::string line;
    if (!std::getline(in, line) || !line.starts_with(kIndexHeader)) return false;
    while (std::getline(in, line)) {
        if (line.empty() || line.starts_with('#')) continue;
        const std::vector<std::string> f = split_tabs(line);
        if (f.size() < std::size(kColumns) || f[0] == "pid") continue;
        IndexEntry e;
        e.pid = std::atoll(f[0].c_str());
        e.ppid = std::atoll(f[1].c_str());
        e.program = f[2];
        e.reason = f[3];
        e.status = f[4];
        e.peak_bytes = std::atoll(f[5].c_str());
        e.leaked_bytes = std::atoll(f[6].c_str());
        e.leaked_blocks = std::atoll(f[7].c_str());
        e.report = f[8];
        entries.push_back(std::move(e));
    }
    return true;
}

}  // namespace

bool plan_run(RunRequest& request, bool quiet, RunPlan& plan)
{
    std::string env_report, env_output, env_log;
    const OptionSpec& report_option = md::option(md::Option::MEMTRACK_REPORT);
    if (const std::string* v = given(request, "MEMTRACK_REPORT", env_report);
        v != nullptr && !parse_wanted(*v, plan.wanted)) {
        // The library would say so in every process; the launcher says it once.
        fmt::print(stderr, "memtrack: MEMTRACK_REPORT=\"{}\" is not {}; using {}\n", *v,
                   report_option.accepted, report_option.fallback);
        plan.wanted = ReportWanted{};
    }
    if (quiet && (plan.wanted.text || plan.wanted.quiet)) {
        plan.wanted.text = false;
        plan.wanted.quiet = true;
    }
    plan.launcher_summary = plan.wanted.json;
    if (!plan.launcher_summary) return true;  // the library prints what it was asked for
    set(request, "MEMTRACK_REPORT", "json");

    const std::string cwd = current_directory();
    if (const std::string* out = given(request, "MEMTRACK_OUTPUT", env_output); out != nullptr) {
        // -o chooses: the run directory is its template's directory.
        if (!report_name::valid_output_template(*out)) {
            // The library says so and uses its default, relative to each process's directory.
            plan.output = kDefaultOutput;
            plan.dir = ".";
            plan.dir_abs = cwd;
            return true;
        }
        plan.output = *out;
        const auto slash = out->rfind('/');
        const std::string dir = slash == std::string::npos ? "." : out->substr(0, slash + 1);
        if (dir.find('%') == std::string::npos) {
            plan.dir =
                slash == std::string::npos ? "." : (slash == 0 ? "/" : out->substr(0, slash));
            plan.dir_abs = absolute_to(cwd, plan.dir);
            // The run directory exists before the program starts (the library creates files,
            // not directories).
            std::error_code ec;
            plan.created = std::filesystem::create_directories(plan.dir_abs, ec);
            if (ec) {
                fmt::print(stderr, "memtrack: cannot create the run directory {}: {}\n",
                           plan.dir_abs, ec.message());
                return false;
            }
        }
        // Absolute, so that a process that changes directory before it execs another still
        // writes there (the library makes a relative template absolute in each process).
        if (!out->starts_with('/')) set(request, "MEMTRACK_OUTPUT", cwd + "/" + *out);
    } else {
        const std::string base =
            fmt::format("memtrack.{}.{}", name_part(request.command.front()), getpid());
        std::string name = base;
        for (unsigned n = 1; mkdir(absolute_to(cwd, name).c_str(), 0777) != 0; ++n) {
            if (errno != EEXIST || n > report_name::kMaxNumber) {
                fmt::print(stderr, "memtrack: cannot create the run directory {}: {}\n",
                           absolute_to(cwd, name), std::strerror(errno));
                return false;
            }
            name = fmt::format("{}.{}", base, n);
        }
        plan.dir = name;
        plan.dir_abs = absolute_to(cwd, name);
        plan.created = true;
        plan.output = name + "/" + kReportTemplate;
        set(request, "MEMTRACK_OUTPUT", plan.dir_abs + "/" + kReportTemplate);
    }
    if (!plan.dir_abs.empty() && given(request, "MEMTRACK_LOG", env_log) == nullptr)
        set(request, "MEMTRACK_LOG", plan.dir_abs + "/" + kLogTemplate);
    return true;
}

std::string taken_note(const std::string& output, const std::string& found)
{
    const std::string name = found.substr(found.rfind('/') + 1);
    const std::string pattern = name_pattern(output.substr(output.rfind('/') + 1));
    if (fnmatch(pattern.c_str(), name.c_str(), FNM_PERIOD) == 0) return {};
    const auto [stem, ext] = report_name::numbered_parts(found);
    const auto dot = stem.rfind('.');
    if (dot == std::string_view::npos) return {};
    const std::string original = std::string(stem.substr(0, dot)) + std::string(ext);
    struct stat st {};
    if (stat(original.c_str(), &st) != 0) return {};
    return fmt::format(" ({} existed; not overwritten)", original);
}

void remove_if_empty(const RunPlan& plan)
{
    if (plan.created) rmdir(plan.dir_abs.c_str());  // fails, as it should, unless empty
}

std::vector<IndexEntry> collect_reports(const std::string& dir_abs, const std::string& output,
                                        timespec not_before)
{
    std::vector<IndexEntry> entries;
    const std::string file_part = output.substr(output.rfind('/') + 1);
    const std::string pattern = name_pattern(file_part);
    const auto [stem, ext] = report_name::numbered_parts(pattern);
    const std::string numbered = std::string(stem) + ".[0-9]*" + std::string(ext);
    DIR* d = opendir(dir_abs.c_str());
    if (d == nullptr) return entries;
    while (const dirent* de = readdir(d)) {
        const std::string name = de->d_name;
        if (name.starts_with('.') || name == kIndexName) continue;
        if (fnmatch(pattern.c_str(), name.c_str(), FNM_PERIOD) != 0 &&
            fnmatch(numbered.c_str(), name.c_str(), FNM_PERIOD) != 0)
            continue;
        const std::string path = dir_abs + "/" + name;
        struct stat st {};
        if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (not_before.tv_sec > 0 && st.st_mtim.tv_sec < not_before.tv_sec - kClockSlackS) continue;
        IndexEntry e;
        if (!read_entry(path, name, e)) continue;
        e.written_ns =
            static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
        entries.push_back(std::move(e));
    }
    closedir(d);
    tree_order(entries);
    return entries;
}

bool write_index(const std::string& dir_abs, const std::vector<IndexEntry>& entries)
{
    std::string text =
        fmt::format("{} (docs/report-format.md): one line per report\n", kIndexHeader);
    for (std::size_t i = 0; i < std::size(kColumns); ++i)
        text += fmt::format("{}{}", i == 0 ? "" : "\t", kColumns[i]);
    text += '\n';
    for (const IndexEntry& e : entries)
        text += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", e.pid, e.ppid,
                            escaped(e.program), escaped(e.reason), escaped(e.status), e.peak_bytes,
                            e.leaked_bytes, e.leaked_blocks, escaped(e.report));
    const std::string path = dir_abs + "/" + kIndexName;
    const std::string tmp = fmt::format("{}/.{}.{}.tmp", dir_abs, kIndexName, getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        out.close();
        if (!out) {
            fmt::print(stderr, "memtrack: cannot write the run's index {}: {}\n", path,
                       std::strerror(errno));
            unlink(tmp.c_str());
            return false;
        }
    }
    if (rename(tmp.c_str(), path.c_str()) != 0) {
        fmt::print(stderr, "memtrack: cannot write the run's index {}: {}\n", path,
                   std::strerror(errno));
        unlink(tmp.c_str());
        return false;
    }
    return true;
}

int print_run(const std::string& dir)
{
    std::vector<IndexEntry> entries;
    const std::string index = dir + "/" + kIndexName;
    const bool indexed = read_index(index, entries);
    if (!indexed) {
        if (access(index.c_str(), F_OK) == 0) {
            fmt::print(stderr, "memtrack: {}: not a memtrack run index\n", index);
            return 2;
        }
        entries = collect_reports(dir, "%e.json", timespec{});
    }
    if (entries.empty()) {
        fmt::print(stderr, "memtrack: {}: {}\n", dir,
                   indexed ? "the run's index lists no report"
                           : "a directory with no memtrack report (and no run index)");
        return 2;
    }
    std::set<long long> pids;
    for (const IndexEntry& e : entries)
        pids.insert(e.pid);
    std::string out =
        fmt::format("memtrack: run in {}: {} report{} of {} process{}{}\n", dir, entries.size(),
                    entries.size() == 1 ? "" : "s", pids.size(), pids.size() == 1 ? "" : "es",
                    indexed ? fmt::format(" (index {})", kIndexName) : std::string(" (no index)"));
    out += fmt::format("memtrack:   {:>8} {:>8}  {:<8} {:<10} {:>10} {:>10}  {}\n", "pid", "ppid",
                       "status", "reason", "peak", "leaked", "program  report");
    const std::vector<int> depth = depths(entries);
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const IndexEntry& e = entries[i];
        out += fmt::format("memtrack:   {:>8} {:>8}  {:<8} {:<10} {:>10} {:>10}  {}{}  {}\n", e.pid,
                           e.ppid, e.status, e.reason, fmt::format("{}", Bytes{e.peak_bytes}),
                           fmt::format("{}", Bytes{e.leaked_bytes}),
                           std::string(static_cast<std::size_t>(2 * depth[i]), ' '),
                           e.program.substr(e.program.rfind('/') + 1), e.report);
    }
    fmt::print("{}", out);
    return 0;
}

}  // namespace memtrack::launcher
