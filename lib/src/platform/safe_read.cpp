// The safe mode's window (see safe_read.hpp): one syscall per 64 KiB read.
#include "platform/safe_read.hpp"

#include <sys/uio.h>
#include <unistd.h>

namespace memtrack::detail {

void refill_read_window(std::uintptr_t p) noexcept
{
    ReadWindow& w = g_read_window;
    w.base = p & ~std::uintptr_t{4095};
    iovec local{w.buf, sizeof w.buf};
    iovec remote{reinterpret_cast<void*>(w.base), sizeof w.buf};
    const ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    w.len = got > 0 ? static_cast<std::size_t>(got) : 0;
}

}  // namespace memtrack::detail
