// Unit test main. The core's constructor runs in this process too and reads MEMTRACK_* at
// start-up, before main: the tests need it quiet (no report, no sampler thread) and in
// stats-only mode (the accounting tests drive the inline fast path). ctest's ENVIRONMENT
// property cannot carry several variables through catch_discover_tests (its list separator
// splits them), so the binary re-executes itself once with them set.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <unistd.h>

int main(int argc, char** argv)
{
    if (std::getenv("MEMTRACK_UNIT_ENV") == nullptr) {
        setenv("MEMTRACK_UNIT_ENV", "1", 1);
        setenv("MEMTRACK_REPORT", "none", 1);
        setenv("MEMTRACK_INTERVAL", "0", 1);
        setenv("MEMTRACK_STACK_DEPTH", "0", 1);
        setenv("MEMTRACK_LEAK_CHECK", "0", 1);
        execv("/proc/self/exe", argv);
        return 127;
    }
    return Catch::Session().run(argc, argv);
}
