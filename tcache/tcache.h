/* Thread caches: per size class, a stack of free blocks owned by one thread.
 * A hit is a few instructions: no lock, no atomic, no system call.
 *
 * The cache is a static initial-exec TLS object, not a pointer: a thread that
 * never allocated has an all-zero cache whose every bin looks empty and full
 * at once (head == low_water == full == NULL), so both fast paths fall into
 * the slow path, which sets it up.  A torn-down cache (thread exit) is zero
 * again and its slow paths go straight to the arena. */
#ifndef TCA_TCACHE_H
#define TCA_TCACHE_H

#include "src/sizeclass.h"

/* A bin is a stack of pointers in [head, end): push moves head down, pop up.
 * Comparing head against one precomputed mark is each fast path's only test. */
struct tcache_bin {
    void **head;        /* next block to hand out */
    void **low_water;   /* highest head since the last GC: [low_water, end) sat unused */
    void **full;        /* head at capacity: the stack's first slot (the next bin's stack
                         * starts where this one ends, so the end needs no field) */
    uint64_t nmalloc;   /* blocks handed out: the one counter on a fast path */
};

enum tcache_state { TCACHE_UNINIT = 0, TCACHE_ACTIVE, TCACHE_BYPASS };

struct tcache {
    struct tcache_bin bins[TCA_NCLASSES];
    void **slots_end;           /* end of the last bin's stack */
    /* Slow-path counts from which thread.allocated and thread.deallocated follow. */
    uint64_t nrefilled[TCA_NCLASSES], nflushed[TCA_NCLASSES];
    uint64_t uncached_allocated, uncached_deallocated; /* bytes: large, or no cache */
    uint8_t state;
    uint8_t registered;
    uint16_t gc_next_class;
    uint32_t slow_events;
    void **slot_memory;
    struct tcache *next, *prev; /* the registry of live caches */
};

extern __thread struct tcache tcache_tls __attribute__((tls_model("initial-exec")));

/* Takes the size, not the class: the class table reads 0 until bootstrap. */
void *tcache_alloc_slow(size_t size);
void tcache_free_slow(void *ptr, unsigned cls);
#if TCA_CHECKED
void tcache_check_free(struct tcache_bin *bin, void *ptr, unsigned cls);
#endif

/* cls = sizeclass_of(size), size ≤ TCA_SMALL_MAX (for an aligned request: the
 * class size) */
TCA_INLINE void *tcache_alloc(unsigned cls, size_t size)
{
    struct tcache_bin *bin = &tcache_tls.bins[cls];
    void **head = bin->head;
    if (TCA_LIKELY(head != bin->low_water)) {
        bin->head = head + 1;
        bin->nmalloc++;
        return *head;
    }
    return tcache_alloc_slow(size);
}

/* cls: the block's class from the pagemap, non-zero */
TCA_INLINE void tcache_free(void *ptr, unsigned cls)
{
    struct tcache_bin *bin = &tcache_tls.bins[cls];
    void **head = bin->head;
#if TCA_CHECKED
    tcache_check_free(bin, ptr, cls);
#endif
    if (TCA_LIKELY(head != bin->full)) {
        *--head = ptr;
        bin->head = head;
        return;
    }
    tcache_free_slow(ptr, cls);
}

/* Returns every cached block to the arenas (thread.tcache.flush, thread exit). */
void tcache_flush_all(struct tcache *cache);
/* Bytes this thread has allocated and freed (thread.allocated / thread.deallocated);
 * cache is the caller's own. */
uint64_t tcache_thread_allocated(const struct tcache *cache);
uint64_t tcache_thread_deallocated(const struct tcache *cache);
/* Large blocks and frees that bypass the bins are counted here. */
TCA_INLINE void tcache_count_uncached(size_t allocated, size_t deallocated)
{
    tcache_tls.uncached_allocated += allocated;
    tcache_tls.uncached_deallocated += deallocated;
}
/* Bytes in every live thread's cache (a racy sum: each count is exact alone). */
size_t tcache_cached_bytes(void);
/* Called once during bootstrap. */
bool tcache_boot(void);
void tcache_fork_prepare(void);
void tcache_fork_parent(void);
void tcache_fork_child(void);

#endif
