/* The runner's launcher: "measure OUT_FILE LIBRARY|- PROGRAM [ARGS...]" runs
 * PROGRAM with LIBRARY preloaded (- for none) and writes "<wall seconds>
 * <peak RSS KiB> <CPU seconds, user + system>" of that run to OUT_FILE, then exits with PROGRAM's status
 * (128 + signal if it was killed).
 *
 * Why not fork from the Python runner directly: a process's ru_maxrss
 * carries over the RSS of the process it was forked from (the kernel records
 * the pre-exec memory's high-water mark at exec), so every child of a 16 MiB
 * Python would report at least 16 MiB. Forked from this small program, the
 * inherited floor is about 1 MiB, below any workload's own footprint. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s OUT_FILE LIBRARY|- PROGRAM [ARGS...]\n", argv[0]);
        return 2;
    }
    double start = seconds_now();
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 2;
    }
    if (child == 0) {
        if (argv[2][0] == '-' && argv[2][1] == '\0')
            unsetenv("LD_PRELOAD");
        else
            setenv("LD_PRELOAD", argv[2], 1);
        execv(argv[3], argv + 3);
        perror(argv[3]);
        _exit(127);
    }
    int status;
    struct rusage usage;
    if (wait4(child, &status, 0, &usage) != child) {
        perror("wait4");
        return 2;
    }
    double wall = seconds_now() - start;
    FILE *out = fopen(argv[1], "w");
    double cpu = (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                 (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
    if (!out || fprintf(out, "%.6f %ld %.6f\n", wall, usage.ru_maxrss, cpu) < 0 || fclose(out)) {
        perror(argv[1]);
        return 2;
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
