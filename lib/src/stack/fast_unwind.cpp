// The capture path of stacks (see unwind.hpp): a per-thread memo in front of a compact-rule
// unwinder, libunwind for the frames the rules cannot express. Runs on every tracked allocation
// when stacks are on, under the caller's reentrancy Guard: no lock, no malloc (the per-thread
// tables come from a pool of own_map slabs, once per thread: platform/own_pool.hpp, whose lock
// is taken at thread start and exit only), no syscall after a thread's first capture.
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
//
// A miss costs about 34 instructions a frame on a rule-cache hit, the depot's hash included
// (capture_miss). Splicing a memoized stack's outer part into a miss was measured out for the
// bench's deep workload, whose recursion path changes at every level: within the 32 captured
// frames a new stack shares on average 0.3 outer frames (and their words) with the previous
// one, 5.2 with the best of the last 128, against about 20 instructions saved per spliced
// frame (docs/benchmarks-notes.md, issue 13).
#include "stack/cfi.hpp"
#include "stack/depot.hpp"
#include "stack/modules.hpp"
#include "stack/unwind.hpp"

#include "platform/maps.hpp"
#include "platform/own_pool.hpp"

#include <atomic>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

extern "C" void* __libc_stack_end;  // glibc: the initial thread's stack at start-up

