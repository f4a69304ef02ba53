// The site profile and the peak attribution (issue 10), from real processes' JSON reports:
// exact values for known sites (tests/programs/tp_sites.cpp).
#include "common.hpp"

#include <regex>
#include <string>

using namespace mt_test;
using nlohmann::json;

namespace {

// The site whose stack has a frame of function `fn`; null if none.
const json* site(const json& r, const std::string& fn)
{
    for (const json& s : r.at("sites")) {
        const std::string id = std::to_string(s.at("stack").get<std::uint32_t>());
        if (!r.at("stacks").contains(id)) continue;
        for (const json& f : r.at("stacks").at(id))
            if (f.at("function").get<std::string>() == fn) return &s;
    }
    return nullptr;
}

std::int64_t field(const json* s, const char* name)
{
    REQUIRE(s != nullptr);
    return s->at(name).get<std::int64_t>();
}

// The sum of a field over every site with a frame of function `fn` (a function calling it
// from several places has several sites).
std::int64_t sum_of(const json& r, const std::string& fn, const char* name)
{
    std::int64_t total = 0;
    for (const json& s : r.at("sites")) {
        const std::string id = std::to_string(s.at("stack").get<std::uint32_t>());
        if (!r.at("stacks").contains(id)) continue;
        for (const json& f : r.at("stacks").at(id))
            if (f.at("function").get<std::string>() == fn) {
                total += s.at(name).get<std::int64_t>();
                break;
            }
    }
    return total;
}

std::int64_t sum(const json& r, const char* name)
{
    std::int64_t total = 0;
    for (const json& s : r.at("sites"))
        total += s.at(name).get<std::int64_t>();
    return total;
}

}  // namespace

TEST_CASE("sites: a single-threaded peak is attributed exactly, site by site", "[sites]")
{
    TempDir dir;
    const RunResult run = run_tracked(dir, {program("tp_sites"), "peak"});
    REQUIRE(run.exit_code == 0);
    const json r = only_report(dir.path);
    // Every site together holds the peak to the byte, and what is live at exit.
    CHECK(sum(r, "peak_bytes") == heap(r, "peak_bytes"));
    CHECK(heap(r, "peak_attributed_bytes") == heap(r, "peak_bytes"));
    CHECK(sum(r, "exit_bytes") == heap(r, "live_bytes_at_exit"));
    CHECK(sum(r, "exit_blocks") == heap(r, "live_blocks_at_exit"));
    CHECK(sum(r, "allocations") == heap(r, "allocations"));
    CHECK(sum(r, "frees") == heap(r, "frees"));
    CHECK(sum(r, "bytes_allocated") == heap(r, "bytes_allocated"));
    CHECK(r.at("site_table").at("bytes_per_site") == 64);
    CHECK(r.at("site_table").at("listed") == r.at("sites").size());

    const json* big = site(r, "tp_site_big");  // >= 1 MiB blocks
    CHECK(field(big, "allocations") == 3);
    CHECK(field(big, "peak_bytes") == 3 * 2097159);
    CHECK(field(big, "peak_blocks") == 3);
    CHECK(field(big, "exit_bytes") == 2097159);
    CHECK(field(big, "exit_blocks") == 1);
    CHECK(field(big, "frees") == 2);
    CHECK(field(big, "largest_bytes") == 2097159);
    const json* news = site(r, "tp_site_new");  // operator new[]
    CHECK(field(news, "peak_bytes") == 5 * 20012);
    CHECK(field(news, "peak_blocks") == 5);
    CHECK(field(news, "exit_bytes") == 0);
    CHECK(field(news, "bytes_allocated") == 5 * 20012);
    const json* wide = site(r, "tp_site_aligned_new");  // over-aligned operator new
    CHECK(field(wide, "peak_bytes") == 7 * 30016);
    CHECK(field(wide, "peak_blocks") == 7);
    CHECK(field(wide, "exit_bytes") == 7 * 30016);
    const json* early = site(r, "tp_site_early");  // all freed before the peak
    CHECK(field(early, "peak_bytes") == 0);
    CHECK(field(early, "peak_blocks") == 0);
    CHECK(field(early, "bytes_allocated") == 500009);
    CHECK(field(early, "temporary") == 1);
    // A realloc chain: each realloc moves the block to its own site.
    const json* c0 = site(r, "tp_site_chain0");
    const json* c1 = site(r, "tp_site_chain1");
    const json* c2 = site(r, "tp_site_chain2");
    CHECK(field(c0, "peak_bytes") == 0);
    CHECK(field(c0, "frees") == 1);
    CHECK(field(c1, "peak_bytes") == 0);
    CHECK(field(c1, "allocations") == 1);
    CHECK(field(c2, "peak_bytes") == 100003);
    CHECK(field(c2, "exit_bytes") == 100003);
    // The first site is the largest share; the summary names it.
    CHECK(r.at("sites").at(0).at("peak_bytes") == 3 * 2097159);
    const auto lines = memtrack_lines(run.err);
    bool held_by = false, named = false;
    for (const std::string& l : lines) {
        held_by = held_by || (l.find("peak    6.46 MiB at ") != std::string::npos &&
                              l.find(", held by:") != std::string::npos);
        named = named ||
                l.find("6.00 MiB (93%) 3 blocks  tp_site_big tp_sites.cpp:") != std::string::npos;
    }
    CHECK(held_by);
    CHECK(named);
}

