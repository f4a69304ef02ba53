// Report file names, for the library (config/, platform/report_file.cpp) and the launcher alike:
// the MEMTRACK_OUTPUT template rule and the ".N" names taken when a name exists. Header-only and
// dependency-free (the launcher includes it); constexpr, no allocation, async-signal-safe.
#pragma once

#include <string_view>

namespace memtrack::report_name {

// The highest N of the ".N" fallback names (NAME.1.json ... NAME.999.json).
inline constexpr unsigned kMaxNumber = 999;

// Whether `templ` is a valid MEMTRACK_OUTPUT template: not empty, not a directory (trailing
// '/'), and every '%' starts %p (pid), %e (executable name) or %% (a percent sign).
constexpr bool valid_output_template(std::string_view templ) noexcept
{
    if (templ.empty() || templ.back() == '/') return false;
    for (std::size_t i = 0; i < templ.size(); ++i) {
        if (templ[i] != '%') continue;
        if (i + 1 >= templ.size()) return false;
        const char c = templ[++i];
        if (c != 'p' && c != 'e' && c != '%') return false;
    }
    return true;
}

// A report path split where the ".N" of a fallback name goes: before a trailing ".json", else
// at the end. The numbered name is stem + "." + N + extension.
struct NumberedParts {
    std::string_view stem;
    std::string_view extension;  // ".json" or ""
};

constexpr NumberedParts numbered_parts(std::string_view path) noexcept
{
    constexpr std::string_view kExt = ".json";
    if (path.size() > kExt.size() && path.substr(path.size() - kExt.size()) == kExt)
        return {path.substr(0, path.size() - kExt.size()), kExt};
    return {path, {}};
}

}  // namespace memtrack::report_name
