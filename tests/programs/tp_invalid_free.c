/* tp_invalid_free WAY: frees that glibc stops with SIGABRT, for the invalid-free reports of
 * issue 11. double: memcheck's xml1 shape, a block of 100 B freed twice in two functions;
 * twice: two distinct double-free sites; interior: free of a pointer 8 bytes into a block;
 * foreign: free of a block from glibc's own malloc (another allocator), which must pass.
 * Prints "survived" when the program goes on past the bad free. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void* volatile keep;

__attribute__((noinline)) char* tp_allocate_block(size_t n)
{
    char* p = malloc(n);
    memset(p, 'x', n);
    return p;
}

__attribute__((noinline)) void tp_first_free(char* p)
{
    free(p);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void tp_second_free(char* p)
{
    free(p);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void tp_other_second_free(char* p)
{
    free(p);
    __asm__ volatile("" ::: "memory");
}

int main(int argc, char** argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char* way = argc > 1 ? argv[1] : "double";
    if (strcmp(way, "double") == 0) {
        char* p = tp_allocate_block(100);
        tp_first_free(p);
        tp_second_free(p);
    } else if (strcmp(way, "twice") == 0) {
        char* p = tp_allocate_block(100);
        char* q = tp_allocate_block(200);
        tp_first_free(p);
        tp_first_free(q);
        tp_second_free(p);
        for (volatile int i = 0; i < 2; ++i)
            tp_other_second_free(q); /* one site, twice (volatile: not unrolled) */
    } else if (strcmp(way, "interior") == 0) {
        char* p = tp_allocate_block(100);
        keep = p;
        tp_second_free(p + 8);
    } else if (strcmp(way, "foreign") == 0) {
        void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        void* (*libc_malloc)(size_t) = libc ? (void* (*)(size_t))dlsym(libc, "malloc") : NULL;
        if (libc_malloc == NULL) return 3;
        char* p = libc_malloc(64);
        memset(p, 'g', 64);
        tp_second_free(p);
    } else {
        return 2;
    }
    printf("survived\n");
    return 0;
}
