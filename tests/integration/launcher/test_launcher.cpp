// build/bin/memtrack, run as a user would (not itself preloaded): exit status, LD_PRELOAD and the
// option table passed on, signals forwarded, the report found and announced, saved reports read.
#include "harness.hpp"
#include "launcher.hpp"  // kPassedOptions: every option in the table is tested below

#include <catch2/catch.hpp>

#include <algorithm>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

using namespace mt_test;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = MT_FIXTURES;

struct Launch {
    std::vector<std::string> args;
    std::vector<std::pair<std::string, std::string>> env = {};
    std::string cwd = {};
    std::string launcher = bin("memtrack");
    bool preload = false;
};

RunResult launch(const Launch& l)
{
    RunOptions o;
    o.argv = {l.launcher};
    o.argv.insert(o.argv.end(), l.args.begin(), l.args.end());
    o.env = l.env;
    o.cwd = l.cwd;
    o.preload = l.preload;
    o.unset_env = {"LD_PRELOAD",        "MEMTRACK_OUTPUT",  "MEMTRACK_REPORT",
                   "MEMTRACK_INTERVAL", "MEMTRACK_LIBRARY", "MEMTRACK_LAUNCHER"};
    for (const auto& option : memtrack::launcher::kPassedOptions)
        o.unset_env.emplace_back(option.variable);
    return run(o);
}

RunResult launch(std::vector<std::string> args)
{
    return launch(Launch{std::move(args)});
}

std::string join(const std::vector<std::string>& args)
{
    std::string out;
    for (const std::string& a : args)
        out += (out.empty() ? "" : " ") + a;
    return out;
}

bool has(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

std::string real(const std::string& path)
{
    char resolved[PATH_MAX];
    REQUIRE(realpath(path.c_str(), resolved) != nullptr);
    return resolved;
}

// The value of `name` in /usr/bin/env output, or "<unset>".
std::string env_value(const std::string& env_out, const std::string& name)
{
    const std::string key = name + "=";
    std::size_t at = env_out.rfind("\n" + key);
    if (at != std::string::npos)
        ++at;
    else if (env_out.starts_with(key))
        at = 0;
    else
        return "<unset>";
    const std::size_t begin = at + key.size();
    return env_out.substr(begin, env_out.find('\n', begin) - begin);
}

// The path in the summary's "memtrack:   report  PATH" line (issue 11: printed once, by the
// launcher, from the report), or in "memtrack: report written to PATH" (--report=json).
std::string announced(const RunResult& r)
{
    for (const std::string prefix : {"memtrack:   report  ", "memtrack: report written to "}) {
        const auto at = r.err.find(prefix);
        if (at == std::string::npos) continue;
        const auto begin = at + prefix.size();
        std::string path = r.err.substr(begin, r.err.find('\n', begin) - begin);
        return path.substr(0, path.find(" ("));
    }
    return {};
}

}  // namespace

// ---- running a program -----------------------------------------------------------------------

TEST_CASE("launcher: exit status is the program's, death by signal N is 128+N", "[launcher]")
{
    TempDir dir;
    const std::string out = dir.file("r.%p.json");
    CHECK(launch({"-o", out, "--", program("tp_c"), "basic", "exit", "0"}).exit_code == 0);
    CHECK(launch({"-o", out, "--", program("tp_c"), "basic", "exit", "3"}).exit_code == 3);
    const RunResult term = launch({"--report=none", "--", "bash", "-c", "kill -TERM $$"});
    CHECK(term.exit_code == 128 + SIGTERM);
    CHECK(has(term.err, "was killed by signal 15"));
    const RunResult kill9 = launch({"--report=none", "--", "bash", "-c", "kill -KILL $$"});
    CHECK(kill9.exit_code == 128 + SIGKILL);
    // issue 11: killed by SIGKILL after its heap grew: the launcher points to the checkpoint
    const RunResult oom = launch({"-o", out, "--", program("tp_ends"), "grow_kill", "20"});
    CHECK(oom.exit_code == 128 + SIGKILL);
    CHECK(has(oom.err, "was killed by SIGKILL (out of memory?); last checkpoint at 200."));
    // The program's own 127 is passed back as such, not taken for an exec failure.
    const RunResult own = launch({"--report=none", "--", "bash", "-c", "exit 127"});
    CHECK(own.exit_code == 127);
    CHECK_FALSE(has(own.err, "cannot run"));
}

