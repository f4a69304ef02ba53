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

// memtrack's own mappings are a table of 256 ranges (platform/own_memory.cpp). Each thread's
// unwind tables once took a range of their own: with 400 threads alive, those past about 240 got
// none and unwound every stack with libunwind (and the site table or the depot could not grow).
// They now come from a pool of a few slabs.
TEST_CASE("own memory: 400 live threads all get unwind tables", "[unwind][thread]")
{
    TempDir dir;
    const RunResult r = run_tracked(dir, {program("tp_unwind"), "live_threads", "400"},
                                    {{"MEMTRACK_UNWIND_CHECK", "1"},
                                     {"MEMTRACK_REPORT", "json"},
                                     {"MEMTRACK_OUTPUT", dir.file("r.json")}});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const json j = only_report(dir.path);
    REQUIRE(j.contains("unwind"));
    CHECK(j["unwind"]["captures_without_tables"] == 0);
    CHECK(j["unwind"]["thread_table_bytes"].get<std::int64_t>() > 32 * 1024);
    // Every capture had tables, so the check compared them all (20 rounds of 2 to 4 allocations
    // a thread; a capture without tables is not compared).
    CHECK(j["unwind_check"]["differences"] == 0);
    CHECK(j["unwind_check"]["stacks"].get<std::int64_t>() >= 400 * 20 * 2);
}

TEST_CASE("issue 13: unwind check: C++20 coroutines", "[unwind]")
{
    no_differences({program("tp_unwind"), "coroutines"}, 5000);
}

TEST_CASE("issue 13: unwind check: recursion deeper than the capture depth", "[unwind]")
{
    no_differences({program("tp_unwind"), "deep"}, 2000);
}

TEST_CASE("issue 13: unwind check: recursion paths that vary under a shared outer stack give "
          "one exact stack per path, through memo misses and hits",
          "[unwind]")
{
    // tp_unwind's paths scenario: path k recurses path_depth(k) levels, level j + 1 in path_b
    // when bit j of path_bits(k) is set (else path_a), and allocates 5000 + k bytes at the
    // bottom, 40 times, interleaved with the other paths. Each path must be one site (its 40
    // captures, memo misses and hits, interned to one depot id) with exactly its frames, and
    // every capture must equal unw_backtrace's.
    constexpr unsigned kPaths = 24, kRounds = 40;
    const auto depth = [](unsigned k) { return 4 + (k * 7) % 23; };
    const auto bits = [](unsigned k) { return k * 2654435761u ^ (k << 3); };
    TempDir dir;
    const RunResult r = run_tracked(dir, {program("tp_unwind"), "paths"},
                                    {{"MEMTRACK_UNWIND_CHECK", "1"},
                                     {"MEMTRACK_REPORT", "json"},
                                     {"MEMTRACK_OUTPUT", dir.file("r.%e.%p.json")}});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto reports = reports_in(dir.path);
    REQUIRE(reports.size() == 1);
    const json& j = reports[0];
    CHECK(j["unwind_check"]["differences"] == 0);
    CHECK(j["unwind_check"]["stacks"].get<std::int64_t>() >= kPaths * kRounds);
    int checked_frames = 0;
    for (unsigned k = 0; k < kPaths; ++k) {
        INFO("path " << k);
        const json* found = nullptr;
        int sites = 0;
        for (const json& s : j.at("sites")) {
            const auto bytes = s.at("bytes_allocated").get<std::int64_t>();
            if (bytes % (5000 + k) != 0 || s.at("allocations").get<std::int64_t>() == 0 ||
                bytes / s.at("allocations").get<std::int64_t>() != 5000 + k)
                continue;
            ++sites;
            found = &s;
        }
        REQUIRE(sites == 1);
        CHECK(found->at("allocations") == kRounds);
        // The report names the stacks of the sites that lead its views (here the 10 largest
        // by bytes allocated): their path frames, innermost first, must be the path's levels.
        const std::string id = std::to_string(found->at("stack").get<std::uint32_t>());
        if (!j.at("stacks").contains(id)) continue;
        std::string got;
        for (const json& f : j.at("stacks").at(id)) {
            const std::string fn = f.value("function", "");
            if (fn.find("path_a(") != std::string::npos) got += 'a';
            if (fn.find("path_b(") != std::string::npos) got += 'b';
        }
        std::string want;
        for (unsigned level = depth(k) + 1; level-- > 0;)
            want += level > 0 && (bits(k) >> (level - 1)) & 1 ? 'b' : 'a';
        CHECK(got == want);
        ++checked_frames;
    }
    CHECK(checked_frames >= 10);
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
