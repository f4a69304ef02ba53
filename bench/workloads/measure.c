/* measure OUTFILE PROGRAM [ARGS...]: runs PROGRAM, writes "wall_s max_rss_bytes exit_code" to
 * OUTFILE. A small C parent keeps the child's max RSS honest: ru_maxrss survives exec, so a
 * child forked from a big interpreter would report the interpreter's RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: measure OUTFILE PROGRAM [ARGS...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) return 2;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    FILE* out = fopen(argv[1], "w");
    if (out == NULL) return 2;
    const double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    fprintf(out, "%.6f %ld %d\n", wall, ru.ru_maxrss * 1024L, code);
    fclose(out);
    return 0;
}
