// issue 11, the launcher's side: under `memtrack --` the processes of the tree write their JSON
// only, into one run directory with an index; the launcher prints the started process's summary,
// one line per other process that needs attention and a count of the rest; --quiet and
// MEMTRACK_REPORT=quiet; --skip; real tools (git, CPython's own tests) see nothing of memtrack.
#include "harness.hpp"
#include "launcher.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <sys/stat.h>

using namespace mt_test;
namespace fs = std::filesystem;

namespace {

RunResult launch(std::vector<std::string> args, const std::string& cwd = {},
                 std::vector<std::pair<std::string, std::string>> env = {})
{
    RunOptions o;
    o.argv = {bin("memtrack")};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.preload = false;
    o.cwd = cwd;
    o.env = std::move(env);
    o.unset_env = {"LD_PRELOAD", "MEMTRACK_LIBRARY"};
    for (const auto& option : memtrack::launcher::kPassedOptions)
        o.unset_env.emplace_back(option.variable);
    o.timeout_s = 600;
    return run(o);
}

bool has(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

// The run directory, from the "the reports of ... are in DIR/ (memtrack report DIR)" line.
std::string run_dir_of(const std::string& err)
{
    const std::smatch m = [&] {
        std::smatch found;
        std::regex_search(err, found, std::regex(R"(are in (\S+)/ \(memtrack report )"));
        return found;
    }();
    return m.empty() ? std::string() : m[1].str();
}

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> out;
    std::size_t begin = 0;
    while (begin < text.size()) {
        const std::size_t end = text.find('\n', begin);
        out.push_back(text.substr(begin, end - begin));
        begin = end == std::string::npos ? text.size() : end + 1;
    }
    return out;
}

}  // namespace

TEST_CASE("issue 11: the launcher prints the tree: the root's summary, a line per process that "
          "needs attention, a count of the rest",
          "[launcher][tree]")
{
    TempDir dir;
    // bash runs a clean program, a leaking one and a crashing one; each child's own stderr goes
    // to a file, which must stay empty: under the launcher no process prints memtrack's lines.
    const std::string script = "\"$0\" basic exit 0 2>c.err; \"$1\" direct 2>l.err; "
                               "\"$2\" segv 2>s.err; exit 0";
    const RunResult r = launch(
        {"--", "bash", "-c", script, program("tp_c"), program("tp_leaks"), program("tp_ends")},
        dir.path);
    INFO(r.err);
    CHECK(r.exit_code == 0);
    for (const char* f : {"c.err", "l.err", "s.err"}) {
        INFO(f);
        CHECK(read_file(dir.file(f)).find("memtrack") == std::string::npos);
    }
    const std::vector<std::string> lines = memtrack_lines(r.err);
    REQUIRE(lines.size() >= 4);
    CHECK(std::regex_match(lines.front(),
                           std::regex(R"(memtrack: bash \(pid \d+\) exited with status 0)")));
    const std::string dir_name = run_dir_of(r.err);
    REQUIRE(dir_name.starts_with("memtrack.bash."));
    CHECK(
        std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
            return std::regex_match(
                l,
                std::regex(
                    R"(memtrack: tp_leaks \(pid \d+, parent \d+\) exited with status 0, leaked 4\.14 KiB in 1 block: memtrack\.bash\.\d+/memtrack\.tp_leaks\.\d+\.json)"));
        }) == 1);
    CHECK(
        std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
            return std::regex_match(
                l,
                std::regex(
                    R"(memtrack: tp_ends \(pid \d+, parent \d+\) killed by SIGSEGV \(signal 11\): memtrack\.bash\.\d+/memtrack\.tp_ends\.\d+\.json)"));
        }) == 1);
    // tp_c (and the exec reports of bash's forked children) needs no line of its own.
    CHECK_FALSE(has(r.err, "tp_c (pid"));
    CHECK(lines.back() == "memtrack: 1 other process of the run with nothing to report; the "
                          "reports of all 4 are in " +
                              dir_name + "/ (memtrack report " + dir_name + ")");

    // The run directory holds every report and the index; `memtrack report DIR` reads it.
    const std::string run_dir = dir.file(dir_name);
    CHECK(reports_in(dir.path).empty());
    const auto reports = reports_in(run_dir);
    CHECK(reports.size() == 7);  // bash, 3 exec reports of its forked children, 3 programs
    const std::vector<std::string> index = lines_of(read_file(run_dir + "/memtrack.index.tsv"));
    REQUIRE(index.size() == 2 + reports.size());
    CHECK(index[0].starts_with("# memtrack run index, version 1"));
    CHECK(index[1] ==
          "pid\tppid\tprogram\treason\tstatus\tpeak_bytes\tleaked_bytes\tleaked_blocks\treport");
    CHECK(std::regex_match(
        index[2],
        std::regex(R"(\d+\t\d+\t/\S*bash\texit\t0\t\d+\t\d+\t\d+\tmemtrack\.bash\.\d+\.json)")));
    CHECK(std::count_if(index.begin(), index.end(), [](const std::string& l) {
              return std::regex_search(l, std::regex(R"(/tp_ends\tsignal\tSIGSEGV\t\d{8}\t)"));
          }) == 1);
    CHECK(std::count_if(index.begin(), index.end(), [](const std::string& l) {
              return std::regex_search(l, std::regex(R"(/tp_leaks\texit\t0\t\d+\t4242\t1\t)"));
          }) == 1);
    const RunResult shown = launch({"report", run_dir});
    INFO(shown.out << shown.err);
    CHECK(shown.exit_code == 0);
    CHECK(has(shown.out, "memtrack: run in " + run_dir +
                             ": 7 reports of 4 processes (index "
                             "memtrack.index.tsv)\n"));
    CHECK(std::regex_search(
        shown.out,
        std::regex(
            R"(SIGSEGV +signal +10\.\d+ MiB +0 B +  tp_ends  memtrack\.tp_ends\.\d+\.json)")));
    // Without the index, the same from the reports themselves.
    fs::remove(run_dir + "/memtrack.index.tsv");
    const RunResult unindexed = launch({"report", run_dir});
    CHECK(unindexed.exit_code == 0);
    CHECK(has(unindexed.out, "7 reports of 4 processes (no index)"));
    CHECK(lines_of(unindexed.out).size() == lines_of(shown.out).size());
}

