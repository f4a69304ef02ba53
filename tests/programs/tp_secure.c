/* tp_secure: linked with libmemtrack.so (found through the absolute RUNPATH, which ld.so still
 * follows in secure execution, where it ignores LD_PRELOAD paths with a slash). Leaks one
 * block of 10007 bytes and prints "secure N" (getauxval(AT_SECURE)). The test runs a setuid-root
 * copy of it as another user (issue 11: secure execution). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

static void* volatile leaked;

int main(void)
{
    leaked = malloc(10007);
    memset(leaked, 1, 10007);
    leaked = NULL; /* a direct leak */
    printf("secure %lu\n", getauxval(AT_SECURE));
    return 0;
}
