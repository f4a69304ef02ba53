// Leak sections of the report (see leak_report.hpp).
#include "leaks/leak_report.hpp"

#include "config/config.hpp"
#include "platform/log.hpp"
#include "report/report.hpp"
#include "stack/depot.hpp"
#include "stack/symbolize.hpp"
#include "stack/unwind.hpp"

#include <memtrack/memtrack.hpp>

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <set>
#include <unistd.h>

namespace memtrack::detail {

constexpr std::size_t kTextGroups = 10;  // groups per kind in the stderr summary
constexpr int kTextFrames = 6;           // frames per group in the stderr summary

struct Resolved {
    std::vector<SymbolFrame> frames;
    std::string type;
};

// Symbolizes each stack once per report.
class StackTable {
public:
    const Resolved& get(std::uint32_t id)
    {
        auto it = cache_.find(id);
        if (it != cache_.end()) return it->second;
        Resolved r;
        const StackView v = stack_of(id);
        for (int i = 0; i < v.depth; ++i)
            for (const SymbolFrame& f : sym_.frames(v.pcs[i], v.epoch))
                r.frames.push_back(f);
        for (const SymbolFrame& f : r.frames) {
            r.type = type_from_function(f.function);
            if (!r.type.empty()) break;
        }
        // `new T` in a function template of the program (not a library header): its first
        // template argument, e.g. make_node<Widget>() -> Widget.
        if (r.type.empty() && !r.frames.empty() && !r.frames[0].file.starts_with("/usr/"))
            r.type = template_argument(r.frames[0].function);
        return cache_.emplace(id, std::move(r)).first->second;
    }

private:
    Symbolizer sym_;
    std::map<std::uint32_t, Resolved> cache_;
};

namespace {

std::string frame_text(const SymbolFrame& f)
{
    std::string s = f.function.empty() ? fmt::format("0x{:x}", f.pc) : f.function;
    if (!f.file.empty()) {
        const auto slash = f.file.rfind('/');
        s += fmt::format(" {}:{}", slash == std::string::npos ? f.file : f.file.substr(slash + 1),
                         f.line);
    } else if (!f.module.empty()) {
        const auto slash = f.module.rfind('/');
        s += fmt::format(" ({}+0x{:x})",
                         slash == std::string::npos ? f.module : f.module.substr(slash + 1),
                         f.module_offset);
    }
    if (f.inlined) s += " [inlined]";
    return s;
}

// A sequence number for the JSON: null when none was kept.
std::string json_seq(std::uint64_t seq)
{
    return seq == 0 ? std::string("null") : fmt::format("{}", seq);
}

// " [allocation #N]" or " [allocations #N..#M]" for the summary; "" when none was kept.
std::string seq_text(std::uint64_t first, std::uint64_t last)
{
    if (first == 0) return {};
    if (first == last) return fmt::format(" [allocation #{}]", first);
    return fmt::format(" [allocations #{}..#{}]", first, last);
}

void json_groups(std::string& out, const std::vector<LeakGroup>& groups, StackTable& stacks,
                 std::set<std::uint32_t>& used)
{
    out += "[";
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const LeakGroup& g = groups[i];
        used.insert(g.stack);
        fmt::format_to(std::back_inserter(out),
                       "{}\n      {{\"bytes\": {}, \"blocks\": {}, \"stack\": {}, "
                       "\"first_seq\": {}, \"last_seq\": {}, \"type\": ",
                       i ? "," : "", g.bytes, g.blocks, g.stack, json_seq(g.first_seq),
                       json_seq(g.last_seq));
        append_json_string(out, stacks.get(g.stack).type);
        out += "}";
    }
    out += groups.empty() ? "]" : "\n    ]";
}

}  // namespace

