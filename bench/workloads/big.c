/* big STEPS: allocations of 64 KiB .. 8 MiB (log-uniform), a ring of 16 live blocks; each new
 * block has one byte per 4 KiB page written. Prints a checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { kRing = 16 };

int main(int argc, char** argv)
{
    const long steps = argc > 1 ? atol(argv[1]) : 20000;
    static unsigned char* ring[kRing];
    uint64_t s = 0x2545F4914F6CDD1Dull, sum = 0;
    for (long i = 0; i < steps; ++i) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        const size_t slot = (size_t)(s % kRing);
        const size_t size = (size_t)(64 << 10) << ((s >> 8) % 8); /* 64 KiB .. 8 MiB */
        const size_t jitter = (size_t)((s >> 16) % 4096);
        if (ring[slot] != NULL) sum += ring[slot][0];
        free(ring[slot]);
        ring[slot] = malloc(size + jitter);
        for (size_t off = 0; off < size; off += 4096) ring[slot][off] = (unsigned char)i;
    }
    for (size_t k = 0; k < kRing; ++k) free(ring[k]);
    printf("%llu\n", (unsigned long long)sum);
    return 0;
}
