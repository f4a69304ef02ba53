// A saved report's sites and leak groups as weighted stacks, one list per metric, for the
// exports (collapsed, massif, speedscope, pprof) and `memtrack diff`. Launcher code: allocates
// and throws (ExportError for a report that lacks what a metric needs).
#pragma once

#include "report/model.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace memtrack::launcher {

namespace md = memtrack::detail;

// What a stack's value is. The one list of metrics: --metric names, export titles, totals.
enum class Metric { peak, exit, leaked, alloc_bytes, alloc_count };

struct MetricInfo {
    Metric metric;
    std::string_view name;   // --metric=NAME
    std::string_view title;  // speedscope's profile name, the diff's column
    bool bytes;              // a size (else a count)
};

inline constexpr MetricInfo kMetrics[] = {
    {Metric::peak, "peak", "Live at peak", true},
    {Metric::exit, "exit", "Live at exit", true},
    {Metric::leaked, "leaked", "Leaked (direct and indirect)", true},
    {Metric::alloc_bytes, "alloc-bytes", "Bytes allocated", true},
    {Metric::alloc_count, "alloc-count", "Allocations", false},
};

std::optional<Metric> parse_metric(std::string_view name);
const MetricInfo& metric_info(Metric m);
// "peak|exit|leaked|alloc-bytes|alloc-count"
std::string metric_names();

// A report that cannot give what was asked (no sites in a stats-only run, no leak check).
struct ExportError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One site (or leak group) and its value for a metric.
struct WeightedStack {
    std::uint32_t stack = 0;                          // the report's stack id
    const std::vector<md::ReportFrame>* frames = {};  // innermost first; empty if none known
    std::int64_t value = 0;
    std::int64_t blocks = 0;  // blocks held (peak, exit, leaked), or the allocations
};

// The stacks with a non-zero value, in the report's order. Their values add up to
// metric_total(). Throws ExportError if the report has no sites (stats-only) or, for leaked,
// no leak check.
std::vector<WeightedStack> weighted_stacks(const md::ReportModel& r, Metric m);

// The report's own total of a metric: heap.peak_attributed_bytes (the sites' shares of the
// peak), heap.live_bytes_at_exit, direct + indirect leaked bytes, heap.bytes_allocated,
// heap.allocations.
std::int64_t metric_total(const md::ReportModel& r, Metric m);

// The one frame a stack without frames shows: "[no stack recorded]" (stack 0) or "[stack N not
// symbolized in the report]" (the report symbolizes the sites that lead a view).
std::string missing_stack_frame(std::uint32_t stack);

std::string_view base_name(std::string_view path);

// A frame's name: the demangled function, else module+0xOFFSET (stable across ASLR), else
// 0xPC.
std::string frame_name(const md::ReportFrame& f);

// `name` with `bad` characters and control characters replaced by `with`.
std::string replace_chars(std::string_view name, std::string_view bad, char with);

}  // namespace memtrack::launcher
