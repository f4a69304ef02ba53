// The report's two renderings, from the model alone: the JSON file (docs/report-format.md) and
// the summary lines. The library writes both at exit; `memtrack report FILE` prints the summary
// of a saved file with the same function. Cold path; allocates; thread-safe (no shared state).
#pragma once

#include "report/model.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace memtrack::detail {

// The JSON report, ending in a newline.
std::string render_json(const ReportModel& report);

struct SummaryOptions {
    // The "report" line's text (where the JSON went, or why it did not); "" = no such line.
    std::string_view report_line;
    bool timeline = false;  // the sampled timeline too (memtrack report --timeline)
};

// The summary, one string per line, without the "memtrack: " prefix and the newline.
std::vector<std::string> render_summary(const ReportModel& report, const SummaryOptions& options);

// One frame as the summary writes it: "function file:line", "function (module+0x1f)", with
// " [inlined]" for an inlined frame.
std::string frame_text(const ReportFrame& frame);

// Whether the report shows something wrong (issue 11): unsuppressed direct or indirect leaks, a
// gate that changed the exit status, a death by signal, an invalid or double free, or a
// checkpoint that no report of the end replaced (the process was killed, by SIGKILL say, or
// still runs). MEMTRACK_REPORT=quiet prints the summary only then; the launcher names such
// processes of a run.
bool needs_attention(const ReportModel& report);

// The line saying why a gate changed the exit status: "exit status 23: 1 leaked blocks (4242
// bytes)"; "" if no gate did.
std::string gate_line(const ReportModel& report);

}  // namespace memtrack::detail
