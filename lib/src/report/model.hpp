// The report as data: what one JSON report file holds (docs/report-format.md), typed. Plain
// structs with no dependency on the core, so that the launcher, which reads saved reports, and
// the library, which writes them, share it. May allocate (std containers); not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace memtrack::detail {

// The report format's name and version, written by the library and checked by the launcher.
// Minor revisions add fields without a bump (readers ignore fields they do not know).
inline constexpr std::string_view kReportFormat = "memtrack-report";
inline constexpr int kReportVersion = 2;

// A ReportModel is one report. The library's gather() fills it from the core, the leak
// checker and the symbolizer; renderers (JSON, text summary) only read it; the launcher fills
// it again from a saved file. Its values are the ones the JSON file holds, rounded as the file
// rounds them (seconds to 6 decimals, the CPU/wall ratio to 4), so that a summary rendered from
// a saved file is the summary the run printed. Numbers missing from an old or foreign file are
// 0, strings "", and a sequence number of 0 means "none kept" (JSON null).

struct ReportFrame {
    std::uint64_t pc = 0;
    std::string function;  // demangled; "" if unknown
    std::string file;      // "" if no line information
    int line = 0;
    std::string module;        // "" if in no known module
    std::uint64_t offset = 0;  // pc - module load bias
    bool inlined = false;      // inlined into the next frame
};

struct ReportLeakGroup {
    std::uint64_t bytes = 0;
    std::uint64_t blocks = 0;
    std::uint32_t stack = 0;  // key into ReportLeaks::stacks; 0 = none recorded
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;
    std::string type;
};

struct ReportCycleMember {
    std::uint64_t size = 0;
    std::uint32_t stack = 0;
    std::uint64_t seq = 0;
    std::string type;
};

struct ReportCycle {
    std::uint64_t blocks = 0;
    std::uint64_t bytes = 0;
    std::uint64_t count = 1;
    bool pure = false;
    bool reached_from_direct = false;
    std::vector<ReportCycleMember> members;
};

struct ReportLeakTotals {
    std::uint64_t direct_bytes = 0, direct_blocks = 0;
    std::uint64_t indirect_bytes = 0, indirect_blocks = 0;
    std::uint64_t possible_bytes = 0, possible_blocks = 0;
    std::uint64_t suppressed_bytes = 0, suppressed_blocks = 0;
    std::uint64_t cycles = 0, cycle_blocks = 0;
    std::uint64_t ignored_bytes = 0, ignored_blocks = 0;  // memtrack_ignore, disabled threads
};

struct ReportScan {
    std::uint64_t roots_bytes = 0;
    std::uint64_t heap_bytes = 0;
    std::uint64_t swept_bytes = 0;
    std::uint64_t blocks = 0;
    double duration_s = 0;
    std::uint64_t threads_paused = 0;
    std::uint64_t threads_not_paused = 0;
    std::uint64_t dead_thread_stacks = 0;
    bool complete = true;
    // Live big blocks the registry could not take (core/big_blocks.hpp): invisible to the scan.
    std::uint64_t unregistered_big_blocks = 0;
    std::uint64_t unreadable_heap_bytes = 0;  // heap the program made unreadable (mprotect)
    // Blocks first reached through an interior pointer the scan counts as a reference
    // (leaks/scan_rules.hpp, issue 10).
    struct InteriorReferences {
        std::uint64_t tagged = 0, array_cookie = 0, secondary_base = 0, old_string = 0;
    } interior_references;
};

struct ReportGc {
    std::int64_t threshold[3] = {0, 0, 0};
    std::int64_t count[3] = {0, 0, 0};
    std::uint64_t collections[3] = {0, 0, 0};
    std::uint64_t collected[3] = {0, 0, 0};
    double total_pause_s = 0;
    double max_pause_s = 0;
    std::uint64_t live_blocks[3] = {0, 0, 0};
    std::uint64_t live_bytes[3] = {0, 0, 0};
};

// The leak sections; present when the leak check ran.
struct ReportLeaks {
    std::vector<ReportLeakGroup> direct, indirect, possible, suppressed;  // largest first
    ReportLeakTotals totals;
    std::vector<ReportCycle> cycles;
    ReportScan scan;
    ReportGc gc;
};

// One allocation site (a distinct allocation stack) and what it did (issue 10). Peak values
// are the site's share of the peak since start or the last memtrack_reset_peak(); exit values
// are what it held when the report was written.
struct ReportSite {
    std::uint32_t stack = 0;  // key into ReportModel::stacks; 0 = no stack, or the folded rest
    std::uint64_t allocations = 0;
    std::uint64_t bytes_allocated = 0;
    std::uint64_t frees = 0;
    std::int64_t peak_bytes = 0;
    std::int64_t peak_blocks = 0;
    std::int64_t exit_bytes = 0;
    std::int64_t exit_blocks = 0;
    std::uint64_t temporary = 0;
    std::uint64_t largest_bytes = 0;
    std::uint64_t first_allocation = 0;  // sequence number; 0 = none kept (JSON null)
};

// The memory behind the sites.
struct ReportSiteTable {
    std::uint64_t sites = 0;           // sites with any count
    std::uint64_t listed = 0;          // entries of `sites` (the cap's rest folded into stack 0)
    std::uint64_t bytes_per_site = 0;  // the process table's entry
    std::uint64_t table_bytes = 0;     // the process table
    std::uint64_t thread_shard_bytes = 0;  // per allocating thread
};

