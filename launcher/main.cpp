// memtrack [options] [--] program [args...]   run a program under libmemtrack.so
// memtrack report FILE.json [--timeline]      print the summary of a saved report
// memtrack report FILE.json --peak|--allocations|--temporary|--exit [--top=N] [--stack-depth=N]
// memtrack report FILE.json --html [-o FILE]   write its HTML report (html.cpp)
// memtrack report FILE.json --format=F [-o OUT] export it (collapsed, massif, speedscope, pprof)
// memtrack diff A.json B.json [options]        compare two reports (diff.cpp)
// Command-line parsing only (CLI11); exit status 2 for usage errors, as for a bad report file.
#include "html.hpp"
#include "launcher.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <climits>
#include <exception>
#include <new>
#include <cstdlib>
#include <iterator>
#include <string_view>

using namespace memtrack::launcher;

namespace {

constexpr int kUsageError = 2;

// --html, -o/--html-output and --html-max-size, for `memtrack report` and a run.
struct HtmlCommand {
    bool enabled = false;
    std::string output, max_size;
    HtmlOptions options;

    void add_to(CLI::App& app, bool report)
    {
        app.add_flag("--html", enabled,
                     report ? "write the report as one self-contained HTML page instead of "
                              "printing its summary (FILE.json -> FILE.html)"
                            : "when the program has ended, also write its report as an HTML "
                              "page beside the JSON report (REPORT.json -> REPORT.html)");
        app.add_option("--html-output", output,
                       report ? "the HTML page's file name (with --html; -o too)"
                              : "the HTML page's file name (with --html)")
            ->type_name("FILE");
        app.add_option("--html-max-size", max_size,
                       "the page's size cap: data is folded until it fits (default 32MiB)")
            ->type_name("SIZE");
    }

    int check(std::string_view command)
    {
        if (!max_size.empty()) {
            const std::optional<std::int64_t> size = parse_html_size(max_size);
            if (!size) {
                fmt::print(stderr,
                           "memtrack: --html-max-size {} is not a size (e.g. 32MiB, 4MB, "
                           "500000) (see {} --help)\n",
                           max_size, command);
                return kUsageError;
            }
            options.max_size = *size;
        }
        if (!enabled && (!output.empty() || !max_size.empty())) {
            fmt::print(stderr,
                       "memtrack: --html-output and --html-max-size need --html (see {} "
                       "--help)\n",
                       command);
            return kUsageError;
        }
        return 0;
    }
};

// CLI11 prints help and --version itself (exit code 0); anything else becomes one line.
int parse_failed(const CLI::App& app, const CLI::ParseError& e, std::string_view command)
{
    if (e.get_exit_code() == 0) return app.exit(e);
    fmt::print(stderr, "memtrack: {} (see {} --help)\n", e.what(), command);
    return kUsageError;
}

int report_main(int argc, char** argv)
{
    CLI::App app{"Print the summary of a saved memtrack JSON report on stdout.", "memtrack report"};
    std::string file;
    bool timeline = false;
    app.add_option("file", file, "a JSON report written by memtrack")->required();
    app.add_flag("--timeline", timeline, "also print the sampled timeline (t_s, bytes)");
    ViewOptions views;
    add_view_options(app, views);
    HtmlCommand html;
    html.add_to(app, true);
    std::string format = "text", metric, output;
    app.add_option("--format", format,
                   "text (the summary), or an export: collapsed (flame graph stacks), massif "
                   "(ms_print, massif-visualizer), speedscope, pprof (gzipped profile.proto)")
        ->type_name("FORMAT");
    app.add_option("--metric", metric,
                   "what --format=collapsed counts: peak (default), exit, leaked, alloc-bytes, "
                   "alloc-count")
        ->type_name("METRIC");
    app.add_option("-o,--output", output,
                   "write the export (or with --html the page) to FILE instead of stdout")
        ->type_name("FILE");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return parse_failed(app, e, "memtrack report");
    }
    if (const int bad = html.check("memtrack report"); bad != 0) return bad;
    if (!output.empty() && !html.enabled && format == "text") {
        fmt::print(stderr, "memtrack: -o and --output need --html, or --format for an export "
                           "(see memtrack report --help)\n");
        return kUsageError;
    }
    if (html.enabled)
        return write_html_report(file,
                                 !html.output.empty() ? html.output
                                 : !output.empty()    ? output
                                                      : html_path_for(file),
                                 html.options);
    if (views.selected(app)) return print_views(file, views);
    if (format != "text") return export_report(file, format, metric, output);
    return print_report(file, timeline);
}

