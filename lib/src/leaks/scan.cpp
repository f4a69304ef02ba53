// The reachability scan (see scan.hpp): heap sweep, roots, marking, leaked subgraph.
#include "leaks/scan.hpp"

#include "core/block.hpp"
#include "leaks/big_blocks.hpp"
#include "leaks/stop_world.hpp"
#include "platform/maps.hpp"
#include "platform/own_memory.hpp"
#include "report/sampler.hpp"
#include "stack/depot.hpp"

#include <mimalloc.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <link.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

namespace memtrack::detail {

namespace {

constexpr std::uintptr_t kSlice = std::uintptr_t{64} << 10;  // mimalloc 2.x segment slice
constexpr std::uintptr_t kChunk = std::uintptr_t{4} << 20;   // segments are >= 4 MiB aligned
constexpr std::uintptr_t kHugeSegmentAlign = std::uintptr_t{32} << 20;
constexpr std::uintptr_t kPage = 4096;

std::int64_t now_ns() noexcept
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

struct Range {
    std::uintptr_t start, end;
};

// Memory reads of the scan. With every thread paused, memory cannot change under the scan and
// is read directly. When some thread could not be paused it may unmap memory (a thread exit,
// mimalloc returning a segment) while the scan reads it, so reads go through a window filled by
// process_vm_readv on ourselves, which fails instead of faulting. One scan at a time.
constinit bool g_safe = false;
struct Window {
    std::uintptr_t base = 0;
    std::size_t len = 0;
    alignas(16) unsigned char buf[64 * 1024];
};
constinit Window g_window{};

void refill(std::uintptr_t p) noexcept
{
    Window& w = g_window;
    w.base = p & ~std::uintptr_t{4095};
    iovec local{w.buf, sizeof w.buf};
    iovec remote{reinterpret_cast<void*>(w.base), sizeof w.buf};
    const ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    w.len = got > 0 ? static_cast<std::size_t>(got) : 0;
}

// The 8 bytes at p (8-aligned); false if unreadable (safe mode only).
inline bool load64(std::uintptr_t p, std::uint64_t& v) noexcept
{
    if (!g_safe) {
        v = *reinterpret_cast<const std::uint64_t*>(p);
        return true;
    }
    Window& w = g_window;
    if (p < w.base || p + 8 > w.base + w.len) {
        refill(p);
        if (p + 8 > w.base + w.len) return false;
    }
    std::memcpy(&v, w.buf + (p - w.base), 8);
    return true;
}

// Whether page-aligned p lies in a mimalloc segment. mimalloc 2.0.9 answers false for the
// first page of a segment (its own metadata), so the next page is asked too: if that one is
// in a segment, so is p (a segment's first page never answers true).
bool heap_at(std::uintptr_t p) noexcept
{
    return mi_is_in_heap_region(reinterpret_cast<void*>(p)) ||
           mi_is_in_heap_region(reinterpret_cast<void*>(p + kPage));
}

// Writable segments of libmemtrack.so itself (memtrack's globals are never roots). Nothing when
// the core is linked into the program (unit tests). Before the world stops (loader lock).
void self_data_ranges(ScratchVector<Range>& out) noexcept
{
    struct Search {
        std::uintptr_t self;
        ScratchVector<Range>* out;
    } search{reinterpret_cast<std::uintptr_t>(&self_data_ranges), &out};
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* arg) -> int {
            auto* s = static_cast<Search*>(arg);
            if (info->dlpi_name == nullptr || info->dlpi_name[0] == '\0') return 0;
            bool mine = false;
            for (int k = 0; k < info->dlpi_phnum; ++k) {
                const auto& ph = info->dlpi_phdr[k];
                const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
                if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && s->self >= lo &&
                    s->self < lo + ph.p_memsz)
                    mine = true;
            }
            if (!mine) return 0;
            for (int k = 0; k < info->dlpi_phnum; ++k) {
                const auto& ph = info->dlpi_phdr[k];
                if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W)) continue;
                const std::uintptr_t lo = (info->dlpi_addr + ph.p_vaddr) & ~(kPage - 1);
                const std::uintptr_t hi =
                    (info->dlpi_addr + ph.p_vaddr + ph.p_memsz + kPage - 1) & ~(kPage - 1);
                s->out->push_back({lo, hi});
            }
            return 1;
        },
        &search);
}

