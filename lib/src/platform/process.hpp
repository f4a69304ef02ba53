// Facts about this process for the report: executable, command line, CPU times, max RSS.
// Cold path; reads /proc with syscalls into caller buffers; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace memtrack::detail {

struct ProcessTimes {
    double user_s = 0;
    double sys_s = 0;
    std::int64_t max_rss_bytes = 0;
};
ProcessTimes process_times() noexcept;

// Absolute path of the executable (readlink /proc/self/exe) into buf; returns its length or 0.
std::size_t executable_path(char* buf, std::size_t size) noexcept;
// The last component of a path.
std::string_view base_name(std::string_view path) noexcept;
// Nanoseconds since this process started (/proc/self/stat starttime against CLOCK_BOOTTIME;
// clock-tick resolution, usually 10 ms), or -1 if unknown.
std::int64_t process_age_ns() noexcept;
// Ends the process now with `status`, as glibc's _exit does (exit_group, no handlers, no
// flush), without going through an interposed _exit. Async-signal-safe.
[[noreturn]] void exit_process_now(int status) noexcept;
// Resident set size now (/proc/self/statm: open, read, close), or -1. Async-signal-safe;
// the timeline reads it at most once per interval.
std::int64_t current_rss_bytes() noexcept;
// /proc/self/cmdline into buf (NUL-separated arguments); returns the byte count.
std::size_t command_line(char* buf, std::size_t size) noexcept;

}  // namespace memtrack::detail