TEST_CASE("sites: after memtrack_reset_peak the API gives the second phase's peak, the report "
          "the lifetime peak's",
          "[sites]")
{
    TempDir dir;
    const RunResult run = run_tracked(dir, {program("tp_sites"), "reset"});
    REQUIRE(run.exit_code == 0);
    // memtrack_peak_sites (C API through dlsym): phase 2's three blocks, at tp_site_phase2.
    CHECK(run.out.find("first=30027 blocks=3 version=1 at=tp_site_phase2 tp_sites.cpp:") !=
          std::string::npos);
    const json r = only_report(dir.path);
    // The report's heap.peak_bytes is the lifetime peak: phase 1 held it.
    CHECK(field(site(r, "tp_site_phase1"), "peak_bytes") == 4000037);
    CHECK(field(site(r, "tp_site_phase1"), "peak_blocks") == 1);
    CHECK(field(site(r, "tp_site_phase1"), "bytes_allocated") == 4000037);
    CHECK(field(site(r, "tp_site_phase2"), "peak_bytes") == 0);
    CHECK(field(site(r, "tp_site_phase2"), "bytes_allocated") == 3 * 10009);
    CHECK(heap(r, "peak_attributed_bytes") == sum(r, "peak_bytes"));
    CHECK(heap(r, "peak_attributed_bytes") == heap(r, "peak_bytes"));
}

TEST_CASE("sites: threads sharing a site and with their own, within the fold bound", "[sites]")
{
    TempDir dir;
    REQUIRE(run_tracked(dir, {program("tp_sites"), "threads"}).exit_code == 0);
    const json r = only_report(dir.path);
    const json* shared = site(r, "tp_site_shared");
    const json* own = site(r, "tp_site_own");
    CHECK(field(shared, "allocations") == 4000);
    CHECK(field(shared, "frees") == 4000);
    CHECK(field(own, "allocations") == 4000);
    CHECK(field(own, "exit_bytes") == 0);
    CHECK(sum(r, "allocations") == heap(r, "allocations"));
    CHECK(sum(r, "exit_bytes") == heap(r, "live_bytes_at_exit"));
    const std::int64_t bound = 4 * (std::int64_t{1} << 20);
    CHECK(std::llabs(sum(r, "peak_bytes") - heap(r, "peak_bytes")) <= bound);
    CHECK(field(shared, "peak_bytes") <= 4000 * 1009);
    CHECK(field(own, "peak_bytes") <= 4000 * 1013);
}

