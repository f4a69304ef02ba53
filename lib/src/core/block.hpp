// The block record and memtrack's allocation primitives over mimalloc. Hot path: the inline
// functions below take no lock, make no syscall and allocate nothing but the block itself.
//
// Block record (decided once for every issue, STYLE.md): a 16-byte header in front of every
// block memtrack hands out, aligned blocks included.
//
//     base (from mimalloc) -> [ size_flags : 8 ][ aux : 4 ][ check : 4 ] <- user pointer
//
// - size_flags: requested size in bits 0..47, flags in bits 48..55 (untracked, aligned,
//   offset, big, seq), the leak checker's generation in bits 56..57 (0 = young; a scan that
//   finds the block reachable moves it up, rewriting size_flags only: the check does not cover
//   the generation), bits 58..63 zero unless kSeq.
// - aux: the allocation-stack id (stack/depot.hpp) in bits 0..23, 0 when no stack was
//   recorded; not written by the inline path, which only runs when stacks are off (then the
//   scan ignores aux).
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
// matches their address (leaks/heap_walk.cpp); blocks mimalloc maps outside its segment map
// (>= 1 MiB blocks are all registered, big_blocks.hpp) are listed by a registry of big blocks.
//
// Allocation sequence number: while every allocation takes the cold path (stacks on, or
// MEMTRACK_GC=auto, or before start-up) each tracked allocation takes the next number of one
// process-wide counter, so that a block's number is the count of tracked allocations up to
// and including it (memtrack_stats.allocations at that moment). A block below kFoldBytes keeps
// the low 42 bits in its header, flagged kSeq: its size needs only 20 bits, so size_flags holds
// size in bits 0..19, sequence bits 0..27 in bits 20..47 and bits 28..33 in bits 58..63; aux
// holds bits 34..41 in its bits 24..31. The reader restores the full number from the counter
// (exact unless 2^42 allocations separate the block from the reader). Big blocks keep theirs
// in the big-block registry. In stats-only mode no number is kept (the inline path counts
// nothing globally).
//
// Alignment above 16: mi_malloc_aligned_at(size + 16, align, 16) puts the user pointer on the
// boundary and the header right before it (up to 16 MiB alignment in mimalloc 2.0.9). Above
// that, the block is over-allocated and the true base is stored in the 8 bytes before the
// header (flag kOffset).
#pragma once

#include "core/counters.hpp"

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
// Flags. A block with any flag set is freed by release_slow; a plain small tracked block has
// none, so its size_flags is its size.
inline constexpr std::uint64_t kUntracked = std::uint64_t{1} << 48;  // not in the stats
inline constexpr std::uint64_t kAligned = std::uint64_t{1} << 49;    // mi_malloc_aligned_at
inline constexpr std::uint64_t kOffset = std::uint64_t{1} << 50;     // base stored before header
inline constexpr std::uint64_t kBig = std::uint64_t{1} << 51;        // >= kFoldBytes
inline constexpr std::uint64_t kSeq = std::uint64_t{1} << 52;        // sequence number packed
inline constexpr int kFlagShift = 48;
inline constexpr int kGenShift = 56;
inline constexpr std::uint64_t kGenMask = std::uint64_t{3} << kGenShift;
// Bits a valid header may have set above the size: the leak scan rejects others.
inline constexpr std::uint64_t kKnownBits =
    kUntracked | kAligned | kOffset | kBig | kSeq | kGenMask;
// kSeq headers: the size below kFoldBytes, the sequence number spread as described above.
inline constexpr std::uint64_t kSeqSizeMask = (std::uint64_t{1} << 20) - 1;
inline constexpr int kSeqBits = 42;
inline constexpr std::uint64_t kSeqMask = (std::uint64_t{1} << kSeqBits) - 1;
inline constexpr std::uint64_t kSeqHighBits = std::uint64_t{63} << 58;  // sequence bits 28..33
inline constexpr std::uint32_t kStackIdMask = (std::uint32_t{1} << 24) - 1;
// Largest request memtrack passes on; more fails with ENOMEM like glibc's PTRDIFF_MAX check.
inline constexpr std::size_t kMaxRequest = std::size_t{1} << 47;
// Largest alignment mimalloc 2.0.9's aligned allocation supports; above it, kOffset blocks.
inline constexpr std::size_t kMiMaxAlign = std::size_t{16} << 20;

