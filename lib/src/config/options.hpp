// The MEMTRACK_* options, written once: config.cpp parses the environment from this table, the
// launcher builds its command line and --help from it, and tests/docs/check_readme_options.py checks
// README.md's configuration table against it. Standard headers only (the launcher includes it
// without linking the library); constexpr data, no allocation, usable from any thread.
#pragma once

#include <cstddef>
#include <string_view>

// X(variable, type, default, accepted, fallback, launcher flags, value name, example, help)
//   variable  the environment variable (also the Option enumerator)
//   type      OptionType: which parser config.cpp runs (launcher_path: the launcher's own)
//   default   the default as README.md's table and the launcher's help give it
//   accepted  what a bad-value message says is accepted: MEMTRACK_X="v" is not <accepted>
//   fallback  what that message says is used instead: "; using <fallback>" ("" = the default)
//   flags     the launcher's CLI11 names; value name and example (a valid value, the launcher
//             tests pass it) for its --help; help the launcher's help text
#define MEMTRACK_OPTIONS(X)                                                                        \
    X(MEMTRACK_OUTPUT, path_template, "memtrack.%e.%p.json",                                       \
      "a file path template (%p = pid, %e = executable name, %% = %)", "", "-o,--output",          \
      "TEMPLATE", "r.%e.%p.json",                                                                  \
      "JSON report path template: %p pid, %e executable name, %% a percent sign; relative to "     \
      "the current directory (default memtrack.%e.%p.json)")                                       \
    X(MEMTRACK_LOG, path_template, "stderr",                                                       \
      "a file path template (%p = pid, %e = executable name, %% = %)", "stderr", "--log-file",     \
      "TEMPLATE", "memtrack.%e.%p.log",                                                            \
      "write the summary to this file (appended; same template as --output) instead of stderr "    \
      "(default stderr)")                                                                          \
    X(MEMTRACK_REPORT, report_list, "text,json", "a comma list of text, quiet and json, or none", \
      "", "--report", "LIST", "text,json",                                                         \
      "what to write at exit: text (summary on stderr), quiet (the summary only when something "   \
      "is wrong: a leak, a failed gate, a crash), json, a comma list of them, or none "            \
      "(default text,json)")                                                                       \
    X(MEMTRACK_INTERVAL, interval, "100ms",                                                        \
      "a duration of at least 1ms (e.g. 100ms, 0.5s, 2s) or 0 for no sampler", "", "--interval",   \
      "DURATION", "250ms",                                                                         \
      "timeline sampling interval, e.g. 100ms, 0.5s, 2s; 0 turns the sampler off "                 \
      "(default 100ms)")                                                                           \
    X(MEMTRACK_STACK_DEPTH, frame_count, "32", "a frame count from 0 (no stacks) to 128", "",      \
      "--stack-depth", "N", "16",                                                                  \
      "frames recorded per allocation stack, 0 to 128; 0 = no stacks, the fastest mode "           \
      "(default 32)")                                                                              \
    X(MEMTRACK_LEAK_CHECK, on_off, "1", "1 or 0", "1 (leak check at exit)", "--leak-check", "0|1", \
      "1", "reachability scan for leaks and reference cycles at exit (default 1)")                 \
    X(MEMTRACK_SUPPRESSIONS, file_path, "none", "a path shorter than 4096 bytes", "",              \
      "--suppressions", "FILE", "/dev/null",                                                       \
      "file of leak suppressions: function or module patterns with * wildcards, one per line")     \
    X(MEMTRACK_ERROR_EXITCODE, exit_status, "0", "an exit status from 1 to 255 (0 = off)",         \
      "0 (leaks do not change the exit status)", "--error-exitcode", "N", "3",                     \
      "exit with status N when the program leaks (unsuppressed direct or indirect leaks), or "     \
      "breaks --max-peak / --max-leaked (default 0: the program's own status)")                    \
    X(MEMTRACK_MAX_PEAK, size, "none", "a size (e.g. 512MiB, 2GB, 4096)", "no limit",              \
      "--max-peak", "SIZE", "512MiB",                                                              \
      "fail the run (status from --error-exitcode, else 1) when the heap peak exceeds SIZE, "      \
      "e.g. 512MiB, 2GB")                                                                          \
    X(MEMTRACK_MAX_LEAKED, size, "none", "a size (e.g. 512MiB, 2GB, 4096)", "no limit",            \
      "--max-leaked", "SIZE", "1MiB",                                                              \
      "fail the run when more than SIZE leaked (direct + indirect)")                               \
    X(MEMTRACK_GC, gc_mode, "off", "auto or off", "off (scans only at exit and on request)",       \
      "--gc", "off|auto", "off",                                                                   \
      "auto: scan generations whenever the thresholds trip, as Python's gc does (default off)")    \
    X(MEMTRACK_CHECKPOINT, checkpoint, "growth",                                                 \
      "off, growth, growth:PERCENT (1 to 1000) or an interval of at least 1ms (e.g. 10s)", "",   \
      "--checkpoint", "MODE", "growth:25",                                                       \
      "checkpoint reports for SIGKILL and the OOM killer: growth (each time the peak grows by "   \
      "10% above 64 MiB), growth:PERCENT, an INTERVAL (also at the first growth after INTERVAL "  \
      "since the last one, at any size) or off (default growth)")                                \
    X(MEMTRACK_INVALID_FREE, invalid_free, "abort", "report or abort", "",                      \
      "--invalid-free", "report|abort", "report",                                                \
      "a double free or a free of a pointer into memtrack's heap that is no block: abort (one "   \
      "line, then SIGABRT, as glibc stops the program) or report (every site in the report, "     \
      "and the program goes on) (default abort)")                                                \
    X(MEMTRACK_BREAK_ALLOC, allocation_number, "0 (off)",                                          \
      "an allocation number as leak reports give it ([allocation #N]), 0 = off", "",               \
      "--break-alloc", "N", "0",                                                                   \
      "raise SIGTRAP at allocation number N, the [allocation #N] of a leak report, so that a "     \
      "debugger stops where the leaked block is allocated (default 0: off)")                       \
    X(MEMTRACK_UNWIND_CHECK, on_off, "0", "1 or 0", "0 (no cross-check)", "--unwind-check",      \
      "0|1", "1",                                                                                  \
      "compare every captured stack with libunwind's unw_backtrace and report how many differ "   \
      "(slow; a test of the fast unwinder, default 0)")                                           \
    X(MEMTRACK_SKIP, pattern_list, "none", "a comma list of patterns shorter than 4096 bytes", "", \
      "--skip", "PATTERN,...", "bash,perl",                                                        \
      "processes whose executable matches a pattern (* and ?; a pattern with a / matches the "     \
      "whole path, else the file name) stay dormant: no tracking, no report; their children are "  \
      "tracked (valgrind's --trace-children-skip)")                                                \
    X(MEMTRACK_DEBUGINFOD, on_off, "0", "1 or 0", "0 (lines from the modules' own DWARF only)",  \
      "--debuginfod", "0|1", "1",                                                                  \
      "stack lines from separate debug files too, and from the debuginfod servers of "            \
      "DEBUGINFOD_URLS (loads libcurl, opens connections at exit; default 0)")                    \
    X(MEMTRACK_LIBRARY, launcher_path, "../lib/libmemtrack.so next to the launcher",               \
      "a path to libmemtrack.so", "", "--library", "PATH", "/usr/local/lib/libmemtrack.so",        \
      "the libmemtrack.so to preload (default: $MEMTRACK_LIBRARY, else "                           \
      "../lib/libmemtrack.so from the launcher's directory)")

