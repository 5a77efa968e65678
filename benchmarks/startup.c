/* Start-up cost: how long a short program takes from posix_spawn to its exit
 * under each allocator, which is what every process a shell script, a build
 * or a compiler driver starts pays once (loading the library, the allocator's
 * set-up, the pages it first touches).
 *
 *     startup [-n RUNS] LIBRARY...     (an empty LIBRARY: no preload, glibc)
 *
 * Starts itself as the short program (--child: a few allocations of common
 * sizes, a line of stdio, exit) RUNS times per library, the libraries
 * interleaved, and prints each one's median and first-quartile time in
 * microseconds. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static int child(void)
{
    static const size_t sizes[] = {24, 100, 1000, 4096, 40000};
    void *blocks[sizeof sizes / sizeof sizes[0]];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (!(blocks[i] = malloc(sizes[i])))
            return 1;
    printf("%p\n", blocks[0]);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        free(blocks[i]);
    return 0;
}

static int by_value(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Microseconds from spawn to exit of one run of the child under library. */
static long run_once(const char *self, const char *library)
{
    char preload[4096];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", library);
    char *child_environment[] = {preload, NULL};
    char *child_arguments[] = {(char *)self, "--child", NULL};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t pid;
    int status;
    if (posix_spawn(&pid, self, &actions, NULL, child_arguments, child_environment) != 0 ||
        waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "startup: the run under '%s' failed\n", library);
        exit(1);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    posix_spawn_file_actions_destroy(&actions);
    return (end.tv_sec - start.tv_sec) * 1000000L + (end.tv_nsec - start.tv_nsec) / 1000;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--child"))
        return child();
    int first = 1, runs = 500;
    if (argc > 2 && !strcmp(argv[1], "-n")) {
        runs = atoi(argv[2]);
        first = 3;
    }
    int libraries = argc - first;
    if (runs < 1 || libraries < 1) {
        fprintf(stderr, "usage: startup [-n RUNS] LIBRARY...  (an empty LIBRARY: no preload)\n");
        return 2;
    }
    long *times = calloc((size_t)runs * (size_t)libraries, sizeof(long));
    if (!times)
        return 1;
    for (int run = 0; run < runs; run++)
        for (int lib = 0; lib < libraries; lib++)
            times[(size_t)lib * (size_t)runs + (size_t)run] = run_once("/proc/self/exe", argv[first + lib]);
    for (int lib = 0; lib < libraries; lib++) {
        long *mine = times + (size_t)lib * (size_t)runs;
        qsort(mine, (size_t)runs, sizeof *mine, by_value);
        printf("%8ld us median %8ld us first quartile  %s\n", mine[runs / 2], mine[runs / 4],
               *argv[first + lib] ? argv[first + lib] : "(no preload)");
    }
    free(times);
    return 0;
}
