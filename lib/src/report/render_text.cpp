// The summary rendering of a report (see render.hpp): the lines the library prints on stderr at
// exit and `memtrack report FILE` prints on stdout.
#include "report/render.hpp"

#include <memtrack/memtrack.hpp>  // memtrack::Bytes and its fmt formatter (header-only parts)

#include <fmt/format.h>

#include <algorithm>

namespace memtrack::detail {

namespace {

constexpr std::size_t kTextGroups = 10;  // groups per kind in the summary
constexpr int kTextFrames = 6;           // frames per group in the summary
constexpr std::size_t kPeakSites = 5;    // sites named in the summary's "held by" lines
// Longer lines are cut, as the library's stderr lines are (detail::log's 1 KiB buffer), so
// that `memtrack report` prints what the run printed.
constexpr std::size_t kMaxLine = 1024;

Bytes bytes(std::uint64_t n)
{
    return Bytes{static_cast<std::int64_t>(n)};
}

std::string_view base_name(std::string_view path)
{
    const auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}


// part of total, in whole percent (rounded)
std::int64_t percent(std::int64_t part, std::int64_t total)
{
    return total > 0 ? (part * 100 + total / 2) / total : 0;
}

// " [allocation #N]" or " [allocations #N..#M]"; "" when none was kept.
std::string seq_text(std::uint64_t first, std::uint64_t last)
{
    if (first == 0) return {};
    if (first == last) return fmt::format(" [allocation #{}]", first);
    return fmt::format(" [allocations #{}..#{}]", first, last);
}

// Where a stack's text stops (valgrind's --show-below-main=no, issue 11): after `main`, or at
// the first of libc's start-up frames when there is no `main` (a stripped program); the JSON
// keeps them all.
std::size_t below_main(const std::vector<ReportFrame>& f)
{
    for (std::size_t i = 0; i < f.size(); ++i)
        if (f[i].function == "main") return i + 1;
    for (std::size_t i = 0; i < f.size(); ++i)
        for (std::string_view start :
             {"__libc_start_call_main", "__libc_start_main", "__libc_start_main_impl", "_start"})
            if (f[i].function == start) return i > 0 ? i : f.size();
    return f.size();
}

class Summary {
public:
    Summary(const ReportModel& r, std::vector<std::string>& lines) : r_(r), lines_(lines) {}

    template <class... Args> void line(fmt::format_string<Args...> f, Args&&... args)
    {
        lines_.push_back(fmt::format(f, std::forward<Args>(args)...));
        if (lines_.back().size() > kMaxLine) lines_.back().resize(kMaxLine);
    }

    // What held the peak: the five largest shares, one line each, and the rest in one line.
    void peak_sites()
    {
        const ReportModel::Heap& h = r_.heap;
        const std::int64_t total = h.peak_attributed_bytes;
        if (!r_.sites_recorded || total <= 0) return;
        if (total == h.peak_bytes)
            line("  peak    {} at {:.2f} s, held by:", Bytes{total}, h.peak_time_s);
        else  // since a memtrack_reset_peak(), or other threads' unfolded batches
            line("  peak    {} attributed to sites (heap peak {}), held by:", Bytes{total},
                 Bytes{h.peak_bytes});
        std::size_t shown = 0, more = 0;
        std::int64_t more_bytes = 0;
        for (const ReportSite& s : r_.sites) {
            if (s.peak_bytes <= 0) continue;
            if (shown == kPeakSites) {
                ++more;
                more_bytes += s.peak_bytes;
                continue;
            }
            const ReportFrame* top = s.stack == 0 ? nullptr : program_frame(s.stack);
            const bool folded = r_.site_table.listed < r_.site_table.sites;
            line("    {} ({}%) {} block{}  {}", Bytes{s.peak_bytes}, percent(s.peak_bytes, total),
                 s.peak_blocks, s.peak_blocks == 1 ? "" : "s",
                 top != nullptr ? frame_text(*top)
                 : s.stack != 0 ? std::string("(unknown)")
                 : folded       ? std::string("(no stack recorded, and the sites beyond the list)")
                                : std::string("(no stack recorded)"));
            ++shown;
        }
        if (more > 0)
            line("    ... and {} more site{} hold {} ({}%)", more, more == 1 ? "" : "s",
                 Bytes{more_bytes}, percent(more_bytes, total));
    }

