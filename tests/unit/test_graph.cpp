// Leak-graph analysis: kinds, SCC groups, cycles in cycle order, purity, reach from direct
// leaks, million-node inputs (no recursion), and folding of same-shaped cycles.
#include "leaks/graph.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace ml = memtrack::detail::leaks;
using ml::LeakKind;

namespace {

using Edges = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
using Members = std::vector<std::uint32_t>;

// CSR graph from an edge list; each node's targets keep the order they have in the list.
ml::LeakGraph make_graph(std::uint32_t n, const Edges& edges)
{
    ml::LeakGraph g;
    g.offsets.assign(n + 1, 0);
    for (const auto& [from, to] : edges)
        ++g.offsets[from + 1];
    for (std::uint32_t i = 0; i < n; ++i)
        g.offsets[i + 1] += g.offsets[i];
    g.targets.resize(edges.size());
    std::vector<std::uint32_t> fill(g.offsets.begin(), g.offsets.end() - 1);
    for (const auto& [from, to] : edges)
        g.targets[fill[from]++] = to;
    return g;
}

// Ring 0 -> 1 -> ... -> n-1 -> 0 shifted by `base`, appended to `edges`.
void add_ring(Edges& edges, std::uint32_t base, std::uint32_t n)
{
    for (std::uint32_t i = 0; i < n; ++i)
        edges.emplace_back(base + i, base + (i + 1) % n);
}

std::set<std::uint32_t> distinct(const std::vector<std::uint32_t>& v)
{
    return {v.begin(), v.end()};
}

}  // namespace

TEST_CASE("graph: empty graph", "[graph]")
{
    for (const ml::LeakGraph& g : {ml::LeakGraph{}, make_graph(0, {})}) {
        const ml::Analysis a = ml::analyze(g);
        CHECK(g.size() == 0);
        CHECK(a.kind.empty());
        CHECK(a.group.empty());
        CHECK(a.cycles.empty());
        CHECK(ml::fold_cycles(a, {}, {}).empty());
    }
}

TEST_CASE("graph: single node without edges is direct and no cycle", "[graph]")
{
    const ml::Analysis a = ml::analyze(make_graph(1, {}));
    REQUIRE(a.kind.size() == 1);
    CHECK(a.kind[0] == LeakKind::Direct);
    REQUIRE(a.group.size() == 1);
    CHECK(a.group[0] == 0);
    CHECK(a.cycles.empty());
}

TEST_CASE("graph: list has one direct head and indirect rest, no cycles", "[graph]")
{
    const std::uint32_t n = 50;
    Edges edges;
    for (std::uint32_t i = 0; i + 1 < n; ++i)
        edges.emplace_back(i, i + 1);
    const ml::Analysis a = ml::analyze(make_graph(n, edges));
    REQUIRE(a.kind.size() == n);
    CHECK(a.kind[0] == LeakKind::Direct);
    for (std::uint32_t i = 1; i < n; ++i)
        CHECK(a.kind[i] == LeakKind::Indirect);
    CHECK(distinct(a.group).size() == n);
    CHECK(a.cycles.empty());
}

TEST_CASE("graph: tree has a direct root and indirect descendants", "[graph]")
{
    // 0 -> {1, 2}, 1 -> {3, 4}, 2 -> 5; node 6 stands alone.
    const ml::Analysis a = ml::analyze(make_graph(7, {{0, 1}, {0, 2}, {1, 3}, {1, 4}, {2, 5}}));
    const std::vector<LeakKind> want = {LeakKind::Direct,   LeakKind::Indirect, LeakKind::Indirect,
                                        LeakKind::Indirect, LeakKind::Indirect, LeakKind::Indirect,
                                        LeakKind::Direct};
    CHECK(a.kind == want);
    CHECK(distinct(a.group).size() == 7);
    CHECK(a.cycles.empty());
}

TEST_CASE("graph: lone self-loop is direct, a pure self-loop cycle reached from itself", "[graph]")
{
    const ml::Analysis a = ml::analyze(make_graph(1, {{0, 0}}));
    REQUIRE(a.kind.size() == 1);
    CHECK(a.kind[0] == LeakKind::Direct);
    REQUIRE(a.cycles.size() == 1);
    const ml::Cycle& c = a.cycles[0];
    CHECK(c.members == Members{0});
    CHECK(c.self_loop);
    CHECK(c.pure);
    CHECK(c.reached_from_direct);
}

