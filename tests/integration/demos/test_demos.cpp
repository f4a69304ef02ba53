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

// The report's sites holding at least `min_bytes` at the peak, each as "peak_bytes peak_blocks
// f1|f2|..." (the functions of its stack, innermost first), largest first.
std::vector<std::string> peak_holders(const nlohmann::json& r, std::int64_t min_bytes)
{
    std::vector<std::string> out;
    for (const auto& s : r.at("sites")) {
        if (s.at("peak_bytes").get<std::int64_t>() < min_bytes) continue;
        std::string line = std::to_string(s.at("peak_bytes").get<std::int64_t>()) + " " +
                           std::to_string(s.at("peak_blocks").get<std::int64_t>()) + " ";
        const std::string id = std::to_string(s.at("stack").get<std::uint32_t>());
        if (r.at("stacks").contains(id))
            for (const auto& f : r.at("stacks").at(id))
                line += f.at("function").get<std::string>() + "|";
        out.push_back(line);
    }
    return out;
}

bool has_frame(const std::string& holder, const std::string& fn)
{
    return holder.find(fn) != std::string::npos;
}

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
    // What held each peak (issue 10): keep-local the load, modify1 and modify2; reassign two
    // buffers; in place one.
    const std::string held = " +32\\.00 MiB +held by 1 block from ";
    CHECK(std::regex_search(r.out, std::regex("keep-local [^\n]*\n" + held +
                                              "load_data\\(\\) process_data\\.cpp:\\d+\n" + held +
                                              "modify1\\(\\) process_data\\.cpp:\\d+\n" + held +
                                              "modify2\\(\\) process_data\\.cpp:\\d+\nreassign ")));
    CHECK(std::regex_search(r.out, std::regex("reassign [^\n]*\n" + held + "load_data[^\n]*\n" +
                                              held + "modify1[^\n]*\nchain ")));
    CHECK(std::regex_search(r.out, std::regex("in-place [^\n]*\n" + held + "load_data[^\n]*\n\n")));
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
    // What held each peak (memtrack::peak_sites, issue 10): the list one site with every
    // image and the total; the generator two images, the total and the one being summed.
    const std::string img = "781\\.25 KiB +held by 1 block from ";
    CHECK(std::regex_search(
        r.out, std::regex("stack_using_list +[^\n]*\n +30\\.52 MiB +held by 40 blocks "
                          "from load_image\\(\\) list_vs_generator\\.cpp:\\d+\n +" +
                          img + "stack_using_list\\(\\)[^\n]*\nstack_using_generator")));
    CHECK(std::regex_search(r.out, std::regex("stack_using_generator +[^\n]*\n +" + img +
                                              "stack_using_generator\\(\\)[^\n]*\n +" + img +
                                              "load_image\\(\\)[^\n]*\n\n")));
}

TEST_CASE("demo: list_vs_generator's JSON report: the list's peak is one site of 40 blocks, the "
          "generator's two images",
          "[demo]")
{
    constexpr std::int64_t kImage = 100000 * 8;
    {
        TempDir dir;
        const RunResult r = run_demo({bin("list_vs_generator"), "--images", "40", "--pixels",
                                      "100000", "--interval", "10ms", "--only", "list"},
                                     dir, true);
        REQUIRE(r.exit_code == 0);
        const auto held = peak_holders(only_report(dir.path), kImage / 2);
        INFO(held.size());
        REQUIRE(held.size() == 2);
        CHECK(held[0].starts_with(std::to_string(40 * kImage) + " 40 "));
        CHECK(has_frame(held[0], "load_image"));
        CHECK(has_frame(held[0], "stack_using_list"));
        CHECK(held[1].starts_with(std::to_string(kImage) + " 1 "));  // the running total
        CHECK_FALSE(has_frame(held[1], "load_image"));
    }
    {
        TempDir dir;
        const RunResult r = run_demo({bin("list_vs_generator"), "--images", "40", "--pixels",
                                      "100000", "--interval", "10ms", "--only", "generator"},
                                     dir, true);
        REQUIRE(r.exit_code == 0);
        const auto held = peak_holders(only_report(dir.path), kImage / 2);
        REQUIRE(held.size() == 2);
        CHECK(held[0].starts_with(std::to_string(kImage) + " 1 "));
        CHECK(held[1].starts_with(std::to_string(kImage) + " 1 "));
        // One is the image the coroutine loaded, the other the running total.
        CHECK(has_frame(held[0], "load_image") != has_frame(held[1], "load_image"));
        CHECK_FALSE(has_frame(held[0] + held[1], "stack_using_list"));
    }
}

