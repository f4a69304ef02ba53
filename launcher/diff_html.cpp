// The differential flame graph (diff_html.hpp): the matched sites of both reports merged into
// one call tree, root first, a node per frame key (module file name and function, with
// --match=line also file and line: the key the text diff matches sites by), with one self
// value per view and side. Nodes under 0.01% of the root in every view and side fold into an
// "[other]" child of their parent (totals exact), at most 20,000 nodes. Cold, launcher only.
#include "diff_html.hpp"

#include "html.hpp"
#include "stacks_by_metric.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <map>

namespace memtrack::launcher {

namespace {

using nlohmann::json;

constexpr double kFoldThreshold = 1e-4;
constexpr std::size_t kMaxNodes = 20000;
constexpr std::size_t kSides = 2 * kDiffViews.size();
using Cells = std::array<std::int64_t, kSides>;  // view v: [2v] = A, [2v + 1] = B

struct Tree {
    std::vector<int> frame, parent;  // frame: index into the page's frame table
    std::vector<Cells> self;
    std::vector<std::vector<int>> kids;
    int add(int f, int p)
    {
        frame.push_back(f);
        parent.push_back(p);
        self.push_back({});
        kids.emplace_back();
        if (p >= 0) kids[static_cast<std::size_t>(p)].push_back(static_cast<int>(frame.size()) - 1);
        return static_cast<int>(frame.size()) - 1;
    }
};

class Tables {
public:
    int string(const std::string& s)
    {
        const auto [it, inserted] = ids_.emplace(s, static_cast<int>(strings_.size()));
        if (inserted) strings_.push_back(s);
        return it->second;
    }
    int frame(const std::string& fn, const std::string& file, int line, const std::string& mod,
              bool inlined)
    {
        frames_.push_back(
            json::array({string(fn), string(file), line, string(mod), inlined ? 1 : 0}));
        return static_cast<int>(frames_.size()) - 1;
    }
    json strings() const { return strings_; }
    const json& frames() const { return frames_; }

private:
    std::map<std::string, int> ids_;
    std::vector<std::string> strings_;
    json frames_ = json::array();
};

// Totals of every node (self plus the subtree; parents come before their children).
std::vector<Cells> totals(const Tree& t)
{
    std::vector<Cells> tot = t.self;
    for (std::size_t n = t.frame.size(); n-- > 1;)
        for (std::size_t c = 0; c < kSides; ++c)
            tot[static_cast<std::size_t>(t.parent[n])][c] += tot[n][c];
    return tot;
}

// The tree with every node under `threshold` of the root in every view and side folded into
// one "[other]" child of its parent.
Tree fold(const Tree& t, const std::vector<Cells>& tot, double threshold, int other_frame,
          std::size_t& folded)
{
    Tree out;
    out.add(t.frame[0], -1);
    out.self[0] = t.self[0];
    folded = 0;
    const auto small = [&](int n) {
        for (std::size_t c = 0; c < kSides; ++c)
            if (static_cast<double>(tot[static_cast<std::size_t>(n)][c]) >=
                    threshold * static_cast<double>(tot[0][c]) &&
                tot[0][c] > 0)
                return false;
        return true;
    };
    std::vector<std::pair<int, int>> work = {{0, 0}};  // (node in t, node in out)
    while (!work.empty()) {
        const auto [from, to] = work.back();
        work.pop_back();
        int other = -1;
        for (int k : t.kids[static_cast<std::size_t>(from)]) {
            if (small(k)) {
                if (other < 0) other = out.add(other_frame, to);
                for (std::size_t c = 0; c < kSides; ++c)
                    out.self[static_cast<std::size_t>(other)][c] +=
                        tot[static_cast<std::size_t>(k)][c];
                ++folded;
                continue;
            }
            const int n = out.add(t.frame[static_cast<std::size_t>(k)], to);
            out.self[static_cast<std::size_t>(n)] = t.self[static_cast<std::size_t>(k)];
            work.emplace_back(k, n);
        }
    }
    return out;
}

}  // namespace

std::string diff_html_page(const DiffPage& page)
{
    Tables tables;
    Tree full;
    full.add(tables.frame("all", "", 0, "", false), -1);
    std::map<std::pair<int, std::string>, int> child;  // (parent, frame key) -> node
    const auto node = [&](int parent, const std::string& key, const auto& make) {
        const auto [it, inserted] = child.emplace(std::pair{parent, key}, 0);
        if (inserted) it->second = full.add(make(), parent);
        return it->second;
    };
    for (const DiffStack& s : page.stacks) {
        int at = 0;
        if (s.frames == nullptr || s.frames->empty()) {
            at = node(0, s.missing, [&] { return tables.frame(s.missing, "", 0, "", false); });
        } else {
            for (auto f = s.frames->rbegin(); f != s.frames->rend(); ++f) {
                const std::string name = frame_name(*f);
                std::string key = fmt::format("{}\x1e{}", base_name(f->module), name);
                if (page.line_keys) key += fmt::format("\x1e{}:{}", base_name(f->file), f->line);
                at = node(at, key, [&] {
                    return tables.frame(name, f->file, f->line, f->module, f->inlined);
                });
            }
        }
        for (std::size_t v = 0; v < kDiffViews.size(); ++v) {
            full.self[static_cast<std::size_t>(at)][2 * v] += s.a[v];
            full.self[static_cast<std::size_t>(at)][2 * v + 1] += s.b[v];
        }
    }
    const std::vector<Cells> tot = totals(full);
    const int other_frame = tables.frame("[other]", "", 0, "", false);
    double threshold = kFoldThreshold;
    std::size_t folded = 0;
    Tree tree = fold(full, tot, threshold, other_frame, folded);
    while (tree.frame.size() > kMaxNodes && threshold < 1) {
        threshold *= 2;
        tree = fold(full, tot, threshold, other_frame, folded);
    }

    json data = json::object();
    data["diff"] = page.head;
    data["report"] = page.report;
    json t = json::object();
    t["frame"] = tree.frame;
    t["parent"] = tree.parent;
    t["parent"][0] = 0;
    json self = json::object();
    for (std::size_t c = 0; c < kSides; ++c) {
        json col = json::array();
        for (const Cells& cells : tree.self)
            col.push_back(cells[c]);
        self[fmt::format("{}_{}", kDiffViews[c / 2], c % 2 == 0 ? 'a' : 'b')] = std::move(col);
    }
    t["self"] = std::move(self);
    data["tree"] = std::move(t);
    data["strings"] = tables.strings();
    data["frames"] = tables.frames();
    data["stacks"] = json::object();
    data["fold"] = {{"threshold", threshold},
                    {"nodes", tree.frame.size()},
                    {"nodes_before", full.frame.size()},
                    {"folded_nodes", folded}};
    return html_page(data);
}

}  // namespace memtrack::launcher
