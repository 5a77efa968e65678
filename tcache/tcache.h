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

#include <string.h>

#include "arenas/sizeclass.h"

/* Bin cls is a stack of pointers in [full[cls], end): push moves head[cls]
 * down, pop moves it up; the end is fixed (tcache.c places the bins), full
 * moves down when the bin grows.  Comparing head against one precomputed mark
 * is each fast path's only bin test.  The fields are arrays indexed by class, not an array of structs: on
 * x86-64 every fast-path access is then one %fs-relative operand with the
 * class as a scaled index, and no bin address has to be computed. */
enum tcache_state { TCACHE_UNINIT = 0, TCACHE_ACTIVE, TCACHE_BYPASS };

/* A thread cache's part on the heap.  The counts: blocks the bins took from
 * the arenas and gave back; no fast path counts (a counter would cost the pair
 * one instruction), and thread.allocated and thread.deallocated follow from
 * them.  Then the bins' slots.  Only what the fast paths read stays in the TLS
 * object: glibc places static TLS on top of each thread's stack and a thread
 * that reuses a cached stack faults its top pages in again, so every KiB there
 * can cost each new thread one more page fault.  An exited thread's part
 * passes to the next thread whole. */
struct tcache_memory {
    uint64_t nrefilled[TCA_NCLASSES], nflushed[TCA_NCLASSES];
    uint64_t nrefilled_at_overflow[TCA_NCLASSES]; /* nrefilled when the bin last overflowed */
    void *slots[];
};

struct tcache {
    void **head[TCA_NCLASSES];      /* next block to hand out */
    void **low_water[TCA_NCLASSES]; /* [low_water, end) sat unused since the last GC step (end:
                                     * the bin was drained past the mark; pops trap once) */
    void **full[TCA_NCLASSES];      /* head at capacity: the stack's first slot */
    /* sizeclass_table's start_mul and start_mask, copied here so that free()'s
     * block-start test reads them %fs-relative like the bins (a global table
     * costs one more instruction for its address). */
    uint64_t start_mul[TCA_NCLASSES], start_mask[TCA_NCLASSES];
    struct tcache_memory *memory; /* NULL unless active */
    uint64_t uncached_allocated, uncached_deallocated; /* bytes: large, or no cache */
    uint8_t state;
    uint8_t registered;
    uint16_t gc_next_class;
    uint32_t slow_events;
    uint32_t flush_seq; /* odd while blocks leave the bins for their slabs (caches_hold waits) */
    struct tcache *next, *prev; /* the registry of live caches */
};

extern __thread struct tcache tcache_tls __attribute__((tls_model("initial-exec")));

/* The calling thread's cache as the fast paths see it.  In a shared library
 * an initial-exec TLS address costs a GOT load plus an add of the thread
 * pointer; addressing through %fs folds the add into every operand. */
#if defined(__x86_64__) && defined(__SEG_FS)
typedef __seg_fs struct tcache tcache_view;
TCA_INLINE tcache_view *tcache_self(void)
{
    uintptr_t offset;
    __asm__("movq tcache_tls@gottpoff(%%rip), %0" : "=r"(offset));
    return (tcache_view *)offset;
}
#else
typedef struct tcache tcache_view;
TCA_INLINE tcache_view *tcache_self(void) { return &tcache_tls; }
#endif

/* A miss of tcache_alloc: refills the bin (or serves a thread without a
 * cache) and hands out a block of size's class.  The allocator must be booted:
 * the entry layer boots it in the miss path it hands tcache_alloc.  Takes the
 * size, not the class: the class table reads 0 until bootstrap. */
void *tcache_alloc_slow(size_t size);
/* The same for calloc: the block comes cleared. */
void *tcache_alloc_slow_cleared(size_t size);
void tcache_free_slow(void *ptr, unsigned cls);
/* Aborts when ptr (class cls, being freed) is free already or no block start. */
void tcache_check_free(void *ptr, unsigned cls);
/* free()'s fast path pushed a pointer that is no block start onto bin cls:
 * aborts naming it. */
_Noreturn void tcache_free_not_block(unsigned cls);

/* Hides from the compiler that cache did not change, so that it folds the
 * class index into every access to a bin field (%fs:off(cache,cls,8))
 * instead of computing the bin's address once into a register, which costs
 * one more instruction on each fast path.  Emits nothing. */
#define TCACHE_FOLD_ADDRESSES(cache) __asm__("" : "+r"(cache))

