// speedscope's file format (jlfwong/speedscope src/lib/file-format-spec.ts): shared frames and
// one "sampled" profile per metric, each sample a root-first list of frame indices with a
// positive weight; endValue is the weights' sum. Memory has no time axis: samples are in the
// collapsed export's order (sorted stacks), so the Left Heavy and Sandwich views are the ones
// to read.
#include "exports.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <tuple>

namespace memtrack::launcher {

std::string export_speedscope(const md::ReportModel& r, const std::string& version)
{
    using nlohmann::json;
    json frames = json::array();
    std::map<std::tuple<std::string, std::string, int>, std::size_t> index;
    const auto frame_index = [&](const std::string& name, const std::string& file, int line) {
        const auto key = std::tuple{name, file, line};
        if (const auto it = index.find(key); it != index.end()) return it->second;
        json f = {{"name", name}};
        if (!file.empty()) f["file"] = file;
        if (line > 0) f["line"] = line;
        frames.push_back(std::move(f));
        return index[key] = frames.size() - 1;
    };
    json profiles = json::array();
    for (const MetricInfo& m : kMetrics) {
        std::vector<WeightedStack> stacks;
        try {
            stacks = weighted_stacks(r, m.metric);
        } catch (const ExportError&) {
            continue;  // no sites or no leak check: no such profile
        }
        // Equal stacks merged, in the collapsed export's order (its text, then the frames).
        std::map<std::pair<std::string, std::vector<std::size_t>>, std::int64_t> samples;
        for (const WeightedStack& s : stacks) {
            if (s.value <= 0) continue;
            std::vector<std::size_t> ids;
            if (s.frames == nullptr || s.frames->empty()) {
                ids.push_back(frame_index(missing_stack_frame(s.stack), "", 0));
            } else {
                for (auto it = s.frames->rbegin(); it != s.frames->rend(); ++it)
                    ids.push_back(frame_index(frame_name(*it), it->file, it->line));
            }
            samples[{collapsed_stack(s), std::move(ids)}] += s.value;
        }
        json p = {{"type", "sampled"},
                  {"name", m.title},
                  {"unit", m.bytes ? "bytes" : "none"},
                  {"startValue", 0}};
        json list = json::array();
        json weights = json::array();
        std::int64_t total = 0;
        for (const auto& [key, weight] : samples) {
            list.push_back(key.second);
            weights.push_back(weight);
            total += weight;
        }
        if (list.empty()) continue;
        p["endValue"] = total;
        p["samples"] = std::move(list);
        p["weights"] = std::move(weights);
        profiles.push_back(std::move(p));
    }
    const json doc = {{"$schema", "https://www.speedscope.app/file-format-schema.json"},
                      {"exporter", "memtrack@" + version},
                      {"name", std::string(base_name(r.program))},
                      {"activeProfileIndex", 0},
                      {"shared", {{"frames", std::move(frames)}}},
                      {"profiles", std::move(profiles)}};
    return doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace memtrack::launcher
