// Symbolized stacks (see resolved_stacks.hpp).
#include "stack/resolved_stacks.hpp"

#include "stack/depot.hpp"

#include <cctype>

namespace memtrack::detail {

const ResolvedStack& StackTable::get(std::uint32_t id)
{
    auto it = cache_.find(id);
    if (it != cache_.end()) return it->second;
    ResolvedStack r;
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

}  // namespace memtrack::detail