TEST_CASE("graph: self-loop pointed at by a direct node is indirect and not pure", "[graph]")
{
    const ml::Analysis a = ml::analyze(make_graph(2, {{0, 1}, {1, 1}}));
    CHECK(a.kind == std::vector<LeakKind>{LeakKind::Direct, LeakKind::Indirect});
    REQUIRE(a.cycles.size() == 1);
    CHECK(a.cycles[0].members == Members{1});
    CHECK(a.cycles[0].self_loop);
    CHECK_FALSE(a.cycles[0].pure);
    CHECK(a.cycles[0].reached_from_direct);
}

TEST_CASE("graph: 2-cycle is pure, both indirect, not reached from a direct node", "[graph]")
{
    const ml::Analysis a = ml::analyze(make_graph(2, {{1, 0}, {0, 1}}));
    CHECK(a.kind == std::vector<LeakKind>{LeakKind::Indirect, LeakKind::Indirect});
    CHECK(a.group[0] == a.group[1]);
    REQUIRE(a.cycles.size() == 1);
    CHECK(a.cycles[0].members == Members{0, 1});
    CHECK_FALSE(a.cycles[0].self_loop);
    CHECK(a.cycles[0].pure);
    CHECK_FALSE(a.cycles[0].reached_from_direct);
}

TEST_CASE("graph: 3-cycle members start at the smallest index and follow the edges", "[graph]")
{
    // 5 -> 2 -> 7 -> 5 among other lone nodes, edges listed out of order.
    const ml::Analysis a = ml::analyze(make_graph(8, {{7, 5}, {5, 2}, {2, 7}}));
    for (std::uint32_t i : {2u, 5u, 7u})
        CHECK(a.kind[i] == LeakKind::Indirect);
    for (std::uint32_t i : {0u, 1u, 3u, 4u, 6u})
        CHECK(a.kind[i] == LeakKind::Direct);
    CHECK(a.group[2] == a.group[5]);
    CHECK(a.group[2] == a.group[7]);
    CHECK(distinct(a.group).size() == 6);
    REQUIRE(a.cycles.size() == 1);
    CHECK(a.cycles[0].members == Members{2, 7, 5});
    CHECK_FALSE(a.cycles[0].self_loop);
    CHECK(a.cycles[0].pure);
    CHECK_FALSE(a.cycles[0].reached_from_direct);
}

TEST_CASE("graph: cycle with a tail pointing into it", "[graph]")
{
    // 0 -> 1 -> 2 -> 3 -> 1: 0 is the direct tail.
    const ml::Analysis a = ml::analyze(make_graph(4, {{0, 1}, {1, 2}, {2, 3}, {3, 1}}));
    CHECK(a.kind == std::vector<LeakKind>{LeakKind::Direct, LeakKind::Indirect, LeakKind::Indirect,
                                          LeakKind::Indirect});
    CHECK(a.group[0] != a.group[1]);
    REQUIRE(a.cycles.size() == 1);
    CHECK(a.cycles[0].members == Members{1, 2, 3});
    CHECK_FALSE(a.cycles[0].self_loop);
    CHECK_FALSE(a.cycles[0].pure);
    CHECK(a.cycles[0].reached_from_direct);
}

TEST_CASE("graph: tail entering the cycle from a higher index", "[graph]")
{
    // The direct node has the largest index, so Tarjan reaches the cycle from a low root first.
    const ml::Analysis a = ml::analyze(make_graph(5, {{0, 1}, {1, 0}, {4, 3}, {3, 1}}));
    CHECK(a.kind[4] == LeakKind::Direct);
    CHECK(a.kind[3] == LeakKind::Indirect);
    CHECK(a.kind[2] == LeakKind::Direct);
    REQUIRE(a.cycles.size() == 1);
    CHECK(a.cycles[0].members == Members{0, 1});
    CHECK_FALSE(a.cycles[0].pure);
    CHECK(a.cycles[0].reached_from_direct);
}

