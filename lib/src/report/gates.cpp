// The run gates (see gates.hpp).
#include "report/gates.hpp"

#include <fmt/format.h>

namespace memtrack::detail {

GateVerdict evaluate_gates(const Config& cfg, const ReportModel& r) noexcept
{
    GateVerdict v;
    // Only an end with a status of its own (exit, _exit) can be given another one.
    if (!cfg.gates() || (r.reason != "exit" && r.reason != "_exit") || r.exit_status != 0) return v;
    const std::uint64_t blocks = r.leaks.totals.direct_blocks + r.leaks.totals.indirect_blocks;
    const std::uint64_t bytes = r.leaks.totals.direct_bytes + r.leaks.totals.indirect_bytes;
    char* out = v.reason;
    const std::size_t n = sizeof v.reason - 1;
    try {
        if (cfg.error_exitcode != 0 && r.leak_checked && blocks > 0)
            fmt::format_to_n(out, n, "{} leaked blocks ({} bytes)", blocks, bytes);
        else if (cfg.max_leaked >= 0 && r.leak_checked &&
                 static_cast<std::int64_t>(bytes) > cfg.max_leaked)
            fmt::format_to_n(out, n, "{} bytes leaked, more than MEMTRACK_MAX_LEAKED={}", bytes,
                             cfg.max_leaked);
        else if (cfg.max_peak >= 0 && r.heap.peak_bytes > cfg.max_peak)
            fmt::format_to_n(out, n, "heap peak {} bytes, more than MEMTRACK_MAX_PEAK={}",
                             r.heap.peak_bytes, cfg.max_peak);
    } catch (...) {
        v.reason[0] = '\0';
    }
    v.failed = v.reason[0] != '\0';
    v.status = v.failed ? (cfg.error_exitcode != 0 ? cfg.error_exitcode : 1) : r.exit_status;
    return v;
}

}  // namespace memtrack::detail
