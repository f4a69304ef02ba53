// MEMTRACK_* parsing from the option table of options.hpp (cold path, runs once at start-up;
// no allocation).
#include "config/config.hpp"

#include "config/options.hpp"
#include "platform/log.hpp"
#include "platform/report_name.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/auxv.h>
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
        else if (item == "quiet")
            kinds.quiet = true;
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

std::optional<CheckpointMode> parse_checkpoint_mode(std::string_view text) noexcept
{
    const std::string_view t = trim(text);
    if (t == "off") return CheckpointMode{0, 0};
    if (t == "growth") return CheckpointMode{};
    if (t.starts_with("growth:")) {
        std::string_view p = trim(t.substr(7));
        if (p.ends_with('%')) p.remove_suffix(1);
        const auto n = whole_number<int>(p);
        if (!n || *n < 1 || *n > 1000) return std::nullopt;
        return CheckpointMode{*n, 0};
    }
    const auto ns = parse_duration_ns(t);
    if (!ns || *ns < 1'000'000) return std::nullopt;
    return CheckpointMode{10, *ns};
}

bool valid_output_template(std::string_view text) noexcept
{
    return report_name::valid_output_template(text);
}

bool skip_matches(std::string_view patterns, std::string_view executable) noexcept
{
    if (executable.empty() || executable.size() >= 4096) return false;
    char path[4096];
    std::memcpy(path, executable.data(), executable.size());
    path[executable.size()] = '\0';
    const char* slash = std::strrchr(path, '/');
    const char* name = slash != nullptr ? slash + 1 : path;
    while (!patterns.empty()) {
        const std::size_t comma = patterns.find(',');
        const std::string_view item = trim(patterns.substr(0, comma));
        patterns.remove_prefix(comma == std::string_view::npos ? patterns.size() : comma + 1);
        if (item.empty() || item.size() >= 4096) continue;
        char pattern[4096];
        std::memcpy(pattern, item.data(), item.size());
        pattern[item.size()] = '\0';
        const bool whole = item.find('/') != std::string_view::npos;
        if (fnmatch(pattern, whole ? path : name, 0) == 0) return true;
    }
    return false;
}

SummaryLog::SummaryLog(long pid, std::string_view exe) noexcept
{
    const Config& c = config();
    if (c.log[0] == '\0') return;
    char path[4096];
    if (!expand_template(c.log, pid, exe, path, sizeof path)) return;
    fd_ = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0)
        write_line("MEMTRACK_LOG: cannot open the log file; the summary goes to stderr");
    else
        set_log_fd(fd_);
}

