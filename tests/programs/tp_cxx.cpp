// C++ test program: every operator new/delete form, over-aligned new, new_handler semantics.
// tp_cxx forms | fail. Prints "FAIL: ..." and exits 1 on a failure.
#include "tp_stats.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <new>

namespace {

int failures = 0;
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::printf("FAIL: %s (line %d)\n", #cond, __LINE__);                                  \
            ++failures;                                                                            \
        }                                                                                          \
    } while (0)

bool aligned_to(const void* p, std::size_t a)
{
    return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

void reset_peak()
{
    using Fn = void (*)();
    static Fn fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "memtrack_reset_peak"));
    if (fn != nullptr) fn();
}

// Allocates with `alloc`, checks that exactly `size` bytes appeared (current, totals and the
// peak, reset just before), frees with `release`, checks that they are gone.
template <class Alloc, class Release>
void exact(const char* what, std::size_t size, std::size_t align, Alloc alloc, Release release)
{
    reset_peak();
    const memtrack_stats a = tp_stats();
    void* p = alloc();
    const memtrack_stats b = tp_stats();
    if (b.peak_bytes != a.current_bytes + static_cast<std::int64_t>(size) ||
        b.bytes_allocated - a.bytes_allocated != size) {
        std::printf("FAIL: %s: peak +%lld, +%llu bytes allocated, expected +%zu\n", what,
                    static_cast<long long>(b.peak_bytes - a.current_bytes),
                    static_cast<unsigned long long>(b.bytes_allocated - a.bytes_allocated), size);
        ++failures;
    }
    std::memset(p, 0x5a, size);
    if (align) CHECK(aligned_to(p, align));
    release(p);
    const memtrack_stats c = tp_stats();
    if (b.current_bytes - a.current_bytes != static_cast<std::int64_t>(size) ||
        b.allocations - a.allocations != 1 || c.current_bytes != a.current_bytes ||
        c.frees - a.frees != 1) {
        std::printf("FAIL: %s: +%lld bytes, +%llu allocations, then %lld left, %llu frees\n", what,
                    static_cast<long long>(b.current_bytes - a.current_bytes),
                    static_cast<unsigned long long>(b.allocations - a.allocations),
                    static_cast<long long>(c.current_bytes - a.current_bytes),
                    static_cast<unsigned long long>(c.frees - a.frees));
        ++failures;
    }
}

struct alignas(64) A64 {
    char c[100];
};
struct alignas(256) A256 {
    char c[300];
};
struct alignas(4096) A4096 {
    char c[5000];
};
struct alignas(1 << 20) A1M {
    char c[10];
};

