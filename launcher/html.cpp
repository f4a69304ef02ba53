// The HTML report (html.hpp): the page's code (html/page.{html,css,js}, embedded at build time
// into html_assets.cpp) around one JSON data block made from the report. The data is packed
// (a string table, a frame table, the call tree as parallel arrays) and pruned so the file
// stays small: tree nodes under 0.01% of every view fold into "[other]" (totals exact), at
// most 20,000 nodes and 10,000 timeline points, and a hard cap that raises the fold threshold
// until the file fits. The page says what was folded. Cold, launcher only.
#include "html.hpp"

#include "call_tree.hpp"
#include "report_json.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <unistd.h>

namespace memtrack::launcher {

namespace html_assets {
extern const char kPage[];
extern const std::size_t kPageSize;
extern const char kStyle[];
extern const std::size_t kStyleSize;
extern const char kScript[];
extern const std::size_t kScriptSize;
}  // namespace html_assets

namespace {

using nlohmann::json;

// The limits of issue 12, and how each pruning level tightens them when the file is too big.
constexpr double kFoldThreshold = 1e-4;  // 0.01% of a view's total
constexpr std::size_t kMaxNodes = 20000;
constexpr std::size_t kMaxTimeline = 10000;
constexpr std::size_t kMaxLeakGroups = 2000;  // per kind
constexpr std::size_t kMaxCycles = 500;
constexpr std::size_t kMaxCycleMembers = 64;
constexpr std::size_t kMaxName = 1024;  // longer names are cut in the middle
constexpr int kMaxLevel = 14;

struct Limits {
    double threshold;
    std::size_t nodes, sites, timeline, leak_groups, cycles;
};

Limits limits_at(int level)
{
    const auto shrink = [level](std::size_t n, std::size_t floor) {
        return std::max(floor, level >= 2 ? n >> (level - 1) : n);
    };
    double threshold = kFoldThreshold;
    for (int i = 0; i < level; ++i)
        threshold *= 4;
    return {std::min(threshold, 1.0),
            shrink(kMaxNodes, 50),
            level == 0 ? SIZE_MAX : shrink(20000, 20),
            shrink(kMaxTimeline, 200),
            shrink(kMaxLeakGroups, 20),
            shrink(kMaxCycles, 10)};
}

const json& get_array(const json& j, const char* key)
{
    static const json kEmpty = json::array();
    const json& v = get(j, key);
    return v.is_array() ? v : kEmpty;
}

// A sequence number or null (as the report has it).
json seq(const json& j, const char* key)
{
    const json& v = get(j, key);
    return v.is_number() ? v : json();
}

// The packed tables: strings once each, frames once each, in the order the page needs them.
class Packer {
public:
    explicit Packer(const CallTree& tree) : tree_(tree), frame_ids_(tree.frames.size(), -1) {}

    int string(const std::string& s)
    {
        const auto [it, inserted] = string_ids_.emplace(s, static_cast<int>(strings_.size()));
        if (inserted) {
            if (s.size() > kMaxName) {
                std::size_t head = kMaxName / 2, tail = s.size() - kMaxName / 2;
                while (head > 0 && (static_cast<unsigned char>(s[head]) & 0xC0) == 0x80)
                    --head;
                while (tail < s.size() && (static_cast<unsigned char>(s[tail]) & 0xC0) == 0x80)
                    ++tail;
                strings_.push_back(s.substr(0, head) + "\u2026" + s.substr(tail));
                ++names_cut_;
            } else {
                strings_.push_back(s);
            }
        }
        return it->second;
    }

    int frame(std::uint32_t f)
    {
        if (frame_ids_[f] < 0) {
            const TreeFrame& tf = tree_.frames[f];
            frame_ids_[f] = static_cast<int>(frames_.size());
            frames_.push_back(json::array({string(tf.function), string(tf.file), tf.line,
                                           string(tf.module), tf.inlined ? 1 : 0}));
        }
        return frame_ids_[f];
    }

    // A stack the page lists (sites, leak groups, cycle members): its frames, innermost first.
    void stack(std::uint32_t id)
    {
        if (id == 0 || stacks_.contains(std::to_string(id))) return;
        const auto it = tree_.stacks.find(id);
        if (it == tree_.stacks.end()) return;
        json frames = json::array();
        for (std::uint32_t f : it->second)
            frames.push_back(frame(f));
        stacks_[std::to_string(id)] = std::move(frames);
    }

