/* Fragmentation: phases of growing sizes (16 B, 32 B, ... 32 KiB), each
 * allocating 4 MiB worth of blocks and then freeing every other one, so each
 * phase leaves holes too small for the next. Then all small survivors are
 * freed and the same bytes are allocated again as 64 KiB blocks: an allocator
 * that can give emptied slabs back to its page heap reuses them; one that
 * cannot grows. Peak RSS is the interesting figure here. */
#include "bench.h"

#include <stdio.h>

#define PHASES 12
#define PHASE_BYTES (4u << 20)
#define SMALL_LIMIT 1024
#define BIG_BLOCK (64u << 10)

static size_t phase_size(int phase)
{
    return (size_t)16 << phase;
}

/* Tags are derived from where a block sits, so only pointers are kept. */
static uint64_t tag_of(int phase, size_t index)
{
    return ((uint64_t)phase << 40) ^ index;
}

static void check_and_free(void **slot, size_t size, uint64_t tag)
{
    verified_free(*slot, size, tag);
    *slot = NULL;
}

static void run_round(void)
{
    void **blocks[PHASES];
    size_t count[PHASES], small_bytes_freed = 0;
    for (int p = 0; p < PHASES; p++) {
        size_t size = phase_size(p);
        count[p] = PHASE_BYTES / size;
        blocks[p] = bench_malloc(count[p] * sizeof(void *));
        for (size_t i = 0; i < count[p]; i++) {
            blocks[p][i] = bench_malloc(size);
            block_stamp(blocks[p][i], size, tag_of(p, i));
        }
        for (size_t i = 1; i < count[p]; i += 2)
            check_and_free(&blocks[p][i], size, tag_of(p, i));
    }
    for (int p = 0; p < PHASES && phase_size(p) <= SMALL_LIMIT; p++) {
        for (size_t i = 0; i < count[p]; i += 2) {
            check_and_free(&blocks[p][i], phase_size(p), tag_of(p, i));
            small_bytes_freed += phase_size(p);
        }
    }
    size_t big_count = small_bytes_freed / BIG_BLOCK;
    void **big = bench_malloc(big_count * sizeof(void *));
    for (size_t i = 0; i < big_count; i++) {
        big[i] = bench_malloc(BIG_BLOCK);
        block_stamp(big[i], BIG_BLOCK, tag_of(PHASES, i));
    }
    for (size_t i = 0; i < big_count; i++)
        check_and_free(&big[i], BIG_BLOCK, tag_of(PHASES, i));
    free(big);
    for (int p = 0; p < PHASES; p++) {
        for (size_t i = 0; i < count[p]; i += 2)
            if (blocks[p][i])
                check_and_free(&blocks[p][i], phase_size(p), tag_of(p, i));
        free(blocks[p]);
    }
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 1, NULL);
    uint64_t rounds = bench_scaled(&args, 16, 1);
    double start = bench_now();
    for (uint64_t r = 0; r < rounds; r++)
        run_round();
    bench_report("frag", bench_now() - start);
    return 0;
}
