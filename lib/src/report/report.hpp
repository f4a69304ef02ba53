// End-of-run report: stderr summary and JSON file (docs/report-format.md). Cold path; runs
// inside the reentrancy guard, so what it allocates is not tracked.
#pragma once

#include <string>
#include <string_view>

namespace memtrack::detail {

enum class ReportReason { Exit, Api };

// Writes the parts MEMTRACK_REPORT asks for. path: nullptr = the MEMTRACK_OUTPUT template;
// otherwise a template too (%p, %e). exit_status: -1 = unknown (written as null).
// Returns 0, or -1 if a requested part could not be written (a message went to stderr).
int write_report(ReportReason reason, const char* path, int exit_status) noexcept;

// JSON string escaping (UTF-8 kept, invalid bytes become U+FFFD). Exposed for the unit tests.
void append_json_string(std::string& out, std::string_view text);

}  // namespace memtrack::detail