TEST_CASE("launcher: a program that cannot run gives 127 and a message", "[launcher]")
{
    const RunResult missing = launch({"--", "/nonexistent/program"});
    CHECK(missing.exit_code == 127);
    CHECK(has(missing.err, "memtrack: cannot run /nonexistent/program: No such file"));
    const RunResult not_in_path = launch({"--", "memtrack-no-such-program-anywhere"});
    CHECK(not_in_path.exit_code == 127);
    CHECK(has(not_in_path.err, "memtrack: cannot run memtrack-no-such-program-anywhere"));
    const RunResult not_executable = launch({"--", kFixtures + "/good.json"});
    CHECK(not_executable.exit_code == 127);
    CHECK(has(not_executable.err, "Permission denied"));
}

TEST_CASE("launcher: usage errors exit 2 with one line, --help and --version exit 0", "[launcher]")
{
    for (const std::vector<std::string>& args : {std::vector<std::string>{},
                                                 {"--report", "none"},
                                                 {"--report", "none", "--"},
                                                 {"--no-such-option", "--", "/bin/true"},
                                                 {"-o"},
                                                 {"report"}}) {
        INFO(join(args));
        const RunResult r = launch(args);
        CHECK(r.exit_code == 2);
        CHECK(r.err.starts_with("memtrack: "));
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
    const RunResult version = launch({"--version"});
    CHECK(version.exit_code == 0);
    CHECK(version.out.starts_with("memtrack 0."));
    const RunResult help = launch({"--help"});
    CHECK(help.exit_code == 0);
    for (const auto& option : memtrack::launcher::kPassedOptions) {
        INFO(option.flags);
        const std::string flags = option.flags;
        CHECK(has(help.out, flags.substr(flags.rfind(',') + 1)));
        CHECK(has(help.out, option.variable));
    }
    CHECK(has(help.out, "--library"));
}

TEST_CASE("launcher: LD_PRELOAD is prepended and the user's preloads kept", "[launcher]")
{
    TempDir dir;
    const std::string out = dir.file("x.%p.json");
    const RunResult alone = launch({"--report=json", "-o", out, "--", "/usr/bin/env"});
    REQUIRE(alone.exit_code == 0);
    CHECK(env_value(alone.out, "LD_PRELOAD") == real(lib_path()));
    const std::string user = "/lib/x86_64-linux-gnu/libdl.so.2";
    const RunResult kept =
        launch(Launch{{"--report=json", "-o", out, "--", "env"}, {{"LD_PRELOAD", user}}});
    REQUIRE(kept.exit_code == 0);
    CHECK(env_value(kept.out, "LD_PRELOAD") == real(lib_path()) + ":" + user);
}

TEST_CASE("launcher: every option in the table becomes its variable, passed unchanged",
          "[launcher]")
{
    TempDir dir;
    std::vector<std::string> args;
    for (const auto& option : memtrack::launcher::kPassedOptions) {
        const std::string flags = option.flags;
        args.push_back(flags.substr(flags.rfind(',') + 1));  // the long form
        args.push_back(option.example);
    }
    args.insert(args.end(), {"--", "/usr/bin/env"});
    const RunResult r = launch(Launch{args, {}, dir.path});
    REQUIRE(r.exit_code == 0);
    for (const auto& option : memtrack::launcher::kPassedOptions) {
        INFO(option.variable);
        const std::string variable = option.variable;
        if (variable == "MEMTRACK_REPORT")  // issue 11: the processes write JSON, the launcher text
            CHECK(env_value(r.out, option.variable) == "json");
        else if (variable == "MEMTRACK_OUTPUT")  // made absolute: a process may change directory
            CHECK(env_value(r.out, option.variable) == real(dir.path) + "/" + option.example);
        else
            CHECK(env_value(r.out, option.variable) == option.example);
    }
    // "--opt=value", a repeated option (the last counts), no "--"; values the library will reject
    // go through as typed (the library names them and uses its default); options not given leave
    // the environment alone.
    const RunResult odd =
        launch(Launch{{"--interval", "1s", "--interval=fast", "--report", "text", "/usr/bin/env"},
                      {{"MEMTRACK_OUTPUT", dir.file("inherited.%p.json")}},
                      dir.path});
    REQUIRE(odd.exit_code == 0);
    CHECK(env_value(odd.out, "MEMTRACK_INTERVAL") == "fast");
    CHECK(env_value(odd.out, "MEMTRACK_REPORT") == "text");
    CHECK(env_value(odd.out, "MEMTRACK_OUTPUT") == dir.file("inherited.%p.json"));
    CHECK(has(odd.err, "MEMTRACK_INTERVAL=\"fast\""));
    const RunResult empty = launch(Launch{{"-o", "", "--report=none", "--", "/usr/bin/env"}});
    REQUIRE(empty.exit_code == 0);
    CHECK(env_value(empty.out, "MEMTRACK_OUTPUT") == "");
}

TEST_CASE("launcher: arguments after the program are the program's", "[launcher]")
{
    TempDir dir;
    const RunResult r =
        launch(Launch{{"--report=none", "/bin/echo", "-o", "--report", "--", "x"}, {}, dir.path});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "-o --report -- x\n");
    const RunResult dashes = launch(Launch{{"--report=none", "--", "echo", "--", "-o"}});
    CHECK(dashes.out == "-- -o\n");
}

