/* Thread caches: setup, refill, flush, GC and teardown.  Everything here is a
 * slow path; the hits are inline in tcache.h. */
#include "tcache/tcache.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "arenas/arena.h"
#include "pageheap/base.h"
#include "pageheap/os.h"

__thread struct tcache tcache_tls __attribute__((tls_model("initial-exec")));

/* Slow-path events between two GC steps; each step looks at one size class. */
#define GC_EVENT_INTERVAL 32

static pthread_key_t tcache_exit_key;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tcache *registry;
static struct tcache_memory *spare_memory; /* of exited threads, chained through slot 0 */
/* Bin cls may use slots [bin_offset[cls], bin_offset[cls + 1]) of its cache's
 * slot array: room for tcache_cap_max blocks, of which the bin's capacity
 * (end - full[cls]) starts at tcache_cap and grows as the thread needs. */
static uint32_t bin_offset[TCA_NCLASSES + 1];
static unsigned threads_started;
static bool caches_enabled;

static void tcache_thread_exit(void *cache);

bool tcache_boot(bool enabled)
{
    caches_enabled = enabled;
    bin_offset[1] = 0;
    for (unsigned cls = 1; cls < TCA_NCLASSES; cls++)
        bin_offset[cls + 1] = bin_offset[cls] + sizeclass_table[cls].tcache_cap_max;
    return pthread_key_create(&tcache_exit_key, tcache_thread_exit) == 0;
}

static struct tcache_memory *cache_memory_get(void)
{
    pthread_mutex_lock(&registry_lock);
    struct tcache_memory *memory = spare_memory;
    if (memory)
        spare_memory = memory->slots[0];
    pthread_mutex_unlock(&registry_lock);
    if (memory)
        memset(memory, 0, sizeof *memory); /* the counts; the slots are set as used */
    return memory ? memory : base_alloc(sizeof *memory + bin_offset[TCA_NCLASSES] * sizeof(void *));
}

/* Gives the calling thread its cache; false when it stays in bypass mode. */
static bool tcache_activate(struct tcache *cache)
{
    /* The secure build sends every malloc and free to the arena, where its
     * random slots, quarantine and double-free checks are. */
    if (TCA_SECURE || !caches_enabled)
        return false;
    struct tcache_memory *memory = cache_memory_get();
    if (!memory)
        return false;
    cache->memory = memory;
    for (unsigned cls = 1; cls < TCA_NCLASSES; cls++) {
        void **end = memory->slots + bin_offset[cls + 1];
        cache->full[cls] = end - sizeclass_table[cls].tcache_cap;
        cache->head[cls] = cache->low_water[cls] = end;
        cache->start_mul[cls] = sizeclass_table[cls].start_mul;
        cache->start_mask[cls] = sizeclass_table[cls].start_mask;
    }
    pthread_mutex_lock(&registry_lock);
    cache->next = registry;
    cache->prev = NULL;
    if (registry)
        registry->prev = cache;
    registry = cache;
    pthread_mutex_unlock(&registry_lock);
    cache->state = TCACHE_ACTIVE;
    /* No destructor is registered for the main thread's exit() path; only
     * threads get one, and pthread_setspecific on an early key never allocates. */
    cache->registered = pthread_setspecific(tcache_exit_key, cache) == 0;
    return true;
}

/* Sets up the calling thread, cached or not; false when it must stay in
 * bypass mode.  Every slow path gets here booted: an allocation through the
 * entry layer's miss path, a free of a block that exists. */
static bool tcache_start(struct tcache *cache)
{
    cache->state = TCACHE_BYPASS;
    bool active = tcache_activate(cache);
    /* A second thread is allocating: now the CPU → arena map is worth reading,
     * whether the threads cache or not.  Here no lock is held, and an active
     * cache already serves hwloc's own mallocs. */
    if (__atomic_add_fetch(&threads_started, 1, __ATOMIC_RELAXED) >= 2)
        topology_load(arena_count);
    return active;
}

static void **bin_end(const struct tcache *cache, unsigned cls) { return cache->memory->slots + bin_offset[cls + 1]; }

unsigned tcache_bin_capacity(const struct tcache *cache, unsigned cls)
{
    return (unsigned)(bin_end(cache, cls) - cache->full[cls]);
}

unsigned tcache_bin_count(const struct tcache *cache, unsigned cls)
{
    return (unsigned)(bin_end(cache, cls) - cache->head[cls]);
}

