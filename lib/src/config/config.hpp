// MEMTRACK_* environment variables: one table (the MEMTRACK_OPTIONS X-macro of options.hpp) of
// names, types, defaults, accepted values and help, parsed once at start-up. A bad value gets one
// stderr line naming the variable, the value, what is accepted and the default used; parsing never
// fails the host. Cold path; no allocation.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "config/size.hpp"

namespace memtrack::detail {

struct Config {
    // MEMTRACK_OUTPUT, made absolute against the start-up working directory.
    char output[4096] = "memtrack.%e.%p.json";
    char log[4096] = "";  // MEMTRACK_LOG: the summary's file template; "" = stderr
    bool report_text = true;
    // MEMTRACK_REPORT's quiet: the summary only when the report needs_attention (render.hpp).
    // With text as well, text wins.
    bool report_quiet = false;
    bool report_json = true;
    std::int64_t interval_ns = 100'000'000;
    int stack_depth = 32;          // MEMTRACK_STACK_DEPTH: frames per allocation stack, 0 = none
    bool leak_check = true;        // MEMTRACK_LEAK_CHECK: reachability scan at exit
    bool gc_auto = false;          // MEMTRACK_GC=auto: scans when generation thresholds trip
    char suppressions[4096] = "";  // MEMTRACK_SUPPRESSIONS: file of leak patterns (read at report)
    // Run gates (CI): a run that leaks, or exceeds a peak or leaked size, exits with
    // error_exitcode (MEMTRACK_ERROR_EXITCODE; gates without it use 1). 0 / -1 = off.
    int error_exitcode = 0;
    std::int64_t max_peak = -1;    // MEMTRACK_MAX_PEAK
    std::int64_t max_leaked = -1;  // MEMTRACK_MAX_LEAKED
    // MEMTRACK_BREAK_ALLOC: raise SIGTRAP at the allocation with this sequence number (the
    // "[allocation #N]" of a leak report), for a debugger to stop there. 0 = off.
    std::uint64_t break_alloc = 0;
    // MEMTRACK_CHECKPOINT (issue 11): checkpoints while the heap grows. growth_percent: one
    // each time the peak passes the last checkpoint's by this percentage, from 64 MiB on (0 =
    // none); interval_ns: also one at the first rise of the peak once this long has passed
    // since the last checkpoint (or the start), at any heap size (0 = none). off: both 0.
    int checkpoint_percent = 10;
    std::int64_t checkpoint_interval_ns = 0;
    // MEMTRACK_INVALID_FREE (issue 11): a double or invalid free aborts the program (as glibc
    // does) after one line, or (report) is listed in the report and the program goes on.
    bool invalid_free_abort = true;
    // MEMTRACK_UNWIND_CHECK: every captured stack is compared with unw_backtrace's.
    bool unwind_check = false;
    // MEMTRACK_DEBUGINFOD: the report's symbolizer may query debuginfod (DEBUGINFOD_URLS).
    bool debuginfod = false;
    // __lsan_default_options' detect_leaks=0: the LSan interface's checks do nothing (and, as
    // leak_check=0, no check at exit).
    bool detect_leaks = true;
    // MEMTRACK_SKIP: comma-separated patterns; a process whose executable matches is dormant.
    char skip[4096] = "";
    // Secure execution (setuid/setgid, getauxval(AT_SECURE)): no file whose path comes from
    // the environment is opened (MEMTRACK_OUTPUT, MEMTRACK_LOG, MEMTRACK_SUPPRESSIONS are
    // ignored, and with them the JSON report and checkpoints); the summary goes to stderr.
    bool secure = false;
    bool gates() const noexcept { return error_exitcode != 0 || max_peak >= 0 || max_leaked >= 0; }
};

// Reads the environment into the process configuration. Called once at start-up.
void load_config() noexcept;

// Applies the LeakSanitizer options of a program's __lsan_default_options() string that
// memtrack has a meaning for, unless the environment set the MEMTRACK_* variable they map to:
// detect_leaks (0: no leak checks), leak_check_at_exit (MEMTRACK_LEAK_CHECK), exitcode
// (MEMTRACK_ERROR_EXITCODE), suppressions (MEMTRACK_SUPPRESSIONS). Other options and values it
// cannot read are ignored without a message (LSan's own flags parser separates options by
// spaces, commas, colons and newlines). Start-up only, after load_config.
void apply_lsan_default_options(std::string_view options) noexcept;
const Config& config() noexcept;

// Parsers, exposed for the unit tests. Each returns nullopt for a bad value.
std::optional<std::int64_t> parse_duration_ns(std::string_view text) noexcept;
struct ReportKinds {
    bool text = false;
    bool quiet = false;  // the summary only when something is wrong
    bool json = false;
};
std::optional<ReportKinds> parse_report_kinds(std::string_view text) noexcept;
bool valid_output_template(std::string_view text) noexcept;
// parse_size: config/size.hpp.

// Whether `executable` (an absolute path) matches one of MEMTRACK_SKIP's comma-separated
// fnmatch(3) patterns: one with a '/' against the whole path, else against the file name.
// Start-up only (fnmatch may allocate: inside the guard).
bool skip_matches(std::string_view patterns, std::string_view executable) noexcept;
// MEMTRACK_CHECKPOINT: "off" {0, 0}; "growth" {10, 0}; "growth:P" (P a whole percentage from 1
// to 1000, a trailing % allowed) {P, 0}; a duration of at least 1ms (parse_duration_ns) {10,
// ns}. nullopt for anything else.
struct CheckpointMode {
    int percent = 10;
    std::int64_t interval_ns = 0;
};
std::optional<CheckpointMode> parse_checkpoint_mode(std::string_view text) noexcept;

// MEMTRACK_LOG while it lives: the summary lines (detail::log) go to the log file, opened for
// appending (O_CLOEXEC), instead of stderr; nothing changes without MEMTRACK_LOG or if the
// file cannot be opened (then a line on stderr says so). Async-signal-safe.
class SummaryLog {
public:
    SummaryLog(long pid, std::string_view exe) noexcept;
    ~SummaryLog();
    SummaryLog(const SummaryLog&) = delete;
    SummaryLog& operator=(const SummaryLog&) = delete;

private:
    int fd_ = -1;
};

// Expands %p, %e and %% of `templ` into out (NUL-terminated). False if it does not fit.
bool expand_template(std::string_view templ, long pid, std::string_view exe, char* out,
                     std::size_t out_size) noexcept;

}  // namespace memtrack::detail