namespace memtrack::detail {

enum class OptionType {
    path_template,      // MEMTRACK_OUTPUT: %p, %e and %% only, not ending in '/'
    report_list,        // text, json, a comma list of both, or none
    interval,           // a duration of at least 1ms, or 0
    frame_count,        // 0 to 128
    on_off,             // 1/yes/on or 0/no/off
    gc_mode,            // auto, or off/manual
    file_path,          // any path shorter than 4096 bytes; empty = none
    pattern_list,       // MEMTRACK_SKIP: comma-separated fnmatch(3) patterns, shorter than 4096
    exit_status,        // 0 to 255
    size,               // a byte count with an optional unit (config.hpp parse_size)
    allocation_number,  // an unsigned 64-bit sequence number
    checkpoint,         // off, growth, growth:PERCENT, or a duration (config.hpp CheckpointMode)
    invalid_free,       // report or abort
    launcher_path,      // read by the launcher only (MEMTRACK_LIBRARY), not by the library
};

enum class Option {
#define MEMTRACK_OPTION_ENUMERATOR(variable, ...) variable,
    MEMTRACK_OPTIONS(MEMTRACK_OPTION_ENUMERATOR)
#undef MEMTRACK_OPTION_ENUMERATOR
};

struct OptionSpec {
    Option id;
    const char* variable;  // e.g. "MEMTRACK_OUTPUT"
    OptionType type;
    const char* default_value;
    const char* accepted;
    const char* fallback;    // never empty here: the default when the table leaves it empty
    const char* flags;       // CLI11 names, e.g. "-o,--output"
    const char* value_name;  // e.g. "TEMPLATE"
    const char* example;     // a valid value
    const char* help;
    // Whether the launcher passes it on as an environment variable (all but MEMTRACK_LIBRARY).
    constexpr bool passed_on() const { return type != OptionType::launcher_path; }
};

inline constexpr OptionSpec kOptions[] = {
#define MEMTRACK_OPTION_SPEC(variable, type, dflt, accepted, fallback, flags, value_name, example, \
                             help)                                                                 \
    {Option::variable,                                                                             \
     #variable,                                                                                    \
     OptionType::type,                                                                             \
     dflt,                                                                                         \
     accepted,                                                                                     \
     std::string_view(fallback).empty() ? dflt : fallback,                                         \
     flags,                                                                                        \
     value_name,                                                                                   \
     example,                                                                                      \
     help},
    MEMTRACK_OPTIONS(MEMTRACK_OPTION_SPEC)
#undef MEMTRACK_OPTION_SPEC
};

constexpr const OptionSpec& option(Option id)
{
    return kOptions[static_cast<std::size_t>(id)];
}

}  // namespace memtrack::detail
