/* Size classes: 16-byte steps up to 128 B, eight classes per power of two
 * (spacing ≤ 12.5%) up to 1 KiB, then four (≤ 25%) up to 32 KiB.  Class 0 is
 * "not a small size".  Most of a program's bytes are in blocks under 1 KiB,
 * where rounding up costs memory and fresh pages: jq's nodes of 272 and 392
 * bytes fill blocks of 288 and 416 (6% lost) rather than 320 and 448 (15%
 * and 12%), and its peak RSS over an 8 MiB document drops from 155 to
 * 144 MiB.  Eight classes per doubling up to 8 or 32 KiB saved sqlite 2 MiB
 * but cost python as much: a program's medium blocks then spread over more
 * partly used slabs, each up to 56 pages.
 *
 * Every block starts at an address that is a multiple of its size (a slab's
 * first block sits at the first such address in it), so that whether a
 * pointer is a block start follows from the pointer and its class alone:
 * free() tells an interior pointer from a block in three instructions
 * (sizeclass_is_block_start).  A size is m * 2^t with m odd (1 to 15);
 * p is a multiple of it when p * m^-1 (mod 2^64) is a multiple of 2^t below
 * 2^47: for p < 2^47 (every user address) that product is p / m when m
 * divides p, and at least 2^64 / m > 2^60 when it does not. */
#ifndef TCA_SIZECLASS_H
#define TCA_SIZECLASS_H

#include "pageheap/span.h"

#define TCA_NCLASSES 53 /* classes 1..52, class 0 unused */
#define TCA_SMALL_MAX ((size_t)32768)
#define TCA_SLAB_MAX_SLOTS 512
_Static_assert(TCA_SLAB_MAX_SLOTS <= SPAN_MAX_SLOTS, "a slab's blocks must fit its span's bitmap");

struct sizeclass_info {
    uint32_t size;        /* bytes per block */
    uint32_t slab_pages;  /* pages per slab */
    uint32_t slab_align_pages; /* a slab starts on a multiple of this many pages: the
                                * size's power-of-two factor, when it exceeds a page */
    uint32_t nslots;      /* blocks per slab, ≤ TCA_SLAB_MAX_SLOTS, whatever room the
                           * first block's alignment takes at the slab's start */
    uint32_t div_magic;   /* offset * div_magic >> 32 == offset / size for block starts */
    uint64_t start_mul;   /* the size's odd factor's inverse mod 2^64 */
    uint64_t start_mask;  /* bits of address * start_mul that are 0 for a block start */
    uint16_t tcache_cap;     /* blocks a thread cache keeps at first */
    uint16_t tcache_cap_max; /* what the bin grows to for a thread that frees in bursts */
};

/* size → class for size ≤ TCA_SMALL_MAX, indexed by the size itself: one load,
 * no shift, no division.  Only malloc's fast path reads it, and it may read 0,
 * which the thread cache treats as a miss: every entry starts 0 and a class's
 * run of entries is filled at its first miss (sizeclass_route_fill), so that
 * start-up writes none of its 32 KiB and a program touches the pages of the
 * sizes it uses only; the heap profiler empties it while it samples
 * (sizeclass_routes_clear), so that every small malloc reaches the entry
 * layer's miss path without a test of its own on the fast path.  Everyone
 * else asks sizeclass_of(). */
extern uint8_t sizeclass_by_size[TCA_SMALL_MAX + 1];
/* size → class by 16-byte granule ((size + 15) >> 4): every class size is a
 * multiple of 16, so the granule decides the class; never emptied. */
extern uint8_t sizeclass_by_granule[TCA_SMALL_MAX / TCA_MIN_ALIGN + 1];
extern struct sizeclass_info sizeclass_table[TCA_NCLASSES];

/* Relaxed atomic: a thread may look a size up while another one fills or
 * empties the table (a benign race: each entry reads 0 or the class, and 0
 * is a miss). */
TCA_INLINE unsigned sizeclass_for_fast_path(size_t size)
{
    return __atomic_load_n(&sizeclass_by_size[size], __ATOMIC_RELAXED);
}
/* The class of size ≤ TCA_SMALL_MAX (after sizeclass_init). */
TCA_INLINE unsigned sizeclass_of(size_t size) { return sizeclass_by_granule[(size + TCA_MIN_ALIGN - 1) / TCA_MIN_ALIGN]; }
TCA_INLINE size_t sizeclass_size(unsigned cls) { return sizeclass_table[cls].size; }

