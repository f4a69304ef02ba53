// `memtrack report FILE`: validate a saved JSON report and print its summary, the same lines the
// library prints at exit (lib/src/report/report.cpp, print_summary), on stdout. Optional fields
// that are missing or of the wrong type read as zero; `format` and `version` are required.
#include "launcher.hpp"

#include <memtrack/memtrack.hpp>  // memtrack::Bytes and its fmt formatter (header-only parts)

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sys/stat.h>

namespace memtrack::launcher {

namespace {

constexpr std::int64_t kNewestVersion = 2;

int fail(const std::string& path, std::string_view why)
{
    fmt::print(stderr, "memtrack: {}: {}\n", path, why);
    return 2;
}

const nlohmann::json* at(const nlohmann::json& j, const char* pointer)
{
    const nlohmann::json::json_pointer ptr(pointer);
    return j.contains(ptr) ? &j.at(ptr) : nullptr;
}

double number(const nlohmann::json& j, const char* pointer)
{
    const nlohmann::json* v = at(j, pointer);
    return v != nullptr && v->is_number() ? v->get<double>() : 0.0;
}

std::int64_t integer(const nlohmann::json& j, const char* pointer)
{
    const nlohmann::json* v = at(j, pointer);
    if (v == nullptr || !v->is_number()) return 0;
    if (v->is_number_unsigned()) return static_cast<std::int64_t>(v->get<std::uint64_t>());
    if (v->is_number_integer()) return v->get<std::int64_t>();
    return static_cast<std::int64_t>(v->get<double>());
}

Bytes bytes(const nlohmann::json& j, const char* pointer)
{
    return Bytes{integer(j, pointer)};
}

std::string string(const nlohmann::json& j, const char* key, std::string fallback)
{
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest is the news.
std::string_view without_id(std::string_view what)
{
    if (what.starts_with("[json.exception.")) {
        const auto end = what.find("] ");
        if (end != std::string_view::npos) what.remove_prefix(end + 2);
    }
    return what;
}

std::string summary(const nlohmann::json& r, const std::string& path, bool timeline)
{
    std::string out;
    auto line = [&out]<class... Args>(fmt::format_string<Args...> f, Args&&... args) {
        out += "memtrack: ";
        out += fmt::format(f, std::forward<Args>(args)...);
        out += '\n';
    };
    const std::string program = string(r, "program", "?");
    const std::string name = program.substr(program.rfind('/') + 1);
    const std::int64_t pid = integer(r, "/pid");
    const double wall = number(r, "/process/wall_s");
    const bool at_exit = string(r, "reason", "exit") == "exit";
    const nlohmann::json* status = at(r, "/exit_status");
    if (!at_exit)
        line("{} (pid {}) report requested at {:.2f} s", name, pid, wall);
    else if (status != nullptr && status->is_number_integer())
        line("{} (pid {}) exited with status {}", name, pid, status->get<std::int64_t>());
    else
        line("{} (pid {}) finished", name, pid);
    line("  time    wall {:.2f} s, user {:.2f} s, sys {:.2f} s, CPU/wall {:.2f}", wall,
         number(r, "/process/user_s"), number(r, "/process/sys_s"),
         number(r, "/process/cpu_wall_ratio"));
    line("  heap    peak {} at {:.2f} s; live {} {} in {} blocks", bytes(r, "/heap/peak_bytes"),
         number(r, "/heap/peak_time_s"), at_exit ? "at exit" : "now",
         bytes(r, "/heap/live_bytes_at_exit"), integer(r, "/heap/live_blocks_at_exit"));
    line("  calls   {} allocations, {} frees, {} allocated, {} foreign frees",
         integer(r, "/heap/allocations"), integer(r, "/heap/frees"),
         bytes(r, "/heap/bytes_allocated"), integer(r, "/heap/foreign_frees"));
    line("  rss     max RSS {} (tracked heap peak {})", bytes(r, "/process/max_rss_bytes"),
         bytes(r, "/heap/peak_bytes"));
    line("  report  {}", path);
    const nlohmann::json* points = at(r, "/timeline");
    if (timeline && points != nullptr && points->is_array()) {
        line("  timeline {:>10} {:>14}", "t_s", "bytes");
        for (const nlohmann::json& p : *points) {
            if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number())
                continue;  // a later revision may add fields to a sample; skip what we can't read
            const auto b = static_cast<std::int64_t>(p[1].get<double>());
            line("           {:>10.3f} {:>14} {:>12}", p[0].get<double>(),
                 p[1].is_number_integer() ? p[1].get<std::int64_t>() : b,
                 fmt::format("{}", Bytes{b}));
        }
    }
    return out;
}

}  // namespace

int print_report(const std::string& path, bool timeline)
{
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return fail(path, std::strerror(errno));
    if (S_ISDIR(st.st_mode)) return fail(path, std::strerror(EISDIR));
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(path, std::strerror(errno));
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) return fail(path, "read error");
    nlohmann::json r;
    try {
        r = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        const bool began_like_json = text.find_first_not_of(" \t\r\n") != std::string::npos &&
                                     text[text.find_first_not_of(" \t\r\n")] == '{';
        return fail(path, fmt::format("{}: {}",
                                      began_like_json ? "truncated or damaged JSON"
                                                      : "not a JSON file (nor a memtrack report)",
                                      without_id(e.what())));
    }
    if (!r.is_object() || !r.contains("format") || r["format"] != "memtrack-report")
        return fail(path, "not a memtrack report (no \"format\": \"memtrack-report\")");
    const nlohmann::json* version = at(r, "/version");
    if (version == nullptr || !version->is_number_integer())
        return fail(path, "memtrack report without an integer \"version\"");
    const std::int64_t v = version->get<std::int64_t>();
    if (v < 1 || v > kNewestVersion)
        return fail(path, fmt::format("report version {} is not supported (this memtrack reads "
                                      "versions up to {}; a newer memtrack wrote it?)",
                                      v, kNewestVersion));
    std::string text_out;
    try {
        text_out = summary(r, path, timeline);
    } catch (const std::exception& e) {
        return fail(path, fmt::format("malformed memtrack report: {}", e.what()));
    }
    fmt::print("{}", text_out);
    return 0;
}

}  // namespace memtrack::launcher
