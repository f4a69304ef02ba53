// The end-of-run report: fields, exit status, timeline, which parts are written, bad
// configuration, unwritable and taken output paths.
#include "common.hpp"

#include <algorithm>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace mt_test;

TEST_CASE("report: every documented field, with exact marker values", "[report]")
{
    TempDir base_dir, dir;
    REQUIRE(run_tracked(base_dir, {program("tp_c"), "idle"}).exit_code == 0);
    const auto base = only_report(base_dir.path);
    const RunResult r = run_tracked(dir, {program("tp_c"), "basic", "return", "0"});
    REQUIRE(r.exit_code == 0);
    const auto j = only_report(dir.path);
    CHECK(j["format"] == "memtrack-report");
    CHECK(j["version"] == 2);
    CHECK(j["reason"] == "exit");
    CHECK(j["program"] == program("tp_c"));
    CHECK(j["argv"] == nlohmann::json::array({program("tp_c"), "basic", "return", "0"}));
    CHECK(j["pid"].get<int>() > 0);
    CHECK(j["ppid"].get<int>() == getpid());
    CHECK(j["exit_status"] == 0);
    for (const char* f : {"wall_s", "user_s", "sys_s", "cpu_wall_ratio", "max_rss_bytes"})
        CHECK(j["process"][f].is_number());
    CHECK(j["process"]["max_rss_bytes"].get<std::int64_t>() > 3'000'000);
    // Exact: the program adds 10007 kept + 3000000 freed to its start-up heap.
    const std::int64_t start = heap(base, "live_bytes_at_exit");
    // Counted from the very first allocation: libstdc++ (a dependency of libmemtrack.so, so
    // initialised before memtrack's constructor runs) allocates its 72704-byte exception pool
    // at start-up; it is in the report.
    CHECK(start >= 72704);
    CHECK(heap(j, "live_bytes_at_exit") == start + 10007);
    CHECK(heap(j, "current_bytes") == start + 10007);
    CHECK(heap(j, "peak_bytes") == start + 10007 + 3000000);
    CHECK(heap(j, "allocations") == heap(base, "allocations") + 2);
    CHECK(heap(j, "frees") == heap(base, "frees") + 1);
    CHECK(heap(j, "bytes_allocated") == heap(base, "bytes_allocated") + 3010007);
    CHECK(heap(j, "live_blocks_at_exit") == heap(base, "live_blocks_at_exit") + 1);
    CHECK(heap(j, "foreign_frees") == 0);
    CHECK(j["heap"]["peak_time_s"].get<double>() <= j["process"]["wall_s"].get<double>());
    // The timeline: [seconds, bytes, rss] in time order, holding the peak itself.
    const auto& tl = j["timeline"];
    REQUIRE(tl.size() >= 2);
    bool has_peak = false;
    double last = -1;
    for (const auto& point : tl) {
        REQUIRE(point.size() == 3);
        CHECK((point[2].is_null() || point[2].get<std::int64_t>() > 0));
        CHECK(point[0].get<double>() >= last);
        last = point[0].get<double>();
        has_peak = has_peak || point[1].get<std::int64_t>() == heap(j, "peak_bytes");
    }
    CHECK(has_peak);
    // The summary on stderr.
    const auto lines = memtrack_lines(r.err);
    // 7 lines, and what held the peak (issue 10): a line, then one per site (the start-up heap
    // without a stack, stdio's buffer, the program's two blocks).
    REQUIRE(lines.size() == 12);
    CHECK(lines[0].find("tp_c (pid ") != std::string::npos);
    CHECK(lines[0].find("exited with status 0") != std::string::npos);
    CHECK(lines[2].find("heap    peak 2.94 MiB") != std::string::npos);  // 72704 + 3010007 B
    CHECK(lines[3].find("peak    2.94 MiB at ") != std::string::npos);
    CHECK(lines[3].find(", held by:") != std::string::npos);
    CHECK(lines[4].find("2.86 MiB (97%) 1 block  mode_basic tp_c.c:") != std::string::npos);
    CHECK(lines[10].find("leaks   0 B direct in 0 blocks") != std::string::npos);
    CHECK(lines[11].find(dir.path) != std::string::npos);
}

