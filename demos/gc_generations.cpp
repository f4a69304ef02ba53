// The lecture's gc cells for a native heap: gc.get_threshold(), gc.get_count() growing with
// allocations, gc.collect() moving survivors through generations 0 -> 1 -> 2, a collect() that
// finds dropped objects (the lecture's `gc.collect()` -> 10), and gc.set_threshold(1000, 15, 15).
// memtrack's collect() scans and counts; it never frees.
//
//   build/bin/gc_generations [--objects 500] [--drop 10]
//   build/bin/memtrack -- build/bin/gc_generations      (the exit report lists the dropped ones)
#include <memtrack/memtrack.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

constexpr std::size_t kObjectBytes = 64;

// fmt into a caller's stack buffer: no heap block that would show in the counts.
template <class... Args>
const char* line(char (&buf)[96], fmt::format_string<Args...> format, Args&&... args)
{
    const auto end = fmt::format_to_n(buf, sizeof buf - 1, format, std::forward<Args>(args)...);
    *end.out = '\0';
    return buf;
}

void print_count(const char* why)
{
    std::int64_t c0 = 0, c1 = 0, c2 = 0;
    memtrack_get_count(&c0, &c1, &c2);
    char value[96];
    fmt::print("{:<30} -> {:<16} {}\n", "gc.get_count()", line(value, "({}, {}, {})", c0, c1, c2),
               why);
}

std::int64_t collect(int generation, const char* why)
{
    const std::int64_t found = memtrack_collect(generation);
    char call[96], value[96];
    fmt::print("{:<30} -> {:<16} {}\n", line(call, "gc.collect({})", generation),
               line(value, "{} unreachable", found), why);
    return found;
}

memtrack_gc_stats gc_stats()
{
    memtrack_gc_stats s = memtrack_gc_stats_init();
    memtrack_gc_get_stats(&s);
    return s;
}

// Live blocks per generation as of the last scan, and how many of them are this demo's: all but
// the `before` blocks the runtime held when the demo started (stdout's buffer, libstdc++'s
// exception pool, ...).
void print_generations(std::uint64_t before)
{
    const memtrack_gc_stats s = gc_stats();
    const std::uint64_t total = s.live_blocks[0] + s.live_blocks[1] + s.live_blocks[2];
    fmt::print("{:<30}    gen0 {}, gen1 {}, gen2 {} ({} of them this demo's)\n",
               "  live blocks by generation", s.live_blocks[0], s.live_blocks[1], s.live_blocks[2],
               total - before);
}

// Out of line, so that no copy of the objects' pointers stays in main's registers: the scan is
// conservative and would count such a copy as a reference (as LeakSanitizer does).
[[gnu::noinline]] void allocate_objects(std::vector<void*>& objs, std::size_t n)
{
    for (std::size_t i = 0; i < n; ++i)
        objs.push_back(std::malloc(kObjectBytes));
}

// Stale pointers in dead stack frames count too; a real program's later calls overwrite them,
// here the next call is the scan, so they are cleared first.
[[gnu::noinline]] void clear_dead_frames()
{
    volatile char area[16384];
    for (std::size_t i = 0; i < sizeof area; ++i)
        area[i] = 0;
}

// A count: digits only, at most 10 million.
std::size_t parse_count(std::string_view text)
{
    std::size_t n = 0;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), n);
    if (res.ec != std::errc{} || res.ptr != text.data() + text.size() || n > 10'000'000)
        throw std::invalid_argument("not a count from 0 to 10000000: " + std::string(text));
    return n;
}

}  // namespace

int main(int argc, char** argv)
{
    std::size_t objects = 500;
    std::optional<std::size_t> drop;  // default: 10, as many as the lecture's collect() found
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        try {
            if (arg == "--objects" && i + 1 < argc)
                objects = parse_count(argv[++i]);
            else if (arg == "--drop" && i + 1 < argc)
                drop = parse_count(argv[++i]);
            else
                throw std::invalid_argument("unknown argument " + arg);
        } catch (const std::exception& e) {
            fmt::print(stderr, "{}: {}\nusage: {} [--objects N] [--drop N]\n", argv[0], e.what(),
                       argv[0]);
            return 2;
        }
    }
    const std::size_t dropped = drop.value_or(std::min<std::size_t>(10, objects));
    if (dropped > objects) {
        fmt::print(stderr,
                   "{}: --drop {} is more than --objects {}\nusage: {} [--objects N] [--drop N]\n",
                   argv[0], dropped, objects, argv[0]);
        return 2;
    }
    if (!memtrack::is_active()) {
        fmt::print(stderr, "gc_generations: memtrack is not tracking this process's allocations "
                           "(memtrack_is_active() == 0: another malloc comes first, e.g. one in "
                           "LD_PRELOAD).\nRun it as built: build/bin/gc_generations, or "
                           "build/bin/memtrack -- build/bin/gc_generations\n");
        return 1;
    }
    int t0 = 0, t1 = 0, t2 = 0;
    memtrack_get_threshold(&t0, &t1, &t2);
    fmt::print("{:<30} -> ({}, {}, {})\n", "gc.get_threshold()", t0, t1, t2);
    // A clean start: every block the runtime holds now survives into generation 1.
    collect(2, "a full collection first: the runtime's blocks move up");
    const memtrack_gc_stats start = gc_stats();
    const std::uint64_t before = start.live_blocks[0] + start.live_blocks[1] + start.live_blocks[2];
    print_count("counts reset");

    // The vector's storage is the demo's first block (1 + objects in all). Lines are formatted
    // into stack buffers so that the counts show the demo's blocks only.
    std::vector<void*> objs;
    objs.reserve(objects == 0 ? 1 : objects);
    print_count("+ 1: the vector that will hold the objects");
    allocate_objects(objs, objects);
    char why[96];
    print_count(
        line(why, "+ {} objects of {} B: count0 is allocations - frees", objects, kObjectBytes));

    collect(0, "scans generation 0: everything is reachable");
    print_count("count0 reset, one more generation-0 scan");
    print_generations(before);
    collect(0, "generation 0 is empty: nothing moves");
    print_count("count1 counts the generation-0 scans");
    collect(1, "scans generations 0 and 1: survivors move to 2");
    print_count("count1 reset, one generation-1 scan");
    print_generations(before);

    // `del` without freeing: the first `dropped` objects lose their only pointer.
    for (std::size_t i = 0; i < dropped; ++i)
        objs[i] = nullptr;
    clear_dead_frames();
    fmt::print("{:<30}    {} objects lose their only pointer: leaked, not freed\n",
               line(why, "objs[0..{}) = nullptr", dropped), dropped);
    collect(2, "finds them, as the lecture's gc.collect() -> 10; frees nothing");
    print_count("all counts reset");
    print_generations(before);

    const memtrack_gc_stats end = gc_stats();
    fmt::print("{:<30}    gen0 {}, gen1 {}, gen2 {}; unreachable found {}, {}, {}\n",
               "  scans so far", end.collections[0], end.collections[1], end.collections[2],
               end.collected[0], end.collected[1], end.collected[2]);

    memtrack_set_threshold(1000, 15, 15);
    memtrack_get_threshold(&t0, &t1, &t2);
    fmt::print("{:<30} -> ({}, {}, {})   after gc.set_threshold(1000, 15, 15)\n",
               "gc.get_threshold()", t0, t1, t2);
    for (void* p : objs)
        std::free(p);
    return 0;
}
