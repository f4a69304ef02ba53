// Symbolized allocation stacks for the report and the suppressions: each depot stack resolved
// to source frames once, and the C++ type it allocates. Cold path; allocates under the Guard;
// may dlopen libdw (not with the world stopped, not inside the allocator).
#pragma once

#include "stack/symbolize.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace memtrack::detail {

struct ResolvedStack {
    std::vector<SymbolFrame> frames;  // innermost first, inlined frames included
    std::string type;                 // the allocated type the frames show, or ""
};

// Symbolizes each stack once per table. Not thread-safe: one owner (the report), or a lock
// held by the caller (the process-wide table of leaks/suppressions.cpp).
class StackTable {
public:
    const ResolvedStack& get(std::uint32_t id);

private:
    Symbolizer sym_;
    std::map<std::uint32_t, ResolvedStack> cache_;
};

// The object type an allocation stack shows (std::make_shared<Node> -> "Node"), or "".
// Exposed for the unit tests.
std::string type_from_function(std::string_view function);
// The first template argument of a function template instantiation when it is a type
// (make_node<Widget>(int) -> "Widget"), or "".
std::string template_argument(std::string_view function);

}  // namespace memtrack::detail
