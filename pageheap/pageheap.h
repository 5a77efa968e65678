/* The page heap: runs of pages (spans) carved from big mmap'd regions.  Free
 * spans are dirty (their pages may be resident) or returned (given back with
 * madvise: they cost no RSS and read zero); a free span coalesces at once with
 * free neighbours of its own kind, so no two such spans ever touch.  Dirty
 * pages go back to the OS along a decay curve (see pageheap.c).
 *
 * One heap per NUMA node (PAGEHEAP_NODES of them, node ids beyond share
 * heap node % PAGEHEAP_NODES), each with its own regions, free lists, decay
 * and lock; a single-node machine only ever uses heap 0.  A span belongs to the
 * heap it was carved from and goes back there whoever frees it.  A heap's lock
 * is the last in the order (bin lock → arena lock → one node heap's lock), only
 * the base allocator's comes after; nobody holds two heaps' locks but fork. */
#ifndef TCA_PAGEHEAP_H
#define TCA_PAGEHEAP_H

#define PAGEHEAP_NODES 64

#include "pageheap/common.h"
#include "arenas/sizeclass.h"

/* SPAN_PURGING: taken off the free lists while madvise runs without the lock. */
enum span_state { SPAN_FREE = 1, SPAN_LARGE, SPAN_SLAB, SPAN_PURGING };

struct arena;

struct span {
    uintptr_t start;
    size_t npages;
    struct span *next, *prev;  /* page heap free list, or the owning bin's slab list */
    struct span *lru_next, *lru_prev; /* dirty free spans: the decay order; purging: in-flight list */
    uint8_t state;             /* enum span_state */
    uint8_t sizeclass;         /* slabs: block size class */
    uint8_t zeroed;            /* every byte of the span reads zero; for a free span:
                                * returned to the OS (else dirty) */
    uint8_t in_bin_list;       /* slabs: linked in the bin's list of non-full slabs */
    uint16_t nfree;            /* slabs: free blocks */
    uint8_t large_cached;      /* large runs: freed, waiting in an arena's cache (the page
                                * heap counts it in use and never reads this) */
    uint16_t node;             /* the node heap it belongs to; fixed for the struct's life */
    struct arena *arena;       /* slabs: the arena whose bin owns it */
    uint64_t free_slots[TCA_SLAB_MAX_SLOTS / 64]; /* slabs: 1 = block free */
};

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

/* A span of npages pages whose start is aligned to align_pages pages (a power
 * of two, 1 for none).  sizeclass 0: a large span (SPAN_LARGE, first and last
 * pages in the pagemap); else a slab of that class (SPAN_SLAB, every page in
 * the pagemap with its class).  Dirty pages are reused before returned ones.
 * NULL when the OS has no memory left. */
struct span *pageheap_alloc_span_on_node(size_t npages, size_t align_pages, unsigned sizeclass, int node);
/* node ≥ 0: from that node's heap, whose new regions are bound to the node
 * (mbind, MPOL_PREFERRED); -1: no placement wanted, heap 0, nothing bound. */
static inline struct span *pageheap_alloc_span(size_t npages, size_t align_pages, unsigned sizeclass)
{
    return pageheap_alloc_span_on_node(npages, align_pages, sizeclass, -1);
}
/* Returns a large span or a slab (every page of a slab is unmapped from the
 * pagemap) to its node's heap as dirty pages, where it joins its dirty neighbours. */
void pageheap_free_span(struct span *span);
/* The same for a span whose pages sat unused for about a decay time already
 * (an idle bin's spare slab): it gets no fresh allowance, so the next purge
 * returns it. */
void pageheap_free_idle_span(struct span *span);

/* Returns dirty pages to the OS now: all of them (all), or those the decay
 * curve says are due.  Returns the bytes returned. */
size_t pageheap_purge(bool all);
/* Decay time in ms: dirty pages idle about this long go back to the OS; 0 at
 * once, -1 never.  Starts as the decay_ms option; writable at run time. */
void pageheap_set_decay_ms(long ms);
long pageheap_decay_ms(void);

/* The background purge thread (src/background.c).  claim() is true for the
 * one caller that should create it. */
bool pageheap_background_claim(void);
/* The thread's body: purges what is due, sleeps until the next step (or until
 * dirty pages appear), and again, forever. */
void pageheap_background_step(void);

struct pageheap_stats {
    size_t mapped_bytes;   /* address space taken from the OS for spans */
    size_t free_bytes;     /* in free spans: dirty_bytes + returned_bytes */
    size_t dirty_bytes;    /* free and possibly resident */
    size_t returned_bytes; /* free and given back to the OS (or never touched) */
    size_t large_bytes;    /* in large spans */
    size_t slab_bytes;     /* in slabs */
};
/* The sums over every node's heap. */
void pageheap_read_stats(struct pageheap_stats *out);
/* One node's heap (node % PAGEHEAP_NODES). */
void pageheap_read_node_stats(unsigned node, struct pageheap_stats *out);

void pageheap_fork_prepare(void);
void pageheap_fork_parent(void);
/* The child has no background thread: it is started again when wanted. */
void pageheap_fork_child(void);
/* Checked builds: walks every node heap's free lists and verifies their
 * invariants (no thread may be using the heap meanwhile). */
void pageheap_check(void);

#endif
