/* Large runs: blocks above the small classes (or aligned beyond a page) are
 * page runs straight from the page heap, counted per arena with atomics (they
 * take no bin lock).  Each arena also keeps a small cache of runs freed on its
 * CPU lately, newest last: the next large allocation of about their size on
 * that CPU takes one back, its lines still in the CPU's cache, where a run
 * freed on one CPU and carved for another makes the second fetch every line
 * from the first (two threads of the mixed benchmark took twice one thread's
 * time for it).  Cached runs are dirty memory: counted in the arena's dirty
 * bytes, given back by purges and by decay.  The cache's lock is never held
 * with another. */
#ifndef TCA_LARGE_H
#define TCA_LARGE_H

#include <pthread.h>

#include "pageheap/pageheap.h"

/* Runs of at most this many pages wait in a cache, up to this many spans and bytes. */
#define LARGE_CACHE_MAX_PAGES 128
#define LARGE_CACHE_SPANS 16
#define LARGE_CACHE_BYTES ((size_t)4 << 20)

/* One arena's large-run counters, in the statistics page (see struct
 * arena_counters). */
struct large_counters {
    uint64_t nmalloc, ndalloc, allocated_bytes; /* atomics */
    uint64_t cached_bytes;                      /* in the cache, under its lock */
} __attribute__((aligned(TCA_CACHELINE)));

/* One arena's large runs. */
struct large_runs {
    struct large_counters *counts;
    pthread_mutex_t cache_lock;
    struct span *cache[LARGE_CACHE_SPANS];
    unsigned cache_count;
    uint64_t ops_at_decay; /* nmalloc + ndalloc at the last large_decay() */
};

void large_init(struct large_runs *runs, struct large_counters *counts);
/* A run for size bytes aligned to alignment (a power of two; ≤ a page: none)
 * from runs' cache, else from node's page heap (-1: no placement); zero:
 * reading zero (a calloc).  NULL when the OS has no memory left. */
struct span *large_alloc(struct large_runs *runs, int node, size_t size, size_t alignment, bool zero);
/* Counts the free of span in owner (the runs it was allocated from).  True
 * when the run should wait in a cache (large_cache_put); otherwise it went
 * back to the page heap. */
bool large_free(struct large_runs *owner, struct span *span);
/* Puts span in runs' cache, letting the oldest runs go to make room. */
void large_cache_put(struct large_runs *runs, struct span *span);
/* The span of the large block that ptr starts; aborts if ptr starts none,
 * naming the caller's function (fn: "free", "realloc", ...). */
struct span *large_span_of(const void *ptr, const char *fn);
/* The heap profiler's blocks are runs of their own, however small (a page for
 * most), so that their free reaches the large path, where the mark is seen;
 * cls: the small class the block stands for (its usable size), 0 for a
 * large block.  large_free clears the mark. */
TCA_INLINE void large_mark_sampled(struct span *span, unsigned cls) { span->sampled = (uint8_t)(1 + cls); }
TCA_INLINE bool large_is_sampled(const struct span *span) { return span->sampled != 0; }
TCA_INLINE unsigned large_sampled_class(const struct span *span) { return span->sampled ? span->sampled - 1u : 0; }
/* Bytes in runs' cache now. */
size_t large_cached_bytes(struct large_runs *runs);
/* Every cached run back to the page heap. */
void large_cache_release(struct large_runs *runs);
/* The background thread's share: the cache goes back when the arena saw no
 * large traffic since the last call. */
void large_decay(struct large_runs *runs);

void large_fork_prepare(struct large_runs *runs);
void large_fork_parent(struct large_runs *runs);
void large_fork_child(struct large_runs *runs);

#endif
