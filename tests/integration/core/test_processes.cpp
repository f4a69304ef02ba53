// Threads and fork under the preload.
#include "common.hpp"

#include <csignal>
#include <sstream>
#include <unistd.h>

using namespace mt_test;

namespace {
struct ThreadDeltas {
    long long allocations = -1, frees = -1, bytes = -1, current = -1;
};

// Parses tp_c threads' line "allocations A frees F bytes B current C".
ThreadDeltas parse_thread_deltas(const std::string& out)
{
    std::istringstream in(out);
    std::string w;
    std::getline(in, w);  // "tp_c threads"
    ThreadDeltas d;
    in >> w >> d.allocations >> w >> d.frees >> w >> d.bytes >> w >> d.current;
    return d;
}
}  // namespace

TEST_CASE("threads: cross-thread frees are counted exactly once the threads are quiet", "[threads]")
{
    TempDir dir;
    const int n = 4, m = 2000;
    const RunResult r =
        run_tracked(dir, {program("tp_c"), "threads", std::to_string(n), std::to_string(m)});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    // Read through the API between barriers: all threads started, then all blocks freed.
    const ThreadDeltas d = parse_thread_deltas(r.out);
    CHECK(d.allocations == n * m);
    CHECK(d.frees == n * m);
    CHECK(d.bytes == 10007LL * n * m);
    CHECK(d.current == 0);
    const auto j = only_report(dir.path);
    CHECK(heap(j, "allocations") - heap(j, "frees") == heap(j, "live_blocks_at_exit"));
}