TEST_CASE("sites: a forked child's attribution is its own", "[sites]")
{
    TempDir dir;
    REQUIRE(run_tracked(dir, {program("tp_sites"), "fork"}).exit_code == 0);
    const auto reports = reports_in(dir.path);
    REQUIRE(reports.size() == 2);
    const json& child = reports[0]["ppid"] == reports[1]["pid"] ? reports[0] : reports[1];
    const json& parent = &child == &reports[0] ? reports[1] : reports[0];
    // The child inherited the parent's block: it is live in the child, not allocated there.
    const json* inherited = site(child, "tp_site_parent");
    CHECK(field(inherited, "allocations") == 0);
    CHECK(field(inherited, "exit_bytes") == 70001);
    CHECK(field(site(child, "tp_site_child"), "peak_bytes") == 90001);
    CHECK(field(site(child, "tp_site_child"), "allocations") == 1);
    CHECK(sum(child, "peak_bytes") == heap(child, "peak_bytes"));
    CHECK(sum(child, "allocations") == heap(child, "allocations"));
    CHECK(site(parent, "tp_site_child") == nullptr);
    CHECK(field(site(parent, "tp_site_parent"), "peak_bytes") == 70001);
    CHECK(sum(parent, "peak_bytes") == heap(parent, "peak_bytes"));
}

TEST_CASE("sites: temporary allocations, heaptrack's rule", "[sites]")
{
    TempDir dir;
    REQUIRE(run_tracked(dir, {program("tp_sites"), "temp"}).exit_code == 0);
    const json r = only_report(dir.path);
    CHECK(sum_of(r, "tp_site_temp", "allocations") == 18);
    CHECK(sum_of(r, "tp_site_temp", "temporary") == 10);
    CHECK(sum_of(r, "tp_site_kept", "allocations") == 8);
    CHECK(sum_of(r, "tp_site_kept", "temporary") == 3);
    CHECK(field(site(r, "tp_site_temp"), "largest_bytes") == 333);
}

TEST_CASE("sites: stats-only mode has no sites", "[sites]")
{
    TempDir dir;
    REQUIRE(run_tracked(dir, {program("tp_sites"), "peak"}, {{"MEMTRACK_STACK_DEPTH", "0"}})
                .exit_code == 0);
    const json r = only_report(dir.path);
    CHECK_FALSE(r.contains("sites"));
    CHECK(heap(r, "peak_attributed_bytes") == 0);
}

TEST_CASE("sites: the timeline has RSS and the bytes of its top sites at each point", "[sites]")
{
    TempDir dir;
    const RunResult r = run_tracked(dir, {program("tp_sites"), "timeline"},
                                    {{"MEMTRACK_INTERVAL", "1ms"}, {"MEMTRACK_LEAK_CHECK", "0"}});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const json j = only_report(dir.path);
    const json& timeline = j.at("timeline");
    REQUIRE(timeline.size() >= 10);
    int with_rss = 0;
    for (const json& p : timeline) {
        REQUIRE(p.size() == 3);
        if (p[2].is_number()) {
            CHECK(p[2].get<std::int64_t>() > 0);
            ++with_rss;
        }
    }
    CHECK(with_rss >= static_cast<int>(timeline.size()) - 1);  // all but the peak point

    const json& ts = j.at("timeline_sites");
    const json& values = ts.at("values");
    REQUIRE(values.size() == timeline.size());
    const auto series_of = [&](const std::string& fn) {
        const json* s = site(j, fn);
        REQUIRE(s != nullptr);
        for (std::size_t k = 0; k < ts.at("stacks").size(); ++k)
            if (ts.at("stacks")[k] == s->at("stack")) return k;
        FAIL("no series for " << fn);
        return std::size_t{0};
    };
    const std::size_t a = series_of("tp_site_phase_a");
    const std::size_t b = series_of("tp_site_phase_b");
    const std::int64_t step = 2 << 20;
    std::int64_t most_a = 0, most_b = 0;
    bool b_before_a_full = false;
    bool past_peak = false;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (timeline[i][1] == heap(j, "peak_bytes")) past_peak = true;
        const json& v = values[i];
        REQUIRE(v.size() == ts.at("stacks").size() + 1);
        std::int64_t sum = 0;
        for (const json& x : v)
            sum += x.get<std::int64_t>();
        // Each point's parts add up to its bytes (single thread: exact).
        CHECK(sum == timeline[i][1].get<std::int64_t>());
        const std::int64_t va = v[a].get<std::int64_t>(), vb = v[b].get<std::int64_t>();
        CHECK(va % step == 0);
        CHECK(vb % step == 0);
        if (!past_peak && vb > 0 && va < 10 * step) b_before_a_full = true;
        most_a = std::max(most_a, va);
        most_b = std::max(most_b, vb);
    }
    CHECK_FALSE(b_before_a_full);  // B grows only once A is complete
    CHECK(most_a == 10 * step);
    CHECK(most_b == 10 * step);
    // The last point is the exit: nothing of either is live.
    CHECK(values.back()[a] == 0);
    CHECK(values.back()[b] == 0);
}

