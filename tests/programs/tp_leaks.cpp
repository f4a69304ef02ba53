// Leak-check scenarios for the integration tests: `tp_leaks SCENARIO [N]`. Each scenario leaks
// (or holds) blocks of marker sizes, so the tests can find them in the JSON report. Pointers
// are dropped inside noinline functions, so no live frame of the program keeps them.
#include "tp_stats.h"

#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <vector>

#define NOINLINE __attribute__((noinline))

namespace {

// Something the optimiser cannot see through: keeps stores to memory we then drop.
void escape(void* p)
{
    asm volatile("" : : "g"(p) : "memory");
}

struct Node {
    Node* next = nullptr;
    char pad[40];
};

// volatile: the stores must happen although nothing reads them.
void* volatile g_global = nullptr;
thread_local void* volatile t_local = nullptr;

long (*collect_fn)(int) = nullptr;

long collect(int gen)
{
    if (collect_fn == nullptr)
        collect_fn = reinterpret_cast<long (*)(int)>(dlsym(RTLD_DEFAULT, "memtrack_collect"));
    return collect_fn != nullptr ? collect_fn(gen) : -2;
}

NOINLINE void leak_direct(std::size_t size)
{
    void* p = malloc(size);
    memset(p, 1, size);
    escape(p);
}

// A list of n nodes of `size` bytes: 1 direct + n-1 indirect.
NOINLINE void leak_list(int n, std::size_t size)
{
    void* head = nullptr;
    for (int i = 0; i < n; ++i) {
        void** node = static_cast<void**>(calloc(1, size));
        node[0] = head;
        head = node;
    }
    escape(head);
}

// A binary tree of depth d (2^d - 1 nodes of `size` bytes).
NOINLINE void* tree(int d, std::size_t size)
{
    if (d == 0) return nullptr;
    void** n = static_cast<void**>(calloc(1, size));
    n[0] = tree(d - 1, size);
    n[1] = tree(d - 1, size);
    return n;
}
NOINLINE void leak_tree(int d, std::size_t size)
{
    escape(tree(d, size));
}

// A ring of k blocks of `size` bytes; with a tail of `tail` blocks pointing into it.
NOINLINE void leak_ring(int k, std::size_t size, int tail = 0, std::size_t tail_size = 0)
{
    void** first = static_cast<void**>(calloc(1, size));
    void** prev = first;
    for (int i = 1; i < k; ++i) {
        void** n = static_cast<void**>(calloc(1, size));
        prev[0] = n;
        prev = n;
    }
    prev[0] = first;  // k == 1: a self-reference
    void* into = first;
    for (int i = 0; i < tail; ++i) {
        void** t = static_cast<void**>(calloc(1, tail_size));
        t[0] = into;
        into = t;
    }
    escape(into);
}

struct SharedNode {
    std::shared_ptr<SharedNode> other;
    std::weak_ptr<SharedNode> weak;
    char payload[100];
};

NOINLINE void shared_cycle(bool weak)
{
    auto a = std::make_shared<SharedNode>();
    auto b = std::make_shared<SharedNode>();
    a->other = b;
    if (weak)
        b->weak = a;
    else
        b->other = a;
}

void* thread_leaks(void*)
{
    leak_direct(7001);
    return nullptr;
}

std::atomic<int> g_ready{0};
void* thread_holds(void*)
{
    t_local = malloc(5003);
    void* volatile on_stack = malloc(5004);
    g_ready = 1;
    for (;;)
        pause();  // blocked at exit, holding both
    escape(on_stack);
}

struct Widget {
    char bytes[77];
};

template <class T> NOINLINE T* make_one()
{
    T* t = new T;
    escape(t);
    return t;
}

NOINLINE void realloc_leak()
{
    void* p = malloc(100);
    for (std::size_t n = 200; n <= 6400; n *= 2)
        p = realloc(p, n);
    escape(p);  // 6400 bytes
}

// Sequence numbers: `before` tracked allocations, then these, numbered before+1.. in order
// (n = 3: not known at compile time, so the loop is one call site).
NOINLINE void seq_leaks(int n)
{
    for (int i = 0; i < n; ++i)
        leak_direct(3001);              // +1, +2, +3
    leak_direct(std::size_t{3} << 20);  // +4: a big block, numbered in the registry
    leak_ring(2, 3002);                 // +5, +6: a 2-cycle
    void* p = malloc(10);               // +7
    p = realloc(p, 3003);               // +8: a realloc is a new allocation
    escape(p);
}

// A 2-cycle whose older block lies at the higher address: `a` (5000 B) comes from a page
// started after the 7000 B page that `b`, allocated later, lands in. Prints which is higher.
NOINLINE int leak_cycle_old_high()
{
    void* first = malloc(7000);  // starts the 7000 B page
    void** a = static_cast<void**>(calloc(1, 5000));
    void** b = static_cast<void**>(calloc(1, 7000));
    a[0] = b;
    b[0] = a;
    escape(a);
    free(first);
    return a > b ? 1 : 0;
}

// One leak through each allocation entry point, marker sizes 9001..9009, from leak_one.
NOINLINE void leak_one(int which)
{
    void* p = nullptr;
    switch (which) {
    case 0:
        p = malloc(9001);
        break;
    case 1:
        p = calloc(1, 9002);
        break;
    case 2:
        p = realloc(nullptr, 9003);
        break;
    case 3:
        p = new char[9004];
        break;
    case 4:
        p = operator new(9005);
        break;
    case 5:
        p = operator new (9006, std::align_val_t{64});
        break;
    case 6:
        if (posix_memalign(&p, 64, 9007) != 0) p = nullptr;
        break;
    case 7:
        p = aligned_alloc(256, 9216);  // C11: a multiple of the alignment
        break;
    case 8:
        p = malloc(9009);
        p = realloc(p, 9009 + 4096);
        break;
    // The glibc entry points whose semantics live in core/entry_points (issue 9): more calls
    // inside memtrack than malloc's, all within the own-frame allowance (stack/unwind.hpp).
    case 9:
        p = valloc(9010);
        break;
    case 10:
        p = pvalloc(9011);  // the size is rounded up to whole pages: 12288
        break;
    case 11:
        p = memalign(128, 9012);
        break;
    case 12:
        p = reallocarray(nullptr, 1, 9013);
        break;
    case 13:
        p = operator new[](9014, std::nothrow);
        break;
    }
    escape(p);
}

// leak_one at the bottom of `d` more frames (no tail calls), so stacks are deeper than any
// depth the tests ask for.
NOINLINE int deep(int d, int which)
{
    if (d == 0) {
        leak_one(which);
        return 0;
    }
    int r = deep(d - 1, which);
    escape(&r);
    return r + 1;
}

struct alignas(64) Aligned {
    char c[192];
};

NOINLINE void new_leaks()
{
    escape(new char[3001]);
    escape(new Aligned);
    escape(new (std::align_val_t(4096)) char[3002]);
}

NOINLINE void many_leaks(int n)
{
    for (int i = 0; i < n; ++i)
        escape(malloc(32));
    void* big = malloc(100u << 20);
    memset(big, 0, 4096);
    escape(big);
}

NOINLINE void hold_in_register_and_collect(long* found)
{
    void* p = malloc(6007);
    memset(p, 2, 6007);
    // p lives in a callee-saved register across the call; not in any memory of ours.
    asm volatile("" : "+r"(p));
    *found = collect(2);
    asm volatile("" : "+r"(p));
    free(p);
}

// A chain of three blocks whose head alone comes from a function a suppression names.
NOINLINE void** suppressed_head()
{
    return static_cast<void**>(calloc(1, 18001));
}
NOINLINE void suppressed_chain()
{
    void** head = suppressed_head();
    void** second = static_cast<void**>(calloc(1, 18002));
    second[0] = calloc(1, 18002);
    head[0] = second;
    escape(head);
}

// new T[0] of a type with a destructor: an 8-byte block (the element count, 0) and a pointer
// one past its end, the only one the program keeps.
struct WithDtor {
    ~WithDtor() { escape(this); }
};
WithDtor* volatile g_empty_array = nullptr;

// Values stored under pthread keys above the first 32 live in glibc's second-level TSD array,
// allocated by the first pthread_setspecific of such a key in the thread.
NOINLINE int keys_above_32()
{
    static pthread_key_t keys[40];
    for (auto& k : keys)
        if (pthread_key_create(&k, nullptr) != 0) return 3;
    for (int i = 0; i < 40; ++i)
        pthread_setspecific(keys[i], malloc(20000 + static_cast<std::size_t>(i)));
    return 0;
}

// A thread that returns a block and is never joined: the block is held by its return value,
// which glibc keeps in the exited thread's descriptor until pthread_join.
std::atomic<int> g_returning{0};
void* thread_returns(void*)
{
    void* p = malloc(19001);
    memset(p, 5, 19001);
    g_returning = 1;
    return p;
}
NOINLINE void unjoined_thread()
{
    pthread_t t;
    pthread_create(&t, nullptr, thread_returns, nullptr);
    while (!g_returning)
        usleep(1000);
    usleep(100000);  // let it finish
}

// A leaked page-aligned block whose header page (the page before it) the program made
// PROT_NONE: the scan cannot see the block. The page is made readable again at exit by
// nothing: memtrack must not fault on it either.
NOINLINE void leak_behind_prot_none()
{
    void* p = aligned_alloc(4096, 22 * 4096);
    memset(p, 4, 22 * 4096);
    mprotect(static_cast<char*>(p) - 4096, 4096, PROT_NONE);
    escape(p);
}

// dlopen()s `path`, calls its `function`, then dlclose()s it if asked. 0, or 3 (no library) or 4
// (no function).
int call_in_library(const char* path, const char* function, bool close)
{
    void* lib = dlopen(path, RTLD_NOW);
    if (lib == nullptr) return 3;
    auto fn = reinterpret_cast<void (*)()>(dlsym(lib, function));
    if (fn == nullptr) return 4;
    fn();
    if (close) dlclose(lib);
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    const std::string s = argc > 1 ? argv[1] : "none";
    const int n = argc > 2 ? atoi(argv[2]) : 0;
    if (s == "none") {
        free(malloc(10));
    } else if (s == "global") {
        g_global = malloc(4001);
    } else if (s == "tls") {
        t_local = malloc(4002);
    } else if (s == "thread_live") {
        pthread_t t;
        pthread_create(&t, nullptr, thread_holds, nullptr);
        while (!g_ready)
            usleep(1000);
    } else if (s == "dlopen") {
        return call_in_library(argv[2], "tp_lib_hold", false);
    } else if (s == "dlopen_tls") {
        return call_in_library(argv[2], "tp_lib_hold_tls", false);
    } else if (s == "dlclose_leak") {
        return call_in_library(argv[2], "tp_lib_leak", true);
    } else if (s == "register") {
        long found = -1;
        hold_in_register_and_collect(&found);
        printf("collect=%ld\n", found);
    } else if (s == "direct") {
        leak_direct(4242);
    } else if (s == "list") {
        leak_list(n, 48);
    } else if (s == "tree") {
        leak_tree(n, 64);
    } else if (s == "cycles") {
        leak_ring(1, 1111);
        leak_ring(2, 2222);
        leak_ring(3, 3333);
        leak_ring(4, 4444, 2, 555);
        const int reps = argc > 2 ? atoi(argv[2]) : 2;  // not known at compile time: no unrolling
        for (int i = 0; i < reps; ++i)
            leak_ring(2, 666);  // same sites: folded into one line with count 2
    } else if (s == "shared_cycle") {
        shared_cycle(false);
    } else if (s == "shared_weak") {
        shared_cycle(true);
    } else if (s == "thread_exit") {
        pthread_t t;
        pthread_create(&t, nullptr, thread_leaks, nullptr);
        pthread_join(t, nullptr);
    } else if (s == "template") {
        escape(make_one<Widget>());
    } else if (s == "realloc") {
        realloc_leak();
    } else if (s == "new") {
        new_leaks();
    } else if (s == "fork") {
        leak_direct(4243);
        const pid_t pid = fork();
        if (pid == 0) {
            leak_direct(4244);
            exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
    } else if (s == "many") {
        many_leaks(n);
    } else if (s == "grow") {
        // n blocks kept reachable: under MEMTRACK_GC=auto, generation scans happen as they pile up.
        void** keep = static_cast<void**>(malloc(sizeof(void*) * static_cast<std::size_t>(n)));
        for (int i = 0; i < n; ++i)
            keep[i] = malloc(24);
        g_global = keep;
    } else if (s == "scanperf") {
        // n blocks of argv[3] bytes, each holding a pointer to the next (all reachable), then
        // one full scan: prints its pause (bench: docs/benchmarks.md, scan speed). argv[4]: the
        // pointer's offset into the next block (default 0; 8 and more: interior pointers, the
        // blocks possible but for the first).
        const std::size_t size = argc > 3 ? strtoull(argv[3], nullptr, 10) : 1024;
        const std::size_t into = argc > 4 ? strtoull(argv[4], nullptr, 10) : 0;
        void** keep = static_cast<void**>(malloc(sizeof(void*) * static_cast<std::size_t>(n)));
        for (int i = 0; i < n; ++i) {
            keep[i] = malloc(size);
            memset(keep[i], 0x5a, size);
            if (i > 0) *static_cast<void**>(keep[i - 1]) = static_cast<char*>(keep[i]) + into;
        }
        if (into != 0) {  // only the head is held by its start; the rest hangs off it
            g_global = keep[0];
            free(keep);
        } else {
            g_global = keep;
        }
        auto stats_fn =
            reinterpret_cast<int (*)(void*)>(dlsym(RTLD_DEFAULT, "memtrack_gc_get_stats"));
        struct {
            std::uint32_t size, version;
            std::uint64_t collections[3], collected[3], live_blocks[3], live_bytes[3];
            double total_pause_s, max_pause_s;
        } st{};
        st.size = sizeof st;
        const long found = collect(2);
        if (stats_fn != nullptr) stats_fn(&st);
        printf("collect=%ld pause_s=%.3f live_blocks=%llu live_bytes=%llu\n", found, st.max_pause_s,
               static_cast<unsigned long long>(st.live_blocks[1]),
               static_cast<unsigned long long>(st.live_bytes[1]));
    } else if (s == "stress") {
        // Scans while 6 threads churn and keep creating short-lived threads (new threads block
        // every signal during start-up, exiting ones unmap memory): no crash, no false finds.
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (int t = 0; t < 6; ++t)
            threads.emplace_back([t, &stop] {
                std::vector<void*> ring(1000, nullptr);
                unsigned seed = static_cast<unsigned>(t);
                long ops = 0;
                while (!stop) {
                    const unsigned i = rand_r(&seed) % 1000;
                    free(ring[i]);
                    ring[i] = malloc(rand_r(&seed) % 512 + 1);
                    if (++ops % 5000 == 0) std::thread([] { free(malloc(10)); }).join();
                }
                for (void* p : ring)
                    free(p);
            });
        long found = 0;
        for (int i = 0; i < n; ++i) {
            const long r = collect(i % 3);
            if (r < 0) return 5;
            found += r;
            usleep(2000);
        }
        stop = true;
        for (auto& th : threads)
            th.join();
        printf("found=%ld\n", found);
    } else if (s == "bigspan") {
        // 40 reachable big blocks of 40 and 70 MiB side by side (about 2.2 GB of address space,
        // one page of each touched), each the only holder of a small block: some of them cross
        // a 2 GiB-aligned address, where mimalloc 2.0.9's region map loses track of them.
        static void* keep[40];
        for (int i = 0; i < 40; ++i) {
            void** big = static_cast<void**>(malloc((i % 2 ? 70u : 40u) << 20));
            big[0] = malloc(1000 + static_cast<std::size_t>(i));
            keep[i] = big;
        }
        g_global = keep;
    } else if (s == "seq") {
        // The number of tracked allocations so far (memtrack_stats.allocations; 0 without
        // memtrack, for the other tools of bench/accuracy), then seq_leaks; printed last, so
        // that stdout's buffer comes after.
        auto get =
            reinterpret_cast<int (*)(memtrack_stats*)>(dlsym(RTLD_DEFAULT, "memtrack_get_stats"));
        memtrack_stats st = memtrack_stats_init();
        if (get != nullptr) get(&st);
        const std::uint64_t before = st.allocations;
        seq_leaks(n);
        printf("before=%llu\n", static_cast<unsigned long long>(before));
    } else if (s == "entry_points") {
        for (int which = 0; which < 9; ++which)
            deep(20, which);
    } else if (s == "entry_points_more") {
        for (int which = 9; which < 14; ++which)
            deep(20, which);
    } else if (s == "cycle_order") {
        const int older_higher = leak_cycle_old_high();
        printf("older_higher=%d\n", older_higher);
    } else if (s == "suppressed_chain") {
        suppressed_chain();
    } else if (s == "new_array_0") {
        g_empty_array = new WithDtor[static_cast<std::size_t>(n)];
    } else if (s == "unjoined") {
        unjoined_thread();
    } else if (s == "prot_none") {
        leak_behind_prot_none();
    } else if (s == "keys") {
        return keys_above_32();
    } else if (s == "collect") {
        // collect() counts: a list of n blocks found, then nothing new.
        leak_list(n, 48);
        const long first = collect(0);
        const long second = collect(0);
        printf("collect=%ld,%ld\n", first, second);
    } else {
        fprintf(stderr, "tp_leaks: unknown scenario %s\n", s.c_str());
        return 2;
    }
    return 0;
}
