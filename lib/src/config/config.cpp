// MEMTRACK_* parsing (cold path, runs once at start-up; no allocation).
#include "config/config.hpp"

#include "platform/log.hpp"
#include "platform/report_name.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <utility>

namespace memtrack::detail {

namespace {
constinit Config g_config{};

std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

void complain(std::string_view name, std::string_view value, std::string_view accepted,
              std::string_view fallback) noexcept
{
    log("{}=\"{}\" is not {}; using {}", name, value, accepted, fallback);
}
// A whole number and nothing else (surrounding blanks allowed), or nullopt.
template <class T> std::optional<T> whole_number(std::string_view text) noexcept
{
    const std::string_view t = trim(text);
    T value{};
    const auto r = std::from_chars(t.data(), t.data() + t.size(), value);
    if (r.ec != std::errc{} || r.ptr != t.data() + t.size() || t.empty()) return std::nullopt;
    return value;
}

// "1.5 ms" -> {1.5, "ms"}: a non-negative decimal number and the (trimmed) rest.
std::optional<std::pair<double, std::string_view>> number_and_unit(std::string_view text) noexcept
{
    text = trim(text);
    std::size_t i = 0;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.'))
        ++i;
    const std::string_view number = text.substr(0, i);
    if (number.empty() || number == ".") return std::nullopt;
    double value = 0;
    const auto res = std::from_chars(number.data(), number.data() + number.size(), value);
    if (res.ec != std::errc{} || res.ptr != number.data() + number.size()) return std::nullopt;
    return std::pair{value, trim(text.substr(i))};
}
}  // namespace

std::optional<std::int64_t> parse_duration_ns(std::string_view text) noexcept
{
    const auto parsed = number_and_unit(text);
    if (!parsed) return std::nullopt;
    const auto [value, unit] = *parsed;
    double scale = 0;
    if (unit.empty() || unit == "s")
        scale = 1e9;
    else if (unit == "ms")
        scale = 1e6;
    else if (unit == "us")
        scale = 1e3;
    else if (unit == "ns")
        scale = 1;
    else if (unit == "m" || unit == "min")
        scale = 60e9;
    else
        return std::nullopt;
    const double ns = value * scale;
    if (!std::isfinite(ns) || ns > 1e18) return std::nullopt;
    return static_cast<std::int64_t>(ns);
}

std::optional<ReportKinds> parse_report_kinds(std::string_view text) noexcept
{
    text = trim(text);
    if (text == "none") return ReportKinds{};
    ReportKinds kinds;
    bool any = false;
    while (!text.empty()) {
        const std::size_t comma = text.find(',');
        const std::string_view item = trim(text.substr(0, comma));
        if (item == "text")
            kinds.text = true;
        else if (item == "json")
            kinds.json = true;
        else
            return std::nullopt;
        any = true;
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    if (!any) return std::nullopt;
    return kinds;
}

std::optional<std::int64_t> parse_size(std::string_view text) noexcept
{
    const auto parsed = number_and_unit(text);
    if (!parsed) return std::nullopt;
    const auto [value, unit] = *parsed;
    struct Unit {
        std::string_view name;
        double scale;
    };
    static constexpr Unit kUnits[] = {{"", 1},
                                      {"B", 1},
                                      {"KiB", 1024.0},
                                      {"MiB", 1048576.0},
                                      {"GiB", 1073741824.0},
                                      {"TiB", 1099511627776.0},
                                      {"kB", 1e3},
                                      {"KB", 1e3},
                                      {"MB", 1e6},
                                      {"GB", 1e9},
                                      {"TB", 1e12},
                                      {"K", 1024.0},
                                      {"M", 1048576.0},
                                      {"G", 1073741824.0},
                                      {"T", 1099511627776.0}};
    for (const Unit& u : kUnits) {
        if (u.name != unit) continue;
        const double bytes = value * u.scale;
        if (!std::isfinite(bytes) || bytes > 9e18) return std::nullopt;
        return static_cast<std::int64_t>(bytes);
    }
    return std::nullopt;
}

bool valid_output_template(std::string_view text) noexcept
{
    return report_name::valid_output_template(text);
}

bool expand_template(std::string_view templ, long pid, std::string_view exe, char* out,
                     std::size_t out_size) noexcept
{
    std::size_t n = 0;
    auto put = [&](std::string_view s) {
        if (n + s.size() >= out_size) return false;
        std::memcpy(out + n, s.data(), s.size());
        n += s.size();
        return true;
    };
    for (std::size_t i = 0; i < templ.size(); ++i) {
        bool ok = true;
        if (templ[i] == '%' && i + 1 < templ.size()) {
            const char c = templ[++i];
            if (c == 'p') {
                char buf[24];
                const auto r = std::to_chars(buf, buf + sizeof buf, pid);
                ok = put(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
            } else if (c == 'e') {
                ok = put(exe);
            } else if (c == '%') {
                ok = put("%");
            } else {
                ok = put(templ.substr(i - 1, 2));
            }
        } else {
            ok = put(templ.substr(i, 1));
        }
        if (!ok) return false;
    }
    out[n] = '\0';
    return true;
}

void load_config() noexcept
{
    Config c;
    if (const char* v = std::getenv("MEMTRACK_OUTPUT"); v != nullptr) {
        if (valid_output_template(v) && std::strlen(v) < 2048) {
            c.output[0] = '\0';
            std::strncat(c.output, v, sizeof c.output - 1);
        } else {
            complain("MEMTRACK_OUTPUT", v,
                     "a file path template (%p = pid, %e = executable name, %% = %)",
                     "memtrack.%e.%p.json");
        }
    }
    if (const char* v = std::getenv("MEMTRACK_REPORT"); v != nullptr) {
        if (auto kinds = parse_report_kinds(v)) {
            c.report_text = kinds->text;
            c.report_json = kinds->json;
        } else {
            complain("MEMTRACK_REPORT", v, "a comma list of text and json, or none", "text,json");
        }
    }
    if (const char* v = std::getenv("MEMTRACK_INTERVAL"); v != nullptr) {
        const auto ns = parse_duration_ns(v);
        if (ns && (*ns == 0 || *ns >= 1'000'000)) {
            c.interval_ns = *ns;
        } else {
            complain("MEMTRACK_INTERVAL", v,
                     "a duration of at least 1ms (e.g. 100ms, 0.5s, 2s) or 0 for no sampler",
                     "100ms");
        }
    }
    if (const char* v = std::getenv("MEMTRACK_STACK_DEPTH"); v != nullptr) {
        const auto depth = whole_number<int>(v);
        if (depth && *depth >= 0 && *depth <= 128)
            c.stack_depth = *depth;
        else
            complain("MEMTRACK_STACK_DEPTH", v, "a frame count from 0 (no stacks) to 128", "32");
    }
    if (const char* v = std::getenv("MEMTRACK_LEAK_CHECK"); v != nullptr) {
        const std::string_view t = trim(v);
        if (t == "1" || t == "yes" || t == "on")
            c.leak_check = true;
        else if (t == "0" || t == "no" || t == "off")
            c.leak_check = false;
        else
            complain("MEMTRACK_LEAK_CHECK", v, "1 or 0", "1 (leak check at exit)");
    }
    if (const char* v = std::getenv("MEMTRACK_GC"); v != nullptr) {
        const std::string_view t = trim(v);
        if (t == "auto")
            c.gc_auto = true;
        else if (t == "off" || t == "manual")
            c.gc_auto = false;
        else
            complain("MEMTRACK_GC", v, "auto or off", "off (scans only at exit and on request)");
    }
    if (const char* v = std::getenv("MEMTRACK_SUPPRESSIONS"); v != nullptr && *v != '\0') {
        if (std::strlen(v) < sizeof c.suppressions)
            std::memcpy(c.suppressions, v, std::strlen(v) + 1);
        else
            complain("MEMTRACK_SUPPRESSIONS", v, "a path shorter than 4096 bytes", "none");
    }
    if (const char* v = std::getenv("MEMTRACK_ERROR_EXITCODE"); v != nullptr) {
        const auto code = whole_number<int>(v);
        if (code && *code >= 0 && *code <= 255)
            c.error_exitcode = *code;
        else
            complain("MEMTRACK_ERROR_EXITCODE", v, "an exit status from 1 to 255 (0 = off)",
                     "0 (leaks do not change the exit status)");
    }
    for (auto [name, field] : {std::pair{"MEMTRACK_MAX_PEAK", &c.max_peak},
                               std::pair{"MEMTRACK_MAX_LEAKED", &c.max_leaked}}) {
        if (const char* v = std::getenv(name); v != nullptr) {
            if (const auto size = parse_size(v))
                *field = *size;
            else
                complain(name, v, "a size (e.g. 512MiB, 2GB, 4096)", "no limit");
        }
    }
    if (const char* v = std::getenv("MEMTRACK_BREAK_ALLOC"); v != nullptr) {
        if (const auto n = whole_number<std::uint64_t>(v))
            c.break_alloc = *n;
        else
            complain("MEMTRACK_BREAK_ALLOC", v,
                     "an allocation number as leak reports give it ([allocation #N]), 0 = off",
                     "0 (off)");
    }
    // A relative output path is relative to the working directory at start-up, where the
    // launcher looks for it, even if the program changes directory later.
    if (c.output[0] != '/') {
        char cwd[2048];
        if (getcwd(cwd, sizeof cwd) != nullptr) {
            char joined[sizeof c.output];
            const auto r = fmt::format_to_n(joined, sizeof joined - 1, "{}/{}", cwd, c.output);
            if (r.size < sizeof joined - 1) {
                joined[r.size] = '\0';
                std::memcpy(c.output, joined, r.size + 1);
            }
        }
    }
    g_config = c;
}

const Config& config() noexcept
{
    return g_config;
}

}  // namespace memtrack::detail