int forms()
{
    using std::size_t;
    const std::nothrow_t& nt = std::nothrow;
    exact(
        "new", 1001, 16, [] { return ::operator new(1001); },
        [](void* p) { ::operator delete(p); });
    exact(
        "new[]", 1002, 16, [] { return ::operator new[](1002); },
        [](void* p) { ::operator delete[](p); });
    exact(
        "new nothrow", 1003, 16, [&] { return ::operator new(1003, nt); },
        [&](void* p) { ::operator delete(p, nt); });
    exact(
        "new[] nothrow", 1004, 16, [&] { return ::operator new[](1004, nt); },
        [&](void* p) { ::operator delete[](p, nt); });
    exact(
        "sized delete", 1005, 16, [] { return ::operator new(1005); },
        [](void* p) { ::operator delete (p, size_t{1005}); });
    exact(
        "sized delete[]", 1006, 16, [] { return ::operator new[](1006); },
        [](void* p) { ::operator delete[](p, size_t{1006}); });
    for (size_t a : {size_t{32}, size_t{64}, size_t{256}, size_t{4096}, size_t{1} << 20}) {
        const auto al = std::align_val_t{a};
        exact(
            "aligned new", 2001, a, [&] { return ::operator new(2001, al); },
            [&](void* p) { ::operator delete(p, al); });
        exact(
            "aligned new[]", 2002, a, [&] { return ::operator new[](2002, al); },
            [&](void* p) { ::operator delete[](p, al); });
        exact(
            "aligned new nothrow", 2003, a, [&] { return ::operator new(2003, al, nt); },
            [&](void* p) { ::operator delete(p, al, nt); });
        exact(
            "aligned new[] nothrow", 2004, a, [&] { return ::operator new[](2004, al, nt); },
            [&](void* p) { ::operator delete[](p, al, nt); });
        exact(
            "sized aligned delete", 2005, a, [&] { return ::operator new(2005, al); },
            [&](void* p) { ::operator delete (p, size_t{2005}, al); });
        exact(
            "sized aligned delete[]", 2006, a, [&] { return ::operator new[](2006, al); },
            [&](void* p) { ::operator delete[](p, size_t{2006}, al); });
    }
    // new-expressions of over-aligned types (what Debian's mimalloc got wrong for alignas(256))
    exact(
        "new A64", sizeof(A64), 64, [] { return static_cast<void*>(new A64); },
        [](void* p) { delete static_cast<A64*>(p); });
    exact(
        "new A256", sizeof(A256), 256, [] { return static_cast<void*>(new A256); },
        [](void* p) { delete static_cast<A256*>(p); });
    exact(
        "new A4096[3]", 3 * sizeof(A4096), 4096, [] { return static_cast<void*>(new A4096[3]); },
        [](void* p) { delete[] static_cast<A4096*>(p); });
    exact(
        "new A1M", sizeof(A1M), 1 << 20, [] { return static_cast<void*>(new A1M); },
        [](void* p) { delete static_cast<A1M*>(p); });
    exact(
        "new A1M[2]", 2 * sizeof(A1M), 1 << 20, [] { return static_cast<void*>(new A1M[2]); },
        [](void* p) { delete[] static_cast<A1M*>(p); });
    exact(
        "new (nothrow) A64", sizeof(A64), 64,
        [] { return static_cast<void*>(new (std::nothrow) A64); },
        [](void* p) { delete static_cast<A64*>(p); });
    exact(
        "new (nothrow) A256[5]", 5 * sizeof(A256), 256,
        [] { return static_cast<void*>(new (std::nothrow) A256[5]); },
        [](void* p) { delete[] static_cast<A256*>(p); });
    exact(
        "new (nothrow) A4096", sizeof(A4096), 4096,
        [] { return static_cast<void*>(new (std::nothrow) A4096); },
        [](void* p) { delete static_cast<A4096*>(p); });
    exact(
        "new (nothrow) A1M", sizeof(A1M), 1 << 20,
        [] { return static_cast<void*>(new (std::nothrow) A1M); },
        [](void* p) { delete static_cast<A1M*>(p); });
    // A class with a non-trivial destructor: new[] asks for a cookie (the element count) in
    // front of the array, and that is part of the requested size.
    struct Counted {
        char c[10];
        ~Counted() { c[0] = 0; }
    };
    reset_peak();
    const memtrack_stats a = tp_stats();
    Counted* arr = new Counted[7];
    const memtrack_stats b = tp_stats();
    delete[] arr;
    const memtrack_stats c = tp_stats();
    const auto with_cookie = static_cast<std::int64_t>(7 * sizeof(Counted) + sizeof(std::size_t));
    CHECK(b.current_bytes - a.current_bytes == with_cookie);
    CHECK(b.peak_bytes - a.current_bytes == with_cookie);
    CHECK(b.allocations - a.allocations == 1);
    CHECK(c.current_bytes == a.current_bytes);
    CHECK(c.frees - a.frees == 1);
    std::printf("forms done\n");
    return failures ? 1 : 0;
}

int handler_calls = 0;
void handler()
{
    ++handler_calls;
    std::set_new_handler(nullptr);  // give up after one call
}

int fail()
{
    volatile std::size_t huge = SIZE_MAX / 2;
    std::set_new_handler(handler);
    bool threw = false;
    try {
        void* p = ::operator new(huge);
        ::operator delete(p);
    } catch (const std::bad_alloc&) {
        threw = true;
    }
    CHECK(threw);
    CHECK(handler_calls == 1);
    std::set_new_handler(handler);
    errno = 0;
    CHECK(::operator new(huge, std::nothrow) == nullptr);
    CHECK(errno == ENOMEM);
    CHECK(handler_calls == 2);
    errno = 0;
    CHECK(::operator new (huge, std::align_val_t{64}, std::nothrow) == nullptr);
    CHECK(errno == ENOMEM);
    errno = 0;
    CHECK(::operator new[](huge, std::nothrow) == nullptr);
    CHECK(errno == ENOMEM);
    threw = false;
    try {
        void* p = ::operator new[](huge, std::align_val_t{128});
        ::operator delete[](p, std::align_val_t{128});
    } catch (const std::bad_alloc&) {
        threw = true;
    }
    CHECK(threw);
    std::printf("fail done\n");
    return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc > 1 && std::strcmp(argv[1], "forms") == 0) return forms();
    if (argc > 1 && std::strcmp(argv[1], "fail") == 0) return fail();
    if (argc > 1 && std::strcmp(argv[1], "print") == 0) {  // left in stdio's buffer until exit
        std::printf("program output\n");
        return 0;
    }
    std::fprintf(stderr, "usage: tp_cxx forms|fail\n");
    return 2;
}
