// The lecture's demos at small sizes: the printed ratios and the JSON reports' peaks.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <regex>

using namespace mt_test;

namespace {
constexpr std::int64_t kSize = 32 << 20;
// Slack for what the demo itself keeps besides its data (iostream/fmt buffers, libstdc++'s
// emergency pool of 72704 B): far below 1% of kSize.
constexpr std::int64_t kSlack = 256 << 10;

RunResult run_demo(const std::vector<std::string>& argv, const TempDir& dir, bool preload)
{
    RunOptions o;
    o.argv = argv;
    o.preload = preload;
    o.env = {{"MEMTRACK_OUTPUT", dir.file("r.%p.json")}, {"MEMTRACK_REPORT", "json"}};
    return run(o);
}
}  // namespace

TEST_CASE("demo: process_data prints 3.00 / 2.00 / 3.00 / 2.00 / 1.00", "[demo]")
{
    TempDir dir;
    const RunResult r = run_demo({bin("process_data"), "--size", "32MiB"}, dir, false);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);  // the demo checks each ratio within 1%
    CHECK(std::regex_search(r.out, std::regex("keep-local +96\\.00 MiB +3\\.00")));
    CHECK(std::regex_search(r.out, std::regex("reassign +64\\.00 MiB +2\\.00")));
    CHECK(std::regex_search(r.out, std::regex("chain +96\\.00 MiB +3\\.00")));
    CHECK(std::regex_search(r.out, std::regex("owner +64\\.00 MiB +2\\.00")));
    CHECK(std::regex_search(r.out, std::regex("in-place +32\\.00 MiB +1\\.00")));
}

TEST_CASE("demo: process_data's JSON peak under LD_PRELOAD, one variant per run", "[demo]")
{
    struct V {
        const char* name;
        int times;
    };
    for (const V& v : {V{"keep-local", 3}, V{"reassign", 2}, V{"in-place", 1}}) {
        INFO(v.name);
        TempDir dir;
        const RunResult r =
            run_demo({bin("process_data"), "--size", "32MiB", "--variant", v.name}, dir, true);
        CHECK(r.exit_code == 0);
        const auto j = only_report(dir.path);
        const std::int64_t peak = j["heap"]["peak_bytes"];
        CHECK(peak >= v.times * kSize);
        CHECK(peak <= v.times * kSize + kSlack);
        CHECK(j["process"]["max_rss_bytes"].get<std::int64_t>() >= v.times * kSize);
    }
}

TEST_CASE("demo: list_vs_generator: the list holds every image, the generator two", "[demo]")
{
    TempDir dir;
    const RunResult r = run_demo(
        {bin("list_vs_generator"), "--images", "40", "--pixels", "100000", "--interval", "10ms"},
        dir, true);
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    std::smatch m;
    REQUIRE(
        std::regex_search(r.out, m, std::regex("stack_using_list +[0-9.]+ [KMG]iB +([0-9.]+)")));
    const double list_images = std::stod(m[1]);
    REQUIRE(std::regex_search(r.out, m,
                              std::regex("stack_using_generator +[0-9.]+ [KMG]iB +([0-9.]+)")));
    const double gen_images = std::stod(m[1]);
    CHECK(list_images >= 41.0);   // 40 images + the running total
    CHECK(list_images <= 41.01);  // (+ the vector of 40 image headers)
    CHECK(gen_images >= 2.0);     // the running total and one image
    CHECK(gen_images <= 2.01);
    CHECK(r.out.find("stack_using_list (sampled heap") != std::string::npos);
    CHECK(only_report(dir.path)["timeline"].size() >= 2);
}

TEST_CASE("demo: normalize: copying 2.00x, in place 1.00x", "[demo]")
{
    TempDir dir;
    const RunResult r = run_demo({bin("normalize")}, dir, false);
    CHECK(r.exit_code == 0);
    CHECK(std::regex_search(r.out, std::regex("normalize +156\\.25 KiB +2\\.00")));
    CHECK(std::regex_search(r.out, std::regex("normalize_in_place +78\\.12 KiB +1\\.00")));
}

