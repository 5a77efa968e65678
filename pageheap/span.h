/* A span: a run of pages of one node heap, free, or handed out as a large
 * block or a slab.  The page heap owns the record; the fields marked "slabs"
 * and "large runs" are the arenas', which the page heap neither reads nor
 * writes (it zeroes a record only when it recycles it). */
#ifndef TCA_SPAN_H
#define TCA_SPAN_H

#include "pageheap/common.h"
#include "pageheap/pagemap.h"

/* Blocks a slab's bitmap can track; the size classes fit their slabs to it. */
#define SPAN_MAX_SLOTS 512

/* SPAN_PURGING: taken off the free lists while madvise runs without the lock. */
enum span_state { SPAN_FREE = 1, SPAN_LARGE, SPAN_SLAB, SPAN_PURGING };

struct span {
    uintptr_t start;
    size_t npages;
    struct span *next, *prev;  /* page heap free list, or the owning bin's slab list */
    struct span *lru_next, *lru_prev; /* dirty free spans: the decay order; purging: in-flight list */
    uint8_t state;             /* enum span_state */
    uint8_t sizeclass;         /* slabs: block size class */
    uint8_t zeroed;            /* every byte of the span reads zero; for a free span:
                                * returned to the OS (else dirty); for a slab: it did
                                * when the slab was made (its untouched blocks still do) */
    uint8_t in_bin_list;       /* slabs: linked in the bin's list of non-full slabs */
    uint16_t nfree;            /* slabs: free blocks */
    uint8_t large_cached;      /* large runs: freed, waiting in an arena's cache (the page
                                * heap counts it in use and never reads this) */
    uint8_t sampled;           /* large runs: a block the heap profiler sampled; for a small
                                * one, 1 + the class it stands for, else 1 (page heap: unread) */
    uint16_t node;             /* the node heap it belongs to; fixed for the struct's life */
    uint16_t arena_index;      /* slabs and large runs: the arena that owns it */
    uint16_t untouched_slot;   /* slabs: the blocks from this slot on were never handed out */
    uintptr_t blocks;          /* slabs: where the first block starts */
    uint64_t free_slots[SPAN_MAX_SLOTS / 64]; /* slabs: 1 = block free */
};

TCA_INLINE uintptr_t span_end(const struct span *span) { return span->start + (span->npages << TCA_PAGE_SHIFT); }

TCA_INLINE uintptr_t span_last_page(const struct span *span) { return span_end(span) - TCA_PAGE_SIZE; }

/* The spans whose last page is just before span, and whose first page is just
 * after it, when the pagemap has them (see pageheap.c); else NULL. */
TCA_INLINE struct span *span_before(const struct span *span)
{
    return span->start >= TCA_PAGE_SIZE ? pagemap_span_of((void *)(span->start - TCA_PAGE_SIZE)) : NULL;
}

TCA_INLINE struct span *span_after(const struct span *span) { return pagemap_span_of((void *)span_end(span)); }

/* Whether neighbour is a free span of node's heap, dirty or returned.  Regions
 * of two heaps may touch: node is checked first, as the rest of another heap's
 * span may be changing under its own lock. */
TCA_INLINE bool span_free_in_heap(const struct span *neighbour, uint16_t node)
{
    return neighbour && neighbour->node == node && neighbour->state == SPAN_FREE;
}
/* The same, of the kind given (zeroed: returned). */
TCA_INLINE bool span_free_of_kind(const struct span *neighbour, uint16_t node, uint8_t zeroed)
{
    return span_free_in_heap(neighbour, node) && neighbour->zeroed == zeroed;
}

/* Doubly linked lists of spans through next and prev: the page heap's free
 * lists and the arenas' lists of slabs with free blocks. */
TCA_INLINE void span_list_push(struct span **list, struct span *span)
{
    span->prev = NULL;
    span->next = *list;
    if (*list)
        (*list)->prev = span;
    *list = span;
}

TCA_INLINE void span_list_remove(struct span **list, struct span *span)
{
    if (span->prev)
        span->prev->next = span->next;
    else
        *list = span->next;
    if (span->next)
        span->next->prev = span->prev;
    span->next = span->prev = NULL;
}

/* Chains with both ends through lru_next and lru_prev: a heap's dirty spans
 * in the order they were freed, and the spans it is purging. */
struct span_chain {
    struct span *head, *tail;
};

/* after: the span to follow, NULL for the head. */
TCA_INLINE void span_chain_insert_after(struct span_chain *chain, struct span *after, struct span *span)
{
    span->lru_prev = after;
    span->lru_next = after ? after->lru_next : chain->head;
    if (span->lru_next)
        span->lru_next->lru_prev = span;
    else
        chain->tail = span;
    if (after)
        after->lru_next = span;
    else
        chain->head = span;
}

TCA_INLINE void span_chain_remove(struct span_chain *chain, struct span *span)
{
    if (span->lru_prev)
        span->lru_prev->lru_next = span->lru_next;
    else
        chain->head = span->lru_next;
    if (span->lru_next)
        span->lru_next->lru_prev = span->lru_prev;
    else
        chain->tail = span->lru_prev;
    span->lru_next = span->lru_prev = NULL;
}

#endif
