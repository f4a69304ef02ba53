// The public C API (memtrack.h) over the core. Cold path: takes the registry lock; allocates
// only inside the guard (report, dlsym).
#include <memtrack/memtrack.h>

#include "core/counters.hpp"
#include "core/ignored.hpp"
#include "leaks/collector.hpp"
#include "leaks/root_regions.hpp"
#include "report/report.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/lsan.hpp"

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
    MEMTRACK_PROGRAM_SP(program_sp);
    return write_report(ReportReason::Api, path, -1, program_sp);
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

MEMTRACK_API int64_t memtrack_collect(int generation)
{
    MEMTRACK_PROGRAM_SP(program_sp);
    if (phase() != Phase::Active) return -1;
    return collect(generation, program_sp, nullptr, true);
}

MEMTRACK_API void memtrack_get_threshold(int* threshold0, int* threshold1, int* threshold2)
{
    int t[3];
    gc_get_threshold(t);
    if (threshold0 != nullptr) *threshold0 = t[0];
    if (threshold1 != nullptr) *threshold1 = t[1];
    if (threshold2 != nullptr) *threshold2 = t[2];
}

MEMTRACK_API void memtrack_set_threshold(int threshold0, int threshold1, int threshold2)
{
    gc_set_threshold(threshold0, threshold1, threshold2);
}

MEMTRACK_API void memtrack_get_count(int64_t* count0, int64_t* count1, int64_t* count2)
{
    std::int64_t c[3];
    gc_get_count(c);
    if (count0 != nullptr) *count0 = c[0];
    if (count1 != nullptr) *count1 = c[1];
    if (count2 != nullptr) *count2 = c[2];
}

MEMTRACK_API int memtrack_gc_get_stats(memtrack_gc_stats* out)
{
    if (out == nullptr || out->size < offsetof(memtrack_gc_stats, collections)) return -1;
    const GcCounters c = gc_counters();
    memtrack_gc_stats full{};
    full.size = out->size;
    full.version = MEMTRACK_GC_STATS_VERSION;
    for (int g = 0; g < 3; ++g) {
        full.collections[g] = c.collections[g];
        full.collected[g] = c.collected[g];
        full.live_blocks[g] = c.gen_blocks[g];
        full.live_bytes[g] = c.gen_bytes[g];
    }
    full.total_pause_s = static_cast<double>(c.total_pause_ns) / 1e9;
    full.max_pause_s = static_cast<double>(c.max_pause_ns) / 1e9;
    std::memcpy(out, &full, std::min<std::size_t>(out->size, sizeof full));
    return 0;
}

MEMTRACK_API int memtrack_ignore(const void* p)
{
    switch (ignore_block(p)) {
    case IgnoreResult::Ignored:
        return 0;
    case IgnoreResult::AlreadyIgnored:
        return 1;
    case IgnoreResult::NotABlock:
        break;
    }
    return -1;
}

MEMTRACK_API void memtrack_disable_begin(void)
{
    disable_begin();
}

MEMTRACK_API int memtrack_disable_end(void)
{
    return disable_end() ? 0 : -1;
}

MEMTRACK_API int memtrack_add_root_region(const void* p, size_t size)
{
    return add_root_region(p, size) ? 0 : -1;
}

MEMTRACK_API int memtrack_remove_root_region(const void* p, size_t size)
{
    return remove_root_region(p, size) ? 0 : -1;
}

MEMTRACK_API int memtrack_check_leaks(unsigned flags, memtrack_leak_totals* out)
{
    MEMTRACK_PROGRAM_SP(program_sp);
    return check_leaks_from(flags, out, program_sp);
}

MEMTRACK_API const char* memtrack_version(void)
{
    return MEMTRACK_VERSION_STRING;
}

}  // extern "C"
