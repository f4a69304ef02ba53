// Links memtrack::memtrack (no LD_PRELOAD): tracking is active and the C++ API gives exact
// numbers for marker allocations.
#include <memtrack/memtrack.hpp>

#include <cstdio>
#include <vector>

int main()
{
    if (!memtrack::is_active()) {
        std::printf("FAIL: not active\n");
        return 1;
    }
    const memtrack::Measurement m = memtrack::measure([] {
        std::vector<char> a(10007, 1);
        std::vector<char> b(20011, 2);
        return a[5] + b[7];
    });
    fmt::print("current {} peak {}\n", m.current.value, m.peak.value);
    return m.current.value == 0 && m.peak.value == 10007 + 20011 ? 0 : 1;
}
