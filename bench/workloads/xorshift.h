/* The workloads' fixed-seed xorshift64 (one sequence per process, the same in every run). */
#ifndef MEMTRACK_BENCH_XORSHIFT_H
#define MEMTRACK_BENCH_XORSHIFT_H
#include <stdint.h>

static uint64_t state = 0x9E3779B97F4A7C15ull;
static inline uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}
#endif