// Requested size of a header's block.
inline std::uint64_t size_of(std::uint64_t size_flags) noexcept
{
    return size_flags & ((size_flags & kSeq) ? kSeqSizeMask : kSizeMask);
}

// Whether the bits of size_flags above the size are ones a header can have.
inline bool size_flags_plausible(std::uint64_t size_flags) noexcept
{
    if (size_flags & kSeq) return (size_flags & (std::uint64_t{0xff} << 48) & ~kKnownBits) == 0;
    return (size_flags & ~(kSizeMask | kKnownBits)) == 0;
}

// Packs the low kSeqBits of `seq` into a header's size_flags (holding a size below kFoldBytes
// and flags) and aux (holding a stack id).
inline void pack_seq(std::uint64_t seq, std::uint64_t& size_flags, std::uint32_t& aux) noexcept
{
    size_flags |=
        kSeq | ((seq & ((std::uint64_t{1} << 28) - 1)) << 20) | (((seq >> 28) & 63) << 58);
    aux |= static_cast<std::uint32_t>((seq >> 34) & 0xff) << 24;
}

// The sequence number of a header's block, 0 if it has none (no kSeq). `now`: the counter's
// value now; the result is the latest number not after it with the header's low kSeqBits.
inline std::uint64_t seq_of(std::uint64_t size_flags, std::uint32_t aux, std::uint64_t now) noexcept
{
    if (!(size_flags & kSeq)) return 0;
    const std::uint64_t low = ((size_flags >> 20) & ((std::uint64_t{1} << 28) - 1)) |
                              (((size_flags >> 58) & 63) << 28) | (std::uint64_t{aux >> 24} << 34);
    return now - ((now - low) & kSeqMask);
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
// with check_of(user) only, sends every flagged block to release_slow without testing flags.
// Bits 0..3 of the mix are 0, so the result is never 0 either. Only the flags byte (bits
// 48..55) is mixed in, not the generation or the sequence bits above it: the leak scan moves
// blocks up a generation by rewriting size_flags alone, so that a thread it paused between
// loading a header's two words never sees a check that does not match (it would take its own
// block for a foreign one).
inline std::uint32_t check_of(const void* user, std::uint64_t size_flags) noexcept
{
    const auto flags = static_cast<std::uint32_t>(size_flags >> kFlagShift) & 0xffu;
    return check_of(user) ^ ((flags * 0x9E3779B1u) & ~15u);
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

// Cold halves (block.cpp): errno, big or untracked blocks, big alignments, foreign pointers.
[[gnu::noinline, gnu::cold]] void* alloc_failed() noexcept;
[[gnu::noinline, gnu::cold]] void free_foreign(void* p) noexcept;
// Any size, any thread state: big blocks (kBig, folded at once), blocks allocated inside the
// guard (untracked), oversize requests (ENOMEM).
[[gnu::noinline]] void* alloc_slow(std::size_t size, bool zero) noexcept;
[[gnu::noinline]] void* alloc_aligned(std::size_t size, std::size_t align, bool zero) noexcept;
// free of a pointer that is page-aligned (or NULL), of a block with flags, or a foreign one.
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

// Hot: free semantics (NULL is a no-op; foreign pointers are counted, never freed).
//
// Reading the header without asking mimalloc first is safe because p is at least 16 bytes into
// its page: the 16 bytes before it lie in p's own page, which is mapped if p is a pointer the
// program could use at all (free of an unmapped pointer crashes glibc's free as well). Other
// pointers (NULL, page-aligned blocks, foreign pointers near a page start) take release_slow,
// which probes the header's page first, as does anything failing the check. A foreign pointer
// passes the check only if 32 bits happen to match its address (2^-32 for arbitrary data). Beyond
// mi_free: the page test, the check (load, xor, compare), three counter updates.
inline void release(void* p) noexcept
{
    if ((reinterpret_cast<std::uintptr_t>(p) & 4095) < kHeaderSize) [[unlikely]]
        return release_slow(p);
    BlockHeader* h = header_of(p);
    const std::uint64_t sf = h->size_flags;
    // A flagged block (or a foreign pointer) fails this compare and takes release_slow.
    if (h->check != check_of(p)) [[unlikely]]
        return release_slow(p);
    h->check = 0;
    ThreadState& ts = t_state;
    // An unflagged block is below kFoldBytes: its size is the low 32 bits (a scan may have
    // set generation bits above them).
    const auto size = static_cast<std::uint32_t>(sf);
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