/* The oldest blocks lie deepest, just below the end.  They reach the
 * transfer cache or their slabs (where other threads may take them again)
 * while still inside [head, end): flush_seq is odd until they are out, so
 * that caches_hold does not find them.  to_slabs: past the transfer cache. */
static void bin_flush_oldest(struct tcache *cache, unsigned cls, unsigned n, bool to_slabs)
{
    __atomic_store_n(&cache->flush_seq, cache->flush_seq + 1, __ATOMIC_RELEASE);
    void **oldest = bin_end(cache, cls) - n;
    if (to_slabs)
        arena_flush(cls, oldest, n);
    else
        arena_give_back(arena_current(), cls, oldest, n);
    cache->memory->nflushed[cls] += n;
    memmove(cache->head[cls] + n, cache->head[cls], (tcache_bin_count(cache, cls) - n) * sizeof(void *));
    cache->head[cls] += n;
    if (cache->low_water[cls] < cache->head[cls])
        cache->low_water[cls] = cache->head[cls];
    __atomic_store_n(&cache->flush_seq, cache->flush_seq + 1, __ATOMIC_RELEASE);
}

/* A full bin doubles its capacity, up to the class's maximum, instead of
 * flushing, when the thread refilled at least half a bin of the class since
 * the bin last overflowed: it frees and allocates again in batches bigger
 * than the bin (a request's objects, a tree torn down and rebuilt), and the
 * batch then stays in the cache.  A thread that only frees (blocks another
 * thread allocated) never refills, keeps its bin small and flushes.  False
 * when the bin does not grow. */
static bool bin_grow(struct tcache *cache, unsigned cls)
{
    void **start = cache->memory->slots + bin_offset[cls];
    unsigned room = (unsigned)(cache->full[cls] - start), capacity = tcache_bin_capacity(cache, cls);
    struct tcache_memory *memory = cache->memory;
    uint64_t refilled = memory->nrefilled[cls] - memory->nrefilled_at_overflow[cls];
    memory->nrefilled_at_overflow[cls] = memory->nrefilled[cls];
    if (!room || refilled < capacity / 2)
        return false;
    cache->full[cls] -= capacity < room ? capacity : room;
    return true;
}

/* One class per step: hand back three quarters of what the bin held unused
 * since the last step, so idle classes drain and busy ones keep their blocks;
 * a grown bin that left blocks unused shrinks back by half. */
static void tcache_gc_step(struct tcache *cache)
{
    unsigned cls = cache->gc_next_class ? cache->gc_next_class : 1;
    cache->gc_next_class = (uint16_t)(cls + 1 < TCA_NCLASSES ? cls + 1 : 1);
    unsigned unused = (unsigned)(bin_end(cache, cls) - cache->low_water[cls]);
    if (unused) {
        bin_flush_oldest(cache, cls, unused - unused / 4, false);
        unsigned capacity = tcache_bin_capacity(cache, cls) / 2, held = tcache_bin_count(cache, cls);
        if (capacity < held)
            capacity = held;
        if (capacity >= sizeclass_table[cls].tcache_cap)
            cache->full[cls] = bin_end(cache, cls) - capacity;
    }
    cache->low_water[cls] = cache->head[cls];
}

static void slow_event(struct tcache *cache)
{
    if (++cache->slow_events % GC_EVENT_INTERVAL == 0)
        tcache_gc_step(cache);
}

/* Half the bin's starting capacity, but a bin's first refill takes only an OS
 * page's worth of blocks (4 KiB, or one block) and each later one as many as
 * came before: a fresh block is written (its free mark) on its way in, so a
 * thread that uses a class only a little, or a program that exits soon, does
 * not fault in pages it never uses. */
static unsigned refill_size(const struct tcache *cache, unsigned cls)
{
    const struct sizeclass_info *info = &sizeclass_table[cls];
    uint64_t want = cache->memory->nrefilled[cls], page_of_blocks = 4096 / info->size;
    if (want < page_of_blocks)
        want = page_of_blocks;
    if (want == 0)
        want = 1;
    return want < info->tcache_cap / 2u ? (unsigned)want : info->tcache_cap / 2u;
}

/* The block leaves without its mark; clear: cleared too, unless fresh. */
static void *hand_out(void *block, size_t size, bool clear)
{
    bool fresh = block_is_fresh(block);
    *block_mark(block) = 0;
    if (clear && !fresh)
        memset(block, 0, size);
    return block;
}