/* cls = sizeclass_of(size), size ≤ TCA_SMALL_MAX (for an aligned request: the
 * class size).  A miss tail-calls miss(size), the caller's way to
 * tcache_alloc_slow(): the thread cache sits below bootstrap and never calls
 * up to it, so the entry layer boots the allocator there first. */
TCA_INLINE void *tcache_alloc(unsigned cls, size_t size, void *(*miss)(size_t size))
{
    tcache_view *cache = tcache_self();
    void **head = cache->head[cls];
    TCACHE_FOLD_ADDRESSES(cache);
    if (TCA_UNLIKELY(head == cache->low_water[cls]))
        return miss(size);
    TCACHE_FOLD_ADDRESSES(cache);
    cache->head[cls]++;
    void *block = *head;
    *block_mark(block) = 0;
    return block;
}

/* tcache_alloc for calloc: the block comes cleared (a miss's by miss, the
 * way to tcache_alloc_slow_cleared).  One that carries the fresh mark
 * (sizeclass.h) reads zero already once the pop clears its mark, so only the
 * others are written: a heap that grows into fresh pages is not written
 * twice, nor faulted in before the program touches it. */
TCA_INLINE void *tcache_alloc_cleared(unsigned cls, size_t size, void *(*miss)(size_t size))
{
    tcache_view *cache = tcache_self();
    void **head = cache->head[cls];
    bool hit = head != cache->low_water[cls];
    bool fresh = hit && block_is_fresh(*head);
    void *block = tcache_alloc(cls, size, miss); /* *head on a hit */
    if (hit && !fresh)
        memset(block, 0, size);
    return block;
}

/* cls: the block's class from the pagemap.  False when the block must take the
 * slow path: its bin is full, or cls is 0 (bin 0 is never set up: its head
 * and full both stay NULL), or the cache is not set up yet (every bin reads
 * NULL), or ptr carries the free mark.  A pointer into a block that is not
 * its start aborts at once (sizeclass.h has the arithmetic); the test comes
 * last, after the push, where it needs no copy of ptr: the process ends
 * there, so what the push did no longer matters. */
TCA_INLINE bool tcache_free(void *ptr, unsigned cls)
{
    tcache_view *cache = tcache_self();
    void **head = cache->head[cls];
    TCACHE_FOLD_ADDRESSES(cache);
    if (TCA_UNLIKELY(head == cache->full[cls] || block_mark_may_be_set(ptr)))
        return false;
#if TCA_CHECKED
    tcache_check_free(ptr, cls);
#endif
    *block_mark(ptr) = BLOCK_FREE_MARK;
    head[-1] = ptr;
    TCACHE_FOLD_ADDRESSES(cache);
    cache->head[cls]--;
    TCACHE_FOLD_ADDRESSES(cache);
    if (TCA_UNLIKELY(((uintptr_t)ptr * cache->start_mul[cls]) & cache->start_mask[cls]))
        tcache_free_not_block(cls);
    return true;
}

/* Blocks in bin cls of an active cache, and the bin's capacity now: it starts
 * at the class's tcache_cap and grows to tcache_cap_max while the thread's
 * frees overflow it; GC shrinks it again. */
unsigned tcache_bin_count(const struct tcache *cache, unsigned cls);
unsigned tcache_bin_capacity(const struct tcache *cache, unsigned cls);
/* Returns every cached block to the arenas: at thread exit through the
 * transfer caches, where the next thread finds them; to_slabs, past them, for
 * thread.tcache.flush and malloc_trim, after which statistics are exact. */
void tcache_flush_all(struct tcache *cache, bool to_slabs);
/* thread.allocated / thread.deallocated: the bytes of blocks this thread's
 * cache took from the arenas and gave back to them, and of the allocations
 * and frees that bypassed it (large blocks, a thread without a cache).  A
 * block recycled inside the cache counts once; cache is the caller's own. */
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
/* The same unless the caches' registry is locked (false), for the report at
 * exit: exit() may run in a signal handler that interrupted this very thread
 * while it held the lock. */
bool tcache_cached_bytes_try(size_t *bytes);
/* Called once during bootstrap; enabled false (the tcache option) leaves every
 * thread in bypass mode.  False when the thread-exit key cannot be had. */
bool tcache_boot(bool enabled);
void tcache_fork_prepare(void);
void tcache_fork_parent(void);
void tcache_fork_child(void);

#endif