TEST_CASE("demo: normalize: copying 2.00x, in place 1.00x", "[demo]")
{
    TempDir dir;
    const RunResult r = run_demo({bin("normalize")}, dir, false);
    CHECK(r.exit_code == 0);
    CHECK(std::regex_search(r.out, std::regex("normalize +156\\.25 KiB +2\\.00")));
    CHECK(std::regex_search(r.out, std::regex("normalize_in_place +78\\.12 KiB +1\\.00")));
    // What held each peak: the input and normalize's two temporaries; the input and one copy.
    const std::string arr = " +78\\.12 KiB +held by 1 block from ";
    CHECK(std::regex_search(
        r.out, std::regex("normalize +156[^\n]*\n" + arr + "main normalize\\.cpp:\\d+\n" + arr +
                          "operator- normalize\\.cpp:\\d+\n" + arr +
                          "operator\\* normalize\\.cpp:\\d+\nnormalize_in_place")));
    CHECK(std::regex_search(
        r.out, std::regex("normalize_in_place +78[^\n]*\n" + arr + "main normalize\\.cpp:\\d+\n" +
                          arr + "normalize_in_place\\(\\) normalize\\.cpp:\\d+\n\\(")));
}

TEST_CASE("demo: normalize's JSON report: the input and two temporaries at normalize's peak, the "
          "input and one copy at normalize_in_place's",
          "[demo]")
{
    constexpr std::int64_t kArray = 10000 * 8;
    struct V {
        const char* only;
        std::vector<const char*> functions;  // the sites beside main's input, in order
    };
    for (const V& v : {V{"normalize", {"operator-", "operator*"}},
                       V{"normalize_in_place", {"normalize_in_place"}}}) {
        INFO(v.only);
        TempDir dir;
        const RunResult r = run_demo({bin("normalize"), "--only", v.only}, dir, true);
        REQUIRE(r.exit_code == 0);
        const auto j = only_report(dir.path);
        // Every share of exactly one array, and those only (start-up memory is smaller).
        std::vector<std::string> arrays;
        for (const std::string& h : peak_holders(j, kArray / 2)) {
            if (!h.starts_with(std::to_string(kArray) + " 1 ")) continue;
            arrays.push_back(h);
        }
        REQUIRE(arrays.size() == 1 + v.functions.size());
        std::size_t inputs = 0;
        for (const std::string& h : arrays)
            inputs += has_frame(h, "|main|") && !has_frame(h, "normalize") ? 1 : 0;
        CHECK(inputs == 1);
        for (const char* fn : v.functions)
            CHECK(std::count_if(arrays.begin(), arrays.end(),
                                [&](const std::string& h) { return has_frame(h, fn); }) == 1);
        CHECK(j["heap"]["peak_attributed_bytes"] == j["heap"]["peak_bytes"]);
    }
}

TEST_CASE("demo: a bad argument gets a message and exit status 2", "[demo]")
{
    TempDir dir;
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {bin("process_data"), "--size", "lots"},
             {bin("process_data"), "--variant", "nope"},
             {bin("list_vs_generator"), "--images"},
             {bin("normalize"), "--size", "12 parsecs"},
             {bin("reference_cycle"), "--size", "1"},
             {bin("gc_generations"), "--objects", "many"},
             {bin("gc_generations"), "--drop", "5", "--objects", "3"},
             {bin("gc_generations"), "--drop"}}) {
        const RunResult r = run_demo(argv, dir, false);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("usage") != std::string::npos);
    }
}

