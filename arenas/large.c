#include "arenas/large.h"

#include <string.h>

#include "arenas/topology.h"
#include "pageheap/decay.h"
#include "pageheap/os.h"
#include "pageheap/pagemap.h"

void large_init(struct large_runs *runs, struct large_counters *counts)
{
    runs->counts = counts;
    pthread_mutex_init(&runs->cache_lock, NULL);
}

/* Whether a run of npages pages may wait in a cache: not when freed memory
 * must go back at once (decay_ms 0), and not on a machine of several NUMA
 * nodes, where a run goes back to its own node's heap. */
static bool cacheable(size_t npages)
{
    return npages <= LARGE_CACHE_MAX_PAGES && decay_ms() != 0 && topology_numa_nodes() <= 1;
}

/* The newest cached run of npages to npages + 1/4 pages, taken out; NULL if none. */
static struct span *cache_take(struct large_runs *runs, size_t npages)
{
    struct span *found = NULL;
    pthread_mutex_lock(&runs->cache_lock);
    for (unsigned i = runs->cache_count; i-- > 0;) {
        struct span *span = runs->cache[i];
        if (span->npages >= npages && span->npages <= npages + npages / 4) {
            found = span;
            found->large_cached = 0;
            memmove(&runs->cache[i], &runs->cache[i + 1], (runs->cache_count - i - 1) * sizeof(struct span *));
            runs->cache_count--;
            runs->counts->cached_bytes -= span->npages << TCA_PAGE_SHIFT;
            break;
        }
    }
    pthread_mutex_unlock(&runs->cache_lock);
    return found;
}

/* Runs that left a cache, back to the page heap (after the cache's lock). */
static void give_back(struct span **spans, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        spans[i]->large_cached = 0;
        pageheap_free_span(spans[i]);
    }
}

void large_cache_put(struct large_runs *runs, struct span *span)
{
    size_t bytes = span->npages << TCA_PAGE_SHIFT;
    struct span *evicted[LARGE_CACHE_SPANS];
    unsigned nevicted = 0;
    span->large_cached = 1;
    span->zeroed = 0; /* the program wrote it */
    pthread_mutex_lock(&runs->cache_lock);
    while (runs->cache_count == LARGE_CACHE_SPANS || runs->counts->cached_bytes + bytes > LARGE_CACHE_BYTES) {
        struct span *oldest = runs->cache[0];
        memmove(&runs->cache[0], &runs->cache[1], --runs->cache_count * sizeof(struct span *));
        runs->counts->cached_bytes -= oldest->npages << TCA_PAGE_SHIFT;
        evicted[nevicted++] = oldest;
    }
    runs->cache[runs->cache_count++] = span;
    runs->counts->cached_bytes += bytes;
    pthread_mutex_unlock(&runs->cache_lock);
    give_back(evicted, nevicted);
}

void large_cache_release(struct large_runs *runs)
{
    struct span *spans[LARGE_CACHE_SPANS];
    pthread_mutex_lock(&runs->cache_lock);
    unsigned n = runs->cache_count;
    memcpy(spans, runs->cache, n * sizeof(struct span *));
    runs->cache_count = 0;
    runs->counts->cached_bytes = 0;
    pthread_mutex_unlock(&runs->cache_lock);
    give_back(spans, n);
}

size_t large_cached_bytes(struct large_runs *runs)
{
    pthread_mutex_lock(&runs->cache_lock);
    size_t bytes = runs->counts->cached_bytes;
    pthread_mutex_unlock(&runs->cache_lock);
    return bytes;
}

struct span *large_alloc(struct large_runs *runs, int node, size_t size, size_t alignment, bool zero)
{
    /* posix_memalign(&p, 1 << 20, 0) lands here: a block still takes a page. */
    size_t npages = size ? tca_align_up(size, TCA_PAGE_SIZE) >> TCA_PAGE_SHIFT : 1;
    size_t align_pages = alignment > TCA_PAGE_SIZE ? alignment >> TCA_PAGE_SHIFT : 1;
    /* calloc goes to the page heap, whose returned pages need no memset. */
    struct span *span = align_pages == 1 && !zero && cacheable(npages) ? cache_take(runs, npages) : NULL;
    if (!span)
        span = pageheap_alloc_span(npages, align_pages, 0, node);
    if (!span)
        return NULL;
    if (zero && !span->zeroed)
        memset((void *)span->start, 0, span->npages << TCA_PAGE_SHIFT);
    __atomic_fetch_add(&runs->counts->nmalloc, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&runs->counts->allocated_bytes, span->npages << TCA_PAGE_SHIFT, __ATOMIC_RELAXED);
    return span;
}

struct span *large_span_of(const void *ptr, const char *fn)
{
    struct span *span = pagemap_span_of(ptr);
    bool freed = span && span->start == (uintptr_t)ptr && (span->state == SPAN_FREE || span->large_cached);
    if (freed && !strcmp(fn, "free"))
        os_fatal_pointer("double free of", ptr, 0);
    if (freed || !span || span->state != SPAN_LARGE || span->start != (uintptr_t)ptr)
        os_fatal_call(fn, "invalid pointer", ptr);
    return span;
}

bool large_free(struct large_runs *owner, struct span *span)
{
    span->sampled = 0;
    __atomic_fetch_add(&owner->counts->ndalloc, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&owner->counts->allocated_bytes, span->npages << TCA_PAGE_SHIFT, __ATOMIC_RELAXED);
    if (cacheable(span->npages))
        return true;
    pageheap_free_span(span);
    return false;
}

void large_decay(struct large_runs *runs)
{
    uint64_t ops = __atomic_load_n(&runs->counts->nmalloc, __ATOMIC_RELAXED) +
                   __atomic_load_n(&runs->counts->ndalloc, __ATOMIC_RELAXED);
    if (ops == runs->ops_at_decay)
        large_cache_release(runs);
    runs->ops_at_decay = ops;
}

void large_fork_prepare(struct large_runs *runs) { pthread_mutex_lock(&runs->cache_lock); }
void large_fork_parent(struct large_runs *runs) { pthread_mutex_unlock(&runs->cache_lock); }
void large_fork_child(struct large_runs *runs) { pthread_mutex_init(&runs->cache_lock, NULL); }
