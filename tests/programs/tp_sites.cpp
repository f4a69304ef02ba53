// Allocation sites with known sizes for the site profile and the peak attribution (issue 10).
// Each tp_site_* function is one site (extern "C", never inlined, so its name is in the
// report's stacks). Modes:
//   peak     three big blocks, new, aligned new, a site freed before the peak, a realloc chain
//   reset    a big first phase, memtrack_reset_peak() (through dlsym), a smaller second phase
//   threads  4 threads: two share one site, two have their own
//   fork     the parent allocates one site, the child another (each writes its report)
//   temp     a known pattern of temporary allocations
//   snapshot memtrack_take_snapshot and memtrack_peak_sites through dlsym: live and peak shares
#include <memtrack/memtrack.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dlfcn.h>
#include <new>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern "C" {

// The timeline's sites: two phases, each growing by 2 MiB blocks with a pause between them.
[[gnu::noinline]] void* tp_site_phase_a(std::size_t n)
{
    void* p = std::malloc(n);
    std::memset(p, 1, n);
    return p;
}

[[gnu::noinline]] void* tp_site_phase_b(std::size_t n)
{
    void* p = std::malloc(n);
    std::memset(p, 2, n);
    return p;
}

[[gnu::noinline]] void* tp_site_big(std::size_t n)
{
    void* p = std::malloc(n);
    std::memset(p, 1, 64);
    return p;
}

[[gnu::noinline]] int* tp_site_new(std::size_t n)
{
    int* p = new int[n / sizeof(int)];
    p[0] = 1;
    return p;
}

struct alignas(64) Wide {
    char bytes[30016];
};
static_assert(sizeof(Wide) == 30016);

[[gnu::noinline]] Wide* tp_site_aligned_new()
{
    Wide* w = new Wide;
    w->bytes[0] = 1;
    return w;
}

[[gnu::noinline]] void* tp_site_early(std::size_t n)
{
    void* p = std::malloc(n);
    std::memset(p, 2, 64);
    return p;
}

[[gnu::noinline]] void* tp_site_chain0(std::size_t n)
{
    return std::malloc(n);
}

[[gnu::noinline]] void* tp_site_chain1(void* p, std::size_t n)
{
    return std::realloc(p, n);
}

[[gnu::noinline]] void* tp_site_chain2(void* p, std::size_t n)
{
    return std::realloc(p, n);
}

[[gnu::noinline]] void* tp_site_phase1(std::size_t n)
{
    return std::malloc(n);
}

[[gnu::noinline]] void* tp_site_phase2(std::size_t n)
{
    return std::malloc(n);
}

[[gnu::noinline]] void* tp_site_shared(std::size_t n)
{
    return std::malloc(n);
}

[[gnu::noinline]] void* tp_site_own(std::size_t n)
{
    return std::malloc(n);
}

[[gnu::noinline]] void* tp_site_parent(std::size_t n)
{
    return std::malloc(n);
}

[[gnu::noinline]] void* tp_site_child(std::size_t n)
{
    return std::malloc(n);
}

[[gnu::noinline]] void* tp_site_temp(std::size_t n)
{
    return std::malloc(n);
}

[[gnu::noinline]] void* tp_site_kept(std::size_t n)
{
    return std::malloc(n);
}

}  // extern "C"

