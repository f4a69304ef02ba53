// One-line messages on stderr, prefixed "memtrack: ". fmt into a stack buffer, then write(2):
// no heap allocation, no stdio, safe on any path that may not allocate (not signal-safe: fmt).
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <string_view>

namespace memtrack::detail {

// Where write_line writes: fd 2 unless set (MEMTRACK_LOG, for the summary). Async-signal-safe.
void set_log_fd(int fd) noexcept;

// Writes "memtrack: <text>\n" to fd 2 (or the set_log_fd one) with one write(2) call (retried on
// EINTR/short writes).
void write_line(std::string_view text) noexcept;

// Formats into a 1 KiB stack buffer (longer messages are cut) and writes one line.
template <class... Args> void log(fmt::format_string<Args...> format, Args&&... args) noexcept
{
    char buf[1024];
    try {
        auto res = fmt::format_to_n(buf, sizeof buf, format, std::forward<Args>(args)...);
        write_line(std::string_view(buf, res.size < sizeof buf ? res.size : sizeof buf));
    } catch (...) {
        write_line("(message formatting failed)");
    }
}

// Writes raw bytes to fd (retrying short writes). Returns false on error.
bool write_all(int fd, const char* data, std::size_t size) noexcept;

}  // namespace memtrack::detail
