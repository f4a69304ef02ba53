// Sizes with units ("512MiB", "2GB", "4096"), for the MEMTRACK_* options and the launcher's
// diff gates: header-only so that the launcher, which never links the core, parses them the
// same way. No allocation; noexcept.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace memtrack::detail {

// " 1.5 ms " -> {1.5, "ms"}: a non-negative decimal number and the rest, blanks trimmed.
inline std::optional<std::pair<double, std::string_view>>
number_and_unit(std::string_view text) noexcept
{
    const auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
            s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
            s.remove_suffix(1);
        return s;
    };
    text = trim(text);
    std::size_t i = 0;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.'))
        ++i;
    const std::string_view number = text.substr(0, i);
    if (number.empty() || number == ".") return std::nullopt;
    double value = 0;
    const auto res = std::from_chars(number.data(), number.data() + number.size(), value);
    if (res.ec != std::errc{} || res.ptr != number.data() + number.size()) return std::nullopt;
    return std::pair{value, trim(text.substr(i))};
}

// Sizes: a number with an optional unit: B, KiB, MiB, GiB, TiB (binary), kB, MB, GB, TB
// (decimal), or K, M, G, T (binary). nullopt for anything else.
inline std::optional<std::int64_t> parse_size(std::string_view text) noexcept
{
    const auto parsed = number_and_unit(text);
    if (!parsed) return std::nullopt;
    const auto [value, unit] = *parsed;
    struct Unit {
        std::string_view name;
        double scale;
    };
    static constexpr Unit kUnits[] = {{"", 1},
                                      {"B", 1},
                                      {"KiB", 1024.0},
                                      {"MiB", 1048576.0},
                                      {"GiB", 1073741824.0},
                                      {"TiB", 1099511627776.0},
                                      {"kB", 1e3},
                                      {"KB", 1e3},
                                      {"MB", 1e6},
                                      {"GB", 1e9},
                                      {"TB", 1e12},
                                      {"K", 1024.0},
                                      {"M", 1048576.0},
                                      {"G", 1073741824.0},
                                      {"T", 1099511627776.0}};
    for (const Unit& u : kUnits) {
        if (u.name != unit) continue;
        const double bytes = value * u.scale;
        if (!std::isfinite(bytes) || bytes > 9e18) return std::nullopt;
        return static_cast<std::int64_t>(bytes);
    }
    return std::nullopt;
}

}  // namespace memtrack::detail
