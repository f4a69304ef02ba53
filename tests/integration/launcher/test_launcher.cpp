// build/bin/memtrack, run as a user would (not itself preloaded).
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <string>

using namespace mt_test;

namespace {
RunResult launch(std::vector<std::string> args,
                 std::vector<std::pair<std::string, std::string>> env = {})
{
    RunOptions o;
    o.argv = {bin("memtrack")};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = std::move(env);
    o.preload = false;
    o.unset_env = {"LD_PRELOAD", "MEMTRACK_OUTPUT", "MEMTRACK_REPORT", "MEMTRACK_INTERVAL",
                   "MEMTRACK_LIBRARY"};
    return run(o);
}
const std::string kFixtures = MT_FIXTURES;
}  // namespace

TEST_CASE("launcher: exit status is the program's; signals become 128+N", "[launcher]")
{
    TempDir dir;
    const std::string out = dir.file("r.%p.json");
    CHECK(launch({"-o", out, "--", program("tp_c"), "basic", "exit", "0"}).exit_code == 0);
    CHECK(launch({"-o", out, "--", program("tp_c"), "basic", "exit", "3"}).exit_code == 3);
    const RunResult killed = launch({"--report=none", "--", "bash", "-c", "kill -TERM $$"});
    CHECK(killed.exit_code == 128 + SIGTERM);
    CHECK(killed.err.find("killed by signal 15") != std::string::npos);
}

TEST_CASE("launcher: a program that cannot run gives 127 and a message", "[launcher]")
{
    const RunResult r = launch({"--", "/nonexistent/program"});
    CHECK(r.exit_code == 127);
    CHECK(r.err.find("memtrack: cannot run /nonexistent/program") != std::string::npos);
    const RunResult none = launch({"--report", "none"});
    CHECK(none.exit_code == 2);
    CHECK(none.err.find("no program given") != std::string::npos);
}

TEST_CASE("launcher: LD_PRELOAD is prepended and options become variables", "[launcher]")
{
    TempDir dir;
    const RunResult r = launch({"--report", "json", "--interval", "250ms", "-o",
                                dir.file("x.%p.json"), "--", "/usr/bin/env"},
                               {{"LD_PRELOAD", "/lib/x86_64-linux-gnu/libdl.so.2"}});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("LD_PRELOAD=" + lib_path() + ":/lib/x86_64-linux-gnu/libdl.so.2\n") !=
          std::string::npos);
    CHECK(r.out.find("MEMTRACK_REPORT=json\n") != std::string::npos);
    CHECK(r.out.find("MEMTRACK_INTERVAL=250ms\n") != std::string::npos);
    CHECK(r.out.find("MEMTRACK_OUTPUT=" + dir.file("x.%p.json") + "\n") != std::string::npos);
}

TEST_CASE("launcher: runs the program under memtrack and says where the report went", "[launcher]")
{
    TempDir dir;
    const RunResult r =
        launch({"-o", dir.file("r.%e.%p.json"), "--", program("tp_c"), "basic", "exit", "5"});
    CHECK(r.exit_code == 5);
    const auto reports = reports_in(dir.path);
    REQUIRE(reports.size() == 1);
    const std::string path =
        dir.file("r.tp_c." + std::to_string(reports[0]["pid"].get<int>()) + ".json");
    CHECK(r.err.find("memtrack: report written to " + path + "\n") != std::string::npos);
    CHECK(reports[0]["exit_status"] == 5);
    // `memtrack report` prints the same summary the library printed at exit.
    const RunResult shown = launch({"report", path});
    CHECK(shown.exit_code == 0);
    CHECK(shown.out.find("tp_c (pid ") != std::string::npos);
    CHECK(shown.out.find("exited with status 5") != std::string::npos);
    for (const std::string line : {"heap    peak", "calls   ", "rss     max RSS"}) {
        const auto at = r.err.find(line);
        REQUIRE(at != std::string::npos);
        const std::string lib_line = r.err.substr(at, r.err.find('\n', at) - at);
        CHECK(shown.out.find(lib_line) != std::string::npos);
    }
}

TEST_CASE("launcher: no report announced when there is none", "[launcher]")
{
    const RunResult r = launch({"--report=text", "--", program("tp_c"), "idle"});
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("report written") == std::string::npos);
}

TEST_CASE("launcher: memtrack report reads a saved report", "[launcher]")
{
    const RunResult r = launch({"report", kFixtures + "/good.json", "--timeline"});
    CHECK(r.exit_code == 0);
    CHECK(r.out ==
          "memtrack: process_data (pid 4242) exited with status 0\n"
          "memtrack:   time    wall 0.41 s, user 0.22 s, sys 0.18 s, CPU/wall 0.98\n"
          "memtrack:   heap    peak 192.00 MiB at 0.12 s; live at exit 1.00 KiB in 3 blocks\n"
          "memtrack:   calls   57 allocations, 54 frees, 768.00 MiB allocated, 0 foreign frees\n"
          "memtrack:   rss     max RSS 201.00 MiB (tracked heap peak 192.00 MiB)\n"
          "memtrack:   timeline      t (s)            heap\n"
          "memtrack:                 0.000             0 B\n"
          "memtrack:                 0.100      128.00 MiB\n"
          "memtrack:                 0.120      192.00 MiB\n"
          "memtrack:                 0.410        1.00 KiB\n");
}

TEST_CASE("launcher: missing, truncated, foreign and future reports exit 2 with one line",
          "[launcher]")
{
    struct Case {
        std::string file;
        std::string says;
    };
    for (const Case& c : {Case{"/nonexistent/r.json", "cannot read"},
                          Case{kFixtures + "/truncated.json", "not a complete JSON document"},
                          Case{kFixtures + "/not_json.txt", "not a complete JSON document"},
                          Case{kFixtures + "/foreign.json", "not a memtrack report"},
                          Case{kFixtures + "/future.json", "version 99 is not supported"}}) {
        INFO(c.file);
        const RunResult r = launch({"report", c.file});
        CHECK(r.exit_code == 2);
        CHECK(r.out.empty());
        CHECK(r.err.find(c.says) != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
}