std::string template_argument(std::string_view fn)
{
    // The template arguments of the function itself: the last '<...>' before its parameter
    // list. Operators and lambdas are left alone.
    const auto params = fn.rfind('(');
    if (params == std::string_view::npos || params == 0 || fn[params - 1] != '>') return {};
    if (fn.find("operator") != std::string_view::npos ||
        fn.find("lambda") != std::string_view::npos)
        return {};
    int depth = 0;
    std::size_t open = std::string_view::npos;
    for (std::size_t i = params; i-- > 0;) {
        if (fn[i] == '>') ++depth;
        if (fn[i] == '<' && --depth == 0) {
            open = i;
            break;
        }
    }
    if (open == std::string_view::npos) return {};
    std::size_t end = open + 1;
    depth = 0;
    for (; end < params - 1; ++end) {
        const char c = fn[end];
        if (c == '<' || c == '(') ++depth;
        if (c == '>' || c == ')') --depth;
        if (c == ',' && depth == 0) break;
    }
    std::string_view arg = fn.substr(open + 1, end - open - 1);
    while (!arg.empty() && arg.back() == ' ')
        arg.remove_suffix(1);
    // A type starts with a letter, '_' or "::"; numbers and other values are not types.
    if (arg.empty() || !(std::isalpha(static_cast<unsigned char>(arg[0])) || arg[0] == '_' ||
                         arg[0] == ':' || arg[0] == '('))
        return {};
    if (arg == "true" || arg == "false") return {};
    return std::string(arg);
}

bool wildcard_match(std::string_view pattern, std::string_view text) noexcept
{
    // Iterative glob with backtracking to the last '*'.
    std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

std::vector<std::string> parse_suppressions(std::string_view text, std::vector<std::string>& errors)
{
    std::vector<std::string> patterns;
    int number = 0;
    while (!text.empty()) {
        const std::size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
        ++number;
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            line.remove_prefix(1);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
            line.remove_suffix(1);
        if (line.empty() || line.front() == '#') continue;
        if (line.starts_with("leak:")) {
            line.remove_prefix(5);
        } else if (const auto colon = line.find(':');
                   colon != std::string_view::npos && colon > 0 &&
                   line.substr(0, colon).find_first_of("*/ ") == std::string_view::npos &&
                   line.find("::") != colon) {
            errors.push_back(fmt::format("line {}: \"{}\" is not a leak suppression (only "
                                         "\"leak:\" or a bare pattern)",
                                         number, line));
            continue;
        }
        if (line.empty() || line.find_first_of(" \t") != std::string_view::npos) {
            errors.push_back(fmt::format("line {}: \"{}\" is not one pattern (no spaces; * for "
                                         "any text)",
                                         number, line));
            continue;
        }
        patterns.emplace_back(line);
    }
    return patterns;
}

namespace {

// The suppression patterns: built in, then MEMTRACK_SUPPRESSIONS (read and complained about
// once per process). Built in, as LeakSanitizer's: glibc's per-thread TLS blocks are held
// through pointers into their middle (the DTV) and live as long as glibc caches the thread;
// ld.so's _dl_find_object table holds its segments the same way.
const std::vector<std::string>& suppression_patterns()
{
    static std::vector<std::string>* patterns = nullptr;  // process lifetime; under callers' locks
    if (patterns != nullptr) return *patterns;
    patterns =
        new std::vector<std::string>{"_dl_allocate_tls*", "*__tls_get_addr*",
                                     "_dl_update_slotinfo*", "_dlfo_*", "_dl_find_object_update*"};
    if (const char* path = config().suppressions; path[0] != '\0') {
        std::string text;
        const int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            log("MEMTRACK_SUPPRESSIONS={}: cannot read it ({}); no suppressions from it", path,
                std::strerror(errno));
        } else {
            char buf[65536];
            for (;;) {
                const ssize_t n = read(fd, buf, sizeof buf);
                if (n <= 0) break;
                text.append(buf, static_cast<std::size_t>(n));
            }
            close(fd);
            std::vector<std::string> errors;
            for (std::string& p : parse_suppressions(text, errors))
                patterns->push_back(std::move(p));
            for (const std::string& e : errors)
                log("MEMTRACK_SUPPRESSIONS={}: {}; line ignored", path, e);
        }
    }
    return *patterns;
}

bool matches_suppression(StackTable& table, std::uint32_t stack)
{
    const std::vector<std::string>& patterns = suppression_patterns();
    for (const SymbolFrame& f : table.get(stack).frames) {
        const auto slash = f.module.rfind('/');
        const std::string_view base = slash == std::string::npos
                                          ? std::string_view(f.module)
                                          : std::string_view(f.module).substr(slash + 1);
        for (const std::string& p : patterns)
            if ((!f.function.empty() && wildcard_match(p, f.function)) ||
                (!f.module.empty() && (wildcard_match(p, f.module) || wildcard_match(p, base))))
                return true;
    }
    return false;
}

std::mutex g_suppress_lock;  // the persistent table below and the patterns

}  // namespace

