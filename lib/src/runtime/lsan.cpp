// LeakSanitizer's interface as thin wrappers of memtrack's API (see lsan.hpp). Semantics follow
// compiler-rt's lsan_common.cpp: a disable/enable mismatch and an unknown root region are
// reported on stderr (LSan aborts the program; memtrack never does) and change nothing.
#include "runtime/lsan.hpp"

#include <memtrack/memtrack.h>

#include "config/config.hpp"
#include "core/counters.hpp"
#include "leaks/collector.hpp"
#include "platform/log.hpp"
#include "platform/program_symbol.hpp"
#include "report/report.hpp"
#include "runtime/lifecycle.hpp"

#include <atomic>
#include <cstddef>

namespace memtrack::detail {

namespace {

using TurnedOff = int (*)();
constinit TurnedOff g_turned_off = nullptr;
constinit std::atomic<bool> g_final_check_done{false};

}  // namespace

void lsan_start() noexcept
{
    Guard guard;  // dlsym may allocate
    g_turned_off = reinterpret_cast<TurnedOff>(program_symbol("__lsan_is_turned_off"));
    using Options = const char* (*)();
    if (auto fn = reinterpret_cast<Options>(program_symbol("__lsan_default_options"));
        fn != nullptr) {
        if (const char* text = fn(); text != nullptr) apply_lsan_default_options(text);
    }
}

bool lsan_turned_off() noexcept
{
    return g_turned_off != nullptr && g_turned_off() != 0;
}

bool lsan_final_check_done() noexcept
{
    return g_final_check_done.load();
}

int check_leaks_from(unsigned flags, memtrack_leak_totals* out, std::uintptr_t program_sp) noexcept
{
    if (out != nullptr && out->size < offsetof(memtrack_leak_totals, direct_bytes)) return -1;
    if (phase() != Phase::Active) return -1;
    LeakTotals totals;
    LeakCheckRequest request;
    request.new_only = (flags & MEMTRACK_LEAKS_NEW) != 0;
    request.write = (flags & MEMTRACK_LEAKS_REPORT) != 0;
    request.final = (flags & MEMTRACK_LEAKS_FINAL) != 0;
    request.totals = &totals;
    if (!check_leaks(request, program_sp)) return -1;
    if (out != nullptr) {
        memtrack_leak_totals full = memtrack_leak_totals_init();
        full.size = out->size;
        full.version = MEMTRACK_LEAK_TOTALS_VERSION;
        full.direct_bytes = totals.direct_bytes;
        full.direct_blocks = totals.direct_blocks;
        full.indirect_bytes = totals.indirect_bytes;
        full.indirect_blocks = totals.indirect_blocks;
        full.possible_bytes = totals.possible_bytes;
        full.possible_blocks = totals.possible_blocks;
        full.suppressed_bytes = totals.suppressed_bytes;
        full.suppressed_blocks = totals.suppressed_blocks;
        full.ignored_bytes = totals.ignored_bytes;
        full.ignored_blocks = totals.ignored_blocks;
        __builtin_memcpy(out, &full, out->size < sizeof full ? out->size : sizeof full);
    }
    return 0;
}

void lsan_ignore_object(const void* p) noexcept
{
    memtrack_ignore(p);
}

void lsan_disable() noexcept
{
    memtrack_disable_begin();
}

void lsan_enable() noexcept
{
    if (memtrack_disable_end() != 0) {
        Guard guard;
        log("__lsan_enable() without a matching __lsan_disable() in this thread; ignored");
    }
}

void lsan_register_root_region(const void* p, std::size_t size) noexcept
{
    memtrack_add_root_region(p, size);
}

void lsan_unregister_root_region(const void* p, std::size_t size) noexcept
{
    if (memtrack_remove_root_region(p, size) != 0) {
        Guard guard;
        log("__lsan_unregister_root_region(): region at {} of size {} has not been registered; "
            "ignored",
            p, size);
    }
}

void lsan_do_leak_check() noexcept
{
    MEMTRACK_PROGRAM_SP(program_sp);
    if (!config().detect_leaks || g_final_check_done.exchange(true)) return;
    if (lsan_turned_off()) return;
    check_leaks_from(MEMTRACK_LEAKS_REPORT | MEMTRACK_LEAKS_FINAL, nullptr, program_sp);
}

int lsan_do_recoverable_leak_check() noexcept
{
    MEMTRACK_PROGRAM_SP(program_sp);
    if (!config().detect_leaks || lsan_turned_off()) return 0;
    memtrack_leak_totals t = memtrack_leak_totals_init();
    if (check_leaks_from(MEMTRACK_LEAKS_REPORT, &t, program_sp) != 0) return 0;
    return t.direct_blocks + t.indirect_blocks > 0 ? 1 : 0;
}

}  // namespace memtrack::detail
