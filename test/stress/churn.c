/* Thread churn: hundreds of short threads, a few at a time.  Each allocates
 * and checks blocks, frees half, and leaves the rest for a thread of the next
 * wave to check and free after it has exited (its cache is gone by then); a
 * destructor that runs after tcarena's own allocates once more.  At the end
 * nothing may be left allocated: exited threads' caches were flushed. */
#include <pthread.h>

#include "pattern.h"
#include "tcarena.h"

#define WAVES 60
#define THREADS_PER_WAVE 8
#define BLOCKS_PER_THREAD 200
#define LEFT_BEHIND (BLOCKS_PER_THREAD / 2)

struct block {
    void *ptr;
    size_t size;
};

/* Blocks each thread of the previous wave left behind, by slot. */
static struct block left[THREADS_PER_WAVE][LEFT_BEHIND];
static pthread_key_t late_key;

static void check_and_free(struct block *block)
{
    if (!block->ptr)
        return;
    pattern_check(block->ptr, block->size);
    free(block->ptr);
    block->ptr = NULL;
}

/* Runs after tcarena's thread-exit destructor (its key is older): the thread's
 * cache is gone and the arena serves directly. */
static void allocate_after_teardown(void *arg)
{
    uint64_t random = (uintptr_t)arg;
    for (int i = 0; i < 20; i++) {
        size_t size = random_size(&random);
        void *block = malloc(size);
        CHECK(block != NULL);
        pattern_fill(block, size);
        pattern_check(block, size);
        free(block);
    }
}

static void *short_thread(void *arg)
{
    unsigned slot = (unsigned)(uintptr_t)arg % THREADS_PER_WAVE;
    uint64_t random = (uintptr_t)arg * 0x9e3779b9 + 1;
    /* The previous wave's slot-mate has exited: free what it left. */
    for (unsigned i = 0; i < LEFT_BEHIND; i++)
        check_and_free(&left[slot][i]);
    struct block mine[BLOCKS_PER_THREAD];
    for (unsigned i = 0; i < BLOCKS_PER_THREAD; i++) {
        size_t size = random_size(&random);
        mine[i] = (struct block){malloc(size), size};
        CHECK(mine[i].ptr != NULL);
        pattern_fill(mine[i].ptr, size);
    }
    for (unsigned i = 0; i < BLOCKS_PER_THREAD; i++) {
        if (i % 2)
            left[slot][i / 2] = mine[i];
        else
            check_and_free(&mine[i]);
    }
    pthread_setspecific(late_key, (void *)(uintptr_t)(random | 1));
    return NULL;
}

/* Bytes in blocks the program holds: allocated, less what the thread and
 * transfer caches keep. */
static size_t allocated_bytes(void)
{
    uint64_t epoch = 1;
    size_t allocated, cached, length = sizeof allocated;
    CHECK(tca_ctl("epoch", NULL, NULL, &epoch, sizeof epoch) == 0);
    CHECK(tca_ctl("stats.allocated", &allocated, &length, NULL, 0) == 0);
    CHECK(tca_ctl("stats.tcache_bytes", &cached, &length, NULL, 0) == 0);
    return allocated - cached;
}

int main(void)
{
    CHECK(pthread_key_create(&late_key, allocate_after_teardown) == 0);
    size_t allocated_before = allocated_bytes();
    for (unsigned wave = 0; wave < WAVES; wave++) {
        pthread_t threads[THREADS_PER_WAVE];
        for (unsigned i = 0; i < THREADS_PER_WAVE; i++)
            CHECK(pthread_create(&threads[i], NULL, short_thread,
                                 (void *)(uintptr_t)(wave * THREADS_PER_WAVE + i)) == 0);
        for (unsigned i = 0; i < THREADS_PER_WAVE; i++)
            CHECK(pthread_join(threads[i], NULL) == 0);
    }
    for (unsigned slot = 0; slot < THREADS_PER_WAVE; slot++)
        for (unsigned i = 0; i < LEFT_BEHIND; i++)
            check_and_free(&left[slot][i]);
    /* What may stay is what the C library and the topology keep, not the
     * threads' blocks (and not what this thread's cache holds). */
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    size_t allocated_after = allocated_bytes();
    if (allocated_after > allocated_before + (1 << 20)) {
        fprintf(stderr, "allocated grew from %zu to %zu bytes\n", allocated_before, allocated_after);
        return 1;
    }
    return 0;
}
