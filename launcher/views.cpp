// `memtrack report FILE --peak | --allocations | --temporary | --exit [--top=N] [--stack-depth=N]`:
// the site profile of a saved report (issue 10) in sections like heaptrack_print's (PEAK MEMORY
// CONSUMERS, MOST CALLS TO ALLOCATION FUNCTIONS, MOST TEMPORARY ALLOCATIONS), plus what was live
// at exit by site. Reads only the report model; an ordinary launcher file (allocates, throws).
#include "launcher.hpp"
#include "report/render.hpp"  // frame_text: frames as the summary writes them

#include <memtrack/memtrack.hpp>  // memtrack::Bytes and its fmt formatter

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <functional>

namespace memtrack::launcher {

namespace {

namespace md = memtrack::detail;
using md::frame_text;

// The report symbolizes the stacks of the first sites of each view only (report.cpp's
// kSymbolizedPerView); later sites are named by their stack id.
constexpr std::size_t kSymbolizedInReport = 10;

std::string_view base_name(std::string_view path)
{
    const auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}


std::string plural(std::uint64_t n, std::string_view word)
{
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

// part of total in percent, one decimal (heaptrack_print's precision)
std::string percent(double part, double total)
{
    return total > 0 ? fmt::format("{:.1f}%", 100.0 * part / total) : std::string("-");
}

std::string bytes(std::int64_t n)
{
    return fmt::format("{}", Bytes{n});
}

// One section: its title, the quantity it sorts by, and how one site's line reads.
struct View {
    const char* title;
    std::function<double(const md::ReportSite&)> key;
    // The section's first line after the title: the totals the percentages are of.
    std::function<std::string(const md::ReportModel&, double total, std::size_t sites)> header;
    std::function<std::string(const md::ReportSite&, double total)> line;
    // The line for the sites beyond --top.
    std::function<std::string(std::size_t more, double rest, double total)> rest;
};

class Printer {
public:
    Printer(const md::ReportModel& r, const ViewOptions& o, std::vector<std::string>& out)
        : r_(r), o_(o), out_(out)
    {
    }

    void section(const View& v)
    {
        std::vector<const md::ReportSite*> order;
        double total = 0;
        for (const md::ReportSite& s : r_.sites)
            if (v.key(s) > 0) {
                order.push_back(&s);
                total += v.key(s);
            }
        std::stable_sort(
            order.begin(), order.end(), [&](const md::ReportSite* a, const md::ReportSite* b) {
                return v.key(*a) != v.key(*b) ? v.key(*a) > v.key(*b) : a->stack < b->stack;
            });
        out_.push_back(v.title);
        out_.push_back(v.header(r_, total, order.size()));
        const std::size_t shown = std::min(order.size(), o_.top);
        for (std::size_t i = 0; i < shown; ++i) {
            const md::ReportSite& s = *order[i];
            if (o_.stack_depth == 0) {
                out_.push_back(fmt::format("{}  {}", v.line(s, total), location(s.stack)));
                continue;
            }
            out_.push_back("");
            out_.push_back(v.line(s, total) + " from:");
            stack(s.stack);
        }
        if (order.size() > shown) {
            double rest = 0;
            for (std::size_t i = shown; i < order.size(); ++i)
                rest += v.key(*order[i]);
            if (o_.stack_depth > 0) out_.push_back("");
            out_.push_back(v.rest(order.size() - shown, rest, total));
        }
        out_.push_back("");
    }

private:
    const std::vector<md::ReportFrame>* frames(std::uint32_t id) const
    {
        const auto it = r_.stacks.find(id);
        return it == r_.stacks.end() || it->second.empty() ? nullptr : &it->second;
    }

    // Library internals inlined from system headers (allocators, make_shared) lead C++ stacks:
    // the view starts at the program's code, as the summary does.
    std::size_t first_program_frame(const std::vector<md::ReportFrame>& f) const
    {
        std::size_t first = 0;
        while (first < f.size() && f[first].inlined && f[first].file.starts_with("/usr/include/"))
            ++first;
        return first == f.size() ? 0 : first;
    }

    std::string missing(std::uint32_t id) const
    {
        if (id == 0)
            return r_.site_table.listed < r_.site_table.sites
                       ? "(no stack recorded, and the sites beyond the report's list)"
                       : "(no stack recorded: allocated before memtrack started)";
        return fmt::format("(stack {}: not symbolized; the report names the frames of the first "
                           "{} sites of each view)",
                           id, kSymbolizedInReport);
    }

    // The site in one line: its first program frame (the first outside /usr/).
    std::string location(std::uint32_t id) const
    {
        const std::vector<md::ReportFrame>* f = frames(id);
        if (f == nullptr) return missing(id);
        for (const md::ReportFrame& fr : *f)
            if (!fr.file.empty() && !fr.file.starts_with("/usr/")) return frame_text(fr);
        return frame_text((*f)[first_program_frame(*f)]);
    }

    void stack(std::uint32_t id)
    {
        const std::vector<md::ReportFrame>* f = frames(id);
        if (f == nullptr) {
            out_.push_back("    " + missing(id));
            return;
        }
        const std::size_t first = first_program_frame(*f);
        if (first > 0)
            out_.push_back(fmt::format("    ({} above)", plural(first, "inlined library frame")));
        const std::size_t end =
            std::min(f->size(), first + static_cast<std::size_t>(o_.stack_depth));
        for (std::size_t i = first; i < end; ++i)
            out_.push_back(fmt::format("    #{} {}", i, frame_text((*f)[i])));
        if (end < f->size())
            out_.push_back(fmt::format("    ... {} more frame{}", f->size() - end,
                                       f->size() - end == 1 ? "" : "s"));
    }

    const md::ReportModel& r_;
    const ViewOptions& o_;
    std::vector<std::string>& out_;
};

std::string sites_word(std::size_t n)
{
    return plural(n, "site");
}

// "3 more sites", "1 more site"
std::string more_sites(std::size_t n)
{
    return fmt::format("{} more site{}", n, n == 1 ? "" : "s");
}

const View kPeak{
    "PEAK MEMORY CONSUMERS",
    [](const md::ReportSite& s) { return static_cast<double>(s.peak_bytes); },
    [](const md::ReportModel& r, double total, std::size_t sites) {
        return fmt::format("heap peak {} at {:.2f} s, held by {} ({} attributed)",
                           bytes(r.heap.peak_bytes), r.heap.peak_time_s, sites_word(sites),
                           bytes(static_cast<std::int64_t>(total)));
    },
    [](const md::ReportSite& s, double total) {
        return fmt::format("{} ({}) in {} at the peak; {}, {} allocated", bytes(s.peak_bytes),
                           percent(static_cast<double>(s.peak_bytes), total),
                           plural(static_cast<std::uint64_t>(s.peak_blocks), "block"),
                           plural(s.allocations, "allocation"),
                           bytes(static_cast<std::int64_t>(s.bytes_allocated)));
    },
    [](std::size_t more, double rest, double total) {
        return fmt::format("... and {} hold {} ({})", more_sites(more),
                           bytes(static_cast<std::int64_t>(rest)), percent(rest, total));
    }};

const View kAllocations{
    "MOST CALLS TO ALLOCATION FUNCTIONS",
    [](const md::ReportSite& s) { return static_cast<double>(s.allocations); },
    [](const md::ReportModel& r, double total, std::size_t sites) {
        return fmt::format("{} calls to allocation functions from {}, {} allocated",
                           static_cast<std::uint64_t>(total), sites_word(sites),
                           bytes(static_cast<std::int64_t>(r.heap.bytes_allocated)));
    },
    [](const md::ReportSite& s, double total) {
        return fmt::format(
            "{} ({}), {} allocated, {} at the peak, {} temporary", plural(s.allocations, "call"),
            percent(static_cast<double>(s.allocations), total),
            bytes(static_cast<std::int64_t>(s.bytes_allocated)), bytes(s.peak_bytes), s.temporary);
    },
    [](std::size_t more, double rest, double total) {
        return fmt::format("... and {} make {} calls ({})", more_sites(more),
                           static_cast<std::uint64_t>(rest), percent(rest, total));
    }};

const View kTemporary{
    "MOST TEMPORARY ALLOCATIONS",
    [](const md::ReportSite& s) { return static_cast<double>(s.temporary); },
    [](const md::ReportModel& r, double total, std::size_t sites) {
        return fmt::format("{} temporary allocations of {} in all ({}) from {} (freed before "
                           "the thread's next allocation)",
                           static_cast<std::uint64_t>(total), r.heap.allocations,
                           percent(total, static_cast<double>(r.heap.allocations)),
                           sites_word(sites));
    },
    [](const md::ReportSite& s, double) {
        return fmt::format(
            "{} temporary of {} ({}), largest block {}", s.temporary,
            plural(s.allocations, "allocation"),
            percent(static_cast<double>(s.temporary), static_cast<double>(s.allocations)),
            bytes(static_cast<std::int64_t>(s.largest_bytes)));
    },
    [](std::size_t more, double rest, double total) {
        return fmt::format("... and {} make {} temporary allocations ({})", more_sites(more),
                           static_cast<std::uint64_t>(rest), percent(rest, total));
    }};

const View kExit{
    "LIVE AT EXIT", [](const md::ReportSite& s) { return static_cast<double>(s.exit_bytes); },
    [](const md::ReportModel& r, double, std::size_t sites) {
        return fmt::format("{} {} in {} from {} (reachable and leaked alike{})",
                           r.reason == "exit" || r.reason == "_exit" ? "live at exit"
                                                                     : "live when written",
                           bytes(r.heap.live_bytes_at_exit),
                           plural(r.heap.live_blocks_at_exit, "block"), sites_word(sites),
                           r.leak_checked ? "; the leak sections say which leaked" : "");
    },
    [](const md::ReportSite& s, double total) {
        return fmt::format("{} ({}) in {}; {}, {} freed", bytes(s.exit_bytes),
                           percent(static_cast<double>(s.exit_bytes), total),
                           plural(static_cast<std::uint64_t>(s.exit_blocks), "block"),
                           plural(s.allocations, "allocation"), s.frees);
    },
    [](std::size_t more, double rest, double total) {
        return fmt::format("... and {} hold {} ({})", more_sites(more),
                           bytes(static_cast<std::int64_t>(rest)), percent(rest, total));
    }};

}  // namespace

void add_view_options(CLI::App& app, ViewOptions& views)
{
    app.add_flag("--peak", views.peak,
                 "what held the heap peak, by allocation site (the default view)");
    app.add_flag("--allocations", views.allocations, "the sites with the most allocation calls");
    app.add_flag("--temporary", views.temporary,
                 "the sites with the most temporary allocations (freed before the thread's next "
                 "allocation)");
    app.add_flag("--exit", views.exit, "what was live at exit by site, reachable blocks included");
    app.add_option("--top", views.top, "sites per view (default 10)")
        ->check(CLI::PositiveNumber)
        ->type_name("N");
    app.add_option("--stack-depth", views.stack_depth,
                   "frames per site (default 6; 0: one line per site)")
        ->check(CLI::NonNegativeNumber)
        ->type_name("N");
}

bool ViewOptions::selected(const CLI::App& app) const
{
    return peak || allocations || temporary || exit || app.count("--top") > 0 ||
           app.count("--stack-depth") > 0;
}

std::vector<std::string> render_views(const md::ReportModel& r, const ViewOptions& views)
{
    std::vector<std::string> out;
    const std::string when = r.reason == "exit" || r.reason == "_exit" ? "written at exit"
                             : r.reason == "api" ? "requested by the program"
                                                 : "written at " + r.reason;
    out.push_back(fmt::format("{} (pid {}): report {}", base_name(r.program), r.pid, when));
    out.push_back("");
    if (!r.sites_recorded) {
        out.push_back("no allocation sites in this report: it was written with stacks off "
                      "(MEMTRACK_STACK_DEPTH=0)");
        return out;
    }
    Printer p(r, views, out);
    const bool any = views.peak || views.allocations || views.temporary || views.exit;
    if (views.peak || !any) p.section(kPeak);
    if (views.allocations) p.section(kAllocations);
    if (views.temporary) p.section(kTemporary);
    if (views.exit) p.section(kExit);
    while (!out.empty() && out.back().empty())
        out.pop_back();
    return out;
}

int print_views(const std::string& path, const ViewOptions& views)
{
    md::ReportModel model;
    if (const int rc = load_report(path, model); rc != 0) return rc;
    std::string text;
    for (const std::string& line : render_views(model, views))
        text += line + "\n";
    fmt::print("{}", text);
    return 0;
}

}  // namespace memtrack::launcher
