/* leak: the probe that proves a leak checker is active before its column is timed. Leaks one
 * block of 10007 bytes (a marker size) whose only pointer is dropped, and exits normally. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char* volatile p = malloc(10007);
    p[0] = 1;
    p = NULL;
    printf("leaked 10007 bytes\n");
    return 0;
}
