// Stack capture (see unwind.hpp): the depth, the own-frame skip and libunwind's set-up.
#include "stack/unwind.hpp"

#include "platform/module_of.hpp"
#include "stack/modules.hpp"

#include <cstddef>
#include <cstring>
#include <dlfcn.h>

namespace memtrack::detail {

namespace {

constinit int g_depth = 0;

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
        // UNW_CACHE_PER_THREAD is asked for, but Debian's libunwind 1.6.2 (libunwind8 1.6.2-3)
        // was built without HAVE___THREAD: its unw_set_caching_policy then silently takes
        // UNW_CACHE_GLOBAL (src/mi/Gset_caching_policy.c), and its TLS segment is 16 bytes, the
        // fast-trace cache pointer and a flag (readelf -lW libunwind.so.8). So every unw_step,
        // which runs on each fast-trace cache miss and in libunwind's slow_backtrace, takes the
        // one global lock of the DWARF register-state cache, between two sigprocmask calls
        // (lock_acquire in include/libunwind_i.h). Each new thread misses on every pc it meets
        // once, since the fast-trace cache is per thread. The compact-rule unwinder
        // (fast_unwind.cpp) calls libunwind only for stacks it cannot step; issue 13 counts the
        // cost in docs/benchmarks-notes.md.
        unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
        // Issue 14: libunwind creates a pthread key on its first backtrace. Left to the first
        // allocation hook, that key can come after 32 keys of the program's, and glibc then
        // allocates the thread's second-level TSD array inside the guard: untracked, never
        // scanned, so the values the program keeps under its keys above 32 looked leaked.
        // Created here, at start-up, it is one of the first keys.
        void* raw[2];
        unw_backtrace(raw, 2);
        s_ready = true;
    }
    g_depth = depth > 0 && s_ready ? (depth > kMaxDepth ? kMaxDepth : depth) : 0;
    if (g_depth > 0) unwind_setup(g_depth);
    g_unwind_frames = g_depth > 0 ? g_depth + kOwnFrames : 0;
}

std::uintptr_t stack_pointer_at_call_of(const char* function) noexcept
{
    unw_context_t context;
    unw_cursor_t cursor;
    if (unw_getcontext(&context) != 0 || unw_init_local(&cursor, &context) != 0) return 0;
    bool inside = false;  // the frame just stepped from is in `function`
    for (int frame = 0; frame < 256; ++frame) {
        if (frame > 0) {
            unw_word_t sp = 0;
            if (unw_get_reg(&cursor, UNW_REG_SP, &sp) != 0) return 0;
            if (inside) return sp;  // the caller's frame starts where the call pushed from
        }
        unw_word_t ip = 0;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0) return 0;
        // A return address may be just past a noreturn call at the end of the function.
        Dl_info info{};
        const auto at = reinterpret_cast<void*>(frame > 0 ? ip - 1 : ip);
        inside = dladdr(at, &info) != 0 && info.dli_sname != nullptr &&
                 std::strcmp(info.dli_sname, function) == 0;
        if (unw_step(&cursor) <= 0) return 0;
    }
    return 0;
}

int stack_depth() noexcept
{
    return g_depth;
}

}  // namespace memtrack::detail