TEST_CASE("sites: the C API's take_snapshot and peak_sites under LD_PRELOAD, through dlsym",
          "[sites]")
{
    TempDir dir;
    const RunResult run = run_tracked(dir, {program("tp_sites"), "snapshot"});
    INFO(run.out);
    REQUIRE(run.exit_code == 0);
    // Live now: the six kept blocks; a NULL buffer gives the same count.
    CHECK(std::regex_search(run.out, std::regex(R"(live count=(\d+) \(max 0: \1\))")));
    CHECK(std::regex_search(
        run.out,
        std::regex(R"(live tp_site_kept tp_sites\.cpp:\d+ bytes=42006 blocks=6 allocations=6)")));
    CHECK(run.out.find("live tp_site_temp") == std::string::npos);
    // The peak since the reset: the kept blocks (all six still live then) and the big one.
    CHECK(std::regex_search(
        run.out,
        std::regex(R"(peak tp_site_temp tp_sites\.cpp:\d+ bytes=900001 blocks=1 allocations=1)")));
    CHECK(std::regex_search(
        run.out,
        std::regex(R"(peak tp_site_kept tp_sites\.cpp:\d+ bytes=42006 blocks=6 allocations=6)")));
}

TEST_CASE("sites: after reset_peak, a smaller second phase's peak holds that phase's sites only",
          "[sites]")
{
    TempDir dir;
    const RunResult run = run_tracked(dir, {program("tp_sites"), "reset"});
    REQUIRE(run.exit_code == 0);
    // Phase 1's 4000037-byte block was freed before the reset: it is in no share of phase 2's
    // peak, whose largest stacked share is phase 2's three blocks; the rest is start-up memory
    // (libc, libstdc++'s pool) that was live throughout, far less than phase 1's block.
    std::smatch m;
    REQUIRE(std::regex_search(run.out, m, std::regex(R"(sites=(\d+) first=(\d+) blocks=(\d+))")));
    CHECK(m[2] == "30027");
    CHECK(m[3] == "3");
    CHECK(run.out.find("tp_site_phase1") == std::string::npos);
    CHECK(std::regex_search(run.out,
                            std::regex(R"(share 30027 tp_site_phase2 tp_sites\.cpp:\d+\n)")));
    // Single-threaded: the shares sum to the phase's peak (memtrack_get_stats) exactly.
    REQUIRE(std::regex_search(run.out, m, std::regex(R"(shares sum=(\d+) phase peak=(\d+))")));
    CHECK(m[1] == m[2]);
    CHECK(std::stoll(m[1]) < 4000037);
    CHECK(std::stoll(m[1]) >= 30027);
}

