// Issue 11: stress, bounded in time. Each case runs tp_stress a few times (MEMTRACK_STRESS_RUNS,
// 3 each, about 30 s in all here; bench/stress.sh runs 100 with stacks on): no hang
// (a 60 s limit per run), no crash, and every process's report present and parseable. Stats-only
// (MEMTRACK_STACK_DEPTH=0) unless MEMTRACK_STRESS_STACKS is set: every forked child would
// otherwise symbolize its report, loading libc's debug information, seconds per process here.
#include "common.hpp"

#include <cstdlib>
#include <string>

using namespace mt_test;

namespace {

int runs(int fallback)
{
    const char* v = std::getenv("MEMTRACK_STRESS_RUNS");
    return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : fallback;
}

// One run of tp_stress; returns its reports (each parsed: reports_in fails on a bad one).
std::vector<nlohmann::json> stress(const std::vector<std::string>& args,
                                   std::vector<std::pair<std::string, std::string>> env,
                                   RunResult& r)
{
    TempDir dir;
    RunOptions o;
    o.argv = {program("tp_stress")};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = std::move(env);
    o.env.emplace_back("MEMTRACK_OUTPUT", dir.path + "/r.%p.json");
    o.env.emplace_back("MEMTRACK_REPORT", "json");
    if (std::getenv("MEMTRACK_STRESS_STACKS") == nullptr)
        o.env.emplace_back("MEMTRACK_STACK_DEPTH", "0");
    o.timeout_s = 60;
    r = run(o);
    return reports_in(dir.path);
}

}  // namespace

TEST_CASE("issue 11 stress: 64 threads churn while main forks and dlopens, GC=auto scans",
          "[stress]")
{
    const int n = runs(3);
    const int rounds = 3;
    for (int i = 0; i < n; ++i) {
        RunResult r;
        const auto reports = stress({"churn", "64", std::to_string(rounds), program("libtp_leaklib.so")},
                                    {{"MEMTRACK_GC", "auto"}}, r);
        INFO("run " << i << "\n" << r.out << r.err);
        REQUIRE_FALSE(r.timed_out);
        REQUIRE(r.exit_code == 0);
        REQUIRE(r.out.find("done") != std::string::npos);
        // the process and each child (exit, _exit, SIGTERM in turn)
        REQUIRE(reports.size() == static_cast<std::size_t>(rounds + 1));
        int signalled = 0, exits = 0, quick = 0;
        for (const auto& j : reports) {
            signalled += j["reason"] == "signal";
            exits += j["reason"] == "exit";
            quick += j["reason"] == "_exit";
        }
        CHECK(signalled == rounds / 3);
        CHECK(quick == rounds / 3);
        CHECK(exits == rounds / 3 + 1);  // and the process itself
    }
}

TEST_CASE("issue 11 stress: a program that uses SIGRTMIN+6 itself", "[stress]")
{
    for (int i = 0, n = runs(3); i < n; ++i) {
        RunResult r;
        const auto reports = stress({"rt6", "16", "4"}, {{"MEMTRACK_GC", "auto"}}, r);
        INFO("run " << i << "\n" << r.out << r.err);
        REQUIRE_FALSE(r.timed_out);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.find("rt6 seen yes") != std::string::npos);  // its own signals reach it
        REQUIRE(reports.size() == 5);
    }
}

TEST_CASE("issue 11 stress: a program that blocks every signal in every thread", "[stress]")
{
    for (int i = 0, n = runs(3); i < n; ++i) {
        RunResult r;
        const auto reports = stress({"blockall", "16", "3"}, {{"MEMTRACK_GC", "auto"}}, r);
        INFO("run " << i << "\n" << r.out << r.err);
        REQUIRE_FALSE(r.timed_out);
        REQUIRE(r.exit_code == 0);
        REQUIRE(reports.size() == 4);
        // the process itself (the most allocations), with its exit scan
        const nlohmann::json* main = &reports[0];
        for (const auto& j : reports)
            if (j["heap"]["allocations"] > (*main)["heap"]["allocations"]) main = &j;
        CHECK((*main)["reason"] == "exit");
        CHECK(main->contains("leaks"));
    }
}

TEST_CASE("issue 11 stress: signals arriving while the reports are written", "[stress]")
{
    for (int i = 0, n = runs(3); i < n; ++i) {
        RunResult r;
        const auto reports = stress({"report_signals", "0", "3"}, {}, r);
        INFO("run " << i << "\n" << r.out << r.err);
        REQUIRE_FALSE(r.timed_out);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.find("usr1 seen yes") != std::string::npos);
        // three api reports and the exit report (the sender, a fork, writes its own when it
        // sees its parent gone: _exit)
        int api = 0, exits = 0;
        for (const auto& j : reports) {
            api += j["reason"] == "api";
            exits += j["reason"] == "exit";
        }
        CHECK(api == 3);
        CHECK(exits == 1);
    }
}
