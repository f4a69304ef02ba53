// Report -> call tree (call_tree.hpp). Cold: the launcher reads a saved report.
#include "call_tree.hpp"

#include <fmt/core.h>

#include <cstdlib>
#include <unordered_map>

namespace memtrack::launcher {

using nlohmann::json;

// The lenient readers (call_tree.hpp).
std::int64_t get_int(const json& j, const char* key)
{
    if (!j.is_object()) return 0;
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number()) return 0;
    if (it->is_number_unsigned()) return static_cast<std::int64_t>(it->get<std::uint64_t>());
    if (it->is_number_integer()) return it->get<std::int64_t>();
    return static_cast<std::int64_t>(it->get<double>());
}

std::string get_string(const json& j, const char* key)
{
    if (!j.is_object()) return {};
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& get(const json& j, const char* key)
{
    static const json kNull;
    if (!j.is_object()) return kNull;
    const auto it = j.find(key);
    return it != j.end() ? *it : kNull;
}

namespace {

std::string basename(const std::string& path)
{
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

class Builder {
public:
    explicit Builder(CallTree& t) : t_(t)
    {
        add_frame({"all", "", "", 0, false});
        t_.frame.push_back(0);
        t_.parent.push_back(0);
        t_.self.push_back({});
    }

    void read_stacks(const json& stacks)
    {
        if (!stacks.is_object()) return;
        for (const auto& [id, frames] : stacks.items()) {
            if (!frames.is_array()) continue;
            std::vector<std::uint32_t>& out =
                t_.stacks[static_cast<std::uint32_t>(std::strtoul(id.c_str(), nullptr, 10))];
            for (const json& f : frames) {
                TreeFrame tf{get_string(f, "function"), get_string(f, "file"),
                             get_string(f, "module"), static_cast<int>(get_int(f, "line")),
                             get(f, "inlined").is_boolean() && get(f, "inlined").get<bool>()};
                if (tf.function.empty())
                    tf.function = fmt::format(
                        "{}+{}", basename(tf.module).empty() ? "?" : basename(tf.module),
                        get_string(f, "offset"));
                out.push_back(add_frame(std::move(tf)));
            }
        }
    }

    // The node a stack ends at (created with its path).
    std::uint32_t leaf(std::uint32_t stack)
    {
        if (const auto it = leaf_.find(stack); it != leaf_.end()) return it->second;
        std::uint32_t node = 0;
        const auto it = t_.stacks.find(stack);
        if (stack == 0) {
            node = child(0, pseudo("[no stack recorded]"));
        } else if (it == t_.stacks.end() || it->second.empty()) {
            node = child(0, pseudo("[sites without symbols]"));
        } else {
            for (auto f = it->second.rbegin(); f != it->second.rend(); ++f)
                node = child(node, *f);
        }
        leaf_.emplace(stack, node);
        return node;
    }

    void add(std::uint32_t stack, Column c, std::int64_t v)
    {
        if (v != 0) t_.self[leaf(stack)][static_cast<std::size_t>(c)] += v;
    }

private:
    std::uint32_t add_frame(TreeFrame f)
    {
        const auto [it, inserted] =
            frame_ids_.emplace(std::move(f), static_cast<std::uint32_t>(t_.frames.size()));
        if (inserted) t_.frames.push_back(it->first);
        return it->second;
    }

    std::uint32_t pseudo(const char* name) { return add_frame({name, "", "", 0, false}); }

    // Children are keyed by (function, module): the lines of the calls from one function merge.
    std::uint32_t child(std::uint32_t parent, std::uint32_t frame)
    {
        const TreeFrame& f = t_.frames[frame];
        std::string key = fmt::format("{}\n{}\n{}", parent, f.function, f.module);
        const auto [it, inserted] =
            children_.emplace(std::move(key), static_cast<std::uint32_t>(t_.parent.size()));
        if (inserted) {
            t_.frame.push_back(frame);
            t_.parent.push_back(parent);
            t_.self.push_back({});
        }
        return it->second;
    }

    CallTree& t_;
    std::map<TreeFrame, std::uint32_t> frame_ids_;
    std::unordered_map<std::string, std::uint32_t> children_;
    std::unordered_map<std::uint32_t, std::uint32_t> leaf_;
};

void compute_totals(CallTree& t)
{
    t.total = t.self;
    for (std::size_t n = t.size(); n-- > 1;)
        for (std::size_t c = 0; c < kColumns; ++c)
            t.total[t.parent[n]][c] += t.total[n][c];
}

}  // namespace

CallTree build_call_tree(const json& report)
{
    CallTree t;
    Builder b(t);
    b.read_stacks(get(report, "stacks"));
    const json& sites = get(report, "sites");
    if (sites.is_array())
        for (const json& s : sites) {
            const auto stack = static_cast<std::uint32_t>(get_int(s, "stack"));
            b.add(stack, Column::peak, get_int(s, "peak_bytes"));
            b.add(stack, Column::exit, get_int(s, "exit_bytes"));
            b.add(stack, Column::alloc_bytes, get_int(s, "bytes_allocated"));
            b.add(stack, Column::alloc_count, get_int(s, "allocations"));
            b.add(stack, Column::peak_blocks, get_int(s, "peak_blocks"));
            b.add(stack, Column::exit_blocks, get_int(s, "exit_blocks"));
        }
    const json& leaks = get(report, "leaks");
    const std::pair<const char*, Column> kinds[] = {
        {"direct", Column::direct}, {"indirect", Column::indirect}, {"possible", Column::possible}};
    for (const auto& [kind, column] : kinds) {
        const json& groups = get(leaks, kind);
        if (!groups.is_array()) continue;
        for (const json& g : groups) {
            const auto stack = static_cast<std::uint32_t>(get_int(g, "stack"));
            b.add(stack, column, get_int(g, "bytes"));
            b.add(stack, Column::leak_blocks, get_int(g, "blocks"));
        }
    }
    compute_totals(t);
    return t;
}

CallTree fold(const CallTree& tree, double threshold, std::size_t max_nodes)
{
    for (;;) {
        const Values& root = tree.total[0];
        std::vector<bool> keep(tree.size(), false);
        std::size_t kept = 1;
        keep[0] = true;
        for (std::size_t n = 1; n < tree.size(); ++n) {
            if (!keep[tree.parent[n]]) continue;
            // The views decide; the block counts only ride along (the tooltips show them).
            for (std::size_t c = 0; c < kViewColumns && !keep[n]; ++c)
                keep[n] = root[c] > 0 && tree.total[n][c] > 0 &&
                          static_cast<double>(tree.total[n][c]) >=
                              threshold * static_cast<double>(root[c]);
            kept += keep[n];
        }
        // One "[other]" per parent that lost children: count them too.
        std::vector<bool> has_other(tree.size(), false);
        for (std::size_t n = 1; n < tree.size(); ++n)
            if (!keep[n] && keep[tree.parent[n]] && !has_other[tree.parent[n]]) {
                has_other[tree.parent[n]] = true;
                ++kept;
            }
        if (kept > max_nodes && threshold < 1.0) {
            threshold = threshold > 0 ? threshold * 2 : 1e-6;
            continue;
        }
        CallTree out;
        out.frames = tree.frames;
        out.stacks = tree.stacks;
        out.threshold = threshold;
        out.frames.push_back({"[other]", "", "", 0, false});
        const auto other_frame = static_cast<std::uint32_t>(out.frames.size() - 1);
        std::vector<std::uint32_t> index(tree.size(), 0), other(tree.size(), 0);
        for (std::size_t n = 0; n < tree.size(); ++n) {
            const std::uint32_t p = tree.parent[n];
            if (n == 0 || keep[n]) {
                index[n] = static_cast<std::uint32_t>(out.parent.size());
                out.frame.push_back(tree.frame[n]);
                out.parent.push_back(n == 0 ? 0 : index[p]);
                out.self.push_back(tree.self[n]);
            } else if (keep[p]) {
                if (other[p] == 0) {
                    other[p] = static_cast<std::uint32_t>(out.parent.size());
                    out.frame.push_back(other_frame);
                    out.parent.push_back(index[p]);
                    out.self.push_back({});
                }
                for (std::size_t c = 0; c < kColumns; ++c)
                    out.self[other[p]][c] += tree.total[n][c];
                ++out.folded_nodes;
            } else {
                ++out.folded_nodes;  // inside a folded subtree: counted in its total already
            }
        }
        compute_totals(out);
        return out;
    }
}

}  // namespace memtrack::launcher