TEST_CASE("snapshots: the C++ API's statistics and compare_to by function, lineno, filename and "
          "traceback, and peak_sites after reset_peak, exact",
          "[sites][snapshot]")
{
    TempDir dir;
    RunOptions o;
    o.argv = {program("tp_snapshot")};
    o.env = {{"MEMTRACK_OUTPUT", dir.file("r.json")}};
    o.preload = false;  // linked
    const RunResult run = mt_test::run(o);
    INFO(run.out << run.err);
    REQUIRE(run.exit_code == 0);
    const auto has = [&](const std::string& re) {
        return std::regex_search(run.out, std::regex(re));
    };
    // Taking a snapshot changes nothing in the tracked heap, and its sites sum to it.
    CHECK(has(R"(heap before=(\d+) after=\1 snapshot total=\1\n)"));
    // Live in s2: tp_snap_a 5 - 1 blocks of 10007 from two call sites, tp_snap_b 4 of 20011.
    CHECK(has(R"(function: tp_snap_b: size=78\.17 KiB, count=4, average=19\.54 KiB \| 80044 4\n)"));
    CHECK(has(R"(function: tp_snap_a: size=39\.09 KiB, count=4, average=9\.77 KiB \| 40028 4\n)"));
    CHECK(has(R"(lineno: tp_snapshot\.cpp:\d+: size=78\.17 KiB, count=4, [^|]*\| 80044 4\n)"));
    CHECK(has(R"(lineno: tp_snapshot\.cpp:\d+: size=39\.09 KiB, count=4, [^|]*\| 40028 4\n)"));
    // filename: both, and main's 512-byte reserve.
    CHECK(has(R"(filename: tp_snapshot\.cpp: size=[^|]*\| 120584 9\n)"));
    CHECK(run.out.find("traceback: 2 stacks of tp_snap_a\n") != std::string::npos);
    // compare_to: the largest change first; tp_snap_a's two stacks fold by function.
    const std::string diffs = R"(diff function: tp_snap_b: size=78\.17 KiB \(\+78\.17 KiB\), )"
                              R"(count=4 \(\+4\), average=19\.54 KiB \| 80044 80044 4 4\n)"
                              R"(diff function: tp_snap_a: size=39\.09 KiB \(\+9\.77 KiB\), )"
                              R"(count=4 \(\+1\), average=9\.77 KiB \| 40028 10007 4 1\n)";
    CHECK(has(diffs));
    // By traceback: the first call site lost one block, the second is new.
    CHECK(has(
        R"(diff traceback: tp_snap_a tp_snapshot\.cpp:\d+ \(stack \d+\): [^|]*\| 20014 20014 2 2\n)"));
    CHECK(has(
        R"(diff traceback: tp_snap_a tp_snapshot\.cpp:\d+ \(stack \d+\): [^|]*\| 20014 -10007 2 -1\n)"));
    CHECK(has(
        R"(diff traceback: main tp_snapshot\.cpp:\d+ \(stack \d+\): size=512 B \(\+0 B\), count=1 \(\+0\), )"));
    // peak_sites after reset_peak: the kept blocks and the freed 300007-byte one.
    CHECK(has(R"(peak function: tp_snap_b: [^|]*\| 380051 5\n)"));
    CHECK(has(R"(peak function: tp_snap_a: [^|]*\| 40028 4\n)"));
    CHECK(has(R"(bad key: memtrack: unknown snapshot key)"));
}

TEST_CASE("sites: the lecture's keep-local peak is three 1 MiB sites, named by function "
          "(tp_lecture, the program docs/accuracy.md compares with heaptrack)",
          "[sites]")
{
    TempDir dir;
    REQUIRE(run_tracked(dir, {program("tp_lecture"), "keep-local", "1048576"}).exit_code == 0);
    const json r = only_report(dir.path);
    for (const char* fn : {"(anonymous namespace)::load_data(unsigned long)",
                           "(anonymous namespace)::modify1(std::vector<unsigned char, "
                           "std::allocator<unsigned char> > const&)",
                           "(anonymous namespace)::modify2(std::vector<unsigned char, "
                           "std::allocator<unsigned char> > const&)"}) {
        INFO(fn);
        CHECK(sum_of(r, fn, "peak_bytes") == 1048576);
        CHECK(sum_of(r, fn, "peak_blocks") == 1);
    }
    CHECK(heap(r, "peak_attributed_bytes") == heap(r, "peak_bytes"));
    CHECK(heap(r, "peak_bytes") >= 3 * 1048576);
}
