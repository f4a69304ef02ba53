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

/* Dynamic TLS: this library is dlopen()ed, so its __thread block is allocated on first use
 * (__tls_get_addr) and reached through the thread's DTV. */
__thread void* tp_lib_tls = 0;

void tp_lib_hold_tls(void)
{
    tp_lib_tls = malloc(4005);
}
