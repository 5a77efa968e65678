/* Realloc growth chains among aligned allocations: 512 buffers grow by
 * appends, interleaved with posix_memalign(64) and aligned_alloc(64) blocks
 * (64 B-16 KiB) that are allocated and freed between the appends. Three kinds
 * of buffer, as real programs grow them:
 *  - string builders (half of them): realloc to the exact new length on
 *    every append, 1-64 bytes four times in five, else 100 B-4 KiB (a value
 *    of a few KiB); at 64 KiB the string is sent and freed;
 *  - redis-style sds query and reply buffers: room doubles when an append
 *    of 16 B-4 KiB does not fit (plus 1 MiB at a time above 1 MiB); at 1 MiB
 *    the buffer is consumed and shrunk to 4 KiB with realloc, then reused;
 *  - interpreter lists (Python's list growth: n + n/8 + 6 slots): 1-16
 *    pointers appended at a time, freed at 32k slots.
 * Every append writes its bytes. A realloc that moves must keep the
 * contents: the first word, the last old word and a random word are checked
 * after every realloc, every byte before a buffer is freed or shrunk. */
#include "bench.h"

#include <stdio.h>

#define CHAINS 512
#define ALIGNED_SLOTS 256
#define ALIGNMENT 64
#define BUILDER_LIMIT ((size_t)64 << 10)
#define SDS_LIMIT ((size_t)1 << 20)
#define SDS_KEPT ((size_t)4 << 10)
#define LIST_LIMIT ((size_t)32 << 10 << 3)

enum kind { BUILDER, SDS, LIST };

struct chain {
    unsigned char *bytes;
    size_t length, capacity;
    uint64_t tag;
};

/* A chain's byte at offset is byte (offset % 8) of stamp_word(tag, offset & ~7). */
static void content_write(unsigned char *bytes, uint64_t tag, size_t from, size_t to)
{
    for (size_t offset = from & ~(size_t)7; offset < to; offset += 8) {
        uint64_t word = stamp_word(tag, offset);
        memcpy(bytes + offset, &word, (to - offset < 8 ? to - offset : 8));
    }
}

static bool content_intact(const unsigned char *bytes, uint64_t tag, size_t from, size_t to)
{
    bool intact = true;
    for (size_t offset = from & ~(size_t)7; offset < to; offset += 8) {
        uint64_t word = stamp_word(tag, offset);
        intact &= memcmp(bytes + offset, &word, (to - offset < 8 ? to - offset : 8)) == 0;
    }
    return intact;
}

static enum kind kind_of(size_t chain_index)
{
    return chain_index % 4 < 2 ? BUILDER : chain_index % 4 == 2 ? SDS : LIST;
}

static size_t append_size(enum kind kind, uint64_t *rng)
{
    switch (kind) {
    case BUILDER: return rng_below(rng, 5) ? rng_between(rng, 1, 64) : rng_between(rng, 100, 4096);
    case SDS: return rng_between(rng, 16, 4096);
    default: return 8 * rng_between(rng, 1, 16);
    }
}

static size_t grown_capacity(enum kind kind, size_t needed)
{
    switch (kind) {
    case BUILDER: return needed;
    case SDS: return needed < ((size_t)1 << 20) ? 2 * needed : needed + ((size_t)1 << 20);
    default: {
        size_t slots = needed / 8;
        return ((slots + (slots >> 3) + 6) & ~(size_t)3) * 8;
    }
    }
}

static void chain_resize(struct chain *chain, size_t capacity, uint64_t *rng)
{
    unsigned char *moved = realloc(chain->bytes, capacity);
    if (!moved)
        bench_fail("realloc(%zu) returned NULL", capacity);
    size_t kept = chain->length < capacity ? chain->length : capacity;
    size_t sample = kept ? rng_below(rng, kept) : 0;
    if (!content_intact(moved, chain->tag, 0, kept < 8 ? kept : 8) ||
        !content_intact(moved, chain->tag, kept < 8 ? 0 : kept - 8, kept) ||
        (kept && !content_intact(moved, chain->tag, sample, sample + 1)))
        bench_fail("realloc from %zu to %zu bytes lost the contents", chain->capacity, capacity);
    chain->bytes = moved;
    chain->capacity = capacity;
    chain->length = kept;
}

static void chain_check(const struct chain *chain)
{
    if (!content_intact(chain->bytes, chain->tag, 0, chain->length))
        bench_fail("buffer %p of %zu bytes was overwritten while live", (void *)chain->bytes,
                   chain->length);
}

/* The buffer is done with: sent (freed) or, for sds, consumed and shrunk. */
static void chain_finish(struct chain *chain, enum kind kind, uint64_t new_tag, uint64_t *rng)
{
    chain_check(chain);
    if (kind == SDS) {
        chain_resize(chain, SDS_KEPT, rng);
    } else {
        free(chain->bytes);
        chain->bytes = NULL;
        chain->capacity = 0;
    }
    chain->length = 0;
    chain->tag = new_tag;
}

static void chain_append(struct chain *chain, enum kind kind, uint64_t *rng, uint64_t *tag)
{
    size_t add = append_size(kind, rng);
    size_t limit = kind == BUILDER ? BUILDER_LIMIT : kind == SDS ? SDS_LIMIT : LIST_LIMIT;
    if (chain->length + add > limit)
        chain_finish(chain, kind, (*tag)++, rng);
    if (chain->length + add > chain->capacity)
        chain_resize(chain, grown_capacity(kind, chain->length + add), rng);
    content_write(chain->bytes, chain->tag, chain->length, chain->length + add);
    chain->length += add;
}

static void aligned_replace(struct stamped_block *slot, uint64_t *rng, uint64_t tag)
{
    stamped_free(slot);
    size_t size = (size_t)64 << rng_below(rng, 8);
    size = rng_between(rng, size, 2 * size);
    void *block = NULL;
    if (rng_below(rng, 2)) {
        if (posix_memalign(&block, ALIGNMENT, size))
            block = NULL;
    } else {
        size = (size + ALIGNMENT - 1) & ~(size_t)(ALIGNMENT - 1);
        block = aligned_alloc(ALIGNMENT, size);
    }
    if (!block || (uintptr_t)block % ALIGNMENT)
        bench_fail("aligned allocation of %zu bytes returned %p", size, block);
    *slot = (struct stamped_block){block, size, tag};
    block_stamp(block, size, tag);
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 1, NULL);
    uint64_t steps = bench_scaled(&args, 200000, 1);
    static struct chain chains[CHAINS];
    static struct stamped_block aligned[ALIGNED_SLOTS];
    uint64_t rng = 5, tag = 1;
    for (size_t c = 0; c < CHAINS; c++)
        chains[c].tag = tag++;
    double start = bench_now();
    for (uint64_t step = 0; step < steps; step++) {
        size_t c = rng_below(&rng, CHAINS);
        chain_append(&chains[c], kind_of(c), &rng, &tag);
        if (rng_below(&rng, 2))
            aligned_replace(&aligned[rng_below(&rng, ALIGNED_SLOTS)], &rng, tag++);
    }
    for (size_t c = 0; c < CHAINS; c++) {
        chain_check(&chains[c]);
        free(chains[c].bytes);
    }
    for (size_t i = 0; i < ALIGNED_SLOTS; i++)
        stamped_free(&aligned[i]);
    bench_report("reallocgrow", bench_now() - start);
    return 0;
}
