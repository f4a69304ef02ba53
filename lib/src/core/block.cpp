// Cold halves of the allocation primitives: failures, big alignments, realloc, foreign
// pointers. No lock; the foreign-realloc copy makes one syscall (process_vm_readv).
#include "core/block.hpp"

#include "core/big_blocks.hpp"
#include "core/ignored.hpp"
#include "core/invalid_frees.hpp"
#include "core/sites.hpp"
#include "config/config.hpp"
#include "platform/log.hpp"
#include "stack/unwind.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <sys/uio.h>
#include <unistd.h>

namespace memtrack::detail {

namespace {
// The flag of full mode's blocks: kSited, or none in a build without sites (sites.hpp).
constexpr std::uint64_t kSitedFlag = kSitesBuilt ? kSited : 0;
}  // namespace

void* alloc_failed() noexcept
{
    // Debian's mimalloc 2.0.9 does not always set errno; glibc always does.
    errno = ENOMEM;
    return nullptr;
}

namespace {

// A double or invalid free (core/invalid_frees.hpp): recorded; with MEMTRACK_INVALID_FREE=abort
// (the default) one line, then abort() as glibc's free does ("free(): double free detected"),
// so the status (134) and the core dump are what the program gets without memtrack.
[[gnu::noinline, gnu::cold]] void invalid_free(void* p, InvalidFreeKind kind,
                                               std::uint32_t alloc_stack) noexcept
{
    note_invalid_free(p, kind, alloc_stack);
    if (!config().invalid_free_abort) return;
    {
        Guard guard;
        if (kind == InvalidFreeKind::DoubleFree)
            log("free(): double free of {} (a block memtrack allocated and freed); aborting as "
                "glibc does (MEMTRACK_INVALID_FREE=report lists every site and goes on)",
                p);
        else
            log("free(): invalid pointer {} (in memtrack's heap, not a block it handed out); "
                "aborting as glibc does (MEMTRACK_INVALID_FREE=report lists every site and "
                "goes on)",
                p);
    }
    abort();
}

}  // namespace

void free_foreign(void* p) noexcept
{
    // Only the program's frees are judged: memtrack's own (inside the Guard) stay silent.
    InvalidFreeKind kind{};
    std::uint32_t alloc_stack = 0;
    if (!in_guard() && classify_invalid_free(p, kind, alloc_stack)) [[unlikely]]
        return invalid_free(p, kind, alloc_stack);
    note_foreign_free();
}

namespace {

// Whether the 16 bytes before p can be read without faulting. In p's own page: yes (p is a
// pointer the program uses). In mimalloc's region map: yes. Otherwise a fault-safe copy tells
// (process_vm_readv on ourselves stops at an unmapped or protected page). Where seccomp refuses
// that syscall, fall back to mimalloc's region map, which knows every block but those huge ones it
// mapped above its map's range (mimalloc 2.0.9 maps blocks of about 1 GiB and more anywhere): those
// leak as foreign.
bool header_readable(void* p) noexcept
{
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    if ((addr & 4095) >= kHeaderSize) return true;
    if (addr < 4096) return false;
    // Page-aligned blocks of memtrack's own (alignment >= 4096) are in mimalloc's map: no
    // syscall for them.
    if (mi_is_in_heap_region(p)) return true;
    BlockHeader copy;
    iovec local{&copy, sizeof copy};
    iovec remote{reinterpret_cast<void*>(addr - kHeaderSize), sizeof copy};
    const int saved = errno;
    const ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    const int err = errno;
    errno = saved;
    if (got == static_cast<ssize_t>(sizeof copy)) return true;
    if (got < 0 && (err == EPERM || err == ENOSYS)) return mi_is_in_heap_region(p);
    return false;
}

}  // namespace

BlockHeader* valid_header(void* p) noexcept
{
    if (!header_readable(p)) return nullptr;
    BlockHeader* h = header_of(p);
    if (h->check != check_of(p, h->size_flags)) return nullptr;
    return h;
}

void* alloc_failed_counted(std::size_t size) noexcept
{
    ThreadState& ts = t_state;
    ts.pending -= static_cast<std::int64_t>(size);
    ts.allocs -= 1;
    ts.bytes_allocated -= size;
    return alloc_failed();
}

void release_and_fold(void* base) noexcept
{
    mi_free(base);
    fold_slow(t_state);
}

namespace {

// Flags for a new block of `size`: tracked unless this thread is inside memtrack (then sited
// while sites are on, core/sites.hpp), ignored by the leak checker while the thread has it
// disabled (core/ignored.hpp), big from kFoldBytes on (its free folds at once).
std::uint64_t flags_for(std::size_t size) noexcept
{
    std::uint64_t flags = in_guard() ? kUntracked : (disabled_flag() | (g_sites_on ? kSitedFlag : 0));
    if (static_cast<std::int64_t>(size) >= kFoldBytes) flags |= kBig;
    return flags;
}

// The site of a block's header (its stack id; 0 = no stack).
std::uint32_t site_of(const void* user) noexcept
{
    return header_of(const_cast<void*>(user))->aux & kStackIdMask;
}

// The allocation stack of a new tracked block (0 when stacks are off).
[[gnu::always_inline]] inline std::uint32_t stack_for(std::uint64_t flags) noexcept
{
    if ((flags & kUntracked) || stack_depth() == 0) return 0;
    Guard guard;  // libunwind may allocate on first use in a thread
    return capture_stack();
}

// MEMTRACK_BREAK_ALLOC reached: say so, then stop a debugger here (without one, SIGTRAP ends
// the program, as the user asked for).
[[gnu::noinline, gnu::cold]] void break_at(std::uint64_t seq, std::size_t size) noexcept
{
    {
        Guard guard;
        log("allocation #{} ({} bytes) reached: MEMTRACK_BREAK_ALLOC={}, raising SIGTRAP", seq,
            size, seq);
    }
    raise(SIGTRAP);
}

// The next allocation number of this thread, a new run of kSeqRun from the process counter when
// its run is used up (counters.hpp).
[[gnu::always_inline]] inline std::uint64_t take_seq(ThreadState& ts) noexcept
{
    if (ts.seq_next == ts.seq_end) [[unlikely]] {
        ts.seq_next = g_alloc_seq.fetch_add(kSeqRun, std::memory_order_relaxed) + 1;
        ts.seq_end = ts.seq_next + kSeqRun;
    }
    return ts.seq_next++;
}

// Header (stack id `aux`, sequence number) and registration of a block from any cold path;
// the caller counts it.
[[gnu::always_inline]] inline void* write_block_aux(void* header_base, std::size_t size,
                                                    std::uint64_t flags,
                                                    std::uint32_t aux) noexcept
{
    std::uint64_t sf = size | flags;
    std::uint64_t seq = 0;
    if (!(flags & kUntracked) && g_small_limit == 0) {
        seq = take_seq(t_state);
        if (!registered(flags)) pack_seq(seq, sf, aux);
    }
    void* user = write_header(header_base, sf, aux);
    if (registered(flags)) big_block_add(reinterpret_cast<std::uintptr_t>(header_base), seq);
    if (seq == g_break_seq && seq != 0) [[unlikely]]
        break_at(seq, size);
    return user;
}

[[gnu::always_inline]] inline void* write_block(void* header_base, std::size_t size,
                                                std::uint64_t flags) noexcept
{
    return write_block_aux(header_base, size, flags, stack_for(flags));
}

// Header + accounting for a block from any cold path, its stack `aux` already captured.
void* finish_block_aux(void* header_base, std::size_t size, std::uint64_t flags,
                       std::uint32_t aux) noexcept
{
    void* user = write_block_aux(header_base, size, flags, aux);
    // The site first: the heap's fold may read the sites (a checkpoint report records the
    // peak), and the new block must be in both or in neither.
    if (flags & kSited) site_alloc(site_of(user), size, user);
    if (!(flags & kUntracked)) note_alloc_any(size);
    return user;
}

// A sited block of kFoldBytes or more, its stack captured (memtrack_alloc_sited_at).
[[gnu::noinline]] void* alloc_big_sited(std::size_t size, bool zero, std::uint32_t stack) noexcept
{
    if (size > kMaxRequest) return alloc_failed();
    void* base = zero ? mi_zalloc(gross_size(size)) : mi_malloc(gross_size(size));
    if (base == nullptr) return alloc_failed();
    return finish_block_aux(base, size, flags_for(size), stack);
}

// Header + accounting for a block from any cold path.
void* finish_block(void* header_base, std::size_t size, std::uint64_t extra_flags) noexcept
{
    const std::uint64_t flags = flags_for(size) | extra_flags;
    return finish_block_aux(header_base, size, flags, stack_for(flags));
}

}  // namespace

namespace {

// Every allocation alloc_slow does not send to alloc_sited: with the slow-path hook set, inside
// the guard, of a thread with the leak check disabled, and every one with sites off (stats-only
// mode's big blocks, MEMTRACK_GC=auto or MEMTRACK_BREAK_ALLOC without stacks).
[[gnu::noinline]] void* alloc_other(std::size_t size, bool zero) noexcept
{
    if (const AllocSlowHook hook = g_alloc_slow_hook; hook != nullptr) [[unlikely]]
        hook();
    if (size > kMaxRequest) return alloc_failed();
    void* base = zero ? mi_zalloc(gross_size(size)) : mi_malloc(gross_size(size));
    if (base == nullptr) return alloc_failed();
    return finish_block(base, size, 0);
}

}  // namespace

// Full mode's common case: a block of a thread outside the guard with the leak check enabled,
// no slow-path hook (blocks of kFoldBytes and more go on to alloc_big_sited after the capture). What finish_block does for it, with every flag known: the stack
// (under the guard: only a capture the memo cannot answer may reach libunwind, which may
// allocate on first use), the sequence number, a header with the check of a kSited block, the
// site, the counters. `ra`, `sp` and `bp` are the registers alloc_sited was entered with (the
// return address, the stack pointer after the return, rbp): when the program called the
// allocation function, whose every frame tail-called on to here, they are the program frame's
// and the capture starts there without stepping any of memtrack's frames.
extern "C" [[gnu::used]] void* memtrack_alloc_sited_at(
    std::size_t size, bool zero, std::uintptr_t ra, std::uintptr_t sp, std::uintptr_t bp) noexcept
{
    ThreadState& ts = t_state;
    // The guard, knowing it is not held (alloc_slow checked) and that small_limit goes back to
    // g_small_limit (the thread's leak check is enabled). The capture before the block, so that
    // the registers are used up by the first call.
    ts.guard = 1;
    ts.small_limit = 0;
    std::uint32_t stack = 0;
    if (g_unwind_frames != 0) [[likely]]
        stack = ra >= g_self_lo && ra < g_self_hi ? capture_stack_slow()
                                                  : capture_stack_from(ra, sp, bp);
    ts.guard = 0;
    ts.small_limit = g_small_limit;
    if (size >= static_cast<std::size_t>(kFoldBytes)) [[unlikely]]
        return alloc_big_sited(size, zero, stack);
    void* base = zero ? mi_zalloc(gross_size(size)) : mi_malloc(gross_size(size));
    if (base == nullptr) [[unlikely]]
        return alloc_failed();
    const std::uint64_t seq = take_seq(ts);
    std::uint64_t sf = size | kSitedFlag;
    std::uint32_t aux = stack;
    pack_seq(seq, sf, aux);
    void* user = static_cast<char*>(base) + kHeaderSize;
    auto* h = static_cast<BlockHeader*>(base);
    h->size_flags = sf;
    store_aux_check(h, aux, check_of(user, kSitedFlag));
    if (seq == g_break_seq) [[unlikely]]
        break_at(seq, size);
    // The site first, as in finish_block.
    if constexpr (kSitesBuilt) site_alloc(stack, size, user);
    note_alloc(ts, size);
    return user;
}

namespace {

// The entry of memtrack_alloc_sited_at: passes on the registers it was entered with (x86-64
// System V: size in rdi, zero in esi; ra, sp, bp become the third to fifth arguments). No frame
// of its own, so nothing for an unwinder to step.
[[gnu::naked, gnu::noinline]] void* alloc_sited(std::size_t, bool) noexcept
{
    asm("movq (%rsp), %rdx\n\t"
        "leaq 8(%rsp), %rcx\n\t"
        "movq %rbp, %r8\n\t"
        "jmp memtrack_alloc_sited_at");
}

}  // namespace

void* alloc_slow(std::size_t size, bool zero) noexcept
{
    // Sites on means every allocation takes this path (stacks on: g_small_limit is 0) and
    // needs a sequence number.
    if (sited_path()) [[likely]]
        return alloc_sited(size, zero);
    return alloc_other(size, zero);
}

void release_slow(void* p) noexcept
{
    if (p == nullptr) return;
    BlockHeader* h = valid_header(p);
    if (h == nullptr) return free_foreign(p);
    const std::uint64_t sf = h->size_flags;
    h->check = 0;
    if (registered(sf)) big_block_remove(reinterpret_cast<std::uintptr_t>(h));
    if (!(sf & kUntracked)) {
        if (sf & kSited) site_free(h->aux & kStackIdMask, size_of(sf), p);
        note_free_any(size_of(sf));
    }
    mi_free(base_of(p, sf));
}

void* alloc_aligned(std::size_t size, std::size_t align, bool zero) noexcept
{
    if (align <= kHeaderSize) return zero ? alloc_zeroed(size) : alloc(size);
    if (size > kMaxRequest || align > kMaxRequest) return alloc_failed();
    const std::size_t gross = gross_size(size);
    if (align <= kMiMaxAlign) {
        void* base = zero ? mi_zalloc_aligned_at(gross, align, kHeaderSize)
                          : mi_malloc_aligned_at(gross, align, kHeaderSize);
        if (base == nullptr) return alloc_failed();
        return finish_block(base, size, kAligned);
    }
    // Beyond mimalloc's limit: over-allocate, align by hand, keep the true base before the
    // header so that free can find it.
    const std::size_t total = gross + align + sizeof(void*);
    void* raw = zero ? mi_zalloc(total) : mi_malloc(total);
    if (raw == nullptr) return alloc_failed();
    const auto raw_addr = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t user = (raw_addr + kHeaderSize + sizeof(void*) + align - 1) & ~(align - 1);
    *reinterpret_cast<void**>(user - kHeaderSize - sizeof(void*)) = raw;
    return finish_block(reinterpret_cast<void*>(user - kHeaderSize), size, kOffset);
}

void* alloc_memalign(std::size_t align, std::size_t size) noexcept
{
    if (align <= kHeaderSize) return alloc(size);
    if (align > (SIZE_MAX / 2) + 1) {
        errno = EINVAL;
        return nullptr;
    }
    return alloc_aligned(size, std::bit_ceil(align), false);
}

namespace {

// Copies up to n bytes from a pointer memtrack does not own, without faulting past the end of
// its mapping: process_vm_readv on ourselves stops at the first unreadable page. Where that
// syscall is not allowed, copy only to the end of src's page (readable if src is used at all).
void copy_foreign(void* dst, const void* src, std::size_t n) noexcept
{
    iovec local{dst, n};
    iovec remote{const_cast<void*>(src), n};
    const ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (got >= 0) return;
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto addr = reinterpret_cast<std::uintptr_t>(src);
    const std::size_t to_page_end = page - (addr & (page - 1));
    std::memcpy(dst, src, std::min(n, to_page_end));
}

}  // namespace

void* reallocate(void* p, std::size_t size) noexcept
{
    if (p == nullptr) return alloc(size);
    if (size == 0) {  // glibc: realloc(p, 0) frees p and returns NULL
        release(p);
        return nullptr;
    }
    if (size > kMaxRequest) return alloc_failed();
    BlockHeader* h = valid_header(p);
    if (h == nullptr) {
        // Never allocated by memtrack: copy what we can into a new block, leave the old one.
        note_foreign_free();
        void* fresh = alloc(size);
        if (fresh != nullptr) copy_foreign(fresh, p, size);
        return fresh;
    }
    const std::uint64_t sf = h->size_flags;
    const std::size_t old_size = size_of(sf);
    const std::uint32_t old_site = h->aux & kStackIdMask;
    if (sf & (kAligned | kOffset)) {
        // glibc's realloc keeps only the default alignment too.
        void* fresh = alloc(size);
        if (fresh == nullptr) return nullptr;
        std::memcpy(fresh, p, std::min(old_size, size));
        release(p);
        return fresh;
    }
    void* base = static_cast<char*>(p) - kHeaderSize;
    // The old header must not stay valid if mimalloc moves the block: the heap sweep would
    // take the freed copy for a live block. Restored if mi_realloc fails.
    const std::uint32_t old_check = h->check;
    h->check = 0;
    void* new_base = mi_realloc(base, gross_size(size));
    if (new_base == nullptr) {  // p is untouched
        h->check = old_check;
        return alloc_failed();
    }
    if (registered(sf)) big_block_remove(reinterpret_cast<std::uintptr_t>(base));
    void* user = static_cast<char*>(new_base) + kHeaderSize;
    std::uint64_t new_flags = (sf & kUntracked) != 0 ? kUntracked : disabled_flag();
    if (!(sf & kUntracked) && g_sites_on) new_flags |= kSitedFlag;
    if (static_cast<std::int64_t>(size) >= kFoldBytes) new_flags |= kBig;
    write_block(new_base, size, new_flags);
    if (!(sf & kUntracked)) {
        // As tracemalloc: the old block leaves, then the new one arrives (no transient sum).
        // The block moves to the realloc call's site, as heaptrack counts it.
        // Each site update before the heap's, which may fold (see finish_block).
        if (sf & kSited) site_free(old_site, old_size, p);
        note_free_any(old_size);
        if (new_flags & kSited) site_alloc(site_of(user), size, user);
        note_alloc_any(size);
    }
    return user;
}

std::size_t usable_size(void* p) noexcept
{
    if (p == nullptr) return 0;
    BlockHeader* h = valid_header(p);
    if (h == nullptr) return 0;
    const std::uint64_t sf = h->size_flags;
    void* base = base_of(p, sf);
    const std::size_t lead =
        static_cast<std::size_t>(static_cast<char*>(p) - static_cast<char*>(base));
    const std::size_t usable = mi_usable_size(base);
    return usable > lead ? usable - lead : 0;
}

std::int64_t requested_size(void* p) noexcept
{
    if (p == nullptr) return -1;
    BlockHeader* h = valid_header(p);
    return h == nullptr ? -1 : static_cast<std::int64_t>(size_of(h->size_flags));
}

}  // namespace memtrack::detail
