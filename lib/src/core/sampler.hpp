// The timeline: a background thread samples current heap bytes every MEMTRACK_INTERVAL into a
// bounded buffer. The thread blocks all signals, allocates nothing through the tracked path
// (its buffer comes from mimalloc directly and it runs inside the reentrancy guard) and stops
// cleanly at exit and in a forked child.
#pragma once

#include <cstdint>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

struct TimelinePoint {
    std::int64_t t_ns;
    std::int64_t bytes;
};

// Starts the sampler if interval_ns > 0 and it is not running. Cold; creates a thread.
void start_sampler(std::int64_t interval_ns) noexcept;
// Stops and joins the sampler (no-op if not running).
void stop_sampler() noexcept;

// The sampler thread's kernel tid (0 if none was started). It blocks every signal, so the leak
// scan's stop-the-world skips it; it never holds user pointers.
pid_t sampler_tid() noexcept;
// Its thread descriptor (pthread_t as an address), 0 if none.
std::uintptr_t sampler_tcb() noexcept;
// Appends one point now (used for the start and the end of a run).
void add_timeline_point(std::int64_t t_ns, std::int64_t bytes) noexcept;
// Copies up to `cap` points into out (oldest first); returns how many.
std::size_t copy_timeline(TimelinePoint* out, std::size_t cap) noexcept;
std::size_t timeline_size() noexcept;
// copy_timeline for a signal handler: 0 points if the timeline's lock is taken. Async-signal-safe.
std::size_t copy_timeline_in_signal(TimelinePoint* out, std::size_t cap) noexcept;

// Fork: prepare locks the timeline; parent unlocks; child empties it and forgets the
// parent's sampler thread (the caller restarts one).
void sampler_prepare_fork() noexcept;
void sampler_parent_after_fork() noexcept;
void sampler_child_after_fork() noexcept;

}  // namespace memtrack::detail
