/* C test program: tp_c MODE [ARGS]. Each mode exercises one part of the allocator API and
 * checks what it can itself; it prints "FAIL: ..." lines and exits 1 on a failure. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tp_stats.h"

static int failures = 0;
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL: %s (line %d, errno %d)\n", #cond, __LINE__, errno);                      \
            ++failures;                                                                            \
        }                                                                                          \
    } while (0)

static void* volatile sink;
static int aligned_to(const void* p, size_t a)
{
    return ((uintptr_t)p % a) == 0;
}

typedef void (*tp_reset_peak_fn)(void);

/* memtrack_reset_peak through dlsym (tp_stats has already checked the library is there). */
static void tp_reset_peak(void)
{
    static tp_reset_peak_fn fn = NULL;
    if (fn == NULL) fn = (tp_reset_peak_fn)dlsym(RTLD_DEFAULT, "memtrack_reset_peak");
    if (fn != NULL) fn();
}

/* Checks that a call made between `before` and now added exactly one allocation of `bytes`
 * requested bytes, and moved the peak (reset just before `before`) by exactly that. */
static void check_added(const char* what, const memtrack_stats* before, int64_t bytes)
{
    const memtrack_stats now = tp_stats();
    if (now.current_bytes - before->current_bytes != bytes ||
        now.allocations - before->allocations != 1 ||
        now.bytes_allocated - before->bytes_allocated != (uint64_t)bytes ||
        now.peak_bytes != before->current_bytes + bytes) {
        printf("FAIL: %s: expected +%lld B in 1 allocation; got +%lld B (+%llu allocated) in "
               "%llu allocations, peak +%lld\n",
               what, (long long)bytes, (long long)(now.current_bytes - before->current_bytes),
               (unsigned long long)(now.bytes_allocated - before->bytes_allocated),
               (unsigned long long)(now.allocations - before->allocations),
               (long long)(now.peak_bytes - before->current_bytes));
        ++failures;
    }
}

/* Checks that exactly one free of `bytes` requested bytes happened since `before`. */
static void check_freed(const char* what, const memtrack_stats* before, int64_t bytes)
{
    const memtrack_stats now = tp_stats();
    if (before->current_bytes - now.current_bytes != bytes || now.frees - before->frees != 1 ||
        now.allocations != before->allocations || now.foreign_frees != before->foreign_frees) {
        printf("FAIL: %s: expected -%lld B in 1 free; got -%lld B in %llu frees, %llu "
               "allocations, %llu foreign\n",
               what, (long long)bytes, (long long)(before->current_bytes - now.current_bytes),
               (unsigned long long)(now.frees - before->frees),
               (unsigned long long)(now.allocations - before->allocations),
               (unsigned long long)(now.foreign_frees - before->foreign_frees));
        ++failures;
    }
}

/* Checks the change of the counters since `before`. */
static void check_delta(const char* what, const memtrack_stats* before, int64_t allocations,
                        int64_t frees, int64_t bytes_allocated, int64_t current)
{
    const memtrack_stats now = tp_stats();
    const int64_t da = (int64_t)(now.allocations - before->allocations);
    const int64_t df = (int64_t)(now.frees - before->frees);
    const int64_t db = (int64_t)(now.bytes_allocated - before->bytes_allocated);
    const int64_t dc = now.current_bytes - before->current_bytes;
    if (da != allocations || df != frees || db != bytes_allocated || dc != current) {
        printf("FAIL: %s: expected %+lld allocations, %+lld frees, %+lld B allocated, %+lld B "
               "current; got %+lld, %+lld, %+lld, %+lld\n",
               what, (long long)allocations, (long long)frees, (long long)bytes_allocated,
               (long long)current, (long long)da, (long long)df, (long long)db, (long long)dc);
        ++failures;
    }
}

/* Runs `call` (an expression yielding a pointer into p) and checks it was accounted as one
 * allocation of `bytes`, aligned to `align`; then frees it and checks the free. */
#define EXACT(what, call, bytes, align)                                                            \
    do {                                                                                           \
        tp_reset_peak();                                                                           \
        const memtrack_stats before_ = tp_stats();                                                 \
        void* p_ = (call);                                                                         \
        CHECK(p_ != NULL && aligned_to(p_, (align)));                                              \
        check_added(what, &before_, (int64_t)(bytes));                                             \
        const memtrack_stats mid_ = tp_stats();                                                    \
        free(p_);                                                                                  \
        check_freed(what, &mid_, (int64_t)(bytes));                                                \
    } while (0)