TEST_CASE("report: the program's buffered output comes before the summary", "[report]")
{
    // stdout and stderr into one pipe: the program's stdout is fully buffered there.
    TempDir dir;
    const RunResult r =
        run_tracked(dir, {"/bin/sh", "-c", "exec \"$0\" print 2>&1", program("tp_cxx")});
    const auto program_line = r.out.find("program output");
    const auto summary_line = r.out.find("memtrack: tp_cxx (pid");
    REQUIRE(program_line != std::string::npos);
    REQUIRE(summary_line != std::string::npos);
    CHECK(program_line < summary_line);
}

TEST_CASE("report: exit does not wait for a stdio lock another thread holds", "[report]")
{
    // stdin stays open (a sleep feeds it nothing) and a thread blocks in fgets holding its
    // lock; flushing every stream at exit would hang until the program's alarm kills it.
    TempDir dir;
    const RunResult r =
        run_tracked(dir, {"bash", "-c", "exec \"$0\" stdinblock < <(exec sleep 30 2>/dev/null)",
                          program("tp_c")});
    CHECK(r.term_signal == 0);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("leaving") != std::string::npos);
    CHECK(final_report(dir.path)["exit_status"] == 0);
}

TEST_CASE("report: exit status from exit(N) and from return N", "[report]")
{
    for (const char* how : {"exit", "return"}) {
        TempDir dir;
        const RunResult r = run_tracked(dir, {program("tp_c"), "basic", how, "42"});
        CHECK(r.exit_code == 42);
        CHECK(only_report(dir.path)["exit_status"] == 42);
        CHECK(r.err.find("exited with status 42") != std::string::npos);
    }
}

TEST_CASE("report: the allocation path fills the timeline at MEMTRACK_INTERVAL", "[report]")
{
    // issue 11: no sampler thread; a fold (here each 2 MiB block) adds a point once the
    // interval has passed. 10 steps 60 ms apart with a 50 ms interval: a point per step.
    TempDir dir;
    const RunResult r =
        run_tracked(dir, {program("tp_ends"), "grow", "10"}, {{"MEMTRACK_INTERVAL", "50ms"}});
    REQUIRE(r.exit_code == 0);
    const auto j = only_report(dir.path);
    CHECK(j["config"]["interval_s"].get<double>() == Approx(0.05));
    const auto& tl = j["timeline"];
    CHECK(tl.size() >= 8);  // ~10 points + start, peak and end
    std::int64_t last = 0;
    for (const auto& p : tl) {
        CHECK(p[1].get<std::int64_t>() >= last);  // the heap only grows
        last = p[1].get<std::int64_t>();
    }
    CHECK(last >= 20 << 20);
    // A program that does not allocate has nothing to sample: start, peak and end.
    TempDir idle_dir;
    RunOptions o;
    o.argv = {"/bin/sleep", "0.3"};
    o.env = {{"MEMTRACK_OUTPUT", idle_dir.file("r.json")}, {"MEMTRACK_INTERVAL", "50ms"}};
    REQUIRE(run(o).exit_code == 0);
    CHECK(only_report(idle_dir.path)["timeline"].size() <= 4);
}

TEST_CASE("report: MEMTRACK_REPORT picks the parts", "[report]")
{
    {
        TempDir dir;
        const RunResult r =
            run_tracked(dir, {program("tp_c"), "basic"}, {{"MEMTRACK_REPORT", "none"}});
        CHECK(r.exit_code == 0);
        CHECK(memtrack_lines(r.err).empty());
        CHECK(reports_in(dir.path).empty());
    }
    {
        TempDir dir;
        const RunResult r =
            run_tracked(dir, {program("tp_c"), "basic"}, {{"MEMTRACK_REPORT", "json"}});
        CHECK(memtrack_lines(r.err).empty());
        CHECK(reports_in(dir.path).size() == 1);
    }
    {
        TempDir dir;
        const RunResult r =
            run_tracked(dir, {program("tp_c"), "basic"}, {{"MEMTRACK_REPORT", "text"}});
        CHECK(memtrack_lines(r.err).size() == 11);  // no "report" line: no file
        CHECK(reports_in(dir.path).empty());
    }
}

