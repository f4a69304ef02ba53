// Stack capture (see unwind.hpp): the depth, the own-frame skip and libunwind's set-up.
#include "stack/unwind.hpp"

#include "platform/module_of.hpp"
#include "stack/modules.hpp"

#include <cstddef>

namespace memtrack::detail {

namespace {

constinit int g_depth = 0;
// memtrack's own code: leading frames in [g_self_lo, g_self_hi) are dropped from stacks.
constinit std::uintptr_t g_self_lo = 0;
constinit std::uintptr_t g_self_hi = 0;

// Text range of the module holding this code, if it is a shared object (libmemtrack.so). In
// a program that links the core statically (the unit tests) nothing is dropped.
void find_self_range() noexcept
{
    with_module_of(reinterpret_cast<std::uintptr_t>(&find_self_range), [](const dl_phdr_info& i) {
        if (i.dlpi_name == nullptr || i.dlpi_name[0] == '\0') return;  // the program itself
        std::uintptr_t lo = 0, hi = 0;
        for (int k = 0; k < i.dlpi_phnum; ++k) {
            const auto& ph = i.dlpi_phdr[k];
            if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
            const std::uintptr_t seg_lo = i.dlpi_addr + ph.p_vaddr;
            if (lo == 0 || seg_lo < lo) lo = seg_lo;
            if (seg_lo + ph.p_memsz > hi) hi = seg_lo + ph.p_memsz;
        }
        g_self_lo = lo;
        g_self_hi = hi;
    });
}

}  // namespace

void set_stack_depth(int depth) noexcept
{
    static constinit bool s_ready = false;  // depot reserved and self range known
    if (depth > 0 && !s_ready) {
        if (!depot_reserve()) return;  // stacks stay off
        find_self_range();
        // Asks libunwind for per-thread caches, so that unwinding shares no lock among
        // threads. Whether Debian's build honours it is examined in issue 13.
        unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
        s_ready = true;
    }
    g_depth = depth > 0 && s_ready ? (depth > kMaxDepth ? kMaxDepth : depth) : 0;
    g_unwind_frames = g_depth > 0 ? g_depth + kOwnFrames : 0;
}

int stack_depth() noexcept
{
    return g_depth;
}

std::uint32_t intern_captured(void* const* raw, int got) noexcept
{
    const int depth = g_depth;
    int skip = 0;
    while (skip < got && reinterpret_cast<std::uintptr_t>(raw[skip]) >= g_self_lo &&
           reinterpret_cast<std::uintptr_t>(raw[skip]) < g_self_hi)
        ++skip;
    int n = got - skip;
    if (n > depth) n = depth;
    if (n <= 0) return 0;
    std::uintptr_t pcs[kMaxDepth + kOwnFrames];
    for (int i = 0; i < n; ++i)
        pcs[i] = reinterpret_cast<std::uintptr_t>(raw[skip + i]);
    return intern_stack(pcs, n, modules_epoch());
}

}  // namespace memtrack::detail
