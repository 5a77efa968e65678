/* Larson-like server simulation. Each of T chains owns slots of live blocks
 * (mostly 16 B - 1 KiB, some up to 8 KiB, a few up to 128 KiB) and replaces a
 * random one per step. Every generation the chain's thread starts a new thread
 * that inherits the slots and exits, so the new thread frees what a dead
 * thread allocated; and every 64 steps a block is swapped with a shared
 * exchange, so blocks are also freed by other live threads. */
#include "bench.h"

#include <pthread.h>
#include <stdio.h>

#define SLOTS 1000
#define EXCHANGE_ENTRIES 64
#define GENERATIONS 40

struct chain {
    struct stamped_block slots[SLOTS];
    uint64_t rng;
    uint64_t next_tag;
    int generations_left;
};

static struct {
    pthread_mutex_t lock;
    struct stamped_block block;
} exchange[EXCHANGE_ENTRIES];

static uint64_t steps_per_generation;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_changed = PTHREAD_COND_INITIALIZER;
static int chains_running;

static size_t larson_size(uint64_t *rng)
{
    uint64_t pick = rng_below(rng, 256);
    if (pick == 0)
        return rng_between(rng, 16384, 131072);
    if (pick < 24)
        return rng_between(rng, 1025, 8192);
    return rng_between(rng, 16, 1024);
}

static void swap_with_exchange(struct chain *chain, struct stamped_block *slot)
{
    size_t entry = rng_below(&chain->rng, EXCHANGE_ENTRIES);
    pthread_mutex_lock(&exchange[entry].lock);
    struct stamped_block theirs = exchange[entry].block;
    exchange[entry].block = *slot;
    pthread_mutex_unlock(&exchange[entry].lock);
    *slot = theirs;
}

static void *run_generation(void *chain_arg)
{
    struct chain *chain = chain_arg;
    for (uint64_t step = 0; step < steps_per_generation; step++) {
        struct stamped_block *slot = &chain->slots[rng_below(&chain->rng, SLOTS)];
        stamped_free(slot);
        stamped_alloc(slot, larson_size(&chain->rng), chain->next_tag++);
        if ((step & 63) == 63)
            swap_with_exchange(chain, slot);
    }
    if (--chain->generations_left > 0) {
        pthread_t next;
        pthread_attr_t detached;
        pthread_attr_init(&detached);
        pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&next, &detached, run_generation, chain))
            bench_fail("pthread_create failed");
        pthread_attr_destroy(&detached);
        return NULL;
    }
    for (size_t i = 0; i < SLOTS; i++)
        stamped_free(&chain->slots[i]);
    pthread_mutex_lock(&done_lock);
    chains_running--;
    pthread_cond_signal(&done_changed);
    pthread_mutex_unlock(&done_lock);
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 2, NULL);
    steps_per_generation = bench_scaled(&args, 50000, 64);
    for (size_t i = 0; i < EXCHANGE_ENTRIES; i++)
        pthread_mutex_init(&exchange[i].lock, NULL);
    struct chain *chains = calloc((size_t)args.threads, sizeof *chains);
    if (!chains)
        bench_fail("calloc of the chains failed");

    double start = bench_now();
    /* The main thread fills every chain's slots, as the original does, so the
     * first generations free blocks another thread allocated. */
    for (int c = 0; c < args.threads; c++) {
        chains[c].rng = 1000 + (uint64_t)c;
        chains[c].next_tag = (uint64_t)c << 48;
        chains[c].generations_left = GENERATIONS;
        for (size_t i = 0; i < SLOTS; i++)
            stamped_alloc(&chains[c].slots[i], larson_size(&chains[c].rng), chains[c].next_tag++);
    }
    chains_running = args.threads;
    for (int c = 0; c < args.threads; c++) {
        pthread_t first;
        if (pthread_create(&first, NULL, run_generation, &chains[c]))
            bench_fail("pthread_create failed");
        pthread_detach(first);
    }
    pthread_mutex_lock(&done_lock);
    while (chains_running > 0)
        pthread_cond_wait(&done_changed, &done_lock);
    pthread_mutex_unlock(&done_lock);
    for (size_t i = 0; i < EXCHANGE_ENTRIES; i++)
        stamped_free(&exchange[i].block);
    bench_report("larson", bench_now() - start);
    free(chains);
    return 0;
}
