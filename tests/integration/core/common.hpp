// Helpers shared by the core integration tests.
#pragma once

#include "harness.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

namespace mt_test {

// Runs argv under the preload with the report going into dir (r.<pid>.json).
inline RunResult run_tracked(const TempDir& dir, std::vector<std::string> argv,
                             std::vector<std::pair<std::string, std::string>> env = {})
{
    RunOptions o;
    o.argv = std::move(argv);
    o.env = std::move(env);
    bool has_output = false;
    for (const auto& kv : o.env)
        has_output = has_output || kv.first == "MEMTRACK_OUTPUT";
    if (!has_output) o.env.emplace_back("MEMTRACK_OUTPUT", dir.path + "/r.%p.json");
    return run(o);
}

inline std::int64_t heap(const nlohmann::json& r, const char* field)
{
    return r.at("heap").at(field).get<std::int64_t>();
}

}  // namespace mt_test
