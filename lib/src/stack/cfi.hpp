// Compact unwind rules from a module's .eh_frame (x86-64): the CFA program of the FDE holding a
// pc, run up to it and translated into the few frame shapes the fast unwinder steps through.
// Runs on a rule-cache miss of the capture path (stack/fast_unwind.cpp): no lock (the module is
// found with glibc's lock-free _dl_find_object), no allocation, no syscall; reads only the
// loaded module's own unwind tables.
//
// The shapes are libunwind 1.6.2's fast-trace classes (src/x86_64/Gstash_frame.c, Gtrace.c), so
// that a stack stepped with them is the one unw_backtrace gives: Standard (CFA = rsp or rbp +
// offset, return address at CFA-8, rbp unchanged or saved at CFA+offset), Signal (an FDE whose
// CIE has the 'S' augmentation: glibc's __restore_rt, the registers in the ucontext at the
// stack pointer), Last (the return address or rbp is undefined: the outermost frame, as _start
// and clone3 mark it). Anything else (CFA expressions such as realigned stacks and PLT stubs, a
// return address saved elsewhere, no FDE) is Unknown: the caller unwinds that stack with
// libunwind instead.
#pragma once

#include <cstdint>

namespace memtrack::detail {

struct FrameRule {
    enum Kind : std::uint8_t { Unknown = 0, Standard, Signal, Last };
    Kind kind = Unknown;
    bool cfa_rbp = false;  // Standard: the CFA is rbp + cfa_off (else rsp + cfa_off)
    bool rbp_saved = false;  // Standard: the caller's rbp is the word at CFA + rbp_off
    bool cacheable = false;  // false when no loaded module holds the pc (may change later)
    std::int32_t cfa_off = 0;
    std::int32_t rbp_off = 0;
};

// The rule for the instruction at `pc` (a return address minus one, or an interrupted pc).
FrameRule rule_for(std::uintptr_t pc) noexcept;

// ucontext_t offsets of the interrupted rip, rsp and rbp (glibc x86-64, uc_mcontext.gregs).
inline constexpr std::uintptr_t kUcRbp = 0x78;
inline constexpr std::uintptr_t kUcRsp = 0xa0;
inline constexpr std::uintptr_t kUcRip = 0xa8;

}  // namespace memtrack::detail
