// The ends of a process other than exit(): _exit/_Exit and the exec family, each writing the
// process's report first (runtime/ends.cpp). Called by the exported forwarders of
// preload/exports.def from any thread of the host; cold path; the report allocates inside the
// reentrancy guard. In a vfork child they only forward (lifecycle.hpp, begin_final_report).
#pragma once

#include <cstdint>

namespace memtrack::detail {

// _exit(2) and _Exit: the report ("reason": "_exit", the leak scan and the summary as at exit;
// a failed run gate changes the status as at exit), then exit_group. No stdio flush: _exit
// discards the program's buffered output, and so does memtrack.
[[noreturn]] void quick_exit_tracked(int status) noexcept;

// exec(3): when the exec can succeed (the file, or a PATH entry for the p forms, is an
// executable regular file) the report ("reason": "exec", the JSON alone) is written, then the
// C library's function is called; if it returns all the same, the report is removed and the
// run goes on as before. envp == nullptr: the current environment.
int execve_tracked(const char* path, char* const argv[], char* const envp[]) noexcept;
int execvp_tracked(const char* file, char* const argv[], char* const envp[]) noexcept;
int fexecve_tracked(int fd, char* const argv[], char* const envp[]) noexcept;

// Checkpoints (issue 11; MEMTRACK_CHECKPOINT, config.hpp): by default the first once the
// heap's peak reaches kCheckpointFloor, then each time it has grown by a tenth since the last
// (64 MiB to 64 GiB: about 70 checkpoints); growth:PERCENT changes the step. A process killed
// by SIGKILL (the OOM killer) leaves its last checkpoint, whose peak is then at least
// 100/(100+PERCENT) of the heap it reached (less what other threads had not folded, 1 MiB
// each). With an interval, a checkpoint is also written at the first rise of the peak once the
// interval has passed since the last one (or the start), whatever the heap's size.
inline constexpr std::int64_t kCheckpointFloor = std::int64_t{64} << 20;
// The hook of core/counters.hpp: writes the checkpoint (the JSON alone, reason "checkpoint",
// over the previous one) when a rule says so, and sets the next threshold. Runs on the
// allocating thread, one at a time (the fold's compare-exchange).
void write_checkpoint(std::int64_t peak_bytes) noexcept;
// Points the hook at write_checkpoint and sets the first threshold, or leaves checkpoints off
// (MEMTRACK_CHECKPOINT=off, no JSON report). Start-up and a forked child (its own run).
void start_checkpoints() noexcept;

// Looks up the C library's exec functions; start-up calls it, so that an exec in a vfork
// child never runs dlsym (which may allocate) on its parent's memory.
void resolve_exec_functions() noexcept;

}  // namespace memtrack::detail
