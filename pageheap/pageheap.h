/* The page heap: runs of pages (spans) carved from big mmap'd regions.  Free
 * spans are dirty (their pages may be resident) or returned (given back with
 * madvise: they cost no RSS and read zero); a free span coalesces at once with
 * free neighbours of its own kind, so no two such spans ever touch.  Dirty
 * pages go back to the OS along a decay curve (decay.h).
 *
 * One heap per NUMA node (PAGEHEAP_NODES of them, node ids beyond share
 * heap node % PAGEHEAP_NODES), each with its own regions, free lists, decay
 * and lock; a single-node machine only ever uses heap 0.  A span belongs to the
 * heap it was carved from and goes back there whoever frees it.  A heap's lock
 * comes after the arenas' bin locks; only the metadata allocator's comes after
 * it, and nobody holds two heaps' locks but fork. */
#ifndef TCA_PAGEHEAP_H
#define TCA_PAGEHEAP_H

#define PAGEHEAP_NODES 64

#include "pageheap/common.h"
#include "pageheap/span.h"

/* Transparent huge pages on the heap's regions: the system's setting, asked
 * for (MADV_HUGEPAGE) or forbidden (MADV_NOHUGEPAGE). */
enum thp_mode { THP_DEFAULT, THP_ALWAYS, THP_NEVER };

/* One node heap's counters, written under its lock.  Like every counter of
 * the allocator they live where bootstrap puts them, in the statistics page
 * (src/live.h) that a reader outside the process maps: a change here changes
 * that page's layout (bump LIVE_LAYOUT_VERSION). */
struct heap_counters {
    uint64_t mapped_bytes;              /* address space taken from the OS for spans */
    uint64_t large_pages, slab_pages;   /* in spans handed out */
    uint64_t dirty_pages;               /* in free spans, possibly resident (freelists.c) */
    uint64_t returned_pages;            /* in free spans given back, or never touched (freelists.c) */
    uint64_t purging_pages;             /* dirty pages being returned, the lock dropped */
} __attribute__((aligned(TCA_CACHELINE)));

/* The page layer's counters: every node heap's, and the metadata's. */
struct pageheap_counters {
    uint64_t metadata_bytes; /* the metadata allocator's chunks (base.c) */
    uint64_t pagemap_bytes;  /* pagemap leaves (pagemap.c) */
    struct heap_counters heaps[PAGEHEAP_NODES] __attribute__((aligned(TCA_CACHELINE)));
};

/* The settings the options give, and the storage for the counters, once
 * during bootstrap, before any span is allocated: huge pages, and the decay
 * time (see decay.h). */
void pageheap_boot(enum thp_mode thp, long decay_ms, struct pageheap_counters *counters);

/* A span of npages pages whose start is aligned to align_pages pages (a power
 * of two, 1 for none).  sizeclass 0: a large span (SPAN_LARGE, first and last
 * pages in the pagemap); else a slab of that class (SPAN_SLAB, every page in
 * the pagemap with its class).  Dirty pages are reused before returned ones.
 * node ≥ 0: from that node's heap, whose new regions are bound to the node
 * (mbind, MPOL_PREFERRED); -1: no placement wanted, heap 0, nothing bound.
 * NULL when the OS has no memory left. */
struct span *pageheap_alloc_span(size_t npages, size_t align_pages, unsigned sizeclass, int node);
/* Returns a large span or a slab (every page of a slab is unmapped from the
 * pagemap) to its node's heap as dirty pages, where it joins its dirty neighbours. */
void pageheap_free_span(struct span *span);
/* The same for a span whose pages sat unused for about a decay time already
 * (an idle bin's spare slab): it gets no fresh allowance, so the next purge
 * returns it. */
void pageheap_free_idle_span(struct span *span);
/* [start, end) of a slab, about to be written for the first time: where the
 * heap is in small pages, its pages are faulted in by one system call rather
 * than one fault each. */
void pageheap_prefault(uintptr_t start, uintptr_t end);

/* Returns dirty pages to the OS now: all of them (all), or those the decay
 * curve says are due.  Returns the bytes returned. */
size_t pageheap_purge(bool all);
/* Whether the decay and the dirty cap return whole huge pages first (dirty
 * holes between live blocks stay until they grow into one, frees go quiet,
 * dirty pages pass four times the cap, or pageheap_purge(true)): unless huge
 * pages are off, by the thp option or the kernel's mode.  Else they return
 * pages least recently freed first. */
bool pageheap_returns_huge_pages(void);
/* Changes the decay time (decay_ms() reads it) for what is dirty now and
 * later; 0 returns every dirty page at once. */
void pageheap_set_decay_ms(long ms);

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
/* Adds one node heap's counters to out: the one place they become bytes, for
 * the process itself (pageheap_read_stats) and for a reader of the page. */
TCA_INLINE void pageheap_stats_add(struct pageheap_stats *out, const struct heap_counters *heap)
{
    size_t dirty_pages = heap->dirty_pages + heap->purging_pages;
    out->mapped_bytes += heap->mapped_bytes;
    out->dirty_bytes += dirty_pages << TCA_PAGE_SHIFT;
    out->returned_bytes += heap->returned_pages << TCA_PAGE_SHIFT;
    out->free_bytes += (dirty_pages + heap->returned_pages) << TCA_PAGE_SHIFT;
    out->large_bytes += heap->large_pages << TCA_PAGE_SHIFT;
    out->slab_bytes += heap->slab_pages << TCA_PAGE_SHIFT;
}
/* The sums over every node's heap, each read under its lock. */
void pageheap_read_stats(struct pageheap_stats *out);

void pageheap_fork_prepare(void);
void pageheap_fork_parent(void);
/* The child has no background thread: it is started again when wanted. */
void pageheap_fork_child(void);

#endif