TEST_CASE("graph: reach from direct passes through cycles, purity does not imply reach", "[graph]")
{
    // Pure cycle A = {0,1} points into cycle B = {2,3}: B is not pure, yet no direct node
    // reaches it. Direct 9 -> cycle C = {4,5} -> 6 -> cycle D = {7,8}: C and D are reached.
    const Edges edges = {{0, 1}, {1, 0}, {1, 2}, {2, 3}, {3, 2}, {9, 5},
                         {4, 5}, {5, 4}, {4, 6}, {6, 8}, {7, 8}, {8, 7}};
    const ml::Analysis a = ml::analyze(make_graph(10, edges));
    REQUIRE(a.cycles.size() == 4);
    CHECK(a.cycles[0].members == Members{0, 1});
    CHECK(a.cycles[0].pure);
    CHECK_FALSE(a.cycles[0].reached_from_direct);
    CHECK(a.cycles[1].members == Members{2, 3});
    CHECK_FALSE(a.cycles[1].pure);
    CHECK_FALSE(a.cycles[1].reached_from_direct);
    CHECK(a.cycles[2].members == Members{4, 5});
    CHECK_FALSE(a.cycles[2].pure);
    CHECK(a.cycles[2].reached_from_direct);
    CHECK(a.cycles[3].members == Members{7, 8});
    CHECK_FALSE(a.cycles[3].pure);
    CHECK(a.cycles[3].reached_from_direct);
    CHECK(a.kind[9] == LeakKind::Direct);
    CHECK(a.kind[6] == LeakKind::Indirect);
}

TEST_CASE("graph: two independent cycles are ordered by smallest member", "[graph]")
{
    // Cycle {1,4,6} is listed first in the edges; cycle {0,3} has the smaller member.
    const ml::Analysis a =
        ml::analyze(make_graph(7, {{4, 6}, {6, 1}, {1, 4}, {3, 0}, {0, 3}, {2, 5}}));
    REQUIRE(a.cycles.size() == 2);
    CHECK(a.cycles[0].members == Members{0, 3});
    CHECK(a.cycles[1].members == Members{1, 4, 6});
    CHECK(a.cycles[0].pure);
    CHECK(a.cycles[1].pure);
    CHECK(a.group[0] != a.group[1]);
    CHECK(a.group[1] == a.group[4]);
    CHECK(a.group[4] == a.group[6]);
    CHECK(a.kind[2] == LeakKind::Direct);
    CHECK(a.kind[5] == LeakKind::Indirect);
}

TEST_CASE("graph: duplicate edges change nothing", "[graph]")
{
    const ml::Analysis a = ml::analyze(
        make_graph(5, {{0, 1}, {0, 1}, {1, 0}, {1, 0}, {2, 2}, {2, 2}, {3, 4}, {3, 4}, {3, 4}}));
    CHECK(a.kind == std::vector<LeakKind>{LeakKind::Indirect, LeakKind::Indirect, LeakKind::Direct,
                                          LeakKind::Direct, LeakKind::Indirect});
    REQUIRE(a.cycles.size() == 2);
    CHECK(a.cycles[0].members == Members{0, 1});
    CHECK_FALSE(a.cycles[0].self_loop);
    CHECK(a.cycles[0].pure);
    CHECK(a.cycles[1].members == Members{2});
    CHECK(a.cycles[1].self_loop);
    CHECK(a.cycles[1].pure);
}

TEST_CASE("graph: SCC that is not a simple cycle lists a DFS preorder", "[graph]")
{
    // 0 <-> 1, 0 -> 2 -> 1, 2 <-> 3: one SCC of four. From 0 the DFS follows the edges in
    // CSR order, so the order depends on how 0's edges are listed.
    const ml::Analysis a =
        ml::analyze(make_graph(5, {{0, 1}, {0, 2}, {1, 0}, {2, 1}, {2, 3}, {3, 2}, {4, 3}}));
    REQUIRE(a.cycles.size() == 1);
    CHECK(a.cycles[0].members == Members{0, 1, 2, 3});
    CHECK_FALSE(a.cycles[0].self_loop);
    CHECK_FALSE(a.cycles[0].pure);
    CHECK(a.cycles[0].reached_from_direct);
    CHECK(a.group[0] == a.group[3]);
    CHECK(a.group[4] != a.group[0]);

    const ml::Analysis b =
        ml::analyze(make_graph(4, {{0, 2}, {0, 1}, {1, 0}, {2, 1}, {2, 3}, {3, 2}}));
    REQUIRE(b.cycles.size() == 1);
    CHECK(b.cycles[0].members == Members{0, 2, 1, 3});
    CHECK(b.cycles[0].pure);
    CHECK_FALSE(b.cycles[0].reached_from_direct);
}

