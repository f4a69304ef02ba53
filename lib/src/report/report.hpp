// End-of-run report: gathers the model (report/model.hpp) from the core, the leak checker and
// the symbolizer, then writes the JSON file and the stderr summary (docs/report-format.md).
// Cold path; runs inside the reentrancy guard, so what it allocates is not tracked.
#pragma once

#include "leaks/collector.hpp"
#include "report/gates.hpp"

#include <cstdint>

namespace memtrack::detail {

enum class ReportReason { Exit, Api };

// Writes the parts MEMTRACK_REPORT asks for. path: nullptr = the MEMTRACK_OUTPUT template;
// otherwise a template too (%p, %e). exit_status: -1 = unknown (written as null). An exit
// report evaluates the run gates first, so that both renderings say which status the process
// ends with; the gate line goes to stderr even without the summary.
// Returns 0, or -1 if a requested part could not be written (a message went to stderr).
// program_sp: the end of the program's part of the calling thread's stack, for the leak scan
// (MEMTRACK_PROGRAM_SP in the public entry point).
int write_report(ReportReason reason, const char* path, int exit_status,
                 std::uintptr_t program_sp) noexcept;

// A leak check the program asked for (memtrack_check_leaks, the LSan interface).
struct LeakCheckRequest {
    bool run = true;               // false: no leak check in this report (__lsan_is_turned_off)
    bool new_only = false;         // MEMTRACK_LEAKS_NEW: leave out leaks an earlier check reported
    bool write = false;            // also write the report now (the parts MEMTRACK_REPORT asks for)
    bool final = false;            // the exit report shows this check's leaks and scans no more
    LeakTotals* totals = nullptr;  // receives this check's totals (suppressions applied)
};

// The report of `reason` with the leak check as `request` says. Returns as write_report.
int write_report(ReportReason reason, const char* path, int exit_status, std::uintptr_t program_sp,
                 const LeakCheckRequest& request) noexcept;

// A leak check now: scanned, suppressions applied, totals into request.totals; the report is
// written only if request.write. False when the scan could not run. Any thread outside the
// guard.
bool check_leaks(const LeakCheckRequest& request, std::uintptr_t program_sp) noexcept;

// The gate verdict of the last exit report (not failed if none was written), for the exit
// handler (lifecycle.cpp), which ends the process with it.
GateVerdict last_gate_verdict() noexcept;

}  // namespace memtrack::detail
