// `memtrack report FILE --peak | --allocations | --temporary | --exit [--top=N] [--stack-depth=N]`
// (issue 10): golden output of each view on a fixture report (fixtures/sites.json: the real
// report of `MEMTRACK_REPORT=json build/bin/snapshot_diff`, 44 sites: inlined library frames,
// stack 0, sites past the 10 per view the report symbolizes), so that a change of the views
// shows up as a diff of tests/golden/.
//
// To update on purpose: UPDATE_GOLDEN=1 ctest -R views, then review `git diff tests/golden/`.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

using namespace mt_test;

namespace {

const std::string kFixtures = MT_FIXTURES;
const std::string kGolden = MT_GOLDEN;

RunResult report(std::vector<std::string> args)
{
    RunOptions o;
    o.argv = {bin("memtrack"), "report"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.preload = false;
    o.unset_env = {"LD_PRELOAD"};
    return run(o);
}

void check_view(const std::string& golden, std::vector<std::string> args)
{
    args.insert(args.begin(), kFixtures + "/sites.json");
    const RunResult r = report(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
    const std::string path = kGolden + "/" + golden;
    const char* update = std::getenv("UPDATE_GOLDEN");
    if (update != nullptr && std::string(update) == "1") {
        std::ofstream(path) << r.out;
        WARN("updated " << path);
        return;
    }
    const std::string want = read_file(path);
    if (r.out != want) {
        TempDir dir;
        std::ofstream(dir.file("got")) << r.out;
        RunOptions d;
        d.argv = {"diff", "-u", path, dir.file("got")};
        d.preload = false;
        FAIL_CHECK(golden << " differs from the golden file (UPDATE_GOLDEN=1 to accept):\n"
                          << run(d).out);
    }
}

}  // namespace

TEST_CASE("views: --peak lists what held the peak, the largest share first", "[views]")
{
    check_view("views_peak.txt", {"--peak"});
}

TEST_CASE("views: --allocations, --temporary and --exit together, in that order", "[views]")
{
    check_view("views_calls_temporary_exit.txt", {"--exit", "--temporary", "--allocations"});
}

TEST_CASE("views: --top=3 --stack-depth=0 gives one line per site and the rest in one line",
          "[views]")
{
    // --top alone selects the peak view.
    check_view("views_peak_top3_lines.txt", {"--top=3", "--stack-depth=0"});
}

TEST_CASE("views: --stack-depth=1 cuts each stack and says how many frames are left", "[views]")
{
    check_view("views_exit_depth1.txt", {"--exit", "--top", "2", "--stack-depth", "1"});
}

TEST_CASE("views: sites past those the report symbolized are named by their stack id", "[views]")
{
    check_view("views_allocations_top16_lines.txt",
               {"--allocations", "--top=16", "--stack-depth=0"});
}

TEST_CASE("views: a report without sites says so, and bad counts are usage errors", "[views]")
{
    // good.json was written with stacks off: no `sites`.
    const RunResult none = report({kFixtures + "/good.json", "--peak"});
    CHECK(none.exit_code == 0);
    CHECK(none.out.find("no allocation sites in this report") != std::string::npos);
    const RunResult zero = report({kFixtures + "/sites.json", "--top=0"});
    CHECK(zero.exit_code == 2);
    CHECK(zero.out.empty());
    const RunResult negative = report({kFixtures + "/sites.json", "--stack-depth=-1"});
    CHECK(negative.exit_code == 2);
    // Without a view option the summary is printed, as before.
    const RunResult summary = report({kFixtures + "/sites.json"});
    CHECK(summary.exit_code == 0);
    CHECK(summary.out.starts_with("memtrack: snapshot_diff (pid "));
    CHECK(summary.out.find("PEAK MEMORY CONSUMERS") == std::string::npos);
}
