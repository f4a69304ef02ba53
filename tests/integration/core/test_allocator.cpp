// The allocator API under the preload: realloc chains, aligned entry points, glibc semantics,
// foreign pointers, every operator new/delete form, and the C API from outside.
#include "common.hpp"

using namespace mt_test;

namespace {
// Runs `tp MODE` under the preload and an idle baseline; returns (report, baseline report).
std::pair<nlohmann::json, nlohmann::json>
run_mode(const std::string& tp, const std::string& mode, RunResult* out = nullptr,
         std::vector<std::pair<std::string, std::string>> env = {})
{
    TempDir dir, base_dir;
    const RunResult r = run_tracked(dir, {program(tp), mode}, env);
    INFO(r.out << r.err);
    CHECK(r.out.find("FAIL") == std::string::npos);
    CHECK(r.exit_code == 0);
    if (out != nullptr) *out = r;
    REQUIRE(run_tracked(base_dir, {program("tp_c"), "idle"}).exit_code == 0);
    return {only_report(dir.path), only_report(base_dir.path)};
}
}  // namespace

TEST_CASE("allocator: realloc chains are accounted exactly", "[allocator]")
{
    const auto [j, base] = run_mode("tp_c", "realloc");
    CHECK(heap(j, "allocations") - heap(base, "allocations") == 5);
    CHECK(heap(j, "frees") - heap(base, "frees") == 5);
    CHECK(heap(j, "bytes_allocated") - heap(base, "bytes_allocated") ==
          100 + 1000 + 100000 + 5000000 + 10);
    CHECK(heap(j, "current_bytes") == heap(base, "current_bytes"));
    // realloc replaces a block: the old leaves before the new arrives, as in tracemalloc
    CHECK(heap(j, "peak_bytes") == heap(base, "peak_bytes") + 5000000);
}

TEST_CASE("allocator: every aligned entry point returns aligned memory", "[allocator]")
{
    // tp_c checks each call's alignment and exact accounting through the stats API.
    const auto [j, base] = run_mode("tp_c", "aligned");
    CHECK(heap(j, "current_bytes") == heap(base, "current_bytes"));
    CHECK(heap(j, "allocations") - heap(base, "allocations") ==
          heap(j, "frees") - heap(base, "frees"));
    CHECK(heap(j, "foreign_frees") == 0);
}

TEST_CASE("allocator: glibc semantics (errno, overflow, malloc(0), realloc(p, 0))", "[allocator]")
{
    // tp_c checks errno, results and that failed calls count nothing.
    const auto [j, base] = run_mode("tp_c", "semantics");
    CHECK(heap(j, "current_bytes") == heap(base, "current_bytes"));
    // successful: malloc(10), malloc(0) x2, malloc(50), reallocarray(NULL, 10, 10)
    CHECK(heap(j, "allocations") - heap(base, "allocations") == 5);
    CHECK(heap(j, "bytes_allocated") - heap(base, "bytes_allocated") == 10 + 50 + 100);
    CHECK(heap(j, "foreign_frees") == 0);
}

TEST_CASE("allocator: pointers memtrack never allocated are counted, not crashed on", "[allocator]")
{
    RunResult r;
    const auto [j, base] = run_mode("tp_c", "foreign", &r);
    CHECK(r.out.find("foreign done") != std::string::npos);
    // 3 frees (mmap, static, stack), 2 reallocs (glibc's block, mmap end), glibc's block freed
    CHECK(heap(j, "foreign_frees") == 6);
    // everything the program allocated was freed; dlopen(libc, RTLD_NOLOAD) keeps a few bytes
    CHECK(heap(j, "current_bytes") - heap(base, "current_bytes") <= 64);
}

TEST_CASE("allocator: what glibc allocates for the program (strdup, getline, ...) is ours",
          "[allocator]")
{
    RunResult r;
    const auto [j, base] = run_mode("tp_c", "libc", &r);
    CHECK(r.out.find("libc done") != std::string::npos);
    CHECK(heap(j, "foreign_frees") == 0);
}

TEST_CASE("allocator: a block freed twice is counted once, then as an invalid free",
          "[allocator]")
{
    RunResult r;
    const auto [j, base] =
        run_mode("tp_c", "doublefree", &r, {{"MEMTRACK_INVALID_FREE", "report"}});
    CHECK(r.out.find("doublefree done") != std::string::npos);
    CHECK(heap(j, "foreign_frees") == 0);
    CHECK(j["invalid_frees"]["count"] == 1);
    CHECK(heap(j, "allocations") - heap(base, "allocations") == 3);
    CHECK(heap(j, "frees") - heap(base, "frees") == 3);
    CHECK(heap(j, "current_bytes") == heap(base, "current_bytes"));
}