TEST_CASE("report: a bad variable gets one line, the default, and an unharmed program",
          "[report][config]")
{
    struct Bad {
        const char* var;
        const char* value;
        const char* fallback;
    };
    RunOptions plain;
    plain.argv = {program("tp_c"), "basic", "exit", "5"};
    plain.preload = false;
    const RunResult clean = run(plain);
    REQUIRE(clean.exit_code == 5);
    for (const Bad& bad :
         {Bad{"MEMTRACK_INTERVAL", "fast", "100ms"}, Bad{"MEMTRACK_INTERVAL", "-1", "100ms"},
          Bad{"MEMTRACK_INTERVAL", "10parsecs", "100ms"},
          Bad{"MEMTRACK_INTERVAL", "0.5ms", "100ms"},  // below 1ms
          Bad{"MEMTRACK_INTERVAL", "", "100ms"}, Bad{"MEMTRACK_REPORT", "xml", "text,json"},
          Bad{"MEMTRACK_REPORT", "json,xml", "text,json"}, Bad{"MEMTRACK_REPORT", "", "text,json"},
          Bad{"MEMTRACK_OUTPUT", "r.%q.json", "memtrack.%e.%p.json"},
          Bad{"MEMTRACK_OUTPUT", "somedir/", "memtrack.%e.%p.json"},
          Bad{"MEMTRACK_OUTPUT", "", "memtrack.%e.%p.json"},
          Bad{"MEMTRACK_BREAK_ALLOC", "-3", "0 (off)"},
          Bad{"MEMTRACK_BREAK_ALLOC", "#41", "0 (off)"}}) {
        INFO(bad.var << "=\"" << bad.value << "\"");
        TempDir dir;
        // The default output path is relative to the working directory: run in dir.
        RunOptions o;
        o.argv = plain.argv;
        o.cwd = dir.path;
        o.env = {{bad.var, bad.value}};
        if (std::string(bad.var) != "MEMTRACK_OUTPUT")
            o.env.emplace_back("MEMTRACK_OUTPUT", dir.file("r.%p.json"));
        const RunResult r = run(o);
        INFO(r.err);
        CHECK(r.exit_code == 5);
        CHECK(r.out == clean.out);
        int complaints = 0;
        for (const auto& l : memtrack_lines(r.err)) {
            if (l.find(bad.var) == std::string::npos) continue;
            ++complaints;
            // memtrack: VAR="value" is not <what is accepted>; using <default>
            const std::string head = std::string(bad.var) + "=\"" + bad.value + "\" is not ";
            const std::string tail = "; using " + std::string(bad.fallback);
            CHECK(l.find(head) != std::string::npos);
            CHECK(l.ends_with(tail));
            CHECK(l.size() > std::string("memtrack: ").size() + head.size() + tail.size() + 5);
        }
        CHECK(complaints == 1);
        // Every stderr line is memtrack's (the program writes none): the complaint and the
        // summary (default text,json) with its report line (5 of its lines say what held the
        // peak).
        CHECK(memtrack_lines(r.err).size() == 13);
        const auto reports = reports_in(dir.path);
        REQUIRE(reports.size() == 1);
        CHECK(reports[0]["exit_status"] == 5);
        if (std::string(bad.var) == "MEMTRACK_OUTPUT") {
            const int pid = reports[0]["pid"];
            CHECK(file_exists(dir.file("memtrack.tp_c." + std::to_string(pid) + ".json")));
        }
        if (std::string(bad.var) == "MEMTRACK_INTERVAL")
            CHECK(reports[0]["config"]["interval_s"].get<double>() == Approx(0.1));
    }
}

TEST_CASE("report: default path memtrack.%e.%p.json in the working directory", "[report]")
{
    TempDir dir;
    RunOptions o;
    o.argv = {program("tp_c"), "idle"};
    o.cwd = dir.path;
    o.unset_env = {"MEMTRACK_OUTPUT", "MEMTRACK_REPORT", "MEMTRACK_INTERVAL"};
    const RunResult r = run(o);
    REQUIRE(r.exit_code == 0);
    const auto j = only_report(dir.path);
    const std::string name = "memtrack.tp_c." + std::to_string(j["pid"].get<int>()) + ".json";
    CHECK(file_exists(dir.file(name)));
    CHECK(j["config"]["output"].get<std::string>().ends_with("memtrack.%e.%p.json"));
    CHECK(j["config"]["interval_s"].get<double>() == Approx(0.1));
    CHECK(r.err.find("report  ") != std::string::npos);
    CHECK(r.err.find(name) != std::string::npos);
}

