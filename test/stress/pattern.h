/* What the stress tests share: a per-thread random generator, random request
 * sizes over every class and some large ones, and a fill pattern derived from
 * a block's address and size, checked before the block is freed. */
#ifndef TCA_TEST_PATTERN_H
#define TCA_TEST_PATTERN_H

#include <stdint.h>
#include <string.h>

#include "check.h"

static inline uint64_t random_next(uint64_t *state)
{
    /* xorshift64*: fast, good enough to pick sizes and actions. */
    uint64_t x = *state;
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Mostly small sizes across every class, some page-run sizes, rarely a few MiB. */
static inline size_t random_size(uint64_t *state)
{
    uint64_t r = random_next(state);
    switch (r % 100) {
    case 0:
        return (size_t)(r >> 12) % (4 << 20) + 1;
    case 1 ... 5:
        return (size_t)(r >> 12) % 300000 + 32769;
    case 6 ... 30:
        return (size_t)(r >> 12) % 32768 + 1;
    default:
        return (size_t)(r >> 12) % 512 + 1;
    }
}

static inline uint64_t pattern_seed(const void *block, size_t size)
{
    return ((uintptr_t)block * 0x9e3779b97f4a7c15ULL) ^ (size * 0xbf58476d1ce4e5b9ULL);
}

/* Writes or checks the pattern of seed over size bytes.  Beyond the first and
 * last 4 KiB only one byte per 4 KiB is touched: that catches overlapping and
 * stale blocks without making the tests memory-bound on multi-MiB blocks. */
static inline void pattern_walk(uint8_t *bytes, size_t size, uint64_t seed, int write)
{
    for (size_t i = 0; i < size;) {
        uint8_t expected = (uint8_t)((seed >> (i % 7 * 8)) + i);
        if (write)
            bytes[i] = expected;
        else if (bytes[i] != expected) {
            fprintf(stderr, "block %p (size %zu): byte %zu is 0x%02x, expected 0x%02x\n", (void *)bytes, size,
                    i, bytes[i], expected);
            abort();
        }
        i += (i < 4096 || i + 4096 >= size) ? 1 : 4096 - i % 4096 + i / 4096 % 61;
    }
}

static inline void pattern_fill(void *block, size_t size) { pattern_walk(block, size, pattern_seed(block, size), 1); }
static inline void pattern_check(const void *block, size_t size)
{
    pattern_walk((uint8_t *)block, size, pattern_seed(block, size), 0);
}

/* After realloc moved a block: its first bytes still hold the old block's pattern. */
static inline void pattern_check_moved(const void *block, size_t kept, const void *old_block, size_t old_size)
{
    pattern_walk((uint8_t *)block, kept < 4096 ? kept : 4096, pattern_seed(old_block, old_size), 0);
}

#endif
