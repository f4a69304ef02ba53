// Reading a saved JSON report as a document (report_reader.cpp), for the commands that need
// more than the summary model (the HTML page). Launcher only; may allocate and throw.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace memtrack::launcher {

// Reads and checks `path` (a memtrack report of a version this launcher reads) into `out`.
// Returns 0, or 2 after a one-line error on stderr, as `memtrack report` does.
int load_report_json(const std::string& path, nlohmann::json& out);

}  // namespace memtrack::launcher