SummaryLog::~SummaryLog()
{
    if (fd_ < 0) return;
    set_log_fd(2);
    close(fd_);
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

namespace {

// One option's parsed value; which member is set depends on its OptionType.
struct Value {
    std::string_view text;
    std::int64_t number = 0;
    std::uint64_t count = 0;
    ReportKinds kinds;
    CheckpointMode checkpoint;
    bool flag = false;
};

// The parser of each OptionType (options.hpp): false for a value it does not accept.
bool parse_value(OptionType type, std::string_view v, Value& out) noexcept
{
    switch (type) {
    case OptionType::path_template:
        out.text = v;
        return valid_output_template(v) && v.size() < 2048;
    case OptionType::report_list: {
        const auto kinds = parse_report_kinds(v);
        if (kinds) out.kinds = *kinds;
        return kinds.has_value();
    }
    case OptionType::interval: {
        const auto ns = parse_duration_ns(v);
        if (ns) out.number = *ns;
        return ns && (*ns == 0 || *ns >= 1'000'000);
    }
    case OptionType::frame_count:
    case OptionType::exit_status: {
        const int max = type == OptionType::frame_count ? 128 : 255;
        const auto n = whole_number<int>(v);
        if (n) out.number = *n;
        return n && *n >= 0 && *n <= max;
    }
    case OptionType::on_off: {
        const std::string_view t = trim(v);
        out.flag = t == "1" || t == "yes" || t == "on";
        return out.flag || t == "0" || t == "no" || t == "off";
    }
    case OptionType::gc_mode: {
        const std::string_view t = trim(v);
        out.flag = t == "auto";
        return out.flag || t == "off" || t == "manual";
    }
    case OptionType::file_path:
        out.text = v;
        return v.size() < sizeof Config{}.suppressions;
    case OptionType::pattern_list:
        out.text = v;
        return v.size() < sizeof Config{}.skip;
    case OptionType::size: {
        const auto bytes = parse_size(v);
        if (bytes) out.number = *bytes;
        return bytes.has_value();
    }
    case OptionType::allocation_number: {
        const auto n = whole_number<std::uint64_t>(v);
        if (n) out.count = *n;
        return n.has_value();
    }
    case OptionType::checkpoint: {
        const auto mode = parse_checkpoint_mode(v);
        if (mode) out.checkpoint = *mode;
        return mode.has_value();
    }
    case OptionType::invalid_free: {
        const std::string_view t = trim(v);
        out.flag = t == "abort";
        return out.flag || t == "report";
    }
    case OptionType::launcher_path:
        return false;
    }
    return false;
}

void copy_text(char* field, std::size_t field_size, std::string_view text) noexcept
{
    const std::size_t n = std::min(text.size(), field_size - 1);
    std::memcpy(field, text.data(), n);
    field[n] = '\0';
}

// Where each option's accepted value goes.
void store(Config& c, Option id, const Value& value) noexcept
{
    switch (id) {
    case Option::MEMTRACK_OUTPUT:
        copy_text(c.output, sizeof c.output, value.text);
        break;
    case Option::MEMTRACK_LOG:
        copy_text(c.log, sizeof c.log, value.text);
        break;
    case Option::MEMTRACK_REPORT:
        c.report_text = value.kinds.text;
        c.report_quiet = value.kinds.quiet && !value.kinds.text;
        c.report_json = value.kinds.json;
        break;
    case Option::MEMTRACK_INTERVAL:
        c.interval_ns = value.number;
        break;
    case Option::MEMTRACK_STACK_DEPTH:
        c.stack_depth = static_cast<int>(value.number);
        break;
    case Option::MEMTRACK_LEAK_CHECK:
        c.leak_check = value.flag;
        break;
    case Option::MEMTRACK_UNWIND_CHECK:
        c.unwind_check = value.flag;
        break;
    case Option::MEMTRACK_DEBUGINFOD:
        c.debuginfod = value.flag;
        break;
    case Option::MEMTRACK_SUPPRESSIONS:
        copy_text(c.suppressions, sizeof c.suppressions, value.text);
        break;
    case Option::MEMTRACK_ERROR_EXITCODE:
        c.error_exitcode = static_cast<int>(value.number);
        break;
    case Option::MEMTRACK_MAX_PEAK:
        c.max_peak = value.number;
        break;
    case Option::MEMTRACK_MAX_LEAKED:
        c.max_leaked = value.number;
        break;
    case Option::MEMTRACK_GC:
        c.gc_auto = value.flag;
        break;
    case Option::MEMTRACK_BREAK_ALLOC:
        c.break_alloc = value.count;
        break;
    case Option::MEMTRACK_SKIP:
        copy_text(c.skip, sizeof c.skip, trim(value.text) == "none" ? "" : value.text);
        break;
    case Option::MEMTRACK_CHECKPOINT:
        c.checkpoint_percent = value.checkpoint.percent;
        c.checkpoint_interval_ns = value.checkpoint.interval_ns;
        break;
    case Option::MEMTRACK_INVALID_FREE:
        c.invalid_free_abort = value.flag;
        break;
    case Option::MEMTRACK_LIBRARY:
        break;
    }
}

}  // namespace

void load_config() noexcept
{
    Config c;
    for (const OptionSpec& o : kOptions) {
        if (!o.passed_on()) continue;  // the launcher's own (MEMTRACK_LIBRARY)
        const char* v = std::getenv(o.variable);
        if (v == nullptr) continue;
        if (Value value; parse_value(o.type, v, value))
            store(c, o.id, value);
        else
            complain(o.variable, v, o.accepted, o.fallback);
    }
    // Secure execution (a setuid or setgid program run by another user, or with capabilities):
    // the environment belongs to the user who started it, the file rights to the program's
    // owner, so no path from the environment is opened (as glibc's MALLOC_TRACE and ld.so's
    // LD_DEBUG_OUTPUT are ignored there). The report is the stderr summary alone.
    if (getauxval(AT_SECURE) != 0) {
        c.secure = true;
        const bool any = c.report_text || c.report_json;
        c.output[0] = '\0';
        c.log[0] = '\0';
        c.suppressions[0] = '\0';
        c.report_json = false;
        c.report_text = any;
        if (any)
            log("secure execution (setuid/setgid): MEMTRACK_OUTPUT, MEMTRACK_LOG and "
                "MEMTRACK_SUPPRESSIONS are ignored, no file is written; the summary goes to "
                "stderr only");
    }
    // A relative output path is relative to the working directory at start-up, where the
    // launcher looks for it, even if the program changes directory later.
    for (char* path : {c.output, c.log}) {
        if (path[0] == '/' || path[0] == '\0') continue;
        char cwd[2048];
        if (getcwd(cwd, sizeof cwd) != nullptr) {
            char joined[sizeof c.output];
            const auto r = fmt::format_to_n(joined, sizeof joined - 1, "{}/{}", cwd, path);
            if (r.size < sizeof joined - 1) {
                joined[r.size] = '\0';
                std::memcpy(path, joined, r.size + 1);
            }
        }
    }
    g_config = c;
}

void apply_lsan_default_options(std::string_view options) noexcept
{
    Config& c = g_config;
    auto set_in_env = [](const char* variable) { return std::getenv(variable) != nullptr; };
    auto flag = [](std::string_view v, bool& out) {
        if (v == "1" || v == "true") out = true;
        if (v == "0" || v == "false") out = false;
    };
    while (!options.empty()) {
        const std::size_t end = options.find_first_of(" ,:\n\t\r");
        const std::string_view item = options.substr(0, end);
        options.remove_prefix(end == std::string_view::npos ? options.size() : end + 1);
        const std::size_t eq = item.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view value = item.substr(eq + 1);
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        const std::string_view key = item.substr(0, eq);
        if (key == "detect_leaks") {
            flag(value, c.detect_leaks);
            if (!c.detect_leaks && !set_in_env("MEMTRACK_LEAK_CHECK")) c.leak_check = false;
        } else if (key == "leak_check_at_exit" && !set_in_env("MEMTRACK_LEAK_CHECK")) {
            flag(value, c.leak_check);
        } else if (key == "exitcode" && !set_in_env("MEMTRACK_ERROR_EXITCODE")) {
            if (const auto n = whole_number<int>(value); n && *n >= 0 && *n <= 255)
                c.error_exitcode = *n;
        } else if (key == "suppressions" && !set_in_env("MEMTRACK_SUPPRESSIONS") &&
                   value.size() < sizeof c.suppressions) {
            copy_text(c.suppressions, sizeof c.suppressions, value);
        }
    }
}

const Config& config() noexcept
{
    return g_config;
}

}  // namespace memtrack::detail
