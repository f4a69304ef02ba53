// The public C API (memtrack.h) over the core. Cold path: takes the registry lock; allocates
// only inside the guard (report, dlsym).
#include <memtrack/memtrack.h>

#include "core/counters.hpp"
#include "core/ignored.hpp"
#include "core/sites.hpp"
#include "leaks/collector.hpp"
#include "leaks/root_regions.hpp"
#include "report/report.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/lsan.hpp"
#include "stack/depot.hpp"
#include "stack/resolved_stacks.hpp"

#include <dlfcn.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

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

namespace {

// The sites with a non-zero `key`, largest first, into the caller's array (memtrack.h).
std::size_t sites_out(memtrack_site* out, std::size_t max, std::int64_t SiteRecord::*key)
{
    if (max > 0 && (out == nullptr || out->size < offsetof(memtrack_site, allocations))) return 0;
    if (!g_sites_on) return 0;
    Guard guard;  // the copy's vector is memtrack's own memory
    try {
        std::vector<SiteRecord> v(copy_sites(nullptr, 0, nullptr) + 256);
        v.resize(std::min(v.size(), copy_sites(v.data(), v.size(), nullptr)));
        std::erase_if(v, [key](const SiteRecord& r) { return r.*key <= 0; });
        std::sort(v.begin(), v.end(), [key](const SiteRecord& a, const SiteRecord& b) {
            return a.*key != b.*key ? a.*key > b.*key : a.stack < b.stack;
        });
        const std::size_t stride = max > 0 ? out->size : 0;
        for (std::size_t i = 0; i < std::min(max, v.size()); ++i) {
            const SiteRecord& r = v[i];
            memtrack_site full{};
            full.size = static_cast<std::uint32_t>(stride);
            full.version = MEMTRACK_SITE_VERSION;
            full.stack = r.stack;
            full.allocations = r.allocations;
            full.frees = r.frees;
            full.bytes_allocated = r.bytes_allocated;
            full.peak_bytes = r.peak_bytes;
            full.peak_blocks = r.peak_blocks;
            full.live_bytes = r.live_bytes;
            full.live_blocks = r.live_blocks;
            full.temporary = r.temporary;
            full.largest_bytes = r.largest_bytes;
            std::memcpy(reinterpret_cast<char*>(out) + i * stride, &full,
                        std::min(stride, sizeof full));
        }
        return v.size();
    } catch (...) {
        return 0;
    }
}

// Symbolized stacks for memtrack_stack_location, made on first use and kept (lock).
constinit pthread_mutex_t g_location_lock = PTHREAD_MUTEX_INITIALIZER;
constinit StackTable* g_locations = nullptr;

}  // namespace

MEMTRACK_API size_t memtrack_peak_sites(memtrack_site* out, size_t max)
{
    return sites_out(out, max, &SiteRecord::peak_bytes);
}

MEMTRACK_API size_t memtrack_take_snapshot(memtrack_site* out, size_t max)
{
    return sites_out(out, max, &SiteRecord::live_bytes);
}

MEMTRACK_API int memtrack_stack_location(uint32_t stack, char* buf, size_t len)
{
    if (stack == 0 || stack_of(stack).depth == 0) return -1;
    Guard guard;
    std::string text;
    pthread_mutex_lock(&g_location_lock);
    try {
        if (g_locations == nullptr) g_locations = new StackTable;
        const std::vector<SymbolFrame>& frames = g_locations->get(stack).frames;
        const SymbolFrame* top = frames.empty() ? nullptr : &frames.front();
        for (const SymbolFrame& f : frames)
            if (!f.file.empty() && !f.file.starts_with("/usr/")) {
                top = &f;
                break;
            }
        if (top != nullptr) {
            text = top->function.empty() ? "?" : top->function;
            if (!top->file.empty()) {
                const auto slash = top->file.rfind('/');
                text += " " + top->file.substr(slash == std::string::npos ? 0 : slash + 1) + ":" +
                        std::to_string(top->line);
            }
        }
    } catch (...) {
        text.clear();
    }
    pthread_mutex_unlock(&g_location_lock);
    if (len > 0 && buf != nullptr) {
        const std::size_t n = std::min(len - 1, text.size());
        std::memcpy(buf, text.data(), n);
        buf[n] = '\0';
    }
    return static_cast<int>(text.size());
}

MEMTRACK_API const char* memtrack_version(void)
{
    return MEMTRACK_VERSION_STRING;
}

}  // extern "C"
