// Leak suppressions: built-in patterns for glibc's TLS blocks and the MEMTRACK_SUPPRESSIONS
// file, matched against symbolized allocation stacks. Cold path; allocates under the Guard;
// symbolizes (not with the world stopped, not inside the allocator).
#pragma once

#include "leaks/collector.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memtrack::detail {

// Symbolizes the report's stacks (into report.stacks) and moves groups matching a suppression
// into `suppressed`. Call once, before the report is gathered. A malformed suppressions line
// gets one stderr line with its number.
void finalize_leaks(LeakReport& report);

// Whether a stack matches a suppression (symbolized once per stack and process; thread-safe).
bool stack_suppressed(std::uint32_t stack);

// Suppression patterns: `*` matches any run of characters; the whole text must match.
bool wildcard_match(std::string_view pattern, std::string_view text) noexcept;

// Parses a suppressions file's text: one pattern per line (an optional "leak:" prefix, as in
// LeakSanitizer's files), `#` comments, blank lines ignored. Malformed lines (another "type:"
// prefix, spaces inside a pattern) are reported in `errors` as "line N: why".
std::vector<std::string> parse_suppressions(std::string_view text,
                                            std::vector<std::string>& errors);

}  // namespace memtrack::detail
