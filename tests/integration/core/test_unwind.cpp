// Issue 13: the fast unwinder and its per-thread memo give exactly libunwind's stacks.
// MEMTRACK_UNWIND_CHECK=1 compares every captured stack with unw_backtrace's; the scenarios of
// tests/programs/tp_unwind.cpp and real programs must show no difference.
#include "common.hpp"

#include <cstdio>
#include <unistd.h>

using namespace mt_test;

namespace {

using json = nlohmann::json;

// Runs argv with the check on; every report written must count stacks and no difference.
void no_differences(std::vector<std::string> argv, std::int64_t min_stacks = 1)
{
    TempDir dir;
    const RunResult r = run_tracked(dir, argv,
                                    {{"MEMTRACK_UNWIND_CHECK", "1"},
                                     {"MEMTRACK_REPORT", "json"},
                                     {"MEMTRACK_OUTPUT", dir.file("r.%e.%p.json")}});
    INFO(argv[0] << " " << (argv.size() > 1 ? argv[1] : ""));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto reports = reports_in(dir.path);
    REQUIRE(!reports.empty());
    std::int64_t stacks = 0;
    for (const json& j : reports) {
        REQUIRE(j.contains("unwind_check"));
        CHECK(j["unwind_check"]["differences"] == 0);
        stacks += j["unwind_check"]["stacks"].get<std::int64_t>();
    }
    CHECK(stacks >= min_stacks);
}

}  // namespace

TEST_CASE("issue 13: unwind check: C++ exceptions thrown through allocating frames", "[unwind]")
{
    no_differences({program("tp_unwind"), "exceptions"}, 1000);
}

TEST_CASE("issue 13: unwind check: longjmp out of allocating code", "[unwind]")
{
    no_differences({program("tp_unwind"), "longjmp"}, 400);
}

TEST_CASE("issue 13: unwind check: signal handlers that allocate, normal stack", "[unwind]")
{
    no_differences({program("tp_unwind"), "signals"}, 400);
}

TEST_CASE("issue 13: unwind check: signal handlers that allocate, sigaltstack", "[unwind]")
{
    no_differences({program("tp_unwind"), "sigaltstack"}, 400);
}

TEST_CASE("issue 13: unwind check: alloca, variable and realigned frames", "[unwind]")
{
    no_differences({program("tp_unwind"), "frames"}, 200);
}

TEST_CASE("issue 13: unwind check: code in a library that is dlclose()d", "[unwind]")
{
    no_differences({program("tp_unwind"), "dlclose", program("libtp_leaklib.so")}, 200);
}

TEST_CASE("issue 13: unwind check: many threads", "[unwind]")
{
    no_differences({program("tp_unwind"), "threads"}, 16 * 2000);
}

TEST_CASE("issue 13: unwind check: C++20 coroutines", "[unwind]")
{
    no_differences({program("tp_unwind"), "coroutines"}, 5000);
}

TEST_CASE("issue 13: unwind check: recursion deeper than the capture depth", "[unwind]")
{
    no_differences({program("tp_unwind"), "deep"}, 2000);
}

TEST_CASE("issue 13: unwind check: real programs (python3, git, g++)", "[unwind][real]")
{
    no_differences({"/usr/bin/python3", "-c", "import json; print(len(json.dumps(list(range(999)))))"});
    no_differences({"git", "--version"});
    TempDir src;
    const std::string c = src.file("t.c");
    {
        std::FILE* f = std::fopen(c.c_str(), "w");
        REQUIRE(f != nullptr);
        std::fputs("int main(void) { return 0; }\n", f);
        std::fclose(f);
    }
    no_differences({"g++", "-O1", "-c", c, "-o", src.file("t.o")});
}
