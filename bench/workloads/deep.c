/* deep STEPS: the memo's worst case. One thread, a ring of 10,000 live blocks as in churn, but
 * each free+malloc step runs 40 frames down a recursion (fixed-seed xorshift) whose path varies:
 * the depth is 36..44 and every level picks one of two functions (different return addresses), so
 * consecutive allocations rarely share their whole stack (2^36+ paths; the capture depth, 32 by
 * default, sees a changing stack almost every step). Prints a checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "xorshift.h"

enum { kRing = 10000 };

static unsigned char* ring[kRing];
static uint64_t sum;

static void step(long i)
{
    const uint64_t r = next();
    const size_t slot = (size_t)(r % kRing);
    const size_t size = 8 + (size_t)((r >> 32) % 1017);
    if (ring[slot] != NULL) sum += ring[slot][0];
    free(ring[slot]);
    ring[slot] = malloc(size);
    ring[slot][0] = (unsigned char)i;
    ring[slot][size - 1] = 1;
}

static void down_a(int depth, uint64_t path, long i);
static void down_b(int depth, uint64_t path, long i);

/* Two distinct frames per level; the volatile add keeps them from being merged or turned into
 * tail calls (each must stay a frame on the stack). */
__attribute__((noinline)) static void down_a(int depth, uint64_t path, long i)
{
    volatile int keep = depth;
    if (depth == 0)
        step(i);
    else if (path & 1)
        down_b(depth - 1, path >> 1, i);
    else
        down_a(depth - 1, path >> 1, i);
    keep += 1;
}

__attribute__((noinline)) static void down_b(int depth, uint64_t path, long i)
{
    volatile int keep = depth + 1;
    if (depth == 0)
        step(i);
    else if (path & 1)
        down_a(depth - 1, path >> 1, i);
    else
        down_b(depth - 1, path >> 1, i);
    keep += 2;
}

int main(int argc, char** argv)
{
    const long steps = argc > 1 ? atol(argv[1]) : 2000000;
    for (long i = 0; i < steps; ++i) {
        const uint64_t path = next();
        down_a(36 + (int)(path % 9), path >> 4, i);
    }
    for (size_t k = 0; k < kRing; ++k)
        free(ring[k]);
    printf("%llu\n", (unsigned long long)sum);
    return 0;
}
