// The table of root regions (see root_regions.hpp).
#include "leaks/root_regions.hpp"

#include "platform/log.hpp"

#include <pthread.h>

namespace memtrack::detail {

namespace {

constinit pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
constinit RootRegion g_regions[kMaxRootRegions]{};
constinit std::size_t g_count = 0;

}  // namespace

bool add_root_region(const void* p, std::size_t size) noexcept
{
    if (size == 0) return false;
    pthread_mutex_lock(&g_lock);
    const bool room = g_count < kMaxRootRegions;
    if (room) g_regions[g_count++] = {reinterpret_cast<std::uintptr_t>(p), size};
    pthread_mutex_unlock(&g_lock);
    if (!room) {
        static bool said = false;
        if (!said)
            log("more than {} root regions registered; the rest are not roots", kMaxRootRegions);
        said = true;
    }
    return room;
}

bool remove_root_region(const void* p, std::size_t size) noexcept
{
    const auto start = reinterpret_cast<std::uintptr_t>(p);
    pthread_mutex_lock(&g_lock);
    bool found = false;
    for (std::size_t i = g_count; i-- > 0;) {
        if (g_regions[i].start == start && g_regions[i].size == size) {
            g_regions[i] = g_regions[--g_count];
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return found;
}

void root_regions_prepare_fork() noexcept
{
    pthread_mutex_lock(&g_lock);
}

void root_regions_after_fork() noexcept
{
    pthread_mutex_unlock(&g_lock);
}

std::size_t copy_root_regions(RootRegion* out, std::size_t max) noexcept
{
    pthread_mutex_lock(&g_lock);
    const std::size_t n = g_count < max ? g_count : max;
    for (std::size_t i = 0; i < n; ++i)
        out[i] = g_regions[i];
    pthread_mutex_unlock(&g_lock);
    return n;
}

}  // namespace memtrack::detail
