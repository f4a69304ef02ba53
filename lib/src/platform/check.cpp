// The failure half of MEMTRACK_CHECK (see check.hpp).
#include "platform/check.hpp"

#include "platform/log.hpp"

#include <atomic>

namespace memtrack::detail {

void check_failed(const char* file, int line, const char* condition) noexcept
{
    static constinit std::atomic<bool> said{false};
    g_check_failed.store(true, std::memory_order_relaxed);
    if (said.exchange(true, std::memory_order_relaxed)) return;
    log("internal check failed at {}:{} ({}); leak scans and leak reports are off from here on, "
        "allocation counting goes on",
        file, line, condition);
}

}  // namespace memtrack::detail