TEST_CASE("graph: cycle of 1000000 nodes", "[graph]")
{
    const std::uint32_t n = 1'000'000;
    Edges edges;
    edges.reserve(n);
    add_ring(edges, 0, n);
    const ml::Analysis a = ml::analyze(make_graph(n, edges));
    REQUIRE(a.cycles.size() == 1);
    const ml::Cycle& c = a.cycles[0];
    REQUIRE(c.members.size() == n);
    bool in_order = true;
    for (std::uint32_t i = 0; i < n; ++i)
        in_order = in_order && c.members[i] == i;
    CHECK(in_order);
    CHECK(c.pure);
    CHECK_FALSE(c.reached_from_direct);
    CHECK(distinct(a.group).size() == 1);
    bool all_indirect = true;
    for (LeakKind k : a.kind)
        all_indirect = all_indirect && k == LeakKind::Indirect;
    CHECK(all_indirect);

    std::vector<std::uint64_t> sizes(n, 24);
    std::vector<std::uint32_t> stacks(n, 3);
    const auto folded = ml::fold_cycles(a, sizes, stacks);
    REQUIRE(folded.size() == 1);
    CHECK(folded[0].example == 0);
    CHECK(folded[0].count == 1);
}

TEST_CASE("graph: list of 1000000 nodes, walked from the head and from the tail", "[graph]")
{
    const std::uint32_t n = 1'000'000;
    for (bool forward : {true, false}) {
        Edges edges;
        edges.reserve(n);
        for (std::uint32_t i = 0; i + 1 < n; ++i)
            edges.emplace_back(forward ? i : i + 1, forward ? i + 1 : i);
        const ml::Analysis a = ml::analyze(make_graph(n, edges));
        const std::uint32_t head = forward ? 0 : n - 1;
        std::uint32_t direct = 0;
        for (std::uint32_t i = 0; i < n; ++i)
            direct += a.kind[i] == LeakKind::Direct ? 1 : 0;
        CHECK(direct == 1);
        CHECK(a.kind[head] == LeakKind::Direct);
        CHECK(a.cycles.empty());
        CHECK(distinct(a.group).size() == n);
    }
}

TEST_CASE("graph: random graphs match a brute-force reachability check", "[graph]")
{
    std::mt19937 rng(20240604);
    for (int round = 0; round < 200; ++round) {
        const std::uint32_t n = 1 + rng() % 12;
        const std::uint32_t m = rng() % (3 * n);
        Edges edges;
        for (std::uint32_t e = 0; e < m; ++e)
            edges.emplace_back(rng() % n, rng() % n);
        const ml::LeakGraph g = make_graph(n, edges);
        const ml::Analysis a = ml::analyze(g);

        // reach[u][v]: a path of one or more edges from u to v.
        std::vector<std::vector<bool>> edge(n, std::vector<bool>(n, false));
        for (const auto& [u, v] : edges)
            edge[u][v] = true;
        auto reach = edge;
        for (std::uint32_t k = 0; k < n; ++k)
            for (std::uint32_t i = 0; i < n; ++i)
                for (std::uint32_t j = 0; j < n; ++j)
                    if (reach[i][k] && reach[k][j]) reach[i][j] = true;

        std::vector<LeakKind> kind(n, LeakKind::Direct);
        for (const auto& [u, v] : edges)
            if (u != v) kind[v] = LeakKind::Indirect;
        REQUIRE(a.kind == kind);

        auto same_scc = [&](std::uint32_t u, std::uint32_t v) {
            return u == v || (reach[u][v] && reach[v][u]);
        };
        for (std::uint32_t u = 0; u < n; ++u)
            for (std::uint32_t v = 0; v < n; ++v)
                REQUIRE((a.group[u] == a.group[v]) == same_scc(u, v));

        std::vector<std::vector<std::uint32_t>> want;  // cyclic SCCs by smallest member
        for (std::uint32_t u = 0; u < n; ++u) {
            bool smallest = true;
            for (std::uint32_t v = 0; v < u; ++v)
                smallest = smallest && !same_scc(u, v);
            if (!smallest || !reach[u][u]) continue;
            std::vector<std::uint32_t> scc;
            for (std::uint32_t v = u; v < n; ++v)
                if (same_scc(u, v)) scc.push_back(v);
            want.push_back(scc);
        }
        REQUIRE(a.cycles.size() == want.size());
        for (std::size_t c = 0; c < want.size(); ++c) {
            const ml::Cycle& cy = a.cycles[c];
            const std::vector<std::uint32_t>& scc = want[c];
            CHECK(distinct(cy.members) == distinct(scc));
            REQUIRE(cy.members.size() == scc.size());
            CHECK(cy.members[0] == scc[0]);
            CHECK(cy.self_loop == (scc.size() == 1));
            for (std::size_t i = 1; i < cy.members.size(); ++i) {
                bool has_parent = false;
                for (std::size_t p = 0; p < i; ++p)
                    has_parent = has_parent || edge[cy.members[p]][cy.members[i]];
                CHECK(has_parent);
            }
            bool entered = false;
            bool from_direct = false;
            for (std::uint32_t u = 0; u < n; ++u) {
                for (std::uint32_t v : scc)
                    entered = entered || (!same_scc(u, v) && edge[u][v]);
                from_direct = from_direct || (kind[u] == LeakKind::Direct && reach[u][scc[0]]);
            }
            CHECK(cy.pure == !entered);
            CHECK(cy.reached_from_direct == from_direct);
        }
    }
}

