// The block record and memtrack's allocation primitives over mimalloc. Hot path: the inline
// functions below take no lock, make no syscall and allocate nothing but the block itself.
//
// Block record (decided once for every issue, STYLE.md): a 16-byte header in front of every
// block memtrack hands out, aligned blocks included.
//
//     base (from mimalloc) -> [ size_flags : 8 ][ aux : 4 ][ check : 4 ] <- user pointer
//
// - size_flags: flags in bits 48..55 (untracked, aligned, offset, big, ignored: core/ignored.hpp,
//   sited: core/sites.hpp), the leak checker's
//   generation in bits 56..57 (0 = young; a scan that finds the block reachable moves it up,
//   rewriting size_flags only: the check does not cover the generation). A registered block
//   (kBig or kOffset, big_blocks.hpp) has its requested size in bits 0..47 and bits 58..63
//   zero; any other block is below kFoldBytes and has its size in bits 0..19, bits 20..47 and
//   58..63 holding its allocation sequence number or zero (below).
// - aux: the allocation-stack id (stack/depot.hpp) in bits 0..23, 0 when no stack was
//   recorded; bits 24..31 part of the sequence number. Not written by the inline path, which
//   only runs when stacks are off (then the scan ignores aux).
// - check: the low 32 bits of the user address xor a salt. free() validates it before trusting
//   the header, so a pointer memtrack never allocated (or one freed twice: free clears it) is
//   recognised and counted as foreign instead of corrupting the heap.
//
// Costs: 16 bytes per block plus rounding of (size + 16) up to a multiple of 16, which also
// gives every block 16-byte alignment (mimalloc's 24- and 40-byte bins are only 8-aligned).
// O(1) at malloc and free, no shared state. Why not a side table: the size is needed at every
// free (exact accounting) and the header finds it with one load, no hashing, no lock. What the
// header also lets the leak scan enumerate every live block without any registry on the hot
// path: with the world stopped it sweeps mimalloc's segments for headers whose check word
// matches their address (core/heap_walk.hpp); blocks mimalloc maps outside its segment map
// (>= 1 MiB blocks are all registered, big_blocks.hpp) are listed by a registry of big blocks.
//
// Allocation sequence number: while every allocation takes the cold path (stacks on,
// MEMTRACK_GC=auto, MEMTRACK_BREAK_ALLOC, or before start-up) each tracked allocation takes the
// next number of its thread's run, taken from one process-wide counter (counters.hpp): unique,
// increasing within a thread, and with one allocating thread the count of tracked allocations
// up to and including it (memtrack_stats.allocations at that moment). A block that
// is not registered keeps the low 42 bits in its header: number bits 0..27 in size_flags bits
// 20..47, bits 28..33 in size_flags bits 58..63, bits 34..41 in aux bits 24..31; no flag, so
// the inline free still takes it (its size is the low 20 bits). The reader restores the full
// number from the counter (exact unless 2^42 allocations separate the block from the reader).
// Registered blocks keep theirs in the big-block registry. In stats-only mode small blocks get
// no number (the inline path counts nothing globally): those bits stay 0.
//
// Alignment above 16: mi_malloc_aligned_at(size + 16, align, 16) puts the user pointer on the
// boundary and the header right before it (up to 16 MiB alignment in mimalloc 2.0.9). Above
// that, the block is over-allocated and the true base is stored in the 8 bytes before the
// header (flag kOffset).
#pragma once

#include "core/counters.hpp"
#include "core/sites.hpp"

#include <mimalloc.h>

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

struct BlockHeader {
    std::uint64_t size_flags;
    std::uint32_t aux;
    std::uint32_t check;
};
static_assert(sizeof(BlockHeader) == 16);