TEST_CASE("launcher: SIGTERM and SIGHUP sent to the launcher reach the program", "[launcher]")
{
    TempDir dir;
    for (const std::string sig : {"TERM", "HUP"}) {
        INFO(sig);
        fs::remove(dir.file("ready"));
        // The program traps the signal and exits 7 once it is ready; the launcher passes that
        // 7 back. Without forwarding the launcher would die of the signal (128+N).
        const std::string script = "\"$0\" --report=none -- bash -c 'trap \"exit 7\" " + sig +
                                   "; : > \"$0/ready\"; while :; do sleep 0.05; done' \"$1\" &\n"
                                   "p=$!\n"
                                   "while [ ! -e \"$1/ready\" ]; do sleep 0.01; done\n"
                                   "kill -" +
                                   sig +
                                   " $p\n"
                                   "wait $p\n"
                                   "echo \"status=$?\"\n";
        RunOptions o;
        o.argv = {"bash", "-c", script, bin("memtrack"), dir.path};
        o.preload = false;
        o.unset_env = {"LD_PRELOAD", "MEMTRACK_LIBRARY"};
        o.timeout_s = 30;
        const RunResult r = run(o);
        CHECK_FALSE(r.timed_out);
        CHECK(r.out == "status=7\n");
    }
}

TEST_CASE("launcher: a signal the launcher was started with ignored stays ignored", "[launcher]")
{
    // A background job of a non-interactive shell starts with SIGINT and SIGQUIT ignored.
    RunOptions o;
    o.argv = {"bash", "-c", "\"$0\" --report=none -- grep SigIgn /proc/self/status & wait $!",
              bin("memtrack")};
    o.preload = false;
    o.unset_env = {"LD_PRELOAD", "MEMTRACK_LIBRARY"};
    const RunResult r = run(o);
    REQUIRE(r.exit_code == 0);
    const unsigned long long ignored = std::stoull(r.out.substr(r.out.find(':') + 1), nullptr, 16);
    CHECK((ignored & (1ULL << (SIGINT - 1))) != 0);
    // ... while a caught one is reset to its default for the program.
    const RunResult fg = launch({"--report=none", "--", "grep", "SigIgn", "/proc/self/status"});
    REQUIRE(fg.exit_code == 0);
    const unsigned long long fg_ignored =
        std::stoull(fg.out.substr(fg.out.find(':') + 1), nullptr, 16);
    CHECK((fg_ignored & (1ULL << (SIGTERM - 1))) == 0);
}

