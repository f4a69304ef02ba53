// The threads of this process: /proc/self/task read with getdents64 into a stack buffer (no
// malloc, no stdio, no lock), usable while other threads are paused. Cold path.
#pragma once

#include <cstddef>
#include <sys/types.h>

namespace memtrack::detail {

// Stores the ids of the threads listed now into out (at most max) and returns how many it
// stored; `total`, if given, gets how many were listed. 0 if the directory cannot be read.
std::size_t list_tasks(pid_t* out, std::size_t max, std::size_t* total = nullptr) noexcept;

// True when /proc/self/task lists only the calling thread (or cannot be read: false).
bool only_thread_left() noexcept;

}  // namespace memtrack::detail
