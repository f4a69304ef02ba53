// The public C API (memtrack.h) over the core. Cold path: takes the registry lock; allocates
// only inside the guard (report, dlsym).
#include <memtrack/memtrack.h>

#include "core/counters.hpp"
#include "core/lifecycle.hpp"
#include "report/report.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>

using namespace memtrack::detail;

extern "C" {

MEMTRACK_API int memtrack_get_stats(memtrack_stats* out)
{
    if (out == nullptr || out->size < offsetof(memtrack_stats, peak_time_s)) return -1;
    const Snapshot s = snapshot();
    memtrack_stats full{};
    full.size = out->size;
    full.version = MEMTRACK_STATS_VERSION;
    full.current_bytes = s.current_bytes;
    full.peak_bytes = s.peak_bytes;
    full.peak_time_s = static_cast<double>(s.peak_time_ns) / 1e9;
    full.lifetime_peak_bytes = s.lifetime_peak_bytes;
    full.lifetime_peak_time_s = static_cast<double>(s.lifetime_peak_time_ns) / 1e9;
    full.live_blocks = s.live_blocks;
    full.allocations = s.allocations;
    full.frees = s.frees;
    full.bytes_allocated = s.bytes_allocated;
    full.foreign_frees = s.foreign_frees;
    full.uptime_s = static_cast<double>(s.uptime_ns) / 1e9;
    std::memcpy(out, &full, std::min<std::size_t>(out->size, sizeof full));
    return 0;
}

MEMTRACK_API void memtrack_reset_peak(void)
{
    reset_peak();
}

MEMTRACK_API void memtrack_raise_peak(int64_t bytes, double time_s)
{
    raise_peak(bytes, static_cast<std::int64_t>(time_s * 1e9));
}

MEMTRACK_API int memtrack_write_report(const char* path)
{
    return write_report(ReportReason::Api, path, -1);
}

MEMTRACK_API int memtrack_is_active(void)
{
    // Tracking is active when the process's malloc is the one defined in this very module
    // (preloaded, or linked ahead of libc). Asked once; dlsym may allocate, hence the guard.
    static std::atomic<int> cached{-1};
    int v = cached.load(std::memory_order_relaxed);
    if (v >= 0) return v;
    Guard guard;
    Dl_info self{}, found{};
    void* m = dlsym(RTLD_DEFAULT, "malloc");
    v = (m != nullptr && dladdr(m, &found) != 0 &&
         dladdr(reinterpret_cast<void*>(&memtrack_is_active), &self) != 0 &&
         found.dli_fbase == self.dli_fbase && phase() == Phase::Active)
            ? 1
            : 0;
    cached.store(v, std::memory_order_relaxed);
    return v;
}

MEMTRACK_API const char* memtrack_version(void)
{
    return MEMTRACK_VERSION_STRING;
}

}  // extern "C"
