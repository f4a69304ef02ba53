// LeakSanitizer's interface (sanitizer/lsan_interface.h) and memtrack's own names for it:
// tests/programs/tp_lsan.cpp's scenarios, each run under the preload (weak declarations) and
// linked (tp_lsan_linked), with the exact totals LSan would report.
#include "common.hpp"

#include <string>
#include <utility>
#include <vector>

using namespace mt_test;

namespace {

using json = nlohmann::json;
using Env = std::vector<std::pair<std::string, std::string>>;

// tp_lsan SCENARIO under the preload or tp_lsan_linked SCENARIO without it.
RunResult run_lsan(const TempDir& dir, bool linked, const std::string& scenario, Env env = {})
{
    RunOptions o;
    o.argv = {program(linked ? "tp_lsan_linked" : "tp_lsan"), scenario};
    o.env = std::move(env);
    o.env.emplace_back("MEMTRACK_OUTPUT", dir.path + "/r.%p.json");
    o.preload = !linked;
    return run(o);
}

std::int64_t total(const json& j, const char* field)
{
    return j["leaks"]["totals"][field].get<std::int64_t>();
}

bool has_group(const json& j, const char* kind, std::int64_t bytes)
{
    for (const auto& g : j["leaks"][kind])
        if (g["bytes"] == bytes) return true;
    return false;
}

// The report with "reason" `reason` ("exit" or "api") of the ones in dir.
std::vector<json> reports_with(const TempDir& dir, const std::string& reason)
{
    std::vector<json> out;
    for (const json& j : reports_in(dir.path))
        if (j["reason"] == reason) out.push_back(j);
    return out;
}

json exit_report(const TempDir& dir)
{
    const auto r = reports_with(dir, "exit");
    REQUIRE(r.size() == 1);
    return r[0];
}

}  // namespace

TEST_CASE("lsan: __lsan_ignore_object hides the block and the chain only it reaches", "[lsan]")
{
    for (const bool linked : {false, true}) {
        INFO("linked: " << linked);
        TempDir dir;
        const RunResult r = run_lsan(dir, linked, "ignore");
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        const json j = exit_report(dir);
        CHECK(total(j, "direct_blocks") == 1);
        CHECK(total(j, "direct_bytes") == 10004);
        CHECK(total(j, "indirect_blocks") == 0);
        CHECK(total(j, "possible_blocks") == 0);
        CHECK(total(j, "ignored_blocks") == 3);
        CHECK(total(j, "ignored_bytes") == 10001 + 10002 + 10003);
    }
}

TEST_CASE("lsan: __lsan_disable/__lsan_enable nest per thread, in every mode", "[lsan]")
{
    // Ignored: 11001, 11002, the realloc'ed 11008 and 11003 (main, disabled twice), 11005 (a
    // thread of its own). Reported: 11004 (after the last enable), 11006, 11007 (threads that
    // were not disabled).
    for (const bool linked : {false, true})
        for (const char* depth : {"32", "0"}) {
            INFO("linked: " << linked << ", MEMTRACK_STACK_DEPTH=" << depth);
            TempDir dir;
            const RunResult r = run_lsan(dir, linked, "disable", {{"MEMTRACK_STACK_DEPTH", depth}});
            INFO(r.err);
            REQUIRE(r.exit_code == 0);
            const json j = exit_report(dir);
            CHECK(total(j, "direct_blocks") == 3);
            CHECK(total(j, "direct_bytes") == 11004 + 11006 + 11007);
            CHECK(total(j, "indirect_blocks") == 0);
            CHECK(total(j, "ignored_blocks") == 5);
            CHECK(total(j, "ignored_bytes") == 11001 + 11002 + 11008 + 11003 + 11005);
            // Accounting stays exact: the ignored blocks are live heap like any other.
            CHECK(j["heap"]["live_bytes_at_exit"].get<std::int64_t>() >=
                  11001 + 11002 + 11003 + 11004 + 11005 + 11006 + 11007 + 11008);
        }
}

TEST_CASE("lsan: a root region holding the only pointer keeps its block", "[lsan]")
{
    for (const bool linked : {false, true}) {
        INFO("linked: " << linked);
        TempDir kept, removed;
        const RunResult a = run_lsan(kept, linked, "root_region");
        INFO(a.err);
        REQUIRE(a.exit_code == 0);
        CHECK(total(exit_report(kept), "direct_blocks") == 0);
        // Unregistered again: the shared mapping is no root, the block leaks.
        const RunResult b = run_lsan(removed, linked, "root_region_removed");
        INFO(b.err);
        REQUIRE(b.exit_code == 0);
        const json j = exit_report(removed);
        CHECK(total(j, "direct_blocks") == 1);
        CHECK(total(j, "direct_bytes") == 12001);
    }
}

