/* What every workload shares: argument parsing, a fast PRNG, a stopwatch, and
 * the block stamp that lets a workload prove the allocator handed out memory
 * it could keep (a block overlapping another live block, or handed out twice,
 * shows up as a stamp that does not match at free time).
 *
 * Workloads call the allocator through plain libc names and are built with
 * -fno-builtin-malloc and friends, so that LD_PRELOAD picks the allocator and
 * the compiler cannot fold a malloc+free pair away. */
#ifndef TCA_BENCH_H
#define TCA_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct bench_args {
    int threads;      /* -t N */
    double scale;     /* -s X: multiplies the workload's default amount of work */
    const char *mode; /* the one positional argument, if any */
};

/* Parses "[-t threads] [-s scale] [mode]"; exits with a usage line on anything else. */
struct bench_args bench_parse(int argc, char **argv, int default_threads, const char *usage_mode);

/* n scaled by the -s factor, at least minimum. */
uint64_t bench_scaled(const struct bench_args *args, uint64_t n, uint64_t minimum);

double bench_now(void);

/* Prints the workload's one result line, "<name> <seconds> s". */
void bench_report(const char *name, double seconds);

/* Prints what went wrong and exits 1: a verification failure. */
__attribute__((noreturn, format(printf, 1, 2))) void bench_fail(const char *format, ...);

/* Allocation that treats NULL as a verification failure. */
static inline void *bench_malloc(size_t size)
{
    void *block = malloc(size);
    if (!block)
        bench_fail("malloc(%zu) returned NULL", size);
    return block;
}

/* Starts count threads running body(index, shared) and joins them all. */
void bench_run_threads(int count, void (*body)(int index, void *shared), void *shared);

/* splitmix64: good enough statistics, a handful of instructions. */
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without a division. */
static inline uint64_t rng_below(uint64_t *state, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(state) * n) >> 64);
}

static inline uint64_t rng_between(uint64_t *state, uint64_t low, uint64_t high)
{
    return low + rng_below(state, high - low + 1);
}

/* The stamp writes every word of a block's first 64 bytes, one word per
 * stride bytes after that (64: every cache line), and the block's last whole
 * word (all at multiples of 8, so no two writes overlap): every line a real
 * program would touch is touched, the cost stays proportional to lines rather
 * than bytes, and a small block is covered entirely. Each word depends on the
 * block's tag and the word's offset. A workload whose point is the
 * allocator's own cost on big blocks stamps one word per 4 KiB page instead
 * (block_stamp_sparse), as the programs it stands for touch them. */
static inline uint64_t stamp_word(uint64_t tag, size_t offset)
{
    return tag ^ (offset * 0x9e3779b97f4a7c15ULL);
}

#define STAMP_DENSE_BYTES 64
#define STAMP_LINE_BYTES 64
#define STAMP_PAGE_BYTES 4096

/* Visits every stamped offset of a block of size bytes (size >= 8). */
#define STAMP_FOR_EACH_OFFSET(offset, size, stride, body)                                      \
    do {                                                                                       \
        size_t stamp_dense_end_ = (size) < STAMP_DENSE_BYTES ? ((size) & ~(size_t)7) : STAMP_DENSE_BYTES; \
        for (size_t offset = 0; offset < stamp_dense_end_; offset += 8) { body; }             \
        for (size_t offset = STAMP_DENSE_BYTES; offset + 8 <= (size); offset += (stride)) { body; } \
        { size_t offset = ((size) - 8) & ~(size_t)7; body; }                                   \
    } while (0)

static inline void block_stamp_sparse(void *block, size_t size, uint64_t tag, size_t stride)
{
    unsigned char *bytes = block;
    if (size < 8) {
        memset(bytes, (int)(tag & 0xff), size);
        return;
    }
    STAMP_FOR_EACH_OFFSET(offset, size, stride, {
        uint64_t word = stamp_word(tag, offset);
        memcpy(bytes + offset, &word, sizeof word);
    });
}

static inline void block_stamp(void *block, size_t size, uint64_t tag)
{
    block_stamp_sparse(block, size, tag, STAMP_LINE_BYTES);
}

/* Checks the stamp of a size-byte block where it lies below limit (limit <
 * size after a shrinking realloc). */
static inline bool block_stamp_sparse_intact_below(const void *block, size_t size, uint64_t tag,
                                                   size_t limit, size_t stride)
{
    const unsigned char *bytes = block;
    if (size < 8) {
        for (size_t i = 0; i < size && i < limit; i++)
            if (bytes[i] != (unsigned char)(tag & 0xff))
                return false;
        return true;
    }
    bool intact = true;
    STAMP_FOR_EACH_OFFSET(offset, size, stride, {
        uint64_t word;
        if (offset + 8 <= limit) {
            memcpy(&word, bytes + offset, sizeof word);
            intact &= word == stamp_word(tag, offset);
        }
    });
    return intact;
}

static inline bool block_stamp_intact_below(const void *block, size_t size, uint64_t tag, size_t limit)
{
    return block_stamp_sparse_intact_below(block, size, tag, limit, STAMP_LINE_BYTES);
}

static inline bool block_stamp_intact(const void *block, size_t size, uint64_t tag)
{
    return block_stamp_intact_below(block, size, tag, size);
}

/* A block's first stamp word is its tag (stamp_word(tag, 0) == tag; blocks of
 * 8 bytes or more), so a
 * workload that derives a block's size from its tag can keep bare pointers,
 * and a block handed between threads carries its own description. */
static inline uint64_t block_tag(const void *block)
{
    uint64_t tag;
    memcpy(&tag, block, sizeof tag);
    return tag;
}

/* Verifies (stamped with stride) and frees a bare block. */
static inline void verified_free_sparse(void *block, size_t size, uint64_t tag, size_t stride)
{
    if (!block_stamp_sparse_intact_below(block, size, tag, size, stride))
        bench_fail("block %p of %zu bytes was overwritten while live", block, size);
    free(block);
}

static inline void verified_free(void *block, size_t size, uint64_t tag)
{
    verified_free_sparse(block, size, tag, STAMP_LINE_BYTES);
}

/* Tags of blocks that describe themselves carry this mark in their top byte,
 * so that a first word overwritten by garbage is reported as such rather
 * than taken for a tag (and a size derived from it). */
#define SELF_TAG_MARK ((uint64_t)0xc7 << 56)

static inline uint64_t self_tag_of(const void *block)
{
    uint64_t tag = block_tag(block);
    if ((tag >> 56) != (SELF_TAG_MARK >> 56))
        bench_fail("block %p lost its tag (first word %#llx)", block, (unsigned long long)tag);
    return tag;
}

/* A well-mixed function of x, for sizes and choices derived from a tag. */
static inline uint64_t rng_hash(uint64_t x)
{
    return rng_next(&x);
}

/* A live block and what it should contain: the unit most workloads juggle. */
struct stamped_block {
    void *ptr;
    size_t size;
    uint64_t tag;
};

static inline void stamped_alloc(struct stamped_block *block, size_t size, uint64_t tag)
{
    block->ptr = bench_malloc(size);
    block->size = size;
    block->tag = tag;
    block_stamp(block->ptr, size, tag);
}

/* Verifies and frees; an empty block (ptr NULL) is left alone. */
static inline void stamped_free(struct stamped_block *block)
{
    if (!block->ptr)
        return;
    verified_free(block->ptr, block->size, block->tag);
    block->ptr = NULL;
}

#endif
