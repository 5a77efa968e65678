/* Multithreaded stress through the tca_* names only, so that a build with the
 * allocator compiled in under -fsanitize=thread lets TSan see every access
 * tcarena makes (the standard names stay TSan's own).  Worker threads come and
 * go; each allocates with every entry point, checks contents, hands blocks to
 * other threads through a shared exchange (cross-thread frees), and calls the
 * control interface now and then.  usage: threads_tca [ROUNDS] */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "blocks.h"
#include "check.h"
#include "tcarena.h"

#define THREADS 4
#define EXCHANGE 512
#define OWN 64

struct block {
    uint8_t *bytes;
    size_t size;
    size_t alignment; /* 0: none asked for */
};

/* A block is published here with its size and seed; whoever swaps it out
 * checks it and frees it. */
struct exchange_slot {
    struct block block;
    uint64_t seed;
    pthread_mutex_t lock;
};
static struct exchange_slot exchange[EXCHANGE];

static size_t random_size(uint64_t *random)
{
    uint64_t r = rng_next(random);
    switch (r % 64) {
    case 0:
        return (r >> 8) % (2 << 20) + 1; /* large */
    case 1 ... 8:
        return (r >> 8) % 32768 + 1;
    default:
        return (r >> 8) % 1024;
    }
}

static struct block allocate(uint64_t *random, size_t size)
{
    struct block block = {NULL, size, 0};
    switch (rng_next(random) % 4) {
    case 0:
        block.bytes = tca_calloc(1, size);
        CHECK(block.bytes && (size == 0 || (block.bytes[0] == 0 && block.bytes[size - 1] == 0)));
        break;
    case 1:
        block.alignment = (size_t)64 << rng_next(random) % 8;
        block.bytes = tca_aligned_alloc(block.alignment, size);
        CHECK(block.bytes && (uintptr_t)block.bytes % block.alignment == 0);
        break;
    default:
        block.bytes = tca_malloc(size);
    }
    CHECK(block.bytes && tca_malloc_usable_size(block.bytes) >= size);
    return block;
}

static void check_and_free(struct block block, uint64_t seed, bool sized)
{
    CHECK(pattern_holds(block.bytes, block.size, seed));
    if (sized && block.alignment)
        tca_free_aligned_sized(block.bytes, block.alignment, block.size);
    else if (sized)
        tca_free_sized(block.bytes, block.size);
    else
        tca_free(block.bytes);
}

static void *work(void *arg)
{
    uint64_t random = (uintptr_t)arg;
    struct block own[OWN] = {{0}};
    for (int step = 0; step < 10000; step++) {
        uint64_t r = rng_next(&random);
        struct block *mine = &own[r % OWN];
        uint64_t seed = (uintptr_t)mine; /* one seed per slot */
        if (r >> 60 == 0) {
            /* Swap one of ours into the exchange; free what was there. */
            struct exchange_slot *slot = &exchange[(r >> 8) % EXCHANGE];
            struct block block = allocate(&random, random_size(&random));
            if (block.size > 512)
                block.size = 512; /* the pattern's extent, not the request: keeps the check cheap */
            pattern_write(block.bytes, 0, block.size, r);
            pthread_mutex_lock(&slot->lock);
            struct block old = slot->block;
            uint64_t old_seed = slot->seed;
            slot->block = block, slot->seed = r;
            pthread_mutex_unlock(&slot->lock);
            if (old.bytes)
                check_and_free(old, old_seed, false); /* from another thread, mostly */
        } else if (mine->bytes && r >> 60 == 1) {
            /* realloc keeps the prefix. */
            size_t size = random_size(&random);
            CHECK(pattern_holds(mine->bytes, mine->size, seed));
            uint8_t *moved = tca_realloc(mine->bytes, size + 1);
            CHECK(moved);
            CHECK(pattern_holds(moved, size + 1 < mine->size ? size + 1 : mine->size, seed));
            *mine = (struct block){moved, size + 1, 0};
            pattern_write(moved, 0, mine->size, seed);
        } else if (mine->bytes) {
            check_and_free(*mine, seed, r & 1);
            mine->bytes = NULL;
        } else {
            *mine = allocate(&random, random_size(&random));
            pattern_write(mine->bytes, 0, mine->size, seed);
        }
        if (r % 4096 == 0) {
            uint64_t epoch = 1, allocated;
            size_t length = sizeof allocated;
            CHECK(tca_ctl("epoch", NULL, NULL, &epoch, sizeof epoch) == 0);
            CHECK(tca_ctl("thread.allocated", &allocated, &length, NULL, 0) == 0);
            CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
        }
    }
    for (int i = 0; i < OWN; i++)
        if (own[i].bytes)
            check_and_free(own[i], (uintptr_t)&own[i], false);
    return NULL;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    alarm(300); /* a deadlock fails the test instead of stalling it */
    for (int i = 0; i < EXCHANGE; i++)
        pthread_mutex_init(&exchange[i].lock, NULL);
    /* Set the allocator up before the threads race, as a real process does
     * (ld.so and libc allocate first).  tcarena's first-use race is benign by
     * design: the size-class table reads 0 (a cache miss) until it is built. */
    tca_free(tca_malloc(1));
    /* Every round starts fresh threads: caches are set up and torn down while
     * the other threads' blocks are still in the exchange. */
    for (int round = 0; round < rounds; round++) {
        pthread_t threads[THREADS];
        for (uintptr_t i = 0; i < THREADS; i++)
            CHECK(pthread_create(&threads[i], NULL, work, (void *)(round * THREADS + i + 1)) == 0);
        for (int i = 0; i < THREADS; i++)
            CHECK(pthread_join(threads[i], NULL) == 0);
    }
    for (int i = 0; i < EXCHANGE; i++)
        if (exchange[i].block.bytes)
            check_and_free(exchange[i].block, exchange[i].seed, false);
    return 0;
}