TEST_CASE("graph: fold 10 identical 2-cycles, keep a different-size cycle apart", "[graph]")
{
    // Nodes 0..2: a 3-cycle (cycle 0). Then ten 2-cycles (cycles 1..10), half of them stored
    // with the pair the other way round (a rotation), then a 2-cycle of other sizes.
    const std::uint32_t n = 3 + 20 + 2;
    Edges edges;
    add_ring(edges, 0, 3);
    for (std::uint32_t i = 0; i < 11; ++i)
        add_ring(edges, 3 + 2 * i, 2);
    std::vector<std::uint64_t> sizes(n);
    std::vector<std::uint32_t> stacks(n);
    for (std::uint32_t i = 0; i < 3; ++i) {
        sizes[i] = 48;
        stacks[i] = 7;
    }
    for (std::uint32_t i = 0; i < 10; ++i) {
        const std::uint32_t first = 3 + 2 * i;
        const bool flip = i % 2 == 1;
        sizes[first] = flip ? 32 : 16;
        stacks[first] = flip ? 2 : 1;
        sizes[first + 1] = flip ? 16 : 32;
        stacks[first + 1] = flip ? 1 : 2;
    }
    sizes[23] = 16;
    stacks[23] = 1;
    sizes[24] = 33;
    stacks[24] = 2;

    const ml::Analysis a = ml::analyze(make_graph(n, edges));
    REQUIRE(a.cycles.size() == 12);
    const auto folded = ml::fold_cycles(a, sizes, stacks);
    REQUIRE(folded.size() == 3);
    CHECK(folded[0].example == 0);
    CHECK(folded[0].count == 1);
    CHECK(folded[1].example == 1);
    CHECK(folded[1].count == 10);
    CHECK(folded[2].example == 11);
    CHECK(folded[2].count == 1);
}

TEST_CASE("graph: fold compares up to rotation, not reflection, with stacks", "[graph]")
{
    // Five 3-cycles with (size) sequences ABC, BCA, ACB, CAB and ABC again but one other stack.
    const std::uint32_t n = 15;
    Edges edges;
    for (std::uint32_t c = 0; c < 5; ++c)
        add_ring(edges, 3 * c, 3);
    const std::vector<std::uint64_t> sizes = {1, 2, 3, 2, 3, 1, 1, 3, 2, 3, 1, 2, 1, 2, 3};
    std::vector<std::uint32_t> stacks(n, 0);
    stacks[13] = 9;
    const ml::Analysis a = ml::analyze(make_graph(n, edges));
    REQUIRE(a.cycles.size() == 5);
    const auto folded = ml::fold_cycles(a, sizes, stacks);
    REQUIRE(folded.size() == 3);
    CHECK(folded[0].example == 0);  // ABC, BCA, CAB
    CHECK(folded[0].count == 3);
    CHECK(folded[1].example == 2);  // ACB
    CHECK(folded[1].count == 1);
    CHECK(folded[2].example == 4);  // ABC with another stack
    CHECK(folded[2].count == 1);
}