TEST_CASE("demo: a bad argument gets a message and exit status 2", "[demo]")
{
    TempDir dir;
    for (const auto& argv :
         std::vector<std::vector<std::string>>{{bin("process_data"), "--size", "lots"},
                                               {bin("process_data"), "--variant", "nope"},
                                               {bin("list_vs_generator"), "--images"},
                                               {bin("normalize"), "--size", "12 parsecs"}}) {
        const RunResult r = run_demo(argv, dir, false);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("usage") != std::string::npos);
    }
}

TEST_CASE("demo: reference_cycle finds 1, 2 and 3 blocks for the cycles and 0 for weak_ptr",
          "[demo]")
{
    TempDir dir;
    RunOptions o;
    o.argv = {bin("reference_cycle")};
    o.env = {{"MEMTRACK_OUTPUT", dir.file("r.%p.json")}, {"MEMTRACK_REPORT", "json"}};
    const RunResult r = run(o);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(std::regex_search(r.out, std::regex("a\\.obj = a; del a +collect\\(\\) found 1 new")));
    CHECK(std::regex_search(r.out, std::regex("b\\.obj = a +collect\\(\\) found 2 new")));
    CHECK(std::regex_search(r.out, std::regex("c; \\.\\.\\. +collect\\(\\) found 3 new")));
    CHECK(std::regex_search(r.out, std::regex("weakref\\.ref\\(a\\) +collect\\(\\) found 0 new")));
    // The exit report names the three cycles, each pure, of 1, 2 and 3 Obj blocks.
    const auto j = only_report(dir.path);
    REQUIRE(j["cycles"].size() == 3);
    std::vector<std::size_t> lengths;
    for (const auto& c : j["cycles"]) {
        CHECK(c["pure"] == true);
        CHECK(c["count"] == 1);
        for (const auto& m : c["members"])
            CHECK(m["type"].get<std::string>().find("Obj") != std::string::npos);
        lengths.push_back(c["members"].size());
    }
    std::sort(lengths.begin(), lengths.end());
    CHECK(lengths == std::vector<std::size_t>{1, 2, 3});
    CHECK(j["leaks"]["totals"]["direct_blocks"].get<int>() +
              j["leaks"]["totals"]["indirect_blocks"].get<int>() ==
          6);
}

TEST_CASE("demo: gc_generations shows thresholds, counts and blocks moving up", "[demo]")
{
    TempDir dir;
    RunOptions o;
    o.argv = {bin("gc_generations"), "--objects", "300"};
    o.env = {{"MEMTRACK_REPORT", "none"}};
    const RunResult r = run(o);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("gc.get_threshold()     -> (700, 10, 10)") != std::string::npos);
    CHECK(r.out.find("gc.get_count()         -> (302, 0, 0)   after allocating 300 objects") !=
          std::string::npos);
    CHECK(r.out.find("-> (0, 1, 0)   the young generation was scanned") != std::string::npos);
    CHECK(r.out.find("-> (0, 2, 0)   generation 0 is empty now") != std::string::npos);
    CHECK(r.out.find("-> (0, 0, 1)   generation 1 scanned") != std::string::npos);
    // The 300 objects and the vector move 0 -> 1 -> 2 (the runtime's blocks with them).
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, std::regex("gen0 0, gen1 (\\d+), gen2 0")));
    CHECK(std::stoi(m[1]) >= 302);
    CHECK(std::regex_search(r.out, std::regex("gen0 0, gen1 0, gen2 " + std::string(m[1]))));
    CHECK(r.out.find("gc.get_threshold() -> (1000, 15, 15)") != std::string::npos);
    CHECK(r.out.find("unreachable") != std::string::npos);
    CHECK(r.out.find("-> 0 unreachable") != std::string::npos);
}
