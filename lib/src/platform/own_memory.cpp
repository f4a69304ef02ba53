// memtrack's own mappings, remembered for the leak scan (see own_memory.hpp).
#include "platform/own_memory.hpp"

#include <atomic>
#include <sys/mman.h>

namespace memtrack::detail {

namespace {

constexpr std::size_t kMaxRanges = 256;
// A slot is free when its start is 0. Ranges are few and long-lived (depot, site table chunks,
// big-block table, scan scratch, the slabs of the unwinder's per-thread tables: own_pool.hpp):
// nothing takes a range per thread.
constinit std::atomic<std::uintptr_t> g_start[kMaxRanges]{};
constinit std::atomic<std::uintptr_t> g_end[kMaxRanges]{};

constexpr std::size_t kLog = 256;
constinit std::atomic<std::uint64_t> g_unmaps{0};
constinit std::atomic<std::uintptr_t> g_log_start[kLog]{};
constinit std::atomic<std::uintptr_t> g_log_end[kLog]{};

}  // namespace

std::uint64_t unmap_sequence() noexcept
{
    return g_unmaps.load(std::memory_order_acquire);
}

std::size_t unmapped_since(std::uint64_t since, OwnRange* out, std::size_t max) noexcept
{
    const std::uint64_t now = g_unmaps.load(std::memory_order_acquire);
    if (now - since > kLog) since = now - kLog;
    std::size_t n = 0;
    for (std::uint64_t i = since; i < now && n < max; ++i)
        out[n++] = {g_log_start[i % kLog].load(std::memory_order_relaxed),
                    g_log_end[i % kLog].load(std::memory_order_relaxed)};
    return n;
}

void* own_map(std::size_t bytes) noexcept
{
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    const auto start = reinterpret_cast<std::uintptr_t>(p);
    for (std::size_t i = 0; i < kMaxRanges; ++i) {
        std::uintptr_t expected = 0;
        // Claim the slot with a placeholder end first, so that readers never see a torn pair
        // with a stale end: they skip slots whose end is 0.
        if (g_start[i].compare_exchange_strong(expected, start)) {
            g_end[i].store(start + bytes, std::memory_order_release);
            return p;
        }
    }
    munmap(p, bytes);
    return nullptr;
}

void own_unmap(void* p, std::size_t bytes) noexcept
{
    const auto start = reinterpret_cast<std::uintptr_t>(p);
    const std::uint64_t seq = g_unmaps.load(std::memory_order_relaxed);
    g_log_start[seq % kLog].store(start, std::memory_order_relaxed);
    g_log_end[seq % kLog].store(start + bytes, std::memory_order_relaxed);
    g_unmaps.store(seq + 1, std::memory_order_release);
    for (std::size_t i = 0; i < kMaxRanges; ++i) {
        if (g_start[i].load(std::memory_order_acquire) == start) {
            g_end[i].store(0, std::memory_order_release);
            g_start[i].store(0, std::memory_order_release);
            break;
        }
    }
    munmap(p, bytes);
}

std::size_t own_ranges(OwnRange* out, std::size_t max) noexcept
{
    std::size_t n = 0;
    for (std::size_t i = 0; i < kMaxRanges && n < max; ++i) {
        const std::uintptr_t start = g_start[i].load(std::memory_order_acquire);
        const std::uintptr_t end = g_end[i].load(std::memory_order_acquire);
        if (start != 0 && end > start) out[n++] = {start, end};
    }
    return n;
}

}  // namespace memtrack::detail
