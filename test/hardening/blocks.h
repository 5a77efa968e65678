/* What the hardening tests share: a small random generator and a content
 * pattern that depends on a seed and the byte's offset only, so a block keeps
 * its pattern when realloc moves it.  Large blocks are sampled, not walked. */
#ifndef TCA_HARDENING_BLOCKS_H
#define TCA_HARDENING_BLOCKS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

static inline uint64_t rng_next(uint64_t *state)
{
    /* splitmix64: any seed, zero included, gives a full-period stream. */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint8_t pattern_byte(uint64_t seed, size_t offset)
{
    return (uint8_t)((seed >> (offset % 8 * 8)) ^ (offset * 131));
}

/* Every byte of the first 4 KiB, then the first 64 bytes of each 4 KiB: the
 * same offsets whatever the size, so a prefix stays checkable after realloc,
 * and overlapping or stale blocks still change some of them. */
static inline size_t pattern_next_offset(size_t offset)
{
    offset++;
    return offset < 4096 || offset % 4096 < 64 ? offset : (offset | 4095) + 1;
}

static inline void pattern_write(void *block, size_t from, size_t size, uint64_t seed)
{
    for (size_t i = from; i < size; i = pattern_next_offset(i))
        ((uint8_t *)block)[i] = pattern_byte(seed, i);
}

/* False (after one line on stderr) when a sampled byte below size differs. */
static inline bool pattern_holds(const void *block, size_t size, uint64_t seed)
{
    for (size_t i = 0; i < size; i = pattern_next_offset(i)) {
        uint8_t byte = ((const uint8_t *)block)[i];
        if (byte != pattern_byte(seed, i)) {
            fprintf(stderr, "block %p (%zu bytes): byte %zu is 0x%02x, expected 0x%02x\n", block, size, i, byte,
                    pattern_byte(seed, i));
            return false;
        }
    }
    return true;
}

#endif
