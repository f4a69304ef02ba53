// The report at a signal's default action (issue 11): memtrack's handler for SIGINT, SIGTERM,
// SIGHUP, SIGQUIT and the fatal SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, installed only
// where the action is the default, and the signal()/sigaction() interposers that keep it so.
// Cold path; the handler is async-signal-safe (report/signal_report.hpp).
#pragma once

#include <csignal>

namespace memtrack::detail {

// Start-up: installs the handler on each of those signals whose action is the default (not
// one the program ignores, e.g. nohup's SIGHUP), and an alternate signal stack for the
// calling thread if it has none, so that a stack overflow in it is reported too.
void install_signal_handlers() noexcept;

// sigaction(2) as the program sees it: a program's own handler or SIG_IGN is installed as
// given and has priority; SIG_DFL on a watched signal installs memtrack's handler instead
// (the default action still follows it: the handler restores it and re-raises). The old
// action memtrack's handler stood for reads back as SIG_DFL. Async-signal-safe.
int sigaction_tracked(int sig, const struct sigaction* act, struct sigaction* old) noexcept;
// signal(2) over sigaction_tracked, with glibc's BSD semantics (SA_RESTART, the signal
// blocked in its handler).
__sighandler_t signal_tracked(int sig, __sighandler_t handler) noexcept;

}  // namespace memtrack::detail