    void leaks()
    {
        const ReportLeaks& l = r_.leaks;
        const ReportLeakTotals& t = l.totals;
        line("  leaks   {} direct in {} blocks, {} indirect in {} blocks, {} possible in {} "
             "blocks; {} reference cycles",
             bytes(t.direct_bytes), t.direct_blocks, bytes(t.indirect_bytes), t.indirect_blocks,
             bytes(t.possible_bytes), t.possible_blocks, t.cycles);
        groups(l.direct, "Direct");
        groups(l.indirect, "Indirect");
        groups(l.possible, "Possible");
        cycles();
        const ReportGc& g = l.gc;
        if (g.collections[0] + g.collections[1] + g.collections[2] > 1)
            line("  gc      {} + {} + {} scans of generations 0, 1, 2 (the exit scan included), "
                 "pauses {:.1f} ms in all, longest {:.1f} ms; live blocks by generation {}, {}, "
                 "{}",
                 g.collections[0], g.collections[1], g.collections[2], g.total_pause_s * 1e3,
                 g.max_pause_s * 1e3, g.live_blocks[0], g.live_blocks[1], g.live_blocks[2]);
        const ReportScan& s = l.scan;
        if (!s.complete && (s.threads_not_paused > 0 ||
                            (s.unregistered_big_blocks == 0 && s.unreadable_heap_bytes == 0)))
            line("  scan    incomplete: {} thread{} could not be paused; their stacks were scanned "
                 "whole",
                 s.threads_not_paused, s.threads_not_paused == 1 ? "" : "s");
        if (s.unregistered_big_blocks > 0)
            line("  scan    incomplete: {} big block{} could not be registered (no memory for the "
                 "registry) and went unscanned; blocks only they point at may show as leaked",
                 s.unregistered_big_blocks, s.unregistered_big_blocks == 1 ? "" : "s");
        if (s.unreadable_heap_bytes > 0)
            line("  scan    incomplete: {} of heap the program made unreadable (mprotect); blocks "
                 "there, or with their header there, were not seen",
                 bytes(s.unreadable_heap_bytes));
    }

    // Invalid and double frees (issue 11): each site with the stack of the free and, for a
    // double free, the block's allocation stack.
    void invalid_frees()
    {
        std::uint64_t doubles = 0, invalid = 0;
        for (const ReportInvalidFree& f : r_.invalid_frees)
            (f.kind == "double_free" ? doubles : invalid) += f.count;
        line("  invalid {} invalid frees at {} site{}: {} double, {} of pointers that are no block",
             r_.invalid_frees_total, r_.invalid_frees.size(),
             r_.invalid_frees.size() == 1 ? "" : "s", doubles, invalid);
        constexpr std::size_t kShownSites = 5;
        for (std::size_t i = 0; i < r_.invalid_frees.size() && i < kShownSites; ++i) {
            const ReportInvalidFree& f = r_.invalid_frees[i];
            line("    {} of 0x{:x}{}, freed at:",
                 f.kind == "double_free" ? "double free" : "free of an invalid pointer",
                 f.pointer, f.count > 1 ? fmt::format(" ({} times)", f.count) : std::string());
            stack(f.free_stack, "      ");
            if (f.kind == "double_free" && f.alloc_stack != 0) {
                line("    allocated at:");
                stack(f.alloc_stack, "      ");
            }
        }
        if (r_.invalid_frees.size() > kShownSites)
            line("    ... {} more sites in the JSON report", r_.invalid_frees.size() - kShownSites);
    }

private:
    const std::vector<ReportFrame>& frames(std::uint32_t id) const
    {
        static const std::vector<ReportFrame> kNone;
        const auto it = r_.stacks.find(id);
        return it == r_.stacks.end() ? kNone : it->second;
    }

    // The program's frame of a stack: the first one outside system headers and libraries
    // (allocator and smart-pointer internals are all inlined from /usr/include); the innermost
    // if there is none; nullptr for no frames.
    const ReportFrame* program_frame(std::uint32_t id) const
    {
        const std::vector<ReportFrame>& f = frames(id);
        // Not below main: in a program without line information, libc's start-up frames were
        // the only ones with a file ("__libc_start_call_main libc_start_call_main.h:58").
        const std::size_t end = below_main(f);
        for (std::size_t i = 0; i < end; ++i)
            if (!f[i].file.empty() && !f[i].file.starts_with("/usr/")) return &f[i];
        return f.empty() ? nullptr : &f.front();
    }

