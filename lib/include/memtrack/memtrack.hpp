// memtrack public C++ API: the C API plus scoped measurement, measure(fn), memory_usage(fn),
// snapshots of the heap by allocation site (take_snapshot, peak_sites), and byte formatting
// through fmt. Header-only over the C functions of memtrack.h; everything
// here runs in the caller's thread and may allocate through the tracked path unless it says not.
#pragma once

#include <memtrack/memtrack.h>

#include <fmt/format.h>

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace memtrack {

using Stats = memtrack_stats;

// Snapshot of the process heap (see memtrack_get_stats).
inline Stats stats() noexcept
{
    Stats s = memtrack_stats_init();
    memtrack_get_stats(&s);
    return s;
}
inline std::int64_t current_bytes() noexcept
{
    return stats().current_bytes;
}
inline void reset_peak() noexcept
{
    memtrack_reset_peak();
}
inline bool is_active() noexcept
{
    return memtrack_is_active() != 0;
}
// Writes the report now; path empty = the MEMTRACK_OUTPUT template. Returns false on failure.
inline bool write_report(const char* path = nullptr) noexcept
{
    return memtrack_write_report(path) == 0;
}

// Blocks this thread allocates while a LeakCheckDisabled lives are never reported as leaks
// (memtrack_disable_begin/end; LSan's __lsan::ScopedDisabler). Nests.
class LeakCheckDisabled {
public:
    LeakCheckDisabled() noexcept { memtrack_disable_begin(); }
    ~LeakCheckDisabled() { memtrack_disable_end(); }
    LeakCheckDisabled(const LeakCheckDisabled&) = delete;
    LeakCheckDisabled& operator=(const LeakCheckDisabled&) = delete;
};

// ---- byte counts and their units ---------------------------------------------------------

enum class Unit { Auto, B, KiB, MiB, GiB, TiB, KB, MB, GB, TB };

// The unit named by `name` ("B", "KiB", "MiB", "GiB", "TiB", "KB", "MB", "GB", "TB"); throws
// std::invalid_argument for anything else (the lecture's memory_analyze forgot to raise).
constexpr Unit parse_unit(std::string_view name)
{
    struct Entry {
        std::string_view name;
        Unit unit;
    };
    constexpr Entry kUnits[] = {{"B", Unit::B},     {"KiB", Unit::KiB}, {"MiB", Unit::MiB},
                                {"GiB", Unit::GiB}, {"TiB", Unit::TiB}, {"KB", Unit::KB},
                                {"MB", Unit::MB},   {"GB", Unit::GB},   {"TB", Unit::TB}};
    for (const Entry& e : kUnits)
        if (e.name == name) return e.unit;
    throw std::invalid_argument("memtrack: unknown byte unit (use B, KiB, MiB, GiB, TiB, KB, MB, "
                                "GB or TB)");
}

constexpr double unit_factor(Unit u) noexcept
{
    switch (u) {
    case Unit::KiB:
        return 1024.0;
    case Unit::MiB:
        return 1024.0 * 1024.0;
    case Unit::GiB:
        return 1024.0 * 1024.0 * 1024.0;
    case Unit::TiB:
        return 1024.0 * 1024.0 * 1024.0 * 1024.0;
    case Unit::KB:
        return 1e3;
    case Unit::MB:
        return 1e6;
    case Unit::GB:
        return 1e9;
    case Unit::TB:
        return 1e12;
    case Unit::B:
    case Unit::Auto:
        break;
    }
    return 1.0;
}

constexpr std::string_view unit_name(Unit u) noexcept
{
    switch (u) {
    case Unit::KiB:
        return "KiB";
    case Unit::MiB:
        return "MiB";
    case Unit::GiB:
        return "GiB";
    case Unit::TiB:
        return "TiB";
    case Unit::KB:
        return "KB";
    case Unit::MB:
        return "MB";
    case Unit::GB:
        return "GB";
    case Unit::TB:
        return "TB";
    case Unit::B:
    case Unit::Auto:
        break;
    }
    return "B";
}

// The binary unit that shows `bytes` with 1 to 4 integer digits.
constexpr Unit auto_unit(std::int64_t bytes) noexcept
{
    const double a = bytes < 0 ? -static_cast<double>(bytes) : static_cast<double>(bytes);
    if (a < 1024.0) return Unit::B;
    if (a < 1024.0 * 1024.0) return Unit::KiB;
    if (a < 1024.0 * 1024.0 * 1024.0) return Unit::MiB;
    if (a < 1024.0 * 1024.0 * 1024.0 * 1024.0) return Unit::GiB;
    return Unit::TiB;
}

// A byte count. fmt::format("{}", Bytes{n}) picks a unit; "{:MiB}" or "{:.3GiB}" fixes one.
// An unknown unit in a format string is a compile-time error (fmt checks format strings at
// compile time in C++20), and a std::invalid_argument / fmt::format_error at run time.
struct Bytes {
    std::int64_t value = 0;
    constexpr double in(Unit u) const noexcept
    {
        return static_cast<double>(value) / unit_factor(u == Unit::Auto ? auto_unit(value) : u);
    }
    friend constexpr bool operator==(Bytes, Bytes) = default;
};

// ---- measuring regions -------------------------------------------------------------------

// Heap change of a region: current = bytes still live from it at its end (may be negative if
// it freed older memory); peak = highest heap during it above its start.
struct Measurement {
    Bytes current;
    Bytes peak;
    double seconds = 0.0;
};

// Measures current and peak heap inside a region, like tracemalloc.start()/get_traced_memory()/
// stop(). Nested scopes each get their own correct peak; the enclosing peak_bytes is restored on
// destruction. The heap is the whole process's: other threads' allocations count too.
class Scope {
public:
    Scope() noexcept : start_(stats()), t0_(std::chrono::steady_clock::now())
    {
        memtrack_reset_peak();
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() { memtrack_raise_peak(start_.peak_bytes, start_.peak_time_s); }

    // Measurement so far.
    Measurement result() const noexcept
    {
        const Stats now = stats();
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
        return Measurement{Bytes{now.current_bytes - start_.current_bytes},
                           Bytes{now.peak_bytes - start_.current_bytes}, secs};
    }

private:
    Stats start_;
    std::chrono::steady_clock::time_point t0_;
};

// Runs fn() and returns its heap measurement (the lecture's memory_analyze). A value fn returns
// is destroyed inside the measured region, as in the lecture.
template <class F> Measurement measure(F&& fn)
{
    Scope scope;
    {
        if constexpr (std::is_void_v<decltype(std::forward<F>(fn)())>) {
            std::forward<F>(fn)();
        } else {
            [[maybe_unused]] auto result = std::forward<F>(fn)();
        }
    }
    return scope.result();
}

struct Sample {
    double t_s = 0.0;        // seconds since memory_usage started
    std::int64_t bytes = 0;  // current heap bytes
};

// Runs fn() in this thread while another thread samples current heap bytes every `interval`
// (and once at start and end), like memory_profiler.memory_usage. The sampler reserves room
// for 4096 samples before the first one, so it rarely allocates while fn runs.
template <class F, class Rep, class Period>
std::vector<Sample> memory_usage(F&& fn, std::chrono::duration<Rep, Period> interval)
{
    using Clock = std::chrono::steady_clock;
    std::vector<Sample> samples;
    samples.reserve(4096);
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    const auto t0 = Clock::now();
    auto take = [&] {
        samples.push_back(
            Sample{std::chrono::duration<double>(Clock::now() - t0).count(), current_bytes()});
    };
    take();
    std::thread sampler([&] {
        std::unique_lock lock(mu);
        auto next = t0 + interval;
        while (!cv.wait_until(lock, next, [&] { return done; })) {
            take();
            next += interval;
        }
    });
    try {
        std::forward<F>(fn)();
    } catch (...) {
        {
            std::lock_guard lock(mu);
            done = true;
        }
        cv.notify_all();
        sampler.join();
        throw;
    }
    {
        std::lock_guard lock(mu);
        done = true;
    }
    cv.notify_all();
    sampler.join();
    take();
    return samples;
}

// ---- snapshots of the heap by allocation site (tracemalloc's take_snapshot) ----------------

// A Snapshot is the heap by allocation site at one moment: take_snapshot() the live heap now,
// peak_sites() what held the peak since start or the last reset_peak() (issue 10). Its site
// array lives in its own anonymous mapping, not in the tracked heap, so that a snapshot kept
// for a later compare_to() is not itself a difference. statistics() and compare_to() return
// ordinary containers (tracked, as any of the program's memory). Empty without allocation
// stacks (MEMTRACK_STACK_DEPTH=0) or when memtrack is not loaded. Not thread-safe per object.
class Snapshot {
public:
    // What a statistic groups by: the first program frame's "file:line" (tracemalloc's
    // "lineno"), its file only ("filename"), its function ("function"), or the whole stack
    // ("traceback": one entry per site).
    enum class Key { lineno, filename, function, traceback };

    // "lineno", "filename", "function" or "traceback"; std::invalid_argument otherwise.
    static Key parse_key(std::string_view name)
    {
        if (name == "lineno") return Key::lineno;
        if (name == "filename") return Key::filename;
        if (name == "function") return Key::function;
        if (name == "traceback") return Key::traceback;
        throw std::invalid_argument("memtrack: unknown snapshot key (use lineno, filename, "
                                    "function or traceback)");
    }

    // One group: its key's text, its live bytes and blocks, and the site holding the most of
    // them (the whole group for "traceback").
    struct Statistic {
        std::string key;
        std::int64_t size = 0;
        std::int64_t count = 0;
        std::uint32_t stack = 0;
    };
    // A group in two snapshots (tracemalloc's StatisticDiff): now and the change since `old`.
    struct StatisticDiff {
        std::string key;
        std::int64_t size = 0;
        std::int64_t size_diff = 0;
        std::int64_t count = 0;
        std::int64_t count_diff = 0;
        std::uint32_t stack = 0;
    };

    Snapshot() noexcept = default;
    Snapshot(Snapshot&& o) noexcept
        : sites_(std::exchange(o.sites_, nullptr)), n_(std::exchange(o.n_, 0)),
          mapped_(std::exchange(o.mapped_, 0)), peak_(o.peak_)
    {
    }
    Snapshot& operator=(Snapshot&& o) noexcept
    {
        if (this != &o) {
            release();
            sites_ = std::exchange(o.sites_, nullptr);
            n_ = std::exchange(o.n_, 0);
            mapped_ = std::exchange(o.mapped_, 0);
            peak_ = o.peak_;
        }
        return *this;
    }
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;
    ~Snapshot() { release(); }

    // The sites, largest share first (memtrack_site: live_bytes/live_blocks for take_snapshot,
    // peak_bytes/peak_blocks for peak_sites; see bytes() and blocks()).
    std::span<const memtrack_site> sites() const noexcept { return {sites_, n_}; }
    bool is_peak() const noexcept { return peak_; }
    std::int64_t bytes(const memtrack_site& s) const noexcept
    {
        return peak_ ? s.peak_bytes : s.live_bytes;
    }
    std::int64_t blocks(const memtrack_site& s) const noexcept
    {
        return peak_ ? s.peak_blocks : s.live_blocks;
    }
    // The sum of bytes() over the sites.
    std::int64_t total_bytes() const noexcept
    {
        std::int64_t t = 0;
        for (const memtrack_site& s : sites())
            t += bytes(s);
        return t;
    }

    // Groups by `key`, the largest size first (ties: the larger count, then the key).
    std::vector<Statistic> statistics(Key key) const
    {
        std::vector<Statistic> out;
        for (auto& [k, st] : group(key))
            out.push_back(std::move(st));
        std::sort(out.begin(), out.end(), [](const Statistic& a, const Statistic& b) {
            return std::tie(b.size, b.count, a.key) < std::tie(a.size, a.count, b.key);
        });
        return out;
    }
    std::vector<Statistic> statistics(std::string_view key) const
    {
        return statistics(parse_key(key));
    }

    // Every group of either snapshot, sorted by the size of the change, largest first (then
    // by size, the change of count and count, as tracemalloc sorts).
    std::vector<StatisticDiff> compare_to(const Snapshot& old, Key key) const
    {
        auto now = group(key);
        const auto before = old.group(key);
        std::vector<StatisticDiff> out;
        for (auto& [k, st] : now) {
            StatisticDiff d{st.key, st.size, st.size, st.count, st.count, st.stack};
            if (const auto it = before.find(k); it != before.end()) {
                d.size_diff -= it->second.size;
                d.count_diff -= it->second.count;
            }
            out.push_back(std::move(d));
        }
        for (const auto& [k, st] : before)
            if (!now.contains(k)) out.push_back({st.key, 0, -st.size, 0, -st.count, st.stack});
        std::sort(out.begin(), out.end(), [](const StatisticDiff& a, const StatisticDiff& b) {
            const auto rank = [](const StatisticDiff& d) {
                return std::make_tuple(std::llabs(d.size_diff), d.size, std::llabs(d.count_diff),
                                       d.count);
            };
            if (rank(a) != rank(b)) return rank(a) > rank(b);
            return a.key < b.key;
        });
        return out;
    }
    std::vector<StatisticDiff> compare_to(const Snapshot& old, std::string_view key) const
    {
        return compare_to(old, parse_key(key));
    }

    // The first program frame of `stack` (the first outside /usr/): "function" and "file:line"
    // ("" when unknown). Symbolizes in the library: slow the first time for each stack.
    struct Location {
        std::string function;
        std::string file_line;
    };
    static Location location(std::uint32_t stack)
    {
        if (stack == 0) return {"<no stack>", ""};
        char buf[1024];
        const int n = memtrack_stack_location(stack, buf, sizeof buf);
        if (n < 0) return {"<unknown>", ""};
        const std::string_view text(
            buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
        // "function file:line": the text after the last space when it ends in ":digits".
        const auto space = text.rfind(' ');
        if (space != std::string_view::npos) {
            const std::string_view tail = text.substr(space + 1);
            const auto colon = tail.rfind(':');
            if (colon != std::string_view::npos && colon + 1 < tail.size() &&
                tail.find_first_not_of("0123456789", colon + 1) == std::string_view::npos)
                return {std::string(text.substr(0, space)), std::string(tail)};
        }
        return {std::string(text), ""};
    }

    // For take_snapshot() and peak_sites(): copies the library's sites into a new mapping.
    static Snapshot copy(size_t (*source)(memtrack_site*, size_t), bool peak)
    {
        Snapshot s;
        s.peak_ = peak;
        for (std::size_t want = source(nullptr, 0) + 64;; want *= 2) {
            const std::size_t len = want * sizeof(memtrack_site);
            void* m =
                mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED) throw std::bad_alloc();
            auto* sites = static_cast<memtrack_site*>(m);
            sites[0] = memtrack_site_init();
            const std::size_t n = source(sites, want);
            if (n <= want) {
                s.sites_ = sites;
                s.n_ = n;
                s.mapped_ = len;
                return s;
            }
            munmap(m, len);  // more sites appeared meanwhile
        }
    }

private:
    std::map<std::string, Statistic> group(Key key) const
    {
        std::map<std::string, Statistic> groups;
        std::map<std::uint32_t, Location> where;
        for (const memtrack_site& s : sites()) {
            if (bytes(s) <= 0 && blocks(s) <= 0) continue;
            std::string k;
            std::string text;
            if (key == Key::traceback) {
                k = std::to_string(s.stack);
                const Location l = location(s.stack);
                // Several stacks can share their first program frame: the id tells them apart.
                text = (l.file_line.empty() ? l.function : l.function + " " + l.file_line) +
                       " (stack " + k + ")";
            } else {
                auto it = where.find(s.stack);
                if (it == where.end()) it = where.emplace(s.stack, location(s.stack)).first;
                const Location& l = it->second;
                if (key == Key::function || s.stack == 0)
                    k = l.function;
                else if (l.file_line.empty())
                    k = "<unknown>";
                else if (key == Key::lineno)
                    k = l.file_line;
                else
                    k = l.file_line.substr(0, l.file_line.rfind(':'));
                text = k;
            }
            Statistic& st = groups[k];
            if (st.key.empty()) st.key = text;
            // The sites come largest share first: the first one of a group holds the most.
            if (st.size == 0 && st.count == 0) st.stack = s.stack;
            st.size += bytes(s);
            st.count += blocks(s);
        }
        return groups;
    }

    void release() noexcept
    {
        if (sites_ != nullptr) munmap(sites_, mapped_);
        sites_ = nullptr;
        n_ = mapped_ = 0;
    }

    memtrack_site* sites_ = nullptr;
    std::size_t n_ = 0;
    std::size_t mapped_ = 0;
    bool peak_ = false;
};

// The live heap by site now (memtrack_take_snapshot).
inline Snapshot take_snapshot()
{
    return Snapshot::copy(&memtrack_take_snapshot, false);
}

// The sites holding the peak since start or the last reset_peak() (memtrack_peak_sites).
inline Snapshot peak_sites()
{
    return Snapshot::copy(&memtrack_peak_sites, true);
}

}  // namespace memtrack

// "{}" human units; "{:B}", "{:KiB}", "{:.3GiB}", "{:MB}" fixed units. Default precision 2.
template <> struct fmt::formatter<memtrack::Bytes> {
    int precision = 2;
    memtrack::Unit unit = memtrack::Unit::Auto;

    constexpr auto parse(format_parse_context& ctx) -> decltype(ctx.begin())
    {
        auto it = ctx.begin();
        const auto end = ctx.end();
        if (it != end && *it == '.') {
            ++it;
            if (it == end || *it < '0' || *it > '9') throw format_error("memtrack: bad precision");
            precision = 0;
            while (it != end && *it >= '0' && *it <= '9')
                precision = precision * 10 + (*it++ - '0');
        }
        auto name_begin = it;
        while (it != end && *it != '}')
            ++it;
        std::string_view name(name_begin, static_cast<std::size_t>(it - name_begin));
        if (!name.empty()) {
            // Same table as parse_unit, but a format_error (a compile-time error when the
            // format string is checked at compile time).
            bool found = false;
            for (auto u : {memtrack::Unit::B, memtrack::Unit::KiB, memtrack::Unit::MiB,
                           memtrack::Unit::GiB, memtrack::Unit::TiB, memtrack::Unit::KB,
                           memtrack::Unit::MB, memtrack::Unit::GB, memtrack::Unit::TB}) {
                if (memtrack::unit_name(u) == name) {
                    unit = u;
                    found = true;
                }
            }
            if (!found)
                throw format_error("memtrack: unknown byte unit (use B, KiB, MiB, GiB, TiB, "
                                   "KB, MB, GB or TB)");
        }
        return it;
    }

    template <class Ctx> auto format(memtrack::Bytes b, Ctx& ctx) const -> decltype(ctx.out())
    {
        const memtrack::Unit u = unit == memtrack::Unit::Auto ? memtrack::auto_unit(b.value) : unit;
        if (u == memtrack::Unit::B) return fmt::format_to(ctx.out(), "{} B", b.value);
        return fmt::format_to(ctx.out(), "{:.{}f} {}", b.in(u), precision, memtrack::unit_name(u));
    }
};

// "current 1.00 GiB, peak 3.00 GiB"; a unit spec applies to both numbers ("{:MiB}").
template <> struct fmt::formatter<memtrack::Measurement> : fmt::formatter<memtrack::Bytes> {
    template <class Ctx>
    auto format(const memtrack::Measurement& m, Ctx& ctx) const -> decltype(ctx.out())
    {
        auto out = fmt::format_to(ctx.out(), "current ");
        ctx.advance_to(out);
        out = fmt::formatter<memtrack::Bytes>::format(m.current, ctx);
        out = fmt::format_to(out, ", peak ");
        ctx.advance_to(out);
        return fmt::formatter<memtrack::Bytes>::format(m.peak, ctx);
    }
};

// tracemalloc's str(Statistic): "demo.cpp:41: size=1.00 MiB, count=3, average=341.33 KiB".
template <> struct fmt::formatter<memtrack::Snapshot::Statistic> {
    constexpr auto parse(format_parse_context& ctx) -> decltype(ctx.begin()) { return ctx.begin(); }
    template <class Ctx>
    auto format(const memtrack::Snapshot::Statistic& s, Ctx& ctx) const -> decltype(ctx.out())
    {
        auto out = fmt::format_to(ctx.out(), "{}: size={}, count={}", s.key,
                                  memtrack::Bytes{s.size}, s.count);
        if (s.count > 0)
            out = fmt::format_to(out, ", average={}", memtrack::Bytes{s.size / s.count});
        return out;
    }
};

// tracemalloc's str(StatisticDiff): "demo.cpp:41: size=1.00 MiB (+1.00 MiB), count=3 (+3),
// average=341.33 KiB".
template <> struct fmt::formatter<memtrack::Snapshot::StatisticDiff> {
    constexpr auto parse(format_parse_context& ctx) -> decltype(ctx.begin()) { return ctx.begin(); }
    template <class Ctx>
    auto format(const memtrack::Snapshot::StatisticDiff& d, Ctx& ctx) const -> decltype(ctx.out())
    {
        const auto sign = [](std::int64_t v) { return v >= 0 ? "+" : "-"; };
        auto out = fmt::format_to(ctx.out(), "{}: size={} ({}{}), count={} ({}{})", d.key,
                                  memtrack::Bytes{d.size}, sign(d.size_diff),
                                  memtrack::Bytes{std::llabs(d.size_diff)}, d.count,
                                  d.count_diff >= 0 ? "+" : "", d.count_diff);
        if (d.count > 0)
            out = fmt::format_to(out, ", average={}", memtrack::Bytes{d.size / d.count});
        return out;
    }
};
