/* Realloc growth chains: 64 buffers grown side by side, so the neighbour of a
 * buffer is usually another live buffer. Seven in eight grow like string
 * builders (a few to 64 bytes at a time, up to 4 KiB), one in eight grows
 * geometrically (x1.5 up to 256 KiB); at the end a buffer is shrunk once, freed,
 * and its chain starts again. Contents must survive every move. */
#include "bench.h"

#include <stdio.h>

#define CHAINS 64
#define APPEND_LIMIT 4096
#define GEOMETRIC_LIMIT (256 << 10)

static void resize(struct stamped_block *buffer, size_t new_size)
{
    void *moved = realloc(buffer->ptr, new_size);
    if (!moved)
        bench_fail("realloc(%zu) returned NULL", new_size);
    buffer->ptr = moved;
    if (!block_stamp_intact_below(moved, buffer->size, buffer->tag, new_size))
        bench_fail("realloc from %zu to %zu bytes lost the contents", buffer->size, new_size);
    buffer->size = new_size;
    block_stamp(moved, new_size, buffer->tag);
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 1, NULL);
    uint64_t steps = bench_scaled(&args, 1000000, 1);
    struct stamped_block buffers[CHAINS];
    uint64_t rng = 99, tag = 0;
    for (size_t c = 0; c < CHAINS; c++)
        stamped_alloc(&buffers[c], 16, tag++);

    double start = bench_now();
    for (uint64_t step = 0; step < steps; step++) {
        size_t c = rng_below(&rng, CHAINS);
        struct stamped_block *buffer = &buffers[c];
        bool geometric = c % 8 == 0;
        size_t limit = geometric ? GEOMETRIC_LIMIT : APPEND_LIMIT;
        if (buffer->size >= limit) {
            resize(buffer, buffer->size / 3);
            stamped_free(buffer);
            stamped_alloc(buffer, 16, tag++);
        } else {
            resize(buffer, geometric ? buffer->size * 3 / 2 : buffer->size + rng_between(&rng, 1, 64));
        }
    }
    for (size_t c = 0; c < CHAINS; c++)
        stamped_free(&buffers[c]);
    bench_report("realloc", bench_now() - start);
    return 0;
}
