/* Per-CPU arenas.  Each owns one bin per size class: the slabs of that class
 * with free blocks, under the bin's lock.  Thread caches refill from the arena
 * of the CPU they run on and flush blocks back to whichever arena owns them.
 * Each also counts and caches its large runs (large.h). */
#ifndef TCA_ARENA_H
#define TCA_ARENA_H

#include <pthread.h>

#include "arenas/large.h"
#include "arenas/secure.h"
#include "arenas/sizeclass.h"
#include "arenas/topology.h"
#include "pageheap/os.h"
#include "pageheap/pageheap.h"

#define ARENA_MAX TOPOLOGY_MAX_ARENAS

/* A bin's counters, written under its lock, one cache line.  They live where
 * bootstrap puts them, in the statistics page (src/live.h) that a reader
 * outside the process maps: a change here changes that page's layout (bump
 * LIVE_LAYOUT_VERSION).  Blocks out are nmalloc - ndalloc. */
struct bin_counters {
    uint64_t ndalloc;         /* blocks given back (before nmalloc: a reader copying in
                               * address order never sees more given back than handed out) */
    uint64_t nmalloc;         /* blocks handed to thread caches (or straight to the program) */
    uint64_t nrefills, nflushes;
    uint64_t nslabs_made, curslabs;
    uint64_t spare_slabs;     /* wholly free slabs kept in the list (arena_spare_slabs()) */
    uint64_t lock_contended;  /* times the lock was found taken */
} __attribute__((aligned(TCA_CACHELINE)));

/* One arena's counters (bins[0] unused: class 0 is "not small"). */
struct arena_counters {
    struct bin_counters bins[TCA_NCLASSES];
    struct large_counters large;
};

struct arena_bin {
    pthread_mutex_t lock;
    struct span *nonfull;     /* slabs with a free block, most recently used first */
    struct bin_counters *counts;
    uint64_t ops_at_decay;    /* nmalloc + ndalloc at the last arenas_decay_spares() */
#if TCA_SECURE
    struct secure_quarantine quarantine; /* blocks of this bin's slabs freed lately */
#endif
} __attribute__((aligned(TCA_CACHELINE)));

struct arena {
    struct arena_bin bins[TCA_NCLASSES];
    unsigned index;
    struct large_runs large;
};

extern struct arena *arena_table[ARENA_MAX];
extern unsigned arena_count;

/* Sets the number of arenas (1..ARENA_MAX) and where arena i keeps its
 * counters (counters[i]); called once during bootstrap, before any arena is
 * used. */
void arenas_boot(unsigned narenas, struct arena_counters *counters);
/* Arena i, created on first use; NULL only when out of memory (then arena 0 is used). */
struct arena *arena_get(unsigned index);

/* The arena that owns a slab or a large run. */
TCA_INLINE struct arena *arena_of_span(const struct span *span) { return arena_table[span->arena_index]; }

TCA_INLINE struct arena *arena_current(void)
{
    unsigned index = topology_arena_of_cpu(os_current_cpu());
    struct arena *arena = __atomic_load_n(&arena_table[index], __ATOMIC_ACQUIRE);
    return TCA_LIKELY(arena != NULL) ? arena : arena_get(index);
}

/* Takes up to want blocks of class cls into out[], from the transfer cache
 * of the arena's node first (transfer.h), then from the arena's slabs (new
 * slabs come from the page heap); returns how many, 0 when out of memory. */
unsigned arena_refill(struct arena *arena, unsigned cls, void **out, unsigned want);
/* Wholly free slabs a bin keeps (about 128 KiB, at least two), so that a bin
 * that breathes around a slab boundary, or whose blocks one thread frees while
 * another allocates, does not give pages back and carve them again each time;
 * idle bins hand their spares back on decay. */
unsigned arena_spare_slabs(unsigned cls);
/* Returns n blocks of class cls to the slabs that own them, whatever arena that
 * is.  Aborts on a pointer that is no block of class cls or already free. */
void arena_flush(unsigned cls, void *const *blocks, unsigned n);

/* Thread caches' overflow: n blocks of class cls into the transfer cache of
 * the arena's node, what it cannot hold to the blocks' slabs (arena_flush). */
void arena_give_back(struct arena *arena, unsigned cls, void *const *blocks, unsigned n);

/* A copy of arena index's counters, each bin's taken under its lock (zero for
 * an arena not created yet): a consistent snapshot for the statistics. */
void arena_copy_counters(unsigned index, struct arena_counters *out);

/* Whether ptr, a block of class cls, is free in its slab (the slab's bin
 * locked for the look) or waits in a transfer cache.  Aborts on a pointer
 * that is no block of class cls. */
bool arena_block_is_free(const void *ptr, unsigned cls);

/* Page runs for sizes above TCA_SMALL_MAX or alignments above a page (see
 * large.h); a freed one may wait in the cache of the arena of the CPU that
 * freed it, which has its lines. */
void *arena_alloc_large(struct arena *arena, size_t size, size_t alignment, bool zero);
void arena_free_large(struct span *span);

/* Gives every wholly free slab of the arena's bins back to the page heap, then
 * purges the page heap (shared by all arenas) at once; returns the bytes
 * returned to the OS. */
size_t arena_purge(struct arena *arena);
/* The same for every arena, with one purge of the page heap. */
size_t arenas_purge(void);
/* The background thread's share: bins that saw no traffic since the last call
 * give their spare empty slabs back to the page heap, and arenas their cached
 * large runs. */
void arenas_decay_spares(void);

void arenas_fork_prepare(void);
void arenas_fork_parent(void);
void arenas_fork_child(void);

#endif
