/* soak SECONDS THREADS: a long run at a constant live heap, for bench/soak.sh. THREADS threads
 * each churn a ring of 4096 blocks (16 B to 4 KiB) allocated through call chains of varying
 * depth (a bounded set of stacks: about 8 x 64 sites per thread), while the main thread forks
 * a child every second (the child churns for 20 ms, then exits). The live heap stays at about
 * THREADS x 8 MiB, so what grows in RSS over the run is memtrack's own memory. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static volatile int g_stop;

/* xorshift64 with the caller's state (one per thread; bench/workloads/xorshift.h has one per
 * process). */
static uint64_t xorshift64(uint64_t* s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

__attribute__((noinline)) static void* alloc_at(int depth, size_t size)
{
    if (depth > 0) {
        void* p = alloc_at(depth - 1, size);
        __asm__ volatile("" ::"r"(p) : "memory"); /* not a tail call */
        return p;
    }
    return malloc(size);
}

static void churn_for(uint64_t* seed, void** ring, size_t n, double until)
{
    while (!g_stop && now_s() < until) {
        for (int k = 0; k < 1000; ++k) {
            const uint64_t r = xorshift64(seed);
            const size_t i = (size_t)(r % n);
            free(ring[i]);
            ring[i] = alloc_at((int)((r >> 20) % 8), 16 + (size_t)((r >> 32) % 4080));
        }
    }
}

static void* churn_main(void* arg)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)arg;
    enum { kRing = 4096 };
    void** ring = calloc(kRing, sizeof(void*));
    churn_for(&seed, ring, kRing, 1e300);
    for (size_t i = 0; i < kRing; ++i)
        free(ring[i]);
    free(ring);
    return NULL;
}

int main(int argc, char** argv)
{
    const double seconds = argc > 1 ? atof(argv[1]) : 600;
    const int threads = argc > 2 ? atoi(argv[2]) : 4;
    pthread_t t[64];
    const int n = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    for (int i = 0; i < n; ++i)
        pthread_create(&t[i], NULL, churn_main, (void*)(uintptr_t)(i + 1));
    const double end = now_s() + seconds;
    long forks = 0;
    while (now_s() < end) {
        const pid_t child = fork();
        if (child == 0) {
            uint64_t seed = 12345;
            void* ring[256] = {0};
            churn_for(&seed, ring, 256, now_s() + 0.02);
            for (int i = 0; i < 256; ++i)
                free(ring[i]);
            exit(0);
        }
        if (child > 0) {
            waitpid(child, NULL, 0);
            ++forks;
        }
        const struct timespec pause = {1, 0};
        nanosleep(&pause, NULL);
    }
    g_stop = 1;
    for (int i = 0; i < n; ++i)
        pthread_join(t[i], NULL);
    printf("soak: %.0f s, %d threads, %ld forks\n", seconds, n, forks);
    return 0;
}
