// /proc/self/task (see tasks.hpp).
#include "platform/tasks.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace memtrack::detail {

std::size_t list_tasks(pid_t* out, std::size_t max, std::size_t* total) noexcept
{
    std::size_t n = 0, listed = 0;
    const int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        alignas(8) char buf[8192];
        for (;;) {
            const long got = syscall(SYS_getdents64, fd, buf, sizeof buf);
            if (got <= 0) break;
            for (long off = 0; off < got;) {
                const auto* d = reinterpret_cast<const dirent64*>(buf + off);
                off += d->d_reclen;
                const char* name = d->d_name;
                if (name[0] < '0' || name[0] > '9') continue;
                long tid = 0;
                for (const char* c = name; *c >= '0' && *c <= '9'; ++c)
                    tid = tid * 10 + (*c - '0');
                ++listed;
                if (n < max) out[n++] = static_cast<pid_t>(tid);
            }
        }
        close(fd);
    }
    if (total != nullptr) *total = listed;
    return n;
}

bool only_thread_left() noexcept
{
    pid_t first = 0;
    std::size_t total = 0;
    list_tasks(&first, 1, &total);
    return total == 1;
}

}  // namespace memtrack::detail
