// Unit-test fixture: the core's counters start from zero and are reset afterwards.
#pragma once

#include "core/counters.hpp"

struct Fresh {
    Fresh() { memtrack::detail::counters_reset_for_tests(); }
    ~Fresh() { memtrack::detail::counters_reset_for_tests(); }
    Fresh(const Fresh&) = delete;
    Fresh& operator=(const Fresh&) = delete;
};
