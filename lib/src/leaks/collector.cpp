// Scans on request and the generation counters (see collector.hpp).
#include "leaks/collector.hpp"

#include "core/counters.hpp"
#include "leaks/graph.hpp"
#include "leaks/suppressions.hpp"
#include "platform/check.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <pthread.h>
#include <set>
#include <tuple>

namespace memtrack::detail {

namespace {

constinit pthread_mutex_t g_scan_lock = PTHREAD_MUTEX_INITIALIZER;  // one scan at a time
constinit pthread_mutex_t g_gc_lock = PTHREAD_MUTEX_INITIALIZER;    // the counters
constinit GcCounters g_gc{};
constinit std::int64_t g_live_at_gen0 = 0;  // live blocks after the last scan

std::int64_t live_blocks_now() noexcept
{
    return static_cast<std::int64_t>(snapshot().live_blocks);
}

template <class Key> std::vector<LeakGroup> sorted_groups(const std::map<Key, LeakGroup>& groups)
{
    std::vector<LeakGroup> out;
    out.reserve(groups.size());
    for (const auto& [key, g] : groups)
        out.push_back(g);
    std::stable_sort(out.begin(), out.end(), [](const LeakGroup& a, const LeakGroup& b) {
        return a.bytes != b.bytes ? a.bytes > b.bytes : a.stack < b.stack;
    });
    return out;
}

// For a cycle whose every member points at the next one (and the last at the first): the
// position of its member with the lowest sequence number. 0 otherwise, or without numbers.
std::size_t simple_cycle_oldest(const leaks::LeakGraph& graph,
                                const std::vector<std::uint32_t>& nodes,
                                const std::vector<CycleMember>& members)
{
    std::size_t oldest = 0;
    for (std::size_t k = 0; k < members.size(); ++k) {
        if (members[k].seq == 0) return 0;
        if (members[k].seq < members[oldest].seq) oldest = k;
        const std::uint32_t from = nodes[k];
        const std::uint32_t to = nodes[(k + 1) % nodes.size()];
        const auto first = graph.targets.begin() + graph.offsets[from];
        const auto last = graph.targets.begin() + graph.offsets[from + 1];
        if (std::find(first, last, to) == last) return 0;
    }
    return oldest;
}

// The unreachable blocks earlier reports listed (MEMTRACK_LEAKS_NEW); under g_scan_lock,
// allocated under the Guard, process lifetime.
using BlockKey = std::tuple<std::uintptr_t, std::uint64_t, std::uint32_t, std::uint64_t>;
std::set<BlockKey>* g_reported = nullptr;

BlockKey key_of(const ScanBlock& b)
{
    return {b.user, b.size, b.stack, b.seq};
}

void build_report(const ScanResult& r, int generation, bool new_only, LeakReport& rep)
{
    rep.ran = true;
    rep.scan = r.stats;
    rep.totals.ignored_blocks = r.ignored_blocks;
    rep.totals.ignored_bytes = r.ignored_bytes;
    if (g_reported == nullptr) g_reported = new std::set<BlockKey>;
    // Blocks an earlier report listed (new_only), and the blocks this one lists, remembered.
    auto seen_before = [&](const ScanBlock& b) {
        return new_only && g_reported->count(key_of(b)) != 0;
    };
    std::vector<BlockKey> listed;
    // The leaked subgraph.
    leaks::LeakGraph graph;
    const std::size_t n = r.leaked.size();
    graph.offsets.assign(r.edge_offsets.begin(), r.edge_offsets.end());
    if (graph.offsets.empty()) graph.offsets.push_back(0);
    graph.targets.assign(r.edge_targets.begin(), r.edge_targets.end());
    const leaks::Analysis analysis = leaks::analyze(graph);
    std::map<std::uint32_t, LeakGroup> direct, indirect, possible, suppressed;
    // Issue 14: a leak whose stack matches a suppression is suppressed with every leaked block
    // it reaches (LSan's rule), so that what only a suppressed block holds is not reported as
    // an indirect leak. Symbolizes (the verdict is cached per stack).
    std::vector<std::uint8_t> supp(n, 0);
    {
        std::vector<std::uint32_t> work;
        for (std::size_t i = 0; i < n; ++i)
            if (stack_suppressed(r.blocks[r.leaked[i]].stack)) {
                supp[i] = 1;
                work.push_back(static_cast<std::uint32_t>(i));
            }
        while (!work.empty()) {
            const std::uint32_t u = work.back();
            work.pop_back();
            for (std::uint32_t e = graph.offsets[u]; e < graph.offsets[u + 1]; ++e) {
                const std::uint32_t v = graph.targets[e];
                if (supp[v] == 0) {
                    supp[v] = 1;
                    work.push_back(v);
                }
            }
        }
    }
    std::vector<std::uint8_t> old(n, 0);  // reported before, or suppressed: not listed here
    for (std::size_t i = 0; i < n; ++i) {
        const ScanBlock& b = r.blocks[r.leaked[i]];
        listed.push_back(key_of(b));
        if (seen_before(b)) {
            old[i] = 1;
            continue;
        }
        if (supp[i] != 0) {
            old[i] = 1;
            suppressed[b.stack].add(b);
            rep.totals.suppressed_bytes += b.size;
            rep.totals.suppressed_blocks += 1;
            continue;
        }
        const bool is_direct = analysis.kind[i] == leaks::LeakKind::Direct;
        (is_direct ? direct : indirect)[b.stack].add(b);
        if (is_direct) {
            rep.totals.direct_bytes += b.size;
            rep.totals.direct_blocks += 1;
        } else {
            rep.totals.indirect_bytes += b.size;
            rep.totals.indirect_blocks += 1;
        }
    }
    for (const ScanBlock& b : r.blocks) {
        if (b.state != BlockState::Possible || b.gen > generation) continue;
        listed.push_back(key_of(b));
        if (seen_before(b)) continue;
        possible[b.stack].add(b);
        rep.totals.possible_bytes += b.size;
        rep.totals.possible_blocks += 1;
    }
    rep.direct = sorted_groups(direct);
    rep.indirect = sorted_groups(indirect);
    rep.possible = sorted_groups(possible);
    rep.suppressed = sorted_groups(suppressed);
    // Cycles, folded by shape and sites.
    std::vector<std::uint64_t> sizes(n);
    std::vector<std::uint32_t> stacks(n);
    for (std::size_t i = 0; i < n; ++i) {
        sizes[i] = r.blocks[r.leaked[i]].size;
        stacks[i] = r.blocks[r.leaked[i]].stack;
    }
    // A cycle all of whose members an earlier report listed, or a suppression covers, is left
    // out with them.
    auto old_cycle = [&](const leaks::Cycle& c) {
        return std::all_of(c.members.begin(), c.members.end(),
                           [&](std::uint32_t m) { return old[m] != 0; });
    };
    leaks::Analysis kept = analysis;
    kept.cycles.clear();
    for (const leaks::Cycle& c : analysis.cycles)
        if (!old_cycle(c)) kept.cycles.push_back(c);
    for (const leaks::Cycle& c : kept.cycles)
        rep.totals.cycle_blocks += c.members.size();
    rep.totals.cycles = kept.cycles.size();
    for (const leaks::FoldedCycle& f : leaks::fold_cycles(kept, sizes, stacks)) {
        const leaks::Cycle& c = kept.cycles[f.example];
        CycleReport cr;
        cr.count = f.count;
        cr.pure = c.pure;
        cr.reached_from_direct = c.reached_from_direct;
        std::uint64_t bytes = 0;
        for (const std::uint32_t m : c.members) {
            cr.members.push_back({sizes[m], stacks[m], r.blocks[r.leaked[m]].seq});
            bytes += sizes[m];
        }
        // A simple cycle reads best from its oldest block, in the order the program linked
        // them: rotate it there (any rotation keeps "each member points at the next").
        const std::size_t oldest = simple_cycle_oldest(graph, c.members, cr.members);
        std::rotate(cr.members.begin(), cr.members.begin() + static_cast<std::ptrdiff_t>(oldest),
                    cr.members.end());
        cr.blocks = c.members.size() * f.count;
        cr.bytes = bytes * f.count;
        rep.cycles.push_back(std::move(cr));
    }
    std::stable_sort(rep.cycles.begin(), rep.cycles.end(),
                     [](const CycleReport& a, const CycleReport& b) { return a.bytes > b.bytes; });
    g_reported->insert(listed.begin(), listed.end());
}

constinit std::atomic<std::int64_t> g_auto_ticks{0};
[[gnu::tls_model("initial-exec")]] constinit thread_local std::uint32_t t_ticks = 0;

}  // namespace

void gc_tick_slow() noexcept
{
    if (in_guard() || ++t_ticks < 64) return;
    t_ticks = 0;
    const std::int64_t ticks = g_auto_ticks.fetch_add(64, std::memory_order_relaxed) + 64;
    int threshold[3];
    gc_get_threshold(threshold);
    if (threshold[0] <= 0 || ticks < threshold[0]) return;
    g_auto_ticks.store(0, std::memory_order_relaxed);
    std::int64_t count[3];
    gc_get_count(count);
    if (count[0] <= threshold[0]) return;
    int generation = 0;
    for (int g = 2; g >= 1; --g)
        if (threshold[g] > 0 && count[g] > threshold[g]) {
            generation = g;
            break;
        }
    // Another thread scanning: it pauses this one anyway; skip rather than queue.
    if (pthread_mutex_trylock(&g_scan_lock) != 0) return;
    pthread_mutex_unlock(&g_scan_lock);
    MEMTRACK_PROGRAM_SP(program_sp);
    collect(generation, program_sp, nullptr, false);
}

std::int64_t collect(int generation, std::uintptr_t program_sp, LeakReport* report,
                     bool exclude_suppressed, bool new_only) noexcept
{
    if (generation < 0 || generation > 2) return -1;
    if (g_check_failed.load(std::memory_order_relaxed)) return -1;  // some internal state is not to be trusted (check.hpp)
    Guard guard;
    pthread_mutex_lock(&g_scan_lock);
    std::int64_t found = -1;
    {
        ScanResult result;
        ScanOptions options;
        options.generation = generation;
        if (run_scan(options, program_sp, result)) {
            found = static_cast<std::int64_t>(result.leaked.size());
            // The API's answer leaves suppressed blocks out (glibc's cached thread TLS, the
            // user's patterns); the automatic scans, inside the allocator, cannot symbolize.
            if (exclude_suppressed) {
                try {
                    for (const std::uint32_t i : result.leaked)
                        if (stack_suppressed(result.blocks[i].stack)) --found;
                } catch (...) {
                }
            }
            pthread_mutex_lock(&g_gc_lock);
            GcCounters& gc = g_gc;
            gc.collections[generation] += 1;
            gc.collected[generation] += static_cast<std::uint64_t>(found);
            gc.total_pause_ns += result.stats.duration_ns;
            gc.max_pause_ns = std::max(gc.max_pause_ns, result.stats.duration_ns);
            for (int g = 0; g < 3; ++g) {
                gc.gen_blocks[g] = result.gen_blocks[g];
                gc.gen_bytes[g] = result.gen_bytes[g];
            }
            gc.scanned = true;
            // Python: collecting generation g clears the counts of g and the younger ones and
            // counts one more collection of g for generation g + 1.
            for (int g = 1; g <= generation; ++g)
                gc.count[g] = 0;
            if (generation < 2) gc.count[generation + 1] += 1;
            pthread_mutex_unlock(&g_gc_lock);
            g_live_at_gen0 = live_blocks_now();
            if (report != nullptr) {
                try {
                    build_report(result, generation, new_only, *report);
                    report->gc = gc_counters();
                } catch (...) {
                    report->ran = false;
                }
            }
        }
    }
    pthread_mutex_unlock(&g_scan_lock);
    return found;
}

void gc_get_threshold(int out[3]) noexcept
{
    pthread_mutex_lock(&g_gc_lock);
    for (int g = 0; g < 3; ++g)
        out[g] = g_gc.threshold[g];
    pthread_mutex_unlock(&g_gc_lock);
}

void gc_set_threshold(int t0, int t1, int t2) noexcept
{
    pthread_mutex_lock(&g_gc_lock);
    g_gc.threshold[0] = t0;
    g_gc.threshold[1] = t1;
    g_gc.threshold[2] = t2;
    pthread_mutex_unlock(&g_gc_lock);
}

void gc_get_count(std::int64_t out[3]) noexcept
{
    const std::int64_t live = live_blocks_now();
    pthread_mutex_lock(&g_gc_lock);
    out[0] = live - g_live_at_gen0;
    out[1] = g_gc.count[1];
    out[2] = g_gc.count[2];
    pthread_mutex_unlock(&g_gc_lock);
}

GcCounters gc_counters() noexcept
{
    pthread_mutex_lock(&g_gc_lock);
    GcCounters c = g_gc;
    pthread_mutex_unlock(&g_gc_lock);
    std::int64_t counts[3];
    gc_get_count(counts);
    c.count[0] = counts[0];
    return c;
}

void collector_prepare_fork() noexcept
{
    pthread_mutex_lock(&g_scan_lock);
    pthread_mutex_lock(&g_gc_lock);
}

void collector_after_fork() noexcept
{
    pthread_mutex_unlock(&g_gc_lock);
    pthread_mutex_unlock(&g_scan_lock);
}

}  // namespace memtrack::detail
