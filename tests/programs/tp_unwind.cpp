// Stacks that are hard to unwind, for MEMTRACK_UNWIND_CHECK=1 (tests/integration/core/
// test_unwind.cpp): every scenario allocates from frames the fast unwinder and its memo must get
// exactly as libunwind does. Usage: tp_unwind SCENARIO [LIBRARY | THREADS]; exits non-zero on a
// failure.
#include <alloca.h>
#include <atomic>
#include <barrier>
#include <coroutine>
#include <csetjmp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

volatile int g_sink = 0;

__attribute__((noinline)) void* alloc_here(std::size_t n)
{
    void* p = malloc(n);
    __asm__ volatile("" : : "g"(p) : "memory");
    return p;
}

// Exceptions: thrown through frames that allocate, allocation in destructors while one is in
// flight, and in catch blocks.
struct AllocOnDestroy {
    ~AllocOnDestroy() { free(alloc_here(24)); }
};

__attribute__((noinline)) void thrower(int depth)
{
    AllocOnDestroy guard;
    free(alloc_here(40 + static_cast<std::size_t>(depth)));
    if (depth == 0) throw std::runtime_error(std::string(100, 'x'));
    thrower(depth - 1);
    g_sink = g_sink + 1;
}

int exceptions()
{
    int caught = 0;
    for (int i = 0; i < 200; ++i) {
        try {
            thrower(i % 7);
        } catch (const std::exception& e) {
            free(alloc_here(std::strlen(e.what())));
            ++caught;
            try {
                throw;
            } catch (...) {
                free(alloc_here(8));
            }
        }
    }
    return caught == 200 ? 0 : 1;
}

// longjmp out of allocating code.
std::jmp_buf g_jump;

__attribute__((noinline)) void jumper(int depth)
{
    free(alloc_here(64));
    if (depth == 0) std::longjmp(g_jump, 1);
    if (depth > 0) jumper(depth - 1);
    g_sink = g_sink + 1;
}

// One round in a function of its own: nothing of the caller's lives across the setjmp.
__attribute__((noinline)) void jump_round(int depth)
{
    if (setjmp(g_jump) == 0) jumper(depth);
    free(alloc_here(32));
}

int longjmps()
{
    for (int i = 0; i < 200; ++i)
        jump_round(i % 5);
    return 0;
}

// Signal handlers that allocate, on the normal stack and on an alternate one.
std::atomic<int> g_handled{0};

void handler(int)
{
    free(alloc_here(48));
    g_handled.fetch_add(1);
}

__attribute__((noinline)) void busy_allocating(int rounds)
{
    for (int i = 0; i < rounds; ++i)
        free(alloc_here(16 + static_cast<std::size_t>(i % 100)));
}

__attribute__((noinline)) void recurse_then_raise(int depth)
{
    free(alloc_here(88));
    if (depth == 0)
        raise(SIGUSR1);
    else
        recurse_then_raise(depth - 1);
    g_sink = g_sink + 1;
}

int signals(bool alt)
{
    std::vector<char> stack(1 << 16);
    if (alt) {
        stack_t ss{};
        ss.ss_sp = stack.data();
        ss.ss_size = stack.size();
        if (sigaltstack(&ss, nullptr) != 0) return 2;
    }
    struct sigaction sa{};
    sa.sa_handler = handler;
    sa.sa_flags = alt ? SA_ONSTACK : 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, nullptr);
    for (int i = 0; i < 200; ++i) {
        raise(SIGUSR1);
        busy_allocating(10);
    }
    // Handlers that interrupt another thread's allocation at a random point would run
    // mimalloc reentrantly (not async-signal-safe): the signals here arrive at a known point
    // (raise), in frames of varying depth.
    for (int i = 0; i < 200; ++i) {
        recurse_then_raise(i % 9);
        busy_allocating(3);
    }
    if (alt) {
        stack_t off{};
        off.ss_flags = SS_DISABLE;
        sigaltstack(&off, nullptr);
    }
    return g_handled.load() == 400 ? 0 : 1;
}

// alloca and variable-length frames (rbp-based CFA), of varying size.
__attribute__((noinline)) void with_alloca(std::size_t n, int depth)
{
    char* buf = static_cast<char*>(alloca(n));
    std::memset(buf, 1, n);
    free(alloc_here(n));
    if (depth > 0) with_alloca(n * 3 % 997 + 16, depth - 1);
    g_sink = g_sink + buf[n - 1];
}

// A frame whose stack is realigned (gcc: CFA from an expression through the saved rsp).
struct alignas(64) Wide {
    char bytes[64];
};

__attribute__((noinline)) void realigned(int depth)
{
    Wide w;
    std::memset(w.bytes, depth, sizeof w.bytes);
    __asm__ volatile("" : : "r"(&w) : "memory");
    free(alloc_here(72));
    if (depth > 0) realigned(depth - 1);
}

int frames()
{
    for (int i = 0; i < 100; ++i) {
        with_alloca(16 + static_cast<std::size_t>(i) * 13, i % 6);
        realigned(i % 4);
    }
    return 0;
}

// Code in a library that is dlclose()d: its frames are on the stacks, and a new library may
// take its place.
int dlclosed(const char* path)
{
    for (int i = 0; i < 20; ++i) {
        void* lib = dlopen(path, RTLD_NOW);
        if (lib == nullptr) return 3;
        auto leak = reinterpret_cast<void (*)()>(dlsym(lib, "tp_lib_leak"));
        if (leak == nullptr) return 4;
        for (int k = 0; k < 10; ++k)
            leak();
        dlclose(lib);
        free(alloc_here(128));
    }
    return 0;
}

