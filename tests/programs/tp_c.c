/* C test program: tp_c MODE [ARGS]. Each mode exercises one part of the allocator API and
 * checks what it can itself; it prints "FAIL: ..." lines and exits 1 on a failure. */
#define _GNU_SOURCE
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
#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            printf("FAIL: %s (line %d, errno %d)\n", #cond, __LINE__, errno);         \
            ++failures;                                                               \
        }                                                                             \
    } while (0)

static void* volatile sink;
static int aligned_to(const void* p, size_t a) { return ((uintptr_t)p % a) == 0; }

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

/* realloc: a chain through growth, a big block, shrink, and realloc(p, 0). */
static int mode_realloc(void)
{
    char* p = realloc(NULL, 100);
    memset(p, 'a', 100);
    p = realloc(p, 1000);
    CHECK(p[99] == 'a');
    memset(p, 'b', 1000);
    p = realloc(p, 100000);
    CHECK(p[999] == 'b');
    p = realloc(p, 5000000);
    CHECK(p[999] == 'b');
    p = realloc(p, 10);
    CHECK(p[9] == 'b');
    errno = 0;
    CHECK(realloc(p, 0) == NULL); /* glibc: frees p */
    return failures ? 1 : 0;
}

/* aligned: every aligned entry point, alignment checked. */
static int mode_aligned(void)
{
    void* p = memalign(48, 100); /* non-power-of-two: rounded up to 64 */
    CHECK(p && aligned_to(p, 64));
    free(p);
    p = memalign(1, 10);
    CHECK(p && aligned_to(p, 16));
    free(p);
    for (size_t a = 32; a <= ((size_t)32 << 20); a *= 4) {
        p = memalign(a, 1000);
        CHECK(p && aligned_to(p, a));
        memset(p, 3, 1000);
        free(p);
        p = aligned_alloc(a, 3 * a);
        CHECK(p && aligned_to(p, a));
        free(p);
        void* q = NULL;
        CHECK(posix_memalign(&q, a, 77) == 0 && aligned_to(q, a));
        free(q);
    }
    void* q = (void*)0x1;
    CHECK(posix_memalign(&q, 24, 10) == EINVAL && q == (void*)0x1);
    CHECK(posix_memalign(&q, 0, 10) == EINVAL);
    CHECK(posix_memalign(&q, 4, 10) == EINVAL); /* not a multiple of sizeof(void*) */
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    p = valloc(100);
    CHECK(p && aligned_to(p, page));
    free(p);
    p = pvalloc(100);
    CHECK(p && aligned_to(p, page) && malloc_usable_size(p) >= page);
    free(p);
    for (size_t n = 1; n <= 64; ++n) {
        p = malloc(n);
        CHECK(p && aligned_to(p, 16));
        free(p);
        p = calloc(1, n);
        CHECK(p && aligned_to(p, 16) && ((char*)p)[n - 1] == 0);
        free(p);
    }
    return failures ? 1 : 0;
}