TEST_CASE("lsan: __lsan_do_leak_check reports now and nothing is checked at exit", "[lsan]")
{
    for (const bool linked : {false, true}) {
        INFO("linked: " << linked);
        TempDir dir;
        const RunResult r = run_lsan(dir, linked, "do_leak_check");
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        const auto early = reports_with(dir, "api");
        REQUIRE(early.size() == 1);  // the second call did nothing
        CHECK(total(early[0], "direct_blocks") == 1);
        CHECK(total(early[0], "direct_bytes") == 13001);
        // The exit report shows the early check's leaks: 13002, leaked later, is not one.
        const json j = exit_report(dir);
        CHECK(total(j, "direct_blocks") == 1);
        CHECK(total(j, "direct_bytes") == 13001);
        CHECK_FALSE(has_group(j, "direct", 13002));
        CHECK(j["gc"]["collections"][2] == 1);  // one scan in all
    }
}

TEST_CASE("lsan: __lsan_do_recoverable_leak_check says whether it found leaks, each time", "[lsan]")
{
    for (const bool linked : {false, true}) {
        INFO("linked: " << linked);
        TempDir dir;
        const RunResult r = run_lsan(dir, linked, "recoverable");
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out == "recoverable=0,1,1\n");
        CHECK(reports_with(dir, "api").size() == 3);
        const json j = exit_report(dir);  // later checks still run
        CHECK(total(j, "direct_blocks") == 1);
        CHECK(total(j, "direct_bytes") == 14001);
    }
}

TEST_CASE("lsan: a program's __lsan_is_turned_off returning 1 means no check at exit", "[lsan]")
{
    for (const bool linked : {false, true}) {
        INFO("linked: " << linked);
        TempDir on, off;
        REQUIRE(run_lsan(on, linked, "leak").exit_code == 0);
        CHECK(total(exit_report(on), "direct_bytes") == 15001);
        const RunResult r = run_lsan(off, linked, "leak", {{"TP_LSAN_OFF", "1"}});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK_FALSE(exit_report(off).contains("leaks"));
    }
}

TEST_CASE("lsan: a program's __lsan_default_suppressions adds its lines", "[lsan]")
{
    for (const bool linked : {false, true}) {
        INFO("linked: " << linked);
        TempDir plain, dir;
        REQUIRE(run_lsan(plain, linked, "suppressions").exit_code == 0);
        CHECK(total(exit_report(plain), "direct_blocks") == 2);
        const RunResult r = run_lsan(dir, linked, "suppressions", {{"TP_LSAN_SUPPRESSIONS", "1"}});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        const json j = exit_report(dir);
        CHECK(total(j, "direct_blocks") == 1);
        CHECK(total(j, "direct_bytes") == 16002);
        CHECK(total(j, "suppressed_blocks") == 1);
        CHECK(total(j, "suppressed_bytes") == 16001);
    }
}

TEST_CASE("lsan: __lsan_default_options is read for the options memtrack has, silently", "[lsan]")
{
    for (const bool linked : {false, true}) {
        INFO("linked: " << linked);
        {
            // exitcode: LSan's status for a leaking run; unknown options are ignored quietly.
            TempDir dir;
            const RunResult r =
                run_lsan(dir, linked, "leak",
                         {{"TP_LSAN_OPTIONS", "verbosity=1:exitcode=31 report_objects=1"}});
            CHECK(r.exit_code == 31);
            CHECK(r.err.find("memtrack: exit status 31") != std::string::npos);
            CHECK(r.err.find("verbosity") == std::string::npos);
        }
        {
            // The environment wins over the program's defaults.
            TempDir dir;
            const RunResult r =
                run_lsan(dir, linked, "leak",
                         {{"TP_LSAN_OPTIONS", "exitcode=31"}, {"MEMTRACK_ERROR_EXITCODE", "0"}});
            CHECK(r.exit_code == 0);
        }
        {
            TempDir dir;
            const RunResult r =
                run_lsan(dir, linked, "leak", {{"TP_LSAN_OPTIONS", "detect_leaks=0"}});
            REQUIRE(r.exit_code == 0);
            CHECK_FALSE(exit_report(dir).contains("leaks"));
        }
    }
}

TEST_CASE("lsan: memtrack_check_leaks(MEMTRACK_LEAKS_NEW) reports only leaks not reported "
          "before",
          "[lsan]")
{
    for (const bool linked : {false, true}) {
        INFO("linked: " << linked);
        TempDir dir;
        const RunResult r = run_lsan(dir, linked, "new_only");
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out == "first direct=1/17001 indirect=0 ignored=0 suppressed=0\n"
                       "new direct=1/17002 indirect=0 ignored=0 suppressed=0\n"
                       "all direct=2/34003 indirect=0 ignored=0 suppressed=0\n");
    }
}
