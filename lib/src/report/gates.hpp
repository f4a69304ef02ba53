// The run gates (CI): MEMTRACK_ERROR_EXITCODE, MEMTRACK_MAX_PEAK, MEMTRACK_MAX_LEAKED decide,
// from the exit report, whether the process ends with an error status instead of its own.
// Cold path; no allocation; pure (no shared state), callable from any thread.
#pragma once

#include "config/config.hpp"
#include "report/model.hpp"

namespace memtrack::detail {

struct GateVerdict {
    bool failed = false;
    int status = 0;         // the status to exit with when failed
    char reason[160] = {};  // e.g. "1 leaked blocks (4242 bytes)" when failed
};

// A gate fails an exit report of a program that succeeded (exit_status 0) on its own: a leak
// (with error_exitcode), more leaked than max_leaked, or a peak above max_peak, checked in that
// order. A program that failed keeps its status, as valgrind's --error-exitcode does.
GateVerdict evaluate_gates(const Config& config, const ReportModel& report) noexcept;

}  // namespace memtrack::detail
