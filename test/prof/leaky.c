/* A threaded program with 25 allocation sites, as a server might have: four
 * workers run 24 sites that free what they allocate (some at once, some a
 * few rounds later), and one site, leak_slowly, keeps a block now and then.
 * "leaky" prints its progress on stdout and one line on stderr, which
 * tcarena run --leaks must leave as they are.
 *
 * "leaky estimate" allocates known amounts instead: leak_small keeps 20000
 * blocks of 64 bytes, leak_large 3000 of 1000 bytes, keep_quarter 10000 of
 * the 40000 blocks of 128 bytes it allocates, and churn frees all it
 * allocates; the test compares the report's estimates with those. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS 4
#define ROUNDS 4000
#define RING 8

static pthread_mutex_t leak_lock = PTHREAD_MUTEX_INITIALIZER;
static void **leaked;
static size_t nleaked;

/* Kept in a list the program forgets to free. */
__attribute__((noinline)) static void leak_slowly(size_t size)
{
    void *block = malloc(size);
    memset(block, 1, size);
    pthread_mutex_lock(&leak_lock);
    leaked = realloc(leaked, (nleaked + 1) * sizeof *leaked);
    leaked[nleaked++] = block;
    pthread_mutex_unlock(&leak_lock);
}

/* Sites 1..24: each a function of its own, of its own size. */
#define SITE(n, size)                                         \
    __attribute__((noinline)) static void *site_##n(void)     \
    {                                                         \
        void *block = malloc(size);                           \
        memset(block, (n), size);                             \
        return block;                                         \
    }
SITE(1, 16) SITE(2, 24) SITE(3, 32) SITE(4, 48) SITE(5, 64) SITE(6, 80) SITE(7, 100) SITE(8, 128)
SITE(9, 160) SITE(10, 200) SITE(11, 256) SITE(12, 300) SITE(13, 400) SITE(14, 512) SITE(15, 640)
SITE(16, 800) SITE(17, 1024) SITE(18, 1500) SITE(19, 2048) SITE(20, 3000) SITE(21, 4096)
SITE(22, 6000) SITE(23, 9000) SITE(24, 40000)

static void *(*const sites[])(void) = {
    site_1, site_2, site_3, site_4, site_5, site_6, site_7, site_8, site_9, site_10, site_11, site_12,
    site_13, site_14, site_15, site_16, site_17, site_18, site_19, site_20, site_21, site_22, site_23, site_24,
};
#define NSITES (sizeof sites / sizeof sites[0])

static void *worker(void *arg)
{
    void *ring[NSITES][RING] = {{0}};
    for (unsigned round = 0; round < ROUNDS; round++) {
        for (unsigned s = 0; s < NSITES; s++) {
            free(ring[s][round % RING]);
            ring[s][round % RING] = sites[s]();
        }
        if (round % 8 == 0)
            leak_slowly(4000);
    }
    for (unsigned s = 0; s < NSITES; s++)
        for (unsigned r = 0; r < RING; r++)
            free(ring[s][r]);
    printf("worker %ld done\n", (long)(intptr_t)arg);
    return NULL;
}

/* Each writes to its block, so that its call of malloc is no tail call and
 * its frame stays on the stack. */
#define ESTIMATED_SITE(name, size)                        \
    __attribute__((noinline)) static void *name(void)     \
    {                                                     \
        char *block = malloc(size);                       \
        block[0] = 1;                                     \
        return block;                                     \
    }
ESTIMATED_SITE(leak_small, 64)
ESTIMATED_SITE(leak_large, 1000)
ESTIMATED_SITE(keep_quarter, 128)
ESTIMATED_SITE(churn, 256)

/* What estimate() leaks on purpose, reachable until the exit. */
static void *volatile kept[40000];

static void estimate(void)
{
    size_t nkept = 0;
    for (int i = 0; i < 40000; i++) {
        if (i < 20000)
            kept[nkept++] = leak_small();
        if (i < 3000)
            kept[nkept++] = leak_large();
        void *quarter = keep_quarter();
        if (i % 4 == 0)
            kept[nkept++] = quarter;
        else
            free(quarter);
        free(churn());
    }
    printf("kept %zu blocks\n", nkept);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && !strcmp(argv[1], "estimate")) {
        estimate();
        return 0;
    }
    pthread_t threads[WORKERS];
    for (long i = 0; i < WORKERS; i++)
        pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(threads[i], NULL);
    printf("leaked %zu blocks\n", nleaked);
    fprintf(stderr, "leaky: a line of its own on stderr\n");
    return 3;
}
