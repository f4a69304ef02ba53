// Issue 11: invalid and double frees. glibc stops a program that frees a block twice or frees
// a pointer that is no block ("free(): double free detected in tcache 2", SIGABRT); memtrack
// does the same by default (MEMTRACK_INVALID_FREE=abort) and with =report lists each distinct
// site with the stack of the free and the block's allocation stack, as memcheck does.
#include "common.hpp"

#include <csignal>

using namespace mt_test;

namespace {

RunResult run_plain(const std::vector<std::string>& argv)
{
    RunOptions o;
    o.argv = argv;
    o.preload = false;
    return run(o);
}

// The function names of stack `id` of report j, innermost first.
std::vector<std::string> functions(const nlohmann::json& j, std::uint32_t id)
{
    std::vector<std::string> out;
    for (const auto& f : j["stacks"][std::to_string(id)])
        out.push_back(f["function"].get<std::string>());
    return out;
}

bool has(const std::vector<std::string>& v, const std::string& s)
{
    return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("issue 11: a double free ends the program with SIGABRT, as glibc does", "[invalid]")
{
    // memcheck's xml1 case: 134 (SIGABRT) plain, 255 under memtrack before.
    const RunResult plain = run_plain({program("tp_invalid_free"), "double"});
    INFO(plain.out << plain.err);
    REQUIRE(plain.term_signal == SIGABRT);
    for (const char* mode : {"", "abort"}) {
        TempDir dir;
        std::vector<std::pair<std::string, std::string>> env;
        if (*mode != '\0') env.emplace_back("MEMTRACK_INVALID_FREE", mode);
        const RunResult r = run_tracked(dir, {program("tp_invalid_free"), "double"}, env);
        INFO(mode << "\n" << r.out << r.err);
        CHECK(r.term_signal == plain.term_signal);
        CHECK(r.out.find("survived") == std::string::npos);
        CHECK(r.err.find("memtrack: free(): double free of 0x") != std::string::npos);
        CHECK(r.err.find("aborting as glibc does") != std::string::npos);
        const auto j = only_report(dir.path);  // the SIGABRT report, with the free's stack
        CHECK(j["reason"] == "signal");
        CHECK(j["signal"]["name"] == "SIGABRT");
        CHECK(j["signal"]["stack"].size() >= 3);
    }
}

TEST_CASE("issue 11: an interior pointer's free aborts too, as glibc's does", "[invalid]")
{
    const RunResult plain = run_plain({program("tp_invalid_free"), "interior"});
    REQUIRE(plain.term_signal == SIGABRT);
    TempDir dir;
    const RunResult r = run_tracked(dir, {program("tp_invalid_free"), "interior"});
    INFO(r.out << r.err);
    CHECK(r.term_signal == SIGABRT);
    CHECK(r.err.find("memtrack: free(): invalid pointer 0x") != std::string::npos);
}

TEST_CASE("issue 11: MEMTRACK_INVALID_FREE=report lists each double-free site and goes on",
          "[invalid]")
{
    TempDir dir;
    const RunResult r = run_tracked(dir, {program("tp_invalid_free"), "twice"},
                                    {{"MEMTRACK_INVALID_FREE", "report"}});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("survived") != std::string::npos);
    const auto j = only_report(dir.path);
    CHECK(j["heap"]["foreign_frees"] == 0);
    const auto& inv = j["invalid_frees"];
    CHECK(inv["count"] == 3);
    REQUIRE(inv["sites"].size() == 2);
    const auto& a = inv["sites"][0];
    const auto& b = inv["sites"][1];
    CHECK(a["kind"] == "double_free");
    CHECK(a["count"] == 1);
    CHECK(b["kind"] == "double_free");
    CHECK(b["count"] == 2);
    // The stack of the free starts in the program's function that freed; the allocation stack
    // (still in the freed block's header) in the function that allocated.
    const auto free_a = functions(j, a["free_stack"]);
    const auto free_b = functions(j, b["free_stack"]);
    REQUIRE_FALSE(free_a.empty());
    REQUIRE_FALSE(free_b.empty());
    CHECK(free_a[0] == "tp_second_free");
    CHECK(free_b[0] == "tp_other_second_free");
    CHECK(has(free_a, "main"));
    const auto alloc_a = functions(j, a["alloc_stack"]);
    REQUIRE_FALSE(alloc_a.empty());
    CHECK(alloc_a[0] == "tp_allocate_block");
    CHECK(a["alloc_stack"] != b["alloc_stack"]);  // two blocks, allocated from two lines
    // The summary lists them.
    CHECK(r.err.find("invalid 3 invalid frees at 2 sites: 3 double") != std::string::npos);
    CHECK(r.err.find("double free of 0x") != std::string::npos);
    CHECK(r.err.find("#0 tp_second_free tp_invalid_free.c:") != std::string::npos);
    CHECK(r.err.find("#0 tp_allocate_block tp_invalid_free.c:") != std::string::npos);
}

TEST_CASE("issue 11: a block of another allocator is freed silently and counted as foreign",
          "[invalid]")
{
    REQUIRE(run_plain({program("tp_invalid_free"), "foreign"}).exit_code == 0);
    TempDir dir;
    const RunResult r = run_tracked(dir, {program("tp_invalid_free"), "foreign"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("survived") != std::string::npos);
    const auto j = only_report(dir.path);
    CHECK(j["heap"]["foreign_frees"] == 1);
    CHECK_FALSE(j.contains("invalid_frees"));
    CHECK(r.err.find("invalid frees") == std::string::npos);
}

TEST_CASE("issue 11: invalid frees in stats-only mode: counted and listed without stacks",
          "[invalid]")
{
    TempDir dir;
    const RunResult r =
        run_tracked(dir, {program("tp_invalid_free"), "twice"},
                    {{"MEMTRACK_INVALID_FREE", "report"}, {"MEMTRACK_STACK_DEPTH", "0"}});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    const auto j = only_report(dir.path);
    CHECK(j["invalid_frees"]["count"] == 3);
    REQUIRE(j["invalid_frees"]["sites"].size() == 1);  // no stacks: one site per kind
    CHECK(j["invalid_frees"]["sites"][0]["free_stack"] == 0);
    CHECK(j["invalid_frees"]["sites"][0]["alloc_stack"] == 0);
}
