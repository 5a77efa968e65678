/* Free every other, then grow: for each of nine sizes from 32 B to 100 KiB
 * (each 2.75 times the last), allocate 16 MiB (-s scales it) of blocks of
 * that size, free every other one, then, survivor by survivor, grow the
 * survivor to twice its size with realloc (the hole beside it is free) and
 * allocate a block two and a half times the old size (too big for any
 * hole). Then free everything. A program that filters a collection and grows
 * what is left (records gaining fields, arrays and strings appended to after
 * a cleanup pass), or an interpreter whose collector frees every other
 * object before its containers grow again, leaves holes like these: an
 * allocator that grows in place into the freed neighbour, and reuses the
 * holes for the next requests, keeps its heap and its time down. */
#include "bench.h"

#include <stdio.h>

#define SIZES 9

static void grow(struct stamped_block *block, size_t new_size)
{
    void *moved = realloc(block->ptr, new_size);
    if (!moved)
        bench_fail("realloc(%zu) returned NULL", new_size);
    if (!block_stamp_intact_below(moved, block->size, block->tag, new_size))
        bench_fail("realloc from %zu to %zu bytes lost the contents", block->size, new_size);
    block->ptr = moved;
    block->size = new_size;
    block_stamp(moved, new_size, block->tag);
}

static void run_phase(size_t size, size_t phase_bytes, uint64_t *tag)
{
    size_t count = phase_bytes / size;
    struct stamped_block *blocks = bench_malloc(count * sizeof *blocks);
    struct stamped_block *bigger = bench_malloc(count / 2 * sizeof *bigger);
    for (size_t i = 0; i < count; i++)
        stamped_alloc(&blocks[i], size, (*tag)++);
    for (size_t i = 1; i < count; i += 2)
        stamped_free(&blocks[i]);
    for (size_t i = 0; i < count / 2; i++) {
        grow(&blocks[2 * i], 2 * size);
        stamped_alloc(&bigger[i], size * 5 / 2, (*tag)++);
    }
    for (size_t i = 0; i < count; i += 2)
        stamped_free(&blocks[i]);
    for (size_t i = 0; i < count / 2; i++)
        stamped_free(&bigger[i]);
    free(bigger);
    free(blocks);
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 1, NULL);
    uint64_t phase_bytes = bench_scaled(&args, (uint64_t)16 << 20, 1 << 20), tag = 1;
    double start = bench_now();
    for (size_t s = 0, size = 32; s < SIZES; s++, size = size * 3 - size / 4)
        run_phase(size, phase_bytes, &tag);
    bench_report("holes", bench_now() - start);
    return 0;
}