inline constexpr std::size_t kHeaderSize = sizeof(BlockHeader);
inline constexpr std::uint64_t kSizeMask = (std::uint64_t{1} << 48) - 1;
// Flags. A block with any flag set fails the inline free's plain check; a plain small tracked
// block has none, and its size is the low 20 bits of size_flags.
inline constexpr std::uint64_t kUntracked = std::uint64_t{1} << 48;  // not in the stats
inline constexpr std::uint64_t kAligned = std::uint64_t{1} << 49;    // mi_malloc_aligned_at
inline constexpr std::uint64_t kOffset = std::uint64_t{1} << 50;     // base stored before header
inline constexpr std::uint64_t kBig = std::uint64_t{1} << 51;        // >= kFoldBytes
inline constexpr std::uint64_t kIgnored = std::uint64_t{1} << 52;    // never a leak (ignored.hpp)
// Counted in a site (core/sites.hpp): set on every tracked block of the slow path while sites
// are on, so that its free, which must find the site in aux, takes release_sited.
inline constexpr std::uint64_t kSited = std::uint64_t{1} << 54;  // (bit 53: unused)
inline constexpr int kFlagShift = 48;
inline constexpr int kGenShift = 56;
inline constexpr std::uint64_t kGenMask = std::uint64_t{3} << kGenShift;
// Bits a registered block's header may have set above the size: the leak scan rejects others.
inline constexpr std::uint64_t kKnownBits =
    kUntracked | kAligned | kOffset | kBig | kIgnored | kSited | kGenMask;
inline constexpr std::uint64_t kFlagByte = std::uint64_t{0xff} << kFlagShift;
// The size of a block that is not registered (below kFoldBytes, or 1 MiB).
inline constexpr std::uint64_t kSmallSizeMask = (std::uint64_t{1} << 20) - 1;
static_assert(kSmallSizeMask + 1 == static_cast<std::uint64_t>(kFoldBytes));
inline constexpr int kSeqBits = 42;
inline constexpr std::uint64_t kSeqMask = (std::uint64_t{1} << kSeqBits) - 1;
inline constexpr std::uint32_t kStackIdMask = (std::uint32_t{1} << 24) - 1;
// Largest request memtrack passes on; more fails with ENOMEM like glibc's PTRDIFF_MAX check.
inline constexpr std::size_t kMaxRequest = std::size_t{1} << 47;
// Largest alignment mimalloc 2.0.9's aligned allocation supports; above it, kOffset blocks.
inline constexpr std::size_t kMiMaxAlign = std::size_t{16} << 20;

// Whether a header's block is in the big-block registry (its size has 48 bits, its number
// is in the registry).
inline bool registered(std::uint64_t size_flags) noexcept
{
    return (size_flags & (kBig | kOffset)) != 0;
}

// Requested size of a header's block.
inline std::uint64_t size_of(std::uint64_t size_flags) noexcept
{
    return size_flags & (registered(size_flags) ? kSizeMask : kSmallSizeMask);
}

// Whether the bits of size_flags besides size and number are ones a header can have.
inline bool size_flags_plausible(std::uint64_t size_flags) noexcept
{
    if (registered(size_flags)) return (size_flags & ~(kSizeMask | kKnownBits)) == 0;
    return (size_flags & kFlagByte & ~kKnownBits) == 0;
}

// Packs the low kSeqBits of `seq` into the header fields of a block that is not registered
// (size_flags holding its size and flags, aux its stack id).
inline void pack_seq(std::uint64_t seq, std::uint64_t& size_flags, std::uint32_t& aux) noexcept
{
    size_flags |= ((seq & ((std::uint64_t{1} << 28) - 1)) << 20) | (((seq >> 28) & 63) << 58);
    aux |= static_cast<std::uint32_t>((seq >> 34) & 0xff) << 24;
}

// The low kSeqBits of a header's number; 0: no number (a registered block, stats-only mode).
// The inline path leaves aux unwritten: its bits count only when size_flags holds some of the
// number (so a number whose low 34 bits are all 0 reads as none: one in 2^34).
inline std::uint64_t packed_seq(std::uint64_t size_flags, std::uint32_t aux) noexcept
{
    if (registered(size_flags)) return 0;
    const std::uint64_t in_size_flags =
        ((size_flags >> 20) & ((std::uint64_t{1} << 28) - 1)) | (((size_flags >> 58) & 63) << 28);
    if (in_size_flags == 0) return 0;
    return in_size_flags | (std::uint64_t{aux >> 24} << 34);
}

