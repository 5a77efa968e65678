/* Medium sizes, after rpmalloc's rptest (mimalloc-bench's rptestN) and
 * alloc-test: T threads (default 2), each with a working set of 1000 slots.
 * Per loop a thread frees 100 blocks and allocates 100 at random slots
 * (replacing what is there); three in four blocks are 1-32 KiB, one in four
 * 8-512 B; one in three comes from memalign(16), the others from calloc, as
 * rptest's (which callocs every block of 4 KiB or more), so an allocator
 * that knows a block is fresh skips clearing it. Every other loop it also
 * fills a batch of 100 blocks for the next thread, which frees them on its
 * next loop (rptest's cross-thread rate of 2). Buffers of a few KiB (I/O and
 * string buffers, small arrays, parser nodes with payloads) in
 * multi-threaded servers and databases look like this.
 *
 * Blocks are stamped like rptest touches them, one word per page (plus
 * their first 64 bytes and last word), and carry their tag, which gives
 * their size and alignment; a calloc'd block must read zero there first. */
#include "bench.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define SLOTS 1000
#define OPS 100
#define CROSS_RATE 2
#define ALIGNMENT 16

struct batch {
    struct batch *next;
    void *blocks[OPS];
};

/* A thread's inbox of batches from the thread before it, on its own line. */
struct inbox {
    _Alignas(64) _Atomic(struct batch *) top;
};

struct shared {
    struct inbox *inboxes;
    uint64_t loops;
    int threads;
};

static size_t medium_size(uint64_t tag)
{
    uint64_t hash = rng_hash(tag);
    return hash % 4 ? 1024 + (hash >> 8) % (31 * 1024 + 1) : 8 + (hash >> 8) % 505;
}

static bool medium_aligned(uint64_t tag)
{
    return (rng_hash(tag) >> 48) % 3 == 0;
}

static void check_cleared(const unsigned char *block, size_t size)
{
    if (size < 8) {
        for (size_t i = 0; i < size; i++)
            if (block[i])
                bench_fail("calloc(1, %zu) returned %p, not cleared at byte %zu", size, (void *)block, i);
        return;
    }
    STAMP_FOR_EACH_OFFSET(offset, size, STAMP_PAGE_BYTES, {
        uint64_t word;
        memcpy(&word, block + offset, sizeof word);
        if (word)
            bench_fail("calloc(1, %zu) returned %p, not cleared at byte %zu", size, (void *)block, offset);
    });
}

static void *medium_alloc(uint64_t tag)
{
    size_t size = medium_size(tag);
    void *block = medium_aligned(tag) ? memalign(ALIGNMENT, size) : calloc(1, size);
    if (!block)
        bench_fail("allocation of %zu bytes returned NULL", size);
    if (medium_aligned(tag) && (uintptr_t)block % ALIGNMENT)
        bench_fail("memalign(%d, %zu) returned %p", ALIGNMENT, size, block);
    if (!medium_aligned(tag))
        check_cleared(block, size);
    block_stamp_sparse(block, size, tag, STAMP_PAGE_BYTES);
    return block;
}

static void medium_free(void *block)
{
    if (block) {
        uint64_t tag = self_tag_of(block);
        verified_free_sparse(block, medium_size(tag), tag, STAMP_PAGE_BYTES);
    }
}

static void free_batches(struct batch *batch)
{
    while (batch) {
        struct batch *next = batch->next;
        for (size_t i = 0; i < OPS; i++)
            medium_free(batch->blocks[i]);
        free(batch);
        batch = next;
    }
}

static void send_batch(struct inbox *inbox, uint64_t *tag)
{
    struct batch *batch = bench_malloc(sizeof *batch);
    for (size_t i = 0; i < OPS; i++)
        batch->blocks[i] = medium_alloc((*tag)++);
    batch->next = atomic_load(&inbox->top);
    while (!atomic_compare_exchange_weak(&inbox->top, &batch->next, batch))
        ;
}

static void run_thread(int index, void *shared_arg)
{
    struct shared *shared = shared_arg;
    void *slots[SLOTS] = {0};
    uint64_t rng = 1 + (uint64_t)index, tag = SELF_TAG_MARK | (uint64_t)index << 40;
    for (uint64_t loop = 0; loop < shared->loops; loop++) {
        free_batches(atomic_exchange(&shared->inboxes[index].top, NULL));
        for (size_t i = 0; i < OPS; i++) {
            void **slot = &slots[rng_below(&rng, SLOTS)];
            medium_free(*slot);
            *slot = NULL;
        }
        for (size_t i = 0; i < OPS; i++) {
            void **slot = &slots[rng_below(&rng, SLOTS)];
            medium_free(*slot);
            *slot = medium_alloc(tag++);
        }
        if (loop % CROSS_RATE == 0)
            send_batch(&shared->inboxes[(index + 1) % shared->threads], &tag);
    }
    for (size_t i = 0; i < SLOTS; i++)
        medium_free(slots[i]);
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 2, NULL);
    struct shared shared = {.loops = bench_scaled(&args, 1000, 1), .threads = args.threads};
    shared.inboxes = aligned_alloc(64, sizeof *shared.inboxes * (size_t)args.threads);
    if (!shared.inboxes)
        bench_fail("aligned_alloc of the inboxes failed");
    for (int t = 0; t < args.threads; t++)
        atomic_init(&shared.inboxes[t].top, NULL);
    double start = bench_now();
    bench_run_threads(args.threads, run_thread, &shared);
    for (int t = 0; t < args.threads; t++)
        free_batches(atomic_exchange(&shared.inboxes[t].top, NULL));
    bench_report("medium", bench_now() - start);
    free(shared.inboxes);
    return 0;
}