static void *alloc_slow(size_t size, bool clear)
{
    struct tcache *cache = &tcache_tls;
    if (cache->state == TCACHE_UNINIT)
        tcache_start(cache);
    unsigned cls = sizeclass_of(size);
    void *block;
    if (cache->state != TCACHE_ACTIVE) {
        if (arena_refill(arena_current(), cls, &block, 1) == 0)
            goto out_of_memory;
        cache->uncached_allocated += sizeclass_size(cls);
        return hand_out(block, size, clear);
    }
    void **end = bin_end(cache, cls);
    if (cache->head[cls] == end) {
        slow_event(cache);
        unsigned want = refill_size(cache, cls);
        /* The arena hands out blocks in address order; they are popped in that order. */
        unsigned got = arena_refill(arena_current(), cls, end - want, want);
        if (got == 0)
            goto out_of_memory;
        if (got < want)
            memmove(end - got, end - want, got * sizeof(void *));
        cache->memory->nrefilled[cls] += got;
        cache->head[cls] = end - got;
    }
    /* The bin was drained below its low-water mark (or emptied) since the last
     * GC step: count all of it as used until the next step, so that further
     * pops stay on the fast path. */
    cache->low_water[cls] = end;
    return hand_out(*cache->head[cls]++, size, clear);

out_of_memory:
    errno = ENOMEM;
    return NULL;
}

void *tcache_alloc_slow(size_t size) { return alloc_slow(size, false); }
void *tcache_alloc_slow_cleared(size_t size) { return alloc_slow(size, true); }

static __attribute__((no_sanitize("thread"))) bool bin_holds(const struct tcache *cache, unsigned cls, const void *ptr)
{
    void **end = bin_end(cache, cls);
    for (void **slot = __atomic_load_n(&cache->head[cls], __ATOMIC_RELAXED); slot < end; slot++)
        if (*slot == ptr)
            return true;
    return false;
}

/* Whether some thread's cache holds ptr in its bin of class cls.  Other
 * threads' bins are read while their owners push and pop: a block can be
 * missed, never falsely found.  A block a thread handed out lies outside its
 * bin [head, end) and was handed out before it could reach us; a block it
 * flushed may still lie inside while another thread takes it again from its
 * slab, so a cache in the middle of a flush is read again once it is done. */
