/* The page heap: runs of pages (spans) carved from big mmap'd regions.  Free
 * spans coalesce with free neighbours at once, so a free span never touches
 * another free span.  One lock guards it all; it is the last lock in the order
 * (bin lock → arena lock → page heap lock), only the base allocator's comes after. */
#ifndef TCA_PAGEHEAP_H
#define TCA_PAGEHEAP_H

#include "common.h"
#include "sizeclass.h"

enum span_state { SPAN_FREE = 1, SPAN_LARGE, SPAN_SLAB };

struct arena;

struct span {
    uintptr_t start;
    size_t npages;
    struct span *next, *prev;  /* page heap free list, or the owning bin's slab list */
    uint8_t state;             /* enum span_state */
    uint8_t sizeclass;         /* slabs: block size class */
    uint8_t zeroed;            /* every byte of the span reads zero */
    uint8_t in_bin_list;       /* slabs: linked in the bin's list of non-full slabs */
    uint16_t nfree;            /* slabs: free blocks */
    struct arena *arena;       /* slabs: the arena whose bin owns it */
    uint64_t free_slots[TCA_SLAB_MAX_SLOTS / 64]; /* slabs: 1 = block free */
};

/* A span of npages pages whose start is aligned to align_pages pages (a power
 * of two, 1 for none).  sizeclass 0: a large span (SPAN_LARGE, first and last
 * pages in the pagemap); else a slab of that class (SPAN_SLAB, every page in
 * the pagemap with its class).  NULL when the OS has no memory left. */
struct span *pageheap_alloc_span(size_t npages, size_t align_pages, unsigned sizeclass);
/* Returns a large span or a slab (every page of a slab is unmapped from the
 * pagemap) to the heap, where it joins its free neighbours. */
void pageheap_free_span(struct span *span);

struct pageheap_stats {
    size_t mapped_bytes;   /* address space taken from the OS for spans */
    size_t free_bytes;     /* in free spans */
    size_t large_bytes;    /* in large spans */
    size_t slab_bytes;     /* in slabs */
};
void pageheap_read_stats(struct pageheap_stats *out);

void pageheap_fork_prepare(void);
void pageheap_fork_parent(void);
void pageheap_fork_child(void);
/* Checked builds: walks every free list and verifies the heap's invariants. */
void pageheap_check(void);

#endif