// ---- finding libmemtrack.so --------------------------------------------------------------

TEST_CASE("launcher: finds the library in an install layout, MEMTRACK_LIBRARY or --library",
          "[launcher]")
{
    TempDir prefix;
    fs::create_directories(prefix.file("bin"));
    fs::create_directories(prefix.file("lib"));
    fs::copy_file(bin("memtrack"), prefix.file("bin/memtrack"));
    const std::string installed = prefix.file("bin/memtrack");

    const RunResult none = launch(Launch{{"--", "/bin/true"}, {}, {}, installed});
    CHECK(none.exit_code == 2);
    CHECK(has(none.err, "memtrack: cannot find libmemtrack.so (looked at " + real(prefix.path) +
                            "/bin/../lib/libmemtrack.so)"));

    fs::copy_file(lib_path(), prefix.file("lib/libmemtrack.so"));
    const RunResult found = launch(Launch{{"--report=none", "--", "env"}, {}, {}, installed});
    REQUIRE(found.exit_code == 0);
    CHECK(env_value(found.out, "LD_PRELOAD") == real(prefix.file("lib/libmemtrack.so")));

    const RunResult from_env = launch(
        Launch{{"--report=none", "--", "env"}, {{"MEMTRACK_LIBRARY", lib_path()}}, {}, installed});
    REQUIRE(from_env.exit_code == 0);
    CHECK(env_value(from_env.out, "LD_PRELOAD") == real(lib_path()));

    const RunResult bad_env =
        launch(Launch{{"--", "/bin/true"}, {{"MEMTRACK_LIBRARY", "/nonexistent/libmemtrack.so"}}});
    CHECK(bad_env.exit_code == 2);
    CHECK(has(bad_env.err, "MEMTRACK_LIBRARY=/nonexistent/libmemtrack.so"));

    // A relative --library is made absolute (the program may change directory).
    const RunResult relative = launch(
        Launch{{"--library", "lib/libmemtrack.so", "--report=none", "--", "env"}, {}, prefix.path});
    REQUIRE(relative.exit_code == 0);
    CHECK(env_value(relative.out, "LD_PRELOAD") == real(prefix.file("lib/libmemtrack.so")));
    const RunResult missing = launch({"--library", "/nonexistent.so", "--", "/bin/true"});
    CHECK(missing.exit_code == 2);
    CHECK(has(missing.err, "cannot find libmemtrack.so (looked at /nonexistent.so)"));
}

TEST_CASE("launcher: started with libmemtrack.so preloaded, it tracks the program, not itself",
          "[launcher]")
{
    TempDir dir;
    Launch l{{"-o", dir.file("child.%p.json"), "--", "/bin/true"},
             {{"MEMTRACK_OUTPUT", dir.file("launcher.%e.%p.json")}}};
    l.preload = true;
    const RunResult r = launch(l);
    CHECK(r.exit_code == 0);
    const nlohmann::json report = only_report(dir.path);
    CHECK(report["program"] == real("/bin/true"));
    CHECK_FALSE(has(r.err, "memtrack (pid"));
}

// ---- announcing the report -----------------------------------------------------------------

TEST_CASE("launcher: memtrack -o DIR/r.%p.json -- /bin/true announces the report", "[launcher]")
{
    TempDir dir;
    const RunResult r = launch({"-o", dir.file("r.%p.json"), "--", "/bin/true"});
    CHECK(r.exit_code == 0);
    const nlohmann::json report = only_report(dir.path);
    const std::string path = dir.file("r." + std::to_string(report["pid"].get<int>()) + ".json");
    CHECK(announced(r) == path);
    // issue 11: the path once, in the summary the launcher renders from the report.
    const std::vector<std::string> lines = memtrack_lines(r.err);
    CHECK(std::count(lines.begin(), lines.end(), "memtrack:   report  " + path) == 1);
    CHECK(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
              return has(l, path);
          }) == 1);
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
    CHECK(announced(r) == path);
    CHECK(reports[0]["exit_status"] == 5);
    // `memtrack report` prints the same summary the library printed at exit.
    const RunResult shown = launch({"report", path});
    CHECK(shown.exit_code == 0);
    CHECK(has(shown.out, "tp_c (pid "));
    CHECK(has(shown.out, "exited with status 5"));
    for (const std::string line : {"heap    peak", "calls   ", "rss     max RSS", "report  "}) {
        const auto at = r.err.find(line);
        REQUIRE(at != std::string::npos);
        const std::string lib_line = r.err.substr(at, r.err.find('\n', at) - at);
        CHECK(has(shown.out, lib_line));
    }
}

