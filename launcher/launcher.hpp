// The launcher's pieces: options that become MEMTRACK_* variables, finding libmemtrack.so,
// running the program, finding its report and reading saved reports. The launcher is an
// ordinary single-threaded program: it may allocate and throw; only its signal handler and the
// forked child before exec are restricted to async-signal-safe calls.
#pragma once

#include "config/options.hpp"
#include "report/model.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <iterator>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace CLI {
class App;
}

namespace memtrack::launcher {

// The options the launcher passes on, unchanged, as environment variables: the rows of the
// library's option table (config/options.hpp: flags, variable, value name, an example of a valid
// value, help) but MEMTRACK_LIBRARY, which the launcher reads itself. The library parses and
// validates the values. To add an option, add one row there; the library, the command line,
// --help, the integration tests and the README check pick it up.
using memtrack::detail::OptionSpec;
inline constexpr std::size_t kPassedCount = static_cast<std::size_t>(
    std::count_if(std::begin(memtrack::detail::kOptions), std::end(memtrack::detail::kOptions),
                  [](const OptionSpec& o) { return o.passed_on(); }));
inline constexpr std::array<OptionSpec, kPassedCount> kPassedOptions = [] {
    std::array<OptionSpec, kPassedCount> passed{};
    std::size_t n = 0;
    for (const OptionSpec& o : memtrack::detail::kOptions)
        if (o.passed_on()) passed[n++] = o;
    return passed;
}();
// --library / MEMTRACK_LIBRARY: the libmemtrack.so to preload.
inline constexpr const OptionSpec& kLibraryOption =
    memtrack::detail::option(memtrack::detail::Option::MEMTRACK_LIBRARY);

// The library's defaults, which the launcher needs to find the report.
inline constexpr std::string_view kDefaultOutput =
    memtrack::detail::option(memtrack::detail::Option::MEMTRACK_OUTPUT).default_value;

struct Setting {
    std::string variable;
    std::string value;
};

struct RunRequest {
    std::string library;               // libmemtrack.so to preload (absolute)
    std::vector<Setting> settings;     // MEMTRACK_* variables to set for the program
    std::vector<std::string> command;  // program and its arguments
    bool quiet = false;                // --quiet: the summary only when something is wrong
};

// ---- library.cpp -------------------------------------------------------------------------

// $MEMTRACK_LIBRARY, else <dir of /proc/self/exe>/../lib/libmemtrack.so (build tree and install
// prefix alike), made absolute. Empty if none exists; `looked_at` says where it looked.
std::string find_library(std::string& looked_at);

// LD_PRELOAD for the program: `library` first, then what the launcher's own LD_PRELOAD held.
std::string child_preload(const std::string& library);

// If the launcher itself was started with libmemtrack.so preloaded (an exported LD_PRELOAD, a
// test harness), re-executes itself without it, so that only the program is tracked. Returns
// only if nothing had to be done or the re-exec failed.
void stop_tracking_self(char** argv);

// ---- run.cpp -----------------------------------------------------------------------------

// Runs the program with the library preloaded, forwarding SIGINT, SIGTERM, SIGHUP and SIGQUIT;
// returns its exit status (128 + N if it died of signal N, 127 if it could not be executed)
// and prints the run's summary on stderr (run_dir.hpp); the started process's report in
// `report_path`, if given (empty if none).
int run_program(const RunRequest& request, std::string* report_path = nullptr);

// ---- find_report.cpp ---------------------------------------------------------------------

// The JSON report that process `pid` wrote through `output_template` (the library's
// expansion, %e as a wildcard, and the .N names it uses when a name is taken), modified no
// earlier than `not_before`; the newest if several. Empty if there is none.
std::string find_report(std::string_view output_template, pid_t pid, timespec not_before);

// ---- report_reader.cpp -------------------------------------------------------------------

// `memtrack report FILE`: prints the summary of a saved report on stdout. Returns 0, or 2 with a
// one-line error on stderr for a missing, truncated or foreign file.
int print_report(const std::string& path, bool timeline);

// Reads a saved report into `model`. Returns 0, or 2 with a one-line error on stderr, as
// print_report.
int load_report(const std::string& path, memtrack::detail::ReportModel& model);

// ---- views.cpp ---------------------------------------------------------------------------

// `memtrack report FILE --peak|--allocations|--temporary|--exit [--top=N] [--stack-depth=N]`:
// the report's sites in heaptrack_print-like sections. --top or --stack-depth alone select
// --peak; no view option at all prints the summary (print_report).
struct ViewOptions {
    bool peak = false;
    bool allocations = false;
    bool temporary = false;
    bool exit = false;
    std::size_t top = 10;  // sites per view
    int stack_depth = 6;   // frames per site; 0 = one line per site
    // Whether the command line asked for a view (`app` has parsed it).
    bool selected(const CLI::App& app) const;
};

// Adds the view options to `memtrack report`'s command line.
void add_view_options(CLI::App& app, ViewOptions& views);

// The views' lines (no newlines), from the model alone.
std::vector<std::string> render_views(const memtrack::detail::ReportModel& report,
                                      const ViewOptions& views);

// Prints the views of a saved report on stdout; 0, or 2 as print_report.
int print_views(const std::string& path, const ViewOptions& views);

// A saved report read into the model, with what the model does not keep.
struct LoadedReport {
    std::string path;
    int version = 0;  // the file's "version"
    memtrack::detail::ReportModel model;
};

// Reads and validates a saved report. Returns 0, or 2 with the one-line error on stderr that
// print_report gives (missing, truncated, foreign, too new).
int load_report(const std::string& path, LoadedReport& out);

// ---- exports.cpp -------------------------------------------------------------------------

// `memtrack report FILE --format=collapsed|massif|speedscope|pprof [--metric=M] [-o OUT]`:
// writes the export to `output` ("" or "-": stdout); `metric` ("" = peak) is collapsed's only.
// Returns 0, or 2 with one line on stderr.
int export_report(const std::string& path, const std::string& format, const std::string& metric,
                  const std::string& output);

// ---- diff.cpp ----------------------------------------------------------------------------

// `memtrack diff A.json B.json [options]` (argv[0] is "diff"): 0 within the gates, 1 when a
// gate failed, 2 for a usage, read or compatibility error.
int diff_main(int argc, char** argv);

}  // namespace memtrack::launcher