/* semantics: glibc's behaviour where POSIX leaves a choice. */
static int mode_semantics(void)
{
    volatile size_t huge = SIZE_MAX / 2, max = SIZE_MAX;
    errno = 0;
    CHECK(malloc(huge) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(huge, 4) == NULL && errno == ENOMEM); /* overflow */
    errno = 0;
    CHECK(calloc(1, huge) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(memalign(64, huge) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(aligned_alloc(64, max) == NULL && errno == ENOMEM);
    void* p = malloc(10);
    errno = 0;
    CHECK(reallocarray(p, huge, 4) == NULL && errno == ENOMEM); /* overflow; p untouched */
    errno = 0;
    CHECK(realloc(p, huge) == NULL && errno == ENOMEM);
    CHECK(malloc_usable_size(p) >= 10);
    free(p);
    void* a = malloc(0);
    void* b = malloc(0);
    CHECK(a != NULL && b != NULL && a != b);
    free(a);
    free(b);
    p = malloc(50);
    CHECK(realloc(p, 0) == NULL);
    p = reallocarray(NULL, 10, 10);
    CHECK(p != NULL && malloc_usable_size(p) >= 100);
    free(p);
    CHECK(malloc_usable_size(NULL) == 0);
    free(NULL);
    return failures ? 1 : 0;
}

/* foreign: frees and reallocs of memory memtrack never allocated; 5 foreign calls in all. */
static int mode_foreign(void)
{
    static char data_buffer[256];
    int on_stack = 0;
    char* mapped = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mapped != MAP_FAILED);
    /* glibc's own malloc: looked up in libc.so.6 itself (RTLD_NEXT from here finds the
     * preloaded one). */
    void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    void* (*libc_malloc)(size_t) = libc ? (void* (*)(size_t))dlsym(libc, "malloc") : NULL;
    CHECK(libc_malloc != NULL && libc_malloc != malloc);
    char* from_glibc = libc_malloc(64);
    memset(from_glibc, 'g', 64);
    free(mapped + 4096); /* page-aligned: the slow path */
    free(data_buffer + 16);
    free(&on_stack);
    char* moved = realloc(from_glibc, 32); /* copied into a tracked block */
    CHECK(moved != NULL && moved[31] == 'g');
    free(from_glibc);
    free(moved);
    munmap(mapped, 8192);
    printf("foreign done\n");
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
    for (int i = 0; i < h->count; ++i) {
        h->blocks[i] = malloc(10007);
        memset(h->blocks[i], i, 64);
    }
    pthread_barrier_wait(h->barrier);
    for (int i = 0; i < h->next->count; ++i) free(h->next->blocks[i]); /* cross-thread */
    return NULL;
}

/* threads N M: N threads allocate M blocks of 10007 B each; each thread frees its neighbour's.
 * Prints the stats deltas (exact once joined) for the test to check. */
static int mode_threads(int argc, char** argv)
{
    const int n = argc > 2 ? atoi(argv[2]) : 4;
    const int m = argc > 3 ? atoi(argv[3]) : 1000;
    pthread_t* threads = malloc(sizeof(pthread_t) * (size_t)n);
    struct handoff* h = malloc(sizeof(struct handoff) * (size_t)n);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)n);
    for (int t = 0; t < n; ++t) {
        h[t].blocks = malloc(sizeof(void*) * (size_t)m);
        h[t].count = m;
        h[t].barrier = &barrier;
        h[t].next = &h[(t + 1) % n];
    }
    const memtrack_stats before = tp_stats();
    for (int t = 0; t < n; ++t) pthread_create(&threads[t], NULL, thread_main, &h[t]);
    for (int t = 0; t < n; ++t) pthread_join(threads[t], NULL);
    const memtrack_stats after = tp_stats();
    printf("allocations %llu frees %llu bytes %llu current %lld\n",
           (unsigned long long)(after.allocations - before.allocations),
           (unsigned long long)(after.frees - before.frees),
           (unsigned long long)(after.bytes_allocated - before.bytes_allocated),
           (long long)(after.current_bytes - before.current_bytes));
    return 0;
}

static void* spin_main(void* arg)
{
    volatile int* stop = arg;
    while (!*stop) free(malloc(333));
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
    for (int i = 0; i < 3; ++i) pthread_create(&spinners[i], NULL, spin_main, (void*)&stop);
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
    for (int i = 0; i < 3; ++i) pthread_join(spinners[i], NULL);
    return failures ? 1 : 0;
}

static void* read_stdin(void* arg)
{
    char line[256];
    (void)arg;
    while (fgets(line, sizeof line, stdin) != NULL) {  /* holds stdin's lock while blocked */
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
    printf("tracked\n");
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
    if (strcmp(mode, "forkloop") == 0) return mode_forkloop(argc, argv);
    if (strcmp(mode, "stdinblock") == 0) return mode_stdinblock();
    fprintf(stderr, "tp_c: unknown mode %s\n", mode);
    return 2;
}
