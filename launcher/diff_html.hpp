// `memtrack diff A.json B.json --html`: the differential flame graph page. diff.cpp matches the
// sites of the two reports (its --match key) and hands them over here with the totals table;
// this file builds the merged call tree and the page's data, and the report's page code
// (html/page.js, its diff mode) draws it. Launcher only; allocates and throws.
#pragma once

#include "report/model.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace memtrack::launcher {

// The views of the diff page, in the order of DiffStack's values.
inline constexpr std::array<const char*, 5> kDiffViews = {"peak", "exit", "alloc_bytes",
                                                          "alloc_count", "leaked"};
using DiffValues = std::array<std::int64_t, kDiffViews.size()>;

// One matched site (or leak group, for "leaked"): its stack, innermost first (a representative
// of either report; null when the report did not symbolize it: `missing` is then its one frame)
// and its values in A and in B.
struct DiffStack {
    const std::vector<memtrack::detail::ReportFrame>* frames = nullptr;
    std::string missing;
    DiffValues a{}, b{};
};

struct DiffPage {
    nlohmann::json head;  // "diff": sides, match, totals rows, view totals, site changes, warnings
    nlohmann::json report;  // B's summary fields the page reads (program, pid, config)
    std::vector<DiffStack> stacks;
    bool line_keys = false;  // --match=line: frames also differ by file and line
};

// The page, ready to write.
std::string diff_html_page(const DiffPage& page);

}  // namespace memtrack::launcher
