// Threads and fork under the preload.
#include "common.hpp"

#include <sstream>

using namespace mt_test;

TEST_CASE("threads: cross-thread frees are counted exactly once joined", "[threads]")
{
    TempDir dir;
    const int n = 4, m = 2000;
    const RunResult r =
        run_tracked(dir, {program("tp_c"), "threads", std::to_string(n), std::to_string(m)});
    REQUIRE(r.exit_code == 0);
    std::istringstream in(r.out);
    std::string w;
    long long allocs = 0, frees = 0, bytes = 0, current = 0;
    std::getline(in, w);  // "tp_c threads"
    in >> w >> allocs >> w >> frees >> w >> bytes >> w >> current;
    INFO(r.out);
    // The marker blocks, plus what pthread_create itself allocates (a few blocks per thread).
    CHECK(allocs >= n * m);
    CHECK(allocs - n * m <= 4 * n);
    CHECK(frees >= n * m);
    CHECK(bytes >= static_cast<long long>(n) * m * 10007);
    CHECK(bytes - static_cast<long long>(n) * m * 10007 <= 4096LL * n);
    CHECK(current <= 4096LL * n);  // every marker block was freed by another thread
    const auto j = only_report(dir.path);
    CHECK(heap(j, "allocations") - heap(j, "frees") == heap(j, "live_blocks_at_exit"));
}

TEST_CASE("fork: each child writes its own report; the parent's is its own", "[fork]")
{
    TempDir dir;
    const RunResult r = run_tracked(dir, {program("tp_c"), "fork"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    int parent = 0, child = 0, exec_child = 0;
    std::istringstream in(r.out);
    std::string w;
    std::getline(in, w);  // "tp_c fork"
    in >> w >> parent >> w >> child >> w >> exec_child;
    const auto reports = reports_in(dir.path);
    REQUIRE(reports.size() == 3);
    for (const auto& j : reports) {
        const int pid = j["pid"];
        if (pid == parent) {
            CHECK(j["exit_status"] == 0);
            CHECK(j["program"] == program("tp_c"));
        } else if (pid == child) {
            CHECK(j["ppid"] == parent);
            CHECK(j["exit_status"] == 7);
            CHECK(heap(j, "allocations") == 1);  // its own run only: 30011 B
            CHECK(heap(j, "frees") == 1);        // the parent's 20011 B block
            CHECK(heap(j, "bytes_allocated") == 30011);
        } else {
            CHECK(pid == exec_child);
            CHECK(j["ppid"] == parent);
            CHECK(j["program"].get<std::string>().ends_with("/true"));
            CHECK(j["exit_status"] == 0);
        }
    }
}

TEST_CASE("fork: forking over and over while three threads allocate", "[fork]")
{
    TempDir dir;
    const RunResult r = run_tracked(dir, {program("tp_c"), "forkloop", "40"},
                                    {{"MEMTRACK_INTERVAL", "1ms"}, {"MEMTRACK_REPORT", "json"}});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto reports = reports_in(dir.path);
    CHECK(reports.size() == 41);
    int children = 0;
    for (const auto& j : reports) {
        if (j["exit_status"] != 0) FAIL("a report with exit status " << j["exit_status"]);
        if (heap(j, "bytes_allocated") == 5000) {
            ++children;
            CHECK(heap(j, "frees") == 1);
            CHECK(heap(j, "foreign_frees") == 0);
        }
    }
    CHECK(children == 40);
}
