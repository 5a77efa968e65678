/* A process whose address space is capped (ulimit -v) below the 32 GiB that
 * the page map's flat class array reserves: the allocator starts without the
 * array, free() takes its slow path, and everything still works.  The test
 * runs itself again under a 4 GiB cap (the limit must hold from exec on, as
 * the allocator may start before main) while it runs the same work without
 * it, where the array must be there.  In both: threads churn blocks of every size
 * range, freeing some of them on other threads, with contents checked; usable
 * sizes and realloc keep what they must; double and invalid frees abort
 * naming the pointer. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"
#include "check.h"

#define FLAT_CLASSES_BYTES ((uint64_t)32 << 30)
#define CAP_BYTES ((rlim_t)4 << 30)
#define THREADS 4
#define SLOTS 512
#define ROUNDS 20000

/* Whether the process holds as much address space as the flat class array
 * (opening parts of it splits it into several mappings: VmSize counts all). */
static bool has_flat_classes(void)
{
    FILE *status = fopen("/proc/self/status", "r");
    CHECK(status != NULL);
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, status))
        sscanf(line, "VmSize: %llu kB", &kib);
    fclose(status);
    CHECK(kib != 0);
    return kib * 1024 >= FLAT_CLASSES_BYTES;
}

struct handoff {
    pthread_mutex_t lock;
    void *blocks[THREADS * 64];
    size_t count;
};
static struct handoff handoff = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t pick_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    switch (r % 8) {
    case 0: return 40 << 10 | (r >> 8) % 8192; /* large */
    case 1: case 2: return 1024 + (r >> 8) % 31744; /* medium */
    default: return 1 + (r >> 8) % 1024; /* small */
    }
}

/* A block passed to another thread carries its size and seed in its first
 * bytes (every block here is at least 16 bytes). */
static void *churn(void *arg)
{
    uint64_t rng = (uintptr_t)arg;
    void *blocks[SLOTS] = {0};
    size_t sizes[SLOTS];
    uint64_t seeds[SLOTS];
    for (int round = 0; round < ROUNDS; round++) {
        unsigned slot = rng_next(&rng) % SLOTS;
        if (blocks[slot]) {
            CHECK(pattern_holds(blocks[slot], sizes[slot], seeds[slot]));
            CHECK(malloc_usable_size(blocks[slot]) >= sizes[slot]);
            if (rng_next(&rng) % 4 == 0) {
                size_t grown = sizes[slot] * 2 + 16;
                void *moved = realloc(blocks[slot], grown);
                CHECK(moved != NULL);
                CHECK(pattern_holds(moved, sizes[slot], seeds[slot]));
                free(moved);
            } else {
                free(blocks[slot]);
            }
            blocks[slot] = NULL;
        }
        size_t size = pick_size(&rng) + 16;
        blocks[slot] = round % 3 ? malloc(size) : calloc(1, size);
        CHECK(blocks[slot] != NULL);
        sizes[slot] = size;
        seeds[slot] = rng_next(&rng);
        pattern_write(blocks[slot], 0, size, seeds[slot]);
        if (round % 97 == 0) { /* one for another thread to free */
            pthread_mutex_lock(&handoff.lock);
            void *theirs = handoff.count == sizeof handoff.blocks / sizeof *handoff.blocks ? NULL
                                                                                            : blocks[slot];
            if (theirs) {
                handoff.blocks[handoff.count++] = theirs;
                blocks[slot] = NULL;
            } else {
                free(handoff.blocks[--handoff.count]);
            }
            pthread_mutex_unlock(&handoff.lock);
        }
    }
    for (unsigned slot = 0; slot < SLOTS; slot++)
        free(blocks[slot]);
    return NULL;
}

static void double_free(void *block)
{
    free(block);
    free(block);
}

static void interior_free(void *block) { free((char *)block + 16); }

static void run_work(void)
{
    pthread_t threads[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        CHECK(pthread_create(&threads[i], NULL, churn, (void *)(i + 1)) == 0);
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_join(threads[i], NULL) == 0);
    while (handoff.count)
        free(handoff.blocks[--handoff.count]);

    void *small = malloc(64);
    CHECK(small != NULL);
    check_aborts(double_free, small, NULL, small);
    check_aborts(interior_free, small, "invalid pointer", (char *)small + 16);
    free(small);
    errno = 0;
    CHECK(malloc(SIZE_MAX / 2) == NULL && errno == ENOMEM);
}

static void run(bool capped)
{
    free(malloc(1)); /* the page heap's first growth, where the array is reserved */
    CHECK(has_flat_classes() == !capped);
    run_work();
    printf("%s: %d threads churned, double and invalid frees caught\n",
           capped ? "capped at 4 GiB, no flat class array" : "uncapped, flat class array", THREADS);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        run(true);
        return 0;
    }
    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        struct rlimit cap = {CAP_BYTES, CAP_BYTES};
        CHECK(setrlimit(RLIMIT_AS, &cap) == 0);
        execv("/proc/self/exe", (char *[]){argv[0], "capped", NULL});
        _exit(127);
    }
    run(false);
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}