namespace {
// reference_cycle's stdout: the four cases' collect(2) results, cumulative and new.
void check_reference_cycle_output(const std::string& out)
{
    CHECK(out.find("memtrack_collect(2) before the cases -> 0 unreachable blocks") !=
          std::string::npos);
    CHECK(std::regex_search(
        out, std::regex("self cycle +C\\+\\+: a->obj = a +Python: a\\.obj = a; del a\n +"
                        "collect\\(2\\) -> 1 unreachable \\(1 new\\): ")));
    CHECK(std::regex_search(out, std::regex("2-cycle +C\\+\\+: a->obj = b; b->obj = a .*\n +"
                                            "collect\\(2\\) -> 3 unreachable \\(2 new\\): ")));
    CHECK(std::regex_search(out, std::regex("3-cycle +C\\+\\+: .*c->obj = a .*\n +"
                                            "collect\\(2\\) -> 6 unreachable \\(3 new\\): ")));
    CHECK(std::regex_search(out, std::regex("weak_ptr +C\\+\\+: .*b->weak = a .*\n +"
                                            "collect\\(2\\) -> 6 unreachable \\(0 new\\): ")));
}

// The function of a stack's first frame inside reference_cycle.cpp (the case that allocated).
std::string case_of(const nlohmann::json& report, int stack)
{
    for (const auto& f : report["stacks"][std::to_string(stack)])
        if (f.value("file", "").find("reference_cycle.cpp") != std::string::npos)
            return f.value("function", "");
    return "";
}
}  // namespace

TEST_CASE("demo: reference_cycle finds 1, 2 and 3 blocks for the cycles and 0 for weak_ptr",
          "[demo]")
{
    TempDir dir;
    RunOptions o;
    o.argv = {bin("reference_cycle")};  // linked with libmemtrack: no preload, no launcher
    o.preload = false;
    o.env = {{"MEMTRACK_OUTPUT", dir.file("r.%p.json")}, {"MEMTRACK_REPORT", "json"}};
    const RunResult r = run(o);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    check_reference_cycle_output(r.out);
    std::smatch m;
    REQUIRE(
        std::regex_search(r.out, m, std::regex("make_shared<Obj>\\(\\) is one (\\d+) B block")));
    const int block = std::stoi(m[1]);
    CHECK(block > 200);  // the Obj (a 200 B payload, two smart pointers) and its control block

    // The exit report names the three cycles, each pure, of 1, 2 and 3 Obj blocks, every member
    // allocated by its own case: the self cycle by self_cycle(), and so on.
    const auto j = only_report(dir.path);
    REQUIRE(j["cycles"].size() == 3);
    std::vector<std::size_t> lengths;
    for (const auto& c : j["cycles"]) {
        const std::size_t n = c["members"].size();
        INFO("cycle of " << n << ": " << c.dump());
        lengths.push_back(n);
        CHECK(c["pure"] == true);
        CHECK(c["count"] == 1);
        CHECK(c["blocks"] == n);
        CHECK(c["bytes"] == static_cast<int>(n) * block);
        const char* expected = n == 1 ? "self_cycle" : n == 2 ? "two_cycle" : "three_cycle";
        for (const auto& member : c["members"]) {
            CHECK(member["size"] == block);
            CHECK(member["type"].get<std::string>().find("Obj") != std::string::npos);
            CHECK(case_of(j, member["stack"].get<int>()).find(expected) != std::string::npos);
        }
    }
    std::sort(lengths.begin(), lengths.end());
    CHECK(lengths == std::vector<std::size_t>{1, 2, 3});

    // Those six blocks are all that leaked: the weak_ptr case adds nothing.
    const auto& totals = j["leaks"]["totals"];
    CHECK(totals["direct_blocks"].get<int>() + totals["indirect_blocks"].get<int>() == 6);
    CHECK(totals["direct_bytes"].get<int>() + totals["indirect_bytes"].get<int>() == 6 * block);
    CHECK(totals["possible_blocks"] == 0);
    CHECK(totals["cycles"] == 3);
    CHECK(totals["cycle_blocks"] == 6);
    for (const char* kind : {"direct", "indirect", "possible"})
        for (const auto& leak : j["leaks"][kind])
            CHECK(case_of(j, leak["stack"].get<int>()).find("weak_cycle") == std::string::npos);
}

TEST_CASE("demo: reference_cycle under the launcher prints the same and names the cycles", "[demo]")
{
    TempDir dir;
    RunOptions o;
    o.argv = {bin("memtrack"), "--output", dir.file("r.%p.json"), "--", bin("reference_cycle")};
    o.preload = false;  // the launcher preloads the library the demo is also linked with
    const RunResult r = run(o);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    check_reference_cycle_output(r.out);
    CHECK(r.err.find("; 3 reference cycles") != std::string::npos);
    CHECK(r.err.find("Reference cycle of 3 blocks") != std::string::npos);
    CHECK(r.err.find("Reference cycle of 2 blocks") != std::string::npos);
    CHECK(r.err.find("Reference cycle of 1 block ") != std::string::npos);
    CHECK(only_report(dir.path)["cycles"].size() == 3);
}

