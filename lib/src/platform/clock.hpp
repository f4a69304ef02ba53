// The one monotonic clock of memtrack: CLOCK_MONOTONIC in nanoseconds (vDSO: no syscall, no
// allocation, async-signal-safe).
#pragma once

#include <cstdint>
#include <ctime>

namespace memtrack::detail {

inline std::int64_t monotonic_ns() noexcept
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace memtrack::detail
