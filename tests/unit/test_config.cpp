// MEMTRACK_* parsers and the output template.
#include "config/config.hpp"
#include "config/options.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace md = memtrack::detail;

TEST_CASE("config: durations", "[config]")
{
    CHECK(md::parse_duration_ns("100ms") == 100'000'000);
    CHECK(md::parse_duration_ns("0.5s") == 500'000'000);
    CHECK(md::parse_duration_ns("2s") == 2'000'000'000);
    CHECK(md::parse_duration_ns("2") == 2'000'000'000);
    CHECK(md::parse_duration_ns(" 250 us ") == 250'000);
    CHECK(md::parse_duration_ns("1m") == 60'000'000'000);
    CHECK(md::parse_duration_ns("0") == 0);
    CHECK_FALSE(md::parse_duration_ns("fast"));
    CHECK_FALSE(md::parse_duration_ns(""));
    CHECK_FALSE(md::parse_duration_ns("-1s"));
    CHECK_FALSE(md::parse_duration_ns("10 parsecs"));
    CHECK_FALSE(md::parse_duration_ns("1e400"));
}

TEST_CASE("config: report kinds", "[config]")
{
    auto k = md::parse_report_kinds("text,json");
    REQUIRE(k);
    CHECK((k->text && k->json));
    k = md::parse_report_kinds("json");
    REQUIRE(k);
    CHECK((!k->text && k->json));
    k = md::parse_report_kinds(" text ");
    REQUIRE(k);
    CHECK((k->text && !k->json));
    k = md::parse_report_kinds("none");
    REQUIRE(k);
    CHECK((!k->text && !k->json));
    k = md::parse_report_kinds("quiet,json");  // issue 11
    REQUIRE(k);
    CHECK((!k->text && k->quiet && k->json));
    CHECK_FALSE(md::parse_report_kinds("xml"));
    CHECK_FALSE(md::parse_report_kinds(""));
    CHECK_FALSE(md::parse_report_kinds("text,,"));
}

TEST_CASE("config: output templates", "[config]")
{
    CHECK(md::valid_output_template("memtrack.%e.%p.json"));
    CHECK(md::valid_output_template("/tmp/100%%.json"));
    CHECK_FALSE(md::valid_output_template(""));
    CHECK_FALSE(md::valid_output_template("dir/"));
    CHECK_FALSE(md::valid_output_template("r.%q.json"));
    CHECK_FALSE(md::valid_output_template("r.json%"));
    char out[64];
    REQUIRE(md::expand_template("m.%e.%p.%%.json", 42, "prog", out, sizeof out));
    CHECK(std::string(out) == "m.prog.42.%.json");
    CHECK_FALSE(md::expand_template("a-very-long-template-%e", 1, "x", out, 10));
}

TEST_CASE("config: a bad value keeps the default", "[config]")
{
    setenv("MEMTRACK_INTERVAL", "fast", 1);
    setenv("MEMTRACK_REPORT", "xml", 1);
    setenv("MEMTRACK_OUTPUT", "r.%q", 1);
    md::load_config();
    CHECK(md::config().interval_ns == 100'000'000);
    CHECK(md::config().report_text);
    CHECK(md::config().report_json);
    CHECK(std::string(md::config().output).ends_with("/memtrack.%e.%p.json"));
    CHECK(md::config().output[0] == '/');  // made absolute against the start-up directory
    setenv("MEMTRACK_INTERVAL", "5ms", 1);
    setenv("MEMTRACK_REPORT", "json", 1);
    setenv("MEMTRACK_OUTPUT", "/tmp/x.%p.json", 1);
    md::load_config();
    CHECK(md::config().interval_ns == 5'000'000);
    CHECK_FALSE(md::config().report_text);
    CHECK(std::string(md::config().output) == "/tmp/x.%p.json");
    setenv("MEMTRACK_INTERVAL", "0", 1);
    setenv("MEMTRACK_REPORT", "none", 1);
    md::load_config();
    CHECK(md::config().interval_ns == 0);
}

TEST_CASE("config: sizes for the gates", "[config]")
{
    CHECK(md::parse_size("4096") == 4096);
    CHECK(md::parse_size("512MiB") == 512LL << 20);
    CHECK(md::parse_size(" 2 GB ") == 2'000'000'000);
    CHECK(md::parse_size("1.5KiB") == 1536);
    CHECK(md::parse_size("1G") == 1LL << 30);
    CHECK_FALSE(md::parse_size("").has_value());
    CHECK_FALSE(md::parse_size("MiB").has_value());
    CHECK_FALSE(md::parse_size("-1").has_value());
    CHECK_FALSE(md::parse_size("3 parsecs").has_value());
    CHECK_FALSE(md::parse_size("1e30").has_value());
}

TEST_CASE("config: checkpoint modes", "[config]")
{
    auto mode = [](const char* t) {
        const auto m = md::parse_checkpoint_mode(t);
        return m ? std::pair{m->percent, m->interval_ns} : std::pair{-1, std::int64_t{-1}};
    };
    CHECK(mode("growth") == std::pair{10, std::int64_t{0}});
    CHECK(mode(" off ") == std::pair{0, std::int64_t{0}});
    CHECK(mode("growth:50") == std::pair{50, std::int64_t{0}});
    CHECK(mode("growth:25%") == std::pair{25, std::int64_t{0}});
    CHECK(mode("growth:1000") == std::pair{1000, std::int64_t{0}});
    CHECK(mode("10s") == std::pair{10, std::int64_t{10'000'000'000}});
    CHECK(mode("250ms") == std::pair{10, std::int64_t{250'000'000}});
    CHECK(mode("growth:0").first == -1);
    CHECK(mode("growth:1001").first == -1);
    CHECK(mode("growth:").first == -1);
    CHECK(mode("growth:x").first == -1);
    CHECK(mode("0").first == -1);  // an interval of at least 1ms; "off" says none
    CHECK(mode("0.5ms").first == -1);
    CHECK(mode("sometimes").first == -1);
    CHECK(mode("").first == -1);
}

TEST_CASE("config: the option table's defaults are the configuration's defaults", "[config]")
{
    // Every variable of the table unset, then each default that is a value set as such: the
    // configuration must be the same (config.hpp's initialisers and options.hpp agree).
    std::vector<std::pair<const char*, std::optional<std::string>>> saved;
    for (const auto& o : md::kOptions) {
        const char* v = std::getenv(o.variable);
        saved.emplace_back(o.variable, v ? std::optional<std::string>(v) : std::nullopt);
        unsetenv(o.variable);
    }
    md::load_config();
    const md::Config unset = md::config();
    int set = 0;
    for (const auto& o : md::kOptions) {
        // "none", "0 (off)", ...: a description, not a value the parser takes.
        if (std::strchr(o.default_value, ' ') != nullptr || std::string(o.default_value) == "none")
            continue;
        if (!o.passed_on()) continue;
        setenv(o.variable, o.default_value, 1);
        ++set;
    }
    CHECK(set >= 7);
    md::load_config();
    const md::Config& c = md::config();
    CHECK(std::string(c.output) == unset.output);
    CHECK(c.report_text == unset.report_text);
    CHECK(c.report_json == unset.report_json);
    CHECK(c.interval_ns == unset.interval_ns);
    CHECK(c.stack_depth == unset.stack_depth);
    CHECK(c.leak_check == unset.leak_check);
    CHECK(c.gc_auto == unset.gc_auto);
    CHECK(c.error_exitcode == unset.error_exitcode);
    CHECK(c.checkpoint_percent == unset.checkpoint_percent);
    CHECK(c.checkpoint_interval_ns == unset.checkpoint_interval_ns);
    CHECK(c.interval_ns == md::Config{}.interval_ns);
    CHECK(c.stack_depth == md::Config{}.stack_depth);
    CHECK(std::string(c.output).ends_with(std::string("/") + md::Config{}.output));
    for (const auto& [name, value] : saved) {
        if (value)
            setenv(name, value->c_str(), 1);
        else
            unsetenv(name);
    }
    md::load_config();
}

TEST_CASE("config: a program's __lsan_default_options, for the options memtrack has", "[config]")
{
    const char* saved = std::getenv("MEMTRACK_LEAK_CHECK");
    const std::string keep = saved != nullptr ? saved : "";
    for (const char* v :
         {"MEMTRACK_LEAK_CHECK", "MEMTRACK_ERROR_EXITCODE", "MEMTRACK_SUPPRESSIONS"})
        unsetenv(v);
    md::load_config();
    md::apply_lsan_default_options("verbosity=1:exitcode=31,leak_check_at_exit=0\n"
                                   "suppressions='/tmp/s.txt' detect_leaks=1 nonsense");
    CHECK(md::config().error_exitcode == 31);
    CHECK_FALSE(md::config().leak_check);
    CHECK(std::string(md::config().suppressions) == "/tmp/s.txt");
    CHECK(md::config().detect_leaks);
    md::apply_lsan_default_options("detect_leaks=0 exitcode=999");
    CHECK_FALSE(md::config().detect_leaks);
    CHECK(md::config().error_exitcode == 31);  // 999 is no exit status: ignored
    // The environment wins over the program's defaults.
    setenv("MEMTRACK_ERROR_EXITCODE", "0", 1);
    md::load_config();
    md::apply_lsan_default_options("exitcode=31");
    CHECK(md::config().error_exitcode == 0);
    unsetenv("MEMTRACK_ERROR_EXITCODE");
    if (saved != nullptr) setenv("MEMTRACK_LEAK_CHECK", keep.c_str(), 1);
    md::load_config();
}

TEST_CASE("issue 11: MEMTRACK_SKIP patterns match the file name, or the path with a /",
          "[config]")
{
    CHECK(md::skip_matches("bash", "/usr/bin/bash"));
    CHECK(md::skip_matches("perl, bash", "/usr/bin/bash"));
    CHECK(md::skip_matches("ba?h", "/usr/bin/bash"));
    CHECK(md::skip_matches("*sh", "/bin/dash"));
    CHECK(md::skip_matches("/usr/bin/*", "/usr/bin/bash"));
    CHECK_FALSE(md::skip_matches("/bin/*", "/usr/bin/bash"));
    CHECK_FALSE(md::skip_matches("bas", "/usr/bin/bash"));
    CHECK_FALSE(md::skip_matches("usr", "/usr/bin/bash"));
    CHECK_FALSE(md::skip_matches("", "/usr/bin/bash"));
    CHECK_FALSE(md::skip_matches(",,", "/usr/bin/bash"));
    CHECK_FALSE(md::skip_matches("bash", ""));
    setenv("MEMTRACK_SKIP", "none", 1);
    md::load_config();
    CHECK(std::string(md::config().skip).empty());
    setenv("MEMTRACK_SKIP", "bash,perl", 1);
    md::load_config();
    CHECK(std::string(md::config().skip) == "bash,perl");
    unsetenv("MEMTRACK_SKIP");
    md::load_config();
    CHECK(std::string(md::config().skip).empty());
}