// The full number from its low kSeqBits: the latest number not after `now` (the counter's
// value now) with those bits. 0 for low == 0, and for a number the counter has not given out
// yet (numbers start at 1): a garbage header.
inline std::uint64_t unpack_seq(std::uint64_t low, std::uint64_t now) noexcept
{
    const std::uint64_t age = (now - low) & kSeqMask;
    return low != 0 && age < now ? now - age : 0;
}

inline BlockHeader* header_of(void* user) noexcept
{
    // The pointer may come from anywhere (a foreign free): hide its provenance from the
    // optimiser so it does not reason about "the object" p points into. Costs nothing.
    asm("" : "+r"(user));
    return static_cast<BlockHeader*>(user) - 1;
}

// The check of a block without flags. Never 0 for a block memtrack returns (0 marks a freed
// header): the salt's bits 0..3 are set and user pointers are 16-aligned.
inline std::uint32_t check_of(const void* user) noexcept
{
    return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(user)) ^ 0x6d74726bu;
}

// The check of a block with flags mixes them in, so that the hot free path, which compares
// with check_of(user) only, sends every flagged block off its plain path without testing flags.
// Bits 0..3 of the mix are 0, so the result is never 0 either. Only the flags byte (bits
// 48..55) is mixed in, not the generation or the sequence bits above it: the leak scan moves
// blocks up a generation by rewriting size_flags alone, so that a thread it paused between
// loading a header's two words never sees a check that does not match (it would take its own
// block for a foreign one).
constexpr std::uint32_t check_mix(std::uint64_t size_flags) noexcept
{
    const auto flags = static_cast<std::uint32_t>(size_flags >> kFlagShift) & 0xffu;
    return (flags * 0x9E3779B1u) & ~15u;
}

inline std::uint32_t check_of(const void* user, std::uint64_t size_flags) noexcept
{
    return check_of(user) ^ check_mix(size_flags);
}

// Request size for mimalloc: header added and rounded to 16. Caller checked kMaxRequest.
inline std::size_t gross_size(std::size_t size) noexcept
{
    return (size + kHeaderSize + 15) & ~std::size_t{15};
}

// aux and check written with one 8-byte store (little-endian: aux is the low half).
inline void store_aux_check(BlockHeader* h, std::uint32_t aux, std::uint32_t check) noexcept
{
    const std::uint64_t both = (std::uint64_t{check} << 32) | aux;
    __builtin_memcpy(&h->aux, &both, sizeof both);
}

// Writes the header of a block at `base` and returns the user pointer.
inline void* write_header(void* base, std::uint64_t size_flags, std::uint32_t aux) noexcept
{
    void* user = static_cast<char*>(base) + kHeaderSize;
    BlockHeader* h = static_cast<BlockHeader*>(base);
    h->size_flags = size_flags;
    store_aux_check(h, aux, check_of(user, size_flags));
    return user;
}

// Hot variant for a plain small block (no flags): two stores. aux is left as it is: the inline
// path runs only with stacks off (g_small_limit), when no stack id is ever read.
inline void* write_plain_header(void* base, std::size_t size) noexcept
{
    void* user = static_cast<char*>(base) + kHeaderSize;
    BlockHeader* h = static_cast<BlockHeader*>(base);
    h->size_flags = size;
    h->check = check_of(user);
    return user;
}

// The slow allocation path's hook, called before it allocates; nullptr = none. Owned by the
// core so that no subsystem above it is named here: runtime/ sets it at start-up (the
// collector's automatic scan tick when MEMTRACK_GC=auto) and never changes it afterwards.
// Costs the slow path one load and one branch when unset, as the flag it replaces did.
using AllocSlowHook = void (*)() noexcept;
inline constinit AllocSlowHook g_alloc_slow_hook = nullptr;

