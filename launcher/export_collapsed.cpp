// Collapsed stacks ("folded"), the input of flamegraph.pl, inferno and speedscope: one line
// `root;...;leaf VALUE` per stack. What their parsers need (research: reports-ui.md, section
// 8.3): exactly one space before an integer, no trailing ';' (speedscope makes it an empty
// frame), no zero lines, and no frame that ends in blanks and digits (flamegraph.pl would read a
// second value column, as difffolded.pl writes).
#include "exports.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <map>

namespace memtrack::launcher {

namespace {

std::string collapsed_name(const std::string& name)
{
    std::string out = replace_chars(name, ";", '_');
    // "foo 12" -> "foo_12": the blanks before trailing digits are what a parser splits on.
    std::size_t end = out.size();
    while (end > 0 && out[end - 1] >= '0' && out[end - 1] <= '9')
        --end;
    if (end < out.size())
        for (std::size_t i = end; i > 0 && out[i - 1] == ' '; --i)
            out[i - 1] = '_';
    if (out.empty()) out = "??";
    return out;
}

}  // namespace

std::vector<std::string> collapsed_frames(const WeightedStack& s)
{
    std::vector<std::string> out;
    if (s.frames == nullptr || s.frames->empty()) {
        out.push_back(missing_stack_frame(s.stack));
        return out;
    }
    for (auto it = s.frames->rbegin(); it != s.frames->rend(); ++it)
        out.push_back(collapsed_name(frame_name(*it)));
    return out;
}

std::string collapsed_stack(const WeightedStack& s)
{
    std::string line;
    for (const std::string& f : collapsed_frames(s)) {
        if (!line.empty()) line += ';';
        line += f;
    }
    return line;
}

std::string export_collapsed(const md::ReportModel& r, Metric m)
{
    std::map<std::string, std::int64_t> lines;  // sorted, equal stacks merged
    for (const WeightedStack& s : weighted_stacks(r, m))
        if (s.value > 0) lines[collapsed_stack(s)] += s.value;
    std::string out;
    for (const auto& [stack, value] : lines)
        out += fmt::format("{} {}\n", stack, value);
    return out;
}

}  // namespace memtrack::launcher
