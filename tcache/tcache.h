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
    void **full;        /* head at capacity (the stack's first slot) */
    void **end;         /* head when empty */
};

enum tcache_state { TCACHE_UNINIT = 0, TCACHE_ACTIVE, TCACHE_BYPASS };

struct tcache {
    struct tcache_bin bins[TCA_NCLASSES];
    uint8_t state;
    uint8_t registered;
    uint16_t gc_next_class;
    uint32_t slow_events;
    void **slot_memory;
    struct tcache *next, *prev; /* the registry of live caches */
};

extern __thread struct tcache tcache_tls __attribute__((tls_model("initial-exec")));

/* cls is 0 before bootstrap; size then gives the class. */
void *tcache_alloc_slow(unsigned cls, size_t size);
void tcache_free_slow(void *ptr, unsigned cls);
#if TCA_CHECKED
void tcache_check_free(struct tcache_bin *bin, void *ptr, unsigned cls);
#endif

/* cls = sizeclass_of(size), size ≤ TCA_SMALL_MAX */
TCA_INLINE void *tcache_alloc(unsigned cls, size_t size)
{
    struct tcache_bin *bin = &tcache_tls.bins[cls];
    void **head = bin->head;
    if (TCA_LIKELY(head != bin->low_water)) {
        bin->head = head + 1;
        return *head;
    }
    return tcache_alloc_slow(cls, size);
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
/* Bytes in every live thread's cache (a racy sum: each count is exact alone). */
size_t tcache_cached_bytes(void);
/* Called once during bootstrap. */
bool tcache_boot(void);
void tcache_fork_prepare(void);
void tcache_fork_parent(void);
void tcache_fork_child(void);

#endif