bool stack_suppressed(std::uint32_t stack)
{
    if (stack == 0) return false;
    const std::lock_guard<std::mutex> lock(g_suppress_lock);
    static StackTable* table = nullptr;  // process lifetime: symbols are cached across scans
    static std::map<std::uint32_t, bool>* verdicts = nullptr;
    if (table == nullptr) {
        table = new StackTable;
        verdicts = new std::map<std::uint32_t, bool>;
    }
    const auto it = verdicts->find(stack);
    if (it != verdicts->end()) return it->second;
    const bool v = matches_suppression(*table, stack);
    verdicts->emplace(stack, v);
    return v;
}

void finalize_leaks(LeakReport& rep)
{
    rep.stacks = std::make_shared<StackTable>();
    auto matches = [&](std::uint32_t stack) {
        const std::lock_guard<std::mutex> lock(g_suppress_lock);
        return matches_suppression(*rep.stacks, stack);
    };
    auto filter = [&](std::vector<LeakGroup>& groups, std::uint64_t& bytes, std::uint64_t& blocks) {
        std::vector<LeakGroup> kept;
        for (const LeakGroup& g : groups) {
            if (g.stack != 0 && matches(g.stack)) {
                rep.suppressed.push_back(g);
                rep.totals.suppressed_bytes += g.bytes;
                rep.totals.suppressed_blocks += g.blocks;
                bytes -= g.bytes;
                blocks -= g.blocks;
            } else {
                kept.push_back(g);
            }
        }
        groups = std::move(kept);
    };
    filter(rep.direct, rep.totals.direct_bytes, rep.totals.direct_blocks);
    filter(rep.indirect, rep.totals.indirect_bytes, rep.totals.indirect_blocks);
    filter(rep.possible, rep.totals.possible_bytes, rep.totals.possible_blocks);
}

std::string type_from_function(std::string_view fn)
{
    static constexpr std::string_view kPatterns[] = {"std::make_shared<",
                                                     "std::allocate_shared<",
                                                     "std::__allocate_shared<",
                                                     "std::make_unique<",
                                                     "std::_Sp_counted_ptr_inplace<",
                                                     "std::__new_allocator<",
                                                     "__gnu_cxx::new_allocator<",
                                                     "std::allocator_traits<std::allocator<"};
    for (const std::string_view p : kPatterns) {
        const auto at = fn.find(p);
        if (at == std::string_view::npos) continue;
        std::size_t i = at + p.size();
        int depth = 0;
        const std::size_t begin = i;
        for (; i < fn.size(); ++i) {
            const char c = fn[i];
            if (c == '<' || c == '(') ++depth;
            if (c == '>' || c == ')') {
                if (depth == 0) break;
                --depth;
            }
            if (c == ',' && depth == 0) break;
        }
        std::string_view type = fn.substr(begin, i - begin);
        while (!type.empty() && type.back() == ' ')
            type.remove_suffix(1);
        // The control block of make_shared<T> allocates through allocator<_Sp_counted...<T>>.
        if (type.starts_with("std::_Sp_counted_ptr_inplace<")) return type_from_function(type);
        if (!type.empty()) return std::string(type);
    }
    return {};
}