TEST_CASE("report: the output template expands %p, %e and %%, relative to the start cwd",
          "[report]")
{
    TempDir dir;
    REQUIRE(mkdir(dir.file("sub").c_str(), 0755) == 0);
    RunOptions o;
    o.argv = {program("tp_c"), "idle"};
    o.cwd = dir.path;
    o.env = {{"MEMTRACK_OUTPUT", "sub/100%%-%e-%p.json"}, {"MEMTRACK_REPORT", "json"}};
    const RunResult r = run(o);
    REQUIRE(r.exit_code == 0);
    const auto j = only_report(dir.file("sub"));
    CHECK(file_exists(dir.file("sub/100%-tp_c-" + std::to_string(j["pid"].get<int>()) + ".json")));
    CHECK(j["config"]["output"].get<std::string>().ends_with("sub/100%%-%e-%p.json"));
}

TEST_CASE("report: consistent values (version, config, process times, timeline ends)", "[report]")
{
    TempDir dir;
    const RunResult r = run_tracked(dir, {program("tp_c"), "basic"});
    REQUIRE(r.exit_code == 0);
    const auto j = only_report(dir.path);
    const std::string version = j["memtrack_version"];
    CHECK(!version.empty());
    CHECK(std::count(version.begin(), version.end(), '.') == 2);
    CHECK(j["config"]["interval_s"].get<double>() == Approx(0.1));
    CHECK(j["config"]["output"] == dir.file("r.%p.json"));
    const auto& p = j["process"];
    const double wall = p["wall_s"], user = p["user_s"], sys = p["sys_s"];
    CHECK(wall > 0);
    CHECK(wall < 60);
    CHECK(user >= 0);
    CHECK(sys >= 0);
    CHECK(p["cpu_wall_ratio"].get<double>() == Approx((user + sys) / wall).margin(0.05));
    CHECK(p["max_rss_bytes"].is_number_integer());
    CHECK(heap(j, "live_bytes_at_exit") == heap(j, "current_bytes"));
    CHECK(heap(j, "live_blocks_at_exit") == heap(j, "allocations") - heap(j, "frees"));
    CHECK(heap(j, "peak_bytes") >= heap(j, "current_bytes"));
    CHECK(heap(j, "bytes_allocated") >= heap(j, "peak_bytes"));
    CHECK(j["heap"]["peak_time_s"].get<double>() >= 0);
    const auto& tl = j["timeline"];
    REQUIRE(tl.size() >= 3);  // start, peak, end
    CHECK(tl.front()[0].get<double>() >= 0);
    CHECK(tl.front()[0].get<double>() <= j["heap"]["peak_time_s"].get<double>());
    CHECK(tl.back()[0].get<double>() <= wall + 0.01);
    CHECK(tl.back()[1] == heap(j, "current_bytes"));  // the moment of the report
    for (const auto& point : tl) {
        CHECK(point[1].get<std::int64_t>() >= 0);
        CHECK(point[1].get<std::int64_t>() <= heap(j, "peak_bytes"));
    }
}

TEST_CASE("report: MEMTRACK_INTERVAL=0 turns the sampler off, the timeline keeps its marks",
          "[report]")
{
    TempDir dir;
    const RunResult r = run_tracked(dir, {program("tp_c"), "basic"}, {{"MEMTRACK_INTERVAL", "0"}});
    REQUIRE(r.exit_code == 0);
    CHECK(memtrack_lines(r.err).size() == 12);  // no complaint
    const auto j = only_report(dir.path);
    CHECK(j["config"]["interval_s"].get<double>() == 0);
    const auto& tl = j["timeline"];
    REQUIRE(tl.size() >= 2);
    REQUIRE(tl.size() <= 4);
    bool has_peak = false;
    for (const auto& point : tl)
        has_peak = has_peak || point[1] == heap(j, "peak_bytes");
    CHECK(has_peak);
    CHECK(tl.back()[1] == heap(j, "current_bytes"));
}

