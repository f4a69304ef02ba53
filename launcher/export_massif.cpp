// massif.out, as valgrind's massif writes it and ms_print 3.19 and massif-visualizer read it:
// desc/cmd/time_unit first (heaptrack writes its header after snapshot 0 and `time_unit: s`,
// and ms_print rejects both), then snapshots. Every line goes through ms_print's comment
// stripping (`#` to the end of the line), so names have `#` replaced ({lambda()#1}).
//
// The trees are bottom-up, as massif's: the root's children are the frames that called the
// allocator (a stack's innermost frame), each node's children its callers. Children add up to
// their parent: the ones under 1% of the snapshot fold into massif's "in N places" line, and
// the sites whose recorded stack ends at a node that other stacks go on from get a child of
// their own.
#include "exports.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

namespace memtrack::launcher {

namespace {

constexpr double kThresholdPercent = 1.0;   // massif's --threshold default
constexpr std::size_t kMaxSnapshots = 100;  // massif's --max-snapshots default
// Frames per stack in a tree (memtrack records at most 128): a damaged file with more cannot
// make the recursive writer run out of stack.
constexpr std::size_t kMaxTreeDepth = 1024;

std::string massif_text(std::string_view s)
{
    return replace_chars(s, "#", '_');
}

std::string label_of(const md::ReportFrame& f)
{
    std::string where;
    if (!f.file.empty())
        where = f.line > 0 ? fmt::format(" ({}:{})", base_name(f.file), f.line)
                           : fmt::format(" ({})", base_name(f.file));
    else if (!f.module.empty())
        where = fmt::format(" (in {})", f.module);
    return massif_text(fmt::format("0x{:X}: {}{}", f.pc, frame_name(f), where));
}

struct Node {
    std::string label;
    std::int64_t bytes = 0;
    std::int64_t ends_here = 0;  // bytes of stacks whose last recorded frame this is
    std::map<std::string, std::unique_ptr<Node>> children;

