// The capture path of stacks (see unwind.hpp): a per-thread memo in front of a compact-rule
// unwinder, libunwind for the frames the rules cannot express. Runs on every tracked allocation
// when stacks are on, under the caller's reentrancy Guard: no lock, no malloc (the per-thread
// tables come from mmap, once per thread), no syscall after a thread's first capture.
//
// Data model. An unwind is a pure function of the starting registers (rip, rsp, rbp), the rules
// of the pcs it meets (fixed while the module epoch stays: code changes only by dlclose, which
// moves the epoch) and the stack words it reads: return-address slots, saved rbp slots, the
// rip/rsp/rbp words of a signal frame's ucontext. memtrack's own frames are stepped each time
// up to the first program frame (through the chain of their entry point, see OwnChain: no rule
// lookup), whose (return address, stack pointer) and the epoch key the thread's memo. An entry holds the stack's depot
// id and every word the unwind read from there on, as (offset from that stack pointer, value),
// plus the starting rbp when some frame's CFA was computed from it before any saved rbp was
// read. A hit re-reads those words and returns the id: same inputs, same unwind, so the memo is
// exact (and the depot's hash is skipped too). It writes nothing to the stack. Only stacks whose
// words all lie in [that stack pointer, the top of the thread's stack) are memoized, so a check
// never reads outside the current thread's stack; stacks through a sigaltstack handler or a
// fiber are unwound every time. The tables are per thread; the capture runs under the Guard, so
// a signal handler that allocates mid-update is not tracked and never reaches them, and a busy
// flag sends any other reentry to libunwind.
#include "stack/cfi.hpp"
#include "stack/depot.hpp"
#include "stack/modules.hpp"
#include "stack/unwind.hpp"

#include "platform/maps.hpp"
#include "platform/own_memory.hpp"

#include <atomic>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

extern "C" void* __libc_stack_end;  // glibc: the initial thread's stack at start-up