// Writable segments of the dynamic loader (its PT_INTERP module). Before the world stops.
void loader_data_ranges(ScratchVector<Range>& out) noexcept
{
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* arg) -> int {
            auto* ranges = static_cast<ScratchVector<Range>*>(arg);
            const char* name = info->dlpi_name;
            if (name == nullptr || std::strstr(name, "/ld-linux") == nullptr) return 0;
            for (int k = 0; k < info->dlpi_phnum; ++k) {
                const auto& ph = info->dlpi_phdr[k];
                if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W)) continue;
                const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
                ranges->push_back(
                    {lo & ~std::uintptr_t{7}, (lo + ph.p_memsz) & ~std::uintptr_t{7}});
            }
            return 1;
        },
        &out);
}

// Calls fn(lo, hi) for the parts of [start, end) that may hold data: with no swap, pages
// mincore() reports non-resident read as zero and are skipped.
template <class Fn> void for_resident(std::uintptr_t start, std::uintptr_t end, Fn&& fn) noexcept
{
    if (end - start < 16 * kPage || !no_swap()) {
        fn(start, end);
        return;
    }
    constexpr std::uintptr_t kWindow = std::uintptr_t{2} << 20;
    unsigned char vec[kWindow / kPage];
    for (std::uintptr_t w = start; w < end;) {
        const std::uintptr_t page0 = w & ~(kPage - 1);
        const std::uintptr_t wend = std::min(end, page0 + kWindow);
        if (mincore(reinterpret_cast<void*>(page0), wend - page0, vec) != 0) {
            fn(w, wend);
            w = wend;
            continue;
        }
        std::uintptr_t run = 0;
        bool in_run = false;
        for (std::uintptr_t p = page0; p < wend; p += kPage) {
            const bool resident = vec[(p - page0) / kPage] & 1;
            if (resident && !in_run) {
                run = std::max(p, w);
                in_run = true;
            } else if (!resident && in_run) {
                fn(run, p);
                in_run = false;
            }
        }
        if (in_run) fn(run, wend);
        w = wend;
    }
}

// A header's stack id: meaningful only with stacks on (the inline path leaves aux unwritten).
std::uint32_t stack_id(std::uint32_t aux) noexcept
{
    aux &= kStackIdMask;  // bits 24..31 may hold part of a sequence number
    return stack_depth() > 0 && aux <= stack_count() ? aux : 0;
}

// Finds live tracked blocks in [start, end) of heap memory by their headers. `run_end`: end of
// the contiguous heap memory [start, end) belongs to (a block may extend that far). `next`:
// where the sweep may resume (past the last block found); updated.
void sweep(std::uintptr_t start, std::uintptr_t end, std::uintptr_t run_end, std::uintptr_t& next,
           ScanResult& out) noexcept
{
    std::uintptr_t a = (std::max(start, next) + 15) & ~std::uintptr_t{15};
    while (a + kHeaderSize <= end) {
        std::uint64_t sf = 0, tail = 0;
        if (!load64(a + 8, tail)) {  // unreadable (safe mode): on to the next page
            a = (a | 4095) + 1;
            continue;
        }
        const auto check = static_cast<std::uint32_t>(tail >> 32);
        const auto aux = static_cast<std::uint32_t>(tail);
        if (check == 0 || !load64(a, sf)) {
            a += 16;
            continue;
        }
        const std::uintptr_t user = a + kHeaderSize;
        if (!size_flags_plausible(sf) || check != check_of(reinterpret_cast<void*>(user), sf)) {
            a += 16;
            continue;
        }
        // A numbered header must carry a number already given out (threads that could not be
        // paused may still be counting: the counter is read again).
        const std::uint64_t low = packed_seq(sf, aux);
        const std::uint64_t seq = unpack_seq(low, g_alloc_seq.load(std::memory_order_relaxed));
        if (low != 0 && seq == 0) {
            a += 16;
            continue;
        }
        const std::uint64_t size = size_of(sf);
        if (size > run_end - user) {  // cannot be a block of this heap run
            a += 16;
            continue;
        }
        if (!(sf & kUntracked)) {
            out.blocks.push_back(ScanBlock{user, size, stack_id(aux),
                                           static_cast<std::uint8_t>((sf & kGenMask) >> kGenShift),
                                           BlockState::Unvisited, 0, seq});
        }
        a = (user + size + 15) & ~std::uintptr_t{15};
        if (a == user) a += 16;  // size 0
    }
    next = std::max(next, a);
}

