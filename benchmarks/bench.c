#include "bench.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct bench_args bench_parse(int argc, char **argv, int default_threads, const char *usage_mode)
{
    struct bench_args args = {.threads = default_threads, .scale = 1.0, .mode = NULL};
    int option;
    while ((option = getopt(argc, argv, "t:s:")) != -1) {
        switch (option) {
        case 't': args.threads = atoi(optarg); break;
        case 's': args.scale = atof(optarg); break;
        default: goto usage;
        }
    }
    if (optind < argc)
        args.mode = argv[optind++];
    if (optind == argc && args.threads > 0 && args.scale > 0 && (args.mode == NULL || usage_mode))
        return args;
usage:
    fprintf(stderr, "usage: %s [-t threads] [-s scale]%s%s\n", argv[0], usage_mode ? " " : "",
            usage_mode ? usage_mode : "");
    exit(2);
}

uint64_t bench_scaled(const struct bench_args *args, uint64_t n, uint64_t minimum)
{
    uint64_t scaled = (uint64_t)((double)n * args->scale);
    return scaled < minimum ? minimum : scaled;
}

double bench_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

void bench_report(const char *name, double seconds)
{
    printf("%s %.6f s\n", name, seconds);
}

void bench_fail(const char *format, ...)
{
    va_list list;
    va_start(list, format);
    fputs("verification failed: ", stderr);
    vfprintf(stderr, format, list);
    fputc('\n', stderr);
    va_end(list);
    exit(1);
}

struct thread_start {
    void (*body)(int index, void *shared);
    void *shared;
    int index;
};

static void *thread_main(void *start_arg)
{
    struct thread_start *start = start_arg;
    start->body(start->index, start->shared);
    return NULL;
}

void bench_run_threads(int count, void (*body)(int index, void *shared), void *shared)
{
    pthread_t threads[count];
    struct thread_start starts[count];
    for (int i = 0; i < count; i++) {
        starts[i] = (struct thread_start){body, shared, i};
        if (pthread_create(&threads[i], NULL, thread_main, &starts[i]))
            bench_fail("pthread_create failed");
    }
    for (int i = 0; i < count; i++)
        pthread_join(threads[i], NULL);
}