namespace memtrack::detail {

namespace {

// The rule cache: direct-mapped on the pc, tagged with the module epoch (framehop's RuleCache
// shape). 2048 slots of 24 bytes: 48 KiB per thread, pages touched on use.
constexpr std::size_t kRuleSlots = 2048;
struct RuleSlot {
    std::uintptr_t pc = 0;
    std::uint32_t epoch = 0;
    FrameRule rule;
};

// The memo: direct-mapped on (return address, stack pointer) of the first program frame.
constexpr std::size_t kMemoSlots = 128;
struct MemoHead {
    std::uintptr_t ra;
    std::uintptr_t sp;
    std::uintptr_t rbp;  // the first program frame's rbp, compared when uses_rbp
    std::uint32_t epoch;
    std::uint32_t id;  // 0 = empty (written last)
    std::uint16_t words;
    std::uint8_t uses_rbp;
    // followed by std::uint32_t offs[cap], std::uint64_t vals[cap]
};

// memtrack's own frames between capture_stack_slow and the program, as last stepped from one
// entry point: each frame's CFA offset from rsp, where it saved rbp, and the return address it
// leads to. Their pcs are memtrack's own code, whose rules never change, so re-reading the
// return-address slots (the same words a rule walk would read) and finding the same return
// addresses gives the program frame's registers without a rule lookup: a handful of
// instructions per own frame. Keyed by the first return address (the allocation function).
constexpr int kChainFrames = 8;
constexpr int kChains = 4;
constexpr std::int32_t kNoRbp = INT32_MIN;
struct OwnChain {
    std::uintptr_t ra[kChainFrames];  // return address read when stepping frame i (ra[0] = key)
    std::int32_t cfa_off[kChainFrames];
    std::int32_t rbp_off[kChainFrames];  // kNoRbp: the frame keeps rbp
    int frames = 0;  // 0 = empty; the last frame's return address is the program's
};

struct ThreadUnwind {
    OwnChain chains[kChains];
    int next_chain;
    RuleSlot rules[kRuleSlots];
    std::uintptr_t stack_lo;
    std::uintptr_t stack_hi;
    std::size_t bytes;  // of this mapping
    bool busy;
    // followed by the memo entries
};

constinit int g_memo_cap = 0;         // words per memo entry (set with the depth)
constinit std::size_t g_memo_stride = 0;  // bytes per memo entry
constinit std::atomic<std::uint64_t> g_check_stacks{0};
constinit std::atomic<std::uint64_t> g_check_differences{0};
constinit bool g_check = false;

enum class TState : std::uint8_t { None, Ready, Failed };
[[gnu::tls_model("initial-exec")]] constinit thread_local ThreadUnwind* t_unwind = nullptr;
[[gnu::tls_model("initial-exec")]] constinit thread_local TState t_state_unwind = TState::None;

constinit pthread_key_t g_unwind_key = 0;
constinit bool g_key_ok = false;

void free_thread_unwind(void* p) noexcept
{
    auto* tu = static_cast<ThreadUnwind*>(p);
    if (tu == t_unwind) {
        t_unwind = nullptr;
        t_state_unwind = TState::None;
    }
    own_unmap(tu, tu->bytes);
}

// The calling thread's stack [lo, hi), or an empty range. Without allocating: glibc's
// pthread_getattr_np reads /proc/self/maps with stdio for the main thread (and its freed buffers
// would be reused by the program's first blocks), so the main thread's stack is the mapping
// holding __libc_stack_end, from raw reads of /proc/self/maps, down to the stack rlimit.
void thread_stack(std::uintptr_t& lo, std::uintptr_t& hi) noexcept
{
    lo = hi = 0;
    if (getpid() == static_cast<pid_t>(syscall(SYS_gettid))) {
        const auto end = reinterpret_cast<std::uintptr_t>(__libc_stack_end);
        ScratchVector<Mapping> maps;
        if (!read_maps(maps)) return;
        for (const Mapping& m : maps) {
            if (end < m.start || end >= m.end) continue;
            rlimit rl{};
            std::uintptr_t size = 8u << 20;
            if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
                size = rl.rlim_cur;
            hi = m.end;
            lo = size < hi && hi - size < m.start ? hi - size : m.start;  // it grows down to there
            return;
        }
        return;
    }
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
    void* addr = nullptr;
    std::size_t size = 0;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        lo = reinterpret_cast<std::uintptr_t>(addr);
        hi = lo + size;
    }
    pthread_attr_destroy(&attr);
}

ThreadUnwind* make_thread_unwind() noexcept
{
    t_state_unwind = TState::Failed;
    const std::size_t head = (sizeof(ThreadUnwind) + 63) & ~std::size_t{63};
    const std::size_t bytes = head + kMemoSlots * g_memo_stride;
    auto* tu = static_cast<ThreadUnwind*>(own_map(bytes));
    if (tu == nullptr) return nullptr;
    tu->bytes = bytes;
    // The thread's stack: the memo keeps only stacks inside it.
    thread_stack(tu->stack_lo, tu->stack_hi);
    if (g_key_ok) pthread_setspecific(g_unwind_key, tu);
    t_unwind = tu;
    t_state_unwind = TState::Ready;
    return tu;
}

MemoHead* memo_entry(ThreadUnwind* tu, std::uintptr_t ra, std::uintptr_t sp) noexcept
{
    const std::size_t head = (sizeof(ThreadUnwind) + 63) & ~std::size_t{63};
    const std::uint64_t h = (ra ^ (sp * 0x9E3779B97F4A7C15ull)) * 0xff51afd7ed558ccdull;
    const std::size_t slot = static_cast<std::size_t>(h >> 57) & (kMemoSlots - 1);
    return reinterpret_cast<MemoHead*>(reinterpret_cast<char*>(tu) + head + slot * g_memo_stride);
}

std::uint32_t* memo_offs(MemoHead* e) noexcept
{
    return reinterpret_cast<std::uint32_t*>(e + 1);
}

std::uint64_t* memo_vals(MemoHead* e) noexcept
{
    return reinterpret_cast<std::uint64_t*>(reinterpret_cast<char*>(e + 1) +
                                            ((sizeof(std::uint32_t) * g_memo_cap + 7) & ~7u));
}

const FrameRule& cached_rule(ThreadUnwind* tu, std::uintptr_t pc, std::uint32_t epoch) noexcept
{
    RuleSlot& s = tu->rules[(pc ^ (pc >> 11)) & (kRuleSlots - 1)];
    if (s.pc == pc && s.epoch == epoch) [[likely]]
        return s.rule;
    const FrameRule rule = rule_for(pc);
    if (!rule.cacheable) {
        s.pc = 0;
        s.rule = rule;  // valid for this use only
        return s.rule;
    }
    s.pc = pc;
    s.epoch = epoch;
    s.rule = rule;
    return s.rule;
}

inline std::uint64_t load_word(std::uintptr_t addr) noexcept
{
    std::uint64_t v;
    __builtin_memcpy(&v, reinterpret_cast<const void*>(addr), sizeof v);
    return v;
}

// The words the unwind read after the first program frame, for the memo.
struct Recorder {
    std::uint32_t* offs = nullptr;
    std::uint64_t* vals = nullptr;
    std::uintptr_t sp = 0;
    std::uintptr_t hi = 0;
    int n = 0;
    int cap = 0;
    bool on = false;  // recording (after the first program frame)
    bool ok = false;  // still memoizable

