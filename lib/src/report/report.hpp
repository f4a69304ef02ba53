// End-of-run report: stderr summary and JSON file (docs/report-format.md). Cold path; runs
// inside the reentrancy guard, so what it allocates is not tracked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace memtrack::detail {

enum class ReportReason { Exit, Api };

// Writes the parts MEMTRACK_REPORT asks for. path: nullptr = the MEMTRACK_OUTPUT template;
// otherwise a template too (%p, %e). exit_status: -1 = unknown (written as null).
// Returns 0, or -1 if a requested part could not be written (a message went to stderr).
// program_sp: the end of the program's part of the calling thread's stack, for the leak scan
// (MEMTRACK_PROGRAM_SP in the public entry point).
int write_report(ReportReason reason, const char* path, int exit_status,
                 std::uintptr_t program_sp) noexcept;

// What the last exit report found, for the run gates (lifecycle.cpp).
struct RunVerdict {
    bool leak_checked = false;
    std::uint64_t leaked_blocks = 0;  // direct + indirect, unsuppressed
    std::uint64_t leaked_bytes = 0;
    std::int64_t peak_bytes = 0;
};
RunVerdict last_verdict() noexcept;

// JSON string escaping (UTF-8 kept, invalid bytes become U+FFFD). Exposed for the unit tests.
void append_json_string(std::string& out, std::string_view text);

}  // namespace memtrack::detail