TEST_CASE("launcher: relative and default templates are relative to the launcher's directory",
          "[launcher]")
{
    TempDir dir;
    const RunResult rel = launch(Launch{{"-o", "r.%p.json", "--", "/bin/true"}, {}, dir.path});
    CHECK(rel.exit_code == 0);
    const nlohmann::json report = only_report(dir.path);
    CHECK(announced(rel) == "r." + std::to_string(report["pid"].get<int>()) + ".json");
    fs::remove(dir.file(announced(rel)));

    // issue 11: by default the run's reports go into a run directory of their own, named after
    // the program and the launcher's pid, in the launcher's directory.
    const RunResult dflt = launch(Launch{{"--", "/bin/true"}, {}, dir.path});
    const std::string run_dir = announced(dflt).substr(0, announced(dflt).find('/'));
    CHECK(run_dir.starts_with("memtrack.true."));
    const nlohmann::json dflt_report = only_report(dir.file(run_dir));
    CHECK(announced(dflt) == run_dir + "/memtrack.true." +
                                 std::to_string(dflt_report["pid"].get<int>()) + ".json");
    fs::remove_all(dir.file(run_dir));

    // A template the library rejects: it says so and uses its default; so does the launcher.
    const RunResult bad = launch(Launch{{"-o", "r.%q.json", "--", "/bin/true"}, {}, dir.path});
    CHECK(has(bad.err, "MEMTRACK_OUTPUT=\"r.%q.json\""));
    const nlohmann::json bad_report = only_report(dir.path);
    CHECK(announced(bad) ==
          "memtrack.true." + std::to_string(bad_report["pid"].get<int>()) + ".json");
}

TEST_CASE("launcher: a taken name gets .N, and the program's own report is announced", "[launcher]")
{
    TempDir dir;
    // A newer file with the same name from some other process, and a non-report: neither is
    // the program's, whatever their times.
    {
        std::ofstream(dir.file("r.json"))
            << R"({"format": "memtrack-report", "version": 1, "pid": 1, "reason": "exit"})";
        std::ofstream(dir.file("r.7.json")) << "not a report";
    }
    const auto future = fs::file_time_type::clock::now() + std::chrono::hours(1);
    fs::last_write_time(dir.file("r.json"), future);
    fs::last_write_time(dir.file("r.7.json"), future);
    const RunResult first = launch({"-o", dir.file("r.json"), "--", "/bin/true"});
    CHECK(announced(first) == dir.file("r.1.json"));
    const RunResult second = launch({"-o", dir.file("r.json"), "--", "/bin/true"});
    CHECK(announced(second) == dir.file("r.2.json"));
    CHECK(has(second.err, "(" + dir.file("r.json") + " existed; not overwritten)"));
}

TEST_CASE("launcher: only the direct child's report is announced", "[launcher]")
{
    TempDir dir;
    // bash forks /bin/true, which writes its own report first (and bash's forked child its
    // exec report before that); bash's comes last.
    const RunResult r =
        launch({"-o", dir.file("r.%e.%p.json"), "--", "bash", "-c", "/bin/true; exit 4"});
    CHECK(r.exit_code == 4);
    REQUIRE(reports_in(dir.path).size() == 3);
    const std::string path = announced(r);
    REQUIRE_FALSE(path.empty());
    const nlohmann::json report = nlohmann::json::parse(read_file(path));
    CHECK(report["exit_status"] == 4);
    CHECK(report["program"].get<std::string>().ends_with("/bash"));
    CHECK(r.err.find("  report  ") == r.err.rfind("  report  "));
}

