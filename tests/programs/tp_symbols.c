/* Leaks 3 blocks of 10009 bytes from known functions. With an argument it also writes a line
 * to stdout, whose buffer is a site inside the C library; without, it allocates nothing else.
 * Built twice, with DWARF (tp_symbols) and without (tp_symbols_nodebug, -g0: names only in
 * .symtab), for the symbolizer's tests (issue 13). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void* volatile tp_sink;

__attribute__((noinline)) void* tp_symbols_leak(size_t n)
{
    void* p = malloc(n);
    if (p != NULL) memset(p, 1, n);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

/* Static: its name is in .symtab only, never in .dynsym. */
static __attribute__((noinline)) void* tp_symbols_local(size_t n)
{
    void* p = tp_symbols_leak(n);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

int main(int argc, char** argv)
{
    (void)argv;
    if (argc > 1 && puts("tp_symbols") < 0) return 1;
    for (int i = 0; i < 3; ++i) {
        tp_sink = tp_symbols_local(10009);
        if (tp_sink == NULL) return 1;
    }
    tp_sink = NULL;
    return 0;
}