TEST_CASE("issue 11: one run directory, whatever directory the processes start in",
          "[launcher][tree]")
{
    TempDir dir;
    // The child changes directory before it starts the program: its report still goes to the
    // run directory (the template the processes get is absolute), and so does -o's.
    const std::string script = "mkdir -p sub && cd sub && \"$0\" basic exit 0; exit 0";
    const RunResult r = launch({"--", "bash", "-c", script, program("tp_c")}, dir.path);
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(reports_in(dir.file("sub")).empty());
    const std::string dir_name = run_dir_of(r.err);
    REQUIRE_FALSE(dir_name.empty());
    // bash, mkdir and tp_c, and the exec reports of bash's two forked children.
    CHECK(reports_in(dir.file(dir_name)).size() == 5);

    const RunResult chosen =
        launch({"-o", "out/r.%e.%p.json", "--", "bash", "-c", script, program("tp_c")}, dir.path);
    INFO(chosen.err);
    CHECK(run_dir_of(chosen.err) == "out");
    CHECK(reports_in(dir.file("out")).size() == 5);
    CHECK(file_exists(dir.file("out/memtrack.index.tsv")));
    CHECK(reports_in(dir.file("sub")).empty());
}

TEST_CASE("issue 11: --quiet and MEMTRACK_REPORT=quiet print only when something is wrong",
          "[launcher][tree]")
{
    TempDir dir;
    const RunResult clean =
        launch({"--quiet", "--", program("tp_c"), "basic", "exit", "0"}, dir.path);
    CHECK(clean.exit_code == 0);
    CHECK(clean.err.empty());
    const RunResult leaking = launch({"-q", "--", program("tp_leaks"), "direct"}, dir.path);
    CHECK(leaking.exit_code == 0);
    CHECK(has(leaking.err, "memtrack: tp_leaks (pid "));
    CHECK(has(leaking.err, "Direct leak of 4.14 KiB in 1 block"));
    // --report=quiet,json is --quiet.
    const RunResult by_report =
        launch({"--report=quiet,json", "--", program("tp_c"), "basic", "exit", "0"}, dir.path);
    CHECK(by_report.err.empty());
    // A quiet root, a child with a leak: the child's line and the count, not the root's summary.
    const RunResult tree = launch(
        {"--quiet", "--", "bash", "-c", "\"$0\" direct; exit 0", program("tp_leaks")}, dir.path);
    INFO(tree.err);
    CHECK_FALSE(has(tree.err, "bash (pid"));
    CHECK(has(tree.err, "memtrack: tp_leaks (pid "));
    CHECK(has(tree.err, "leaked 4.14 KiB in 1 block"));

    // By hand: MEMTRACK_REPORT=quiet,json prints the library's summary only when needed.
    RunOptions o;
    o.env = {{"MEMTRACK_REPORT", "quiet,json"}, {"MEMTRACK_OUTPUT", dir.file("h.%p.json")}};
    o.argv = {program("tp_c"), "basic", "exit", "0"};
    const RunResult hand_clean = run(o);
    CHECK(hand_clean.exit_code == 0);
    CHECK(memtrack_lines(hand_clean.err).empty());
    o.argv = {program("tp_leaks"), "direct"};
    const RunResult hand_leak = run(o);
    CHECK(has(hand_leak.err, "memtrack: tp_leaks (pid "));
    CHECK(has(hand_leak.err, "Direct leak of 4.14 KiB"));
    o.argv = {program("tp_ends"), "segv"};
    const RunResult hand_crash = run(o);
    CHECK(has(hand_crash.err, "killed by SIGSEGV (signal 11)"));
}