namespace {

int peak()
{
    void* early = tp_site_early(500009);  // freed before the peak: 0 at it
    std::free(early);
    void* big[3];
    for (void*& b : big)
        b = tp_site_big(2097159);  // >= 1 MiB: the big-block path
    int* small[5];
    for (int*& s : small)
        s = tp_site_new(20012);
    Wide* wide[7];
    for (Wide*& w : wide)
        w = tp_site_aligned_new();
    void* chain = tp_site_chain0(100);
    chain = tp_site_chain1(chain, 1000);
    chain = tp_site_chain2(chain, 100003);
    // The peak is here. Then: the new[] blocks go, the aligned ones stay, the big ones go but
    // one.
    for (int* s : small)
        delete[] s;
    std::free(big[1]);
    std::free(big[2]);
    std::printf("peak done %p %p %p\n", big[0], static_cast<void*>(wide[0]), chain);
    return 0;
}

int reset()
{
    void* a = tp_site_phase1(4000037);
    std::free(a);
    using Fn = void (*)();
    auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "memtrack_reset_peak"));
    if (fn == nullptr) return 3;
    fn();
    void* b[3];
    for (void*& p : b)
        p = tp_site_phase2(10009);
    for (void* p : b)
        std::free(p);
    // The C API through dlsym: the sites of this phase's peak, the largest share first, and
    // the location of the first.
    using Sites = std::size_t (*)(memtrack_site*, std::size_t);
    using Where = int (*)(std::uint32_t, char*, std::size_t);
    auto peak_sites = reinterpret_cast<Sites>(dlsym(RTLD_DEFAULT, "memtrack_peak_sites"));
    auto where = reinterpret_cast<Where>(dlsym(RTLD_DEFAULT, "memtrack_stack_location"));
    if (peak_sites == nullptr || where == nullptr) return 3;
    memtrack_site s[4];
    for (memtrack_site& x : s)
        x = memtrack_site_init();
    const std::size_t n = peak_sites(s, 4);
    // The largest share with a stack (the start-up heap, libstdc++'s pool, has none).
    std::size_t k = 0;
    while (k + 1 < std::min<std::size_t>(n, 4) && s[k].stack == 0)
        ++k;
    char text[512] = "";
    if (n > 0) where(s[k].stack, text, sizeof text);
    std::printf("sites=%zu first=%lld blocks=%lld version=%u at=%s\n", n,
                static_cast<long long>(s[k].peak_bytes), static_cast<long long>(s[k].peak_blocks),
                s[k].version, text);
    // Every share of this phase's peak, and their sum.
    static memtrack_site all[64];
    for (memtrack_site& x : all)
        x = memtrack_site_init();
    const std::size_t m = std::min<std::size_t>(peak_sites(all, 64), 64);
    long long sum = 0;
    for (std::size_t i = 0; i < m; ++i) {
        char at[512] = "(no stack)";
        where(all[i].stack, at, sizeof at);
        std::printf("share %lld %s\n", static_cast<long long>(all[i].peak_bytes), at);
        sum += all[i].peak_bytes;
    }
    using Stats = int (*)(memtrack_stats*);
    auto get_stats = reinterpret_cast<Stats>(dlsym(RTLD_DEFAULT, "memtrack_get_stats"));
    memtrack_stats st = memtrack_stats_init();
    if (get_stats == nullptr || get_stats(&st) != 0) return 3;
    std::printf("shares sum=%lld phase peak=%lld\n", sum, static_cast<long long>(st.peak_bytes));
    return 0;
}

void* thread_main(void* arg)
{
    const bool shared = reinterpret_cast<std::uintptr_t>(arg) % 2 == 0;
    std::vector<void*> mine;
    mine.reserve(2000);
    for (int i = 0; i < 2000; ++i)
        mine.push_back(shared ? tp_site_shared(1009) : tp_site_own(1013));
    for (void* p : mine)
        std::free(p);
    return nullptr;
}

int threads()
{
    pthread_t t[4];
    for (std::uintptr_t i = 0; i < 4; ++i)
        pthread_create(&t[i], nullptr, thread_main, reinterpret_cast<void*>(i));
    for (pthread_t& th : t)
        pthread_join(th, nullptr);
    return 0;
}

