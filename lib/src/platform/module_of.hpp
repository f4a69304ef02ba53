// The loaded module that holds an address (dl_iterate_phdr; takes the loader's lock, so never
// while other threads are paused). Cold path; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <link.h>
#include <type_traits>

namespace memtrack::detail {

// Calls fn(const dl_phdr_info&) for the module one of whose executable PT_LOAD segments
// holds `addr`; false if no module does.
template <class Fn> bool with_module_of(std::uintptr_t addr, Fn&& fn) noexcept
{
    struct Search {
        std::uintptr_t addr;
        std::remove_reference_t<Fn>* fn;
        bool found;
    } search{addr, &fn, false};
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* arg) -> int {
            auto* s = static_cast<Search*>(arg);
            for (int k = 0; k < info->dlpi_phnum; ++k) {
                const auto& ph = info->dlpi_phdr[k];
                const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
                if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && s->addr >= lo &&
                    s->addr < lo + ph.p_memsz) {
                    (*s->fn)(*info);
                    s->found = true;
                    return 1;
                }
            }
            return 0;
        },
        &search);
    return search.found;
}

}  // namespace memtrack::detail
