// /proc and getrusage readers for the report (cold path, syscalls, no allocation).
#include "platform/process.hpp"

#include <sys/syscall.h>

#include <dirent.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace memtrack::detail {

ProcessTimes process_times() noexcept
{
    ProcessTimes t;
    rusage ru{};
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        t.user_s = static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6;
        t.sys_s = static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6;
        t.max_rss_bytes = static_cast<std::int64_t>(ru.ru_maxrss) * 1024;  // Linux: KiB
    }
    return t;
}

std::int64_t current_rss_bytes() noexcept
{
    char buf[128];
    const int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    // "size resident shared text lib data dt", in pages.
    const char* p = buf;
    while (*p != '\0' && *p != ' ')
        ++p;
    if (*p != ' ') return -1;
    ++p;
    std::int64_t pages = 0;
    bool any = false;
    for (; *p >= '0' && *p <= '9'; ++p) {
        pages = pages * 10 + (*p - '0');
        any = true;
    }
    if (!any) return -1;
    const long page = sysconf(_SC_PAGESIZE);  // from the auxiliary vector: no syscall
    return pages * (page > 0 ? page : 4096);
}

std::size_t executable_path(char* buf, std::size_t size) noexcept
{
    if (size == 0) return 0;
    const ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0) {
        buf[0] = '\0';
        return 0;
    }
    buf[n] = '\0';
    return static_cast<std::size_t>(n);
}

std::string_view base_name(std::string_view path) noexcept
{
    const std::size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::int64_t process_age_ns() noexcept
{
    char buf[1024];
    const int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    // Field 2 (comm) may hold spaces and parentheses: count fields after the last ')'.
    const char* p = std::strrchr(buf, ')');
    if (p == nullptr) return -1;
    int field = 2;
    for (; *p != '\0' && field < 22; ++p)
        if (*p == ' ') ++field;
    const unsigned long long ticks = std::strtoull(p, nullptr, 10);
    const long hz = sysconf(_SC_CLK_TCK);
    timespec now{};
    if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &now) != 0) return -1;
    const std::int64_t now_ns = std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
    const std::int64_t start_ns = static_cast<std::int64_t>(ticks) * (1'000'000'000 / hz);
    return now_ns > start_ns ? now_ns - start_ns : 0;
}

std::size_t command_line(char* buf, std::size_t size) noexcept
{
    const int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    std::size_t total = 0;
    while (total < size) {
        const ssize_t n = read(fd, buf + total, size - total);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        total += static_cast<std::size_t>(n);
    }
    close(fd);
    return total;
}

}  // namespace memtrack::detail

namespace memtrack::detail {

void exit_process_now(int status) noexcept
{
    for (;;) {
        syscall(SYS_exit_group, status);
        syscall(SYS_exit, status);
    }
}

}  // namespace memtrack::detail