int run_main(int argc, char** argv)
{
    CLI::App app{"Run a program with libmemtrack.so preloaded: exact heap current and peak, a "
                 "timeline and a report when it exits.\n"
                 "  memtrack [options] [--] program [args...]\n"
                 "  memtrack report FILE.json [--timeline] [--format=F] [-o OUT]\n"
                 "  memtrack report FILE.json --html [-o FILE.html]\n"
                 "  memtrack diff A.json B.json [options] (see memtrack diff --help)\n"
                 "Exit status: the program's; 128+N if it died of signal N; 127 if it could not "
                 "be run; 2 for a usage error.",
                 "memtrack"};
    // Options end at "--" or at the program name; the rest is the command, untouched.
    app.prefix_command();
    app.set_version_flag("--version", fmt::format("memtrack {}", MEMTRACK_VERSION_STRING));
    std::vector<std::string> values(std::size(kPassedOptions));
    std::vector<CLI::Option*> options;
    for (std::size_t i = 0; i < std::size(kPassedOptions); ++i) {
        const OptionSpec& o = kPassedOptions[i];
        options.push_back(
            app.add_option(o.flags, values[i], fmt::format("{} [{}]", o.help, o.variable))
                ->type_name(o.value_name)
                // The last one counts, so an alias with defaults can be overridden.
                ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast));
    }
    bool quiet = false;
    app.add_flag("-q,--quiet", quiet,
                 "print the program's summary only when something is wrong (a leak, a failed "
                 "gate, a crash); other processes of the run print only then anyway");
    std::string library;
    app.add_option(kLibraryOption.flags, library, kLibraryOption.help)
        ->type_name(kLibraryOption.value_name);
    HtmlCommand html;
    html.add_to(app, false);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return parse_failed(app, e, "memtrack");
    }
    if (const int bad = html.check("memtrack"); bad != 0) return bad;
    std::vector<std::string> command = app.remaining();
    if (!command.empty() && command.front() == "--") {
        command.erase(command.begin());
    } else if (!command.empty() && command.front().starts_with('-')) {
        fmt::print(stderr,
                   "memtrack: unknown option {} (see memtrack --help; put -- before a "
                   "program whose name starts with -)\n",
                   command.front());
        return kUsageError;
    }
    if (command.empty()) {
        fmt::print(stderr, "memtrack: no program given; usage: memtrack [options] -- program "
                           "[args...] (see memtrack --help)\n");
        return kUsageError;
    }

    RunRequest request;
    std::string looked_at = library;
    if (!library.empty()) {
        char resolved[PATH_MAX];
        request.library = realpath(library.c_str(), resolved) != nullptr ? resolved : "";
    } else {
        request.library = find_library(looked_at);
    }
    if (request.library.empty()) {
        fmt::print(stderr,
                   "memtrack: cannot find libmemtrack.so (looked at {}); set MEMTRACK_LIBRARY "
                   "or pass --library\n",
                   looked_at);
        return kUsageError;
    }
    if (request.library.find_first_of(": ") != std::string::npos) {
        fmt::print(stderr,
                   "memtrack: cannot preload {}: LD_PRELOAD cannot carry a path with a "
                   "colon or a space\n",
                   request.library);
        return kUsageError;
    }
    for (std::size_t i = 0; i < std::size(kPassedOptions); ++i)
        if (options[i]->count() > 0)
            request.settings.push_back({kPassedOptions[i].variable, values[i]});
    request.command = std::move(command);
    request.quiet = quiet;
    if (!html.enabled) return run_program(request);
    std::string report;
    const int status = run_program(request, &report);
    if (!report.empty() && report.ends_with(".json")) {
        const std::string page = html.output.empty() ? html_path_for(report) : html.output;
        if (write_html_report(report, page, html.options) == 0)
            fmt::print(stderr, "memtrack: HTML report written to {}\n", page);
    } else {
        fmt::print(stderr, "memtrack: no JSON report to write the HTML report from "
                           "(--html needs MEMTRACK_REPORT with json)\n");
    }
    return status;
}

}  // namespace

int main(int argc, char** argv)
{
    stop_tracking_self(argv);
    const std::string_view command = argc >= 2 ? argv[1] : "";
    if (command != "report" && command != "diff") return run_main(argc, argv);
    // What reading a report can throw that its readers do not turn into their own line (out
    // of memory on a huge one, say): one line and the read error's status.
    try {
        return command == "report" ? report_main(argc - 1, argv + 1)
                                   : diff_main(argc - 1, argv + 1);
    } catch (const std::bad_alloc&) {
        fmt::print(stderr, "memtrack {}: out of memory reading the report\n", command);
    } catch (const std::exception& e) {
        fmt::print(stderr, "memtrack {}: cannot read the report: {}\n", command, e.what());
    }
    return kUsageError;
}
