/* Thread churn: rounds of T short-lived threads. Each allocates a few hundred
 * blocks, frees half of them and leaves the other half to the main thread,
 * which verifies and frees them after the thread is gone. Measures thread
 * cache set-up and tear-down and frees of a dead thread's blocks. */
#include "bench.h"

#include <stdio.h>

#define BLOCKS_PER_THREAD 256

struct shared {
    struct stamped_block (*left_over)[BLOCKS_PER_THREAD / 2];
    uint64_t round;
};

static void run_thread(int index, void *shared_arg)
{
    struct shared *shared = shared_arg;
    struct stamped_block blocks[BLOCKS_PER_THREAD];
    uint64_t rng = shared->round * 1000 + (uint64_t)index;
    uint64_t tag = rng << 16;
    for (size_t i = 0; i < BLOCKS_PER_THREAD; i++)
        stamped_alloc(&blocks[i], rng_between(&rng, 16, 2048), tag++);
    for (size_t i = 0; i < BLOCKS_PER_THREAD; i += 2) {
        stamped_free(&blocks[i]);
        shared->left_over[index][i / 2] = blocks[i + 1];
    }
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 2, NULL);
    uint64_t rounds = bench_scaled(&args, 4000, 1);
    struct shared shared;
    shared.left_over = bench_malloc(sizeof *shared.left_over * (size_t)args.threads);
    double start = bench_now();
    for (shared.round = 0; shared.round < rounds; shared.round++) {
        bench_run_threads(args.threads, run_thread, &shared);
        for (int t = 0; t < args.threads; t++)
            for (size_t i = 0; i < BLOCKS_PER_THREAD / 2; i++)
                stamped_free(&shared.left_over[t][i]);
    }
    bench_report("churn", bench_now() - start);
    free(shared.left_over);
    return 0;
}
