// The call tree of a saved report (cold, launcher only; may allocate and throw): every site's
// and leak group's stack, root first, merged by (function, module), with one value column per
// view (live at peak, live at exit, bytes allocated, allocation count, leaked direct, indirect
// and possible; blocks at peak, at exit and leaked). For the HTML report and any export that
// needs "report -> tree".
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace memtrack::launcher {

// Lenient readers of a report's JSON (the call tree and the HTML page take what they can read):
// a member's integer (0 if missing or not a number), string ("" likewise), or the member itself
// (null if missing or `j` is not an object).
std::int64_t get_int(const nlohmann::json& j, const char* key);
std::string get_string(const nlohmann::json& j, const char* key);
const nlohmann::json& get(const nlohmann::json& j, const char* key);

// The views of the tree, in the order of the value columns.
enum class Column : std::size_t {
    peak,
    exit,
    alloc_bytes,
    alloc_count,
    direct,
    indirect,
    possible,
    peak_blocks,
    exit_blocks,
    leak_blocks,  // direct, indirect and possible together
    count_
};
inline constexpr std::size_t kColumns = static_cast<std::size_t>(Column::count_);
inline constexpr std::array<const char*, kColumns> kColumnNames = {
    "peak",     "exit",     "alloc_bytes", "alloc_count", "direct",
    "indirect", "possible", "peak_blocks", "exit_blocks", "leak_blocks"};
// The columns before peak_blocks are views (the flame graph draws them); the block counts are not.
inline constexpr std::size_t kViewColumns = static_cast<std::size_t>(Column::peak_blocks);
using Values = std::array<std::int64_t, kColumns>;

// One frame of a stack as the report gives it; `function` is never empty (an unsymbolized
// frame is named `module+0xOFFSET`, stable across ASLR).
struct TreeFrame {
    std::string function, file, module;
    int line = 0;
    bool inlined = false;
    bool operator<(const TreeFrame& o) const
    {
        return std::tie(function, file, line, module, inlined) <
               std::tie(o.function, o.file, o.line, o.module, o.inlined);
    }
};

// Nodes are numbered parent before child; node 0 is the root ("all"). A node's frame is the
// first frame seen with its (function, module); `self` holds what the stacks ending there
// carry, `total` self plus the children's totals.
struct CallTree {
    std::vector<TreeFrame> frames;  // frames[0] is the root's pseudo-frame
    std::vector<std::uint32_t> frame, parent;
    std::vector<Values> self, total;
    std::map<std::uint32_t, std::vector<std::uint32_t>>
        stacks;                    // stack id -> frames, innermost first
    std::size_t folded_nodes = 0;  // nodes folded into "[other]" by fold()
    double threshold = 0;          // fraction of each view's total below which nodes folded
    std::size_t size() const { return parent.size(); }
};

// Builds the tree from `sites`, `leaks` and `stacks` (docs/report-format.md). Sites whose
// stack the report did not symbolize go to one "[sites without symbols]" node, stack 0 to
// "[no stack recorded]". The root's totals equal the report's sums over sites and leak groups.
CallTree build_call_tree(const nlohmann::json& report);

// The tree with every node whose total is below `threshold` (a fraction) of the root's in
// every view (the block counts do not count) folded into one "[other]" child of its parent: the
// totals stay exact. Raises the threshold (doubling it) until at most `max_nodes` nodes remain.
CallTree fold(const CallTree& tree, double threshold, std::size_t max_nodes);

}  // namespace memtrack::launcher
