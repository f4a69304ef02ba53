// The reachability scan (see scan.hpp): heap sweep, roots, marking, leaked subgraph.
#include "leaks/scan.hpp"

#include "core/heap_walk.hpp"
#include "core/sampler.hpp"
#include "leaks/root_regions.hpp"
#include "leaks/scan_rules.hpp"
#include "leaks/stop_world.hpp"
#include "platform/clock.hpp"
#include "platform/maps.hpp"
#include "platform/module_of.hpp"
#include "platform/own_memory.hpp"
#include "platform/safe_read.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sys/mman.h>

namespace memtrack::detail {

namespace {

constexpr std::uintptr_t kPage = 4096;

struct Range {
    std::uintptr_t start, end;
};

// Writable segments of libmemtrack.so itself (memtrack's globals are never roots). Nothing when
// the core is linked into the program (unit tests). Before the world stops (loader lock).
void self_data_ranges(ScratchVector<Range>& out) noexcept
{
    with_module_of(
        reinterpret_cast<std::uintptr_t>(&self_data_ranges), [&](const dl_phdr_info& info) {
            if (info.dlpi_name == nullptr || info.dlpi_name[0] == '\0') return;
            for (int k = 0; k < info.dlpi_phnum; ++k) {
                const auto& ph = info.dlpi_phdr[k];
                if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W)) continue;
                const std::uintptr_t lo = (info.dlpi_addr + ph.p_vaddr) & ~(kPage - 1);
                const std::uintptr_t hi =
                    (info.dlpi_addr + ph.p_vaddr + ph.p_memsz + kPage - 1) & ~(kPage - 1);
                out.push_back({lo, hi});
            }
        });
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

// The bytes of the pages of [start, end) (page-aligned) that may hold data: all of them with
// swap, else those mincore() reports resident (the others read as zero).
std::uint64_t resident_bytes(std::uintptr_t start, std::uintptr_t end) noexcept
{
    if (!no_swap()) return end - start;
    constexpr std::uintptr_t kWindow = std::uintptr_t{2} << 20;
    unsigned char vec[kWindow / kPage];
    std::uint64_t n = 0;
    for (std::uintptr_t w = start; w < end;) {
        const std::uintptr_t wend = std::min(end, w + kWindow);
        if (mincore(reinterpret_cast<void*>(w), wend - w, vec) != 0) {
            n += wend - w;
        } else {
            for (std::uintptr_t p = w; p < wend; p += kPage)
                if (vec[(p - w) / kPage] & 1) n += kPage;
        }
        w = wend;
    }
    return n;
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

// Where glibc lists the threads whose stacks are in use (live ones, and exited ones nobody has
// joined yet, whose descriptor still holds their return value), found through the layout glibc
// exports for libthread_db (nptl_db/structs.def: a field is {bit size, count, offset}):
// _rtld_global._dl_stack_used, a list of the descriptors' `list` members. Resolved once,
// before the world stops (dlsym takes the loader lock); zero when glibc does not say.
struct ThreadList {
    std::uintptr_t head = 0;         // &_rtld_global._dl_stack_used
    std::uintptr_t list_offset = 0;  // offsetof(struct pthread, list)
    std::uintptr_t descriptor_size = 0;
};

const ThreadList& thread_list() noexcept
{
    static ThreadList list;
    static bool resolved = false;
    if (resolved) return list;
    resolved = true;
    auto* rtld = static_cast<char*>(dlsym(RTLD_DEFAULT, "_rtld_global"));
    auto* used = static_cast<const std::uint32_t*>(
        dlsym(RTLD_DEFAULT, "_thread_db_rtld_global__dl_stack_used"));
    auto* link = static_cast<const std::uint32_t*>(dlsym(RTLD_DEFAULT, "_thread_db_pthread_list"));
    auto* size =
        static_cast<const std::uint32_t*>(dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread"));
    if (rtld == nullptr || used == nullptr || link == nullptr || size == nullptr) return list;
    list.head = reinterpret_cast<std::uintptr_t>(rtld) + used[2];
    list.list_offset = link[2];
    list.descriptor_size = *size;
    return list;
}

// Whether the thread descriptor `tcb` is on glibc's list of stacks in use. With the world
// stopped.
bool stack_in_use(std::uintptr_t tcb) noexcept
{
    const ThreadList& l = thread_list();
    if (l.head == 0) return false;
    std::uint64_t node = 0;
    if (!load64(l.head, node)) return false;
    for (int steps = 0; node != l.head && node != 0 && steps < 100000; ++steps) {
        if (node - l.list_offset == tcb) return true;
        if (!load64(node, node)) return false;
    }
    return false;
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
    Marker(ScanResult& r, const ModuleImages& images) noexcept : r_(r), images_(images)
    {
        const std::size_t n = r.blocks.size();
        starts_.resize(n);
        for (std::size_t i = 0; i < n; ++i)
            starts_[i] = r.blocks[i].user;
        if (n > 0) {
            lo_ = r.blocks[0].user;
            // + 8: the past-the-end pointer of a new T[0] block (lookup) may follow the last.
            hi_ = r.blocks[n - 1].user + std::max<std::uint64_t>(r.blocks[n - 1].size, 1) + 8;
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
        // A tagged pointer (scan_rules.hpp) is a start pointer, whatever the block's size.
        if (w == b.user || tagged_start(w, b.user)) {
            interior = false;
            return static_cast<std::int64_t>(i - 1);
        }
        if (w - b.user < b.size) {
            interior = true;
            return static_cast<std::int64_t>(i - 1);
        }
        // Issue 14, LSan's special case of operator new[] of zero elements of a type with a
        // destructor: the block is the 8-byte element count (0), and the program holds the
        // pointer just past it, which is where the (no) elements start.
        if (b.size == 8 && w == b.user + 8) {
            std::uint64_t count = 1;
            if (load64(b.user, count) && count == 0) {
                interior = false;
                return static_cast<std::int64_t>(i - 1);
            }
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
            if (i >= 0) fn(static_cast<std::uint32_t>(i), interior, w);
        }
    }

    // Phase 1 visitor: start pointers reach, and interior pointers of the layouts
    // scan_rules.hpp lists; other interior pointers are remembered.
    void scan_reach(std::uintptr_t start, std::uintptr_t end) noexcept
    {
        for_each_pointer(start, end, [this](std::uint32_t i, bool interior, std::uintptr_t w) {
            ScanBlock& b = r_.blocks[i];
            if (b.state != BlockState::Unvisited) return;
            if (interior) {
                switch (interior_rule(w, b.user, b.size, images_)) {
                case InteriorRule::None:
                    interior_.push_back(i);
                    return;
                case InteriorRule::ArrayCookie:
                    ++r_.stats.reached_array_cookie;
                    break;
                case InteriorRule::SecondaryBase:
                    ++r_.stats.reached_secondary_base;
                    break;
                case InteriorRule::OldString:
                    ++r_.stats.reached_old_string;
                    break;
                }
            } else if (tagged_start(w, b.user)) {
                ++r_.stats.reached_tagged;
            }
            b.state = BlockState::Reachable;
            stack_.push_back(i);
        });
    }

    // Phase 2 visitor: any pointer makes an unvisited block possibly reachable.
    void scan_possible(std::uintptr_t start, std::uintptr_t end) noexcept
    {
        for_each_pointer(start, end, [this](std::uint32_t i, bool, std::uintptr_t) {
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

    // Ignored blocks no root reached, and what they reach that nothing else did (through
    // start or interior pointers alike): state Ignored, never reported.
    void mark_ignored() noexcept
    {
        for (std::size_t i = 0; i < r_.blocks.size(); ++i) {
            ScanBlock& b = r_.blocks[i];
            if (b.ignored && b.state == BlockState::Unvisited) {
                b.state = BlockState::Ignored;
                stack_.push_back(static_cast<std::uint32_t>(i));
            }
        }
        while (!stack_.empty()) {
            const ScanBlock b = r_.blocks[stack_.back()];
            stack_.pop_back();
            r_.stats.heap_bytes += b.size;
            for_resident(b.user, b.user + b.size, [&](std::uintptr_t lo, std::uintptr_t hi) {
                for_each_pointer(lo, hi, [this](std::uint32_t t, bool, std::uintptr_t) {
                    ScanBlock& c = r_.blocks[t];
                    if (c.state != BlockState::Unvisited) return;
                    c.state = BlockState::Ignored;
                    stack_.push_back(t);
                });
            });
        }
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
                for_each_pointer(lo, hi, [&](std::uint32_t t, bool interior, std::uintptr_t w) {
                    if (index[t] == UINT32_MAX) return;
                    // A block's pointer into its own middle is no self-cycle: the part of a
                    // realloc'ed or reused block the program never wrote keeps the allocator's
                    // free-list links to the blocks that lay there (issue 10, accuracy.md's
                    // `realloc`). Its start pointer, or one of scan_rules.hpp's, is.
                    if (t == bi && interior &&
                        interior_rule(w, b.user, b.size, images_) == InteriorRule::None)
                        return;
                    r_.edge_targets.push_back(index[t]);
                });
            });
            r_.edge_offsets.push_back(static_cast<std::uint32_t>(r_.edge_targets.size()));
        }
    }

private:
    ScanResult& r_;
    const ModuleImages& images_;
    ScratchVector<std::uintptr_t> starts_;
    ScratchVector<std::uint32_t> stack_;
    ScratchVector<std::uint32_t> interior_;
    std::uintptr_t lo_ = 0, hi_ = 0;
};

// Moves every examined survivor up one generation (core rewrites its header).
void promote(ScanResult& r, int generation) noexcept
{
    for (ScanBlock& b : r.blocks) {
        if (b.gen > generation || b.gen >= 2) continue;
        if (b.state != BlockState::Reachable && b.state != BlockState::Possible) continue;
        set_generation(b.user, b.gen + 1);
    }
}

// The stop-the-world and the locks it needs, for a scope: the allocator's registry lock first
// (no paused thread can then hold it), then every other thread paused, and reads switched to
// safe mode when some thread did not answer. The destructor undoes all of it, so that no path
// out of the scan can leave the world stopped.
class StoppedWorld {
public:
    explicit StoppedWorld(WorldStop& world) noexcept : world_(world)
    {
        heap_walk_lock();
        start_ns_ = monotonic_ns();  // the pause counts from here, as it always did
        stop_world(world_);
        set_safe_reads(!world_.complete());
    }
    ~StoppedWorld()
    {
        resume_world(world_);
        set_safe_reads(false);
        heap_walk_unlock();
    }
    StoppedWorld(const StoppedWorld&) = delete;
    StoppedWorld& operator=(const StoppedWorld&) = delete;

    std::int64_t start_ns() const noexcept { return start_ns_; }

private:
    WorldStop& world_;
    std::int64_t start_ns_ = 0;
};

// memtrack's own mappings (stack depot, scratch) join the ranges that are never roots.
void add_own_ranges(ScratchVector<Range>& own) noexcept
{
    OwnRange ranges[256];
    const std::size_t n = own_ranges(ranges, 256);
    for (std::size_t i = 0; i < n; ++i)
        own.push_back({ranges[i].start, ranges[i].end});
}

// Heap runs and root candidates, mapping by mapping: heap is what mimalloc's map knows plus
// the extents of registered blocks; root candidates are the rest of every writable private
// mapping.
// `unreadable`: bytes of heap memory in mappings that are not readable (the program's
// mprotect) and may hold data. mimalloc 2.0.9 reserves the first segment of a thread started
// while others run PROT_NONE (its eager-commit delay) and commits it piece by piece with
// mprotect: the rest, never touched, is not resident and holds nothing (as in for_resident,
// only without swap).
void split_heap_and_candidates(const ScratchVector<Mapping>& maps,
                               const ScratchVector<RegisteredBlock>& registered,
                               ScratchVector<Range>& heap, ScratchVector<Range>& candidates,
                               std::uint64_t& unreadable) noexcept
{
    ScratchVector<Range> forced;
    for (const RegisteredBlock& r : registered)
        forced.push_back({r.extent_start, r.extent_end});
    std::sort(forced.begin(), forced.end(),
              [](const Range& a, const Range& b) { return a.start < b.start; });
    auto forced_at = [&](std::uintptr_t lo, std::uintptr_t hi) {  // overlaps [lo, hi)?
        const Range* f =
            std::upper_bound(forced.begin(), forced.end(), lo,
                             [](std::uintptr_t v, const Range& r) { return v < r.start; });
        if (f != forced.begin() && (f - 1)->end > lo) return true;
        return f != forced.end() && f->start < hi;
    };
    auto add = [](ScratchVector<Range>& into, std::uintptr_t lo, std::uintptr_t hi) {
        if (!into.empty() && into.back().end == lo)
            into.back().end = hi;
        else
            into.push_back({lo, hi});
    };
    for (const Mapping& m : maps) {
        if (m.special) continue;
        if (!m.readable) {
            std::uintptr_t run = 0;  // start of the current run of heap pages, or 0
            for (std::uintptr_t s = m.start; s < m.end; s += kPage) {
                const bool in_heap = heap_memory_at(s) || forced_at(s, s + kPage);
                if (in_heap && run == 0) run = s;
                if (!in_heap && run != 0) {
                    unreadable += resident_bytes(run, s);
                    run = 0;
                }
            }
            if (run != 0) unreadable += resident_bytes(run, m.end);
            continue;
        }
        const bool root_kind = m.writable && !m.shared;
        for (std::uintptr_t c = m.start; c < m.end;) {
            const std::uintptr_t chunk_end = std::min(m.end, (c & ~(kHeapChunk - 1)) + kHeapChunk);
            if (!heap_memory_at(c) && !forced_at(c, chunk_end)) {
                if (root_kind) add(candidates, c, chunk_end);
                c = chunk_end;
                continue;
            }
            for (std::uintptr_t s = c; s < chunk_end;) {
                const std::uintptr_t slice_end =
                    std::min(chunk_end, (s & ~(kHeapSlice - 1)) + kHeapSlice);
                if (heap_memory_at(s) || forced_at(s, slice_end))
                    add(heap, s, slice_end);
                else if (root_kind)
                    add(candidates, s, slice_end);
                s = slice_end;
            }
            c = chunk_end;
        }
    }
}

ScanBlock scan_block(const LiveBlock& b) noexcept
{
    return ScanBlock{b.user, b.size, b.stack, b.gen, BlockState::Unvisited, b.ignored, 0, b.seq};
}

// Live blocks, by address: the sweep of the heap runs, then the registered blocks it did not
// record (the sweep finds a registered block's header too, but not its number).
void collect_blocks(const ScratchVector<Range>& heap,
                    const ScratchVector<RegisteredBlock>& registered, ScanResult& out) noexcept
{
    for (const Range& h : heap) {
        std::uintptr_t next = h.start;
        for_resident(h.start, h.end, [&](std::uintptr_t lo, std::uintptr_t hi) {
            out.stats.swept_bytes += hi - lo;
            sweep_live_blocks(lo, hi, h.end, next,
                              [&](const LiveBlock& b) { out.blocks.push_back(scan_block(b)); });
        });
    }
    auto by_address = [](const ScanBlock& a, const ScanBlock& b) { return a.user < b.user; };
    std::sort(out.blocks.begin(), out.blocks.end(), by_address);
    const std::size_t swept = out.blocks.size();
    for (const RegisteredBlock& r : registered) {
        const ScanBlock* found =
            std::lower_bound(out.blocks.begin(), out.blocks.begin() + swept, r.block.user,
                             [](const ScanBlock& x, std::uintptr_t v) { return x.user < v; });
        if (found != out.blocks.begin() + swept && found->user == r.block.user) {
            out.blocks[static_cast<std::size_t>(found - out.blocks.begin())].seq = r.block.seq;
            continue;
        }
        if (r.block.tracked) out.blocks.push_back(scan_block(r.block));
    }
    std::sort(out.blocks.begin(), out.blocks.end(), by_address);
    out.stats.blocks = out.blocks.size();
}

// Roots: the candidates minus memtrack's own memory and the dead parts of thread stacks (below
// each paused thread's stack pointer, and the cached stacks of exited threads, whose thread
// descriptors go to `dead_tcbs`).
void build_roots(const ScratchVector<Mapping>& maps, const ScratchVector<Range>& own,
                 const ScratchVector<Range>& candidates, const WorldStop& world,
                 std::uintptr_t caller_sp, std::uint64_t unmaps_before,
                 ScratchVector<std::uintptr_t>& dead_tcbs, RootSet& roots,
                 ScanStats& stats) noexcept
{
    ScratchVector<Range> holes;
    ScratchVector<Range> unjoined;  // descriptors of exited threads not joined yet
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
            ++stats.dead_stacks;
            // Issue 14: a thread that exited but was not joined yet keeps its return value in
            // its descriptor (glibc still lists its stack as in use): the descriptor is a root.
            const std::size_t size = thread_list().descriptor_size;
            if (size != 0 && tcb + size <= m.end && stack_in_use(tcb))
                unjoined.push_back({tcb, tcb + size});
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
    for (const Range& c : candidates)
        add_root(c.start, c.end, holes, roots);
    for (const Range& d : unjoined)
        roots.ranges.push_back(d);
}

// The program's root regions (leaks/root_regions.hpp): the parts of each that lie in readable
// mappings are roots, whatever else those mappings are (read-only, shared, heap).
void add_root_regions(const ScratchVector<Mapping>& maps, const RootRegion* regions, std::size_t n,
                      RootSet& roots) noexcept
{
    for (std::size_t i = 0; i < n; ++i) {
        const std::uintptr_t start = regions[i].start;
        const std::uintptr_t end =
            regions[i].size > UINTPTR_MAX - start ? UINTPTR_MAX : start + regions[i].size;
        for (const Mapping& m : maps) {
            if (!m.readable || m.special || m.end <= start || m.start >= end) continue;
            roots.ranges.push_back({std::max(start, m.start), std::min(end, m.end)});
        }
    }
}

// Marking: the structural roots (DTVs, ld.so's tables), the root ranges, older generations as
// roots, then what only interior pointers reach, then the leaked subgraph.
void mark(const WorldStop& world, const ScratchVector<Mapping>& maps,
          const ScratchVector<Range>& loader, const ScratchVector<std::uintptr_t>& dead_tcbs,
          const RootSet& roots, int generation, ScanResult& out) noexcept
{
    ModuleImages images;
    images.build(maps);
    Marker marker(out, images);
    // tcbhead_t is {tcb, dtv, self, ...}: the DTV pointer of each live thread.
    auto dtv_of = [](std::uintptr_t tcb) {
        std::uint64_t dtv = 0;
        return tcb != 0 && load64(tcb + 8, dtv) ? dtv : std::uint64_t{0};
    };
    marker.reach_exact(dtv_of(reinterpret_cast<std::uintptr_t>(pthread_self())));
    // glibc's cache of exited threads still owns their DTVs (freed when a stack is reused).
    for (const std::uintptr_t tcb : dead_tcbs)
        marker.reach_exact(dtv_of(tcb));
    // ld.so keeps its tables (the _dl_find_object segments, link maps) through pointers into
    // their middle: from its own data, any pointer reaches.
    for (const Range& r : loader)
        for (std::uintptr_t p = r.start; p + 8 <= r.end; p += 8) {
            std::uint64_t w = 0;
            if (load64(p, w)) marker.reach_exact(w);
        }
    for (std::size_t i = 0; i < world.count; ++i)
        if (world.threads[i].paused) marker.reach_exact(dtv_of(world.threads[i].tcb));
    marker.mark_roots(roots);
    marker.push_older(generation);
    for (const ScanBlock& b : out.blocks)
        if (b.gen <= generation) ++out.stats.examined;
    // Before the possible pass, so that an ignored block is never reported, not even as
    // possibly leaked; what an ignored block reaches is not reported either (as in LSan, which
    // counts interior pointers as references: such a block would be reachable there).
    marker.mark_ignored();
    marker.mark_possible();
    marker.leaked_graph();
}

// Statistics, and survivors moved up a generation when every thread was paused.
void finish(const WorldStop& world, bool have_maps, const ScanOptions& options,
            ScanResult& out) noexcept
{
    for (const ScanBlock& b : out.blocks) {
        if (b.gen > options.generation) continue;
        if (b.state == BlockState::Possible) ++out.possible_blocks;
        if (b.state == BlockState::Ignored) {
            ++out.ignored_blocks;
            out.ignored_bytes += b.size;
        }
    }
    out.stats.threads_paused = static_cast<std::uint32_t>(world.count - world.not_paused);
    out.stats.threads_not_paused = static_cast<std::uint32_t>(world.not_paused);
    out.stats.unregistered_blocks = unregistered_blocks();
    out.stats.complete = have_maps && world.complete() && out.stats.unregistered_blocks == 0 &&
                         out.stats.unreadable_heap_bytes == 0;
    // Survivors move up whenever every thread was paused (a block the scan could not see does
    // not make the ones it saw reachable or not).
    const bool promoting = options.update_generations && have_maps && world.complete();
    if (promoting) promote(out, options.generation);
    for (const ScanBlock& b : out.blocks) {
        int g = b.gen;
        if (promoting && g <= options.generation && g < 2 &&
            (b.state == BlockState::Reachable || b.state == BlockState::Possible))
            ++g;
        out.gen_blocks[g] += 1;
        out.gen_bytes[g] += b.size;
    }
}

}  // namespace

std::int64_t find_block(const ScanBlock* blocks, std::size_t n, std::uintptr_t word) noexcept
{
    return block_containing(blocks, n, word);
}

bool run_scan(const ScanOptions& options, std::uintptr_t caller_sp, ScanResult& out) noexcept
{
    // Before the world stops (dl_iterate_phdr takes the loader lock).
    ScratchVector<Range> own;
    self_data_ranges(own);
    ScratchVector<Range> loader;
    loader_data_ranges(loader);
    thread_list();  // resolved now: dlsym must not run with the world stopped
    static RootRegion regions[kMaxRootRegions];  // serialised by the caller, as `world`
    const std::size_t region_count = copy_root_regions(regions, kMaxRootRegions);

    static WorldStop world;  // big: not on the stack; scans are serialised by the caller
    std::int64_t t0 = 0;
    bool have_maps = false;
    // Scratch of the phases, unmapped after the world runs again (destroyed after `stopped`).
    ScratchVector<Mapping> maps;
    ScratchVector<RegisteredBlock> registered;
    ScratchVector<Range> heap;
    ScratchVector<Range> candidates;
    ScratchVector<std::uintptr_t> dead_tcbs;
    RootSet roots;
    {
        const StoppedWorld stopped(world);
        t0 = stopped.start_ns();
        const std::uint64_t unmaps_before = unmap_sequence();
        have_maps = read_maps(maps);
        add_own_ranges(own);
        // Safe reads for the registry's headers: the program may have protected one.
        set_safe_reads(true);
        registered_blocks(registered);
        split_heap_and_candidates(maps, registered, heap, candidates,
                                  out.stats.unreadable_heap_bytes);
        // Blocks may run into protected pages: read the rest safely too.
        set_safe_reads(!world.complete() || out.stats.unreadable_heap_bytes != 0);
        collect_blocks(heap, registered, out);
        build_roots(maps, own, candidates, world, caller_sp, unmaps_before, dead_tcbs, roots,
                    out.stats);
        add_root_regions(maps, regions, region_count, roots);
        mark(world, maps, loader, dead_tcbs, roots, options.generation, out);
        finish(world, have_maps, options, out);
    }
    out.stats.duration_ns = monotonic_ns() - t0;
    return have_maps;
}

}  // namespace memtrack::detail