void append_leaks_json(std::string& out, const LeakReport& rep)
{
    auto app = std::back_inserter(out);
    StackTable& stacks = *rep.stacks;
    std::set<std::uint32_t> used;
    const LeakTotals& t = rep.totals;
    out += "  \"leaks\": {\n    \"direct\": ";
    json_groups(out, rep.direct, stacks, used);
    out += ",\n    \"indirect\": ";
    json_groups(out, rep.indirect, stacks, used);
    out += ",\n    \"possible\": ";
    json_groups(out, rep.possible, stacks, used);
    out += ",\n    \"suppressed\": ";
    json_groups(out, rep.suppressed, stacks, used);
    fmt::format_to(app,
                   ",\n    \"totals\": {{\"direct_bytes\": {}, \"direct_blocks\": {}, "
                   "\"indirect_bytes\": {}, \"indirect_blocks\": {}, \"possible_bytes\": {}, "
                   "\"possible_blocks\": {}, \"suppressed_bytes\": {}, \"suppressed_blocks\": {}, "
                   "\"cycles\": {}, \"cycle_blocks\": {}}}\n  }},\n",
                   t.direct_bytes, t.direct_blocks, t.indirect_bytes, t.indirect_blocks,
                   t.possible_bytes, t.possible_blocks, t.suppressed_bytes, t.suppressed_blocks,
                   t.cycles, t.cycle_blocks);
    out += "  \"cycles\": [";
    for (std::size_t i = 0; i < rep.cycles.size(); ++i) {
        const CycleReport& c = rep.cycles[i];
        fmt::format_to(app,
                       "{}\n    {{\"blocks\": {}, \"bytes\": {}, \"count\": {}, \"pure\": {}, "
                       "\"reached_from_direct\": {}, \"members\": [",
                       i ? "," : "", c.blocks, c.bytes, c.count, c.pure, c.reached_from_direct);
        for (std::size_t k = 0; k < c.members.size(); ++k) {
            used.insert(c.members[k].stack);
            fmt::format_to(
                app, "{}{{\"size\": {}, \"stack\": {}, \"seq\": {}, \"type\": ", k ? ", " : "",
                c.members[k].size, c.members[k].stack, json_seq(c.members[k].seq));
            append_json_string(out, stacks.get(c.members[k].stack).type);
            out += "}";
        }
        out += "]}";
    }
    out += rep.cycles.empty() ? "],\n" : "\n  ],\n";
    const ScanStats& s = rep.scan;
    fmt::format_to(app,
                   "  \"scan\": {{\"roots_bytes\": {}, \"heap_bytes\": {}, \"swept_bytes\": {}, "
                   "\"blocks\": {}, \"duration_s\": {:.6f}, \"threads_paused\": {}, "
                   "\"threads_not_paused\": {}, \"dead_thread_stacks\": {}, \"complete\": {}}},\n",
                   s.root_bytes, s.heap_bytes, s.swept_bytes, s.blocks,
                   static_cast<double>(s.duration_ns) / 1e9, s.threads_paused, s.threads_not_paused,
                   s.dead_stacks, s.complete);
    const GcCounters& g = rep.gc;
    fmt::format_to(app,
                   "  \"gc\": {{\"threshold\": [{}, {}, {}], \"count\": [{}, {}, {}], "
                   "\"collections\": [{}, {}, {}], \"collected\": [{}, {}, {}], "
                   "\"total_pause_s\": {:.6f}, \"max_pause_s\": {:.6f}, "
                   "\"live_blocks\": [{}, {}, {}], \"live_bytes\": [{}, {}, {}]}},\n",
                   g.threshold[0], g.threshold[1], g.threshold[2], g.count[0], g.count[1],
                   g.count[2], g.collections[0], g.collections[1], g.collections[2], g.collected[0],
                   g.collected[1], g.collected[2], static_cast<double>(g.total_pause_ns) / 1e9,
                   static_cast<double>(g.max_pause_ns) / 1e9, g.gen_blocks[0], g.gen_blocks[1],
                   g.gen_blocks[2], g.gen_bytes[0], g.gen_bytes[1], g.gen_bytes[2]);
    out += "  \"stacks\": {";
    bool first = true;
    for (const std::uint32_t id : used) {
        fmt::format_to(app, "{}\n    \"{}\": [", first ? "" : ",", id);
        first = false;
        const Resolved& r = stacks.get(id);
        for (std::size_t k = 0; k < r.frames.size(); ++k) {
            const SymbolFrame& f = r.frames[k];
            fmt::format_to(app, "{}\n      {{\"pc\": \"0x{:x}\", \"function\": ", k ? "," : "",
                           f.pc);
            append_json_string(out, f.function);
            out += ", \"file\": ";
            append_json_string(out, f.file);
            fmt::format_to(app, ", \"line\": {}, \"module\": ", f.line);
            append_json_string(out, f.module);
            fmt::format_to(app, ", \"offset\": \"0x{:x}\", \"inlined\": {}}}", f.module_offset,
                           f.inlined);
        }
        out += r.frames.empty() ? "]" : "\n    ]";
    }
    out += used.empty() ? "},\n" : "\n  },\n";
}

