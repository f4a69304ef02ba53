// Leak suppressions (see suppressions.hpp).
#include "leaks/suppressions.hpp"

#include "config/config.hpp"
#include "platform/log.hpp"
#include "platform/program_symbol.hpp"
#include "stack/resolved_stacks.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <unistd.h>

namespace memtrack::detail {

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

// The suppression patterns: built in, then the program's own __lsan_default_suppressions()
// (LeakSanitizer's convention: a function returning suppression lines), then
// MEMTRACK_SUPPRESSIONS (read and complained about once per process). Built in, as LeakSanitizer's:
// glibc's per-thread TLS blocks are held through pointers into their middle (the DTV) and live as
// long as glibc caches the thread; ld.so's _dl_find_object table holds its segments the same way.
const std::vector<std::string>& suppression_patterns()
{
    static std::vector<std::string>* patterns = nullptr;  // process lifetime; under callers' locks
    if (patterns != nullptr) return *patterns;
    patterns =
        new std::vector<std::string>{"_dl_allocate_tls*", "*__tls_get_addr*",
                                     "_dl_update_slotinfo*", "_dlfo_*", "_dl_find_object_update*"};
    using DefaultSuppressions = const char* (*)();
    if (auto fn =
            reinterpret_cast<DefaultSuppressions>(program_symbol("__lsan_default_suppressions"));
        fn != nullptr) {
        if (const char* text = fn(); text != nullptr) {
            std::vector<std::string> errors;
            for (std::string& p : parse_suppressions(text, errors))
                patterns->push_back(std::move(p));
            for (const std::string& e : errors)
                log("__lsan_default_suppressions(): {}; line ignored", e);
        }
    }
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

}  // namespace memtrack::detail
