/* realloc STEPS: buffers grown by realloc chains. 64 buffers; each step grows a random buffer
 * by 16..4096 bytes (writing the new tail) until it passes 1 MiB, then frees it and starts
 * again from 16 bytes. Fixed-seed xorshift; prints a checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kBuffers = 64, kLimit = 1 << 20 };

int main(int argc, char** argv)
{
    const long steps = argc > 1 ? atol(argv[1]) : 2000000;
    static unsigned char* buf[kBuffers];
    static size_t len[kBuffers];
    uint64_t s = 0x9E3779B97F4A7C15ull, sum = 0;
    for (long i = 0; i < steps; ++i) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        const size_t k = (size_t)(s % kBuffers);
        const size_t grow = 16 + (size_t)((s >> 20) % 4081);
        if (len[k] + grow > kLimit) {
            sum += buf[k][len[k] - 1];
            free(buf[k]);
            buf[k] = NULL;
            len[k] = 0;
        }
        buf[k] = realloc(buf[k], len[k] + grow);
        memset(buf[k] + len[k], (int)(i & 0xff), grow);
        len[k] += grow;
    }
    for (size_t k = 0; k < kBuffers; ++k) free(buf[k]);
    printf("%llu\n", (unsigned long long)sum);
    return 0;
}
