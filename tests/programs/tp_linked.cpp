// Links memtrack::memtrack (no LD_PRELOAD): tracking is active and the C++ API gives exact
// numbers for marker allocations. `tp_linked report PATH` also writes a report mid-run.
#include <memtrack/memtrack.h>
#include <memtrack/memtrack.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {
void* volatile sink;

// `tp_linked capi`: the C API, linked: active, and exact current/peak for marker blocks.
int c_api()
{
    if (memtrack_is_active() != 1) return 10;
    memtrack_stats a = memtrack_stats_init();
    if (memtrack_get_stats(&a) != 0 || a.version != MEMTRACK_STATS_VERSION) return 11;
    memtrack_reset_peak();
    void* p = std::malloc(10007);
    void* q = std::malloc(20011);
    std::memset(p, 1, 10007);
    std::memset(q, 2, 20011);
    sink = p;
    std::free(q);
    memtrack_stats b = memtrack_stats_init();
    memtrack_get_stats(&b);
    std::free(p);
    memtrack_stats c = memtrack_stats_init();
    memtrack_get_stats(&c);
    std::printf("current %lld peak %lld allocations %llu frees %llu after %lld lifetime %d\n",
                static_cast<long long>(b.current_bytes - a.current_bytes),
                static_cast<long long>(b.peak_bytes - a.current_bytes),
                static_cast<unsigned long long>(b.allocations - a.allocations),
                static_cast<unsigned long long>(c.frees - a.frees),
                static_cast<long long>(c.current_bytes - a.current_bytes),
                c.lifetime_peak_bytes >= b.peak_bytes ? 1 : 0);
    memtrack_stats too_small = memtrack_stats_init();
    too_small.size = 4;
    if (memtrack_get_stats(&too_small) != -1 || memtrack_get_stats(nullptr) != -1) return 12;
    return 0;
}
}  // namespace

int main(int argc, char** argv)
{
    if (argc > 1 && std::string(argv[1]) == "capi") return c_api();
    if (!memtrack::is_active()) {
        std::printf("FAIL: not active\n");
        return 1;
    }
    std::vector<char> held(50021, 3);
    if (argc > 2 && std::string(argv[1]) == "report") {
        if (!memtrack::write_report(argv[2])) return 3;
        return held[7] == 3 ? 0 : 1;
    }
    const memtrack::Measurement m = memtrack::measure([] {
        std::vector<char> a(10007, 1);
        std::vector<char> b(20011, 2);
        return a[5] + b[7];
    });
    fmt::print("current {} peak {}\n", m.current.value, m.peak.value);
    return m.current.value == 0 && m.peak.value == 10007 + 20011 ? 0 : 1;
}