// Many threads, each with its own stacks and memo.
int threads()
{
    std::vector<std::thread> ts;
    for (int t = 0; t < 16; ++t)
        ts.emplace_back([t] {
            for (int i = 0; i < 2000; ++i) {
                busy_allocating(1);
                with_alloca(32 + static_cast<std::size_t>(t), i % 3);
            }
        });
    for (auto& t : ts)
        t.join();
    return 0;
}

// Many threads alive at once (argv: how many), each capturing stacks before any exits. A
// thread's unwind tables once took one of memtrack's 256 own ranges each, so the threads past
// about 240 had none and unwound every stack with libunwind.
int live_threads(int n)
{
    std::barrier all(n + 1);
    std::vector<std::thread> ts;
    for (int t = 0; t < n; ++t)
        ts.emplace_back([&all, t] {
            for (int i = 0; i < 20; ++i) {
                busy_allocating(1);
                with_alloca(32 + static_cast<std::size_t>(t % 64), i % 3);
            }
            all.arrive_and_wait();
        });
    all.arrive_and_wait();
    for (auto& t : ts)
        t.join();
    return 0;
}

// C++20 coroutines: frames resumed from different places, allocation inside.
struct Gen {
    struct promise_type {
        int value = 0;
        Gen get_return_object() { return Gen{std::coroutine_handle<promise_type>::from_promise(*this)}; }
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_always final_suspend() noexcept { return {}; }
        std::suspend_always yield_value(int v)
        {
            value = v;
            return {};
        }
        void return_void() {}
        void unhandled_exception() { std::terminate(); }
    };
    std::coroutine_handle<promise_type> h;
    explicit Gen(std::coroutine_handle<promise_type> hh) : h(hh) {}
    Gen(Gen&& o) noexcept : h(o.h) { o.h = nullptr; }
    ~Gen()
    {
        if (h) h.destroy();
    }
    bool next()
    {
        h.resume();
        return !h.done();
    }
};

Gen numbers(int n)
{
    for (int i = 0; i < n; ++i) {
        free(alloc_here(20 + static_cast<std::size_t>(i % 50)));
        co_yield i;
    }
}

__attribute__((noinline)) int drain(Gen& g)
{
    int sum = 0;
    while (g.next())
        sum += g.h.promise().value;
    return sum;
}

int coroutines()
{
    long total = 0;
    for (int i = 0; i < 50; ++i) {
        Gen g = numbers(100 + i);
        total += drain(g);
    }
    return total > 0 ? 0 : 1;
}

// Recursion deeper than the capture depth, with depths varying between calls.
__attribute__((noinline)) void recurse(int depth, int salt)
{
    if (depth == 0) {
        free(alloc_here(56 + static_cast<std::size_t>(salt % 8)));
        return;
    }
    if (depth % 3 == salt % 3) free(alloc_here(8));
    recurse(depth - 1, salt);
    g_sink = g_sink + 1;
}

int deep()
{
    for (int i = 0; i < 2000; ++i)
        recurse(20 + (i * 7) % 60, i);
    return 0;
}

// Paths (issue 13's deep workload, checked): allocations at the bottom of recursions whose
// path varies under one outer stack, so that consecutive captures share outer frames and differ
// inside, and most miss the memo. Two functions per level: path_a has a plain frame (CFA from
// rsp), path_b an alloca, so a frame-pointer frame (CFA from rbp, rbp saved) that the unwinder
// meets before or after rbp was restored. Path k (depth kPathDepth(k), the levels' functions
// from kPathBits(k)) allocates 5000 + k bytes; every path runs kPathRounds times, interleaved.
// tests/integration/core/test_unwind.cpp computes the same paths and checks each site's frames.
constexpr unsigned kPaths = 24;
constexpr unsigned kPathRounds = 40;
constexpr unsigned path_depth(unsigned k)
{
    return 4 + (k * 7) % 23;
}
constexpr unsigned path_bits(unsigned k)
{
    return k * 2654435761u ^ (k << 3);
}

__attribute__((noinline)) void path_leaf(unsigned id)
{
    free(alloc_here(5000 + id));
    g_sink = g_sink + 1;
}

__attribute__((noinline)) void path_b(unsigned depth, unsigned bits, unsigned id);

__attribute__((noinline)) void path_a(unsigned depth, unsigned bits, unsigned id)
{
    if (depth == 0)
        path_leaf(id);
    else if (bits & 1)
        path_b(depth - 1, bits >> 1, id);
    else
        path_a(depth - 1, bits >> 1, id);
    g_sink = g_sink + 1;
}

__attribute__((noinline)) void path_b(unsigned depth, unsigned bits, unsigned id)
{
    volatile char* buf = static_cast<char*>(alloca(16 + (depth & 7) * 8));
    buf[0] = static_cast<char>(depth);
    if (depth == 0)
        path_leaf(id);
    else if (bits & 1)
        path_b(depth - 1, bits >> 1, id);
    else
        path_a(depth - 1, bits >> 1, id);
    g_sink = g_sink + buf[0];
}

int paths()
{
    for (unsigned r = 0; r < kPathRounds; ++r)
        for (unsigned k = 0; k < kPaths; ++k)
            path_a(path_depth(k), path_bits(k), k);
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2) return 2;
    const std::string s = argv[1];
    if (s == "exceptions") return exceptions();
    if (s == "longjmp") return longjmps();
    if (s == "signals") return signals(false);
    if (s == "sigaltstack") return signals(true);
    if (s == "frames") return frames();
    if (s == "dlclose") return argc > 2 ? dlclosed(argv[2]) : 2;
    if (s == "threads") return threads();
    if (s == "live_threads") return live_threads(argc > 2 ? std::atoi(argv[2]) : 400);
    if (s == "coroutines") return coroutines();
    if (s == "deep") return deep();
    if (s == "paths") return paths();
    return 2;
}