struct ReportTimelinePoint {
    double t_s = 0;
    std::int64_t bytes = 0;
    std::int64_t rss = -1;  // -1: not read (written as null)
};

// The timeline's stacked chart (stacks on): the sites that held the most at some point, and
// per timeline point the bytes of each (0 where it was not among the point's top sites) and
// of all other sites ("other" = the point's bytes minus the listed ones).
struct ReportTimelineSites {
    std::vector<std::uint32_t> stacks;              // keys into ReportModel::stacks
    std::vector<std::vector<std::int64_t>> values;  // per point: one per stack, then other
};

// A "signal" report's view of the thread the signal interrupted (issue 11): its kernel thread
// id, the fault address of SIGSEGV, SIGBUS, SIGILL and SIGFPE, and its stack as raw frames
// (pc, module, offset; function, file and line empty), which `memtrack report` symbolizes.
struct ReportCrash {
    std::int64_t thread = 0;  // 0 = not recorded
    bool has_address = false;
    std::uint64_t address = 0;
    std::vector<ReportFrame> stack;  // innermost first: [0] is the interrupted pc
};

// One distinct invalid-free site (issue 11): "double_free" (a block memtrack had freed) or
// "invalid_pointer" (in memtrack's heap, not a block it handed out), how many frees, the first
// one's pointer, the stack of the free and, for a double free, the block's allocation stack
// (ids into ReportModel::stacks; 0 = none recorded).
struct ReportInvalidFree {
    std::string kind;
    std::uint64_t count = 0;
    std::uint64_t pointer = 0;
    std::uint32_t free_stack = 0;
    std::uint32_t alloc_stack = 0;
};

struct ReportModel {
    std::string memtrack_version;
    // Why the report was written: "exit" (exit() or return from main), "_exit" (_exit or
    // _Exit), "exec" (before the image is replaced), "signal" (killed by `signal`), "api"
    // (memtrack_write_report), "checkpoint" (the last state seen while the heap grew, left by a
    // process killed by SIGKILL); a reader keeps any other value as it is.
    std::string reason = "exit";
    // For "signal": the signal's number and name (11, "SIGSEGV"); 0 and "" otherwise (null).
    int signal = 0;
    std::string signal_name;
    ReportCrash crash;  // for "signal"; empty otherwise
    std::string program;
    std::vector<std::string> argv;
    std::int64_t pid = 0;
    std::int64_t ppid = 0;
    // The program's own status (exit() / return from main); -1 = unknown (null), as for an
    // API report.
    int exit_status = -1;
    // The status the process ends with: exit_status, or the one a run gate
    // (MEMTRACK_ERROR_EXITCODE, MEMTRACK_MAX_PEAK, MEMTRACK_MAX_LEAKED) gave it; -1 = unknown
    // (null).
    int final_status = -1;
    std::string gate;  // why a gate changed the status; "" if none did (null)

    struct Process {
        double wall_s = 0;
        double user_s = 0;
        double sys_s = 0;
        double cpu_wall_ratio = 0;
        std::int64_t max_rss_bytes = 0;
    } process;

    struct Heap {
        std::int64_t current_bytes = 0;
        std::int64_t peak_bytes = 0;
        double peak_time_s = 0;
        std::int64_t live_bytes_at_exit = 0;
        std::uint64_t live_blocks_at_exit = 0;
        std::uint64_t allocations = 0;
        std::uint64_t frees = 0;
        std::uint64_t bytes_allocated = 0;
        std::uint64_t foreign_frees = 0;
        std::int64_t peak_attributed_bytes = 0;  // sum of the sites' peak_bytes; 0 without sites
    } heap;

    // Invalid and double frees (issue 11): the total and the distinct sites; written only
    // when there was one.
    std::uint64_t invalid_frees_total = 0;
    std::vector<ReportInvalidFree> invalid_frees;

    bool sites_recorded = false;    // stacks were on: `sites` and `site_table` hold the profile
    std::vector<ReportSite> sites;  // largest peak_bytes first
    ReportSiteTable site_table;

    // The stacks the leak groups, cycles and sites name, by id (innermost frame first).
    std::map<std::uint32_t, std::vector<ReportFrame>> stacks;

    bool leak_checked = false;  // `leaks` holds the leak sections
    ReportLeaks leaks;

    struct ConfigEcho {
        double interval_s = 0;
        int stack_depth = 0;
        bool leak_check = false;
        std::string output;
    } config;

    std::vector<ReportTimelinePoint> timeline;
    ReportTimelineSites timeline_sites;  // with sites_recorded only

    // With stacks on ("unwind"): the capture's memory per thread and the captures of threads
    // that had none (each a full libunwind backtrace).
    struct UnwindTables {
        bool on = false;
        std::uint64_t thread_table_bytes = 0;
        std::uint64_t captures_without_tables = 0;
    } unwind_tables;

    // MEMTRACK_UNWIND_CHECK=1: captured stacks compared with unw_backtrace's, and how many
    // differed ("unwind_check", written only when the check was on).
    struct UnwindCheck {
        bool on = false;
        std::uint64_t stacks = 0;
        std::uint64_t differences = 0;
    } unwind_check;
};

// The process ended with this report (exit, _exit or a signal): its heap is the one it left.
inline bool ends_process(const ReportModel& r)
{
    return r.reason == "exit" || r.reason == "_exit" || r.reason == "signal";
}

// `v` as the JSON report holds it: rounded to `decimals` decimals (the renderers' fixed
// formats), so that a value read back from the file compares equal.
double as_written(double v, int decimals);

}  // namespace memtrack::detail