    void stack(std::uint32_t id, const char* indent)
    {
        const std::vector<ReportFrame>& f = frames(id);
        if (f.empty()) {
            line("{}(no stack recorded{})", indent,
                 r_.config.stack_depth == 0 ? ": MEMTRACK_STACK_DEPTH=0" : "");
            return;
        }
        // Library internals inlined from system headers (allocators, make_shared) come first
        // in C++ stacks; the summary starts at the program's code (the JSON has them all).
        std::size_t first = 0;
        while (first < f.size() && f[first].inlined && f[first].file.starts_with("/usr/include/"))
            ++first;
        if (first == f.size()) first = 0;
        if (first > 0)
            line("{}({} inlined library frame{} above, in the JSON report)", indent, first,
                 first == 1 ? "" : "s");
        const std::size_t end = below_main(f);
        int shown = 0;
        for (std::size_t i = first; i < end; ++i) {
            if (shown == kTextFrames) {
                line("{}... {} more frames in the JSON report", indent, end - i);
                break;
            }
            line("{}#{} {}", indent, i, frame_text(f[i]));
            ++shown;
        }
    }

    void groups(const std::vector<ReportLeakGroup>& list, const char* kind)
    {
        std::size_t shown = 0;
        for (const ReportLeakGroup& g : list) {
            if (shown == kTextGroups) {
                line("  ... and {} more {} leak groups in the JSON report", list.size() - shown,
                     kind);
                break;
            }
            line("  {} leak of {} in {} block{}{}{} allocated from:", kind, bytes(g.bytes),
                 g.blocks, g.blocks == 1 ? "" : "s",
                 g.type.empty() ? std::string() : fmt::format(" ({})", g.type),
                 seq_text(g.first_seq, g.last_seq));
            stack(g.stack, "      ");
            ++shown;
        }
    }

    void cycles()
    {
        const std::vector<ReportCycle>& list = r_.leaks.cycles;
        std::size_t shown = 0;
        for (const ReportCycle& c : list) {
            if (shown == kTextGroups) {
                line("  ... and {} more reference cycles in the JSON report", list.size() - shown);
                break;
            }
            line("  Reference cycle of {} block{} ({}){}{}:", c.members.size(),
                 c.members.size() == 1 ? "" : "s", bytes(c.count > 0 ? c.bytes / c.count : 0),
                 c.count > 1 ? fmt::format(", {} such cycles", c.count) : std::string(),
                 c.pure ? ", nothing else points at it"
                        : (c.reached_from_direct ? ", reached from a direct leak" : ""));
            for (std::size_t k = 0; k < c.members.size(); ++k) {
                const ReportCycleMember& m = c.members[k];
                const ReportFrame* top = program_frame(m.stack);
                line("      [{}] {}{}{} from {}", k, bytes(m.size),
                     m.type.empty() ? std::string() : " " + m.type, seq_text(m.seq, m.seq),
                     top != nullptr ? frame_text(*top) : std::string("(unknown)"));
            }
            ++shown;
        }
    }