TEST_CASE("issue 11: --skip leaves matching programs dormant and tracks their children",
          "[launcher][tree]")
{
    TempDir dir;
    {
        std::ofstream(dir.file("run.sh")) << "#!/bin/bash\n\"$1\" direct\n\"$2\" basic exit 0\n";
    }
    fs::permissions(dir.file("run.sh"), fs::perms::owner_all);
    for (const std::string pattern : {"bash", "/usr/bin/ba*", "perl,bas?"}) {
        INFO(pattern);
        fs::remove_all(dir.file("out"));
        const RunResult r = launch({"--skip=" + pattern, "-o", "out/r.%e.%p.json", "--", "./run.sh",
                                    program("tp_leaks"), program("tp_c")},
                                   dir.path);
        INFO(r.err);
        CHECK(r.exit_code == 0);
        // No report of bash nor of its forked children (their exec reports), the programs' own.
        const auto reports = reports_in(dir.file("out"));
        REQUIRE(reports.size() == 2);
        for (const auto& report : reports)
            CHECK_FALSE(report["program"].get<std::string>().ends_with("bash"));
        CHECK(has(r.err, "memtrack: tp_leaks (pid "));
        CHECK_FALSE(has(r.err, "no report found"));
        CHECK(has(r.err, "1 other process of the run with nothing to report; the reports of all "
                         "2 are in out/"));
    }
    // A pattern that matches nothing: bash is tracked as usual.
    const RunResult none = launch({"--skip=perl", "-o", "all/r.%e.%p.json", "--", "./run.sh",
                                   program("tp_leaks"), program("tp_c")},
                                  dir.path);
    CHECK(reports_in(dir.file("all")).size() == 5);
}

// The host-silence tests of issue 11: a tool's own output is unchanged under the launcher and
// memtrack's lines come after it.
TEST_CASE("issue 11: memtrack -- git fsck 2>&1 prints git's output unchanged, then memtrack's",
          "[launcher][tree][real]")
{
    TempDir dir;
    RunOptions setup;
    setup.preload = false;
    setup.cwd = dir.path;
    setup.argv = {"bash", "-c",
                  "git init -q repo && cd repo && echo a > a && git add a && "
                  "git -c user.name=t -c user.email=t@t commit -qm one && "
                  "echo dangling | git hash-object -w --stdin >/dev/null"};
    REQUIRE(run(setup).exit_code == 0);
    RunOptions plain;
    plain.preload = false;
    plain.cwd = dir.file("repo");
    plain.argv = {"sh", "-c", "git fsck 2>&1"};
    const RunResult want = run(plain);
    REQUIRE(want.exit_code == 0);
    REQUIRE(has(want.out, "dangling blob"));
    RunOptions under = plain;
    under.argv = {"sh", "-c", "\"$0\" -- git fsck 2>&1", bin("memtrack")};
    under.unset_env = {"LD_PRELOAD", "MEMTRACK_LIBRARY"};
    const RunResult got = run(under);
    INFO(got.out);
    CHECK(got.exit_code == 0);
    REQUIRE(got.out.starts_with(want.out));
    const std::vector<std::string> after = lines_of(got.out.substr(want.out.size()));
    REQUIRE_FALSE(after.empty());
    for (const std::string& l : after)
        CHECK(l.starts_with("memtrack: "));
    CHECK(after.front().starts_with("memtrack: git (pid "));
}

TEST_CASE("issue 11: CPython's test_gc and test_json pass under memtrack --",
          "[launcher][tree][real]")
{
    RunOptions probe;
    probe.preload = false;
    probe.argv = {"python3", "-c", "import test.test_gc, test.test_json"};
    if (run(probe).exit_code != 0) {
        WARN("CPython's test suite is not installed (apt-get install libpython3.11-testsuite): "
             "not tested");
        return;
    }
    TempDir dir;
    const RunResult r = launch({"--", "python3", "-m", "test", "test_gc", "test_json"}, dir.path);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(has(r.out, "Tests result: SUCCESS"));
    // The launcher's lines come last, after the program's own output on stderr.
    CHECK(has(r.err, "memtrack: python3"));
}
