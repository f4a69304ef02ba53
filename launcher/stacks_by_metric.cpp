// Weighted stacks from a saved report (see call_tree.hpp). Launcher code: allocates, throws.
#include "stacks_by_metric.hpp"

#include <fmt/core.h>

namespace memtrack::launcher {

std::optional<Metric> parse_metric(std::string_view name)
{
    for (const MetricInfo& m : kMetrics)
        if (m.name == name) return m.metric;
    return std::nullopt;
}

const MetricInfo& metric_info(Metric m)
{
    for (const MetricInfo& i : kMetrics)
        if (i.metric == m) return i;
    return kMetrics[0];
}

std::string metric_names()
{
    std::string out;
    for (const MetricInfo& m : kMetrics) {
        if (!out.empty()) out += '|';
        out += m.name;
    }
    return out;
}

namespace {

const std::vector<md::ReportFrame>* frames_of(const md::ReportModel& r, std::uint32_t stack)
{
    static const std::vector<md::ReportFrame> kNone;
    const auto it = r.stacks.find(stack);
    return it != r.stacks.end() ? &it->second : &kNone;
}

}  // namespace

std::vector<WeightedStack> weighted_stacks(const md::ReportModel& r, Metric m)
{
    std::vector<WeightedStack> out;
    if (m == Metric::leaked) {
        if (!r.leak_checked)
            throw ExportError(
                "the report has no leak sections (the run had MEMTRACK_LEAK_CHECK=0)");
        for (const auto* list : {&r.leaks.direct, &r.leaks.indirect})
            for (const md::ReportLeakGroup& g : *list)
                if (g.bytes > 0)
                    out.push_back({g.stack, frames_of(r, g.stack),
                                   static_cast<std::int64_t>(g.bytes),
                                   static_cast<std::int64_t>(g.blocks)});
        return out;
    }
    if (!r.sites_recorded)
        throw ExportError("the report has no sites (a stats-only run: MEMTRACK_STACK_DEPTH=0)");
    for (const md::ReportSite& s : r.sites) {
        WeightedStack w{s.stack, frames_of(r, s.stack), 0, 0};
        switch (m) {
        case Metric::peak:
            w.value = s.peak_bytes;
            w.blocks = s.peak_blocks;
            break;
        case Metric::exit:
            w.value = s.exit_bytes;
            w.blocks = s.exit_blocks;
            break;
        case Metric::alloc_bytes:
            w.value = static_cast<std::int64_t>(s.bytes_allocated);
            w.blocks = static_cast<std::int64_t>(s.allocations);
            break;
        case Metric::alloc_count:
            w.value = static_cast<std::int64_t>(s.allocations);
            w.blocks = w.value;
            break;
        case Metric::leaked:
            break;
        }
        if (w.value != 0) out.push_back(w);
    }
    return out;
}

std::int64_t metric_total(const md::ReportModel& r, Metric m)
{
    switch (m) {
    case Metric::peak:
        return r.heap.peak_attributed_bytes;
    case Metric::exit:
        return r.heap.live_bytes_at_exit;
    case Metric::leaked:
        return static_cast<std::int64_t>(r.leaks.totals.direct_bytes +
                                         r.leaks.totals.indirect_bytes);
    case Metric::alloc_bytes:
        return static_cast<std::int64_t>(r.heap.bytes_allocated);
    case Metric::alloc_count:
        return static_cast<std::int64_t>(r.heap.allocations);
    }
    return 0;
}

std::string missing_stack_frame(std::uint32_t stack)
{
    return stack == 0 ? std::string("[no stack recorded]")
                      : fmt::format("[stack {} not symbolized in the report]", stack);
}

std::string_view base_name(std::string_view path)
{
    const auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string frame_name(const md::ReportFrame& f)
{
    if (!f.function.empty()) return f.function;
    if (!f.module.empty()) return fmt::format("{}+0x{:x}", base_name(f.module), f.offset);
    return fmt::format("0x{:x}", f.pc);
}

std::string replace_chars(std::string_view name, std::string_view bad, char with)
{
    std::string out(name);
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f ||
            bad.find(c) != std::string_view::npos)
            c = with;
    return out;
}

}  // namespace memtrack::launcher
