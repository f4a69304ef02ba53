// End-of-run report: gathers the model (report/model.hpp) from the core, the leak checker and
// the symbolizer, then writes the JSON file and the stderr summary (docs/report-format.md).
// Cold path; runs inside the reentrancy guard, so what it allocates is not tracked.
#pragma once

#include "leaks/collector.hpp"
#include "report/gates.hpp"

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

// Why a report is written; the JSON's "reason" (docs/report-format.md). QuickExit is _exit and
// _Exit. An Exec report is the JSON alone (no leak scan, no summary): the image that follows
// writes its own report, and a shell that execs its last command would otherwise print one
// summary per trampoline.
// A Checkpoint is the JSON alone too, written over the last checkpoint of this process; the
// report of its end replaces it in turn (no stale checkpoint is left behind).
enum class ReportReason { Exit, QuickExit, Exec, Checkpoint, Api };

// The file of this process's last checkpoint ("" if none), for the report of its end.
const char* checkpoint_path() noexcept;
// A forked child's reports are its own: it forgets its parent's checkpoint.
void forget_checkpoint_in_child() noexcept;
const char* reason_name(ReportReason reason) noexcept;

// Writes the parts MEMTRACK_REPORT asks for. path: nullptr = the MEMTRACK_OUTPUT template;
// otherwise a template too (%p, %e). exit_status: -1 = unknown (written as null). An exit
// report evaluates the run gates first, so that both renderings say which status the process
// ends with; the gate line goes to stderr even without the summary.
// Returns 0, or -1 if a requested part could not be written (a message went to stderr).
// program_sp: the end of the program's part of the calling thread's stack, for the leak scan
// (MEMTRACK_PROGRAM_SP in the public entry point).
// written: when not null, receives the JSON file's final path ("" if none was written).
int write_report(ReportReason reason, const char* path, int exit_status, std::uintptr_t program_sp,
                 char* written = nullptr, std::size_t written_size = 0) noexcept;

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
                 const LeakCheckRequest& request, char* written = nullptr,
                 std::size_t written_size = 0) noexcept;

// A leak check now: scanned, suppressions applied, totals into request.totals; the report is
// written only if request.write. False when the scan could not run. Any thread outside the
// guard.
bool check_leaks(const LeakCheckRequest& request, std::uintptr_t program_sp) noexcept;

// The gate verdict of the last exit or _exit report (not failed if none was written), for the exit
// handler (lifecycle.cpp), which ends the process with it.
GateVerdict last_gate_verdict() noexcept;

}  // namespace memtrack::detail