/* Whether addr, in a slab of class cls, is where a block starts. */
TCA_INLINE bool sizeclass_is_block_start(unsigned cls, uintptr_t addr)
{
    return ((addr * sizeclass_table[cls].start_mul) & sizeclass_table[cls].start_mask) == 0;
}

/* Where a slab of class cls starting at slab_start has its first block. */
TCA_INLINE uintptr_t sizeclass_first_block(unsigned cls, uintptr_t slab_start)
{
    size_t size = sizeclass_table[cls].size;
    return slab_start + (size - slab_start % size) % size;
}

/* Block index of a byte offset from a slab's first block; UINT32_MAX if it is not a block start. */
TCA_INLINE uint32_t sizeclass_slot_of_offset(unsigned cls, size_t offset)
{
    const struct sizeclass_info *info = &sizeclass_table[cls];
    uint32_t slot = (uint32_t)(((uint64_t)offset * info->div_magic) >> 32);
    return (size_t)slot * info->size == offset ? slot : UINT32_MAX;
}

/* A free block carries a mark in its first 4 bytes: put there when the
 * block is freed (or, never handed out yet, when a refill takes it from its
 * slab) and cleared when it is handed out, so a free that finds it is most
 * likely a double free, whatever the block's place in the caches, and takes
 * the slow path to be sure (program data that happens to match only costs
 * that check).  The first bytes are those a program has most likely just
 * touched (a node's next pointer): there the mark's load and stores cost
 * nothing measurable, where bytes 8..11 cost 3-5% on fastpath and bintree.
 * glibc, tcmalloc and mimalloc overwrite a freed block's first word too.
 *
 * A block never handed out from a slab whose pages read zero carries the
 * fresh mark instead: every other byte of it is still zero, so calloc need
 * not clear it.  Only the allocator writes either mark into a free block (a
 * free overwrites whatever the program left), so data cannot fake
 * freshness.  The two marks share their low 16 bits, which is all free()'s
 * fast path compares (in one instruction, as the whole word would be). */
#define BLOCK_FREE_MARK 0x7ca3e51du
#define BLOCK_FRESH_MARK 0x7ca4e51du
_Static_assert((BLOCK_FREE_MARK & 0xffff) == (BLOCK_FRESH_MARK & 0xffff), "free() tests the low 16 bits");
/* aligned(1): free() reads it before it knows ptr is a block start */
typedef uint32_t __attribute__((may_alias, aligned(1))) block_mark_word;
typedef uint16_t __attribute__((may_alias, aligned(1))) block_mark_low_bits;

TCA_INLINE block_mark_word *block_mark(void *block) { return (block_mark_word *)block; }
/* Whether block may carry either mark: the fast path's test. */
TCA_INLINE bool block_mark_may_be_set(const void *block)
{
    const char *low_bits = (const char *)block + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 2 : 0);
    return *(const block_mark_low_bits *)low_bits == (uint16_t)BLOCK_FREE_MARK;
}
/* Whether block, free and never handed out, reads zero but for its mark, so
 * that calloc need not clear it.  The secure build marks no block before it
 * hands it out (its slabs hand out random slots), so there the first word is
 * whatever a program left in reused pages: no block counts as fresh. */
TCA_INLINE bool block_is_fresh(const void *block)
{
    return !TCA_SECURE && *(const block_mark_word *)block == BLOCK_FRESH_MARK;
}
TCA_INLINE bool block_mark_is_set(const void *block)
{
    uint32_t mark = *(const block_mark_word *)block;
    return mark == BLOCK_FREE_MARK || mark == BLOCK_FRESH_MARK;
}

/* Smallest class whose blocks all satisfy alignment (≤ TCA_PAGE_SIZE) and hold size; 0 if none. */
unsigned sizeclass_for_aligned(size_t size, size_t alignment);
void sizeclass_init(void);
/* Fills the entries of sizeclass_by_size of size's class (a miss path's
 * call, size ≤ TCA_SMALL_MAX); undone if sampling_flag is set, so that a
 * clear that races with it wins. */
void sizeclass_route_fill(size_t size, bool *sampling_flag);
/* Every entry of sizeclass_by_size reads 0: every small malloc misses. */
void sizeclass_routes_clear(void);

#endif
