/* A stale pointer in a live frame keeps a later leak reachable (issue 10): bash 5.2 running a
 * script, `for i in $(seq 100); do x=$(< somefile); done`, leaks 100 copies of the file name
 * (redirection_expand's), but its main still holds, in a local and in rbx, the copy of the
 * script's name that open_shell_script (inlined into main) freed at start-up. When the
 * allocator hands that address out again for one of the leaked copies, a conservative scan
 * finds the stale word in main's frame and calls that copy reachable: 99 leaks, not 100.
 *
 * `tp_reused keep|clear [N]`: copies "loop.sh" (8 bytes), keeps the pointer in a volatile
 * local of main, frees the copy, then leaks N (1000) 9-byte copies of "somefile"; one of them
 * gets the freed address when the allocator reuses it (memtrack's mimalloc after about 130,
 * LSan's allocator at once; memcheck holds freed blocks back, --freelist-vol). `clear` zeroes
 * the stale local before exit, `keep` leaves it. The program exits through exit() called from
 * a function, as bash's exit_shell does, so main's frame lies above the call. Prints
 * `leaked=N reused=R` (R: 1 if a copy got the freed address). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

static NOINLINE char* copy(const char* s)
{
    char* p = malloc(strlen(s) + 1);
    if (p == NULL) exit(3);
    strcpy(p, s);
    return p;
}

static NOINLINE void finish(int status)
{
    exit(status);
}

/* Leaks n copies of "somefile"; 1 if one got the address *stale holds. The only copy of that
 * address is *stale, read anew for each comparison: no register of main keeps it. */
static NOINLINE int leak_copies(char* volatile* stale, int n)
{
    int reused = 0;
    for (int i = 0; i < n; ++i)
        if (copy("somefile") == *stale) reused = 1;
    return reused;
}

int main(int argc, char** argv)
{
    if (argc < 2 || (strcmp(argv[1], "keep") != 0 && strcmp(argv[1], "clear") != 0)) {
        fprintf(stderr, "usage: tp_reused keep|clear [N]\n");
        return 2;
    }
    char* volatile stale = copy("loop.sh");
    free(stale);
    const int leaked = argc > 2 ? atoi(argv[2]) : 1000;
    const int reused = leak_copies(&stale, leaked);
    if (strcmp(argv[1], "clear") == 0) stale = NULL;
    printf("leaked=%d reused=%d\n", leaked, reused);
    fflush(stdout);
    finish(0);
}
