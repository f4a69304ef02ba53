// Shared by the demos: human size arguments and a sink that keeps the optimiser from dropping
// memory the demos allocate on purpose.
#pragma once

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

}  // namespace demo