/* basic exit|return N: 10007 B kept, 3000000 B freed. */
static int mode_basic(int argc, char** argv)
{
    char* keep = malloc(10007);
    memset(keep, 1, 10007);
    sink = keep;
    char* big = malloc(3000000);
    memset(big, 2, 3000000);
    free(big);
    const int code = argc > 3 ? atoi(argv[3]) : 0;
    printf("basic done\n");
    fflush(stdout);
    if (argc > 2 && strcmp(argv[2], "exit") == 0) exit(code);
    return code;
}

/* realloc: a chain through growth, a big block, shrink, and realloc(p, 0); each step checked
 * through the stats API (a realloc of a live block is one free and one allocation). */
static int mode_realloc(void)
{
    memtrack_stats s = tp_stats();
    char* p = realloc(NULL, 100);
    check_delta("realloc(NULL, 100)", &s, 1, 0, 100, 100);
    memset(p, 'a', 100);
    s = tp_stats();
    p = realloc(p, 1000);
    check_delta("realloc 100 -> 1000", &s, 1, 1, 1000, 900);
    CHECK(p[99] == 'a');
    memset(p, 'b', 1000);
    s = tp_stats();
    p = realloc(p, 100000);
    check_delta("realloc 1000 -> 100000", &s, 1, 1, 100000, 99000);
    CHECK(p[999] == 'b');
    s = tp_stats();
    p = realloc(p, 5000000);
    check_delta("realloc 100000 -> 5000000", &s, 1, 1, 5000000, 4900000);
    CHECK(p[999] == 'b');
    s = tp_stats();
    p = realloc(p, 10);
    check_delta("realloc 5000000 -> 10", &s, 1, 1, 10, -4999990);
    CHECK(p[9] == 'b');
    s = tp_stats();
    errno = 0;
    CHECK(realloc(p, 0) == NULL); /* glibc: frees p */
    check_delta("realloc(p, 0)", &s, 0, 1, 0, -10);
    return failures ? 1 : 0;
}

/* aligned: every aligned entry point, alignment checked, each block accounted exactly. */
static int mode_aligned(void)
{
    EXACT("memalign(48, 100)", memalign(48, 100), 100, 64); /* non-power-of-two: rounded up */
    EXACT("memalign(100, 1000)", memalign(100, 1000), 1000, 128);
    EXACT("memalign(1, 10)", memalign(1, 10), 10, 16);
    for (size_t a = 32; a <= ((size_t)32 << 20); a *= 4) {
        char what[64];
        snprintf(what, sizeof what, "memalign(%zu, 1000)", a);
        EXACT(what, memalign(a, 1000), 1000, a);
        snprintf(what, sizeof what, "aligned_alloc(%zu, %zu)", a, 3 * a);
        EXACT(what, aligned_alloc(a, 3 * a), 3 * a, a);
        void* q = NULL;
        CHECK(posix_memalign(&q, a, 77) == 0 && aligned_to(q, a));
        free(q);
        snprintf(what, sizeof what, "posix_memalign(%zu, 77)", a);
        tp_reset_peak();
        const memtrack_stats before = tp_stats();
        q = NULL;
        CHECK(posix_memalign(&q, a, 77) == 0 && q != NULL && aligned_to(q, a));
        check_added(what, &before, 77);
        memset(q, 3, 77);
        const memtrack_stats mid = tp_stats();
        free(q);
        check_freed(what, &mid, 77);
    }
    const memtrack_stats before_einval = tp_stats();
    void* q = (void*)0x1;
    CHECK(posix_memalign(&q, 24, 10) == EINVAL && q == (void*)0x1);
    CHECK(posix_memalign(&q, 0, 10) == EINVAL);
    CHECK(posix_memalign(&q, 4, 10) == EINVAL); /* not a multiple of sizeof(void*) */
    CHECK(posix_memalign(&q, 6 * sizeof(void*), 10) == EINVAL); /* not a power of 2 */
    check_delta("posix_memalign EINVAL", &before_einval, 0, 0, 0, 0);
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    EXACT("valloc(100)", valloc(100), 100, page);
    EXACT("valloc(3 pages + 1)", valloc(3 * page + 1), 3 * page + 1, page);
    /* pvalloc hands out whole pages and counts them (docs/report-format.md) */
    EXACT("pvalloc(100)", pvalloc(100), page, page);
    EXACT("pvalloc(page + 1)", pvalloc(page + 1), 2 * page, page);
    void* p = pvalloc(100);
    CHECK(p && aligned_to(p, page) && malloc_usable_size(p) >= page);
    memset(p, 4, page);
    free(p);
    /* realloc of an over-aligned block: contents kept, one free and one allocation */
    for (size_t a = 64; a <= ((size_t)1 << 20); a *= 128) {
        char* b = memalign(a, 3000);
        memset(b, 'q', 3000);
        const memtrack_stats s = tp_stats();
        b = realloc(b, 200000);
        check_delta("realloc of a memalign block", &s, 1, 1, 200000, 200000 - 3000);
        CHECK(b != NULL && b[0] == 'q' && b[2999] == 'q');
        free(b);
    }
    for (size_t n = 1; n <= 64; ++n) {
        char what[32];
        snprintf(what, sizeof what, "malloc(%zu)", n);
        EXACT(what, malloc(n), n, 16);
        snprintf(what, sizeof what, "calloc(1, %zu)", n);
        p = calloc(1, n);
        CHECK(p && aligned_to(p, 16) && ((char*)p)[n - 1] == 0);
        free(p);
        EXACT(what, calloc(n, 3), 3 * n, 16);
    }
    return failures ? 1 : 0;
}

