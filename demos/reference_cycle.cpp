// The lecture's reference cycle: `a.obj = a; del a` leaves an object only its own reference
// keeps alive; Python's cycle collector finds it. In C++ the same happens with std::shared_ptr:
// a cycle of shared_ptrs is never freed. memtrack's leak check names such cycles; collect()
// returns how many unreachable blocks it finds (it reports, it never frees).
//
//   build/bin/reference_cycle          (the report at exit shows each cycle, in cycle order)
#include <memtrack/memtrack.h>

#include <fmt/core.h>

#include <cstdint>
#include <memory>

namespace {

struct Obj {
    std::shared_ptr<Obj> obj;  // a strong reference: cycles of these leak
    std::weak_ptr<Obj> weak;   // a weak one: breaks the cycle
    char payload[200] = {};
};

std::int64_t g_found = 0;

// Scans and prints how many more unreachable blocks there are than after the last case.
void report(const char* what, const char* python)
{
    const std::int64_t found = memtrack_collect(2);
    fmt::print("{:<34} {:<28} collect() found {} new unreachable block{}\n", what, python,
               found - g_found, found - g_found == 1 ? "" : "s");
    g_found = found;
}

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

}  // namespace

int main()
{
    if (memtrack_is_active() == 0) {
        fmt::print(stderr, "reference_cycle: memtrack is not tracking this process (run "
                           "build/bin/reference_cycle from this build, or under memtrack)\n");
        return 1;
    }
    g_found = memtrack_collect(2);  // what the runtime itself holds unreachable, if anything
    fmt::print("{:<34} {:<28} {}\n", "C++ (std::shared_ptr)", "Python", "memtrack");
    self_cycle();
    clear_dead_frames();
    report("self cycle: a->obj = a", "a.obj = a; del a");
    two_cycle();
    clear_dead_frames();
    report("2-cycle: a->obj = b, b->obj = a", "a.obj = b; b.obj = a");
    three_cycle();
    clear_dead_frames();
    report("3-cycle: a -> b -> c -> a", "a.obj = b; b.obj = c; ...");
    weak_cycle();
    clear_dead_frames();
    report("weak back reference: b->weak = a", "b.obj = weakref.ref(a)");
    fmt::print("(each make_shared<Obj> is one block: the control block with the object in it; "
               "the report at exit names the cycles)\n");
    return 0;
}
