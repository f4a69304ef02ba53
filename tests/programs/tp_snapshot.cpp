// The C++ snapshot API (issue 10): memtrack::take_snapshot, Snapshot::statistics and
// compare_to by each key, memtrack::peak_sites after reset_peak. Linked with libmemtrack; prints
// one line per result for tests/integration/core/test_sites.cpp to check exact values. Only
// the sites of tp_snap_* are printed (libc's start-up and the printing allocate too).
#include <memtrack/memtrack.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <string>
#include <vector>

extern "C" {
[[gnu::noinline]] void* tp_snap_a(std::size_t n)
{
    return std::malloc(n);
}
[[gnu::noinline]] void* tp_snap_b(std::size_t n)
{
    return std::malloc(n);
}
}

namespace {

bool ours(const std::string& key)
{
    return key.find("tp_snap_") != std::string::npos ||
           key.find("tp_snapshot.cpp") != std::string::npos;
}

// "what: <the formatter's text> | size count" (the raw numbers after the bar)
void print(const char* what, const std::vector<memtrack::Snapshot::Statistic>& list)
{
    for (const auto& s : list)
        if (ours(s.key)) fmt::print("{}: {} | {} {}\n", what, s, s.size, s.count);
}

// "what: <text> | size size_diff count count_diff"
void print(const char* what, const std::vector<memtrack::Snapshot::StatisticDiff>& list)
{
    for (const auto& s : list)
        if (ours(s.key))
            fmt::print("{}: {} | {} {} {} {}\n", what, s, s.size, s.size_diff, s.count,
                       s.count_diff);
}

}  // namespace

int main()
{
    std::vector<void*> keep;
    keep.reserve(64);
    for (int i = 0; i < 3; ++i)
        keep.push_back(tp_snap_a(10007));
    const memtrack::Snapshot s1 = memtrack::take_snapshot();
    for (int i = 0; i < 2; ++i)
        keep.push_back(tp_snap_a(10007));  // a second call site of tp_snap_a: another stack
    for (int i = 0; i < 4; ++i)
        keep.push_back(tp_snap_b(20011));
    std::free(keep[0]);
    keep[0] = nullptr;
    // Taking a snapshot allocates nothing in the tracked heap, and its sites sum to the heap.
    const std::int64_t before = memtrack::current_bytes();
    const memtrack::Snapshot s2 = memtrack::take_snapshot();
    const std::int64_t after = memtrack::current_bytes();
    fmt::print("heap before={} after={} snapshot total={}\n", before, after, s2.total_bytes());

    print("function", s2.statistics("function"));
    print("lineno", s2.statistics("lineno"));
    print("filename", s2.statistics(memtrack::Snapshot::Key::filename));
    std::size_t tracebacks = 0;
    for (const auto& s : s2.statistics("traceback"))
        tracebacks += s.key.find("tp_snap_a") != std::string::npos ? 1 : 0;
    fmt::print("traceback: {} stacks of tp_snap_a\n", tracebacks);
    print("diff function", s2.compare_to(s1, "function"));
    print("diff traceback", s2.compare_to(s1, "traceback"));

    // What held the peak since the reset: the kept blocks and a freed 300007-byte one.
    memtrack::reset_peak();
    std::free(tp_snap_b(300007));
    print("peak function", memtrack::peak_sites().statistics("function"));
    try {
        (void)s2.statistics("size");
    } catch (const std::invalid_argument& e) {
        fmt::print("bad key: {}\n", e.what());
    }
    for (void* p : keep)
        std::free(p);
    return 0;
}
