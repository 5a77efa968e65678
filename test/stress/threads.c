/* Multithreaded stress with content verification: threads allocate random
 * sizes over every class and some large ones (malloc, calloc, aligned,
 * realloc), fill each block with a pattern of its address and size, check the
 * pattern before every free, and hand blocks to other threads, which check
 * and free them. */
#include <pthread.h>
#include <stdbool.h>

#include "pattern.h"

#define THREADS 6
#define OPS_PER_THREAD 120000
#define SLOTS 1024
#define QUEUE_LEN 256

struct block {
    void *ptr;
    size_t size;
};

/* Blocks handed to a thread by the others. */
struct queue {
    pthread_mutex_t lock;
    unsigned count;
    struct block items[QUEUE_LEN];
};

static struct queue queues[THREADS];
static pthread_barrier_t all_done_producing;

static void check_and_free(struct block block)
{
    pattern_check(block.ptr, block.size);
    free(block.ptr);
}

static bool hand_off(unsigned to, struct block block)
{
    struct queue *queue = &queues[to];
    pthread_mutex_lock(&queue->lock);
    bool taken = queue->count < QUEUE_LEN;
    if (taken)
        queue->items[queue->count++] = block;
    pthread_mutex_unlock(&queue->lock);
    return taken;
}

static void drain(unsigned self)
{
    struct block taken[QUEUE_LEN];
    struct queue *queue = &queues[self];
    pthread_mutex_lock(&queue->lock);
    unsigned count = queue->count;
    memcpy(taken, queue->items, count * sizeof taken[0]);
    queue->count = 0;
    pthread_mutex_unlock(&queue->lock);
    for (unsigned i = 0; i < count; i++)
        check_and_free(taken[i]);
}

static struct block allocate(uint64_t *random)
{
    size_t size = random_size(random);
    uint64_t how = random_next(random) % 100;
    void *ptr;
    if (how < 8) {
        ptr = calloc(1, size);
        CHECK(ptr != NULL);
        for (size_t i = 0; i < size && i < 65536; i++)
            CHECK(((uint8_t *)ptr)[i] == 0);
    } else if (how < 15) {
        size_t alignment = (size_t)32 << (random_next(random) % 12); /* 32 B .. 64 KiB */
        CHECK(posix_memalign(&ptr, alignment, size) == 0);
        CHECK((uintptr_t)ptr % alignment == 0);
    } else {
        ptr = malloc(size);
        CHECK(ptr != NULL);
    }
    CHECK((uintptr_t)ptr % 16 == 0);
    pattern_fill(ptr, size);
    return (struct block){ptr, size};
}

static struct block reallocate(struct block block, uint64_t *random)
{
    pattern_check(block.ptr, block.size);
    size_t size = random_size(random);
    void *moved = realloc(block.ptr, size);
    CHECK(moved != NULL);
    pattern_check_moved(moved, size < block.size ? size : block.size, block.ptr, block.size);
    pattern_fill(moved, size);
    return (struct block){moved, size};
}

static void *worker(void *arg)
{
    unsigned self = (unsigned)(uintptr_t)arg;
    uint64_t random = 0x1234567 + self * 7919;
    static __thread struct block slots[SLOTS];
    for (unsigned op = 0; op < OPS_PER_THREAD; op++) {
        struct block *slot = &slots[random_next(&random) % SLOTS];
        uint64_t action = random_next(&random) % 100;
        if (!slot->ptr)
            *slot = allocate(&random);
        else if (action < 70) {
            check_and_free(*slot);
            slot->ptr = NULL;
        } else if (action < 85) {
            *slot = reallocate(*slot, &random);
        } else {
            unsigned to = (self + 1 + (unsigned)(random_next(&random) % (THREADS - 1))) % THREADS;
            if (hand_off(to, *slot))
                slot->ptr = NULL;
        }
        if (op % 64 == 0)
            drain(self);
    }
    pthread_barrier_wait(&all_done_producing);
    drain(self);
    for (unsigned i = 0; i < SLOTS; i++)
        if (slots[i].ptr)
            check_and_free(slots[i]);
    return NULL;
}

int main(void)
{
    pthread_t threads[THREADS];
    CHECK(pthread_barrier_init(&all_done_producing, NULL, THREADS) == 0);
    for (unsigned i = 0; i < THREADS; i++)
        pthread_mutex_init(&queues[i].lock, NULL);
    for (unsigned i = 0; i < THREADS; i++)
        CHECK(pthread_create(&threads[i], NULL, worker, (void *)(uintptr_t)i) == 0);
    for (unsigned i = 0; i < THREADS; i++)
        CHECK(pthread_join(threads[i], NULL) == 0);
    return 0;
}
