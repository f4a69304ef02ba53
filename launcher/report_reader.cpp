// `memtrack report FILE`: validate a saved JSON report and print its summary (the same lines
// the library prints at exit).
#include "launcher.hpp"

#include <memtrack/memtrack.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace memtrack::launcher {

namespace {

constexpr int kNewestVersion = 1;

int fail(const std::string& path, const std::string& why)
{
    fmt::print(stderr, "memtrack: {}: {}\n", path, why);
    return 2;
}

// A number at a JSON pointer, or `fallback` when absent or not a number.
double number(const nlohmann::json& j, const char* pointer, double fallback = 0)
{
    const auto ptr = nlohmann::json::json_pointer(pointer);
    if (!j.contains(ptr) || !j.at(ptr).is_number()) return fallback;
    return j.at(ptr).get<double>();
}

Bytes bytes(const nlohmann::json& j, const char* pointer)
{
    return Bytes{static_cast<std::int64_t>(number(j, pointer))};
}

}  // namespace

int print_report(const std::string& path, bool timeline)
{
    std::ifstream in(path);
    if (!in) return fail(path, std::string("cannot read: ") + std::strerror(errno));
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json r;
    try {
        r = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::parse_error& e) {
        return fail(path, fmt::format("not a complete JSON document (truncated or not JSON): {}",
                                      e.what()));
    }
    if (!r.is_object() || !r.contains("format") || r["format"] != "memtrack-report")
        return fail(path, "not a memtrack report (no \"format\": \"memtrack-report\")");
    if (!r.contains("version") || !r["version"].is_number_integer())
        return fail(path, "memtrack report without a version");
    const int version = r["version"].get<int>();
    if (version < 1 || version > kNewestVersion)
        return fail(path, fmt::format("report version {} is not supported (this memtrack reads "
                                      "versions 1 to {})",
                                      version, kNewestVersion));
    try {
        const std::string program = r.value("program", std::string("?"));
        const std::string name = program.substr(program.rfind('/') + 1);
        const long pid = static_cast<long>(number(r, "/pid"));
        const bool at_exit = r.value("reason", std::string("exit")) == "exit";
        if (!at_exit)
            fmt::print("memtrack: {} (pid {}) report requested at {:.2f} s\n", name, pid,
                       number(r, "/process/wall_s"));
        else if (r.contains("exit_status") && r["exit_status"].is_number())
            fmt::print("memtrack: {} (pid {}) exited with status {}\n", name, pid,
                       r["exit_status"].get<int>());
        else
            fmt::print("memtrack: {} (pid {}) finished\n", name, pid);
        fmt::print("memtrack:   time    wall {:.2f} s, user {:.2f} s, sys {:.2f} s, CPU/wall "
                   "{:.2f}\n",
                   number(r, "/process/wall_s"), number(r, "/process/user_s"),
                   number(r, "/process/sys_s"), number(r, "/process/cpu_wall_ratio"));
        fmt::print("memtrack:   heap    peak {} at {:.2f} s; live {} {} in {} blocks\n",
                   bytes(r, "/heap/peak_bytes"), number(r, "/heap/peak_time_s"),
                   at_exit ? "at exit" : "now", bytes(r, "/heap/live_bytes_at_exit"),
                   static_cast<std::uint64_t>(number(r, "/heap/live_blocks_at_exit")));
        fmt::print("memtrack:   calls   {} allocations, {} frees, {} allocated, {} foreign "
                   "frees\n",
                   static_cast<std::uint64_t>(number(r, "/heap/allocations")),
                   static_cast<std::uint64_t>(number(r, "/heap/frees")),
                   bytes(r, "/heap/bytes_allocated"),
                   static_cast<std::uint64_t>(number(r, "/heap/foreign_frees")));
        fmt::print("memtrack:   rss     max RSS {} (tracked heap peak {})\n",
                   bytes(r, "/process/max_rss_bytes"), bytes(r, "/heap/peak_bytes"));
        if (timeline && r.contains("timeline") && r["timeline"].is_array()) {
            fmt::print("memtrack:   timeline {:>10}  {:>14}\n", "t (s)", "heap");
            for (const auto& point : r["timeline"]) {
                if (!point.is_array() || point.size() != 2) continue;
                fmt::print("memtrack:            {:>10.3f}  {:>14}\n", point[0].get<double>(),
                           fmt::format("{}", Bytes{point[1].get<std::int64_t>()}));
            }
        }
    } catch (const nlohmann::json::exception& e) {
        return fail(path, fmt::format("malformed memtrack report: {}", e.what()));
    }
    return 0;
}

}  // namespace memtrack::launcher