// Cold halves (block.cpp): errno, big or untracked blocks, big alignments, foreign pointers.
[[gnu::noinline, gnu::cold]] void* alloc_failed() noexcept;
[[gnu::noinline, gnu::cold]] void free_foreign(void* p) noexcept;
// Any size, any thread state: big blocks (kBig, folded at once), blocks allocated inside the
// guard (untracked), oversize requests (ENOMEM).
[[gnu::noinline]] void* alloc_slow(std::size_t size, bool zero) noexcept;
[[gnu::noinline]] void* alloc_aligned(std::size_t size, std::size_t align, bool zero) noexcept;
// Whether alloc_slow sends this thread's allocation to full mode's sited path: sites on,
// outside the guard, the thread's leak check enabled, no slow-path hook.
inline bool sited_path() noexcept
{
    const ThreadState& ts = t_state;
    return g_sites_on && (ts.guard | ts.disabled) == 0 && g_alloc_slow_hook == nullptr;
}
// The sited path (block.cpp), entered with the return address, stack pointer after the return
// and rbp of the frame that called the allocation function, when every frame of memtrack's in
// between tail-called on (so the capture starts there); for sited_path() threads only. A
// naked entry passes them: alloc_slow's, and operator new's (entry_points.cpp).
extern "C" [[gnu::visibility("hidden")]] void* memtrack_alloc_sited_at(
    std::size_t size, bool zero, std::uintptr_t ra, std::uintptr_t sp, std::uintptr_t bp) noexcept;
// free of any pointer: page-aligned (or NULL), a block with flags, a foreign one.
[[gnu::noinline]] void release_slow(void* p) noexcept;

// Tail of release when the batch reaches fold_lo: frees the block and folds.
[[gnu::noinline, gnu::cold]] void release_and_fold(void* base) noexcept;

// Undoes note_alloc of a small block mimalloc then failed to provide (real out-of-memory):
// counts are restored; the batch's high may overstate by at most this request.
[[gnu::noinline, gnu::cold]] void* alloc_failed_counted(std::size_t size) noexcept;

// Hot: malloc semantics (malloc(0) returns a unique pointer; NULL + ENOMEM on failure), zeroed
// for calloc. Beyond mi_malloc: one compare, note_alloc before the call (so only `size` has to
// live across it), and the header (two stores).
template <bool Zero> inline void* alloc_small_or_slow(std::size_t size) noexcept
{
    ThreadState& ts = t_state;
    if (size >= ts.small_limit) [[unlikely]]
        return alloc_slow(size, Zero);
    note_alloc(ts, size);
    void* base = Zero ? mi_zalloc(gross_size(size)) : mi_malloc(gross_size(size));
    if (base == nullptr) [[unlikely]]
        return alloc_failed_counted(size);
    return write_plain_header(base, size);
}

inline void* alloc(std::size_t size) noexcept
{
    return alloc_small_or_slow<false>(size);
}

// Zeroed allocation of `size` bytes (calloc after its overflow check).
inline void* alloc_zeroed(std::size_t size) noexcept
{
    return alloc_small_or_slow<true>(size);
}

// The header of `p` if memtrack allocated it and it is live, else nullptr. Never faults: the
// header is read directly only when it lies in p's own page; otherwise it is probed first
// (block.cpp). For the cold paths (release_slow, realloc, usable size).
BlockHeader* valid_header(void* p) noexcept;

inline void* base_of(void* user, std::uint64_t size_flags) noexcept
{
    void* header = header_of(user);
    if (size_flags & kOffset) [[unlikely]]
        return *(static_cast<void**>(header) - 1);
    return header;
}