TEST_CASE("demo: reference_cycle and gc_generations say so when memtrack is not tracking", "[demo]")
{
    // Another malloc preloaded ahead of the demo's own libmemtrack: memtrack_is_active() == 0.
    std::string other;
    for (const char* path : {"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
                             "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"})
        if (file_exists(path)) other = path;
    if (other.empty()) {
        WARN("no other malloc library (jemalloc, tcmalloc) installed: not tested");
        return;
    }
    TempDir dir;
    for (const char* demo : {"reference_cycle", "gc_generations"}) {
        RunOptions o;
        o.argv = {bin(demo)};
        o.preload = false;
        o.env = {{"LD_PRELOAD", other}, {"MEMTRACK_REPORT", "none"}};
        const RunResult r = run(o);
        INFO(demo << ": " << r.out << r.err);
        CHECK(r.exit_code == 1);
        CHECK(r.out.empty());
        CHECK(r.err.find("memtrack is not tracking this process's allocations") !=
              std::string::npos);
    }
}

TEST_CASE("demo: gc_generations shows thresholds, counts and blocks moving up", "[demo]")
{
    TempDir dir;
    RunOptions o;
    o.argv = {bin("gc_generations"), "--objects", "300"};
    o.preload = false;
    o.env = {{"MEMTRACK_OUTPUT", dir.file("r.%p.json")}, {"MEMTRACK_REPORT", "json"}};
    const RunResult r = run(o);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    // Each call and its result, in order.
    const std::vector<std::string> expected = {
        "gc.get_threshold\\(\\) +-> \\(700, 10, 10\\)",
        "gc.collect\\(2\\) +-> 0 unreachable ",
        "gc.get_count\\(\\) +-> \\(0, 0, 0\\) ",
        "gc.get_count\\(\\) +-> \\(1, 0, 0\\) ",  // the vector
        "gc.get_count\\(\\) +-> \\(301, 0, 0\\) +\\+ 300 objects of 64 B",
        "gc.collect\\(0\\) +-> 0 unreachable ",
        "gc.get_count\\(\\) +-> \\(0, 1, 0\\) ",
        "live blocks by generation +gen0 0, gen1 (\\d+), gen2 0 \\(301 of them this demo's\\)",
        "gc.collect\\(0\\) +-> 0 unreachable ",
        "gc.get_count\\(\\) +-> \\(0, 2, 0\\) ",
        "gc.collect\\(1\\) +-> 0 unreachable ",
        "gc.get_count\\(\\) +-> \\(0, 0, 1\\) ",
        "live blocks by generation +gen0 0, gen1 0, gen2 (\\d+) \\(301 of them this demo's\\)",
        "objs\\[0\\.\\.10\\) = nullptr +10 objects lose their only pointer",
        "gc.collect\\(2\\) +-> 10 unreachable ",
        "gc.get_count\\(\\) +-> \\(0, 0, 0\\) ",
        "live blocks by generation +gen0 0, gen1 0, gen2 (\\d+) \\(301 of them this demo's\\)",
        "scans so far +gen0 2, gen1 1, gen2 2; unreachable found 0, 0, 10",
        "gc.get_threshold\\(\\) +-> \\(1000, 15, 15\\) +after gc.set_threshold\\(1000, 15, 15\\)",
    };
    std::vector<std::string> lines;
    for (std::size_t at = 0, nl; at < r.out.size(); at = nl + 1) {
        nl = r.out.find('\n', at);
        if (nl == std::string::npos) nl = r.out.size();
        lines.push_back(r.out.substr(at, nl - at));
    }
    REQUIRE(lines.size() == expected.size());
    std::vector<int> live;  // the generation holding every live block, after each scan shown
    for (std::size_t i = 0; i < expected.size(); ++i) {
        INFO("line " << i << ": " << lines[i]);
        std::smatch m;
        CHECK(std::regex_search(lines[i], m, std::regex(expected[i])));
        if (m.size() > 1) live.push_back(std::stoi(m[1]));
    }
    // The same blocks move from generation 1 to 2: the demo's 301 and the runtime's own few.
    REQUIRE(live.size() == 3);
    CHECK(live[0] >= 301);
    CHECK(live[1] == live[0]);
    CHECK(live[2] == live[0]);

    // The 10 dropped objects are the run's only leak.
    const auto j = only_report(dir.path);
    CHECK(j["leaks"]["totals"]["direct_blocks"] == 10);
    CHECK(j["leaks"]["totals"]["direct_bytes"] == 640);
    CHECK(j["leaks"]["totals"]["indirect_blocks"] == 0);
    CHECK(j["leaks"]["totals"]["possible_blocks"] == 0);
    CHECK(j["cycles"].empty());
}

