// dlclose interposition (the exported symbol is in preload/): records the modules a dlclose
// unloads, so that stacks captured in them are still symbolized at report time. Cold path.
#include "runtime/dlclose.hpp"

#include "core/counters.hpp"
#include "stack/modules.hpp"

#include <atomic>
#include <dlfcn.h>

namespace memtrack::detail {

int dlclose_tracked(void* handle) noexcept
{
    using Fn = int (*)(void*);
    static constinit std::atomic<Fn> real{nullptr};
    Fn fn = real.load(std::memory_order_acquire);
    if (fn == nullptr) {
        Guard guard;  // dlsym may allocate
        fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "dlclose"));
        if (fn == nullptr) return -1;
        real.store(fn, std::memory_order_release);
    }
    {
        Guard guard;
        modules_before_dlclose();
    }
    const int result = fn(handle);
    {
        Guard guard;
        modules_after_dlclose();
    }
    return result;
}

}  // namespace memtrack::detail
