// tracemalloc's "Compute differences" example in C++: take a snapshot, run code that keeps
// memory, take another, and print the top 10 differences grouped by source line; then the
// sites that held the peak of one phase (memtrack::peak_sites after reset_peak).
//
//   build/bin/snapshot_diff [--leaks 100]
//
// Python's version (https://docs.python.org/3/library/tracemalloc.html):
//   snapshot1 = tracemalloc.take_snapshot()
//   # ... call the function leaking memory ...
//   snapshot2 = tracemalloc.take_snapshot()
//   top_stats = snapshot2.compare_to(snapshot1, 'lineno')
//   print("[ Top 10 differences ]")
//   for stat in top_stats[:10]:
//       print(stat)
#include "demo_common.hpp"

#include <memtrack/memtrack.hpp>

#include <fmt/core.h>

#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace {

std::vector<std::unique_ptr<char[]>> g_cache;   // filled at start-up, half dropped later
std::vector<std::unique_ptr<char[]>> g_leaked;  // what the "leaking" function keeps

// The application's start-up: a cache of 100 blocks of 1000 bytes.
[[gnu::noinline]] void start_application()
{
    g_cache.reserve(100);
    for (int i = 0; i < 100; ++i) {
        auto block = std::make_unique<char[]>(1000);
        g_cache.push_back(std::move(block));
    }
}

// The function leaking memory: keeps `n` blocks of 4 KiB, and uses a 1 MiB scratch buffer
// that it frees (so it is in no snapshot, but it is in this phase's peak).
[[gnu::noinline]] void leaking_function(int n)
{
    for (int i = 0; i < n; ++i) {
        auto block = std::make_unique<char[]>(4096);
        std::memset(block.get(), i, 4096);
        g_leaked.push_back(std::move(block));
    }
    auto scratch = std::make_unique<char[]>(1 << 20);
    std::memset(scratch.get(), 1, 1 << 20);
    demo::keep(scratch[4096]);
}

// Half the cache goes: a negative difference.
[[gnu::noinline]] void trim_cache()
{
    g_cache.resize(50);
}

int usage(const char* argv0, const std::string& why)
{
    fmt::print(stderr, "{}: {}\nusage: {} [--leaks N]\n", argv0, why, argv0);
    return 2;
}

}  // namespace

int main(int argc, char** argv)
{
    int leaks = 100;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg != "--leaks") return usage(argv[0], "unknown argument " + arg);
        if (i + 1 >= argc) return usage(argv[0], "--leaks needs a value");
        try {
            leaks = std::stoi(argv[++i]);
        } catch (const std::exception& e) {
            return usage(argv[0], std::string("bad value: ") + e.what());
        }
        if (leaks <= 0) return usage(argv[0], "--leaks must be positive");
    }
    fmt::print(
        "snapshot_diff: tracemalloc's \"top 10 differences\" with memtrack::take_snapshot\n");
    if (!memtrack::is_active() || memtrack::take_snapshot().sites().empty()) {
        fmt::print("memtrack is not tracking allocation sites here (not active, or "
                   "MEMTRACK_STACK_DEPTH=0): nothing to show\n");
        return 0;
    }

    start_application();
    const memtrack::Snapshot snapshot1 = memtrack::take_snapshot();
    memtrack::reset_peak();
    leaking_function(leaks);
    trim_cache();
    const memtrack::Snapshot snapshot2 = memtrack::take_snapshot();
    // What held this phase's peak: the scratch buffer and the blocks kept until then.
    const memtrack::Snapshot peak = memtrack::peak_sites();

    fmt::print("\n[ Top 10 differences ]\n");
    const auto diffs = snapshot2.compare_to(snapshot1, "lineno");
    for (std::size_t i = 0; i < diffs.size() && i < 10; ++i)
        fmt::print("{}\n", diffs[i]);

    fmt::print("\n[ Top 5 lines now ]\n");
    const auto now = snapshot2.statistics("lineno");
    for (std::size_t i = 0; i < now.size() && i < 5; ++i)
        fmt::print("{}\n", now[i]);

    fmt::print("\n[ What held the peak of leaking_function + trim_cache, by function ]\n");
    const auto held = peak.statistics("function");
    for (std::size_t i = 0; i < held.size() && i < 5; ++i)
        fmt::print("{}\n", held[i]);
    fmt::print("\nThe snapshots' own site arrays are not in the tracked heap, so they are no "
               "difference.\n");
    return 0;
}
