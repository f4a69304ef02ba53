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
