// The stack of a thread interrupted by a signal, for the report written in the handler (issue
// 11): raw program counters with their module and offset, symbolized later by `memtrack
// report`. Async-signal-safe: no allocation, no lock, no libdw or libunwind; stack words are
// read through process_vm_readv on this process, which fails instead of faulting.
#pragma once

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

struct CrashFrame {
    std::uintptr_t pc = 0;      // the interrupted pc (frame 0), else a return address
    std::uintptr_t offset = 0;  // pc minus the module's load bias: the ELF address in it
    const char* module = "";    // the loaded module's path ("" for the main program; the
                                // loader's own string, valid while the module stays loaded)
    bool in_module = false;     // false: no loaded module holds the pc
};

// Unwinds from the registers of `ucontext` (a signal handler's third argument, x86-64 glibc)
// into out[0..max): frame 0 is the interrupted pc. Steps frames with the compact .eh_frame
// rules (stack/cfi.hpp; glibc's _dl_find_object is lock-free and async-signal-safe), falls back
// to the frame-pointer chain where a rule is unknown, and stops at the outermost frame, at an
// unreadable word, at a stack pointer that does not move up, or at max. Returns the number of
// frames; 0 for a null ucontext. Any thread, in a signal handler.
std::size_t crash_stack(const void* ucontext, CrashFrame* out, std::size_t max) noexcept;

}  // namespace memtrack::detail
