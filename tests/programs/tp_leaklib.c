/* A library for the leak tests: holds a block in its global, or leaks one, from its own code. */
#include <stdlib.h>
#include <string.h>

void* tp_lib_global = 0;

void tp_lib_hold(void)
{
    tp_lib_global = malloc(4003);
}

__attribute__((noinline)) void tp_lib_leak(void)
{
    void* p = malloc(4004);
    memset(p, 3, 4004);
    __asm__ volatile("" : : "g"(p) : "memory");
}
