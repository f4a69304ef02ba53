// memtrack [options] -- program [args...]     run a program under libmemtrack.so
// memtrack report FILE.json [--timeline]     print the summary of a saved report
#include "launcher.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string_view>
#include <unistd.h>

using namespace memtrack::launcher;

namespace {

int report_main(int argc, char** argv)
{
    CLI::App app{"Print the summary of a saved memtrack JSON report", "memtrack report"};
    std::string file;
    bool timeline = false;
    app.add_option("file", file, "a report written by memtrack")->required();
    app.add_flag("--timeline", timeline, "also print the sampled timeline");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    return print_report(file, timeline);
}

int run_main(int argc, char** argv)
{
    // Options end at "--"; everything after it is the program and its arguments.
    int split = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) {
            split = i;
            break;
        }
    }
    CLI::App app{"Run a program with memtrack preloaded: exact heap current/peak, a timeline and "
                 "a report at exit.\n  memtrack [options] -- program [args...]\n  memtrack report "
                 "FILE.json [--timeline]",
                 "memtrack"};
    app.set_version_flag("--version", std::string("memtrack ") + MEMTRACK_VERSION_STRING);
    std::map<std::string, std::string> values;
#define MEMTRACK_ADD_OPTION(flags, variable, value_name, help)                                     \
    app.add_option(flags, values[#variable], help)->type_name(value_name);
    MEMTRACK_LAUNCHER_OPTIONS(MEMTRACK_ADD_OPTION)
#undef MEMTRACK_ADD_OPTION
    std::string library;
    app.add_option("--library", library,
                   "the libmemtrack.so to preload (default: $MEMTRACK_LIBRARY, or ../lib next "
                   "to this launcher)")
        ->type_name("PATH");
    try {
        app.parse(split, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    if (split >= argc - 1) {
        fmt::print(stderr, "memtrack: no program given; usage: memtrack [options] -- program "
                           "[args...] (see memtrack --help)\n");
        return 2;
    }
    RunRequest request;
    request.library = library.empty() ? default_library() : library;
    if (request.library.empty() || access(request.library.c_str(), R_OK) != 0) {
        fmt::print(stderr,
                   "memtrack: cannot find libmemtrack.so (looked at {}); set MEMTRACK_LIBRARY "
                   "or pass --library\n",
                   request.library.empty() ? "../lib next to the launcher" : request.library);
        return 2;
    }
    if (request.library.front() != '/') {
        char resolved[4096];
        if (realpath(request.library.c_str(), resolved) != nullptr) request.library = resolved;
    }
#define MEMTRACK_PASS_OPTION(flags, variable, value_name, help)                                    \
    if (!values[#variable].empty()) request.settings.push_back({#variable, values[#variable]});
    MEMTRACK_LAUNCHER_OPTIONS(MEMTRACK_PASS_OPTION)
#undef MEMTRACK_PASS_OPTION
    request.command.assign(argv + split + 1, argv + argc);
    return run_program(request);
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc >= 2 && std::string_view(argv[1]) == "report") return report_main(argc - 1, argv + 1);
    return run_main(argc, argv);
}