namespace memtrack::detail {

namespace {

// The rule cache: direct-mapped on the pc (framehop's RuleCache shape), emptied when the module
// epoch moves (checked once per capture, not per frame). 2048 slots of 16 bytes: 32 KiB per
// thread, pages touched on use. A slot holds the rule of cfi.hpp packed: its shape bits, the CFA
// offset and where rbp is saved (classify() keeps that within 2^14).
constexpr std::size_t kRuleSlots = 2048;
enum : std::uint8_t { kUnknown = 0, kStd = 1, kCfaRbp = 2, kRbpSaved = 4, kSignal = 8, kLast = 16 };
constexpr std::uint8_t kPlain = kStd;  // CFA = rsp + offset, rbp kept: most frames of -O2 code
struct RuleSlot {
    std::uintptr_t pc = 0;  // 0: empty
    std::int32_t cfa_off = 0;
    std::int16_t rbp_off = 0;
    std::uint8_t shape = kUnknown;
    std::uint8_t pad = 0;
};
static_assert(sizeof(RuleSlot) == 16);

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
    std::uint32_t rules_epoch;  // the module epoch of the rules cached
    std::uintptr_t stack_lo;
    std::uintptr_t stack_hi;
    bool busy;
    // followed by the memo entries
};

constinit int g_memo_cap = 0;         // words per memo entry (set with the depth)
constinit std::size_t g_memo_stride = 0;  // bytes per memo entry

// Bytes per memo entry at `depth`: the head, then 2 * depth + 8 words read (offset and value).
constexpr std::size_t memo_stride(int depth)
{
    const std::size_t cap = 2 * static_cast<std::size_t>(depth) + 8;
    return (sizeof(MemoHead) + ((sizeof(std::uint32_t) * cap + 7) & ~std::size_t{7}) +
            sizeof(std::uint64_t) * cap + 63) &
           ~std::size_t{63};
}
constexpr std::size_t kUnwindHead = (sizeof(ThreadUnwind) + 63) & ~std::size_t{63};

// The ThreadUnwinds: slots of a pool (one own range per slab of many, not one per thread: a
// program with hundreds of threads once filled own_map's table of 256 ranges). A slot holds the
// table for the deepest stacks (kMaxDepth: about 440 KiB of address space) so that any depth
// set later still fits; a thread touches only what its depth uses (memo_stride), and a slot
// given back at thread exit returns its pages to the kernel.
constinit OwnPool g_pool{};
constinit std::atomic<std::uint64_t> g_check_stacks{0};
constinit std::atomic<std::uint64_t> g_check_differences{0};
constinit bool g_check = false;
// Captures of threads that have no ThreadUnwind (its memory could not be had): each one is a
// full libunwind backtrace, so the report says how many there were.
constinit std::atomic<std::uint64_t> g_without_tables{0};

enum class TState : std::uint8_t { None, Ready, Failed };
[[gnu::tls_model("initial-exec")]] constinit thread_local ThreadUnwind* t_unwind = nullptr;
[[gnu::tls_model("initial-exec")]] constinit thread_local TState t_state_unwind = TState::None;

constinit pthread_key_t g_unwind_key = 0;
constinit bool g_key_ok = false;

// The pthread key's destructor, at thread exit. While the slot goes back, a signal handler that
// allocates on this thread unwinds with libunwind (Failed) rather than waiting for the pool's
// lock held beneath it; then None, so that a later thread-local destructor that allocates gets
// a table again (glibc runs the key's destructor again for it).
void free_thread_unwind(void* p) noexcept
{
    auto* tu = static_cast<ThreadUnwind*>(p);
    const bool own = tu == t_unwind;
    if (own) {
        t_unwind = nullptr;
        t_state_unwind = TState::Failed;
        std::atomic_signal_fence(std::memory_order_seq_cst);
    }
    g_pool.give_back(tu);
    if (own) {
        std::atomic_signal_fence(std::memory_order_seq_cst);
        t_state_unwind = TState::None;
    }
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

// The memory of a ThreadUnwind that the depth set uses: the head, then the memo.
std::size_t thread_unwind_bytes() noexcept
{
    return kUnwindHead + kMemoSlots * g_memo_stride;
}

// A slot of zeros from the pool, as a fresh mapping: empty memo, rules, chains, not busy.
ThreadUnwind* make_thread_unwind() noexcept
{
    t_state_unwind = TState::Failed;
    auto* tu = static_cast<ThreadUnwind*>(g_pool.take());
    if (tu == nullptr) return nullptr;
    // The thread's stack: the memo keeps only stacks inside it.
    thread_stack(tu->stack_lo, tu->stack_hi);
    if (g_key_ok) pthread_setspecific(g_unwind_key, tu);
    t_unwind = tu;
    t_state_unwind = TState::Ready;
    return tu;
}

MemoHead* memo_entry(ThreadUnwind* tu, std::uintptr_t ra, std::uintptr_t sp) noexcept
{
    const std::size_t head = kUnwindHead;
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

// A rule-cache miss: the rule from .eh_frame, stored in the pc's slot (returned, not stored, when
// no module holds the pc yet: valid for this use only).
[[gnu::noinline]] const RuleSlot& cached_rule_slow(ThreadUnwind* tu, std::uintptr_t pc) noexcept
{
    RuleSlot& s = tu->rules[(pc ^ (pc >> 11)) & (kRuleSlots - 1)];
    const FrameRule rule = rule_for(pc);
    std::uint8_t shape = kUnknown;
    if (rule.kind == FrameRule::Standard)
        shape = static_cast<std::uint8_t>(kStd | (rule.cfa_rbp ? kCfaRbp : 0) |
                                          (rule.rbp_saved ? kRbpSaved : 0));
    else if (rule.kind == FrameRule::Signal)
        shape = kSignal;
    else if (rule.kind == FrameRule::Last)
        shape = kLast;
    s.pc = rule.cacheable ? pc : 0;
    s.cfa_off = rule.cfa_off;
    s.rbp_off = static_cast<std::int16_t>(rule.rbp_off);
    s.shape = shape;
    return s;
}

[[gnu::always_inline]] inline const RuleSlot& cached_rule(ThreadUnwind* tu,
                                                          std::uintptr_t pc) noexcept
{
    const RuleSlot& s = tu->rules[(pc ^ (pc >> 11)) & (kRuleSlots - 1)];
    if (s.pc == pc) [[likely]]
        return s;
    return cached_rule_slow(tu, pc);
}

// The module epoch moved (a dlclose): every cached rule may be stale.
[[gnu::noinline, gnu::cold]] void reset_rules(ThreadUnwind* tu, std::uint32_t epoch) noexcept
{
    for (RuleSlot& s : tu->rules)
        s.pc = 0;
    tu->rules_epoch = epoch;
}

inline std::uint64_t load_word(std::uintptr_t addr) noexcept
{
    std::uint64_t v;
    __builtin_memcpy(&v, reinterpret_cast<const void*>(addr), sizeof v);
    return v;
}

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
    if (depth > kMaxDepth) depth = kMaxDepth;
    g_memo_cap = 2 * depth + 8;
    g_memo_stride = memo_stride(depth);
    static constinit bool s_key = false;
    if (!s_key) {
        s_key = true;
        g_pool.set_slot_bytes(kUnwindHead + kMemoSlots * memo_stride(kMaxDepth));
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

UnwindTables unwind_tables() noexcept
{
    if (g_memo_stride == 0) return {};
    return {thread_unwind_bytes(), g_without_tables.load(std::memory_order_relaxed)};
}

void unwind_prepare_fork() noexcept
{
    g_pool.prepare_fork();
}

void unwind_after_fork() noexcept
{
    g_pool.after_fork();
}

void unwind_child_after_fork() noexcept
{
    g_pool.after_fork();
    g_pool.release_others_in_child(t_unwind);
}

namespace {

struct Regs {
    std::uintptr_t rip, rsp, rbp;
};

// Whether memo entry `e` answers a capture whose first program frame has these registers: the
// same key, and every word its unwind read still holds the value it read. In unwind order,
// stopping at the first word that differs (a changed stack usually differs in its innermost
// return addresses).
[[gnu::always_inline]] inline bool memo_hit(MemoHead* e, std::uintptr_t ra, std::uintptr_t sp,
                                            std::uintptr_t bp, std::uint32_t epoch) noexcept
{
    if (e->id != 0 && e->ra == ra && e->sp == sp && e->epoch == epoch &&
        (!e->uses_rbp || e->rbp == bp)) [[likely]] {
        const std::uint32_t* offs = memo_offs(e);
        const std::uint64_t* vals = memo_vals(e);
        const int words = e->words;
        int w = 0;
        while (w < words && load_word(sp + offs[w]) == vals[w])
            ++w;
        return w == words;
    }
    return false;
}

// A capture the memo could not answer. From capture_stack_slow's own registers (`prefix`: the
// own frames are stepped by rules and their chain is learnt), or from the program
// frame's (`e` is its memo entry, to fill). Unwinds with the rule cache, recording the words
// read after the program frame; libunwind for a stack the rules cannot step.
//
// Loops one after the other, each entered at its head only (a single loop with phase flags, or
// a jump into the middle of one, costs a deep stack hundreds of instructions, bdd184f): the own
// frames; then the program's, in loop A while rbp is still the first program frame's (a CFA
// computed from it makes the memo key on rbp), loop B once a frame restored rbp, and the
// generic loop C after anything but a standard frame (signal frames). A and B are the cost of a
// miss per frame: the slot probe, the CFA, the return-address load and its record for the memo,
// the pc and its depot hash step. Words are recorded unconditionally into the entry (its
// capacity bounds the standard steps; a signal frame checks), and the largest word offset from
// the first frame's stack pointer decides at the end whether the stack can be memoized, so the
// loops have no branch on recording.
[[gnu::noinline]] std::uint32_t capture_miss(ThreadUnwind* tu, Regs r, bool prefix,
                                             MemoHead* e, int own, std::uint32_t epoch) noexcept
{
    const int depth = stack_depth();
    std::uintptr_t pcs[kMaxDepth];
    std::uintptr_t rip = r.rip, rsp = r.rsp, rbp = r.rbp;
    std::uint32_t id = 0;
    std::uintptr_t* pp = pcs;  // the next pc's place
    std::uintptr_t* const pend = pcs + depth;
    std::uint64_t h = kStackHashSeed;
    std::uintptr_t prev_first = 1;  // 0 when the first program frame was reached by a signal frame
    if (tu->rules_epoch != epoch) [[unlikely]]
        reset_rules(tu, epoch);
    if (prefix) {
        OwnChain chain;
        bool chain_ok = true;
        std::uintptr_t prev = 0;  // rip is capture_stack_slow's own, not a return address
        for (;;) {
            const RuleSlot& rule = cached_rule(tu, rip - prev);
            std::uintptr_t next;
            if (rule.shape & kStd) [[likely]] {
                const std::uintptr_t cfa = (rule.shape & kCfaRbp ? rbp : rsp) + rule.cfa_off;
                next = load_word(cfa - 8);
                if (rule.shape & kRbpSaved) rbp = load_word(cfa + rule.rbp_off);
                if (chain_ok) {
                    if ((rule.shape & kCfaRbp) || chain.frames == kChainFrames) {
                        chain_ok = false;
                    } else {
                        chain.ra[chain.frames] = next;
                        chain.cfa_off[chain.frames] = rule.cfa_off;
                        chain.rbp_off[chain.frames] = rule.shape & kRbpSaved ? rule.rbp_off : kNoRbp;
                        ++chain.frames;
                    }
                }
                rsp = cfa;
                prev = 1;
            } else if (rule.shape == kSignal) {
                const std::uintptr_t uc = rsp;
                next = load_word(uc + kUcRip);
                rbp = load_word(uc + kUcRbp);
                rsp = load_word(uc + kUcRsp);
                chain_ok = false;
                prev = 0;
            } else if (rule.shape == kLast) {
                goto done;  // the stack ends inside memtrack: no program frame
            } else {
                goto fallback;
            }
            if (next < 0x4000) goto done;
            rip = next;
            if (!in_self(rip)) break;
            if (++own > 16) goto fallback;
        }
        // The first program frame: the memo's key. The chain of own frames that led here is
        // kept for the next capture from this entry point.
        if (chain_ok && chain.frames > 0) {
            tu->chains[tu->next_chain] = chain;
            tu->next_chain = (tu->next_chain + 1) % kChains;
        }
        e = memo_entry(tu, rip, rsp);
        prev_first = prev;
    }
    {
        // The program's frames. The memo entry is rewritten from here on (id 0 until done).
        e->id = 0;
        e->ra = rip;
        e->sp = rsp;
        e->rbp = rbp;
        std::uint32_t* const offs = memo_offs(e);
        std::uint64_t* const vals = memo_vals(e);
        std::uint32_t* op = offs;  // the next word's record
        std::uint64_t* vp = vals;
        const std::uintptr_t sp0 = rsp;
        // The largest (addr - sp0) of a word read; an address below sp0 wraps to a huge one.
        // Memoizable when every word is in [sp0, stack_hi).
        const bool in_stack = rsp >= tu->stack_lo && rsp < tu->stack_hi && tu->stack_hi - rsp >= 8;
        std::uintptr_t maxoff = 0;
        bool uses_rbp = false;  // some frame's CFA came from the first program frame's rbp
        const auto read = [&](std::uintptr_t addr) {
            const std::uint64_t v = load_word(addr);
            const std::uintptr_t off = addr - sp0;
            maxoff = off > maxoff ? off : maxoff;
            *op++ = static_cast<std::uint32_t>(off);
            *vp++ = v;
            return v;
        };
        std::uintptr_t prev = 1;   // loop C: 0 after a signal frame (rules at the interrupted pc)
        bool rbp_initial = true;  // loop C: rbp is still the first program frame's
        if (prev_first == 0) {
            prev = 0;
            *pp++ = rip;
            h = stack_hash_add(h, rip);
            if (pp == pend) goto end;
            goto generic;
        }
        for (;;) {  // loop A
            *pp++ = rip;
            h = stack_hash_add(h, rip);
            if (pp == pend) goto end;
            const RuleSlot& rule = cached_rule(tu, rip - 1);
            std::uintptr_t next;
            if (rule.shape == kPlain) [[likely]] {
                const std::uintptr_t cfa = rsp + rule.cfa_off;
                next = read(cfa - 8);
                rsp = cfa;
            } else if (rule.shape & kStd) {
                if (rule.shape & kCfaRbp) uses_rbp = true;
                const std::uintptr_t cfa = (rule.shape & kCfaRbp ? rbp : rsp) + rule.cfa_off;
                next = read(cfa - 8);
                rsp = cfa;
                if (rule.shape & kRbpSaved) {
                    rbp = read(cfa + rule.rbp_off);
                    rbp_initial = false;
                    if (next < 0x4000) goto end;
                    rip = next;
                    break;
                }
            } else {
                goto generic;
            }
            if (next < 0x4000) goto end;
            rip = next;
        }
        for (;;) {  // loop B
            *pp++ = rip;
            h = stack_hash_add(h, rip);
            if (pp == pend) goto end;
            const RuleSlot& rule = cached_rule(tu, rip - 1);
            std::uintptr_t next;
            if (rule.shape == kPlain) [[likely]] {
                const std::uintptr_t cfa = rsp + rule.cfa_off;
                next = read(cfa - 8);
                rsp = cfa;
            } else if (rule.shape & kStd) {
                const std::uintptr_t cfa = (rule.shape & kCfaRbp ? rbp : rsp) + rule.cfa_off;
                next = read(cfa - 8);
                if (rule.shape & kRbpSaved) rbp = read(cfa + rule.rbp_off);
                rsp = cfa;
            } else {
                goto generic;
            }
            if (next < 0x4000) goto end;
            rip = next;
        }
    generic:
        // Loop C, every kind of frame; the frame at rip is already pushed.
        for (;;) {
            const RuleSlot& rule = cached_rule(tu, rip - prev);
            std::uintptr_t next;
            if (rule.shape & kStd) {
                if ((rule.shape & kCfaRbp) && rbp_initial) uses_rbp = true;
                const std::uintptr_t cfa = (rule.shape & kCfaRbp ? rbp : rsp) + rule.cfa_off;
                next = read(cfa - 8);
                if (rule.shape & kRbpSaved) {
                    rbp = read(cfa + rule.rbp_off);
                    rbp_initial = false;
                }
                rsp = cfa;
                prev = 1;
            } else if (rule.shape == kSignal) {
                // Three words: the entry keeps room for two per remaining standard step.
                if ((vp - vals) + 3 + 2 * (pend - pp) > g_memo_cap) {
                    maxoff = ~std::uintptr_t{0};  // not memoized; the records start over
                    op = offs;
                    vp = vals;
                }
                const std::uintptr_t uc = rsp;
                next = read(uc + kUcRip);
                rbp = read(uc + kUcRbp);
                rsp = read(uc + kUcRsp);
                rbp_initial = false;
                prev = 0;
            } else if (rule.shape == kLast) {
                goto end;
            } else {
                goto fallback;
            }
            if (next < 0x4000) goto end;
            rip = next;
            *pp++ = rip;
            h = stack_hash_add(h, rip);
            if (pp == pend) goto end;
        }
    end:
        const int n = static_cast<int>(pp - pcs);
        id = intern_stack_hashed(pcs, n, epoch, stack_hash_end(h, n));
        if (in_stack && maxoff <= tu->stack_hi - sp0 - 8 && id != 0) {
            e->epoch = epoch;
            e->words = static_cast<std::uint16_t>(vp - vals);
            e->uses_rbp = uses_rbp;
            e->id = id;
        }
        tu->busy = false;
        if (g_check) [[unlikely]]
            check_against_libunwind(id, own, 3);
        return id;
    }

done:
    tu->busy = false;
    if (g_check) [[unlikely]]
        check_against_libunwind(0, own, 3);
    return 0;

fallback:
    if (e != nullptr) e->id = 0;
    tu->busy = false;
    int got = 0;  // not &n: a pointer to n would make every store to the memo reload it
    libunwind_stack(pcs, &got, own + kOwnFrames, 3);
    id = intern_stack(pcs, got, epoch);
    if (g_check) [[unlikely]]
        check_against_libunwind(id, own + kOwnFrames, 3);
    return id;
}

// `no_tables`: the thread has no ThreadUnwind (counted), rather than a reentry while busy.
[[gnu::noinline, gnu::cold]] std::uint32_t capture_without_tables(bool no_tables) noexcept
{
    if (no_tables) g_without_tables.fetch_add(1, std::memory_order_relaxed);
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
            return kept_frame(capture_without_tables(true));
    }
    std::uintptr_t rip, rsp, rbp;
    asm volatile("leaq 0(%%rip), %0\n\tmovq %%rsp, %1\n\tmovq %%rbp, %2"
                 : "=r"(rip), "=r"(rsp), "=r"(rbp));
    const std::uint32_t epoch = modules_epoch();
    if (tu->busy) [[unlikely]]
        return kept_frame(capture_without_tables(false));
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
                if (memo_hit(e, ra, sp, bp, epoch)) {
                    tu->busy = false;
                    const std::uint32_t id = e->id;
                    if (g_check) [[unlikely]]
                        check_against_libunwind(id, own, 2);
                    return id;
                }
                return kept_frame(capture_miss(tu, {ra, sp, bp}, false, e, own, epoch));
            }
        }
    }
    return kept_frame(capture_miss(tu, {rip, rsp, rbp}, true, nullptr, 0, epoch));
}

namespace {

// capture_stack_from's cold halves, apart so that its hit path saves no register.
[[gnu::noinline]] std::uint32_t capture_miss_from(ThreadUnwind* tu, std::uintptr_t ra,
                                                  std::uintptr_t sp, std::uintptr_t bp,
                                                  MemoHead* e, std::uint32_t epoch) noexcept
{
    return kept_frame(capture_miss(tu, {ra, sp, bp}, false, e, 0, epoch));
}

[[gnu::noinline, gnu::cold]] std::uint32_t checked_hit(std::uint32_t id) noexcept
{
    check_against_libunwind(id, 0, 2);
    return kept_frame(id);
}

}  // namespace

// The same capture from the first program frame's registers, given by the allocation path
// (core/block.cpp) when it was entered straight from the program's call: no own frame to step.
// A hit costs the memo probe and the word checks; a miss unwinds from those registers.
std::uint32_t capture_stack_from(std::uintptr_t ra, std::uintptr_t sp, std::uintptr_t bp) noexcept
{
    ThreadUnwind* tu = t_unwind;
    if (tu == nullptr) [[unlikely]] {
        if (t_state_unwind != TState::None || (tu = make_thread_unwind()) == nullptr)
            return capture_stack_slow();
    }
    if (tu->busy) [[unlikely]]
        return capture_stack_slow();
    const std::uint32_t epoch = modules_epoch();
    tu->busy = true;
    MemoHead* e = memo_entry(tu, ra, sp);
    if (memo_hit(e, ra, sp, bp, epoch)) [[likely]] {
        tu->busy = false;
        const std::uint32_t id = e->id;
        if (g_check) [[unlikely]]
            return checked_hit(id);
        return id;
    }
    return capture_miss_from(tu, ra, sp, bp, e, epoch);
}

}  // namespace memtrack::detail
