// The report written from a signal handler (issue 11): async-signal-safe. No malloc, no lock
// that the interrupted thread may hold (the registry and timeline locks are only tried), no
// libdw, no leak scan; the JSON has the fields of report/json_fields.hpp without the leak
// sections. Called by runtime/signals.cpp, once per process, with every signal blocked.
#pragma once

#include <csignal>

namespace memtrack::detail {

// Writes the JSON ("reason": "signal") and, if MEMTRACK_REPORT asks for text, a short summary
// on stderr. info and ucontext are the handler's (either may be null): the signal object gets
// the handling thread's id, the fault address and that thread's stack as raw frames
// (stack/crash_stack.hpp). Returns 0, or -1 if a requested part could not be written.
int write_signal_report(int sig, const siginfo_t* info, const void* ucontext) noexcept;

// "SIGSEGV" for 11 into buf (NUL-terminated); "SIG?" + number for an unnamed signal.
const char* signal_name(int sig, char* buf, unsigned size) noexcept;

}  // namespace memtrack::detail
