/* tp_ends WAY [STATUS]: allocates 10 MiB (one 10485760 B block, kept live) and ends in one of
 * the ways a process can end, for the tests of "a report from every process however it ends"
 * (issue 11). Prints "pid P" first, and "child C" for the ways that fork. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void* volatile sink;

static void own_handler(int sig)
{
    static const char msg[] = "own handler\n";
    write(1, msg, sizeof msg - 1);
    _exit(100 + sig);
}

static void* segv_in_thread(void* arg)
{
    (void)arg;
    *(volatile int*)(uintptr_t)24 = 1;
    return NULL;
}

/* A fault in a function of a known name, two calls below main (crash stacks, issue 11). */
__attribute__((noinline)) void tp_ends_faulting_function(volatile int* where)
{
    *where = 1;
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void tp_ends_caller_of_fault(uintptr_t where)
{
    tp_ends_faulting_function((volatile int*)where);
    __asm__ volatile("" ::: "memory");
}

static void* exit_from_thread(void* arg)
{
    _exit((int)(long)arg);
}

int main(int argc, char** argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char* way = argc > 1 ? argv[1] : "exit";
    const int status = argc > 2 ? atoi(argv[2]) : 0;
    printf("pid %d\n", (int)getpid());
    sink = malloc(10485760);
    memset(sink, 1, 4096);
    if (strcmp(way, "exit") == 0) exit(status);
    if (strcmp(way, "_exit") == 0) _exit(status);
    if (strcmp(way, "_Exit") == 0) _Exit(status);
    if (strcmp(way, "abort") == 0) abort();
    if (strcmp(way, "segv") == 0) *(volatile int*)(uintptr_t)16 = 1;
    if (strcmp(way, "segv_in_function") == 0) tp_ends_caller_of_fault(40);
    if (strcmp(way, "raise") == 0) raise(status); /* STATUS is the signal number */
    if (strcmp(way, "exec") == 0) {
        /* the new image ends with exit(STATUS) and writes its own report */
        char st[16];
        snprintf(st, sizeof st, "%d", status);
        execl("/proc/self/exe", "tp_ends", "exit", st, (char*)NULL);
        return 99;
    }
    if (strcmp(way, "execvp") == 0) {
        char* args[] = {"true", NULL};
        execvp("true", args);
        return 99;
    }
    if (strcmp(way, "execfail") == 0) {
        /* exec fails: no exec report is left behind, the run goes on to exit(STATUS) */
        execl("/nonexistent/program", "program", (char*)NULL);
        char* args[] = {"no-such-program-on-path", NULL};
        execvp(args[0], args);
        execl("/etc/passwd", "passwd", (char*)NULL); /* not executable */
        sink = malloc(20011);
        exit(status);
    }
    if (strcmp(way, "fork_exit") == 0 || strcmp(way, "fork_exec") == 0 ||
        strcmp(way, "vfork_exit") == 0) {
        const int vf = way[0] == 'v';
        const pid_t child = vf ? vfork() : fork();
        if (child == 0) {
            if (vf) _exit(status);
            free(sink); /* the child's own run: frees the inherited block, allocates 30011 B */
            sink = malloc(30011);
            if (strcmp(way, "fork_exec") == 0)
                execl("/proc/self/exe", "tp_ends", "_exit", "4", (char*)NULL);
            _exit(status);
        }
        printf("child %d\n", (int)child);
        int st = 0;
        waitpid(child, &st, 0);
        printf("child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
        return 0;
    }
    if (strcmp(way, "handler") == 0) {
        /* the program's own handler has priority: it runs, and _exits 100 + SIGNAL */
        signal(status, own_handler);
        raise(status);
        return 97;
    }
    if (strcmp(way, "sigaction_handler") == 0) {
        struct sigaction act, old;
        memset(&act, 0, sizeof act);
        act.sa_handler = own_handler;
        sigaction(status, &act, &old);
        printf("old default %s\n", old.sa_handler == SIG_DFL ? "yes" : "no");
        raise(status);
        return 97;
    }
    if (strcmp(way, "restore") == 0) {
        /* a handler, then SIG_DFL again: the default action, with memtrack's report */
        struct sigaction old;
        signal(status, own_handler);
        signal(status, SIG_DFL);
        sigaction(status, NULL, &old);
        printf("now default %s\n", old.sa_handler == SIG_DFL ? "yes" : "no");
        raise(status);
        return 97;
    }
    if (strcmp(way, "ignore") == 0) {
        signal(status, SIG_IGN);
        raise(status);
        exit(0);
    }
    if (strcmp(way, "thread_segv") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, segv_in_thread, NULL);
        pthread_join(t, NULL);
        return 98;
    }
    if (strcmp(way, "grow") == 0) {
        /* STATUS steps of 2 MiB, 60 ms apart: the timeline's points come from these allocations */
        for (int i = 0; i < status; ++i) {
            void* volatile p = malloc(2 << 20);
            (void)p;
            const struct timespec pause = {0, 60 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        exit(0);
    }
    if (strcmp(way, "threads") == 0) {
        /* the number of threads of this process: 1 (memtrack starts none) */
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/status", (int)getpid());
        FILE* f = fopen(path, "r");
        char line[256];
        while (f != NULL && fgets(line, sizeof line, f) != NULL)
            if (strncmp(line, "Threads:", 8) == 0) printf("%s", line);
        if (f != NULL) fclose(f);
        exit(0);
    }
    if (strcmp(way, "unshare") == 0) {
        /* unshare(CLONE_NEWUSER) fails with EINVAL in a multi-threaded process */
        if (unshare(CLONE_NEWUSER) != 0) {
            printf("unshare failed: %s\n", strerror(errno));
            exit(1);
        }
        printf("unshare ok\n");
        exit(0);
    }
    if (strcmp(way, "grow_watch") == 0) {
        /* STATUS steps of 10 MiB (argv[3] ms apart, default 0); after each, the report file of
         * MEMTRACK_OUTPUT (its %p this pid) is looked at: prints "checkpoints N", the times it
         * was (re)written meanwhile */
        const long pause_ms = argc > 3 ? atol(argv[3]) : 0;
        char path[4096] = "";
        const char* templ = getenv("MEMTRACK_OUTPUT");
        const char* at = templ != NULL ? strstr(templ, "%p") : NULL;
        if (at == NULL) return 3;
        snprintf(path, sizeof path, "%.*s%d%s", (int)(at - templ), templ, (int)getpid(), at + 2);
        struct stat last = {0};
        int count = 0;
        for (int i = 0; i < status; ++i) {
            if (pause_ms > 0) {
                const struct timespec pause = {pause_ms / 1000, (pause_ms % 1000) * 1000000};
                nanosleep(&pause, NULL);
            }
            void* volatile p = malloc(10 << 20);
            (void)p;
            struct stat st;
            if (stat(path, &st) != 0) continue;
            if (st.st_ino != last.st_ino || st.st_size != last.st_size ||
                st.st_mtim.tv_nsec != last.st_mtim.tv_nsec ||
                st.st_mtim.tv_sec != last.st_mtim.tv_sec)
                ++count;
            last = st;
        }
        printf("checkpoints %d\n", count);
        exit(0);
    }
    if (strcmp(way, "grow_kill") == 0) {
        /* STATUS steps of 10 MiB, then SIGKILL (as the OOM killer would) */
        for (int i = 0; i < status; ++i) {
            void* volatile p = malloc(10 << 20);
            (void)p;
        }
        raise(SIGKILL);
        return 97;
    }
    if (strcmp(way, "oom") == 0) {
        /* a child grows by 10 MiB steps and is killed by SIGKILL from here at STATUS MiB; prints
         * "child C" and "killed at B" (its live heap, bytes) */
        int fds[2], acks[2];
        if (pipe(fds) != 0 || pipe(acks) != 0) return 3;
        const pid_t child = fork();
        if (child == 0) {
            /* in step with the parent: each 10 MiB, report and wait for the go-ahead */
            close(fds[0]);
            close(acks[1]);
            long long live = 0;
            char go = 0;
            for (;;) {
                void* volatile p = malloc(10 << 20);
                (void)p;
                live += 10 << 20;
                if (write(fds[1], &live, sizeof live) != (ssize_t)sizeof live) _exit(4);
                if (read(acks[0], &go, 1) != 1) _exit(5);
            }
        }
        close(fds[1]);
        close(acks[0]);
        long long live = 0;
        while (read(fds[0], &live, sizeof live) == (ssize_t)sizeof live) {
            if (live >= (long long)status << 20) break;
            if (write(acks[1], "g", 1) != 1) break;
        }
        kill(child, SIGKILL);
        int st = 0;
        waitpid(child, &st, 0);
        printf("child %d\n", (int)child);
        printf("killed at %lld\n", live);
        printf("child status %d\n", WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st));
        return 0;
    }
    if (strcmp(way, "thread_exit") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, exit_from_thread, (void*)(long)status);
        pthread_join(t, NULL);
        return 98;
    }
    fprintf(stderr, "tp_ends: unknown way %s\n", way);
    return 2;
}