// Full mode's free of a plain small sited block (kSited its only flag), from release(): its
// size is the low 20 bits. Beyond release()'s plain path: the peak test and the site's slot.
// No call but the tail call to mi_free: a new peak, a slot of another site or a thread
// without a shard go to release_slow (site_free's cold halves), as everything else does.
[[gnu::always_inline]] inline void release_sited(void* p) noexcept
{
    BlockHeader* h = static_cast<BlockHeader*>(p) - 1;
    ThreadState& ts = t_state;
    const std::uint64_t sf = h->size_flags;
    const std::uint32_t stack = h->aux & kStackIdMask;
    const auto size = static_cast<std::uint32_t>(sf) & static_cast<std::uint32_t>(kSmallSizeMask);
    const std::int64_t pending = ts.pending - static_cast<std::int64_t>(size);
    if (!above_site_peak(ts) && pending > ts.fold_lo) [[likely]] {
        // The slot from the id's low byte loaded on its own: no copy of the id to mask.
        SiteDelta& d = shard_slot(ts.sites, *reinterpret_cast<const std::uint8_t*>(&h->aux));
        if (d.stack == stack) [[likely]] {
            h->check = 0;
            count_free_taking(ts, d, size, p);
            ts.pending = pending;
            ts.frees += 1;
            return mi_free(h);
        }
    }
    return release_slow(p);
}

// Hot: free semantics (NULL is a no-op; foreign pointers are counted, never freed).
//
// Reading the header without asking mimalloc first is safe because p is at least 16 bytes into
// its page: the 16 bytes before it lie in p's own page, which is mapped if p is a pointer the
// program could use at all (free of an unmapped pointer crashes glibc's free as well). Other
// pointers (NULL, page-aligned blocks, foreign pointers near a page start) take release_slow,
// which probes the header's page first; anything failing the check takes release_sited (a
// sited block) or release_slow. A foreign pointer passes the check only if 32 bits happen to
// match its address (2^-32 for arbitrary data). Beyond mi_free: the page test, the check
// (load, xor, compare), three counter updates.
inline void release(void* p) noexcept
{
    if ((reinterpret_cast<std::uintptr_t>(p) & 4095) < kHeaderSize) [[unlikely]]
        return release_slow(p);
    asm("" : "+r"(p));  // as header_of, once for every use of p below
    BlockHeader* h = static_cast<BlockHeader*>(p) - 1;
    const std::uint64_t sf = h->size_flags;
    // A flagged block (or a foreign pointer) fails this test; the difference tells a sited
    // block (full mode's every block) from the rest, which release_slow takes.
    const std::uint32_t mix = h->check ^ check_of(p);
    if (mix != 0) [[unlikely]] {
        if (kSitesBuilt && mix == check_mix(kSited)) [[likely]]
            return release_sited(p);
        return release_slow(p);
    }
    h->check = 0;
    ThreadState& ts = t_state;
    // An unflagged block is below kFoldBytes: its size is the low 20 bits (a sequence number
    // and the generation may be above them).
    const auto size = static_cast<std::uint32_t>(sf) & static_cast<std::uint32_t>(kSmallSizeMask);
    const std::int64_t pending = ts.pending - static_cast<std::int64_t>(size);
    ts.pending = pending;
    ts.frees += 1;
    if (pending <= ts.fold_lo) [[unlikely]]
        return release_and_fold(h);  // see note_free
    mi_free(h);
}

// realloc semantics of glibc: realloc(NULL, n) = malloc(n); realloc(p, 0) frees p and returns
// NULL; on failure NULL + ENOMEM and p untouched. A foreign p is copied into a new block.
void* reallocate(void* p, std::size_t size) noexcept;

// memalign semantics of glibc: alignment below 16 becomes 16, a non-power-of-two is rounded
// up to the next power of two.
void* alloc_memalign(std::size_t align, std::size_t size) noexcept;

// Bytes usable at p (malloc_usable_size); 0 for NULL or a foreign pointer.
std::size_t usable_size(void* p) noexcept;

// Requested size of a live block memtrack allocated, or -1 for anything else (tests, API).
std::int64_t requested_size(void* p) noexcept;

}  // namespace memtrack::detail
