// Hexadecimal text: one encoder (build ids) and one decoder (/proc fields). Header-only; no
// allocation beyond the caller's output; async-signal-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

inline char hex_digit(unsigned v) noexcept
{
    return "0123456789abcdef"[v & 0xf];
}

// Appends two lowercase digits per byte to `out` (anything with push_back(char)).
template <class Out> void append_hex(Out& out, const unsigned char* bytes, std::size_t size)
{
    for (std::size_t i = 0; i < size; ++i) {
        out.push_back(hex_digit(bytes[i] >> 4));
        out.push_back(hex_digit(bytes[i]));
    }
}

// Reads lowercase hex digits from p (advanced past them, never beyond end).
inline std::uint64_t parse_hex(const char*& p, const char* end) noexcept
{
    std::uint64_t v = 0;
    while (p < end) {
        const char c = *p;
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            break;
        v = v * 16 + static_cast<std::uint64_t>(d);
        ++p;
    }
    return v;
}

}  // namespace memtrack::detail
