// The lecture's gc cells for a native heap: gc.get_threshold(), gc.get_count() growing with
// allocations, gc.collect() moving survivors through generations 0 -> 1 -> 2, and
// gc.set_threshold(1000, 15, 15). memtrack's collect() scans and counts; it never frees.
//
//   build/bin/gc_generations [--objects 500]
#include "demo_common.hpp"

#include <memtrack/memtrack.h>

#include <fmt/core.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

void print_count(const char* after)
{
    std::int64_t c0 = 0, c1 = 0, c2 = 0;
    memtrack_get_count(&c0, &c1, &c2);
    fmt::print("gc.get_count()         -> ({}, {}, {})   {}\n", c0, c1, c2, after);
}

void print_generations()
{
    memtrack_gc_stats s = memtrack_gc_stats_init();
    memtrack_gc_get_stats(&s);
    fmt::print("    live blocks by generation: gen0 {}, gen1 {}, gen2 {}\n", s.live_blocks[0],
               s.live_blocks[1], s.live_blocks[2]);
}

void collect(int generation)
{
    const std::int64_t found = memtrack_collect(generation);
    fmt::print("gc.collect({})          -> {} unreachable\n", generation, found);
}

}  // namespace

int main(int argc, char** argv)
{
    std::size_t objects = 500;
    for (int i = 1; i + 1 < argc; i += 2)
        if (std::strcmp(argv[i], "--objects") == 0)
            objects = std::strtoul(argv[i + 1], nullptr, 10);
    if (memtrack_is_active() == 0) {
        fmt::print(stderr, "gc_generations: memtrack is not tracking this process\n");
        return 1;
    }
    int t0 = 0, t1 = 0, t2 = 0;
    memtrack_get_threshold(&t0, &t1, &t2);
    fmt::print("gc.get_threshold()     -> ({}, {}, {})\n", t0, t1, t2);
    collect(2);  // a clean start: every block the runtime holds is now in generation 1
    print_count("after a full collection");

    std::vector<void*> objs;
    objs.reserve(objects);  // one block, before counting
    const std::string label = fmt::format("after allocating {} objects", objects);  // one more
    print_count("the vector of objects and this line's text");
    for (std::size_t i = 0; i < objects; ++i)
        objs.push_back(std::malloc(64));
    print_count(label.c_str());

    collect(0);
    print_count("the young generation was scanned");
    print_generations();
    collect(0);
    print_count("generation 0 is empty now: nothing moves");
    collect(1);
    print_count("generation 1 scanned: its survivors move to 2");
    print_generations();
    collect(2);
    print_count("a full collection");
    print_generations();

    memtrack_set_threshold(1000, 15, 15);
    memtrack_get_threshold(&t0, &t1, &t2);
    fmt::print("gc.set_threshold(1000, 15, 15); gc.get_threshold() -> ({}, {}, {})\n", t0, t1, t2);
    for (void* p : objs)
        std::free(p);
    return 0;
}