void print_leaks_text(const LeakReport& rep)
{
    const LeakTotals& t = rep.totals;
    StackTable& stacks = *rep.stacks;
    log("  leaks   {} direct in {} blocks, {} indirect in {} blocks, {} possible in {} blocks; "
        "{} reference cycles",
        Bytes{static_cast<std::int64_t>(t.direct_bytes)}, t.direct_blocks,
        Bytes{static_cast<std::int64_t>(t.indirect_bytes)}, t.indirect_blocks,
        Bytes{static_cast<std::int64_t>(t.possible_bytes)}, t.possible_blocks, t.cycles);
    auto print_stack = [&](std::uint32_t id, const char* indent) {
        const Resolved& r = stacks.get(id);
        if (r.frames.empty()) {
            log("{}(no stack recorded{})", indent,
                stack_depth() == 0 ? ": MEMTRACK_STACK_DEPTH=0" : "");
            return;
        }
        // Library internals inlined from system headers (allocators, make_shared) come first
        // in C++ stacks; the summary starts at the program's code (the JSON has them all).
        std::size_t first = 0;
        while (first < r.frames.size() && r.frames[first].inlined &&
               r.frames[first].file.starts_with("/usr/include/"))
            ++first;
        if (first == r.frames.size()) first = 0;
        if (first > 0)
            log("{}({} inlined library frame{} above, in the JSON report)", indent, first,
                first == 1 ? "" : "s");
        int shown = 0;
        for (std::size_t i = first; i < r.frames.size(); ++i) {
            if (shown == kTextFrames) {
                log("{}... {} more frames in the JSON report", indent, r.frames.size() - i);
                break;
            }
            log("{}#{} {}", indent, i, frame_text(r.frames[i]));
            ++shown;
        }
    };
    auto print_groups = [&](const std::vector<LeakGroup>& groups, const char* kind) {
        std::size_t shown = 0;
        for (const LeakGroup& g : groups) {
            if (shown == kTextGroups) {
                log("  ... and {} more {} leak groups in the JSON report", groups.size() - shown,
                    kind);
                break;
            }
            const Resolved& r = stacks.get(g.stack);
            log("  {} leak of {} in {} block{}{}{} allocated from:", kind,
                Bytes{static_cast<std::int64_t>(g.bytes)}, g.blocks, g.blocks == 1 ? "" : "s",
                r.type.empty() ? std::string() : fmt::format(" ({})", r.type),
                seq_text(g.first_seq, g.last_seq));
            print_stack(g.stack, "      ");
            ++shown;
        }
    };
    print_groups(rep.direct, "Direct");
    print_groups(rep.indirect, "Indirect");
    print_groups(rep.possible, "Possible");
    std::size_t shown = 0;
    for (const CycleReport& c : rep.cycles) {
        if (shown == kTextGroups) {
            log("  ... and {} more reference cycles in the JSON report", rep.cycles.size() - shown);
            break;
        }
        log("  Reference cycle of {} block{} ({}){}{}:", c.members.size(),
            c.members.size() == 1 ? "" : "s", Bytes{static_cast<std::int64_t>(c.bytes / c.count)},
            c.count > 1 ? fmt::format(", {} such cycles", c.count) : std::string(),
            c.pure ? ", nothing else points at it"
                   : (c.reached_from_direct ? ", reached from a direct leak" : ""));
        for (std::size_t k = 0; k < c.members.size(); ++k) {
            const Resolved& r = stacks.get(c.members[k].stack);
            // The program's frame: the first one outside system headers and libraries
            // (allocator and smart-pointer internals are all inlined from /usr/include).
            const SymbolFrame* top = nullptr;
            for (const SymbolFrame& f : r.frames)
                if (!f.file.empty() && !f.file.starts_with("/usr/")) {
                    top = &f;
                    break;
                }
            if (top == nullptr && !r.frames.empty()) top = &r.frames.front();
            log("      [{}] {}{}{} from {}", k, Bytes{static_cast<std::int64_t>(c.members[k].size)},
                r.type.empty() ? std::string() : " " + r.type,
                seq_text(c.members[k].seq, c.members[k].seq),
                top != nullptr ? frame_text(*top) : std::string("(unknown)"));
        }
        ++shown;
    }
    const GcCounters& g = rep.gc;
    if (g.collections[0] + g.collections[1] + g.collections[2] > 1)
        log("  gc      {} + {} + {} scans of generations 0, 1, 2 (the exit scan included), "
            "pauses {:.1f} ms in all, longest {:.1f} ms; live blocks by generation {}, {}, {}",
            g.collections[0], g.collections[1], g.collections[2],
            static_cast<double>(g.total_pause_ns) / 1e6, static_cast<double>(g.max_pause_ns) / 1e6,
            g.gen_blocks[0], g.gen_blocks[1], g.gen_blocks[2]);
    if (!rep.scan.complete)
        log("  scan    incomplete: {} thread{} could not be paused; their stacks were scanned "
            "whole",
            rep.scan.threads_not_paused, rep.scan.threads_not_paused == 1 ? "" : "s");
}

}  // namespace memtrack::detail
