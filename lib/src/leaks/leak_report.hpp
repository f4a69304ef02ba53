// The leak sections of the report: JSON (leaks, cycles, scan, gc, stacks) and the stderr
// summary lines, with symbolized stacks. Cold path; allocates under the Guard; runs after the
// world was resumed. Not thread-safe (called by the report writer).
#pragma once

#include "leaks/collector.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace memtrack::detail {

// Symbolizes the report's stacks and moves groups matching a suppression (built-in patterns
// for glibc's TLS blocks, and MEMTRACK_SUPPRESSIONS) into `suppressed`. Call once, before the
// output functions. A malformed suppressions line gets one stderr line with its number.
void finalize_leaks(LeakReport& report);

// Whether a stack matches a suppression (symbolized once per stack and process; thread-safe).
// Not with the world stopped, not inside the allocator (it may dlopen libdw).
bool stack_suppressed(std::uint32_t stack);

// Suppression patterns: `*` matches any run of characters; the whole text must match.
bool wildcard_match(std::string_view pattern, std::string_view text) noexcept;

// Parses a suppressions file's text: one pattern per line (an optional "leak:" prefix, as in
// LeakSanitizer's files), `#` comments, blank lines ignored. Malformed lines (another "type:"
// prefix, spaces inside a pattern) are reported in `errors` as "line N: why".
std::vector<std::string> parse_suppressions(std::string_view text,
                                            std::vector<std::string>& errors);

// Appends `"leaks": ..., "cycles": ..., "scan": ..., "gc": ..., "stacks": ...` (each followed
// by ",\n") to a JSON object being written.
void append_leaks_json(std::string& out, const LeakReport& report);

// Writes the leak section of the summary through log().
void print_leaks_text(const LeakReport& report);

// The object type an allocation stack shows (std::make_shared<Node> -> "Node"), or "".
// Exposed for the unit tests.
std::string type_from_function(std::string_view function);
// The first template argument of a function template instantiation when it is a type
// (make_node<Widget>(int) -> "Widget"), or "".
std::string template_argument(std::string_view function);

}  // namespace memtrack::detail
