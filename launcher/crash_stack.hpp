// `memtrack report`'s names for the raw stack of a signal report (issue 11): the library
// writes pc, module and offset from its signal handler (no libdw there); the launcher reads
// each module's symbols and line tables with elfutils libdw. Cold; may allocate and throw.
#pragma once

#include "report/model.hpp"

#include <vector>

namespace memtrack::launcher {

// Fills function (demangled), file and line of each frame whose module file can be read and
// has a symbol for its offset; frames [1..] are return addresses, looked up one byte before
// (the call). Leaves the rest as they are. A module that changed on disk since the run gives
// wrong names: nothing here can tell (the report has no build id).
void symbolize_crash_stack(std::vector<memtrack::detail::ReportFrame>& frames);

}  // namespace memtrack::launcher
