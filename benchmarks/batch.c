/* LIFO and FIFO batches: allocate a batch of blocks of assorted small sizes,
 * then free them newest-first (lifo) or oldest-first (fifo). Batches are
 * larger than any sensible thread cache, so refill and flush are exercised,
 * and the free order decides how well freed blocks come back in order. */
#include "bench.h"

#include <stdio.h>

#define BATCH_BLOCKS 4096

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 1, "lifo|fifo");
    bool lifo = args.mode && !strcmp(args.mode, "lifo");
    if (!lifo && !(args.mode && !strcmp(args.mode, "fifo")))
        bench_fail("mode must be lifo or fifo");
    uint64_t rounds = bench_scaled(&args, 2000, 1);
    static struct stamped_block blocks[BATCH_BLOCKS];
    static size_t sizes[BATCH_BLOCKS];
    uint64_t rng = 42;
    for (size_t i = 0; i < BATCH_BLOCKS; i++)
        sizes[i] = rng_between(&rng, 16, 512);

    double start = bench_now();
    for (uint64_t round = 0; round < rounds; round++) {
        for (size_t i = 0; i < BATCH_BLOCKS; i++)
            stamped_alloc(&blocks[i], sizes[(i + round) % BATCH_BLOCKS], round * BATCH_BLOCKS + i);
        for (size_t i = 0; i < BATCH_BLOCKS; i++)
            stamped_free(&blocks[lifo ? BATCH_BLOCKS - 1 - i : i]);
    }
    bench_report(lifo ? "lifo" : "fifo", bench_now() - start);
    return 0;
}
