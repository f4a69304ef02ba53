// Links memtrack::memtrack (no LD_PRELOAD): tracking is active and the C++ API gives exact
// numbers for marker allocations. `tp_linked report PATH` also writes a report mid-run.
#include <memtrack/memtrack.hpp>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv)
{
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