// glibc's thread descriptor (struct pthread, starting with tcbhead_t {tcb, dtv, self}) sits at
// the top of a thread's stack mapping, below the static TLS alignment: tcb == self == its
// own address.
std::uintptr_t thread_descriptor_in(const Mapping& m) noexcept
{
    const std::uintptr_t from = std::max(m.start, m.end - 2 * kPage);
    for (std::uintptr_t x = (from + 63) & ~std::uintptr_t{63}; x + 24 <= m.end; x += 64) {
        std::uint64_t w0 = 0, w2 = 0;
        if (load64(x, w0) && w0 == x && load64(x + 16, w2) && w2 == x) return x;
    }
    return 0;
}

struct RootSet {
    ScratchVector<Range> ranges;
    std::uint64_t bytes = 0;
};

// Subtracts the sorted, disjoint `holes` from [start, end) and adds the rest as roots.
void add_root(std::uintptr_t start, std::uintptr_t end, const ScratchVector<Range>& holes,
              RootSet& roots) noexcept
{
    std::uintptr_t cur = start;
    for (const Range& h : holes) {
        if (h.end <= cur) continue;
        if (h.start >= end) break;
        if (h.start > cur) roots.ranges.push_back({cur, h.start});
        cur = std::max(cur, h.end);
        if (cur >= end) return;
    }
    if (cur < end) roots.ranges.push_back({cur, end});
}

class Marker {
public:
    Marker(ScanResult& r) noexcept : r_(r)
    {
        const std::size_t n = r.blocks.size();
        starts_.resize(n);
        for (std::size_t i = 0; i < n; ++i)
            starts_[i] = r.blocks[i].user;
        if (n > 0) {
            lo_ = r.blocks[0].user;
            hi_ = r.blocks[n - 1].user + std::max<std::uint64_t>(r.blocks[n - 1].size, 1);
        }
    }

    // Index of the block `w` points into, or -1; `interior` says whether it is not the start.
    std::int64_t lookup(std::uintptr_t w, bool& interior) const noexcept
    {
        if (w < lo_ || w >= hi_) return -1;
        const std::uintptr_t* s = starts_.data();
        const std::size_t n = starts_.size();
        const std::size_t i = static_cast<std::size_t>(std::upper_bound(s, s + n, w) - s);
        if (i == 0) return -1;
        const ScanBlock& b = r_.blocks[i - 1];
        if (w == b.user) {
            interior = false;
            return static_cast<std::int64_t>(i - 1);
        }
        if (w - b.user < b.size) {
            interior = true;
            return static_cast<std::int64_t>(i - 1);
        }
        return -1;
    }

    // A pointer known to keep its block although it points into its middle: glibc's thread
    // descriptor holds the DTV as a pointer to its second entry, and the DTV holds the
    // thread's dynamic TLS blocks (thread_local of dlopen'ed libraries).
    void reach_exact(std::uintptr_t w) noexcept
    {
        bool interior = false;
        const std::int64_t i = lookup(w, interior);
        if (i < 0) return;
        ScanBlock& b = r_.blocks[static_cast<std::size_t>(i)];
        if (b.state != BlockState::Unvisited) return;
        b.state = BlockState::Reachable;
        stack_.push_back(static_cast<std::uint32_t>(i));
    }

    // Visits every aligned word of [start, end) that points into a block (start or interior),
    // skipping unreadable pages (safe mode).
    template <class Fn>
    void for_each_pointer(std::uintptr_t start, std::uintptr_t end, Fn&& fn) noexcept
    {
        for (std::uintptr_t p = (start + 7) & ~std::uintptr_t{7}; p + 8 <= end; p += 8) {
            std::uint64_t w = 0;
            if (!load64(p, w)) {
                p |= 4095;  // the rest of this page is unreadable
                p -= 7;
                continue;
            }
            if (w < lo_ || w >= hi_) continue;
            bool interior = false;
            const std::int64_t i = lookup(w, interior);
            if (i >= 0) fn(static_cast<std::uint32_t>(i), interior);
        }
    }

