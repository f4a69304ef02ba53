// Prints lib/src/config/options.hpp's option table for check_readme_options.py: one line per
// option, tab-separated: variable, launcher flags, default.
#include "config/options.hpp"

#include <cstdio>

int main()
{
    for (const auto& o : memtrack::detail::kOptions)
        std::printf("%s\t%s\t%s\n", o.variable, o.flags, o.default_value);
    return 0;
}