TEST_CASE("launcher: says so when there is no report", "[launcher]")
{
    TempDir dir;
    const std::string no_json = "no report found for pid ";
    // --report=text: the program printed its summary itself (no JSON): nothing to add.
    const RunResult text_only = launch(Launch{{"--report=text", "--", "/bin/true"}, {}, dir.path});
    CHECK(text_only.exit_code == 0);
    CHECK(has(text_only.err, "memtrack: true (pid "));
    CHECK_FALSE(has(text_only.err, no_json));
    CHECK(reports_in(dir.path).empty());
    const RunResult killed = launch(Launch{{"--", "bash", "-c", "kill -KILL $$"}, {}, dir.path});
    CHECK(killed.exit_code == 128 + SIGKILL);
    CHECK(has(killed.err, no_json));
    CHECK(reports_in(dir.path).empty());
}

// ---- memtrack report FILE ----------------------------------------------------------------

TEST_CASE("launcher: memtrack report reads a saved report", "[launcher]")
{
    const std::string file = kFixtures + "/good.json";
    const RunResult r = launch({"report", file, "--timeline"});
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(r.out ==
          "memtrack: process_data (pid 4242) exited with status 0\n"
          "memtrack:   time    wall 0.41 s, user 0.22 s, sys 0.18 s, CPU/wall 0.98\n"
          "memtrack:   heap    peak 192.00 MiB at 0.12 s; live at exit 1.00 KiB in 3 blocks\n"
          "memtrack:   calls   57 allocations, 54 frees, 768.00 MiB allocated, 0 foreign frees\n"
          "memtrack:   rss     max RSS 201.00 MiB (tracked heap peak 192.00 MiB)\n"
          "memtrack:   report  " +
              file +
              "\n"
              "memtrack:   timeline        t_s          bytes\n"
              "memtrack:                 0.000              0          0 B\n"
              "memtrack:                 0.100      134217728   128.00 MiB\n"
              "memtrack:                 0.120      201326592   192.00 MiB\n"
              "memtrack:                 0.410           1024     1.00 KiB\n");
    const RunResult no_timeline = launch({"report", file});
    CHECK(no_timeline.exit_code == 0);
    CHECK(r.out.starts_with(no_timeline.out));
    CHECK_FALSE(has(no_timeline.out, "timeline"));
}

TEST_CASE("launcher: memtrack report of an API report, unknown fields ignored, missing ones 0",
          "[launcher]")
{
    const std::string file = kFixtures + "/api.json";
    const RunResult api = launch({"report", "--timeline", file});
    CHECK(api.exit_code == 0);
    CHECK(api.out ==
          "memtrack: normalize (pid 77) report requested at 1.50 s\n"
          "memtrack:   time    wall 1.50 s, user 1.25 s, sys 0.25 s, CPU/wall 1.00\n"
          "memtrack:   heap    peak 2.87 MiB at 0.75 s; live now 9.77 KiB in 1 blocks\n"
          "memtrack:   calls   2 allocations, 1 frees, 2.87 MiB allocated, 2 foreign frees\n"
          "memtrack:   rss     max RSS 1.00 MiB (tracked heap peak 2.87 MiB)\n"
          "memtrack:   report  " +
              file +
              "\n"
              "memtrack:   timeline        t_s          bytes                       rss\n"
              "memtrack:                 0.000              0          0 B     1.00 MiB\n"
              "memtrack:                 0.750        3010007     2.87 MiB            -\n"
              "memtrack:                 1.500          10007     9.77 KiB     1.00 MiB\n");
    const RunResult minimal = launch({"report", kFixtures + "/minimal.json", "--timeline"});
    CHECK(minimal.exit_code == 0);
    CHECK(has(minimal.out, "memtrack: ? (pid 0) finished\n"));
    CHECK(has(minimal.out, "heap    peak 0 B at 0.00 s; live at exit 0 B in 0 blocks\n"));
}

