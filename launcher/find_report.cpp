// Finding the report a finished program wrote: the library's template expansion with %e as a
// wildcard, the ".N" names it falls back to when a name is taken, and the pid inside each
// candidate. Runs once after the program exits; may allocate.
#include "launcher.hpp"

#include "platform/report_name.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <glob.h>
#include <optional>
#include <sys/stat.h>
#include <tuple>

namespace memtrack::launcher {

namespace {

// File times come from the kernel's coarse clock, which may lag the launcher's clock_gettime
// by a tick; a report written by the program cannot be older than its start minus this.
constexpr time_t kClockSlackS = 1;

void append_literal(std::string& pattern, char c)
{
    if (c == '*' || c == '?' || c == '[' || c == '\\') pattern += '\\';
    pattern += c;
}

// A glob(3) pattern for what the library's expand_template (lib/src/config/config.cpp) makes of
// `templ`: %p the pid, %e any executable name, %% a percent sign, any other %x kept as is.
std::string template_glob(std::string_view templ, pid_t pid)
{
    std::string pattern;
    for (std::size_t i = 0; i < templ.size(); ++i) {
        if (templ[i] != '%' || i + 1 == templ.size()) {
            append_literal(pattern, templ[i]);
            continue;
        }
        const char c = templ[++i];
        if (c == 'p') {
            pattern += std::to_string(pid);
        } else if (c == 'e') {
            pattern += '*';
        } else if (c == '%') {
            pattern += '%';
        } else {
            pattern += '%';
            append_literal(pattern, c);
        }
    }
    return pattern;
}

// The library's fallback names (lib/src/platform/report_file.cpp), by the same rule.
std::string numbered_glob(const std::string& pattern)
{
    const auto [stem, ext] = report_name::numbered_parts(pattern);
    return std::string(stem) + ".[0-9]*" + std::string(ext);
}

struct Candidate {
    std::string path;
    timespec mtime{};
    bool at_exit = false;  // the report of the process's end (not "exec" or "api")

    // Newest first; at equal times the end's report beats an earlier memtrack_write_report(),
    // and a longer ".N" name (written after the shorter ones were taken) beats a shorter one.
    auto key() const { return std::tuple(mtime.tv_sec, mtime.tv_nsec, at_exit, path.size(), path); }
};

std::optional<Candidate> examine(const char* path, pid_t pid, timespec not_before)
{
    struct stat st {};
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    if (st.st_mtim.tv_sec < not_before.tv_sec) return std::nullopt;
    std::ifstream in(path);
    const nlohmann::json report = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!report.is_object()) return std::nullopt;  // also a parse failure (discarded value)
    const auto format = report.find("format");
    const auto pid_field = report.find("pid");
    if (format == report.end() || *format != "memtrack-report") return std::nullopt;
    if (pid_field == report.end() || !pid_field->is_number_integer() ||
        pid_field->get<long long>() != pid)
        return std::nullopt;
    const auto reason = report.find("reason");
    const bool at_end =
        reason != report.end() && (*reason == "exit" || *reason == "_exit" || *reason == "signal");
    return Candidate{path, st.st_mtim, at_end};
}

}  // namespace

std::string find_report(std::string_view output_template, pid_t pid, timespec started)
{
    const timespec not_before{started.tv_sec - kClockSlackS, 0};
    const std::string pattern = template_glob(output_template, pid);
    std::optional<Candidate> best;
    for (const std::string& p : {pattern, numbered_glob(pattern)}) {
        glob_t matches{};
        if (glob(p.c_str(), GLOB_PERIOD, nullptr, &matches) == 0) {
            for (std::size_t i = 0; i < matches.gl_pathc; ++i) {
                auto candidate = examine(matches.gl_pathv[i], pid, not_before);
                if (candidate && (!best || candidate->key() > best->key()))
                    best = std::move(candidate);
            }
        }
        globfree(&matches);
    }
    return best ? best->path : std::string();
}

}  // namespace memtrack::launcher