    json strings() const { return strings_; }
    json frames() const { return frames_; }
    const json& stacks() const { return stacks_; }
    std::size_t names_cut() const { return names_cut_; }

private:
    const CallTree& tree_;
    std::vector<int> frame_ids_;
    std::map<std::string, int> string_ids_;
    std::vector<std::string> strings_;
    json frames_ = json::array();
    json stacks_ = json::object();
    std::size_t names_cut_ = 0;
};

// The timeline, at most `max` rows: the rows with the lowest and highest heap of each bucket of
// consecutive samples, in time order, so the peak is never dropped. `kept` gets the indices
// of the rows kept in the report's timeline (for timeline_sites, whose values go with them).
json timeline(const json& report, std::size_t max, std::size_t& points_in,
              std::vector<std::size_t>& kept)
{
    std::vector<const json*> rows;
    std::vector<std::size_t> index;
    const json& all = get_array(report, "timeline");
    for (std::size_t i = 0; i < all.size(); ++i) {
        const json& p = all[i];
        if (p.is_array() && p.size() >= 2 && p[0].is_number() && p[1].is_number()) {
            rows.push_back(&p);
            index.push_back(i);
        }
    }
    points_in = rows.size();
    json out = json::array();
    if (rows.size() <= max) {
        for (const json* p : rows)
            out.push_back(*p);
        kept = index;
        return out;
    }
    const std::size_t buckets = std::max<std::size_t>(1, max / 2);
    for (std::size_t b = 0; b < buckets; ++b) {
        const std::size_t begin = rows.size() * b / buckets, end = rows.size() * (b + 1) / buckets;
        if (begin >= end) continue;
        std::size_t lo = begin, hi = begin;
        for (std::size_t i = begin; i < end; ++i) {
            if ((*rows[i])[1].get<double>() < (*rows[lo])[1].get<double>()) lo = i;
            if ((*rows[i])[1].get<double>() > (*rows[hi])[1].get<double>()) hi = i;
        }
        out.push_back(*rows[std::min(lo, hi)]);
        kept.push_back(index[std::min(lo, hi)]);
        if (lo != hi) {
            out.push_back(*rows[std::max(lo, hi)]);
            kept.push_back(index[std::max(lo, hi)]);
        }
    }
    return out;
}

json page_data(const json& r, const CallTree& full, const Limits& lim)
{
    const CallTree tree = fold(full, lim.threshold, lim.nodes);
    Packer pack(tree);
    json data = json::object();

    json summary = json::object();
    for (const char* key : {"format", "version", "memtrack_version", "reason", "program", "argv",
                            "pid", "ppid", "exit_status", "final_status", "gate", "process", "heap",
                            "site_table", "config", "scan", "gc", "unwind_check"})
        if (r.contains(key)) summary[key] = r[key];
    summary["leak_checked"] = get(r, "leaks").is_object();
    summary["sites_recorded"] = get(r, "sites").is_array();
    if (get(r, "leaks").is_object()) summary["leak_totals"] = get(get(r, "leaks"), "totals");
    data["report"] = std::move(summary);

    // The tree: frame and parent per node, then one self-value array per view with any value.
    json t = json::object();
    json frames = json::array(), parents = json::array();
    for (std::size_t n = 0; n < tree.size(); ++n) {
        frames.push_back(pack.frame(tree.frame[n]));
        parents.push_back(tree.parent[n]);
    }
    t["frame"] = std::move(frames);
    t["parent"] = std::move(parents);
    json self = json::object();
    for (std::size_t c = 0; c < kColumns; ++c) {
        if (tree.total[0][c] == 0) continue;
        json col = json::array();
        for (std::size_t n = 0; n < tree.size(); ++n)
            col.push_back(tree.self[n][c]);
        self[kColumnNames[c]] = std::move(col);
    }
    t["self"] = std::move(self);
    data["tree"] = std::move(t);

    json fold_info = json::object();
    fold_info["threshold"] = tree.threshold;
    fold_info["nodes"] = tree.size();
    fold_info["nodes_before"] = full.size();
    fold_info["folded_nodes"] = tree.folded_nodes;

    // Sites, in the report's order (the largest share of the peak first).
    json sites = json::array();
    std::size_t sites_total = 0;
    std::int64_t omitted_peak = 0, omitted_exit = 0, omitted_alloc = 0;
    for (const json& s : get_array(r, "sites")) {
        ++sites_total;
        if (sites.size() >= lim.sites) {
            omitted_peak += get_int(s, "peak_bytes");
            omitted_exit += get_int(s, "exit_bytes");
            omitted_alloc += get_int(s, "bytes_allocated");
            continue;
        }
        const auto stack = static_cast<std::uint32_t>(get_int(s, "stack"));
        pack.stack(stack);
        sites.push_back(json::array(
            {stack, get_int(s, "allocations"), get_int(s, "bytes_allocated"), get_int(s, "frees"),
             get_int(s, "peak_bytes"), get_int(s, "peak_blocks"), get_int(s, "exit_bytes"),
             get_int(s, "exit_blocks"), get_int(s, "temporary"), get_int(s, "largest_bytes"),
             seq(s, "first_allocation")}));
    }
    fold_info["sites"] = sites_total;
    fold_info["sites_listed"] = sites.size();
    fold_info["sites_omitted_peak_bytes"] = omitted_peak;
    fold_info["sites_omitted_exit_bytes"] = omitted_exit;
    fold_info["sites_omitted_alloc_bytes"] = omitted_alloc;
    data["sites"] = std::move(sites);

    // Leak groups per kind, and what the caps left out of each.
    json leaks = json::object();
    json omitted = json::object();
    const json& rl = get(r, "leaks");
    for (const char* kind : {"direct", "indirect", "possible", "suppressed"}) {
        json groups = json::array();
        std::int64_t n = 0, bytes = 0, blocks = 0;
        for (const json& g : get_array(rl, kind)) {
            if (groups.size() >= lim.leak_groups) {
                ++n;
                bytes += get_int(g, "bytes");
                blocks += get_int(g, "blocks");
                continue;
            }
            const auto stack = static_cast<std::uint32_t>(get_int(g, "stack"));
            pack.stack(stack);
            const json& type = get(g, "type");
            groups.push_back(json::array(
                {get_int(g, "bytes"), get_int(g, "blocks"), stack, seq(g, "first_seq"),
                 seq(g, "last_seq"),
                 pack.string(type.is_string() ? type.get<std::string>() : std::string())}));
        }
        leaks[kind] = std::move(groups);
        if (n > 0) omitted[kind] = json::array({n, bytes, blocks});
    }
    data["leaks"] = std::move(leaks);
    fold_info["leak_groups_omitted"] = std::move(omitted);

    // Cycles: members as [size, stack, seq, type].
    json cycles = json::array();
    std::size_t cycles_omitted = 0;
    for (const json& c : get_array(r, "cycles")) {
        if (cycles.size() >= lim.cycles) {
            ++cycles_omitted;
            continue;
        }
        json members = json::array();
        const json& rm = get_array(c, "members");
        for (const json& m : rm) {
            if (members.size() >= kMaxCycleMembers) break;
            const auto stack = static_cast<std::uint32_t>(get_int(m, "stack"));
            pack.stack(stack);
            const json& type = get(m, "type");
            members.push_back(json::array(
                {get_int(m, "size"), stack, seq(m, "seq"),
                 pack.string(type.is_string() ? type.get<std::string>() : std::string())}));
        }
        cycles.push_back({{"count", get_int(c, "count")},
                          {"blocks", get_int(c, "blocks")},
                          {"bytes", get_int(c, "bytes")},
                          {"pure", get(c, "pure").is_boolean() && get(c, "pure").get<bool>()},
                          {"reached_from_direct", get(c, "reached_from_direct").is_boolean() &&
                                                      get(c, "reached_from_direct").get<bool>()},
                          {"size", rm.size()},
                          {"members", std::move(members)}});
    }
    data["cycles"] = std::move(cycles);
    fold_info["cycles_omitted"] = cycles_omitted;

    std::size_t points_in = 0;
    std::vector<std::size_t> kept;
    data["timeline"] = timeline(r, lim.timeline, points_in, kept);
    // The stacked chart's data (timeline_sites), for the points kept, when it matches them.
    const json& ts = get(r, "timeline_sites");
    const json& values = get_array(ts, "values");
    if (ts.is_object() && get(ts, "stacks").is_array() &&
        values.size() == get_array(r, "timeline").size()) {
        json out_stacks = json::array(), out_values = json::array();
        for (const json& id : get(ts, "stacks")) {
            const auto stack =
                static_cast<std::uint32_t>(id.is_number() ? id.get<std::int64_t>() : 0);
            pack.stack(stack);
            out_stacks.push_back(stack);
        }
        for (std::size_t i : kept)
            out_values.push_back(values[i]);
        data["timeline_sites"] = {{"stacks", std::move(out_stacks)},
                                  {"values", std::move(out_values)}};
    }
    fold_info["timeline_points_in"] = points_in;
    fold_info["timeline_points"] = data["timeline"].size();

    data["strings"] = pack.strings();
    data["frames"] = pack.frames();
    data["stacks"] = pack.stacks();
    fold_info["names_cut"] = pack.names_cut();
    data["fold"] = std::move(fold_info);
    return data;
}

// JSON that cannot end the <script> element it sits in, nor open a comment or a line break a
// JavaScript parser would see: '<' (in "</script>" and "<!--"), U+2028 and U+2029 become
// escapes. They can only occur inside JSON strings, where the escapes mean the same text.
std::string script_safe(const json& data)
{
    const std::string text = data.dump(-1, ' ', false, json::error_handler_t::replace);
    std::string out;
    out.reserve(text.size() + text.size() / 64);
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '<') {
            out += "\\u003c";
        } else if (c == '>') {
            out += "\\u003e";
        } else if (c == '\xe2' && i + 2 < text.size() && text[i + 1] == '\x80' &&
                   (text[i + 2] == '\xa8' || text[i + 2] == '\xa9')) {
            out += text[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

std::string nonce()
{
    std::random_device rd;
    return fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
}

// The template with its @NAME@ markers replaced. Markers are read from the template only, so
// nothing in the data can be taken for one.
std::string assemble(const std::string& data, const std::string& nonce_text)
{
    const std::string_view page(html_assets::kPage, html_assets::kPageSize);
    const std::pair<std::string_view, std::string_view> parts[] = {
        {"@NONCE@", nonce_text},
        {"@STYLE@", {html_assets::kStyle, html_assets::kStyleSize}},
        {"@SCRIPT@", {html_assets::kScript, html_assets::kScriptSize}},
        {"@DATA@", data}};
    std::string out;
    out.reserve(page.size() + data.size() + html_assets::kScriptSize + html_assets::kStyleSize);
    std::size_t i = 0;
    while (i < page.size()) {
        bool replaced = false;
        if (page[i] == '@')
            for (const auto& [marker, text] : parts)
                if (page.substr(i, marker.size()) == marker) {
                    out += text;
                    i += marker.size();
                    replaced = true;
                    break;
                }
        if (!replaced) out += page[i++];
    }
    return out;
}

int fail(const std::string& path, std::string_view why)
{
    fmt::print(stderr, "memtrack: {}: {}\n", path, why);
    return 2;
}

}  // namespace

std::string html_page(const nlohmann::json& data)
{
    return assemble(script_safe(data), nonce());
}

std::string html_path_for(const std::string& json_path)
{
    if (json_path.size() > 5 && json_path.ends_with(".json"))
        return json_path.substr(0, json_path.size() - 5) + ".html";
    return json_path + ".html";
}

std::optional<std::int64_t> parse_html_size(std::string_view text)
{
    std::size_t digits = 0;
    std::int64_t n = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
        if (n > (INT64_MAX - 9) / 10) return std::nullopt;
        n = n * 10 + (text[digits++] - '0');
    }
    if (digits == 0) return std::nullopt;
    const std::string_view unit = text.substr(digits);
    const std::pair<std::string_view, std::int64_t> units[] = {
        {"", 1},      {"B", 1},     {"KiB", 1 << 10}, {"MiB", 1 << 20},  {"GiB", 1 << 30},
        {"kB", 1000}, {"KB", 1000}, {"MB", 1000000},  {"GB", 1000000000}};
    for (const auto& [name, factor] : units)
        if (unit == name) {
            if (n == 0 || n > INT64_MAX / factor) return std::nullopt;
            return n * factor;
        }
    return std::nullopt;
}

int write_html_report(const std::string& json_path, const std::string& html_path,
                      const HtmlOptions& options)
{
    json report;
    if (const int failed = load_report_json(json_path, report); failed != 0) return failed;
    std::string page;
    try {
        const CallTree tree = build_call_tree(report);
        const std::string token = nonce();
        for (int level = 0;; ++level) {
            json data = page_data(report, tree, limits_at(level));
            data["fold"]["level"] = level;
            data["fold"]["max_size"] = options.max_size;
            page = assemble(script_safe(data), token);
            if (static_cast<std::int64_t>(page.size()) <= options.max_size) break;
            if (level == kMaxLevel) {
                fmt::print(stderr,
                           "memtrack: {}: the page is {} bytes even with everything folded, "
                           "above --html-max-size {}; writing it anyway\n",
                           html_path, page.size(), options.max_size);
                break;
            }
        }
    } catch (const std::exception& e) {
        return fail(json_path, fmt::format("malformed memtrack report: {}", e.what()));
    }
    const std::string tmp = fmt::format("{}.tmp.{}", html_path, getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return fail(html_path, std::strerror(errno));
        out.write(page.data(), static_cast<std::streamsize>(page.size()));
        out.close();
        if (!out) {
            std::remove(tmp.c_str());
            return fail(html_path, "write error");
        }
    }
    if (std::rename(tmp.c_str(), html_path.c_str()) != 0) {
        const int err = errno;
        std::remove(tmp.c_str());
        return fail(html_path, std::strerror(err));
    }
    return 0;
}

}  // namespace memtrack::launcher
