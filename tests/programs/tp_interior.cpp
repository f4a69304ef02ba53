// Live blocks held only through interior pointers (issue 10): `tp_interior SCENARIO`. Built at
// -O0 and -O2, and with libstdc++'s old string ABI (tp_interior_cow_*). In every scenario but
// `possible` the blocks are reachable and the leak check must report nothing, not even a
// possible leak; in `possible` three 1000-byte blocks are held only through pointers into
// them and must stay possible leaks. The blocks are made in noinline functions, so that no
// frame of main keeps a start pointer.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#define NOINLINE __attribute__((noinline))

namespace {

void escape(void* p)
{
    asm volatile("" : : "g"(p) : "memory");
}

// new T[n] of a type with a destructor: the program keeps start + 8 (start + alignof(T) for an
// over-aligned T), past the element count.
struct WithDtor {
    long value = 7;
    ~WithDtor() { escape(this); }
};
struct alignas(64) AlignedWithDtor {
    char bytes[64] = {};
    ~AlignedWithDtor() { escape(this); }
};
WithDtor* volatile g_array = nullptr;
AlignedWithDtor* volatile g_aligned_array = nullptr;

NOINLINE void make_arrays(int n)
{
    g_array = new WithDtor[static_cast<std::size_t>(n)];
    g_aligned_array = new AlignedWithDtor[static_cast<std::size_t>(n)];
}

// A pointer to the second base of a multiply inherited object points at that base's vtable
// pointer, inside the block. Second has one virtual function only (memcheck's heuristic asks
// for two code pointers in the table).
struct First {
    virtual ~First() = default;
    long first = 1;
};
struct Second {
    virtual long get() const { return second; }
    long second = 2;
};
struct Both : First, Second {
    long get() const override { return both; }
    long both = 3;
    char pad[100] = {};
};
struct Third {
    virtual ~Third() = default;
    virtual long more() const { return 4; }
};
struct Three : First, Second, Third {
    char pad[50] = {};
};
Second* volatile g_second = nullptr;
Third* volatile g_third = nullptr;

NOINLINE void make_bases()
{
    g_second = new Both;
    g_third = new Three;
}

// Tagged pointers: start + 1, + 3, + 7 (flags in the low bits), and a 1-byte block.
std::uintptr_t volatile g_tagged[4];

NOINLINE void make_tagged()
{
    const unsigned tags[4] = {1, 3, 7, 5};
    const std::size_t sizes[4] = {40, 24, 1000, 1};
    for (int i = 0; i < 4; ++i) {
        void* p = malloc(sizes[i]);
        memset(p, 0, sizes[i]);
        g_tagged[i] = reinterpret_cast<std::uintptr_t>(p) | tags[i];
    }
}

// glibc's setenv keeps the strings it made in a tsearch tree, whose child pointers carry the
// node colour in their low bit.
NOINLINE void set_variables(int n)
{
    for (int i = 0; i < n; ++i) {
        char name[32];
        snprintf(name, sizeof name, "TP_INTERIOR_%d", i);
        setenv(name, "a value", 1);
    }
}

// The old string ABI keeps a pointer past a {length, capacity, refcount} header.
std::string* volatile g_string = nullptr;

[[maybe_unused]] NOINLINE void make_string()
{
    g_string = new std::string(500, 'x');
}

// Plain buffers held only through pointers into them: possible leaks. 100 bytes in, and 8 and
// 24 bytes in, where the first words (0x7878...) are no element count or string header.
char* volatile g_cursor[3];

NOINLINE void make_cursors()
{
    const std::size_t offsets[3] = {100, 8, 24};
    for (int i = 0; i < 3; ++i) {
        char* p = static_cast<char*>(malloc(1000));
        memset(p, 'x', 1000);
        g_cursor[i] = p + offsets[i];
    }
}

}  // namespace

int main(int argc, char** argv)
{
    const char* s = argc > 1 ? argv[1] : "none";
    if (strcmp(s, "cookie") == 0) {
        make_arrays(argc > 2 ? atoi(argv[2]) : 5);
    } else if (strcmp(s, "bases") == 0) {
        make_bases();
    } else if (strcmp(s, "tagged") == 0) {
        make_tagged();
    } else if (strcmp(s, "setenv") == 0) {
        set_variables(argc > 2 ? atoi(argv[2]) : 100);
    } else if (strcmp(s, "old_string") == 0) {
#if defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI == 0
        make_string();
#else
        fprintf(stderr, "tp_interior: old_string needs -D_GLIBCXX_USE_CXX11_ABI=0\n");
        return 3;
#endif
    } else if (strcmp(s, "possible") == 0) {
        make_cursors();
    } else if (strcmp(s, "none") != 0) {
        fprintf(stderr, "tp_interior: unknown scenario %s\n", s);
        return 2;
    }
    return 0;
}