TEST_CASE("launcher: missing, truncated, foreign and future reports exit 2 with one line",
          "[launcher]")
{
    struct Case {
        std::string file;
        std::string says;
    };
    TempDir dir;
    for (const Case& c : {Case{"/nonexistent/r.json", "No such file or directory"},
                          Case{dir.path, "a directory with no memtrack report"},
                          Case{kFixtures + "/truncated.json", "truncated or damaged JSON"},
                          Case{kFixtures + "/empty.json", "not a JSON file"},
                          Case{kFixtures + "/not_json.txt", "not a JSON file"},
                          Case{kFixtures + "/foreign.json", "not a memtrack report"},
                          Case{kFixtures + "/array.json", "not a memtrack report"},
                          Case{kFixtures + "/no_version.json", "without an integer \"version\""},
                          Case{kFixtures + "/future.json", "version 99 is not supported"}}) {
        INFO(c.file);
        const RunResult r = launch({"report", c.file});
        CHECK(r.exit_code == 2);
        CHECK(r.out.empty());
        CHECK(r.err.starts_with("memtrack: " + c.file + ": "));
        CHECK(has(r.err, c.says));
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
}

// The bug: `memtrack report` printed neither the leak lines and stacks nor the status a gate gave
// the process ("exited with status 0" for a run --error-exitcode made exit 23).
TEST_CASE("issue 9: memtrack report prints the leaks and stacks the run printed", "[launcher]")
{
    TempDir dir;
    const RunResult r = launch({"-o", dir.file("r.json"), "--", program("tp_leaks"), "cycles"});
    REQUIRE(r.exit_code == 0);
    const RunResult shown = launch({"report", dir.file("r.json")});
    REQUIRE(shown.exit_code == 0);
    std::vector<std::string> leak_lines;
    for (const std::string& l : memtrack_lines(r.err))
        if (l.find(" leak of ") != std::string::npos || l.find("  leaks   ") != std::string::npos ||
            l.find("Reference cycle of") != std::string::npos || l.starts_with("memtrack:       "))
            leak_lines.push_back(l);
    REQUIRE(leak_lines.size() >= 4);
    for (const std::string& l : leak_lines)
        CHECK(has(shown.out, l + "\n"));
    // Every line is the same, times included: the launcher rendered the run's summary from the
    // report too (issue 11).
    CHECK(memtrack_lines(shown.out) == memtrack_lines(r.err));
}

TEST_CASE("issue 9: a run failed by --error-exitcode shows both statuses in both renderings",
          "[launcher]")
{
    TempDir dir;
    const RunResult r = launch(
        {"-o", dir.file("r.json"), "--error-exitcode", "23", "--", program("tp_leaks"), "direct"});
    CHECK(r.exit_code == 23);
    const std::string gate = "memtrack: exit status 23: 1 leaked blocks (4242 bytes)\n";
    CHECK(has(r.err, "exited with status 0\n"));  // the program's own
    CHECK(has(r.err, gate));
    const nlohmann::json report = nlohmann::json::parse(read_file(dir.file("r.json")));
    CHECK(report["exit_status"] == 0);
    CHECK(report["final_status"] == 23);
    CHECK(report["gate"] == "1 leaked blocks (4242 bytes)");
    const RunResult shown = launch({"report", dir.file("r.json")});
    CHECK(shown.exit_code == 0);
    CHECK(has(shown.out, "exited with status 0\n"));
    CHECK(has(shown.out, gate));
    // A run no gate failed: the same status twice, no gate.
    const RunResult clean = launch(
        {"-o", dir.file("c.json"), "--error-exitcode", "23", "--", program("tp_leaks"), "global"});
    CHECK(clean.exit_code == 0);
    const nlohmann::json clean_report = nlohmann::json::parse(read_file(dir.file("c.json")));
    CHECK(clean_report["final_status"] == 0);
    CHECK(clean_report["gate"].is_null());
    CHECK_FALSE(has(launch({"report", dir.file("c.json")}).out, "exit status"));
}