    // Phase 1 visitor: start pointers reach; interior pointers are remembered.
    void scan_reach(std::uintptr_t start, std::uintptr_t end) noexcept
    {
        for_each_pointer(start, end, [this](std::uint32_t i, bool interior) {
            ScanBlock& b = r_.blocks[i];
            if (b.state != BlockState::Unvisited) return;
            if (interior) {
                interior_.push_back(i);
            } else {
                b.state = BlockState::Reachable;
                stack_.push_back(i);
            }
        });
    }

    // Phase 2 visitor: any pointer makes an unvisited block possibly reachable.
    void scan_possible(std::uintptr_t start, std::uintptr_t end) noexcept
    {
        for_each_pointer(start, end, [this](std::uint32_t i, bool) {
            ScanBlock& b = r_.blocks[i];
            if (b.state != BlockState::Unvisited) return;
            b.state = BlockState::Possible;
            stack_.push_back(i);
        });
    }

    template <bool Possible> void drain() noexcept
    {
        while (!stack_.empty()) {
            const ScanBlock b = r_.blocks[stack_.back()];
            stack_.pop_back();
            r_.stats.heap_bytes += b.size;
            for_resident(b.user, b.user + b.size, [&](std::uintptr_t lo, std::uintptr_t hi) {
                if (Possible)
                    scan_possible(lo, hi);
                else
                    scan_reach(lo, hi);
            });
        }
    }

    void mark_roots(const RootSet& roots) noexcept
    {
        for (const Range& range : roots.ranges) {
            for_resident(range.start, range.end, [&](std::uintptr_t lo, std::uintptr_t hi) {
                r_.stats.root_bytes += hi - lo;
                scan_reach(lo, hi);
            });
            drain<false>();
        }
    }

    void push_older(int generation) noexcept
    {
        for (std::size_t i = 0; i < r_.blocks.size(); ++i) {
            ScanBlock& b = r_.blocks[i];
            if (b.gen > generation && b.state == BlockState::Unvisited) {
                b.state = BlockState::Older;
                stack_.push_back(static_cast<std::uint32_t>(i));
            }
        }
        drain<false>();
    }

    void mark_possible() noexcept
    {
        for (const std::uint32_t i : interior_) {
            ScanBlock& b = r_.blocks[i];
            if (b.state != BlockState::Unvisited) continue;
            b.state = BlockState::Possible;
            stack_.push_back(i);
        }
        drain<true>();
    }

    // Leaked blocks and the edges among them.
    void leaked_graph() noexcept
    {
        const std::size_t n = r_.blocks.size();
        ScratchVector<std::uint32_t> index;  // block -> position in `leaked`, or UINT32_MAX
        index.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            if (r_.blocks[i].state == BlockState::Unvisited) {
                index[i] = static_cast<std::uint32_t>(r_.leaked.size());
                r_.leaked.push_back(static_cast<std::uint32_t>(i));
            } else {
                index[i] = UINT32_MAX;
            }
        }
        r_.edge_offsets.push_back(0);
        for (const std::uint32_t bi : r_.leaked) {
            const ScanBlock& b = r_.blocks[bi];
            r_.stats.heap_bytes += b.size;
            for_resident(b.user, b.user + b.size, [&](std::uintptr_t lo, std::uintptr_t hi) {
                for_each_pointer(lo, hi, [&](std::uint32_t t, bool) {
                    if (index[t] != UINT32_MAX) r_.edge_targets.push_back(index[t]);
                });
            });
            r_.edge_offsets.push_back(static_cast<std::uint32_t>(r_.edge_targets.size()));
        }
    }

private:
    ScanResult& r_;
    ScratchVector<std::uintptr_t> starts_;
    ScratchVector<std::uint32_t> stack_;
    ScratchVector<std::uint32_t> interior_;
    std::uintptr_t lo_ = 0, hi_ = 0;
};

