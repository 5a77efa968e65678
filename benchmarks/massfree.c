/* Mass free: allocate about 1 GiB (-s scales it) of blocks of 16 B-4 KiB,
 * spread evenly over each power of two (as many 16-32 B blocks as 2-4 KiB
 * ones), keep them all, then free them all. The blocks are allocated as
 * eight interleaved lists and freed list by list, as a program tears down a
 * hash table or a graph whose nodes were allocated together: every slab is
 * visited eight times before it is empty. The end of a compiler pass, of a
 * parsed document or a query's working data, or a program that frees its
 * data before it exits. The reported time covers both phases; the free
 * phase is where allocators differ most (a whole slab's blocks returned in
 * one step, or block by block).
 *
 * Blocks are stamped on their first 64 bytes, last word and one word per
 * page, and verified before they are freed; a block's size follows from its
 * index. */
#include "bench.h"

#include <stdio.h>

#define LISTS 8

static size_t block_size(uint64_t index)
{
    uint64_t hash = rng_hash(index);
    size_t base = (size_t)16 << (hash % 8);
    return base + (hash >> 8) % (base + 1);
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 1, NULL);
    uint64_t total_bytes = bench_scaled(&args, (uint64_t)1 << 30, 1 << 20), bytes = 0;
    size_t count = 0;
    while (bytes < total_bytes)
        bytes += block_size(count++);
    void **blocks = bench_malloc(count * sizeof *blocks);

    double start = bench_now();
    for (size_t i = 0; i < count; i++) {
        blocks[i] = bench_malloc(block_size(i));
        block_stamp_sparse(blocks[i], block_size(i), i, STAMP_PAGE_BYTES);
    }
    for (size_t list = 0; list < LISTS; list++)
        for (size_t i = list; i < count; i += LISTS)
            verified_free_sparse(blocks[i], block_size(i), i, STAMP_PAGE_BYTES);
    bench_report("massfree", bench_now() - start);
    free(blocks);
    return 0;
}