TEST_CASE("report: an unwritable output path gets a message, the summary still comes", "[report]")
{
    TempDir dir;
    std::ofstream(dir.file("plainfile")) << "x";
    const RunResult r = run_tracked(dir, {program("tp_c"), "basic", "exit", "3"},
                                    {{"MEMTRACK_OUTPUT", dir.file("plainfile/r.json")}});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("cannot write the JSON report to " + dir.file("plainfile/r.json")) !=
          std::string::npos);
    CHECK(r.err.find("exited with status 3") != std::string::npos);
    CHECK(r.err.find("heap    peak") != std::string::npos);
    CHECK(reports_in(dir.path).empty());
}

TEST_CASE("report: a missing output directory gets a message, the program is unharmed", "[report]")
{
    TempDir dir;
    RunOptions plain;
    plain.argv = {program("tp_c"), "basic", "return", "4"};
    plain.preload = false;
    const RunResult clean = run(plain);
    const RunResult r =
        run_tracked(dir, plain.argv, {{"MEMTRACK_OUTPUT", "/nonexistent/memtrack-dir/r.json"}});
    CHECK(r.exit_code == 4);
    CHECK(r.out == clean.out);
    const auto lines = memtrack_lines(r.err);
    int complaints = 0;
    for (const auto& l : lines)
        complaints += l.find("/nonexistent/memtrack-dir/r.json") != std::string::npos;
    CHECK(complaints == 1);
    CHECK(r.err.find("exited with status 4") != std::string::npos);
    CHECK(r.err.find("calls   ") != std::string::npos);
}

TEST_CASE("report: never written over an existing file or through a symlink", "[report]")
{
    TempDir dir;
    std::ofstream(dir.file("r.json")) << "precious";
    std::ofstream(dir.file("victim")) << "victim";
    REQUIRE(symlink(dir.file("victim").c_str(), dir.file("l.json").c_str()) == 0);
    RunResult r =
        run_tracked(dir, {program("tp_c"), "idle"}, {{"MEMTRACK_OUTPUT", dir.file("r.json")}});
    CHECK(read_file(dir.file("r.json")) == "precious");
    CHECK(nlohmann::json::parse(read_file(dir.file("r.1.json")))["format"] == "memtrack-report");
    CHECK(r.err.find("r.1.json (" + dir.file("r.json") + " existed; not overwritten)") !=
          std::string::npos);
    r = run_tracked(dir, {program("tp_c"), "idle"}, {{"MEMTRACK_OUTPUT", dir.file("l.json")}});
    CHECK(read_file(dir.file("victim")) == "victim");
    CHECK(file_exists(dir.file("l.1.json")));
    char target[256] = {};
    CHECK(readlink(dir.file("l.json").c_str(), target, sizeof target - 1) > 0);
    CHECK(std::string(target) == dir.file("victim"));
    // a second run with the same name takes the next suffix
    r = run_tracked(dir, {program("tp_c"), "idle"}, {{"MEMTRACK_OUTPUT", dir.file("r.json")}});
    CHECK(read_file(dir.file("r.json")) == "precious");
    CHECK(file_exists(dir.file("r.2.json")));
    CHECK(r.err.find("r.2.json (" + dir.file("r.json") + " existed; not overwritten)") !=
          std::string::npos);
}

TEST_CASE("report: a dangling symlink at the target is not followed", "[report]")
{
    TempDir dir;
    REQUIRE(symlink(dir.file("created-through-link").c_str(), dir.file("d.json").c_str()) == 0);
    const RunResult r =
        run_tracked(dir, {program("tp_c"), "idle"}, {{"MEMTRACK_OUTPUT", dir.file("d.json")}});
    CHECK(r.exit_code == 0);
    CHECK(!file_exists(dir.file("created-through-link")));
    struct stat st {};
    REQUIRE(lstat(dir.file("d.json").c_str(), &st) == 0);
    CHECK(S_ISLNK(st.st_mode));
    CHECK(nlohmann::json::parse(read_file(dir.file("d.1.json")))["format"] == "memtrack-report");
}