TEST_CASE("allocator: blocks of 1 GiB and more are freed, not counted as foreign", "[allocator]")
{
    // `make demo` at 1 GiB once leaked every buffer: mimalloc's region map misses such blocks.
    const auto [j, base] = run_mode("tp_c", "huge");
    CHECK(heap(j, "foreign_frees") == 0);
    CHECK(heap(j, "current_bytes") == heap(base, "current_bytes"));
    CHECK(heap(j, "peak_bytes") - heap(base, "peak_bytes") == (std::int64_t{2} << 30));
}

TEST_CASE("allocator: every operator new/delete form, counted exactly", "[allocator][cxx]")
{
    RunResult r;
    const auto [j, base] = run_mode("tp_cxx", "forms", &r);
    CHECK(r.out.find("forms done") != std::string::npos);
    CHECK(heap(j, "foreign_frees") == 0);
    // each form's current, peak, totals and alignment are checked inside tp_cxx; here the
    // whole run: everything freed, the largest single block (A1M[2]) reached the peak
    CHECK(heap(j, "allocations") - heap(j, "frees") == heap(j, "live_blocks_at_exit"));
    CHECK(heap(j, "peak_bytes") >= 2 * (1 << 20));
}

TEST_CASE("allocator: operator new failure calls the new_handler, then throws bad_alloc",
          "[allocator][cxx]")
{
    RunResult r;
    run_mode("tp_cxx", "fail", &r);
    CHECK(r.out.find("fail done") != std::string::npos);
}

TEST_CASE("api: a preloaded C program finds the API with dlsym", "[api]")
{
    TempDir dir;
    RunResult r = run_tracked(dir, {program("tp_c"), "api"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "tp_c api\ntracked\n");
    // memtrack_version() names the version the report carries
    const std::string version = only_report(dir.path)["memtrack_version"];
    CHECK(r.err.find("version " + version + "\n") != std::string::npos);
    RunOptions plain;
    plain.argv = {program("tp_c"), "api"};
    plain.preload = false;
    r = run(plain);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "tp_c api\nnot tracked\n");
}

TEST_CASE("api: a program linked to memtrack::memtrack is tracked without LD_PRELOAD", "[api]")
{
    TempDir dir;
    RunOptions o;
    o.argv = {program("tp_linked")};
    o.preload = false;
    o.env = {{"MEMTRACK_OUTPUT", dir.file("r.%p.json")}};
    const RunResult r = run(o);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "current 0 peak 30018\n");
    CHECK(only_report(dir.path)["heap"]["bytes_allocated"].get<std::int64_t>() >= 30018);
}

TEST_CASE("api: a linked program gets exact current and peak from the C API", "[api]")
{
    TempDir dir;
    RunOptions o;
    o.argv = {program("tp_linked"), "capi"};
    o.preload = false;
    o.env = {{"MEMTRACK_OUTPUT", dir.file("r.%p.json")}, {"MEMTRACK_REPORT", "json"}};
    const RunResult r = run(o);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "current 10007 peak 30018 allocations 2 frees 2 after 0 lifetime 1\n");
    CHECK(r.err.empty());
    CHECK(only_report(dir.path)["exit_status"] == 0);
}

TEST_CASE("api: memtrack_write_report writes a report now, and the exit report still comes",
          "[api]")
{
    TempDir dir;
    RunOptions o;
    o.argv = {program("tp_linked"), "report", dir.file("now.%p.json")};
    o.preload = false;
    o.env = {{"MEMTRACK_OUTPUT", dir.file("exit.%p.json")}, {"MEMTRACK_REPORT", "json"}};
    const RunResult r = run(o);
    REQUIRE(r.exit_code == 0);
    const auto reports = reports_in(dir.path);  // exit.<pid>.json, now.<pid>.json
    REQUIRE(reports.size() == 2);
    const auto& at_exit = reports[0];
    const auto& now = reports[1];
    CHECK(now["reason"] == "api");
    CHECK(now["exit_status"].is_null());
    CHECK(at_exit["reason"] == "exit");
    CHECK(at_exit["exit_status"] == 0);
    CHECK(now["pid"] == at_exit["pid"]);
    // 50021 B held when the report was asked for, freed before exit
    CHECK(heap(now, "current_bytes") - heap(at_exit, "current_bytes") == 50021);
}
