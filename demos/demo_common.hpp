// Shared by the demos: human size arguments, a sink that keeps the optimiser from dropping
// memory the demos allocate on purpose, and the "held by" lines of a peak.
#pragma once

#include <memtrack/memtrack.hpp>

#include <fmt/core.h>

#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace demo {

// "1GiB", "64MiB", "100MB", "4096" -> bytes. Throws std::invalid_argument on anything else.
inline std::uint64_t parse_size(std::string_view text)
{
    double value = 0;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), value);
    if (res.ec != std::errc{} || value < 0)
        throw std::invalid_argument("bad size: " + std::string(text));
    const std::string_view unit(res.ptr,
                                static_cast<std::size_t>(text.data() + text.size() - res.ptr));
    struct U {
        std::string_view name;
        double factor;
    };
    constexpr U kUnits[] = {{"", 1},
                            {"B", 1},
                            {"KiB", 1024.0},
                            {"MiB", 1048576.0},
                            {"GiB", 1073741824.0},
                            {"KB", 1e3},
                            {"MB", 1e6},
                            {"GB", 1e9},
                            {"K", 1024.0},
                            {"M", 1048576.0},
                            {"G", 1073741824.0}};
    for (const U& u : kUnits)
        if (u.name == unit) return static_cast<std::uint64_t>(value * u.factor);
    throw std::invalid_argument("bad size unit in \"" + std::string(text) +
                                "\" (use B, KiB, MiB, GiB, KB, MB, GB)");
}

// Makes `value` observable so that the computation producing it cannot be optimised away.
template <class T> inline void keep(const T& value)
{
    asm volatile("" : : "r,m"(value) : "memory");
}

// "(anonymous namespace)::load_image(unsigned long) f.cpp:38" -> "load_image() f.cpp:38"
inline std::string short_location(std::uint32_t stack)
{
    const memtrack::Snapshot::Location l = memtrack::Snapshot::location(stack);
    std::string where = l.function;
    if (const auto ns = where.find("(anonymous namespace)::"); ns != std::string::npos)
        where.erase(ns, std::string_view("(anonymous namespace)::").size());
    if (const auto open = where.find('('); open != std::string::npos && where.back() == ')')
        where.erase(open + 1, where.size() - open - 2);
    return l.file_line.empty() ? where : where + " " + l.file_line;
}

// One line per site holding at least `min_bytes` of the snapshot (peak_sites() after a
// measured region: what held its peak), after `indent` spaces:
//   "  7.63 MiB  held by 1 block from load_image() list_vs_generator.cpp:69"
inline void print_held_by(const memtrack::Snapshot& held, std::int64_t min_bytes, int indent)
{
    for (const memtrack_site& s : held.sites()) {
        // Stack 0 is memory from before memtrack started (libstdc++'s emergency pool): not
        // the demo's.
        if (held.bytes(s) < min_bytes || s.stack == 0) continue;
        fmt::print("{:{}}{:>12}  held by {} block{} from {}\n", "", indent,
                   fmt::format("{}", memtrack::Bytes{held.bytes(s)}), held.blocks(s),
                   held.blocks(s) == 1 ? "" : "s", short_location(s.stack));
    }
}

}  // namespace demo
