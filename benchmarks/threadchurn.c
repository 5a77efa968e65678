/* Thread churn with live data, after mimalloc-bench's mstress but with
 * shorter-lived threads: generations of T threads (default 2) run side by
 * side. Each thread takes over the blocks a thread of the previous
 * generation handed on, fills a working set of 1024 blocks (mstress's sizes:
 * 8-256 B, 1% a hundred times larger, 0.1% a thousand, 0.01% ten thousand),
 * replaces a random block 4096 times, a quarter of those times swapping it
 * with a shared exchange instead (so threads running side by side free each
 * other's blocks), then hands 256 blocks to the next generation, frees the
 * rest and exits. Thread pools that retire workers, request-per-thread
 * servers and parallel build tools do this: what it measures is a new
 * thread's first allocations, a dying thread's cache flush, and frees of
 * blocks whose thread is gone.
 *
 * Blocks are bare pointers: the tag in a block's first word gives its size. */
#include "bench.h"

#include <stdatomic.h>
#include <stdio.h>

#define WORKING_SET 1024
#define STEPS 4096
#define HANDOFF 256
#define EXCHANGE 256
#define MAX_THREADS 256

struct shared {
    void *(*handoff[2])[HANDOFF]; /* generation g reads [g % 2], writes [(g + 1) % 2] */
    uint64_t generation;
    int threads;
};

static _Atomic(void *) exchange[EXCHANGE];

static size_t churn_size(uint64_t tag)
{
    uint64_t hash = rng_hash(tag), rare = (hash >> 8) % 10000;
    size_t size = (size_t)8 << (hash % 6);
    if (rare < 1)
        size *= 10000;
    else if (rare < 11)
        size *= 1000;
    else if (rare < 111)
        size *= 100;
    return size;
}

static void *churn_alloc(uint64_t tag)
{
    size_t size = churn_size(tag);
    void *block = bench_malloc(size);
    block_stamp(block, size, tag);
    return block;
}

static void churn_free(void *block)
{
    if (!block)
        return;
    uint64_t tag = self_tag_of(block);
    verified_free(block, churn_size(tag), tag);
}

static void run_thread(int index, void *shared_arg)
{
    struct shared *shared = shared_arg;
    uint64_t rng = shared->generation * MAX_THREADS + (uint64_t)index;
    uint64_t tag = SELF_TAG_MARK | shared->generation << 24 | (uint64_t)index << 16;
    void **inherited = shared->handoff[shared->generation % 2][index];
    void **working = bench_malloc(WORKING_SET * sizeof *working);
    for (size_t i = 0; i < WORKING_SET; i++) {
        working[i] = i < HANDOFF && inherited[i] ? inherited[i] : churn_alloc(tag++);
        if (i < HANDOFF)
            inherited[i] = NULL;
    }
    for (size_t step = 0; step < STEPS; step++) {
        void **slot = &working[rng_below(&rng, WORKING_SET)];
        if (rng_below(&rng, 4) == 0) {
            *slot = atomic_exchange(&exchange[rng_below(&rng, EXCHANGE)], *slot);
        } else {
            churn_free(*slot);
            *slot = churn_alloc(tag++);
        }
    }
    void **successor = shared->handoff[(shared->generation + 1) % 2][(index + 1) % shared->threads];
    for (size_t i = 0; i < WORKING_SET; i++) {
        if (i < HANDOFF)
            successor[i] = working[i];
        else
            churn_free(working[i]);
    }
    free(working);
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 2, NULL);
    if (args.threads > MAX_THREADS)
        bench_fail("at most %d threads", MAX_THREADS);
    uint64_t generations = bench_scaled(&args, 100, 1);
    struct shared shared = {.threads = args.threads};
    for (int i = 0; i < 2; i++) {
        shared.handoff[i] = calloc((size_t)args.threads, sizeof *shared.handoff[i]);
        if (!shared.handoff[i])
            bench_fail("calloc of the hand-off lists failed");
    }
    double start = bench_now();
    for (shared.generation = 0; shared.generation < generations; shared.generation++)
        bench_run_threads(args.threads, run_thread, &shared);
    for (int t = 0; t < args.threads; t++)
        for (size_t i = 0; i < HANDOFF; i++)
            churn_free(shared.handoff[generations % 2][t][i]);
    for (size_t i = 0; i < EXCHANGE; i++)
        churn_free(atomic_exchange(&exchange[i], NULL));
    bench_report("threadchurn", bench_now() - start);
    free(shared.handoff[0]);
    free(shared.handoff[1]);
    return 0;
}