/* semantics: glibc's behaviour where POSIX leaves a choice; failed calls count nothing. */
static int mode_semantics(void)
{
    volatile size_t huge = SIZE_MAX / 2, max = SIZE_MAX;
    void* p = malloc(10);
    memtrack_stats s = tp_stats();
    errno = 0;
    CHECK(malloc(huge) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(huge, 4) == NULL && errno == ENOMEM); /* overflow */
    errno = 0;
    CHECK(calloc(max, max) == NULL && errno == ENOMEM); /* overflow */
    errno = 0;
    CHECK(calloc(1, huge) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(realloc(NULL, huge) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(memalign(64, huge) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(aligned_alloc(64, max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(valloc(huge) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(pvalloc(max - 10) == NULL && errno == ENOMEM); /* rounding up overflows */
    void* q = (void*)0x1;
    CHECK(posix_memalign(&q, 64, huge) == ENOMEM && q == (void*)0x1);
    errno = 0;
    CHECK(reallocarray(p, huge, 4) == NULL && errno == ENOMEM); /* overflow; p untouched */
    errno = 0;
    CHECK(reallocarray(NULL, max, 2) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(realloc(p, huge) == NULL && errno == ENOMEM);
    CHECK(malloc_usable_size(p) >= 10);
    check_delta("failed calls", &s, 0, 0, 0, 0);
    s = tp_stats();
    free(p);
    check_delta("free(p) after failed reallocs", &s, 0, 1, 0, -10);
    s = tp_stats();
    void* a = malloc(0);
    void* b = malloc(0);
    CHECK(a != NULL && b != NULL && a != b);
    check_delta("malloc(0) twice", &s, 2, 0, 0, 0);
    free(a);
    free(b);
    check_delta("malloc(0) freed", &s, 2, 2, 0, 0);
    p = malloc(50);
    s = tp_stats();
    CHECK(realloc(p, 0) == NULL);
    check_delta("realloc(p, 0)", &s, 0, 1, 0, -50);
    s = tp_stats();
    p = reallocarray(NULL, 10, 10);
    CHECK(p != NULL && malloc_usable_size(p) >= 100);
    check_delta("reallocarray(NULL, 10, 10)", &s, 1, 0, 100, 100);
    free(p);
    CHECK(malloc_usable_size(NULL) == 0);
    s = tp_stats();
    free(NULL);
    check_delta("free(NULL)", &s, 0, 0, 0, 0);
    CHECK(tp_stats().foreign_frees == s.foreign_frees);
    return failures ? 1 : 0;
}

/* libc: memory that glibc itself allocates for the program (strdup, asprintf, getline,
 * open_memstream, realpath, scandir) goes through the preloaded malloc and is freed as ours. */
static int sel_all(const struct dirent* d)
{
    (void)d;
    return 1;
}

static int mode_libc(void)
{
    const memtrack_stats before = tp_stats();
    char* dup = strdup("0123456789");
    char* ndup = strndup("0123456789", 4);
    char* printed = NULL;
    CHECK(asprintf(&printed, "%d-%s", 10007, "marker") > 0);
    CHECK(dup && ndup && printed && strcmp(ndup, "0123") == 0);
    char* mem = NULL;
    size_t mem_size = 0;
    FILE* ms = open_memstream(&mem, &mem_size);
    for (int i = 0; i < 1000; ++i)
        fprintf(ms, "line %d\n", i);
    fclose(ms);
    CHECK(mem != NULL && mem_size > 5000);
    FILE* in = fmemopen(mem, mem_size, "r");
    char* line = NULL;
    size_t cap = 0;
    int lines = 0;
    while (getline(&line, &cap, in) > 0)
        ++lines;
    CHECK(lines == 1000);
    fclose(in);
    char* real = realpath("/proc/self/exe", NULL);
    CHECK(real != NULL);
    struct dirent** entries = NULL;
    const int n = scandir("/", &entries, sel_all, alphasort);
    CHECK(n > 2);
    for (int i = 0; i < n; ++i)
        free(entries[i]);
    free(entries);
    free(real);
    free(line);
    free(mem);
    free(printed);
    free(ndup);
    free(dup);
    const memtrack_stats after = tp_stats();
    CHECK(after.foreign_frees == before.foreign_frees);
    CHECK(after.current_bytes == before.current_bytes);
    CHECK(after.allocations - before.allocations == after.frees - before.frees);
    CHECK(after.allocations - before.allocations >= 8 + (uint64_t)n);
    /* glibc's malloc tuning calls do not crash under another allocator */
    mallopt(M_TRIM_THRESHOLD, 1 << 20);
    malloc_trim(0);
    struct mallinfo2 mi = mallinfo2();
    (void)mi;
    /* calloc returns zeroed memory even where a dirty block was just freed */
    for (size_t size = 16; size <= ((size_t)1 << 22); size *= 4) {
        unsigned char* dirty = malloc(size);
        memset(dirty, 0xff, size);
        free(dirty);
        unsigned char* z = calloc(1, size);
        size_t nonzero = 0;
        for (size_t i = 0; i < size; ++i)
            nonzero += z[i] != 0;
        CHECK(nonzero == 0);
        free(z);
    }
    printf("libc done\n");
    return failures ? 1 : 0;
}

/* foreign: frees and reallocs of memory memtrack never allocated; 6 foreign calls in all. */
static int mode_foreign(void)
{
    static char data_buffer[256];
    int on_stack = 0;
    char* mapped = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mapped != MAP_FAILED);
    memset(mapped, 'm', 8192);
    /* RTLD_NEXT from the executable finds the preloaded malloc again (the preload comes right
     * after the executable in the lookup order); glibc's own is looked up in libc.so.6. */
    printf("RTLD_NEXT malloc is %s\n",
           dlsym(RTLD_NEXT, "malloc") == (void*)malloc ? "the preloaded one" : "another");
    void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    void* (*libc_malloc)(size_t) = libc ? (void* (*)(size_t))dlsym(libc, "malloc") : NULL;
    CHECK(libc_malloc != NULL && libc_malloc != malloc);
    char* from_glibc = libc_malloc(64);
    memset(from_glibc, 'g', 64);
    memset(data_buffer, 'd', sizeof data_buffer);
    const memtrack_stats before = tp_stats();
    free(mapped + 4096); /* page-aligned: the slow path */
    free(data_buffer + 16);
    free(&on_stack);
    check_delta("three foreign frees", &before, 0, 0, 0, 0);
    CHECK(tp_stats().foreign_frees - before.foreign_frees == 3);
    CHECK(mapped[4096] == 'm' && data_buffer[16] == 'd'); /* untouched */
    const memtrack_stats before_realloc = tp_stats();
    char* moved = realloc(from_glibc, 32); /* copied into a tracked block */
    CHECK(moved != NULL && moved[0] == 'g' && moved[31] == 'g');
    check_delta("realloc of glibc's block", &before_realloc, 1, 0, 32, 32);
    char* moved2 = realloc(mapped + 8192 - 100, 4000); /* only 100 B readable before the end */
    CHECK(moved2 != NULL && moved2[0] == 'm' && moved2[99] == 'm');
    free(from_glibc);
    free(moved);
    free(moved2);
    CHECK(tp_stats().foreign_frees - before.foreign_frees == 6);
    munmap(mapped, 8192);
    printf("foreign done\n");
    return failures ? 1 : 0;
}

/* doublefree: a block freed twice (nothing allocated in between) is counted once as freed, not
 * as foreign (an invalid free, issue 11: run with MEMTRACK_INVALID_FREE=report), and not handed
 * to mimalloc twice. */
static int mode_doublefree(void)
{
    char* p = malloc(10007);
    memset(p, 1, 10007);
    const memtrack_stats before = tp_stats();
    free(p);
    free(p);
    check_delta("double free", &before, 0, 1, 0, -10007);
    CHECK(tp_stats().foreign_frees - before.foreign_frees == 0);
    /* the heap still works: two fresh blocks are distinct */
    char* a = malloc(10007);
    char* b = malloc(10007);
    CHECK(a != NULL && b != NULL && a != b);
    free(a);
    free(b);
    printf("doublefree done\n");
    return failures ? 1 : 0;
}

struct handoff {
    void** blocks;
    int count;
    pthread_barrier_t* barrier;
    struct handoff* next;
};

static void* thread_main(void* arg)
{
    struct handoff* h = arg;
    pthread_barrier_wait(h->barrier); /* 1: every thread started; main reads "before" */
    pthread_barrier_wait(h->barrier); /* 2: go */
    for (int i = 0; i < h->count; ++i) {
        h->blocks[i] = malloc(10007);
        memset(h->blocks[i], i, 64);
    }
    pthread_barrier_wait(h->barrier); /* 3: every block allocated */
    for (int i = 0; i < h->next->count; ++i)
        free(h->next->blocks[i]);     /* cross-thread */
    pthread_barrier_wait(h->barrier); /* 4: every block freed; main reads "after" */
    pthread_barrier_wait(h->barrier); /* 5: main has read; threads may exit */
    return NULL;
}

/* threads N M: N threads allocate M blocks of 10007 B each; each thread frees its neighbour's.
 * Prints the stats deltas between all threads started and all blocks freed (threads quiet at
 * a barrier both times, so exact) for the test to check. */
static int mode_threads(int argc, char** argv)
{
    const int n = argc > 2 ? atoi(argv[2]) : 4;
    const int m = argc > 3 ? atoi(argv[3]) : 1000;
    pthread_t* threads = malloc(sizeof(pthread_t) * (size_t)n);
    struct handoff* h = malloc(sizeof(struct handoff) * (size_t)n);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)n + 1);
    for (int t = 0; t < n; ++t) {
        h[t].blocks = malloc(sizeof(void*) * (size_t)(m > 0 ? m : 1));
        h[t].count = m;
        h[t].barrier = &barrier;
        h[t].next = &h[(t + 1) % n];
    }
    for (int t = 0; t < n; ++t)
        pthread_create(&threads[t], NULL, thread_main, &h[t]);
    pthread_barrier_wait(&barrier); /* 1 */
    const memtrack_stats before = tp_stats();
    pthread_barrier_wait(&barrier); /* 2 */
    pthread_barrier_wait(&barrier); /* 3 */
    pthread_barrier_wait(&barrier); /* 4 */
    const memtrack_stats after = tp_stats();
    pthread_barrier_wait(&barrier); /* 5 */
    for (int t = 0; t < n; ++t)
        pthread_join(threads[t], NULL);
    printf("allocations %llu frees %llu bytes %llu current %lld\n",
           (unsigned long long)(after.allocations - before.allocations),
           (unsigned long long)(after.frees - before.frees),
           (unsigned long long)(after.bytes_allocated - before.bytes_allocated),
           (long long)(after.current_bytes - before.current_bytes));
    for (int t = 0; t < n; ++t)
        free(h[t].blocks);
    free(h);
    free(threads);
    pthread_barrier_destroy(&barrier);
    return 0;
}

/* fork1: a single-threaded parent forks three children: one allocates 30011 B, frees the
 * parent's 20011 B block and exits 7 (a report of its own); one _exits (no report); one execs
 * `tp_c idle`. The parent's counters do not move across the forks. */
static int mode_fork1(void)
{
    char* parent_block = malloc(20011);
    memset(parent_block, 1, 20011);
    const memtrack_stats at_fork = tp_stats();
    const pid_t child = fork();
    if (child == 0) {
        const memtrack_stats inherited = tp_stats();
        /* counts start at zero in the child; the heap is what it inherited */
        if (inherited.allocations != 0 || inherited.frees != 0 ||
            inherited.current_bytes != at_fork.current_bytes)
            _exit(50);
        char* mine = malloc(30011);
        memset(mine, 2, 30011);
        sink = mine;
        parent_block[20010] = 3;
        free(parent_block);
        exit(7);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    const pid_t quiet = fork();
    if (quiet == 0) {
        free(parent_block);
        sink = malloc(40009);
        _exit(0);
    }
    waitpid(quiet, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    const pid_t exec_child = fork();
    if (exec_child == 0) {
        execl("/proc/self/exe", "tp_c", "idle", (char*)NULL);
        _exit(99);
    }
    waitpid(exec_child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    check_delta("parent across three forks", &at_fork, 0, 0, 0, 0);
    CHECK(parent_block[20010] == 1);
    printf("parent %d child %d quiet %d exec_child %d current_at_fork %lld\n", (int)getpid(),
           (int)child, (int)quiet, (int)exec_child, (long long)at_fork.current_bytes);
    return failures ? 1 : 0;
}

static void* spin_main(void* arg)
{
    volatile int* stop = arg;
    while (!*stop)
        free(malloc(333));
    return NULL;
}

/* fork: a multithreaded parent forks; the child frees a parent block, allocates 30011 B and
 * exits 7; a second child execs true. */
static int mode_fork(void)
{
    volatile int stop = 0;
    pthread_t spinner;
    pthread_create(&spinner, NULL, spin_main, (void*)&stop);
    char* parent_block = malloc(20011);
    memset(parent_block, 1, 20011);
    usleep(20000);
    pid_t child = fork();
    if (child == 0) {
        char* mine = malloc(30011);
        memset(mine, 2, 30011);
        sink = mine;
        free(parent_block);
        exit(7);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    pid_t exec_child = fork();
    if (exec_child == 0) {
        execlp("true", "true", (char*)NULL);
        _exit(99);
    }
    waitpid(exec_child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    stop = 1;
    pthread_join(spinner, NULL);
    printf("parent %d child %d exec_child %d\n", (int)getpid(), (int)child, (int)exec_child);
    return failures ? 1 : 0;
}

/* forkloop N: three threads churn while the main thread forks N children; each child
 * allocates, frees a block it inherited and exits. Any deadlock in the fork handlers hangs. */
static int mode_forkloop(int argc, char** argv)
{
    const int n = argc > 2 ? atoi(argv[2]) : 30;
    volatile int stop = 0;
    pthread_t spinners[3];
    for (int i = 0; i < 3; ++i)
        pthread_create(&spinners[i], NULL, spin_main, (void*)&stop);
    for (int i = 0; i < n; ++i) {
        char* inherited = malloc(1000 + (size_t)i);
        const pid_t child = fork();
        if (child == 0) {
            char* mine = malloc(5000);
            sink = mine;
            free(inherited);
            exit(0);
        }
        int status = 0;
        waitpid(child, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        free(inherited);
    }
    stop = 1;
    for (int i = 0; i < 3; ++i)
        pthread_join(spinners[i], NULL);
    return failures ? 1 : 0;
}

static void* read_stdin(void* arg)
{
    char line[256];
    (void)arg;
    while (fgets(line, sizeof line, stdin) != NULL) { /* holds stdin's lock while blocked */
    }
    return NULL;
}

/* stdinblock: a thread sits in fgets(stdin) (holding the stream's lock) while main exits. The
 * exit must not wait for that lock; an alarm kills the process if it hangs. */
static int mode_stdinblock(void)
{
    pthread_t reader;
    pthread_create(&reader, NULL, read_stdin, NULL);
    usleep(50000);
    printf("leaving\n");
    alarm(10);
    return 0;
}

/* huge: blocks of 1 GiB and more (mimalloc maps them outside its region map), untouched. */
static int mode_huge(void)
{
    char* p = malloc((size_t)1 << 30);
    CHECK(p != NULL && malloc_usable_size(p) >= ((size_t)1 << 30));
    p = realloc(p, ((size_t)1 << 30) + 4096);
    CHECK(p != NULL);
    free(p);
    void* q = NULL;
    CHECK(posix_memalign(&q, 4096, (size_t)2 << 30) == 0);
    free(q);
    return failures ? 1 : 0;
}

static void* churn_forever(void* arg)
{
    (void)arg;
    for (size_t i = 0;; ++i) {
        void* p = malloc(64 + i % 4096);
        sink = p;
        free(p);
    }
    return NULL;
}

/* detached: two threads allocate without pause while main returns 3; the exit report must
 * not hang or crash on them. */
static int mode_detached(void)
{
    pthread_t t;
    for (int i = 0; i < 2; ++i) {
        pthread_create(&t, NULL, churn_forever, NULL);
        pthread_detach(t);
    }
    usleep(20000);
    alarm(20);
    return 3;
}

/* chdir DIR: allocates 10007 B and changes directory before exiting; a relative report path
 * still means the directory the program started in. */
static int mode_chdir(int argc, char** argv)
{
    sink = malloc(10007);
    CHECK(argc > 2 && chdir(argv[2]) == 0);
    return failures ? 1 : 0;
}

/* api: the C API found with dlsym under LD_PRELOAD gives exact deltas. */
static int mode_api(void)
{
    if (dlsym(RTLD_DEFAULT, "memtrack_get_stats") == NULL) {
        printf("not tracked\n");
        return 0;
    }
    int (*is_active)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "memtrack_is_active");
    CHECK(is_active != NULL && is_active() == 1);
    const memtrack_stats a = tp_stats();
    char* p = malloc(10007);
    sink = p;
    const memtrack_stats b = tp_stats();
    free(p);
    const memtrack_stats c = tp_stats();
    CHECK(b.current_bytes - a.current_bytes == 10007);
    CHECK(b.allocations - a.allocations == 1);
    CHECK(c.current_bytes == a.current_bytes);
    CHECK(c.frees - a.frees == 1);
    CHECK(b.peak_bytes >= b.current_bytes);
    const char* (*version)(void) = (const char* (*)(void))dlsym(RTLD_DEFAULT, "memtrack_version");
    CHECK(version != NULL);
    printf("tracked\n");
    if (version != NULL) fprintf(stderr, "version %s\n", version());
    return failures ? 1 : 0;
}

int main(int argc, char** argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char* mode = argc > 1 ? argv[1] : "idle";
    printf("tp_c %s\n", mode); /* every mode, idle too, has the same stdout buffer */
    if (strcmp(mode, "idle") == 0) return 0;
    if (strcmp(mode, "basic") == 0) return mode_basic(argc, argv);
    if (strcmp(mode, "realloc") == 0) return mode_realloc();
    if (strcmp(mode, "aligned") == 0) return mode_aligned();
    if (strcmp(mode, "semantics") == 0) return mode_semantics();
    if (strcmp(mode, "foreign") == 0) return mode_foreign();
    if (strcmp(mode, "threads") == 0) return mode_threads(argc, argv);
    if (strcmp(mode, "fork") == 0) return mode_fork();
    if (strcmp(mode, "api") == 0) return mode_api();
    if (strcmp(mode, "huge") == 0) return mode_huge();
    if (strcmp(mode, "libc") == 0) return mode_libc();
    if (strcmp(mode, "detached") == 0) return mode_detached();
    if (strcmp(mode, "chdir") == 0) return mode_chdir(argc, argv);
    if (strcmp(mode, "fork1") == 0) return mode_fork1();
    if (strcmp(mode, "doublefree") == 0) return mode_doublefree();
    if (strcmp(mode, "forkloop") == 0) return mode_forkloop(argc, argv);
    if (strcmp(mode, "stdinblock") == 0) return mode_stdinblock();
    fprintf(stderr, "tp_c: unknown mode %s\n", mode);
    return 2;
}
