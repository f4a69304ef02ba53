// Internal invariants (STYLE.md, "Errors and messages"). MEMTRACK_CHECK stays on in every build,
// for state whose corruption would harm the host if memtrack went on using it: a failed check
// prints one line (the first failure only) and sets g_check_failed, after which the subsystems
// that read such state (the leak scan, the leak report) stop instead of crashing. The
// allocation path keeps working, so every block still reaches its free. MEMTRACK_ASSERT is for
// debug builds (no NDEBUG, or MEMTRACK_DEBUG_CHECKS=ON) and compiles to nothing otherwise.
// Neither allocates; a check costs one compare-and-branch.
#pragma once

#include <atomic>

namespace memtrack::detail {

// True once some MEMTRACK_CHECK failed in this process (set by any thread, read by any).
inline constinit std::atomic<bool> g_check_failed{false};

// Reports the failure (one stderr line, once) and sets g_check_failed. Cold; no allocation.
[[gnu::noinline, gnu::cold]] void check_failed(const char* file, int line,
                                               const char* condition) noexcept;

}  // namespace memtrack::detail

#define MEMTRACK_CHECK(condition)                                                                  \
    (__builtin_expect(!!(condition), 1)                                                            \
         ? true                                                                                    \
         : (::memtrack::detail::check_failed(__FILE__, __LINE__, #condition), false))

#if defined(MEMTRACK_DEBUG_CHECKS) || !defined(NDEBUG)
#define MEMTRACK_ASSERT(condition) static_cast<void>(MEMTRACK_CHECK(condition))
#else
#define MEMTRACK_ASSERT(condition) static_cast<void>(0)
#endif
