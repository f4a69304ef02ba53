// Leak-graph analysis: direct/indirect kinds, SCCs (iterative Tarjan), cycles in cycle order,
// and folding of same-shaped cycles. Cold path: allocates std::vectors, no I/O, no recursion;
// analyze is O(nodes + edges), fold_cycles O(total members * log cycles).
#include "leaks/graph.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <utility>

namespace memtrack::detail::leaks {

// Data model. The graph arrives in CSR form (offsets/targets). analyze makes one pass over the
// edges for the kinds, one iterative Tarjan pass for the SCCs, and then works on the groups:
//
// - Tarjan numbers each SCC when it completes, and an SCC completes only after every SCC it
//   reaches has completed. So for every edge u -> v between different groups,
//   group[v] < group[u]: descending group id is a topological order of the condensation DAG.
//   reached_from_direct is one pass over the groups in that order, pushing a "reached" flag
//   along the edges that leave each group.
// - A node is on Tarjan's stack exactly when it has a DFS index but no group yet, so no
//   separate on-stack array is kept.
// - Members of each group are bucketed by group id (a counting sort over the nodes, so each
//   bucket is in ascending node order and its first entry is the smallest member).
// - Cycle order: an iterative DFS from the smallest member that follows edges in CSR order and
//   stays inside the group; members are listed in preorder. Every member after the first is
//   pointed at by an earlier member (its DFS parent). For a simple cycle (each member has one
//   distinct successor inside the group) the DFS just walks the ring, so each member points at
//   the next and the last points back at the first. Each group's DFS touches only its own
//   members' edges, so all of them together are O(nodes + edges).
//
// Precondition (not checked): offsets is non-decreasing, offsets.back() == targets.size(), and
// every target is < size().

namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

// Start of the lexicographically least rotation of s (two-pointer "minimum expression"
// algorithm, O(k) comparisons). Candidates i and j are compared k elements deep; on a mismatch
// the losing candidate and the k positions after it cannot start a least rotation.
template <typename T> std::size_t least_rotation(const std::vector<T>& s)
{
    const std::size_t n = s.size();
    std::size_t i = 0;
    std::size_t j = 1;
    std::size_t k = 0;
    while (i < n && j < n && k < n) {
        const T& a = s[(i + k) % n];
        const T& b = s[(j + k) % n];
        if (a == b) {
            ++k;
            continue;
        }
        if (b < a)
            i += k + 1;
        else
            j += k + 1;
        if (i == j) ++j;
        k = 0;
    }
    return std::min(i, j);
}

}  // namespace

Analysis analyze(const LeakGraph& graph)
{
    const std::uint32_t n = graph.size();
    const std::vector<std::uint32_t>& off = graph.offsets;
    const std::vector<std::uint32_t>& tgt = graph.targets;

    Analysis result;
    result.kind.assign(n, LeakKind::Direct);
    result.group.assign(n, kNone);
    if (n == 0) return result;

    // Kinds and self-edges.
    std::vector<std::uint8_t> self_edge(n, 0);
    for (std::uint32_t u = 0; u < n; ++u) {
        for (std::uint32_t e = off[u]; e < off[u + 1]; ++e) {
            const std::uint32_t v = tgt[e];
            if (v == u)
                self_edge[u] = 1;
            else
                result.kind[v] = LeakKind::Indirect;
        }
    }

    // Iterative Tarjan. A frame is (node, next edge to look at).
    std::vector<std::uint32_t>& group = result.group;
    std::vector<std::uint32_t> index(n, kNone);
    std::vector<std::uint32_t> low(n, 0);
    std::vector<std::uint32_t> scc_stack;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> frames;
    std::uint32_t next_index = 0;
    std::uint32_t groups = 0;
    for (std::uint32_t root = 0; root < n; ++root) {
        if (index[root] != kNone) continue;
        index[root] = low[root] = next_index++;
        scc_stack.push_back(root);
        frames.emplace_back(root, off[root]);
        while (!frames.empty()) {
            auto& [v, pos] = frames.back();
            if (pos < off[v + 1]) {
                const std::uint32_t w = tgt[pos++];
                if (index[w] == kNone) {
                    index[w] = low[w] = next_index++;
                    scc_stack.push_back(w);
                    frames.emplace_back(w, off[w]);  // invalidates v and pos
                } else if (group[w] == kNone) {      // w is on the SCC stack
                    low[v] = std::min(low[v], index[w]);
                }
                continue;
            }
            const std::uint32_t done = v;
            frames.pop_back();
            if (low[done] == index[done]) {
                std::uint32_t w = kNone;
                do {
                    w = scc_stack.back();
                    scc_stack.pop_back();
                    group[w] = groups;
                } while (w != done);
                ++groups;
            }
            if (!frames.empty()) {
                const std::uint32_t parent = frames.back().first;
                low[parent] = std::min(low[parent], low[done]);
            }
        }
    }

    // Members bucketed by group, ascending node order inside each bucket.
    std::vector<std::uint32_t> group_off(static_cast<std::size_t>(groups) + 1, 0);
    for (std::uint32_t u = 0; u < n; ++u)
        ++group_off[group[u] + 1];
    for (std::uint32_t g = 0; g < groups; ++g)
        group_off[g + 1] += group_off[g];
    std::vector<std::uint32_t> members(n);
    {
        std::vector<std::uint32_t> fill(group_off.begin(), group_off.end() - 1);
        for (std::uint32_t u = 0; u < n; ++u)
            members[fill[group[u]]++] = u;
    }

    // Edges entering a group from outside (for pure).
    std::vector<std::uint8_t> entered(groups, 0);
    for (std::uint32_t u = 0; u < n; ++u)
        for (std::uint32_t e = off[u]; e < off[u + 1]; ++e)
            if (group[tgt[e]] != group[u]) entered[group[tgt[e]]] = 1;

    // Reached from a Direct node: seed every group holding a Direct node (only singletons can:
    // a member of a larger group is pointed at by another member), then push the flag along
    // the condensation DAG in topological order (descending group id).
    std::vector<std::uint8_t> reached(groups, 0);
    for (std::uint32_t u = 0; u < n; ++u)
        if (result.kind[u] == LeakKind::Direct) reached[group[u]] = 1;
    for (std::uint32_t g = groups; g-- > 0;) {
        if (!reached[g]) continue;
        for (std::uint32_t m = group_off[g]; m < group_off[g + 1]; ++m) {
            const std::uint32_t u = members[m];
            for (std::uint32_t e = off[u]; e < off[u + 1]; ++e)
                reached[group[tgt[e]]] = 1;
        }
    }

    // Cycles, ordered by smallest member: walk the nodes in ascending order and emit a group
    // when its smallest member comes up. `index` is reused as the in-group DFS visited mark.
    std::fill(index.begin(), index.end(), kNone);
    std::vector<std::uint32_t> dfs;
    for (std::uint32_t u = 0; u < n; ++u) {
        const std::uint32_t g = group[u];
        const std::uint32_t size = group_off[g + 1] - group_off[g];
        if (members[group_off[g]] != u || (size == 1 && !self_edge[u])) continue;
        Cycle cycle;
        cycle.self_loop = size == 1;
        cycle.pure = !entered[g];
        cycle.reached_from_direct = reached[g] != 0;
        cycle.members.reserve(size);
        // Preorder DFS inside the group; frames hold (node, next edge) as in Tarjan.
        index[u] = 0;
        cycle.members.push_back(u);
        frames.emplace_back(u, off[u]);
        while (!frames.empty()) {
            auto& [v, pos] = frames.back();
            if (pos == off[v + 1]) {
                frames.pop_back();
                continue;
            }
            const std::uint32_t w = tgt[pos++];
            if (group[w] == g && index[w] == kNone) {
                index[w] = 0;
                cycle.members.push_back(w);
                frames.emplace_back(w, off[w]);  // invalidates v and pos
            }
        }
        result.cycles.push_back(std::move(cycle));
    }
    return result;
}