TEST_CASE("graph: fold every rotation of a sequence with repeats into one", "[graph]")
{
    // All 7 rotations of AABAABA, where candidate starts tie for several elements, fold into
    // one. A period-2 4-cycle ABAB does not fold with the 2-cycle BA (lengths differ), nor with
    // a 3-cycle of equal members.
    const std::vector<std::uint64_t> base = {1, 1, 2, 1, 1, 2, 1};
    const auto k = static_cast<std::uint32_t>(base.size());
    Edges edges;
    std::vector<std::uint64_t> sizes;
    for (std::uint32_t r = 0; r < k; ++r) {
        add_ring(edges, r * k, k);
        for (std::uint32_t i = 0; i < k; ++i)
            sizes.push_back(base[(i + r) % k]);
    }
    const std::uint32_t abab = k * k;
    add_ring(edges, abab, 4);
    for (std::uint64_t s : {1, 2, 1, 2})
        sizes.push_back(s);
    const std::uint32_t ab = abab + 4;
    add_ring(edges, ab, 2);
    sizes.push_back(2);
    sizes.push_back(1);
    const std::uint32_t all_same = ab + 2;
    add_ring(edges, all_same, 3);
    for (int i = 0; i < 3; ++i)
        sizes.push_back(5);
    const std::uint32_t n = all_same + 3;
    REQUIRE(sizes.size() == n);
    const std::vector<std::uint32_t> stacks(n, 4);

    const ml::Analysis a = ml::analyze(make_graph(n, edges));
    REQUIRE(a.cycles.size() == k + 3);
    const auto folded = ml::fold_cycles(a, sizes, stacks);
    REQUIRE(folded.size() == 4);
    CHECK(folded[0].example == 0);
    CHECK(folded[0].count == k);
    CHECK(folded[1].example == k);
    CHECK(folded[1].count == 1);
    CHECK(folded[2].example == k + 1);
    CHECK(folded[2].count == 1);
    CHECK(folded[3].example == k + 2);
    CHECK(folded[3].count == 1);
}

TEST_CASE("graph: fold self-loops and order results by first occurrence", "[graph]")
{
    // Cycles in order: self-loop X, 2-cycle P, self-loop Y, self-loop X, 2-cycle P.
    const ml::Analysis a =
        ml::analyze(make_graph(7, {{0, 0}, {1, 2}, {2, 1}, {3, 3}, {4, 4}, {5, 6}, {6, 5}}));
    REQUIRE(a.cycles.size() == 5);
    const std::vector<std::uint64_t> sizes = {8, 8, 8, 9, 8, 8, 8};
    const std::vector<std::uint32_t> stacks = {1, 1, 1, 1, 1, 1, 1};
    const auto folded = ml::fold_cycles(a, sizes, stacks);
    REQUIRE(folded.size() == 3);
    CHECK(folded[0].example == 0);
    CHECK(folded[0].count == 2);
    CHECK(folded[1].example == 1);
    CHECK(folded[1].count == 2);
    CHECK(folded[2].example == 2);
    CHECK(folded[2].count == 1);
}

TEST_CASE("graph: fold does not merge a periodic cycle with its period", "[graph]")
{
    // AB, ABAB, ABABAB and AB again: only the two 2-cycles fold.
    Edges edges;
    add_ring(edges, 0, 2);
    add_ring(edges, 2, 4);
    add_ring(edges, 6, 6);
    add_ring(edges, 12, 2);
    std::vector<std::uint64_t> sizes;
    for (std::uint32_t i = 0; i < 14; ++i)
        sizes.push_back(i % 2 == 0 ? 16 : 32);
    const std::vector<std::uint32_t> stacks(14, 1);
    const ml::Analysis a = ml::analyze(make_graph(14, edges));
    REQUIRE(a.cycles.size() == 4);
    const auto folded = ml::fold_cycles(a, sizes, stacks);
    REQUIRE(folded.size() == 3);
    CHECK(folded[0].example == 0);
    CHECK(folded[0].count == 2);
    CHECK(folded[1].example == 1);
    CHECK(folded[1].count == 1);
    CHECK(folded[2].example == 2);
    CHECK(folded[2].count == 1);
}

TEST_CASE("graph: fold of many interleaved shapes names the first of each as example", "[graph]")
{
    // 300 2-cycles whose shapes repeat with period 3; each shape's example is its first cycle.
    const std::uint32_t cycles = 300;
    Edges edges;
    std::vector<std::uint64_t> sizes;
    for (std::uint32_t c = 0; c < cycles; ++c) {
        add_ring(edges, 2 * c, 2);
        const std::uint64_t shape = c % 3;
        // Alternate the orientation too, so equal shapes arrive as different rotations.
        sizes.push_back(c % 2 == 0 ? 100 + shape : 200 + shape);
        sizes.push_back(c % 2 == 0 ? 200 + shape : 100 + shape);
    }
    const std::vector<std::uint32_t> stacks(2 * cycles, 6);
    const ml::Analysis a = ml::analyze(make_graph(2 * cycles, edges));
    REQUIRE(a.cycles.size() == cycles);
    const auto folded = ml::fold_cycles(a, sizes, stacks);
    REQUIRE(folded.size() == 3);
    for (std::uint32_t s = 0; s < 3; ++s) {
        CHECK(folded[s].example == s);
        CHECK(folded[s].count == 100);
    }
}
