/* Mixed small/medium/large: per thread, 4096 slots of live blocks, each step
 * replacing a random one. Sizes: 85% small (16-256 B), 14% medium (257 B -
 * 32 KiB), 1% large (64-512 KiB, page runs or mmap in every allocator). */
#include "bench.h"

#include <stdio.h>

#define SLOTS 4096

struct shared {
    uint64_t steps;
};

static size_t mixed_size(uint64_t *rng)
{
    uint64_t pick = rng_below(rng, 100);
    if (pick < 85)
        return rng_between(rng, 16, 256);
    if (pick < 99)
        return rng_between(rng, 257, 32768);
    return rng_between(rng, 65536, 524288);
}

static void run_thread(int index, void *shared_arg)
{
    struct shared *shared = shared_arg;
    struct stamped_block *slots = calloc(SLOTS, sizeof *slots);
    if (!slots)
        bench_fail("calloc of the slots failed");
    uint64_t rng = 5 + (uint64_t)index, tag = (uint64_t)index << 48;
    for (uint64_t step = 0; step < shared->steps; step++) {
        struct stamped_block *slot = &slots[rng_below(&rng, SLOTS)];
        stamped_free(slot);
        stamped_alloc(slot, mixed_size(&rng), tag++);
    }
    for (size_t i = 0; i < SLOTS; i++)
        stamped_free(&slots[i]);
    free(slots);
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 2, NULL);
    struct shared shared = {.steps = bench_scaled(&args, 1000000, 1)};
    double start = bench_now();
    bench_run_threads(args.threads, run_thread, &shared);
    bench_report("mixed", bench_now() - start);
    return 0;
}
