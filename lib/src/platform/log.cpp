// stderr messages and raw writes (cold path; no allocation).
#include "platform/log.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace memtrack::detail {

namespace {
constinit std::atomic<int> g_log_fd{2};
}  // namespace

void set_log_fd(int fd) noexcept
{
    g_log_fd.store(fd, std::memory_order_relaxed);
}

bool write_all(int fd, const char* data, std::size_t size) noexcept
{
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

void write_line(std::string_view text) noexcept
{
    constexpr std::string_view kPrefix = "memtrack: ";
    char line[1100];
    std::size_t len = 0;
    std::memcpy(line, kPrefix.data(), kPrefix.size());
    len = kPrefix.size();
    const std::size_t room = sizeof line - len - 1;
    const std::size_t n = text.size() < room ? text.size() : room;
    std::memcpy(line + len, text.data(), n);
    len += n;
    line[len++] = '\n';
    const int saved = errno;
    write_all(g_log_fd.load(std::memory_order_relaxed), line, len);
    errno = saved;
}

}  // namespace memtrack::detail