    std::uint64_t read(std::uintptr_t addr) noexcept
    {
        const std::uint64_t v = load_word(addr);
        if (on) {
            if (addr >= sp && addr + 8 <= hi && n < cap) {
                offs[n] = static_cast<std::uint32_t>(addr - sp);
                vals[n] = v;
                ++n;
            } else {
                ok = false;
            }
        }
        return v;
    }
};

bool in_self(std::uintptr_t pc) noexcept
{
    return pc >= g_self_lo && pc < g_self_hi;
}

// libunwind's answer for the same stack, memtrack's own frames dropped (the fallback, and the
// reference of MEMTRACK_UNWIND_CHECK). Called from capture_stack_slow, so the frames above it
// are the same as the rule unwinder's.
// `inner` is the number of frames from this one to capture_stack_slow, both included (2 when
// called from capture_stack_slow, 3 from capture_miss): the rule unwinder starts inside
// capture_stack_slow, so its first frame is raw[inner].
[[gnu::noinline]] void libunwind_stack(std::uintptr_t* pcs, int* n_out, int own, int inner) noexcept
{
    void* raw[kMaxDepth + 24];
    int want = stack_depth() + own + inner + 1;
    if (want > kMaxDepth + 24) want = kMaxDepth + 24;
    const int got = unw_backtrace(raw, want);
    int skip = got < inner ? got : inner;
    while (skip < got && in_self(reinterpret_cast<std::uintptr_t>(raw[skip])))
        ++skip;
    int n = got - skip;
    if (n > stack_depth()) n = stack_depth();
    if (n < 0) n = 0;
    for (int i = 0; i < n; ++i)
        pcs[i] = reinterpret_cast<std::uintptr_t>(raw[skip + i]);
    *n_out = n;
}

// Inlined into capture_stack_slow, so that libunwind_stack sees the same frames as a fallback.
[[gnu::always_inline]] inline void check_against_libunwind(std::uint32_t id, int own,
                                                           int inner) noexcept
{
    std::uintptr_t ref[kMaxDepth];
    int n = 0;
    libunwind_stack(ref, &n, own, inner);
    const StackView v = stack_of(id);
    bool same = v.depth == n;
    for (int i = 0; same && i < n; ++i)
        same = v.pcs[i] == ref[i];
    g_check_stacks.fetch_add(1, std::memory_order_relaxed);
    if (!same) g_check_differences.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

void unwind_setup(int depth) noexcept
{
    g_memo_cap = 2 * depth + 8;
    g_memo_stride = (sizeof(MemoHead) + ((sizeof(std::uint32_t) * g_memo_cap + 7) & ~7u) +
                     sizeof(std::uint64_t) * g_memo_cap + 63) &
                    ~std::size_t{63};
    static constinit bool s_key = false;
    if (!s_key) {
        s_key = true;
        g_key_ok = pthread_key_create(&g_unwind_key, free_thread_unwind) == 0;
    }
}

void set_unwind_check(bool on) noexcept
{
    g_check = on;
}

UnwindCheck unwind_check() noexcept
{
    return {g_check, g_check_stacks.load(std::memory_order_relaxed),
            g_check_differences.load(std::memory_order_relaxed)};
}

namespace {

struct Regs {
    std::uintptr_t rip, rsp, rbp;
};

// A capture the memo could not answer. From capture_stack_slow's own registers (`prefix`: the
// own frames are stepped by rules and their chain is learnt), or from the program
// frame's (`e` is its memo entry, to fill). Unwinds with the rule cache, recording the words
// read after the program frame; libunwind for a stack the rules cannot step.
[[gnu::noinline]] std::uint32_t capture_miss(ThreadUnwind* tu, Regs r, bool prefix,
                                             MemoHead* e, int own, std::uint32_t epoch) noexcept
{
    const int depth = stack_depth();
    std::uintptr_t pcs[kMaxDepth];
    int n = 0;
    std::uintptr_t prev = prefix ? 0 : 1;  // 1 after a call: rules at the return address - 1
    std::uintptr_t rip = r.rip, rsp = r.rsp, rbp = r.rbp;
    Recorder rec;
    OwnChain chain;
    bool chain_ok = prefix;
    bool rbp_initial = true;  // rbp is still the first program frame's
    bool uses_rbp = false;
    std::uint32_t id = 0;
    // The first program frame reached: its memo entry is rewritten from here on.
    const auto start_program = [&] {
        e->id = 0;  // being rewritten
        e->ra = rip;
        e->sp = rsp;
        e->rbp = rbp;
        rec.offs = memo_offs(e);
        rec.vals = memo_vals(e);
        rec.sp = rsp;
        rec.hi = tu->stack_hi;
        rec.cap = g_memo_cap;
        rec.on = true;
        rec.ok = rsp >= tu->stack_lo && rsp < tu->stack_hi;
        rbp_initial = true;
    };
    if (!prefix) {
        start_program();
        pcs[n++] = rip;
    }
    while (n < depth) {
        {
            const FrameRule& rule = cached_rule(tu, rip - prev, epoch);
            std::uintptr_t next;
            if (rule.kind == FrameRule::Standard) [[likely]] {
                if (rule.cfa_rbp && rbp_initial && rec.on) uses_rbp = true;
                const std::uintptr_t cfa = (rule.cfa_rbp ? rbp : rsp) + rule.cfa_off;
                next = rec.read(cfa - 8);
                if (rule.rbp_saved) {
                    rbp = rec.read(cfa + rule.rbp_off);
                    rbp_initial = false;
                }
                if (!rec.on && chain_ok) {
                    if (rule.cfa_rbp || chain.frames == kChainFrames) {
                        chain_ok = false;
                    } else {
                        chain.ra[chain.frames] = next;
                        chain.cfa_off[chain.frames] = rule.cfa_off;
                        chain.rbp_off[chain.frames] = rule.rbp_saved ? rule.rbp_off : kNoRbp;
                        ++chain.frames;
                    }
                }
                rsp = cfa;
                prev = 1;
            } else if (rule.kind == FrameRule::Last) {
                break;
            } else if (rule.kind == FrameRule::Signal) {
                const std::uintptr_t uc = rsp;
                next = rec.read(uc + kUcRip);
                rbp = rec.read(uc + kUcRbp);
                rsp = rec.read(uc + kUcRsp);
                rbp_initial = false;
                chain_ok = false;
                prev = 0;
            } else {
                goto fallback;
            }
            if (next < 0x4000) break;
            rip = next;
        }
        if (!rec.on) {
            if (in_self(rip)) {
                if (++own > 16) goto fallback;
                continue;
            }
            // The first program frame: the memo's key. Reached from the prefix, the chain of
            // own frames that led here is kept for the next capture from this entry point.
            if (chain_ok && chain.frames > 0) {
                tu->chains[tu->next_chain] = chain;
                tu->next_chain = (tu->next_chain + 1) % kChains;
            }
            e = memo_entry(tu, rip, rsp);
            start_program();
        }
        pcs[n++] = rip;
    }
    id = intern_stack(pcs, n, epoch);
    if (e != nullptr && rec.ok && id != 0) {
        e->epoch = epoch;
        e->words = static_cast<std::uint16_t>(rec.n);
        e->uses_rbp = uses_rbp;
        e->id = id;
    }
    tu->busy = false;
    if (g_check) [[unlikely]]
        check_against_libunwind(id, own, 3);
    return id;

fallback:
    tu->busy = false;
    int got = 0;  // not &n: a pointer to n would make every store to the memo reload it
    libunwind_stack(pcs, &got, own + kOwnFrames, 3);
    id = intern_stack(pcs, got, epoch);
    if (g_check) [[unlikely]]
        check_against_libunwind(id, own + kOwnFrames, 3);
    return id;
}

[[gnu::noinline, gnu::cold]] std::uint32_t capture_without_tables() noexcept
{
    std::uintptr_t pcs[kMaxDepth];
    int n = 0;
    libunwind_stack(pcs, &n, kOwnFrames, 3);
    return intern_stack(pcs, n, modules_epoch());
}

// Calls from capture_stack_slow must not be tail calls: the unwind starts in its frame, which a
// sibling call would overwrite (and libunwind_stack counts it). The empty asm uses the result.
inline std::uint32_t kept_frame(std::uint32_t id) noexcept
{
    asm volatile("" : "+r"(id));
    return id;
}

}  // namespace

// The hit path (about 156 instructions on churn, callgrind): about 10 per own frame (the
// chain), a memo probe, about 6 per word checked; everything else is in capture_miss.
std::uint32_t capture_stack_slow() noexcept
{
    ThreadUnwind* tu = t_unwind;
    if (tu == nullptr) [[unlikely]] {
        if (t_state_unwind != TState::None || (tu = make_thread_unwind()) == nullptr)
            return kept_frame(capture_without_tables());
    }
    std::uintptr_t rip, rsp, rbp;
    asm volatile("leaq 0(%%rip), %0\n\tmovq %%rsp, %1\n\tmovq %%rbp, %2"
                 : "=r"(rip), "=r"(rsp), "=r"(rbp));
    const std::uint32_t epoch = modules_epoch();
    if (tu->busy) [[unlikely]]
        return kept_frame(capture_without_tables());
    tu->busy = true;
    // The own frames, through the chain of this entry point (found by the first return
    // address, read at the CFA offset every chain shares: capture_stack_slow's own frame).
    const OwnChain* c = &tu->chains[0];
    std::uintptr_t sp = rsp, bp = rbp, ra = 0;
    int own = 0;
    if (c->frames != 0) {
        const std::uintptr_t first = load_word(rsp + c->cfa_off[0] - 8);
        int k = 0;
        while (k < kChains && (tu->chains[k].frames == 0 || tu->chains[k].ra[0] != first))
            ++k;
        if (k < kChains) {
            c = &tu->chains[k];
            const int frames = c->frames;
            int i = 0;
            for (; i < frames; ++i) {
                const std::uintptr_t cfa = sp + c->cfa_off[i];
                ra = load_word(cfa - 8);
                if (i + 1 < frames && ra != c->ra[i]) break;
                if (c->rbp_off[i] != kNoRbp) bp = load_word(cfa + c->rbp_off[i]);
                sp = cfa;
            }
            if (i == frames && !in_self(ra)) {
                own = frames - 1;
                MemoHead* e = memo_entry(tu, ra, sp);
                if (e->id != 0 && e->ra == ra && e->sp == sp && e->epoch == epoch &&
                    (!e->uses_rbp || e->rbp == bp)) {
                    const std::uint32_t* offs = memo_offs(e);
                    const std::uint64_t* vals = memo_vals(e);
                    // In unwind order, stopping at the first word that differs (a changed
                    // stack usually differs in its innermost return addresses).
                    const int words = e->words;
                    int w = 0;
                    while (w < words && load_word(sp + offs[w]) == vals[w])
                        ++w;
                    if (w == words) {
                        tu->busy = false;
                        const std::uint32_t id = e->id;
                        if (g_check) [[unlikely]]
                            check_against_libunwind(id, own, 2);
                        return id;
                    }
                }
                return kept_frame(capture_miss(tu, {ra, sp, bp}, false, e, own, epoch));
            }
        }
    }
    return kept_frame(capture_miss(tu, {rip, rsp, rbp}, true, nullptr, 0, epoch));
}

}  // namespace memtrack::detail
