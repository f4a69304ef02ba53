// Report pieces: JSON string escaping and the no-clobber file writer.
#include "platform/report_file.hpp"
#include "report/json_writer.hpp"
#include "report/render.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace md = memtrack::detail;

namespace {
std::string json(std::string_view s)
{
    std::string out;
    md::append_json_string(out, s);
    return out;
}
std::string slurp(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
struct TempDir {
    std::string path;
    TempDir()
    {
        char t[] = "/tmp/memtrack-unit-XXXXXX";
        path = mkdtemp(t);
    }
    ~TempDir() { [[maybe_unused]] int rc = std::system(("rm -rf " + path).c_str()); }
};
}  // namespace

TEST_CASE("report: JSON strings are escaped and valid UTF-8", "[report]")
{
    CHECK(json("plain") == "\"plain\"");
    CHECK(json("a\"b\\c\nd\te") == "\"a\\\"b\\\\c\\nd\\te\"");
    CHECK(json(std::string_view("\x01", 1)) == "\"\\u0001\"");
    CHECK(json("h\xC3\xA9") == "\"h\xC3\xA9\"");        // é kept
    CHECK(json("bad\xFFz") == "\"bad\xEF\xBF\xBDz\"");  // invalid byte -> U+FFFD
    CHECK(json("cut\xE2\x82") == "\"cut\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST_CASE("report: files are never written over an existing file or symlink", "[report]")
{
    TempDir dir;
    const std::string target = dir.path + "/r.json";
    char final_path[512];
    REQUIRE(md::write_report_file(target.c_str(), "one", final_path, sizeof final_path) == 0);
    CHECK(std::string(final_path) == target);
    CHECK(slurp(target) == "one");
    REQUIRE(md::write_report_file(target.c_str(), "two", final_path, sizeof final_path) == 0);
    CHECK(std::string(final_path) == dir.path + "/r.1.json");
    CHECK(slurp(target) == "one");
    CHECK(slurp(final_path) == "two");
    // A symlink at the target is not followed.
    const std::string victim = dir.path + "/victim";
    std::ofstream(victim) << "keep";
    const std::string link = dir.path + "/l.json";
    REQUIRE(symlink(victim.c_str(), link.c_str()) == 0);
    REQUIRE(md::write_report_file(link.c_str(), "three", final_path, sizeof final_path) == 0);
    CHECK(slurp(victim) == "keep");
    CHECK(std::string(final_path) == dir.path + "/l.1.json");
    // No temporary files are left behind.
    CHECK(std::system(("test -z \"$(ls -A " + dir.path + " | grep memtrack)\"").c_str()) == 0);
}

TEST_CASE("report: an unwritable directory gives an error, not a crash", "[report]")
{
    TempDir dir;
    const std::string file = dir.path + "/plainfile";
    std::ofstream(file) << "x";
    char final_path[512];
    CHECK(md::write_report_file((file + "/r.json").c_str(), "x", final_path, sizeof final_path) ==
          ENOTDIR);
    CHECK(md::write_report_file("/nonexistent-dir/r.json", "x", final_path, sizeof final_path) ==
          ENOENT);
}

TEST_CASE("issue 9: unregistered big blocks are in the JSON and the summary says the scan missed "
          "them",
          "[report]")
{
    md::ReportModel m;
    m.leak_checked = true;
    m.leaks.scan.complete = false;
    m.leaks.scan.unregistered_big_blocks = 2;
    const std::string json = md::render_json(m);
    CHECK(json.find("\"unregistered_big_blocks\": 2") != std::string::npos);
    std::string text;
    for (const std::string& line : md::render_summary(m, {}))
        text += line + "\n";
    CHECK(text.find("2 big blocks could not be registered") != std::string::npos);
    CHECK(text.find("could not be paused") == std::string::npos);  // no thread was missed
}

TEST_CASE("issue 11: leak stacks in the summary stop at main, the JSON keeps every frame",
          "[report]")
{
    md::ReportModel m;
    m.leak_checked = true;
    m.leaks.totals.direct_bytes = 10;
    m.leaks.totals.direct_blocks = 1;
    m.leaks.direct.push_back({10, 1, 7, 0, 0, ""});
    m.stacks[7] = {{0x10, "leak()", "/src/a.c", 3, "", 0, false},
                   {0x20, "main", "/src/a.c", 9, "", 0, false},
                   {0x30, "__libc_start_call_main", "", 0, "/lib/libc.so.6", 0x30, false},
                   {0x40, "__libc_start_main_impl", "", 0, "/lib/libc.so.6", 0x40, false},
                   {0x50, "_start", "", 0, "/bin/a", 0x50, false}};
    m.leaks.direct.push_back({20, 1, 8, 0, 0, ""});
    // A stripped program: no main, libc's start-up frames are still cut.
    m.stacks[8] = {{0x10, "", "", 0, "/bin/b", 0x10, false},
                   {0x30, "__libc_start_call_main", "", 0, "/lib/libc.so.6", 0x30, false},
                   {0x50, "_start", "", 0, "/bin/b", 0x50, false}};
    // ... and the "held by" line of its site names the innermost frame, not libc's start-up
    // (the only frame with a file in a program without line information).
    m.stacks[8][1].file = "../sysdeps/nptl/libc_start_call_main.h";
    m.sites_recorded = true;
    m.heap.peak_bytes = m.heap.peak_attributed_bytes = 20;
    m.sites.push_back({8, 1, 20, 0, 20, 1, 20, 1, 0, 20});
    std::string text;
    for (const std::string& line : md::render_summary(m, {}))
        text += line + "\n";
    CHECK(text.find("#1 main a.c:9\n") != std::string::npos);
    CHECK(text.find("#0 0x10 (b+0x10)\n") != std::string::npos);
    CHECK(text.find("1 block  0x10 (b+0x10)\n") != std::string::npos);
    CHECK(text.find("__libc_start") == std::string::npos);
    CHECK(text.find("_start") == std::string::npos);
    CHECK(text.find("more frames") == std::string::npos);
    const std::string json = md::render_json(m);
    CHECK(json.find("__libc_start_call_main") != std::string::npos);
    CHECK(json.find("\"_start\"") != std::string::npos);
}

TEST_CASE("issue 11: which reports need attention (MEMTRACK_REPORT=quiet, the launcher's lines)",
          "[report]")
{
    md::ReportModel m;
    CHECK_FALSE(md::needs_attention(m));
    m.leak_checked = true;
    m.leaks.totals.possible_blocks = 3;     // possible leaks alone are not reported as leaks
    m.leaks.totals.suppressed_blocks = 3;
    CHECK_FALSE(md::needs_attention(m));
    m.leaks.totals.indirect_blocks = 1;
    CHECK(md::needs_attention(m));
    m.leaks.totals.indirect_blocks = 0;
    m.gate = "1 leaked blocks (4242 bytes)";
    CHECK(md::needs_attention(m));
    m.gate.clear();
    for (const char* reason : {"signal", "checkpoint"}) {
        m.reason = reason;
        CHECK(md::needs_attention(m));
    }
    for (const char* reason : {"exit", "_exit", "exec", "api"}) {
        m.reason = reason;
        CHECK_FALSE(md::needs_attention(m));
    }
}