// Each cycle becomes its sequence of (size, stack id) rotated to its least rotation; equal
// canonical sequences are then found by sorting cycle indices on (length, sequence, index).
// Comparing two cycles costs at most their length, so the sort is O(total members * log
// cycles); the least rotations are linear.
std::vector<FoldedCycle> fold_cycles(const Analysis& analysis,
                                     const std::vector<std::uint64_t>& node_size,
                                     const std::vector<std::uint32_t>& node_stack)
{
    using Key = std::pair<std::uint64_t, std::uint32_t>;
    const std::vector<Cycle>& cycles = analysis.cycles;
    const auto count = static_cast<std::uint32_t>(cycles.size());

    std::vector<std::size_t> start(static_cast<std::size_t>(count) + 1, 0);
    for (std::uint32_t c = 0; c < count; ++c)
        start[c + 1] = start[c] + cycles[c].members.size();
    std::vector<Key> canon(start[count]);
    std::vector<Key> seq;
    for (std::uint32_t c = 0; c < count; ++c) {
        seq.clear();
        for (std::uint32_t m : cycles[c].members)
            seq.emplace_back(node_size[m], node_stack[m]);
        const std::size_t r = seq.empty() ? 0 : least_rotation(seq);
        std::rotate_copy(seq.begin(), seq.begin() + static_cast<std::ptrdiff_t>(r), seq.end(),
                         canon.begin() + static_cast<std::ptrdiff_t>(start[c]));
    }

    auto begin_of = [&](std::uint32_t c) {
        return canon.begin() + static_cast<std::ptrdiff_t>(start[c]);
    };
    auto end_of = [&](std::uint32_t c) {
        return canon.begin() + static_cast<std::ptrdiff_t>(start[c + 1]);
    };
    auto length = [&](std::uint32_t c) { return start[c + 1] - start[c]; };
    auto same = [&](std::uint32_t a, std::uint32_t b) {
        return length(a) == length(b) && std::equal(begin_of(a), end_of(a), begin_of(b));
    };

    std::vector<std::uint32_t> order(count);
    for (std::uint32_t c = 0; c < count; ++c)
        order[c] = c;
    std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
        if (length(a) != length(b)) return length(a) < length(b);
        const auto [ia, ib] = std::mismatch(begin_of(a), end_of(a), begin_of(b));
        if (ia != end_of(a)) return *ia < *ib;
        return a < b;
    });

    // Runs of equal shapes; the first of a run has the smallest index (the tie-break above).
    std::vector<FoldedCycle> folded;
    for (std::uint32_t i = 0; i < count;) {
        std::uint32_t j = i + 1;
        while (j < count && same(order[i], order[j]))
            ++j;
        folded.push_back(FoldedCycle{order[i], j - i});
        i = j;
    }
    std::sort(folded.begin(), folded.end(),
              [](const FoldedCycle& a, const FoldedCycle& b) { return a.example < b.example; });
    return folded;
}

}  // namespace memtrack::detail::leaks
