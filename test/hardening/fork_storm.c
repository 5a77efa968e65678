/* Fork storm: the main thread forks over and over while three threads
 * allocate and free; each child allocates, checks contents, frees and exits 0.
 * Every exit status is checked.  An alarm turns a deadlock (a lock held across
 * fork and never reset in the child) into a failure, in child and parent.
 * usage: fork_storm [FORKS]  (default 1000, fewer if they take too long) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "blocks.h"
#include "check.h"

#define WORKERS 3
#define IN_FLIGHT 4           /* children alive at once */
#define TIME_BUDGET_S 20      /* default run: stop forking (at ≥ 200) after this */
#define MIN_FORKS 200

static atomic_bool stopping;

struct block {
    void *ptr;
    size_t size;
};

static size_t random_size(uint64_t *random)
{
    uint64_t r = rng_next(random);
    return r % 16 == 0 ? (r >> 8) % (1 << 20) + 1 : (r >> 8) % 2048 + 1;
}

static void *allocate_until_stopped(void *arg)
{
    uint64_t random = (uintptr_t)arg;
    struct block slots[128] = {{0}};
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        size_t i = rng_next(&random) % 128;
        if (slots[i].ptr) {
            CHECK(pattern_holds(slots[i].ptr, slots[i].size, i));
            free(slots[i].ptr);
            slots[i].ptr = NULL;
        } else {
            slots[i].size = random_size(&random);
            CHECK((slots[i].ptr = malloc(slots[i].size)) != NULL);
            pattern_write(slots[i].ptr, 0, slots[i].size, i);
        }
    }
    for (int i = 0; i < 128; i++)
        free(slots[i].ptr);
    return NULL;
}

static _Noreturn void child(uint64_t seed)
{
    alarm(10);
    uint64_t random = seed;
    struct block blocks[32];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 32; i++) {
            blocks[i].size = random_size(&random);
            CHECK((blocks[i].ptr = malloc(blocks[i].size)) != NULL);
            pattern_write(blocks[i].ptr, 0, blocks[i].size, seed + i);
        }
        for (int i = 0; i < 32; i++) {
            CHECK(pattern_holds(blocks[i].ptr, blocks[i].size, seed + i));
            free(blocks[i].ptr);
        }
    }
    _exit(0);
}

static void reap(pid_t pid)
{
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "child %d ended with status 0x%x\n", (int)pid, status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
    /* An explicit count runs in full (the soak); the default is bounded by time. */
    long forks = argc > 1 ? atol(argv[1]) : 1000;
    bool bounded = argc <= 1;
    alarm(bounded ? 100 : 3600);
    pthread_t workers[WORKERS];
    for (uintptr_t i = 0; i < WORKERS; i++)
        CHECK(pthread_create(&workers[i], NULL, allocate_until_stopped, (void *)(i + 1)) == 0);

    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t in_flight[IN_FLIGHT] = {0};
    long forked = 0;
    for (; forked < forks; forked++) {
        if (bounded && forked >= MIN_FORKS && seconds_since(&start) > TIME_BUDGET_S)
            break;
        pid_t *slot = &in_flight[forked % IN_FLIGHT];
        if (*slot)
            reap(*slot);
        fflush(NULL);
        *slot = fork();
        CHECK(*slot >= 0);
        if (*slot == 0)
            child((uint64_t)forked * 7919);
    }
    for (int i = 0; i < IN_FLIGHT; i++)
        if (in_flight[i])
            reap(in_flight[i]);
    atomic_store(&stopping, true);
    for (int i = 0; i < WORKERS; i++)
        CHECK(pthread_join(workers[i], NULL) == 0);
    printf("%ld forks, every child exited 0, %.1f s\n", forked, seconds_since(&start));
    return 0;
}
