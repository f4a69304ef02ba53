// A run of a process tree under the launcher (issue 11): the run directory every report of the
// run goes to, what the processes are told to write (JSON only: the launcher owns the terminal),
// the index of the run's reports, and the summary printed when the program ends. The launcher
// is single-threaded; everything here runs before fork() or after the program ended, and may
// allocate and throw.
#pragma once

#include "launcher.hpp"
#include "report/model.hpp"

#include <nlohmann/json.hpp>

#include <ctime>
#include <string>
#include <sys/types.h>
#include <vector>

namespace memtrack::launcher {

// What the user asked MEMTRACK_REPORT (--report, --quiet) for.
struct ReportWanted {
    bool text = true;    // the summary
    bool quiet = false;  // the summary only when something is wrong (--quiet, "quiet")
    bool json = true;    // the JSON file
};

// The run: decided before the program starts.
struct RunPlan {
    ReportWanted wanted;
    // Whether the launcher prints the summaries (the processes write JSON only). False when
    // no JSON is written (--report=text, quiet or none): the library prints its own summary.
    bool launcher_summary = false;
    // The run directory as the user names it (relative to the launcher's directory when it is
    // inside it) and absolute; "" when the output template puts reports in no one directory
    // (a '%' before its last '/').
    std::string dir;
    std::string dir_abs;
    bool created = false;  // the launcher made the run directory (removed again if left empty)
    // The MEMTRACK_OUTPUT template as the launcher looks for the reports (display form).
    std::string output;
};

// ---- run_dir.cpp -------------------------------------------------------------------------

// Decides the run and adds to request.settings what the processes need: MEMTRACK_REPORT=json
// (when the launcher prints the summaries), MEMTRACK_OUTPUT in the run directory (unless -o or
// $MEMTRACK_OUTPUT chose), MEMTRACK_LOG there (a gate's line, which the library would print,
// unless --log-file chose). `quiet`: --quiet. Creates the run directory. False, with one line on
// stderr, if it cannot be created.
bool plan_run(RunRequest& request, bool quiet, RunPlan& plan);

// " (NAME existed; not overwritten)" when `found` is one of the ".N" names the library takes
// when the name the template `output` gives is taken (the note the library's own summary
// adds); "" otherwise.
std::string taken_note(const std::string& output, const std::string& found);

// Removes the run directory if the launcher created it and nothing was written into it.
void remove_if_empty(const RunPlan& plan);

// One report of the run, as the index lists it.
struct IndexEntry {
    long long pid = 0;
    long long ppid = 0;
    std::string program;  // the executable's path
    std::string reason;   // exit, _exit, signal, exec, checkpoint, api
    std::string status;   // the final exit status, the signal's name, or "-"
    long long peak_bytes = 0;
    long long leaked_bytes = 0;  // direct + indirect, suppressions applied
    long long leaked_blocks = 0;
    std::string report;                   // the file, relative to the run directory
    long long written_ns = 0;             // the file's modification time (not a column)
    bool attention = false;               // needs_attention (render.hpp); not a column of the file
    memtrack::detail::ReportModel model;  // the whole report (not a column)
};

// The index file's name inside the run directory.
inline constexpr const char* kIndexName = "memtrack.index.tsv";

// The reports in `dir_abs` whose names match the output template's file part and which were
// written no earlier than `not_before` (0: any time), parsed; sorted in tree order (a parent
// before its children, siblings by pid; a pid's exec reports before its later ones).
std::vector<IndexEntry> collect_reports(const std::string& dir_abs, const std::string& output,
                                        timespec not_before);

// Writes the index of `entries` into `dir_abs` (a temporary file renamed over the old index:
// only the launcher writes it, once, after the program ended). False on failure (one line on
// stderr).
bool write_index(const std::string& dir_abs, const std::vector<IndexEntry>& entries);

// `memtrack report DIR`: the run's processes, one line each, as a tree, from DIR's index (or,
// without one, from the reports in DIR). 0, or 2 with one line on stderr.
int print_run(const std::string& dir);

// ---- tree_summary.cpp --------------------------------------------------------------------

// After the program (pid `pid`, started at `started`, wait status `status`) ended: the summary
// of its report (quiet: only when something is wrong), one line per other process of the run
// that leaked, failed a gate, crashed or was killed, a count of the rest and where they are;
// the index written. Everything on stderr. Returns the started process's report ("" if none).
std::string summarize_run(const RunRequest& request, const RunPlan& plan, pid_t pid,
                          timespec started, int status);

// ---- report_reader.cpp -------------------------------------------------------------------

// A parsed report (format and version checked by the caller) into the model, as
// `memtrack report FILE` reads it. May throw on a malformed report.
memtrack::detail::ReportModel model_of(const nlohmann::json& report);

}  // namespace memtrack::launcher