TEST_CASE("demo: gc_generations with other sizes, nothing dropped and under the launcher", "[demo]")
{
    TempDir dir;
    RunOptions o;
    o.argv = {bin("memtrack"),
              "--output",
              dir.file("r.%p.json"),
              "--report",
              "json",
              "--",
              bin("gc_generations"),
              "--objects",
              "50",
              "--drop",
              "0"};
    o.preload = false;
    const RunResult r = run(o);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(std::regex_search(r.out, std::regex("\\(51, 0, 0\\) +\\+ 50 objects of 64 B")));
    CHECK(std::regex_search(r.out, std::regex("gen0 0, gen1 \\d+, gen2 0 \\(51 of them")));
    CHECK(std::regex_search(r.out, std::regex("objs\\[0\\.\\.0\\) = nullptr +0 objects")));
    CHECK(r.out.find("unreachable found 0, 0, 0") != std::string::npos);
    CHECK(r.out.find("-> 10 unreachable") == std::string::npos);
    const auto j = only_report(dir.path);
    CHECK(j["leaks"]["totals"]["direct_blocks"] == 0);
    CHECK(j["leaks"]["totals"]["indirect_blocks"] == 0);
}

TEST_CASE("issue 4: a frame without debug info gets no source line from its neighbour", "[demo]")
{
    // gc_generations' _start sits right after main, whose line table ends with a row at main's
    // end address: _start was shown at vector.tcc:71.
    TempDir dir;
    RunOptions o;
    o.argv = {bin("gc_generations"), "--objects", "50"};
    o.env = {{"MEMTRACK_OUTPUT", dir.file("r.%p.json")}, {"MEMTRACK_REPORT", "json"}};
    const RunResult r = run(o);
    REQUIRE(r.exit_code == 0);
    const auto j = only_report(dir.path);
    int starts = 0;
    for (const auto& [id, frames] : j["stacks"].items())
        for (const auto& f : frames)
            if (f["function"] == "_start") {
                ++starts;
                CHECK(f["file"] == "");
                CHECK(f["line"] == 0);
            }
    CHECK(starts > 0);
}

TEST_CASE("demo: snapshot_diff prints tracemalloc's top differences and what held the peak",
          "[demo]")
{
    TempDir dir;
    const RunResult r = run_demo({bin("snapshot_diff")}, dir, false);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    // The kept 4 KiB blocks first, then the trimmed half of the cache, by source line.
    CHECK(std::regex_search(
        r.out, std::regex(R"(\[ Top 10 differences \]\n)"
                          R"(snapshot_diff\.cpp:\d+: size=400\.00 KiB \(\+400\.00 KiB\), )"
                          R"(count=100 \(\+100\), average=4\.00 KiB\n)"
                          R"(snapshot_diff\.cpp:\d+: size=48\.83 KiB \(-48\.83 KiB\), )"
                          R"(count=50 \(-50\), average=1000 B\n)")));
    // No difference from the snapshots themselves: no line of memtrack.hpp.
    CHECK(r.out.find("memtrack.hpp") == std::string::npos);
    // The peak of the phase: the 1 MiB scratch, the 100 kept blocks and their vector's 1 KiB;
    // the whole cache (100 blocks of 1000 B and its 800-byte array) before the trim.
    CHECK(std::regex_search(r.out, std::regex(R"(leaking_function\(int\): size=1\.39 MiB, )"
                                              R"(count=102, average=13\.97 KiB\n)")));
    CHECK(std::regex_search(r.out, std::regex(R"(start_application\(\): size=98\.44 KiB, )"
                                              R"(count=101, average=998 B\n)")));
}

TEST_CASE("demo: snapshot_diff without allocation stacks says there is nothing to show", "[demo]")
{
    RunOptions o;
    o.argv = {bin("snapshot_diff")};
    o.preload = false;
    o.env = {{"MEMTRACK_STACK_DEPTH", "0"}, {"MEMTRACK_REPORT", "none"}};
    const RunResult r = run(o);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("nothing to show") != std::string::npos);
}
