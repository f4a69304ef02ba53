// LeakSanitizer's interface (GCC's and LLVM's sanitizer/lsan_interface.h) over memtrack's C API:
// preload/exports.def exports each __lsan_* function as a one-line forwarder to these, and the
// program's own hooks (__lsan_is_turned_off, __lsan_default_options,
// __lsan_default_suppressions) are looked up here and in leaks/suppressions.cpp. Cold path; the
// checks allocate inside the guard; any thread.
#pragma once

#include <cstddef>
#include <cstdint>

struct memtrack_leak_totals;

namespace memtrack::detail {

void lsan_ignore_object(const void* p) noexcept;
void lsan_disable() noexcept;
void lsan_enable() noexcept;
void lsan_register_root_region(const void* p, std::size_t size) noexcept;
void lsan_unregister_root_region(const void* p, std::size_t size) noexcept;
// A check now, reported; later calls and the exit check do nothing (LSan's rule).
void lsan_do_leak_check() noexcept;
// A check now, reported; 1 when it found unsuppressed direct or indirect leaks, else 0.
int lsan_do_recoverable_leak_check() noexcept;

// Start-up (lifecycle.cpp, after load_config): reads the program's __lsan_default_options()
// and remembers its __lsan_is_turned_off.
void lsan_start() noexcept;
// Whether the program's own __lsan_is_turned_off() says no leak check now (at exit too).
bool lsan_turned_off() noexcept;
// Whether __lsan_do_leak_check was called: then the exit report scans no more.
bool lsan_final_check_done() noexcept;

// memtrack_check_leaks with the program's stack end taken by the public entry point.
int check_leaks_from(unsigned flags, memtrack_leak_totals* out, std::uintptr_t program_sp) noexcept;

}  // namespace memtrack::detail
