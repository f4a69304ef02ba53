/* tp_stress WAY THREADS ROUNDS [LIB]: bounded stress for issue 11 (fixed seeds, sizes from the
 * arguments). Every way ends with exit(0) and prints "done" unless something broke.
 *   churn:    THREADS threads churn malloc/free/realloc while main forks ROUNDS children
 *             (each allocates, then exits, _exits or is killed by SIGTERM) and dlopen/dlcloses
 *             LIB ROUNDS times; run it with MEMTRACK_GC=auto for scans meanwhile.
 *   rt6:      the same churn, the program handling SIGRTMIN+6 itself (memtrack's pause signal)
 *             and sending it to its threads ROUNDS times.
 *   blockall: every thread blocks every signal (so the scan cannot pause them).
 *   report_signals: a child sends SIGUSR1 (handled) and SIGWINCH (ignored) to this process
 *             without pause while it writes its reports (memtrack_write_report through dlsym,
 *             then the exit report). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_stop;
static atomic_long g_rt6_seen;
static atomic_long g_usr1_seen;
static int g_block_all;

static uint64_t next_rand(uint64_t* s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void* churn(void* arg)
{
    if (g_block_all) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
    }
    uint64_t seed = 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)arg;
    enum { kSlots = 64 };
    void* slots[kSlots] = {0};
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        const uint64_t r = next_rand(&seed);
        const int i = (int)(r % kSlots);
        const size_t size = 1 + (size_t)((r >> 8) % ((r >> 40) % 16 == 0 ? 65536 : 512));
        if (slots[i] == NULL) {
            slots[i] = malloc(size);
            if (slots[i] != NULL) memset(slots[i], (int)r, size < 64 ? size : 64);
        } else if ((r >> 20) % 4 == 0) {
            void* p = realloc(slots[i], size);
            if (p != NULL) slots[i] = p;
        } else {
            free(slots[i]);
            slots[i] = NULL;
        }
    }
    for (int i = 0; i < kSlots; ++i)
        free(slots[i]);
    return NULL;
}

static void on_rt6(int sig)
{
    (void)sig;
    atomic_fetch_add(&g_rt6_seen, 1);
}

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&g_usr1_seen, 1);
}

static void pause_ms(long ms)
{
    const struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

/* A forked child: allocates, then ends one of three ways. */
static void child(int round)
{
    void* p = malloc(1000 + (size_t)round);
    memset(p, 1, 1000);
    switch (round % 3) {
    case 0: exit(0);
    case 1: _exit(0);
    default: raise(SIGTERM); _exit(9);
    }
}

int main(int argc, char** argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char* way = argc > 1 ? argv[1] : "churn";
    const int threads = argc > 2 ? atoi(argv[2]) : 8;
    const int rounds = argc > 3 ? atoi(argv[3]) : 10;
    const char* lib = argc > 4 ? argv[4] : NULL;
    if (strcmp(way, "report_signals") == 0) {
        signal(SIGUSR1, on_usr1);
        signal(SIGWINCH, SIG_IGN);
        const pid_t self = getpid();
        const pid_t sender = fork();
        if (sender == 0) {
            for (;;) {
                if (kill(self, SIGUSR1) != 0) _exit(0);
                kill(self, SIGWINCH);
                if (getppid() != self) _exit(0);
            }
        }
        /* the storm has begun before the reports (at most 2 s) */
        for (int i = 0; i < 2000 && atomic_load(&g_usr1_seen) == 0; ++i)
            pause_ms(1);
        void* held[256];
        for (int i = 0; i < 256; ++i)
            held[i] = malloc(100 + (size_t)i);
        int (*write_report)(const char*) =
            (int (*)(const char*))dlsym(RTLD_DEFAULT, "memtrack_write_report");
        for (int i = 0; i < rounds && write_report != NULL; ++i)
            write_report(NULL);
        for (int i = 0; i < 128; ++i)
            free(held[i]); /* the other half leaks: the exit report scans under signals */
        printf("usr1 seen %s\n", atomic_load(&g_usr1_seen) > 0 ? "yes" : "no");
        printf("done\n");
        exit(0); /* the sender sees its parent gone and ends */
    }
    g_block_all = strcmp(way, "blockall") == 0;
    if (g_block_all) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
    }
    const int rt6 = strcmp(way, "rt6") == 0;
    if (rt6) {
        struct sigaction a;
        memset(&a, 0, sizeof a);
        a.sa_handler = on_rt6;
        sigemptyset(&a.sa_mask);
        a.sa_flags = SA_RESTART;
        sigaction(SIGRTMIN + 6, &a, NULL);
    }
    pthread_t* t = calloc((size_t)threads, sizeof *t);
    for (int i = 0; i < threads; ++i)
        if (pthread_create(&t[i], NULL, churn, (void*)(uintptr_t)(i + 1)) != 0) return 3;
    for (int round = 0; round < rounds; ++round) {
        const pid_t c = fork();
        if (c == 0) child(round);
        if (c > 0) waitpid(c, NULL, 0);
        if (lib != NULL) {
            void* h = dlopen(lib, RTLD_NOW);
            if (h != NULL) {
                void (*leak)(void) = (void (*)(void))dlsym(h, "tp_lib_leak");
                if (leak != NULL) leak();
                dlclose(h);
            }
        }
        if (rt6)
            for (int i = 0; i < threads; ++i)
                pthread_kill(t[i], SIGRTMIN + 6);
        pause_ms(5);
    }
    atomic_store(&g_stop, 1);
    for (int i = 0; i < threads; ++i)
        pthread_join(t[i], NULL);
    free(t);
    if (rt6) printf("rt6 seen %s\n", atomic_load(&g_rt6_seen) > 0 ? "yes" : "no");
    printf("done\n");
    return 0;
}
