// memtrack public C++ API: the C API plus scoped measurement, measure(fn), memory_usage(fn),
// and byte formatting through fmt. Header-only over the C functions of memtrack.h; everything
// here runs in the caller's thread and may allocate through the tracked path unless it says not.
#pragma once

#include <memtrack/memtrack.h>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
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
