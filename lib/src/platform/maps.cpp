// /proc/self/maps with raw syscalls (see maps.hpp).
#include "platform/maps.hpp"

#include "platform/hex.hpp"

#include <atomic>
#include <fcntl.h>
#include <unistd.h>

namespace memtrack::detail {

namespace {

bool parse_line(const char* p, const char* end, Mapping& m) noexcept
{
    m = Mapping{};
    m.start = parse_hex(p, end);
    if (p >= end || *p != '-') return false;
    ++p;
    m.end = parse_hex(p, end);
    if (p + 5 > end || *p != ' ') return false;
    ++p;
    m.readable = p[0] == 'r';
    m.writable = p[1] == 'w';
    m.executable = p[2] == 'x';
    m.shared = p[3] == 's';
    p += 4;
    // offset dev inode, then optional path
    for (int field = 0; field < 3; ++field) {
        while (p < end && *p == ' ')
            ++p;
        while (p < end && *p != ' ')
            ++p;
    }
    while (p < end && *p == ' ')
        ++p;
    if (p < end) {
        if (*p == '[') {
            const char* q = p;
            // [stack], [heap], [stack:tid] are ordinary memory; the rest is the kernel's.
            const bool ordinary = (end - q >= 6 && q[1] == 's' && q[2] == 't') ||
                                  (end - q >= 6 && q[1] == 'h' && q[2] == 'e');
            m.special = !ordinary;
        } else {
            m.file = true;
        }
    }
    return m.end > m.start;
}

}  // namespace

bool read_maps(ScratchVector<Mapping>& out) noexcept
{
    const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ScratchVector<char> text;
    std::size_t used = 0;
    for (;;) {
        if (!text.resize(used + 65536)) {
            close(fd);
            return false;
        }
        const ssize_t n = read(fd, text.data() + used, 65536);
        if (n < 0) {
            close(fd);
            return false;
        }
        if (n == 0) break;
        used += static_cast<std::size_t>(n);
    }
    close(fd);
    const char* p = text.data();
    const char* end = p + used;
    while (p < end) {
        const char* eol = p;
        while (eol < end && *eol != '\n')
            ++eol;
        Mapping m;
        if (parse_line(p, eol, m) && !out.push_back(m)) return false;
        p = eol + 1;
    }
    return true;
}

bool no_swap() noexcept
{
    static constinit std::atomic<int> cached{-1};
    int v = cached.load(std::memory_order_relaxed);
    if (v >= 0) return v == 1;
    v = 0;
    const int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[8192];
        const ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = '\0';
            const char* key = "SwapTotal:";
            for (const char* p = buf; *p != '\0'; ++p) {
                const char* a = p;
                const char* k = key;
                while (*k != '\0' && *a == *k) {
                    ++a;
                    ++k;
                }
                if (*k == '\0') {
                    while (*a == ' ')
                        ++a;
                    v = (*a == '0' && (a[1] == ' ' || a[1] == '\n')) ? 1 : 0;
                    break;
                }
            }
        }
    }
    cached.store(v, std::memory_order_relaxed);
    return v == 1;
}

}  // namespace memtrack::detail
