#include "arenas/sizeclass.h"

#include <string.h>

uint8_t sizeclass_by_size[TCA_SMALL_MAX + 1];
uint8_t sizeclass_by_granule[TCA_SMALL_MAX / TCA_MIN_ALIGN + 1];
struct sizeclass_info sizeclass_table[TCA_NCLASSES];

/* The largest power of two dividing size. */
static uint32_t power_of_two_factor(uint32_t size) { return size & -size; }

/* Blocks of size bytes a slab of pages pages always holds: a slab starts on a
 * multiple of the size's power-of-two factor, so its first block lies at most
 * size - that factor past the start. */
static size_t slots_in(uint32_t size, uint32_t pages)
{
    size_t bytes = pages * TCA_PAGE_SIZE, before_first = size - power_of_two_factor(size);
    return bytes > before_first ? (bytes - before_first) / size : 0;
}

/* Fewest pages giving ≥ 8 blocks with ≤ 1/16 of the slab wasted: small slabs
 * keep memory local, and a slab never has more slots than its bitmap holds. */
static uint32_t slab_pages_for(uint32_t size)
{
    for (uint32_t pages = 1; pages <= 64; pages++) {
        size_t bytes = pages * TCA_PAGE_SIZE, slots = slots_in(size, pages);
        if (slots > TCA_SLAB_MAX_SLOTS)
            return pages > 1 ? pages - 1 : 1;
        if (slots >= 8 && (bytes - slots * size) * 16 <= bytes)
            return pages;
    }
    return 64;
}

/* The inverse of an odd number modulo 2^64 (Newton's iteration: each step
 * doubles the bits that are right, from 3 at the start). */
static uint64_t odd_inverse(uint64_t odd)
{
    uint64_t inverse = odd;
    for (int step = 0; step < 5; step++)
        inverse *= 2 - odd * inverse;
    return inverse;
}

static void sizeclass_set(unsigned cls, uint32_t size)
{
    struct sizeclass_info *info = &sizeclass_table[cls];
    uint32_t power = power_of_two_factor(size);
    info->size = size;
    info->slab_pages = slab_pages_for(size);
    info->slab_align_pages = power > TCA_PAGE_SIZE ? power / TCA_PAGE_SIZE : 1;
    size_t slots = slots_in(size, info->slab_pages);
    info->nslots = (uint32_t)(slots > TCA_SLAB_MAX_SLOTS ? TCA_SLAB_MAX_SLOTS : slots);
    info->div_magic = (uint32_t)(((uint64_t)1 << 32) / size + 1);
    info->start_mul = odd_inverse(size / power);
    info->start_mask = ~(((uint64_t)1 << 47) - 1) | (power - 1);
    /* Cache about 64 KiB per class (8 to 512 blocks), growing to 512 KiB
     * (8 to 8192 blocks) in a thread that recycles bigger batches. */
    uint32_t cap = 65536 / size, cap_max = 8 * cap;
    info->tcache_cap = (uint16_t)(cap < 8 ? 8 : cap > 512 ? 512 : cap);
    info->tcache_cap_max = (uint16_t)(cap_max < 8 ? 8 : cap_max > 8192 ? 8192 : cap_max);
}

void sizeclass_init(void)
{
    unsigned cls = 1;
    for (uint32_t size = 16; size <= 128; size += 16)
        sizeclass_set(cls++, size);
    for (uint32_t group = 128; group < TCA_SMALL_MAX; group *= 2) {
        uint32_t steps = group < 1024 ? 8 : 4; /* classes in [group, 2 * group) */
        for (uint32_t step = 1; step <= steps; step++)
            sizeclass_set(cls++, group + group / steps * step);
    }

    size_t first = 0;
    for (unsigned target = 1; target < TCA_NCLASSES; target++) {
        size_t last = sizeclass_table[target].size / TCA_MIN_ALIGN;
        memset(&sizeclass_by_granule[first], (int)target, last - first + 1);
        first = last + 1;
    }
}

/* Relaxed atomic byte stores, not memset: malloc's fast path reads these
 * entries meanwhile (sizeclass_for_fast_path), and both sides of that race
 * must be atomic for it to be defined.  Each entry is written once per class
 * fill or profiler start, so the plain byte loop costs nothing measurable. */
static void routes_store(size_t first, size_t last, uint8_t value)
{
    for (size_t size = first; size <= last; size++)
        __atomic_store_n(&sizeclass_by_size[size], value, __ATOMIC_RELAXED);
}

static void route_set(unsigned cls, uint8_t value)
{
    size_t first = cls > 1 ? sizeclass_table[cls - 1].size + 1 : 0;
    routes_store(first, sizeclass_table[cls].size, value);
}

/* The flag's read is a read-modify-write (false to false), so that the
 * profiler's exchange that sets it later reads from it: the fill then happens
 * before the clear that follows the exchange.  Or it reads true, and the run
 * is emptied again here. */
void sizeclass_route_fill(size_t size, bool *sampling_flag)
{
    unsigned cls = sizeclass_of(size);
    route_set(cls, (uint8_t)cls);
    bool off = false;
    if (!__atomic_compare_exchange_n(sampling_flag, &off, false, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        route_set(cls, 0);
}

/* A reader meanwhile sees each entry old or new, both valid. */
void sizeclass_routes_clear(void) { routes_store(0, TCA_SMALL_MAX, 0); }

unsigned sizeclass_for_aligned(size_t size, size_t alignment)
{
    if (size > TCA_SMALL_MAX || alignment > TCA_PAGE_SIZE)
        return 0;
    /* Blocks start on multiples of their size, so a class whose size is a
     * multiple of the alignment has every block aligned; power-of-two classes
     * always come. */
    for (unsigned cls = sizeclass_of(tca_align_up(size ? size : 1, alignment)); cls < TCA_NCLASSES; cls++)
        if (sizeclass_table[cls].size % alignment == 0)
            return cls;
    return 0;
}