// Moves every examined survivor up one generation by rewriting its header.
void promote(ScanResult& r, int generation) noexcept
{
    for (ScanBlock& b : r.blocks) {
        if (b.gen > generation || b.gen >= 2) continue;
        if (b.state != BlockState::Reachable && b.state != BlockState::Possible) continue;
        auto* h = reinterpret_cast<BlockHeader*>(b.user - kHeaderSize);
        const std::uint64_t sf = h->size_flags;
        if (h->check != check_of(reinterpret_cast<void*>(b.user), sf)) continue;  // changed
        // The check does not cover the generation (block.hpp): only size_flags changes.
        h->size_flags = (sf & ~kGenMask) | (std::uint64_t{b.gen + 1u} << kGenShift);
    }
}

}  // namespace

std::int64_t find_block(const ScanBlock* blocks, std::size_t n, std::uintptr_t word) noexcept
{
    std::size_t lo = 0, hi = n;
    while (lo < hi) {
        const std::size_t mid = (lo + hi) / 2;
        if (blocks[mid].user <= word)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return -1;
    const ScanBlock& b = blocks[lo - 1];
    if (word == b.user || word - b.user < b.size) return static_cast<std::int64_t>(lo - 1);
    return -1;
}

bool run_scan(const ScanOptions& options, std::uintptr_t caller_sp, ScanResult& out) noexcept
{
    ScratchVector<Range> own;
    self_data_ranges(own);
    ScratchVector<Range> loader;
    loader_data_ranges(loader);

    big_blocks_lock();
    static WorldStop world;  // big: not on the stack; scans are serialised by the caller
    const std::int64_t t0 = now_ns();
    stop_world(world);
    g_safe = !world.complete();
    g_window.len = 0;

    const std::uint64_t unmaps_before = unmap_sequence();
    ScratchVector<Mapping> maps;
    const bool have_maps = read_maps(maps);
    {
        OwnRange ranges[256];
        const std::size_t n = own_ranges(ranges, 256);
        for (std::size_t i = 0; i < n; ++i)
            own.push_back({ranges[i].start, ranges[i].end});
    }

    // Registered big blocks (>= 1 MiB, aligned beyond 16 MiB): their extents from the start of
    // their segment (mimalloc 2.x aligns huge segments to 32 MiB) are heap whatever mimalloc's
    // map says: mi_is_in_heap_region of 2.0.9 answers false past a 2 GiB-aligned address inside
    // a huge segment (its downward search does not cross bitmap words), and knows nothing of
    // blocks mapped above its 40 TiB map.
    struct BigBlock {
        std::uintptr_t header;
        std::uint64_t sf;
        std::uint32_t aux;
        std::uint64_t seq;
    };
    ScratchVector<BigBlock> big;
    ScratchVector<Range> forced;
    {
        const std::size_t nbig = big_blocks_count_locked();
        ScratchVector<BigBlockEntry> entries;
        entries.resize(nbig);
        big_blocks_copy_locked(entries.data(), nbig);
        for (const BigBlockEntry& entry : entries) {
            const std::uintptr_t header = entry.header;
            const std::uintptr_t user = header + kHeaderSize;
            std::uint64_t sf = 0, tail = 0;
            if (!load64(header, sf) || !load64(header + 8, tail)) continue;
            if (static_cast<std::uint32_t>(tail >> 32) !=
                check_of(reinterpret_cast<void*>(user), sf))
                continue;
            big.push_back({header, sf, static_cast<std::uint32_t>(tail), entry.seq});
            forced.push_back({header & ~(kHugeSegmentAlign - 1), user + size_of(sf)});
        }
        std::sort(forced.begin(), forced.end(),
                  [](const Range& a, const Range& b) { return a.start < b.start; });
    }
    auto forced_at = [&](std::uintptr_t lo, std::uintptr_t hi) {  // overlaps [lo, hi)?
        const Range* f =
            std::upper_bound(forced.begin(), forced.end(), lo,
                             [](std::uintptr_t v, const Range& r) { return v < r.start; });
        if (f != forced.begin() && (f - 1)->end > lo) return true;
        return f != forced.end() && f->start < hi;
    };

    // Heap runs and root candidates, mapping by mapping.
    ScratchVector<Range> heap;
    ScratchVector<Range> candidates;
    auto add = [](ScratchVector<Range>& into, std::uintptr_t lo, std::uintptr_t hi) {
        if (!into.empty() && into.back().end == lo)
            into.back().end = hi;
        else
            into.push_back({lo, hi});
    };
    for (const Mapping& m : maps) {
        if (!m.readable || m.special) continue;
        const bool root_kind = m.writable && !m.shared;
        for (std::uintptr_t c = m.start; c < m.end;) {
            const std::uintptr_t chunk_end = std::min(m.end, (c & ~(kChunk - 1)) + kChunk);
            if (!heap_at(c) && !forced_at(c, chunk_end)) {
                if (root_kind) add(candidates, c, chunk_end);
                c = chunk_end;
                continue;
            }
            for (std::uintptr_t s = c; s < chunk_end;) {
                const std::uintptr_t slice_end = std::min(chunk_end, (s & ~(kSlice - 1)) + kSlice);
                if (heap_at(s) || forced_at(s, slice_end))
                    add(heap, s, slice_end);
                else if (root_kind)
                    add(candidates, s, slice_end);
                s = slice_end;
            }
            c = chunk_end;
        }
    }

    // Live blocks: the sweep, then the registered big blocks it did not record.
    for (const Range& h : heap) {
        std::uintptr_t next = h.start;
        for_resident(h.start, h.end, [&](std::uintptr_t lo, std::uintptr_t hi) {
            out.stats.swept_bytes += hi - lo;
            sweep(lo, hi, h.end, next, out);
        });
    }
    std::sort(out.blocks.begin(), out.blocks.end(),
              [](const ScanBlock& a, const ScanBlock& b) { return a.user < b.user; });
    const std::size_t swept = out.blocks.size();
    for (const BigBlock& b : big) {
        const std::uintptr_t user = b.header + kHeaderSize;
        const ScanBlock* found =
            std::lower_bound(out.blocks.begin(), out.blocks.begin() + swept, user,
                             [](const ScanBlock& x, std::uintptr_t v) { return x.user < v; });
        if (found != out.blocks.begin() + swept && found->user == user) {
            out.blocks[static_cast<std::size_t>(found - out.blocks.begin())].seq = b.seq;
            continue;
        }
        if (b.sf & kUntracked) continue;
        out.blocks.push_back(ScanBlock{user, size_of(b.sf), stack_id(b.aux),
                                       static_cast<std::uint8_t>((b.sf & kGenMask) >> kGenShift),
                                       BlockState::Unvisited, 0, b.seq});
    }
    std::sort(out.blocks.begin(), out.blocks.end(),
              [](const ScanBlock& a, const ScanBlock& b) { return a.user < b.user; });
    out.stats.blocks = out.blocks.size();

    // Roots: candidates minus memtrack's own memory and the dead parts of thread stacks.
    ScratchVector<Range> holes;
    for (const Range& r : own)
        holes.push_back(r);
    auto trim_stack = [&](std::uintptr_t sp) {
        for (const Mapping& m : maps)
            if (sp >= m.start && sp < m.end) {
                holes.push_back({m.start, sp & ~std::uintptr_t{7}});
                return;
            }
    };
    // Scratch buffers this scan unmapped after reading /proc/self/maps (vector growth) are still
    // in the listing: never read them.
    {
        OwnRange gone[256];
        const std::size_t n = unmapped_since(unmaps_before, gone, 256);
        for (std::size_t i = 0; i < n; ++i)
            holes.push_back({gone[i].start, gone[i].end});
    }
    ScratchVector<std::uintptr_t> dead_tcbs;  // descriptors of exited threads glibc keeps cached
    trim_stack(caller_sp);
    const auto self_tcb = reinterpret_cast<std::uintptr_t>(pthread_self());
    for (std::size_t i = 0; i < world.count; ++i)
        if (world.threads[i].paused) trim_stack(world.threads[i].sp);
    // Stacks of threads that exited: glibc keeps them (with their thread descriptor and TLS) in
    // its stack cache for reuse; their stale contents are not roots. Recognised as an anonymous
    // mapping right above a guard page, holding a thread descriptor (tcbhead_t: tcb == self)
    // near its top, and containing no live thread's stack pointer. Only when every thread was
    // paused: a thread that did not answer could be running on such a stack.
    if (world.complete()) {
        for (std::size_t k = 1; k < maps.size(); ++k) {
            const Mapping& m = maps[k];
            const Mapping& below = maps[k - 1];
            if (!m.readable || !m.writable || m.shared || m.file || m.special) continue;
            if (below.end != m.start || below.readable || below.writable) continue;
            if (m.end - m.start < 4 * kPage) continue;
            auto inside = [&](std::uintptr_t p) { return p >= m.start && p < m.end; };
            bool live = inside(caller_sp) || inside(self_tcb) || inside(sampler_tcb());
            for (std::size_t i = 0; i < world.count && !live; ++i)
                live = inside(world.threads[i].sp) || inside(world.threads[i].tcb);
            if (live) continue;
            const std::uintptr_t tcb = thread_descriptor_in(m);
            if (tcb == 0) continue;
            holes.push_back({m.start, m.end});
            dead_tcbs.push_back(tcb);
            ++out.stats.dead_stacks;
        }
    }
    std::sort(holes.begin(), holes.end(),
              [](const Range& a, const Range& b) { return a.start < b.start; });
    // Merge overlapping holes.
    std::size_t merged = 0;
    for (std::size_t i = 0; i < holes.size(); ++i) {
        if (merged > 0 && holes[i].start <= holes[merged - 1].end)
            holes[merged - 1].end = std::max(holes[merged - 1].end, holes[i].end);
        else
            holes[merged++] = holes[i];
    }
    holes.resize(merged);
    RootSet roots;
    for (const Range& c : candidates)
        add_root(c.start, c.end, holes, roots);

    // Mark.
    {
        Marker marker(out);
        // tcbhead_t is {tcb, dtv, self, ...}: the DTV pointer of each live thread.
        auto dtv_of = [](std::uintptr_t tcb) {
            std::uint64_t dtv = 0;
            return tcb != 0 && load64(tcb + 8, dtv) ? dtv : std::uint64_t{0};
        };
        marker.reach_exact(dtv_of(self_tcb));
        // glibc's cache of exited threads still owns their DTVs (freed when a stack is reused).
        for (const std::uintptr_t tcb : dead_tcbs)
            marker.reach_exact(dtv_of(tcb));
        // ld.so keeps its tables (the _dl_find_object segments, link maps) through pointers
        // into their middle: from its own data, any pointer reaches.
        for (const Range& r : loader)
            for (std::uintptr_t p = r.start; p + 8 <= r.end; p += 8) {
                std::uint64_t w = 0;
                if (load64(p, w)) marker.reach_exact(w);
            }
        for (std::size_t i = 0; i < world.count; ++i)
            if (world.threads[i].paused) marker.reach_exact(dtv_of(world.threads[i].tcb));
        marker.mark_roots(roots);
        marker.push_older(options.generation);
        for (const ScanBlock& b : out.blocks)
            if (b.gen <= options.generation) ++out.stats.examined;
        marker.mark_possible();
        marker.leaked_graph();
    }
    for (const ScanBlock& b : out.blocks)
        if (b.state == BlockState::Possible && b.gen <= options.generation) ++out.possible_blocks;

    out.stats.threads_paused = static_cast<std::uint32_t>(world.count - world.not_paused);
    out.stats.threads_not_paused = static_cast<std::uint32_t>(world.not_paused);
    out.stats.complete = have_maps && world.complete();
    if (options.update_generations && out.stats.complete) promote(out, options.generation);
    for (const ScanBlock& b : out.blocks) {
        int g = b.gen;
        if (options.update_generations && out.stats.complete && g <= options.generation && g < 2 &&
            (b.state == BlockState::Reachable || b.state == BlockState::Possible))
            ++g;
        out.gen_blocks[g] += 1;
        out.gen_bytes[g] += b.size;
    }
    resume_world(world);
    g_safe = false;
    big_blocks_unlock();
    out.stats.duration_ns = now_ns() - t0;
    return have_maps;
}

}  // namespace memtrack::detail
