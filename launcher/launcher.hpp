// The launcher's pieces: options that become MEMTRACK_* variables, running the program, and
// reading saved reports. The launcher is an ordinary program: it may allocate and throw.
#pragma once

#include <string>
#include <vector>

namespace memtrack::launcher {

// One table of the options passed on to the library: flag names, variable, value name, help.
#define MEMTRACK_LAUNCHER_OPTIONS(X)                                                               \
    X("-o,--output", MEMTRACK_OUTPUT, "TEMPLATE",                                                  \
      "JSON report path template: %p pid, %e executable name, %% percent "                         \
      "(default memtrack.%e.%p.json in the current directory)")                                    \
    X("--report", MEMTRACK_REPORT, "LIST",                                                         \
      "what to write: text, json, text,json or none "                                              \
      "(default text,json)")                                                                       \
    X("--interval", MEMTRACK_INTERVAL, "DURATION",                                                 \
      "timeline sampling interval, e.g. 100ms, 0.5s, 2s; 0 turns the sampler off "                 \
      "(default 100ms)")

struct Setting {
    std::string variable;
    std::string value;
};

struct RunRequest {
    std::string library;               // libmemtrack.so to preload (absolute)
    std::vector<Setting> settings;     // MEMTRACK_* variables to set for the program
    std::vector<std::string> command;  // program and its arguments
};

// Runs the program with the library preloaded; returns its exit status (128 + N if it died of
// signal N, 127 if it could not be executed) and says on stderr where its report went.
int run_program(const RunRequest& request);

// The libmemtrack.so next to this launcher (../lib from its directory) or $MEMTRACK_LIBRARY;
// empty if none exists.
std::string default_library();

// `memtrack report FILE`: prints the summary of a saved report. Returns 0, or 2 with a
// one-line error for a missing, truncated or foreign file.
int print_report(const std::string& path, bool timeline);

}  // namespace memtrack::launcher