    const ReportModel& r_;
    std::vector<std::string>& lines_;
};

}  // namespace

std::string frame_text(const ReportFrame& f)
{
    std::string s = f.function.empty() ? fmt::format("0x{:x}", f.pc) : f.function;
    if (!f.file.empty())
        s += fmt::format(" {}:{}", base_name(f.file), f.line);
    else if (!f.module.empty())
        s += fmt::format(" ({}+0x{:x})", base_name(f.module), f.offset);
    if (f.inlined) s += " [inlined]";
    return s;
}

bool needs_attention(const ReportModel& r)
{
    const ReportLeakTotals& t = r.leaks.totals;
    return (r.leak_checked && t.direct_blocks + t.indirect_blocks > 0) || !r.gate.empty() ||
           r.reason == "signal" || r.reason == "checkpoint" || r.invalid_frees_total > 0;
}

std::string gate_line(const ReportModel& r)
{
    if (r.gate.empty()) return {};
    return fmt::format("exit status {}: {}", r.final_status, r.gate);
}

std::vector<std::string> render_summary(const ReportModel& r, const SummaryOptions& options)
{
    std::vector<std::string> lines;
    Summary s(r, lines);
    const ReportModel::Heap& h = r.heap;
    const std::string_view name = base_name(r.program);
    const double wall = r.process.wall_s;
    if (r.reason == "api")
        s.line("{} (pid {}) report requested at {:.2f} s", name, r.pid, wall);
    else if (r.reason == "checkpoint")
        s.line("{} (pid {}) checkpoint at {:.2f} s: the last state seen, not the end", name, r.pid,
               wall);
    else if (r.reason == "exec")
        s.line("{} (pid {}) replaced its image by exec at {:.2f} s", name, r.pid, wall);
    else if (r.reason == "signal")
        s.line("{} (pid {}) killed by {} (signal {})", name, r.pid,
               r.signal_name.empty() ? std::string("a signal") : r.signal_name, r.signal);
    else if (r.exit_status >= 0)
        s.line("{} (pid {}) exited with status {}{}", name, r.pid, r.exit_status,
               r.reason == "_exit" ? " (_exit)" : "");
    else
        s.line("{} (pid {}) finished", name, r.pid);
    if (r.reason == "signal" && r.crash.thread != 0) {
        // The interrupted thread's stack (issue 11), as `memtrack report` symbolized it.
        if (r.crash.has_address)
            s.line("  signal  in thread {}, fault address 0x{:x}", r.crash.thread,
                   r.crash.address);
        else
            s.line("  signal  in thread {}", r.crash.thread);
        constexpr std::size_t kCrashFrames = 2 * kTextFrames;
        for (std::size_t i = 0; i < r.crash.stack.size(); ++i) {
            if (i == kCrashFrames) {
                s.line("          ... {} more frames in the JSON report",
                       r.crash.stack.size() - i);
                break;
            }
            s.line("  {} #{} {}", i == 0 ? "stack" : "     ", i, frame_text(r.crash.stack[i]));
        }
    }
    s.line("  time    wall {:.2f} s, user {:.2f} s, sys {:.2f} s, CPU/wall {:.2f}", wall,
           r.process.user_s, r.process.sys_s, r.process.cpu_wall_ratio);
    s.line("  heap    peak {} at {:.2f} s; live {} {} in {} blocks", Bytes{h.peak_bytes},
           h.peak_time_s, ends_process(r) ? "at exit" : "now", Bytes{h.live_bytes_at_exit},
           h.live_blocks_at_exit);
    s.peak_sites();
    s.line("  calls   {} allocations, {} frees, {} allocated, {} foreign frees", h.allocations,
           h.frees, bytes(h.bytes_allocated), h.foreign_frees);
    if (r.invalid_frees_total > 0) s.invalid_frees();
    s.line("  rss     max RSS {} (tracked heap peak {})", Bytes{r.process.max_rss_bytes},
           Bytes{h.peak_bytes});
    if (r.leak_checked) s.leaks();
    if (r.unwind_tables.captures_without_tables > 0)
        s.line("  unwind  {} stacks captured by threads without unwind tables (memtrack could not "
               "map them): each a full libunwind backtrace",
               r.unwind_tables.captures_without_tables);
    if (r.unwind_check.on)
        s.line("  unwind  {} stacks compared with unw_backtrace, {} differ", r.unwind_check.stacks,
               r.unwind_check.differences);
    if (!options.report_line.empty()) s.line("  report  {}", options.report_line);
    if (!r.gate.empty()) s.line("{}", gate_line(r));
    if (options.timeline && !r.timeline.empty()) {
        // The RSS column for reports that have it (a minor revision of version 2 added it).
        const bool rss = std::any_of(r.timeline.begin(), r.timeline.end(),
                                     [](const ReportTimelinePoint& p) { return p.rss >= 0; });
        if (rss)
            s.line("  timeline {:>10} {:>14} {:>12} {:>12}", "t_s", "bytes", "", "rss");
        else
            s.line("  timeline {:>10} {:>14}", "t_s", "bytes");
        for (const ReportTimelinePoint& p : r.timeline) {
            const std::string bytes = fmt::format("{}", Bytes{p.bytes});
            if (!rss)
                s.line("           {:>10.3f} {:>14} {:>12}", p.t_s, p.bytes, bytes);
            else
                s.line("           {:>10.3f} {:>14} {:>12} {:>12}", p.t_s, p.bytes, bytes,
                       p.rss >= 0 ? fmt::format("{}", Bytes{p.rss}) : std::string("-"));
        }
    }
    return lines;
}

}  // namespace memtrack::detail