TEST_CASE("threads: the exit report's totals are exact once every thread has joined", "[threads]")
{
    // The same program with no marker blocks is the baseline: thread start-up and exit
    // allocate the same in both runs, so the differences are the markers alone.
    const int n = 4, m = 2000;
    TempDir dir, base_dir;
    const RunResult r =
        run_tracked(dir, {program("tp_c"), "threads", std::to_string(n), std::to_string(m)});
    const RunResult b = run_tracked(base_dir, {program("tp_c"), "threads", std::to_string(n), "0"});
    INFO(r.out << r.err << b.out << b.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(b.exit_code == 0);
    const auto j = only_report(dir.path);
    const auto base = only_report(base_dir.path);
    CHECK(heap(j, "allocations") - heap(base, "allocations") == n * m);
    CHECK(heap(j, "frees") - heap(base, "frees") == n * m);
    // markers, plus each thread's pointer array: m pointers instead of one
    CHECK(heap(j, "bytes_allocated") - heap(base, "bytes_allocated") ==
          10007LL * n * m + 8LL * n * (m - 1));
    CHECK(heap(j, "live_blocks_at_exit") == heap(base, "live_blocks_at_exit"));
    CHECK(heap(j, "current_bytes") == heap(base, "current_bytes"));
    CHECK(heap(j, "foreign_frees") == 0);
    // At most every marker block at once, plus 1 MiB per thread of unfolded balance.
    CHECK(heap(j, "peak_bytes") - heap(base, "peak_bytes") <= 10007LL * n * m + (n << 20));
    CHECK(heap(j, "peak_bytes") - heap(base, "peak_bytes") >= 10007LL * m);
}

TEST_CASE("fork: each child writes its own report, the parent's is its own", "[fork]")
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
    // parent, child, and the exec child twice: before the exec (its own) and as true
    REQUIRE(reports.size() == 4);
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
        } else if (j["reason"] == "exec") {
            CHECK(pid == exec_child);
            CHECK(j["ppid"] == parent);
            CHECK(j["program"] == program("tp_c"));
            CHECK(j["exit_status"].is_null());
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

TEST_CASE("fork: a single-threaded parent is unaffected by its children", "[fork]")
{
    TempDir dir;
    const RunResult r = run_tracked(dir, {program("tp_c"), "fork1"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("FAIL") == std::string::npos);
    int parent = 0, child = 0, quiet = 0, exec_child = 0;
    long long at_fork = 0;
    std::istringstream in(r.out);
    std::string w;
    std::getline(in, w);  // "tp_c fork1"
    std::getline(in, w);  // "tp_c idle" from the exec'd child
    in >> w >> parent >> w >> child >> w >> quiet >> w >> exec_child >> w >> at_fork;
    REQUIRE(parent > 0);
    const auto reports = reports_in(dir.path);
    // parent, child, the _exit child, the exec child before its exec and as `tp_c idle`
    REQUIRE(reports.size() == 5);
    TempDir idle_dir;
    REQUIRE(run_tracked(idle_dir, {program("tp_c"), "idle"}).exit_code == 0);
    const auto idle = only_report(idle_dir.path);
    bool seen_parent = false, seen_child = false, seen_exec = false, seen_quiet = false,
         seen_before_exec = false;
    for (const auto& j : reports) {
        const int pid = j["pid"];
        if (pid == quiet) {
            seen_quiet = true;
            CHECK(j["reason"] == "_exit");
            CHECK(j["exit_status"] == 0);
            CHECK(j["ppid"] == parent);
        } else if (pid == exec_child && j["reason"] == "exec") {
            seen_before_exec = true;
            CHECK(j["ppid"] == parent);
            CHECK(heap(j, "allocations") == 0);  // the child's own run, before the exec
        } else if (pid == parent) {
            seen_parent = true;
            CHECK(j["ppid"] == getpid());
            CHECK(j["exit_status"] == 0);
            // The children's 30011 and 40009 B blocks and frees are not the parent's.
            CHECK(heap(j, "bytes_allocated") < 30011 + heap(idle, "bytes_allocated"));
            CHECK(heap(j, "current_bytes") - heap(idle, "current_bytes") == 20011);
        } else if (pid == child) {
            seen_child = true;
            CHECK(j["ppid"] == parent);
            CHECK(j["exit_status"] == 7);
            CHECK(j["program"] == program("tp_c"));
            CHECK(heap(j, "allocations") == 1);
            CHECK(heap(j, "frees") == 1);  // the parent's 20011 B block
            CHECK(heap(j, "bytes_allocated") == 30011);
            CHECK(heap(j, "foreign_frees") == 0);
            // its heap starts at what it inherited
            CHECK(heap(j, "current_bytes") == at_fork - 20011 + 30011);
            CHECK(heap(j, "peak_bytes") >= at_fork + 30011 - 20011);
            CHECK(heap(j, "live_blocks_at_exit") >= 1);
        } else {
            seen_exec = true;
            CHECK(pid == exec_child);
            CHECK(j["ppid"] == parent);
            CHECK(j["program"] == program("tp_c"));
            CHECK(j["argv"] == nlohmann::json::array({"tp_c", "idle"}));
            // a fresh process image: counted from its own start, like any idle run
            CHECK(heap(j, "allocations") == heap(idle, "allocations"));
            CHECK(heap(j, "current_bytes") == heap(idle, "current_bytes"));
        }
    }
    CHECK(seen_parent);
    CHECK(seen_child);
    CHECK(seen_exec);
    CHECK(seen_quiet);
    CHECK(seen_before_exec);
}

TEST_CASE("threads: exit while detached threads still allocate", "[threads]")
{
    TempDir dir;
    const RunResult r = run_tracked(dir, {program("tp_c"), "detached"});
    INFO(r.err);
    CHECK(r.term_signal == 0);
    CHECK(r.exit_code == 3);
    const auto j = only_report(dir.path);
    CHECK(j["exit_status"] == 3);
    CHECK(r.err.find("exited with status 3") != std::string::npos);
}

TEST_CASE("processes: _exit reports, exec reports and replaces the image", "[processes]")
{
    TempDir dir;
    RunResult r = run_tracked(dir, {"/usr/bin/python3", "-c", "import os; os._exit(9)"});
    CHECK(r.exit_code == 9);
    CHECK(only_report(dir.path)["reason"] == "_exit");
    // bash runs echo itself, then execs tp_c: bash's exec report, then tp_c's, with the
    // shell's pid; one summary, tp_c's
    TempDir exec_dir;
    r = run_tracked(exec_dir,
                    {"/bin/bash", "-c", "echo before; exec \"$0\" basic exit 6", program("tp_c")});
    CHECK(r.exit_code == 6);
    CHECK(r.out == "before\ntp_c basic\nbasic done\n");
    const auto reports = reports_in(exec_dir.path);
    REQUIRE(reports.size() == 2);
    for (const auto& j : reports) {
        CHECK(j["pid"] == reports[0]["pid"]);
        CHECK(j["ppid"] == getpid());
        if (j["reason"] == "exec") {
            CHECK(j["program"] == "/usr/bin/bash");
        } else {
            CHECK(j["program"] == program("tp_c"));
            CHECK(j["exit_status"] == 6);
        }
    }
    CHECK(r.err.find("memtrack: bash") == std::string::npos);
    CHECK(r.err.find("memtrack: tp_c (pid") != std::string::npos);
}

TEST_CASE("processes: closed stdout and stderr do not break the program or the report",
          "[processes]")
{
    TempDir dir;
    const RunResult r =
        run_tracked(dir, {"/bin/sh", "-c", "exec \"$0\" basic exit 5 >&- 2>&-", program("tp_c")});
    CHECK(r.term_signal == 0);
    CHECK(r.exit_code == 5);
    CHECK(r.err.empty());
    CHECK(final_report(dir.path)["exit_status"] == 5);
}

TEST_CASE("processes: a relative report path is resolved against the start directory",
          "[processes]")
{
    TempDir dir, elsewhere;
    RunOptions o;
    o.argv = {program("tp_c"), "chdir", elsewhere.path};
    o.cwd = dir.path;
    o.env = {{"MEMTRACK_OUTPUT", "r.%p.json"}, {"MEMTRACK_REPORT", "json"}};
    const RunResult r = run(o);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(reports_in(elsewhere.path).empty());
    CHECK(only_report(dir.path)["exit_status"] == 0);
}

TEST_CASE("harness: big outputs on both pipes and stdin data do not deadlock", "[harness]")
{
    RunOptions o;
    o.argv = {"/bin/sh", "-c", "head -c 3000000 /dev/zero; head -c 2000000 /dev/zero >&2; cat"};
    o.preload = false;
    o.stdin_data = std::string(1'000'000, 'x');
    const RunResult r = run(o);
    CHECK(r.exit_code == 0);
    CHECK(r.out.size() == 4'000'000);
    CHECK(r.err.size() == 2'000'000);
    CHECK(r.out.substr(3'000'000) == o.stdin_data);
    o.argv = {"/nonexistent/program"};
    CHECK(run(o).exit_code == 127);
}
