// memtrack [options] [--] program [args...]   run a program under libmemtrack.so
// memtrack report FILE.json [--timeline]      print the summary of a saved report
// Command-line parsing only (CLI11); exit status 2 for usage errors, as for a bad report file.
#include "launcher.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <climits>
#include <cstdlib>
#include <iterator>
#include <string_view>

using namespace memtrack::launcher;

namespace {

constexpr int kUsageError = 2;

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
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return parse_failed(app, e, "memtrack report");
    }
    return print_report(file, timeline);
}

int run_main(int argc, char** argv)
{
    CLI::App app{"Run a program with libmemtrack.so preloaded: exact heap current and peak, a "
                 "timeline and a report when it exits.\n"
                 "  memtrack [options] [--] program [args...]\n"
                 "  memtrack report FILE.json [--timeline]\n"
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
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return parse_failed(app, e, "memtrack");
    }
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
    return run_program(request);
}

}  // namespace

int main(int argc, char** argv)
{
    stop_tracking_self(argv);
    if (argc >= 2 && std::string_view(argv[1]) == "report") return report_main(argc - 1, argv + 1);
    return run_main(argc, argv);
}
