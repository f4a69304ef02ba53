// What the launcher prints when the program ended (issue 11): the summary of the process it
// started, rendered from that process's report by the library's renderer (render_summary), one
// line per other process of the run that needs attention, and a count of the rest with the
// run directory; the run's index written. Runs once, after waitpid; may allocate and throw.
#include "run_dir.hpp"

#include "report/render.hpp"

#include <memtrack/memtrack.hpp>  // memtrack::Bytes and its formatter

#include <fmt/core.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <set>
#include <sys/wait.h>

namespace memtrack::launcher {

namespace {

namespace md = memtrack::detail;

std::string base_name(const std::string& path)
{
    return path.substr(path.rfind('/') + 1);
}

std::string plural(long long n, const char* one, const char* many)
{
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

// The report at `path`, read into the model; false if it cannot be read.
bool load(const std::string& path, md::ReportModel& model)
{
    std::ifstream in(path, std::ios::binary);
    const nlohmann::json r = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!r.is_object() || r.value("format", "") != md::kReportFormat) return false;
    try {
        model = model_of(r);
    } catch (const std::exception&) {
        return false;
    }
    return true;
}

// "name (pid P, parent Q) exited with status 0, leaked 4.14 KiB in 1 block: PATH".
std::string attention_line(const IndexEntry& e, const std::string& path)
{
    const md::ReportModel& m = e.model;
    std::vector<std::string> what;
    if (m.reason == "signal")
        what.push_back(fmt::format("killed by {} (signal {})",
                                   m.signal_name.empty() ? "a signal" : m.signal_name, m.signal));
    else if (m.reason == "checkpoint")
        what.push_back(fmt::format("wrote no report of its end (killed, by SIGKILL or the OOM "
                                   "killer, or still running); last checkpoint at {}",
                                   Bytes{m.heap.peak_bytes}));
    else if (m.exit_status >= 0)
        what.push_back(fmt::format("exited with status {}{}", m.exit_status,
                                   m.reason == "_exit" ? " (_exit)" : ""));
    if (e.leaked_blocks > 0)
        what.push_back(fmt::format("leaked {} in {}", Bytes{e.leaked_bytes},
                                   plural(e.leaked_blocks, "block", "blocks")));
    if (!m.gate.empty()) what.push_back(md::gate_line(m));
    std::string joined;
    for (const std::string& w : what)
        joined += (joined.empty() ? "" : ", ") + w;
    return fmt::format("{} (pid {}, parent {}) {}: {}", base_name(m.program), m.pid, m.ppid, joined,
                       path);
}

std::string in_dir(const RunPlan& plan, const std::string& name)
{
    if (plan.dir == ".") return name;
    return plan.dir + (plan.dir.ends_with('/') ? "" : "/") + name;
}

}  // namespace

std::string summarize_run(const RunRequest& request, const RunPlan& plan, pid_t pid,
                          timespec started, int status)
{
    const std::string found = find_report(plan.output, pid, started);
    const int term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    const std::string& program = request.command.front();
    std::vector<std::string> lines;
    const auto killed_line = [&] {
        lines.push_back(fmt::format("{} (pid {}) was killed by signal {} ({})", program, pid,
                                    term_signal, strsignal(term_signal)));
    };
    if (!plan.launcher_summary) {  // the program printed its own summary, if any was asked for
        if (term_signal != 0) killed_line();
        for (const std::string& l : lines)
            fmt::print(stderr, "memtrack: {}\n", l);
        return found;
    }

    md::ReportModel root;
    const bool have_root = !found.empty() && load(found, root);
    std::vector<IndexEntry> entries;
    if (!plan.dir_abs.empty()) {
        entries = collect_reports(plan.dir_abs, plan.output, started);
        if (!entries.empty())
            write_index(plan.dir_abs, entries);
        else
            remove_if_empty(plan);
    }
    const bool any_text = plan.wanted.text || plan.wanted.quiet;  // not --report=json
    const bool quiet = !plan.wanted.text;
    bool wrong = false;  // something printed needs attention (quiet mode prints only then)

    if (have_root && root.reason == "checkpoint") {
        // Killed while growing: the last state seen, and where it is.
        wrong = true;
        for (const std::string& l : md::render_summary(root, {"", false}))
            lines.push_back(l);
        lines.push_back(fmt::format(
            "{} was killed by {}{}; last checkpoint at {}: {}", program,
            term_signal == SIGKILL ? std::string("SIGKILL") : fmt::format("signal {}", term_signal),
            term_signal == SIGKILL ? " (out of memory?)" : "", Bytes{root.heap.peak_bytes}, found));
    } else if (have_root) {
        const bool attention = md::needs_attention(root);
        wrong = attention;
        if (any_text && (!quiet || attention))
            for (const std::string& l :
                 md::render_summary(root, {found + taken_note(plan.output, found), false}))
                lines.push_back(l);
        else if (!any_text)
            lines.push_back(fmt::format("report written to {}", found));
        // A report that is not of the end (exec, api) and a death the report does not show.
        if (term_signal != 0 && root.reason != "signal") {
            wrong = true;
            killed_line();
        }
    } else {
        wrong = true;
        if (term_signal != 0) killed_line();
        std::string skip_env;
        const bool skipping = [&] {
            for (const Setting& s : request.settings)
                if (s.variable == "MEMTRACK_SKIP") return !s.value.empty();
            const char* env = std::getenv("MEMTRACK_SKIP");
            return env != nullptr && *env != '\0';
        }();
        if (skipping && term_signal == 0)
            wrong = false;  // most likely skipped on purpose; its tree is below
        else
            lines.push_back(fmt::format(
                "no report found for pid {} (MEMTRACK_REPORT=none, --skip matched it, or it was "
                "killed by SIGKILL before its heap reached the first checkpoint)",
                pid));
    }

    // The rest of the tree: one line for each process that needs attention.
    std::set<long long> all, flagged;  // the processes with a report
    if (have_root) all.insert(pid);
    for (const IndexEntry& e : entries) {
        all.insert(e.pid);
        if (e.pid == pid || !e.attention || !any_text) continue;
        flagged.insert(e.pid);
        lines.push_back(attention_line(e, in_dir(plan, e.report)));
        wrong = true;
    }
    const long long others = static_cast<long long>(all.size()) - (all.contains(pid) ? 1 : 0);
    const long long rest = others - static_cast<long long>(flagged.size());
    if (others > 0 && any_text && (!quiet || wrong)) {
        const std::string where = fmt::format("{}{} (memtrack report {})", plan.dir,
                                              plan.dir.ends_with('/') ? "" : "/", plan.dir);
        if (rest > 0)
            lines.push_back(fmt::format("{} of the run with nothing to report; the reports of "
                                        "all {} are in {}",
                                        plural(rest, "other process", "other processes"),
                                        all.size(), where));
        else
            lines.push_back(fmt::format(
                "the reports of all {} of the run are in {}",
                plural(static_cast<long long>(all.size()), "process", "processes"), where));
    }
    if (quiet && any_text && !wrong) return found;
    std::string text;
    for (const std::string& l : lines)
        text += fmt::format("memtrack: {}\n", l);
    fmt::print(stderr, "{}", text);
    return found;
}

}  // namespace memtrack::launcher
