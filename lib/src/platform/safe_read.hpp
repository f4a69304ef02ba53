// Word reads of memory that may be unmapped under the reader: the leak scan's reads. With every
// thread paused, memory cannot change under the scan and is read directly. When some thread
// could not be paused it may unmap memory (a thread exit, mimalloc returning a segment) while
// the scan reads it, so reads go through a window filled by process_vm_readv on ourselves,
// which fails instead of faulting. One user at a time (the scan, under its lock); no
// allocation; the direct mode costs one predictable branch per word.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace memtrack::detail {

struct ReadWindow {
    std::uintptr_t base = 0;
    std::size_t len = 0;
    alignas(16) unsigned char buf[64 * 1024];
};
inline constinit bool g_safe_reads = false;
inline constinit ReadWindow g_read_window{};

// Chooses the mode for the reads that follow (and forgets the window's contents).
inline void set_safe_reads(bool safe) noexcept
{
    g_safe_reads = safe;
    g_read_window.len = 0;
}

// Fills the window with the readable part of the 64 KiB from p's page on (safe_read.cpp).
void refill_read_window(std::uintptr_t p) noexcept;

// The 8 bytes at p (8-aligned); false if unreadable (safe mode only).
inline bool load64(std::uintptr_t p, std::uint64_t& v) noexcept
{
    if (!g_safe_reads) {
        v = *reinterpret_cast<const std::uint64_t*>(p);
        return true;
    }
    ReadWindow& w = g_read_window;
    if (p < w.base || p + 8 > w.base + w.len) {
        refill_read_window(p);
        if (p + 8 > w.base + w.len) return false;
    }
    std::memcpy(&v, w.buf + (p - w.base), 8);
    return true;
}

}  // namespace memtrack::detail