int fork_mode()
{
    void* p = tp_site_parent(70001);
    const pid_t pid = fork();
    if (pid == 0) {
        void* c = tp_site_child(90001);
        std::free(c);
        std::exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    std::free(p);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 4;
}

int temp()
{
    // heaptrack's rule: a free of the thread's last allocation, no free in between.
    for (int i = 0; i < 10; ++i)  // 10 temporary
        std::free(tp_site_temp(333));
    for (int i = 0; i < 5; ++i) {  // none: k came after a, and a's free came before k's
        void* a = tp_site_temp(333);
        void* k = tp_site_kept(44);
        std::free(a);
        std::free(k);
    }
    for (int i = 0; i < 3; ++i) {  // k's free is temporary, a's is not
        void* a = tp_site_temp(333);
        void* k = tp_site_kept(44);
        std::free(k);
        std::free(a);
    }
    return 0;
}

// Phase A grows to 20 MiB, then phase B to 20 MiB more; all freed at the end (run with a
// short MEMTRACK_INTERVAL so that each step is a timeline point).
int timeline()
{
    std::vector<void*> blocks;
    const timespec pause{0, 3'000'000};
    for (int i = 0; i < 10; ++i) {
        blocks.push_back(tp_site_phase_a(2 << 20));
        nanosleep(&pause, nullptr);
    }
    for (int i = 0; i < 10; ++i) {
        blocks.push_back(tp_site_phase_b(2 << 20));
        nanosleep(&pause, nullptr);
    }
    for (void* p : blocks)
        std::free(p);
    return 0;
}

// The C API under LD_PRELOAD through dlsym: memtrack_take_snapshot (live now) and
// memtrack_peak_sites after a reset, the shares of tp_site_kept and tp_site_temp.
int snapshot()
{
    using Sites = std::size_t (*)(memtrack_site*, std::size_t);
    using Where = int (*)(std::uint32_t, char*, std::size_t);
    using Reset = void (*)();
    auto take = reinterpret_cast<Sites>(dlsym(RTLD_DEFAULT, "memtrack_take_snapshot"));
    auto peak_sites = reinterpret_cast<Sites>(dlsym(RTLD_DEFAULT, "memtrack_peak_sites"));
    auto where = reinterpret_cast<Where>(dlsym(RTLD_DEFAULT, "memtrack_stack_location"));
    auto reset = reinterpret_cast<Reset>(dlsym(RTLD_DEFAULT, "memtrack_reset_peak"));
    if (take == nullptr || peak_sites == nullptr || where == nullptr || reset == nullptr) return 3;
    void* kept[6];
    for (void*& k : kept)
        k = tp_site_kept(7001);
    const auto show = [&](const char* what, Sites fn, bool peak) {
        static memtrack_site s[64];  // not on the heap: the snapshot must not change it
        for (memtrack_site& x : s)
            x = memtrack_site_init();
        const std::size_t n = fn(s, 64);
        // Asked for none: the count only.
        std::printf("%s count=%zu (max 0: %zu)\n", what, n, fn(nullptr, 0));
        for (std::size_t i = 0; i < std::min<std::size_t>(n, 64); ++i) {
            char text[512] = "";
            if (where(s[i].stack, text, sizeof text) < 0) continue;
            if (std::strstr(text, "tp_site_") == nullptr) continue;
            std::printf("%s %s bytes=%lld blocks=%lld allocations=%llu\n", what, text,
                        static_cast<long long>(peak ? s[i].peak_bytes : s[i].live_bytes),
                        static_cast<long long>(peak ? s[i].peak_blocks : s[i].live_blocks),
                        static_cast<unsigned long long>(s[i].allocations));
        }
    };
    show("live", take, false);
    reset();
    void* t = tp_site_temp(900001);
    std::free(kept[5]);
    std::free(t);
    show("peak", peak_sites, true);
    for (int i = 0; i < 5; ++i)
        std::free(kept[i]);
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    const char* mode = argc > 1 ? argv[1] : "peak";
    if (std::strcmp(mode, "peak") == 0) return peak();
    if (std::strcmp(mode, "reset") == 0) return reset();
    if (std::strcmp(mode, "threads") == 0) return threads();
    if (std::strcmp(mode, "fork") == 0) return fork_mode();
    if (std::strcmp(mode, "temp") == 0) return temp();
    if (std::strcmp(mode, "timeline") == 0) return timeline();
    if (std::strcmp(mode, "snapshot") == 0) return snapshot();
    return 2;
}
