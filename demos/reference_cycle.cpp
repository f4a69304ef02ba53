// The lecture's reference cycle: `a.obj = a; del a` leaves an object only its own reference
// keeps alive; Python's cycle collector finds it. In C++ the same happens with std::shared_ptr:
// a cycle of shared_ptrs is never freed. memtrack's leak check names such cycles; collect()
// returns how many unreachable blocks it finds (it reports, it never frees).
//
//   build/bin/reference_cycle                      (linked with libmemtrack: no launcher needed)
//   build/bin/memtrack -- build/bin/reference_cycle
// The report at exit (stderr and JSON) names each cycle with its members in cycle order.
#include <memtrack/memtrack.hpp>

#include <fmt/core.h>

#include <cstdint>
#include <memory>

namespace {

struct Obj {
    std::shared_ptr<Obj> obj;  // a strong reference: cycles of these leak
    std::weak_ptr<Obj> weak;   // a weak one: breaks the cycle
    char payload[200] = {};
};

[[gnu::noinline]] void self_cycle()
{
    auto a = std::make_shared<Obj>();
    a->obj = a;  // a.obj = a
}  // del a: the count never drops to zero

[[gnu::noinline]] void two_cycle()
{
    auto a = std::make_shared<Obj>();
    auto b = std::make_shared<Obj>();
    a->obj = b;
    b->obj = a;
}

[[gnu::noinline]] void three_cycle()
{
    auto a = std::make_shared<Obj>();
    auto b = std::make_shared<Obj>();
    auto c = std::make_shared<Obj>();
    a->obj = b;
    b->obj = c;
    c->obj = a;
}

[[gnu::noinline]] void weak_cycle()
{
    auto a = std::make_shared<Obj>();
    auto b = std::make_shared<Obj>();
    a->obj = b;
    b->weak = a;  // the back reference is weak: both are freed here
}

// The scan is conservative: copies of pointers left in dead stack frames count, as they would
// for LeakSanitizer. A real program's later calls overwrite them; here the next call would be
// the scan itself, so each case's dead frames are cleared first.
[[gnu::noinline]] void clear_dead_frames()
{
    volatile char area[16384];
    for (std::size_t i = 0; i < sizeof area; ++i)
        area[i] = 0;
}

// Bytes of one make_shared<Obj>() block (the control block with the Obj in it), as memtrack
// counts them: what the cycles' members weigh in the report.
[[gnu::noinline]] std::int64_t obj_block_bytes()
{
    const std::int64_t before = memtrack::current_bytes();
    const auto probe = std::make_shared<Obj>();
    return memtrack::current_bytes() - before;
}

struct Case {
    const char* name;
    const char* cpp;
    const char* python;
    void (*run)();
    const char* why;
};

constexpr Case kCases[] = {
    {"self cycle", "a->obj = a", "a.obj = a; del a", self_cycle,
     "a owns itself, so its use count never drops to 0"},
    {"2-cycle", "a->obj = b; b->obj = a", "a.obj = b; b.obj = a; del a, b", two_cycle,
     "a and b own each other: both counts stay at 1"},
    {"3-cycle", "a->obj = b; b->obj = c; c->obj = a",
     "a.obj = b; b.obj = c; c.obj = a; del a, b, c", three_cycle,
     "each of a, b, c is owned by the one before it"},
    {"weak_ptr", "a->obj = b; b->weak = a", "a.obj = b; b.obj = weakref.ref(a); del a, b",
     weak_cycle, "b->weak does not own a: a is freed, then b with it"},
};

}  // namespace

int main(int argc, char** argv)
{
    if (argc > 1) {
        fmt::print(stderr, "{}: unknown argument {}\nusage: {}\n", argv[0], argv[1], argv[0]);
        return 2;
    }
    if (!memtrack::is_active()) {
        fmt::print(
            stderr,
            "reference_cycle: memtrack is not tracking this process's allocations "
            "(memtrack_is_active() == 0: another malloc comes first, e.g. one in "
            "LD_PRELOAD), so collect() cannot see the cycles.\nRun it as built: "
            "build/bin/reference_cycle, or build/bin/memtrack -- build/bin/reference_cycle\n");
        return 1;
    }
    fmt::print("reference_cycle: std::shared_ptr cycles; each make_shared<Obj>() is one {} B "
               "block\n",
               obj_block_bytes());
    // What the runtime itself holds unreachable, if anything: the cases count from here.
    std::int64_t previous = memtrack_collect(2);
    fmt::print("memtrack_collect(2) before the cases -> {} unreachable blocks\n\n", previous);
    for (const Case& c : kCases) {
        c.run();
        clear_dead_frames();
        const std::int64_t found = memtrack_collect(2);
        fmt::print("{:<12} C++: {:<36} Python: {}\n", c.name, c.cpp, c.python);
        fmt::print("{:<12} collect(2) -> {} unreachable ({} new): {}\n", "", found,
                   found - previous, c.why);
        previous = found;
    }
    fmt::print("\nmemtrack reports and never frees (Python's gc.collect() would free them), so "
               "each\ncollect(2) counts the earlier cycles again. The report at exit names the "
               "3 cycles.\n");
    return 0;
}
