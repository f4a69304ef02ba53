// The timeline: current heap bytes at most every MEMTRACK_INTERVAL into a bounded buffer. The
// points are taken on the allocation path where per-thread counters fold (timeline_on_fold),
// not by a thread: memtrack starts none (issue 11). Its buffer comes from mimalloc directly.
#pragma once

#include <cstdint>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

struct TimelinePoint {
    std::int64_t t_ns;
    std::int64_t bytes;
    std::int64_t rss = -1;  // resident set size at t_ns; -1 when not read
};

// The sites holding the most live bytes at a timeline point (stacks on only), most first, so
// that a chart can stack what grew (heaptrack's "Consumed" chart). A site's value is exact
// where it is listed; the rest of the point's bytes belong to other sites.
inline constexpr std::size_t kTimelineSites = 12;
struct TimelineSites {
    std::uint32_t count = 0;
    std::uint32_t stack[kTimelineSites] = {};
    std::int64_t bytes[kTimelineSites] = {};
};

// Starts the timeline if interval_ns > 0: from now on a fold adds a point once per interval.
// Cold; no thread.
void start_sampler(std::int64_t interval_ns) noexcept;
// Stops adding points (the report adds the last one). Async-signal-safe.
void stop_sampler() noexcept;
// Called by the counters' out-of-line fold (core/counters.cpp), on any thread: a point if the
// interval has passed. Cold: an atomic load and a clock read when not due; when due, the
// registry lock (current_bytes) and the timeline's. Never with the registry lock held.
void timeline_on_fold() noexcept;

// The sampler thread's kernel tid and descriptor, for the leak scan's stop-the-world: always 0
// now that there is no thread (kept for the interface).
pid_t sampler_tid() noexcept;
std::uintptr_t sampler_tcb() noexcept;
// Appends one point now (used for the start and the end of a run).
void add_timeline_point(std::int64_t t_ns, std::int64_t bytes) noexcept;
// Copies up to `cap` points into out (oldest first), and their top sites into `sites` if not
// null (count 0 where none were taken); returns how many.
std::size_t copy_timeline(TimelinePoint* out, std::size_t cap,
                          TimelineSites* sites = nullptr) noexcept;
std::size_t timeline_size() noexcept;
// copy_timeline for a signal handler: 0 points if the timeline's lock is taken. Async-signal-safe.
std::size_t copy_timeline_in_signal(TimelinePoint* out, std::size_t cap) noexcept;

// Fork: prepare locks the timeline; parent unlocks; child empties it and forgets the
// parent's sampler thread (the caller restarts one).
void sampler_prepare_fork() noexcept;
void sampler_parent_after_fork() noexcept;
void sampler_child_after_fork() noexcept;

}  // namespace memtrack::detail