    Node& child(const std::string& l)
    {
        std::unique_ptr<Node>& c = children[l];
        if (!c) {
            c = std::make_unique<Node>();
            c->label = l;
        }
        return *c;
    }
};

void write_node(std::string& out, const Node& n, int depth, std::int64_t total)
{
    std::vector<const Node*> kids;
    for (const auto& [label, c] : n.children)
        kids.push_back(c.get());
    std::sort(kids.begin(), kids.end(), [](const Node* a, const Node* b) {
        return a->bytes != b->bytes ? a->bytes > b->bytes : a->label < b->label;
    });
    std::vector<const Node*> shown;
    std::int64_t below = 0;
    std::size_t below_count = 0;
    for (const Node* k : kids) {
        if (total > 0 && static_cast<double>(k->bytes) * 100.0 >=
                             kThresholdPercent * static_cast<double>(total)) {
            shown.push_back(k);
        } else {
            below += k->bytes;
            ++below_count;
        }
    }
    // Stacks that end here while others go on: a child of their own, so that children add up.
    const bool ends_child = n.ends_here != 0 && !kids.empty();
    const std::size_t count = shown.size() + (below_count > 0 ? 1 : 0) + (ends_child ? 1 : 0);
    out += fmt::format("{:{}}n{}: {} {}\n", "", depth, count, n.bytes, n.label);
    for (const Node* k : shown)
        write_node(out, *k, depth + 1, total);
    if (ends_child)
        out +=
            fmt::format("{:{}}n0: {} (the recorded stacks end here)\n", "", depth + 1, n.ends_here);
    if (below_count > 0)
        out += fmt::format("{:{}}n0: {} in {} place{}, {}below massif's threshold ({:.2f}%)\n", "",
                           depth + 1, below, below_count, below_count == 1 ? "" : "s",
                           below_count == 1 ? "" : "all ", kThresholdPercent);
}

// The bottom-up tree of a metric; its root's bytes are the metric's total over the sites.
std::unique_ptr<Node> tree_of(const md::ReportModel& r, Metric m)
{
    auto root = std::make_unique<Node>();
    root->label = "(heap allocation functions) malloc/new/new[], --alloc-fns, etc.";
    if (!r.sites_recorded) return root;
    for (const WeightedStack& s : weighted_stacks(r, m)) {
        if (s.value <= 0) continue;
        root->bytes += s.value;
        Node* at = root.get();
        if (s.frames == nullptr || s.frames->empty()) {
            at = &at->child(fmt::format("0x0: {}", missing_stack_frame(s.stack)));
            at->bytes += s.value;
        } else {
            const std::size_t depth = std::min(s.frames->size(), kMaxTreeDepth);
            for (std::size_t i = 0; i < depth; ++i) {
                at = &at->child(label_of((*s.frames)[i]));
                at->bytes += s.value;
            }
        }
        at->ends_here += s.value;
    }
    return root;
}

struct Snapshot {
    std::int64_t time_ms = 0;
    std::int64_t bytes = 0;
    const char* tree = "empty";  // empty, peak or detailed
    const Node* root = nullptr;
};

}  // namespace

std::string export_massif(const md::ReportModel& r, const std::string& version)
{
    const auto peak_tree = tree_of(r, Metric::peak);
    const auto exit_tree = tree_of(r, Metric::exit);
    if (!r.sites_recorded) {
        peak_tree->bytes = r.heap.peak_bytes;
        exit_tree->bytes = r.heap.live_bytes_at_exit;
    }
    const auto ms = [](double s) { return static_cast<std::int64_t>(std::llround(s * 1000.0)); };

    // The timeline between the start and the report, without the peak's own point (the peak
    // snapshot stands for it), decimated to what massif keeps: the largest of each stretch.
    std::vector<md::ReportTimelinePoint> points;
    for (std::size_t i = 0; i + 1 < r.timeline.size(); ++i) {
        const md::ReportTimelinePoint& p = r.timeline[i];
        if (p.bytes == r.heap.peak_bytes &&
            md::as_written(p.t_s, 6) == md::as_written(r.heap.peak_time_s, 6))
            continue;
        points.push_back(p);
    }
    const std::size_t room = kMaxSnapshots - 2;
    if (points.size() > room) {
        std::vector<md::ReportTimelinePoint> kept;
        for (std::size_t b = 0; b < room; ++b) {
            const std::size_t from = b * points.size() / room;
            const std::size_t to = (b + 1) * points.size() / room;
            auto best =
                std::max_element(points.begin() + static_cast<std::ptrdiff_t>(from),
                                 points.begin() + static_cast<std::ptrdiff_t>(to),
                                 [](const auto& a, const auto& c) { return a.bytes < c.bytes; });
            kept.push_back(*best);
        }
        points = std::move(kept);
    }
    std::vector<Snapshot> snaps;
    for (const md::ReportTimelinePoint& p : points)
        snaps.push_back({ms(p.t_s), p.bytes});
    Snapshot peak{ms(r.heap.peak_time_s), peak_tree->bytes, "peak", peak_tree.get()};
    const auto at =
        std::upper_bound(snaps.begin(), snaps.end(), peak.time_ms,
                         [](std::int64_t t, const Snapshot& s) { return t < s.time_ms; });
    snaps.insert(at, peak);
    const double end_s = !r.timeline.empty() ? r.timeline.back().t_s : r.process.wall_s;
    snaps.push_back({ms(end_s), exit_tree->bytes, "detailed", exit_tree.get()});

    std::string cmd;
    for (const std::string& a : r.argv)
        cmd += (cmd.empty() ? "" : " ") + a;
    if (cmd.empty()) cmd = r.program;
    std::string out =
        fmt::format("desc: memtrack {} (peak: the sites' shares of the heap peak; stack depth {})\n"
                    "cmd: {}\ntime_unit: ms\n",
                    massif_text(version), r.config.stack_depth, massif_text(cmd));
    std::int64_t last_ms = 0;
    for (std::size_t i = 0; i < snaps.size(); ++i) {
        Snapshot& s = snaps[i];
        last_ms = std::max(last_ms, s.time_ms);
        out += fmt::format("#-----------\nsnapshot={}\n#-----------\ntime={}\nmem_heap_B={}\n"
                           "mem_heap_extra_B=0\nmem_stacks_B=0\nheap_tree={}\n",
                           i, last_ms, std::max<std::int64_t>(s.bytes, 0), s.tree);
        if (s.root != nullptr) write_node(out, *s.root, 0, s.root->bytes);
    }
    return out;
}

}  // namespace memtrack::launcher
