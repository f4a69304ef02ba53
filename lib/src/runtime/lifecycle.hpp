// Process lifecycle of the tracker: one atomic phase, start-up, exit report, fork handlers.
// Cold path.
#pragma once

namespace memtrack::detail {

// Dormant: MEMTRACK_SKIP matched the executable; the process runs as if tracking were off (no
// stacks, no handlers, no report) and its children, which inherit LD_PRELOAD, decide anew.
enum class Phase : int { Uninit, Starting, Active, Stopping, Stopped, Dormant };
Phase phase() noexcept;

// The end of this process's run, for the ends other than exit() (runtime/ends.cpp): true when
// the caller moved the phase from Active to Stopping (the sampler is stopped; the caller writes
// the report, then calls end_final_report or, when an exec failed, resume_after_exec). False when
// another end got there first, tracking is not active, or this is not the process the counters
// belong to: a vfork child (no fork handler ran; it shares its parent's memory and must not
// write a report of its own).
bool begin_final_report() noexcept;
void end_final_report() noexcept;
// Whether this is the process the counters are of (not a vfork child).
bool own_process() noexcept;
// begin_final_report for the signal handler: the same checks, without stopping the sampler
// (a join is not async-signal-safe; the process ends right after). Async-signal-safe.
bool begin_signal_report() noexcept;
void resume_after_exec() noexcept;

// Starts the tracker (config, exit and fork handlers, sampler). Idempotent. Runs from the
// library constructor; unit tests may call it too.
void start() noexcept;

}  // namespace memtrack::detail
