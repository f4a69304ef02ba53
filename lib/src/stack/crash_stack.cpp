// The stack of a signal's interrupted thread (see crash_stack.hpp). Async-signal-safe.
//
// Why not the capture path's unwinder (fast_unwind.cpp): its memo and rule cache are per
// thread and may be mid-update on the interrupted thread, and its fallback is libunwind,
// whose unw_init_local/unw_step may take locks and allocate on first use (dl_iterate_phdr's
// loader lock, the per-thread cache) -- not safe in a handler. Here only the stateless parts
// are used: rule_for (reads the module's .eh_frame; _dl_find_object, which glibc documents as
// async-signal-safe and lock-free), and a stack that may be corrupt (the usual case after a
// crash) is read through process_vm_readv, which returns an error for an unmapped or
// protected word instead of faulting inside the handler.
#include "stack/crash_stack.hpp"

#include "stack/cfi.hpp"

#include <dlfcn.h>
#include <link.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace memtrack::detail {

namespace {

// The word at addr, or false when it cannot be read (process_vm_readv on ourselves; also
// false where the call itself is refused, e.g. by a seccomp filter).
bool read_word(std::uintptr_t addr, std::uintptr_t& out) noexcept
{
    if (addr < 4096 || (addr & 7) != 0) return false;
    std::uintptr_t v = 0;
    iovec local{&v, sizeof v};
    iovec remote{reinterpret_cast<void*>(addr), sizeof v};
    const long n = syscall(SYS_process_vm_readv, static_cast<long>(getpid()), &local, 1UL,
                           &remote, 1UL, 0UL);
    if (n != static_cast<long>(sizeof v)) return false;
    out = v;
    return true;
}

void describe(CrashFrame& f) noexcept
{
    dl_find_object found;
    if (_dl_find_object(reinterpret_cast<void*>(f.pc), &found) != 0) return;
    f.in_module = true;
    const link_map* map = found.dlfo_link_map;
    if (map == nullptr) return;
    f.offset = f.pc - map->l_addr;
    if (map->l_name != nullptr) f.module = map->l_name;
}

}  // namespace

std::size_t crash_stack(const void* ucontext, CrashFrame* out, std::size_t max) noexcept
{
    if (ucontext == nullptr || max == 0) return 0;
    const auto uc = reinterpret_cast<std::uintptr_t>(ucontext);
    // The handler's own ucontext is on this (readable) stack.
    std::uintptr_t rip = *reinterpret_cast<const std::uintptr_t*>(uc + kUcRip);
    std::uintptr_t rsp = *reinterpret_cast<const std::uintptr_t*>(uc + kUcRsp);
    std::uintptr_t rbp = *reinterpret_cast<const std::uintptr_t*>(uc + kUcRbp);
    std::size_t n = 0;
    std::uintptr_t prev = 0;  // 1 once rip is a return address (its call is the instruction before)
    while (n < max) {
        CrashFrame& f = out[n++];
        f = CrashFrame{};
        f.pc = rip;
        describe(f);
        std::uintptr_t next = 0;
        const std::uintptr_t old_rsp = rsp;
        const FrameRule rule = f.in_module ? rule_for(rip - prev) : FrameRule{};
        if (n == 1 && !f.in_module) {
            // A call through a bad pointer (rip 0, or into no module): the return address the
            // call pushed is still at the stack pointer.
            if (!read_word(rsp, next)) break;
            rsp += 8;
        } else if (rule.kind == FrameRule::Standard) {
            const std::uintptr_t cfa = (rule.cfa_rbp ? rbp : rsp) + rule.cfa_off;
            if (!read_word(cfa - 8, next)) break;
            if (rule.rbp_saved && !read_word(cfa + rule.rbp_off, rbp)) break;
            rsp = cfa;
        } else if (rule.kind == FrameRule::Signal) {
            // The program's own handler frame (__restore_rt): the interrupted registers.
            if (!read_word(rsp + kUcRip, next) || !read_word(rsp + kUcRbp, rbp) ||
                !read_word(rsp + kUcRsp, rsp))
                break;
            if (next < 0x4000) break;
            rip = next;
            prev = 0;
            continue;
        } else if (rule.kind == FrameRule::Last) {
            break;
        } else {
            // No usable rule: the frame-pointer chain, if rbp looks like a frame above rsp.
            if (rbp <= rsp || rbp - rsp > (std::uintptr_t{1} << 24)) break;
            std::uintptr_t saved = 0;
            if (!read_word(rbp + 8, next) || !read_word(rbp, saved)) break;
            rsp = rbp + 16;
            rbp = saved;
        }
        if (next < 0x4000 || rsp <= old_rsp) break;
        rip = next;
        prev = 1;
    }
    return n;
}

}  // namespace memtrack::detail
