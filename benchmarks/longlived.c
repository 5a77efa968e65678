/* Long-lived heap with a churning working set: 200k blocks (16-512 B) live for
 * the whole run while a 10k-slot working set (16 B - 4 KiB) is replaced at
 * random; every 100k steps 1% of the long-lived blocks are renewed, so old
 * and young blocks interleave in the heap as in a server's caches. */
#include "bench.h"

#include <stdio.h>

#define LONG_LIVED 200000
#define WORKING_SET 10000
#define RENEW_EVERY 100000
#define RENEW_COUNT (LONG_LIVED / 100)

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 1, NULL);
    uint64_t steps = bench_scaled(&args, 4000000, 1);
    struct stamped_block *old = calloc(LONG_LIVED, sizeof *old);
    struct stamped_block *young = calloc(WORKING_SET, sizeof *young);
    if (!old || !young)
        bench_fail("calloc of the slot arrays failed");
    uint64_t rng = 11, tag = 0;

    double start = bench_now();
    for (size_t i = 0; i < LONG_LIVED; i++)
        stamped_alloc(&old[i], rng_between(&rng, 16, 512), tag++);
    for (uint64_t step = 0; step < steps; step++) {
        struct stamped_block *slot = &young[rng_below(&rng, WORKING_SET)];
        stamped_free(slot);
        stamped_alloc(slot, rng_between(&rng, 16, rng_below(&rng, 8) ? 256 : 4096), tag++);
        if (step % RENEW_EVERY == RENEW_EVERY - 1) {
            for (size_t r = 0; r < RENEW_COUNT; r++) {
                struct stamped_block *renewed = &old[rng_below(&rng, LONG_LIVED)];
                stamped_free(renewed);
                stamped_alloc(renewed, rng_between(&rng, 16, 512), tag++);
            }
        }
    }
    for (size_t i = 0; i < WORKING_SET; i++)
        stamped_free(&young[i]);
    for (size_t i = 0; i < LONG_LIVED; i++)
        stamped_free(&old[i]);
    bench_report("longlived", bench_now() - start);
    free(old);
    free(young);
    return 0;
}
