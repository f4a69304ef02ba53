// LeakSanitizer-style test programs for the sanitizer/lsan_interface.h functions and memtrack's
// own names for them: `tp_lsan SCENARIO`. Built twice: tp_lsan calls the interface through weak
// declarations (as most code bases do; run under LD_PRELOAD), tp_lsan_linked links
// libmemtrack.so. Marker sizes let the tests find each block in the JSON report. The program's
// own LSan hooks are defined here and driven by the environment (TP_LSAN_OFF,
// TP_LSAN_SUPPRESSIONS, TP_LSAN_OPTIONS), as LSan's tests define them.
#include <memtrack/memtrack.h>
#include <sanitizer/lsan_interface.h>

#include <pthread.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#ifndef TP_LINKED
// Without the sanitizer runtime nothing defines these at link time: weak, as in Abseil's
// leak_check.cc; the preloaded libmemtrack.so provides them at run time.
#pragma weak __lsan_ignore_object
#pragma weak __lsan_disable
#pragma weak __lsan_enable
#pragma weak __lsan_register_root_region
#pragma weak __lsan_unregister_root_region
#pragma weak __lsan_do_leak_check
#pragma weak __lsan_do_recoverable_leak_check
#pragma weak memtrack_check_leaks
#endif

#define NOINLINE __attribute__((noinline))

extern "C" {
int __lsan_is_turned_off()
{
    return std::getenv("TP_LSAN_OFF") != nullptr;
}
const char* __lsan_default_suppressions()
{
    return std::getenv("TP_LSAN_SUPPRESSIONS") != nullptr
               ? "# the program's own\nleak:*suppressed_leak*\n"
               : "";
}
const char* __lsan_default_options()
{
    const char* o = std::getenv("TP_LSAN_OPTIONS");
    return o != nullptr ? o : "";
}
}

namespace {

void escape(void* p)
{
    asm volatile("" : : "g"(p) : "memory");
}

NOINLINE void* leak_here(std::size_t size)
{
    void* p = std::malloc(size);
    std::memset(p, 1, size);
    escape(p);
    return p;
}

// leak_here below a 4 KiB frame: the stale copies of the pointer its frame may keep lie deeper
// than any frame of a check called next from the same caller, whose own frame the scan reads.
NOINLINE void* leak(std::size_t size)
{
    volatile char pad[4096];
    pad[0] = 0;
    void* p = leak_here(size);
    escape(const_cast<char*>(pad));
    return p;
}

NOINLINE void suppressed_leak()
{
    leak(16001);
}

// A chain a -> b -> c, `a` ignored: none of the three is reported.
NOINLINE void ignored_chain()
{
    void** a = static_cast<void**>(std::calloc(1, 10001));
    void** b = static_cast<void**>(std::calloc(1, 10002));
    void** c = static_cast<void**>(std::calloc(1, 10003));
    a[0] = b;
    b[0] = c;
    __lsan_ignore_object(a);
    escape(a);
}

void* disabled_thread(void*)
{
    __lsan_disable();
    leak(11005);  // ignored
    __lsan_enable();
    leak(11006);  // reported
    return nullptr;
}

void* plain_thread(void*)
{
    leak(11007);  // reported: only the main thread is disabled
    return nullptr;
}

NOINLINE void disable_nesting()
{
    __lsan_disable();
    leak(11001);
    __lsan_disable();
    leak(11002);
    void* r = std::realloc(std::malloc(10), 11008);  // the new block is ignored too
    escape(r);
    __lsan_enable();
    leak(11003);  // still disabled (nesting)
    pthread_t t;
    pthread_create(&t, nullptr, plain_thread, nullptr);
    pthread_join(t, nullptr);
    __lsan_enable();
    leak(11004);  // reported
    pthread_create(&t, nullptr, disabled_thread, nullptr);
    pthread_join(t, nullptr);
}

// The only pointer to a 12001-byte block lives in a shared mapping (never a root by itself).
NOINLINE void root_region(bool unregister)
{
    void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) std::exit(3);
    __lsan_register_root_region(page, 4096);
    static_cast<void**>(page)[5] = leak(12001);
    if (unregister) __lsan_unregister_root_region(page, 4096);
}

void print_totals(const char* label, const memtrack_leak_totals& t)
{
    std::printf("%s direct=%llu/%llu indirect=%llu ignored=%llu suppressed=%llu\n", label,
                static_cast<unsigned long long>(t.direct_blocks),
                static_cast<unsigned long long>(t.direct_bytes),
                static_cast<unsigned long long>(t.indirect_blocks),
                static_cast<unsigned long long>(t.ignored_blocks),
                static_cast<unsigned long long>(t.suppressed_blocks));
}

}  // namespace

int main(int argc, char** argv)
{
#ifndef TP_LINKED
    if (__lsan_do_leak_check == nullptr) {
        std::fprintf(stderr, "tp_lsan: no LSan interface at run time\n");
        return 4;
    }
#endif
    const std::string s = argc > 1 ? argv[1] : "none";
    if (s == "none") {
        std::free(leak(10));
    } else if (s == "leak") {
        leak(15001);
    } else if (s == "ignore") {
        ignored_chain();
        leak(10004);
    } else if (s == "disable") {
        disable_nesting();
    } else if (s == "root_region") {
        root_region(false);
    } else if (s == "root_region_removed") {
        root_region(true);
    } else if (s == "do_leak_check") {
        leak(13001);
        __lsan_do_leak_check();
        leak(13002);             // after the final check: never reported
        __lsan_do_leak_check();  // does nothing
    } else if (s == "recoverable") {
        const int r0 = __lsan_do_recoverable_leak_check();
        leak(14001);
        const int r1 = __lsan_do_recoverable_leak_check();
        const int r2 = __lsan_do_recoverable_leak_check();
        std::printf("recoverable=%d,%d,%d\n", r0, r1, r2);
    } else if (s == "suppressions") {
        suppressed_leak();
        leak(16002);
    } else if (s == "new_only") {
        memtrack_leak_totals a = memtrack_leak_totals_init();
        memtrack_leak_totals b = memtrack_leak_totals_init();
        memtrack_leak_totals c = memtrack_leak_totals_init();
        leak(17001);
        if (memtrack_check_leaks(MEMTRACK_LEAKS_NEW, &a) != 0) return 5;
        leak(17002);
        if (memtrack_check_leaks(MEMTRACK_LEAKS_NEW, &b) != 0) return 5;
        if (memtrack_check_leaks(MEMTRACK_LEAKS_ALL, &c) != 0) return 5;
        print_totals("first", a);
        print_totals("new", b);
        print_totals("all", c);
    } else {
        std::fprintf(stderr, "tp_lsan: unknown scenario %s\n", s.c_str());
        return 2;
    }
    return 0;
}
