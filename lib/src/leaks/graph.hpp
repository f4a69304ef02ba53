// Analysis of the leaked subgraph: direct/indirect classification, strongly connected groups
// (reference cycles) in cycle order, and folding of same-shaped cycles. Pure algorithms on
// indices, no I/O; iterative (no recursion), O(nodes + edges). Runs after the world is resumed;
// allocates (std::vector under the caller's Guard). Not thread-safe; no shared state.
//
// Input: nodes 0..n-1 are the unreachable blocks; edges in CSR form: node i points at
// targets[offsets[i] .. offsets[i+1]) (duplicates and self-edges allowed). Precondition, not
// checked: offsets non-decreasing, offsets.back() == targets.size(), every target < n.
#pragma once

#include <cstdint>
#include <vector>

namespace memtrack::detail::leaks {

struct LeakGraph {
    std::vector<std::uint32_t> offsets;  // size n + 1, offsets[0] = 0
    std::vector<std::uint32_t> targets;
    std::uint32_t size() const noexcept
    {
        return offsets.empty() ? 0 : static_cast<std::uint32_t>(offsets.size() - 1);
    }
};

enum class LeakKind : std::uint8_t {
    Direct,   // no other unreachable block points at it (its own self-edge does not count)
    Indirect  // some other unreachable block points at it
};

struct Cycle {
    // Members in cycle order: the DFS preorder inside the SCC starting at its smallest node
    // index and following edges in CSR order. Every member after the first is pointed at by an
    // earlier one (its DFS parent); for a simple cycle that is always the previous member, and
    // the last points back at the first.
    std::vector<std::uint32_t> members;
    bool self_loop = false;  // one member pointing at itself
    bool pure = false;       // no edge from outside the group points into it
    // Some Direct node reaches it through leaked edges. A Direct self-loop node reaches itself
    // through its self-edge, so it counts: false means no Direct leak's report covers the cycle.
    bool reached_from_direct = false;
};

struct Analysis {
    std::vector<LeakKind> kind;        // per node
    std::vector<std::uint32_t> group;  // SCC id per node
    std::vector<Cycle> cycles;         // SCCs with more than one member or a self-edge,
                                       // ordered by their smallest member
};

Analysis analyze(const LeakGraph& graph);

// Cycles of the same shape from the same sites, folded: two cycles fold when their member
// sequences of (size, stack id), compared up to rotation, are equal.
struct FoldedCycle {
    std::uint32_t example;  // index into Analysis::cycles of the first such cycle
    std::uint32_t count;    // how many cycles have this shape
};
std::vector<FoldedCycle> fold_cycles(const Analysis& analysis,
                                     const std::vector<std::uint64_t>& node_size,
                                     const std::vector<std::uint32_t>& node_stack);

}  // namespace memtrack::detail::leaks
