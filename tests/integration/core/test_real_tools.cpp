// Real programs print exactly the same with and without memtrack, and write a report.
#include "common.hpp"

#include <fstream>
#include <unistd.h>

using namespace mt_test;

namespace {
void same_output(const std::vector<std::string>& argv, const std::string& cwd = {},
                 std::vector<std::pair<std::string, std::string>> env = {})
{
    INFO(argv[0] << " " << (argv.size() > 1 ? argv[1] : ""));
    RunOptions plain;
    plain.argv = argv;
    plain.preload = false;
    plain.cwd = cwd;
    plain.env = env;
    const RunResult expected = run(plain);
    TempDir dir;
    RunOptions tracked = plain;
    tracked.preload = true;
    tracked.env.emplace_back("MEMTRACK_OUTPUT", dir.file("r.%e.%p.json"));
    tracked.env.emplace_back("MEMTRACK_REPORT", "json");
    const RunResult got = run(tracked);
    CHECK(got.exit_code == expected.exit_code);
    CHECK(got.out == expected.out);
    CHECK(got.err == expected.err);
    CHECK(got.term_signal == 0);
    // One report per process that exited normally; the first command's among them.
    const auto reports = reports_in(dir.path);
    REQUIRE(!reports.empty());
    const std::string name = argv[0].substr(argv[0].rfind('/') + 1);
    bool found = false;
    for (const auto& j : reports) {
        CHECK(j["format"] == "memtrack-report");
        CHECK(j["heap"]["allocations"].get<std::int64_t>() > 0);
        CHECK(j["heap"]["foreign_frees"] == 0);
        if (j["argv"].size() > 0 && j["argv"][0].get<std::string>().ends_with(name) &&
            j["exit_status"] == expected.exit_code)
            found = true;
    }
    CHECK(found);
}
}  // namespace

TEST_CASE("real tools: python3 -c", "[real]")
{
    same_output({"/usr/bin/python3", "-c",
                 "import json, collections\n"
                 "d = {str(i): list(range(i % 50)) for i in range(20000)}\n"
                 "print(len(json.dumps(d)), collections.Counter(len(v) for v in d.values())[7])"});
}

TEST_CASE("real tools: python3 with PYTHONMALLOC=malloc (every object through memtrack)", "[real]")
{
    same_output({"/usr/bin/python3", "-c",
                 "import hashlib\n"
                 "s = [str(i) * (i % 7) for i in range(50000)]\n"
                 "print(hashlib.sha256(''.join(s).encode()).hexdigest(), sum(map(len, s)))"},
                {}, {{"PYTHONMALLOC", "malloc"}});
}

TEST_CASE("real tools: git --version", "[real]")
{
    same_output({"git", "--version"});
}

TEST_CASE("real tools: cmake --version", "[real]")
{
    same_output({"cmake", "--version"});
}

TEST_CASE("real tools: bash -c with a pipeline", "[real]")
{
    same_output({"bash", "-c", "seq 1 20000 | sort -rn | head -3; echo $((6*7))"});
    same_output({"bash", "-c", "for i in 1 2 3; do echo $i; done | tr 123 abc | sort -r; exit 3"});
}

TEST_CASE("real tools: g++ -c compiles the same object", "[real]")
{
    TempDir src;
    std::ofstream(src.file("x.cpp")) << "#include <map>\n#include <string>\n"
                                        "int f() { std::map<std::string, int> m{{\"a\", 1}};"
                                        " return m.at(\"a\"); }\n";
    RunOptions plain;
    plain.argv = {"g++", "-std=c++20", "-O1", "-c", "x.cpp", "-o", "plain.o"};
    plain.cwd = src.path;
    plain.preload = false;
    REQUIRE(run(plain).exit_code == 0);
    RunOptions tracked = plain;
    tracked.argv[6] = "tracked.o";
    tracked.preload = true;
    tracked.env = {{"MEMTRACK_OUTPUT", src.file("r.%e.%p.json")}, {"MEMTRACK_REPORT", "json"}};
    const RunResult r = run(tracked);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(read_file(src.file("plain.o")) == read_file(src.file("tracked.o")));
    // g++ runs cc1plus and as: one report each (and g++ itself)
    CHECK(reports_in(src.path).size() >= 3);
}
