// Golden files for the report's renderers (STYLE.md "Tests"): the summary text and the JSON
// shape (keys in order, value types, nested) of `tp_leaks direct` failed by a gate, so that a
// renderer change shows up in review as a diff of tests/golden/.
//
// To update them on purpose (after checking the diff this test prints):
//   UPDATE_GOLDEN=1 ctest -R golden     (or run the test binary with UPDATE_GOLDEN=1)
// then review `git diff tests/golden/` and commit it with the renderer change.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>

using namespace mt_test;

namespace {

const std::string kGolden = MT_GOLDEN;

// What varies from run to run and machine to machine: pids, times, sizes and counts that
// depend on libc's start-up, sequence numbers, source lines and paths. Leak sizes stay.
std::string normalize_summary(const std::string& text)
{
    std::string out;
    std::size_t begin = 0;
    while (begin < text.size()) {
        const std::size_t end = text.find('\n', begin);
        std::string line = text.substr(begin, end - begin);
        begin = end == std::string::npos ? text.size() : end + 1;
        if (!line.starts_with("memtrack: ") || line.starts_with("memtrack: report written to"))
            continue;
        line = std::regex_replace(line, std::regex(R"(\(pid \d+\))"), "(pid <pid>)");
        for (const char* varying : {"  time ", "  heap ", "  peak ", "  calls ", "  rss "})
            if (line.find(varying) != std::string::npos)
                line = std::regex_replace(line, std::regex(R"(\d+(\.\d+)?( [KMG]iB| B)?)"), "<n>");
        // What held the peak: the shares depend on libc's start-up heap too (the sites stay).
        line = std::regex_replace(
            line, std::regex(R"(^memtrack:     \d+(\.\d+)?( [KMG]iB| B) \(\d+%\) \d+ (blocks?)  )"),
            "memtrack:     <n> (<n>%) <n> $3  ");
        line = std::regex_replace(line, std::regex(R"(#\d+(\.\.#\d+)?\])"), "#<seq>]");
        line = std::regex_replace(line, std::regex(R"(\.(cpp|c|h):\d+)"), ".$1:<line>");
        line = std::regex_replace(line, std::regex(R"(  report  .*)"), "  report  <path>");
        out += line + "\n";
    }
    return out;
}

// The JSON's shape: the same keys in the same order, each value replaced by its type; an array
// by the shape of its first element; stack ids by "<id>".
nlohmann::ordered_json shape(const nlohmann::ordered_json& j)
{
    using nlohmann::ordered_json;
    if (j.is_object()) {
        ordered_json out = ordered_json::object();
        for (const auto& [key, value] : j.items())
            out[std::regex_match(key, std::regex(R"(\d+)")) ? "<id>" : key] = shape(value);
        return out;
    }
    if (j.is_array()) {
        ordered_json out = ordered_json::array();
        if (!j.empty()) out.push_back(shape(j.front()));
        return out;
    }
    if (j.is_string()) return "string";
    if (j.is_boolean()) return "boolean";
    if (j.is_null()) return "null";
    if (j.is_number_integer()) return "integer";
    return "number";
}

// Compares with the golden file, or writes it under UPDATE_GOLDEN=1.
void check_golden(const std::string& name, const std::string& got)
{
    const std::string path = kGolden + "/" + name;
    const char* update = std::getenv("UPDATE_GOLDEN");
    if (update != nullptr && std::string(update) == "1") {
        std::ofstream(path) << got;
        WARN("updated " << path);
        return;
    }
    const std::string want = read_file(path);
    if (got != want) {
        TempDir dir;
        std::ofstream(dir.file("got")) << got;
        RunOptions o;
        o.argv = {"diff", "-u", path, dir.file("got")};
        o.preload = false;
        FAIL_CHECK(name << " differs from the golden file (UPDATE_GOLDEN=1 to accept):\n"
                        << run(o).out);
    }
}

}  // namespace

TEST_CASE("golden: the summary text and the JSON shape of a leaking run failed by a gate",
          "[golden]")
{
    TempDir dir;
    RunOptions o;
    // The leaking function and main: the text stops at main (issue 11: valgrind's
    // --show-below-main=no; libc's start-up frames, which vary, stay in the JSON).
    o.argv = {program("tp_leaks"), "direct"};
    o.env = {{"MEMTRACK_OUTPUT", dir.file("r.json")},
             {"MEMTRACK_STACK_DEPTH", "8"},
             {"MEMTRACK_ERROR_EXITCODE", "23"}};
    const RunResult r = run(o);
    INFO(r.err);
    REQUIRE(r.exit_code == 23);
    const std::string summary = normalize_summary(r.err);
    check_golden("summary.txt", summary);
    const auto report = nlohmann::ordered_json::parse(read_file(dir.file("r.json")));
    check_golden("shape.json", shape(report).dump(2) + "\n");
    // `memtrack report` prints the same lines from the saved file.
    RunOptions show;
    show.argv = {bin("memtrack"), "report", dir.file("r.json")};
    show.preload = false;
    show.unset_env = {"LD_PRELOAD"};
    const RunResult shown = run(show);
    CHECK(shown.exit_code == 0);
    CHECK(normalize_summary(shown.out) == summary);
}
