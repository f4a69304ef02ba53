/* churn STEPS [cold]: one thread, a ring of 10,000 live blocks of random sizes 8..1024 B
 * (fixed-seed xorshift). Each step reads the first byte of a random slot's block, frees it and
 * allocates a new block, writing two bytes. With "cold" the block is freed without being read
 * first (it was last touched when allocated, ~10,000 steps earlier): an allocator that reads its
 * own header at free then pays that cache miss itself. Prints a checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "xorshift.h"

enum { kRing = 10000 };

int main(int argc, char** argv)
{
    const long steps = argc > 1 ? atol(argv[1]) : 20000000;
    const int cold = argc > 2 && argv[2][0] == 'c';
    static unsigned char* ring[kRing];
    uint64_t sum = 0;
    for (long i = 0; i < steps; ++i) {
        const uint64_t r = next();
        const size_t slot = (size_t)(r % kRing);
        const size_t size = 8 + (size_t)((r >> 32) % 1017);
        if (!cold && ring[slot] != NULL) sum += ring[slot][0];
        free(ring[slot]);
        ring[slot] = malloc(size);
        ring[slot][0] = (unsigned char)i;
        ring[slot][size - 1] = 1;
    }
    for (size_t k = 0; k < kRing; ++k)
        free(ring[k]);
    printf("%llu\n", (unsigned long long)sum);
    return 0;
}
