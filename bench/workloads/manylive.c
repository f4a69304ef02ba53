/* manylive BLOCKS: BLOCKS blocks of 32..256 B kept alive at once (each written), then freed.
 * Run beside mimalloc, the max RSS difference divided by BLOCKS is memtrack's bookkeeping per
 * live block. Prints a checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv)
{
    const long n = argc > 1 ? atol(argv[1]) : 1000000;
    unsigned char** blocks = malloc(sizeof(unsigned char*) * (size_t)n);
    uint64_t s = 0x9E3779B97F4A7C15ull, sum = 0;
    for (long i = 0; i < n; ++i) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        const size_t size = 32 + (size_t)(s % 225);
        blocks[i] = malloc(size);
        memset(blocks[i], (int)(i & 0xff), size);
    }
    for (long i = 0; i < n; ++i) {
        sum += blocks[i][0];
        free(blocks[i]);
    }
    free(blocks);
    printf("%llu\n", (unsigned long long)sum);
    return 0;
}
