// The launcher's pieces: options that become MEMTRACK_* variables, finding libmemtrack.so,
// running the program, finding its report and reading saved reports. The launcher is an
// ordinary single-threaded program: it may allocate and throw; only its signal handler and the
// forked child before exec are restricted to async-signal-safe calls.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace memtrack::launcher {

// The options the launcher passes on, unchanged, as environment variables: flag names,
// variable, value name, an example of a valid value (the tests pass it) and help text.
// The library parses and validates the values. To add an option, add one line here; the
// command line, --help and the integration tests pick it up from kPassedOptions.
#define MEMTRACK_LAUNCHER_OPTIONS(X)                                                               \
    X("-o,--output", MEMTRACK_OUTPUT, "TEMPLATE", "r.%e.%p.json",                                  \
      "JSON report path template: %p pid, %e executable name, %% a percent sign; relative to "     \
      "the current directory (default memtrack.%e.%p.json)")                                       \
    X("--report", MEMTRACK_REPORT, "LIST", "text,json",                                            \
      "what to write at exit: text (summary on stderr), json, text,json or none "                  \
      "(default text,json)")                                                                       \
    X("--interval", MEMTRACK_INTERVAL, "DURATION", "250ms",                                        \
      "timeline sampling interval, e.g. 100ms, 0.5s, 2s; 0 turns the sampler off "                 \
      "(default 100ms)")                                                                           \
    X("--stack-depth", MEMTRACK_STACK_DEPTH, "N", "16",                                            \
      "frames recorded per allocation stack, 0 to 128; 0 = no stacks, the fastest mode "           \
      "(default 32)")                                                                              \
    X("--leak-check", MEMTRACK_LEAK_CHECK, "0|1", "1",                                             \
      "reachability scan for leaks and reference cycles at exit (default 1)")                      \
    X("--suppressions", MEMTRACK_SUPPRESSIONS, "FILE", "/dev/null",                                \
      "file of leak suppressions: function or module patterns with * wildcards, one per line")     \
    X("--error-exitcode", MEMTRACK_ERROR_EXITCODE, "N", "3",                                       \
      "exit with status N when the program leaks (unsuppressed direct or indirect leaks), or "     \
      "breaks --max-peak / --max-leaked (default 0: the program's own status)")                    \
    X("--max-peak", MEMTRACK_MAX_PEAK, "SIZE", "512MiB",                                           \
      "fail the run (status from --error-exitcode, else 1) when the heap peak exceeds SIZE, "      \
      "e.g. 512MiB, 2GB")                                                                          \
    X("--max-leaked", MEMTRACK_MAX_LEAKED, "SIZE", "1MiB",                                         \
      "fail the run when more than SIZE leaked (direct + indirect)")                               \
    X("--gc", MEMTRACK_GC, "off|auto", "off",                                                      \
      "auto: scan generations whenever the thresholds trip, as Python's gc does (default off)")    \
    X("--break-alloc", MEMTRACK_BREAK_ALLOC, "N", "0",                                             \
      "raise SIGTRAP at allocation number N, the [allocation #N] of a leak report, so that a "     \
      "debugger stops where the leaked block is allocated (default 0: off)")

struct PassedOption {
    const char* flags;       // CLI11 names, e.g. "-o,--output"
    const char* variable;    // e.g. "MEMTRACK_OUTPUT"
    const char* value_name;  // e.g. "TEMPLATE"
    const char* example;     // a valid value
    const char* help;
};

inline constexpr PassedOption kPassedOptions[] = {
#define MEMTRACK_PASSED_OPTION(flags, variable, value_name, example, help)                         \
    {flags, #variable, value_name, example, help},
    MEMTRACK_LAUNCHER_OPTIONS(MEMTRACK_PASSED_OPTION)
#undef MEMTRACK_PASSED_OPTION
};

// The library's defaults, which the launcher needs to find the report (config/config.cpp).
inline constexpr std::string_view kDefaultOutput = "memtrack.%e.%p.json";

struct Setting {
    std::string variable;
    std::string value;
};

struct RunRequest {
    std::string library;               // libmemtrack.so to preload (absolute)
    std::vector<Setting> settings;     // MEMTRACK_* variables to set for the program
    std::vector<std::string> command;  // program and its arguments
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
// and says on stderr where its report went.
int run_program(const RunRequest& request);

// ---- find_report.cpp ---------------------------------------------------------------------

// The JSON report that process `pid` wrote through `output_template` (the library's
// expansion, %e as a wildcard, and the .N names it uses when a name is taken), modified no
// earlier than `not_before`; the newest if several. Empty if there is none.
std::string find_report(std::string_view output_template, pid_t pid, timespec not_before);

// ---- report_reader.cpp -------------------------------------------------------------------

// `memtrack report FILE`: prints the summary of a saved report on stdout. Returns 0, or 2 with a
// one-line error on stderr for a missing, truncated or foreign file.
int print_report(const std::string& path, bool timeline);

}  // namespace memtrack::launcher