static bool caches_hold(const void *ptr, unsigned cls)
{
    bool found = false;
    pthread_mutex_lock(&registry_lock);
    for (const struct tcache *cache = registry; cache && !found; cache = cache->next) {
        for (;;) {
            uint32_t seq = __atomic_load_n(&cache->flush_seq, __ATOMIC_ACQUIRE);
            if (seq & 1) {
                os_yield();
                continue;
            }
            found = bin_holds(cache, cls, ptr);
            if (__atomic_load_n(&cache->flush_seq, __ATOMIC_ACQUIRE) == seq)
                break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return found;
}

/* Aborts when ptr, a block of class cls being freed, is free already: in its
 * slab or in some thread's cache (and, through arena_block_is_free, when it is
 * no block start).  Run for a block that carries the free mark, where data
 * that happens to match the mark passes; a -Dchecked=true build runs it for
 * every free. */
void tcache_check_free(void *ptr, unsigned cls)
{
    if (arena_block_is_free(ptr, cls) || caches_hold(ptr, cls))
        os_fatal_pointer("double free of", ptr, sizeclass_size(cls));
}

_Noreturn void tcache_free_not_block(unsigned cls)
{
    os_fatal_pointer("free(): invalid pointer", *tcache_tls.head[cls], 0);
}

void tcache_free_slow(void *ptr, unsigned cls)
{
    if (!sizeclass_is_block_start(cls, (uintptr_t)ptr))
        os_fatal_pointer("free(): invalid pointer", ptr, 0);
    if (TCA_CHECKED || block_mark_is_set(ptr))
        tcache_check_free(ptr, cls);
    /* The secure build's quarantine keeps a mark of its own in that word. */
    if (!TCA_SECURE)
        *block_mark(ptr) = BLOCK_FREE_MARK;
    struct tcache *cache = &tcache_tls;
    bool first_call = cache->state == TCACHE_UNINIT;
    if (first_call)
        tcache_start(cache);
    /* A thread whose first call is a free frees a block another thread
     * allocated.  Cached, it would be the thread's next block of the class,
     * and the thread would keep writing a cache line shared with the other
     * thread's blocks (Hoard's cache-scratch): it goes back to its slab, and
     * the cache starts with blocks of the thread's own. */
    if (cache->state != TCACHE_ACTIVE || first_call) {
        arena_flush(cls, &ptr, 1);
        cache->uncached_deallocated += sizeclass_size(cls);
        return;
    }
    if (cache->head[cls] == cache->full[cls]) {
        slow_event(cache);
        unsigned capacity = tcache_bin_capacity(cache, cls);
        if (cache->head[cls] == cache->full[cls] && !bin_grow(cache, cls))
            bin_flush_oldest(cache, cls, capacity - capacity / 2, false);
    }
    *--cache->head[cls] = ptr;
}

void tcache_flush_all(struct tcache *cache, bool to_slabs)
{
    if (cache->state != TCACHE_ACTIVE)
        return;
    for (unsigned cls = 1; cls < TCA_NCLASSES; cls++)
        if (tcache_bin_count(cache, cls))
            bin_flush_oldest(cache, cls, tcache_bin_count(cache, cls), to_slabs);
}

/* Thread exit: give everything back and leave the cache in bypass mode, so
 * destructors that run after this one still allocate, straight from the arena. */
static void tcache_thread_exit(void *arg)
{
    struct tcache *cache = arg;
    tcache_flush_all(cache, false);
    /* Fold the cached counts into the uncached ones, which bypass mode keeps
     * using, while the counts are still this thread's: once on the spare list
     * the next thread to start clears them. */
    cache->uncached_allocated = tcache_thread_allocated(cache);
    cache->uncached_deallocated = tcache_thread_deallocated(cache);
    struct tcache_memory *memory = cache->memory;
    pthread_mutex_lock(&registry_lock);
    if (cache->prev)
        cache->prev->next = cache->next;
    else
        registry = cache->next;
    if (cache->next)
        cache->next->prev = cache->prev;
    memory->slots[0] = spare_memory;
    spare_memory = memory;
    pthread_mutex_unlock(&registry_lock);
    memset(cache->head, 0, sizeof cache->head);
    memset(cache->low_water, 0, sizeof cache->low_water);
    memset(cache->full, 0, sizeof cache->full);
    cache->memory = NULL;
    cache->state = TCACHE_BYPASS;
}

uint64_t tcache_thread_allocated(const struct tcache *cache)
{
    uint64_t bytes = cache->uncached_allocated;
    if (cache->state == TCACHE_ACTIVE)
        for (unsigned cls = 1; cls < TCA_NCLASSES; cls++)
            bytes += cache->memory->nrefilled[cls] * sizeclass_size(cls);
    return bytes;
}

uint64_t tcache_thread_deallocated(const struct tcache *cache)
{
    uint64_t bytes = cache->uncached_deallocated;
    if (cache->state == TCACHE_ACTIVE)
        for (unsigned cls = 1; cls < TCA_NCLASSES; cls++)
            bytes += cache->memory->nflushed[cls] * sizeclass_size(cls);
    return bytes;
}

/* The registry locked. */
static size_t registry_cached_bytes(void)
{
    size_t bytes = 0;
    for (struct tcache *cache = registry; cache; cache = cache->next)
        for (unsigned cls = 1; cls < TCA_NCLASSES; cls++)
            bytes += (size_t)(bin_end(cache, cls) - __atomic_load_n(&cache->head[cls], __ATOMIC_RELAXED)) *
                     sizeclass_size(cls);
    return bytes;
}

size_t tcache_cached_bytes(void)
{
    pthread_mutex_lock(&registry_lock);
    size_t bytes = registry_cached_bytes();
    pthread_mutex_unlock(&registry_lock);
    return bytes;
}

bool tcache_cached_bytes_try(size_t *bytes)
{
    if (pthread_mutex_trylock(&registry_lock) != 0)
        return false;
    *bytes = registry_cached_bytes();
    pthread_mutex_unlock(&registry_lock);
    return true;
}

void tcache_fork_prepare(void) { pthread_mutex_lock(&registry_lock); }
void tcache_fork_parent(void) { pthread_mutex_unlock(&registry_lock); }

/* The child has one thread: the other threads' caches are gone with them (their
 * blocks stay allocated in the child, as in every allocator), only ours stays listed. */
void tcache_fork_child(void)
{
    pthread_mutex_init(&registry_lock, NULL);
    struct tcache *self = &tcache_tls;
    registry = self->state == TCACHE_ACTIVE ? self : NULL;
    if (registry)
        registry->next = registry->prev = NULL;
    threads_started = 1;
}
