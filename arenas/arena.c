/* Arenas: slabs per size class under a bin lock.  The secure build's variants
 * are calls into secure.c under if (TCA_SECURE). */
#include "arenas/arena.h"
#include "arenas/transfer.h"

#include <string.h>

#include "pageheap/base.h"
#include "pageheap/decay.h"
#include "pageheap/os.h"
#include "pageheap/pagemap.h"

struct arena *arena_table[ARENA_MAX];
unsigned arena_count = 1;
static struct arena_counters *arena_counters;
static pthread_mutex_t arena_create_lock = PTHREAD_MUTEX_INITIALIZER;

void arenas_boot(unsigned narenas, struct arena_counters *counters)
{
    arena_count = narenas;
    arena_counters = counters;
}

struct arena *arena_get(unsigned index)
{
    if (index >= arena_count)
        index %= arena_count;
    struct arena *arena = __atomic_load_n(&arena_table[index], __ATOMIC_ACQUIRE);
    if (arena)
        return arena;
    pthread_mutex_lock(&arena_create_lock);
    arena = arena_table[index];
    if (!arena && (arena = base_alloc(sizeof *arena))) {
        struct arena_counters *counts = &arena_counters[index];
        for (unsigned cls = 0; cls < TCA_NCLASSES; cls++) {
            pthread_mutex_init(&arena->bins[cls].lock, NULL);
            arena->bins[cls].counts = &counts->bins[cls];
        }
        large_init(&arena->large, &counts->large);
        arena->index = index;
        __atomic_store_n(&arena_table[index], arena, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&arena_create_lock);
    /* Out of metadata memory: any arena that exists will do (arena 0 is made first). */
    return arena ? arena : (index ? arena_get(0) : NULL);
}

static void bin_lock(struct arena_bin *bin)
{
    if (pthread_mutex_trylock(&bin->lock) != 0) {
        pthread_mutex_lock(&bin->lock);
        bin->counts->lock_contended++;
    }
}

static void bin_list_push(struct arena_bin *bin, struct span *slab)
{
    span_list_push(&bin->nonfull, slab);
    slab->in_bin_list = 1;
}

static void bin_list_remove(struct arena_bin *bin, struct span *slab)
{
    span_list_remove(&bin->nonfull, slab);
    slab->in_bin_list = 0;
}

static struct span *slab_new(struct arena *arena, struct arena_bin *bin, unsigned cls)
{
    const struct sizeclass_info *info = &sizeclass_table[cls];
    int node = topology_arena_memory_node(arena->index);
    struct span *slab = TCA_SECURE ? secure_slab_alloc(cls, node)
                                   : pageheap_alloc_span(info->slab_pages, info->slab_align_pages, cls, node);
    if (!slab)
        return NULL;
    slab->arena_index = (uint16_t)arena->index;
    slab->blocks = sizeclass_first_block(cls, slab->start);
    slab->untouched_slot = 0;
    slab->nfree = (uint16_t)info->nslots;
    memset(slab->free_slots, 0, sizeof slab->free_slots);
    for (unsigned word = 0; word < info->nslots / 64; word++)
        slab->free_slots[word] = ~(uint64_t)0;
    if (info->nslots % 64)
        slab->free_slots[info->nslots / 64] = ((uint64_t)1 << (info->nslots % 64)) - 1;
    bin_list_push(bin, slab);
    bin->counts->spare_slabs++;
    bin->counts->nslabs_made++;
    bin->counts->curslabs++;
    return slab;
}

/* A block freed once carries the free mark from then on, until it is handed
 * out; one never handed out since its slab was made gets a mark here, on its
 * way to a thread cache, so that a free of it is caught as well: the fresh
 * mark when the slab's pages read zero (the span's zeroed flag, as the page
 * heap handed it over), so that calloc can skip clearing it.  slab_take hands
 * blocks out lowest slot first, so those past the slab's untouched mark are
 * the last n taken, found by address from the end: blocks handed out before
 * cost one compare, and only the batch's last block is turned into a slot.
 * In a fresh slab those marks are the first writes to their pages: the page
 * heap faults them in by one call first (pageheap_prefault), where blocks of
 * at most a page put a mark on every page between the first and the last. */
static void mark_untouched(struct span *slab, size_t size, void *const *taken, unsigned n)
{
    if (n == 0)
        return;
    uintptr_t first_untouched = slab->blocks + (uintptr_t)slab->untouched_slot * size;
    uintptr_t last = (uintptr_t)taken[n - 1];
    if (last < first_untouched)
        return;
    uint32_t mark = slab->zeroed ? BLOCK_FRESH_MARK : BLOCK_FREE_MARK;
    if (slab->zeroed && size <= os_system_page_size())
        pageheap_prefault(first_untouched > (uintptr_t)taken[0] ? first_untouched : (uintptr_t)taken[0], last + sizeof(block_mark_word));
    for (unsigned i = n; i > 0 && (uintptr_t)taken[i - 1] >= first_untouched; i--)
        *block_mark(taken[i - 1]) = mark;
    slab->untouched_slot = (uint16_t)(sizeclass_slot_of_offset(slab->sizeclass, last - slab->blocks) + 1);
}

/* Lowest free blocks first: a slab fills from its start, which keeps the
 * blocks handed out together close together.  The secure build takes them
 * in random order. */
static unsigned slab_take(struct span *slab, size_t size, void **out, unsigned want)
{
    if (TCA_SECURE)
        return secure_slab_take(slab, size, out, want);
    unsigned got = 0;
    for (unsigned word = 0; word < TCA_SLAB_MAX_SLOTS / 64 && got < want; word++) {
        uint64_t bits = slab->free_slots[word];
        if (bits == ~(uint64_t)0 && want - got >= 64) {
            /* A wholly free word (a slab emptied by a flush, or new): consecutive blocks. */
            uintptr_t block = slab->blocks + (uintptr_t)word * 64 * size;
            for (unsigned i = 0; i < 64; i++, block += size)
                out[got++] = (void *)block;
            slab->free_slots[word] = 0;
            continue;
        }
        while (bits && got < want) {
            unsigned slot = word * 64 + (unsigned)__builtin_ctzll(bits);
            bits &= bits - 1;
            out[got++] = (void *)(slab->blocks + slot * size);
        }
        slab->free_slots[word] = bits;
    }
    slab->nfree = (uint16_t)(slab->nfree - got);
    mark_untouched(slab, size, out, got);
    return got;
}

unsigned arena_refill(struct arena *arena, unsigned cls, void **out, unsigned want)
{
    const struct sizeclass_info *info = &sizeclass_table[cls];
    struct arena_bin *bin = &arena->bins[cls];
    unsigned got = transfer_take(cls, topology_arena_memory_node(arena->index), out, want);
    if (got == want)
        return got;
    unsigned from_slabs = got;
    bin_lock(bin);
    while (got < want) {
        struct span *slab = bin->nonfull;
        if (!slab && !(slab = slab_new(arena, bin, cls)))
            break;
        if (slab->nfree == info->nslots)
            bin->counts->spare_slabs--;
        got += slab_take(slab, info->size, out + got, want - got);
        if (slab->nfree == 0)
            bin_list_remove(bin, slab);
    }
    bin->counts->nmalloc += got - from_slabs;
    bin->counts->nrefills++;
    pthread_mutex_unlock(&bin->lock);
    return got;
}

void arena_give_back(struct arena *arena, unsigned cls, void *const *blocks, unsigned n)
{
    unsigned kept = transfer_put(cls, topology_arena_memory_node(arena->index), blocks, n);
    if (kept < n)
        arena_flush(cls, blocks + kept, n - kept);
}

static _Noreturn __attribute__((cold)) void flush_abort(struct arena_bin *locked, const char *what, const void *ptr, unsigned cls)
{
    if (locked)
        pthread_mutex_unlock(&locked->lock);
    os_fatal_pointer(what, ptr, cls ? sizeclass_size(cls) : 0);
}

/* The slab of class cls that ptr lies in; aborts (unlocking locked) if none. */
static struct span *slab_of_block(const void *ptr, unsigned cls, struct arena_bin *locked)
{
    struct span *slab = pagemap_span_of(ptr);
    if (!slab || slab->state != SPAN_SLAB || slab->sizeclass != cls)
        flush_abort(locked, "free(): invalid pointer", ptr, 0);
    return slab;
}

unsigned arena_spare_slabs(unsigned cls)
{
    unsigned fit = (128u << 10) / (sizeclass_table[cls].slab_pages << TCA_PAGE_SHIFT);
    return fit > 2 ? fit : 2;
}

/* A wholly free slab leaves its bin for the page heap, the bin locked; idle:
 * it sat unused as a spare, so it goes back to the OS at the next purge. */
static void bin_give_back(struct arena_bin *bin, struct span *slab, bool idle)
{
    bin_list_remove(bin, slab);
    bin->counts->curslabs--;
    if (TCA_SECURE)
        secure_slab_unguard(slab);
    if (idle)
        pageheap_free_idle_span(slab);
    else
        pageheap_free_span(slab);
}

/* A slab whose free count just went up, its bin locked, when it was full (it
 * joins the bin's list) or is now wholly free (it goes back to the page heap
 * unless the bin keeps it as a spare).  Returns false when it went back. */
static TCA_NOINLINE bool slab_settle(struct arena_bin *bin, struct span *slab, unsigned cls)
{
    if (!slab->in_bin_list)
        bin_list_push(bin, slab);
    if (slab->nfree < sizeclass_table[cls].nslots)
        return true;
    if (bin->counts->spare_slabs < arena_spare_slabs(cls)) {
        bin->counts->spare_slabs++;
        return true;
    }
    bin_give_back(bin, slab, false);
    return false;
}

/* Marks one block free in its slab's bitmap, the slab's bin locked, after
 * checking it is a block start in use; the free count follows per run of
 * blocks (slab_add_free). */
static void slab_mark_free(struct arena_bin *bin, struct span *slab, uint64_t offset, unsigned cls)
{
    uint32_t slot = sizeclass_slot_of_offset(cls, offset);
    if (TCA_UNLIKELY(slot == UINT32_MAX))
        flush_abort(bin, "free(): invalid pointer", (void *)(slab->blocks + offset), 0);
    uint64_t word = slab->free_slots[slot / 64], bit = (uint64_t)1 << (slot % 64);
    if (TCA_UNLIKELY(word & bit))
        flush_abort(bin, "double free of", (void *)(slab->blocks + offset), cls);
    slab->free_slots[slot / 64] = word | bit;
}

/* Counts n blocks just marked free in slab; false when the slab went back to
 * the page heap. */
static bool slab_add_free(struct arena_bin *bin, struct span *slab, unsigned n, unsigned cls)
{
    slab->nfree = (uint16_t)(slab->nfree + n);
    if (TCA_LIKELY(slab->in_bin_list) && TCA_LIKELY(slab->nfree < sizeclass_table[cls].nslots))
        return true;
    return slab_settle(bin, slab, cls);
}

static void bin_unlock_after_flush(struct arena_bin *bin, uint64_t nblocks)
{
    bin->counts->ndalloc += nblocks;
    bin->counts->nflushes++;
    pthread_mutex_unlock(&bin->lock);
}

#if TCA_SECURE
#define bin_quarantine(bin) (&(bin)->quarantine)
#else
#define bin_quarantine(bin) ((struct secure_quarantine *)NULL)
#endif

/* The secure build's flush of one block of slab: it stays in the bin's
 * quarantine, and the block it pushes out goes back to its slab.  Returns
 * slab, or NULL when that put slab back into the page heap. */
static struct span *flush_through_quarantine(struct arena_bin *bin, struct span *slab, void *block, unsigned cls)
{
    void *leaving = secure_quarantine_swap(bin_quarantine(bin), &bin->lock, slab, block);
    if (!leaving)
        return slab;
    struct span *home = pagemap_span_of(leaving);
    slab_mark_free(bin, home, (uintptr_t)leaving - home->blocks, cls);
    return slab_add_free(bin, home, 1, cls) || home != slab ? slab : NULL;
}

void arena_flush(unsigned cls, void *const *blocks, unsigned n)
{
    const struct sizeclass_info info = sizeclass_table[cls]; /* a copy the loop keeps in registers */
    /* Offsets at or past the slots' end send a block to the lookup: the
     * slab changed, or the pointer is bad (the lookup then aborts). */
    const uint64_t slots_bytes = (uint64_t)info.nslots * info.size;
    struct arena_bin *locked = NULL;
    struct span *slab = NULL;
    uintptr_t slab_start = 0; /* with no slab, every offset is out of range */
    unsigned lock_start = 0;  /* blocks [lock_start, i) were put back under the current lock */
    unsigned run_start = 0;   /* blocks [run_start, i) were marked free in slab, not yet counted */
    for (unsigned i = 0; i < n; i++) {
        uint64_t offset = (uintptr_t)blocks[i] - slab_start;
        /* Blocks flushed together mostly come from one slab: look up only on a change. */
        if (TCA_UNLIKELY(offset >= slots_bytes)) {
            if (i > run_start)
                slab_add_free(locked, slab, i - run_start, cls);
            run_start = i;
            slab = slab_of_block(blocks[i], cls, locked);
            if ((uintptr_t)blocks[i] - slab->blocks >= slots_bytes)
                flush_abort(locked, "free(): invalid pointer", blocks[i], 0);
            struct arena_bin *bin = &arena_of_span(slab)->bins[cls];
            if (bin != locked) {
                if (locked)
                    bin_unlock_after_flush(locked, i - lock_start);
                bin_lock(bin);
                locked = bin;
                lock_start = i;
            }
            slab_start = slab->blocks;
            offset = (uintptr_t)blocks[i] - slab_start;
        }
        if (TCA_SECURE) {
            run_start = i + 1; /* counted as blocks leave quarantine, one at a time */
            slab = flush_through_quarantine(locked, slab, blocks[i], cls);
            slab_start = slab ? slab->blocks : 0;
        } else {
            slab_mark_free(locked, slab, offset, cls);
        }
    }
    if (n > run_start)
        slab_add_free(locked, slab, n - run_start, cls);
    if (locked)
        bin_unlock_after_flush(locked, n - lock_start);
}

void arena_copy_counters(unsigned index, struct arena_counters *out)
{
    memset(out, 0, sizeof *out);
    struct arena *arena = __atomic_load_n(&arena_table[index], __ATOMIC_ACQUIRE);
    if (!arena)
        return;
    for (unsigned cls = 1; cls < TCA_NCLASSES; cls++) {
        struct arena_bin *bin = &arena->bins[cls];
        pthread_mutex_lock(&bin->lock);
        out->bins[cls] = *bin->counts;
        pthread_mutex_unlock(&bin->lock);
    }
    struct large_counters *large = arena->large.counts;
    out->large.nmalloc = __atomic_load_n(&large->nmalloc, __ATOMIC_RELAXED);
    out->large.ndalloc = __atomic_load_n(&large->ndalloc, __ATOMIC_RELAXED);
    out->large.allocated_bytes = __atomic_load_n(&large->allocated_bytes, __ATOMIC_RELAXED);
    out->large.cached_bytes = large_cached_bytes(&arena->large);
}

bool arena_block_is_free(const void *ptr, unsigned cls)
{
    struct span *slab = slab_of_block(ptr, cls, NULL);
    struct arena_bin *bin = &arena_of_span(slab)->bins[cls];
    bin_lock(bin);
    uint32_t slot = sizeclass_slot_of_offset(cls, (uintptr_t)ptr - slab->blocks);
    if (slot >= sizeclass_table[cls].nslots)
        flush_abort(bin, "free(): invalid pointer", ptr, 0);
    bool is_free = slab->free_slots[slot / 64] >> (slot % 64) & 1;
    pthread_mutex_unlock(&bin->lock);
    return is_free || transfer_holds(cls, ptr);
}

void *arena_alloc_large(struct arena *arena, size_t size, size_t alignment, bool zero)
{
    int node = topology_arena_memory_node(arena->index);
    struct span *span = large_alloc(&arena->large, node, size, alignment, zero);
    if (!span) {
        /* The heap cannot grow (a memory or address-space limit), but the
         * run may be there: what the arenas keep for reuse (wholly free
         * slabs, cached runs, blocks in the transfer caches) lies between
         * free runs, and dirty and returned pieces of a run never merge.
         * Giving all of it back, dirty pages included, joins them. */
        arenas_purge();
        span = large_alloc(&arena->large, node, size, alignment, zero);
    }
    if (!span)
        return NULL;
    span->arena_index = (uint16_t)arena->index;
    return (void *)span->start;
}

void arena_free_large(struct span *span)
{
    if (large_free(&arena_of_span(span)->large, span))
        large_cache_put(&arena_current()->large, span);
}

/* Gives the bin's wholly free slabs back to the page heap; the bin is locked. */
static void bin_release_empty(struct arena_bin *bin, unsigned cls)
{
    for (struct span *slab = bin->nonfull, *next; slab && bin->counts->spare_slabs; slab = next) {
        next = slab->next;
        if (slab->nfree != sizeclass_table[cls].nslots)
            continue;
        bin->counts->spare_slabs--;
        bin_give_back(bin, slab, true);
    }
}

static void arena_release_spares(struct arena *arena)
{
    large_cache_release(&arena->large);
    for (unsigned cls = 1; cls < TCA_NCLASSES; cls++) {
        struct arena_bin *bin = &arena->bins[cls];
        bin_lock(bin);
        bin_release_empty(bin, cls);
        pthread_mutex_unlock(&bin->lock);
    }
}

size_t arena_purge(struct arena *arena)
{
    transfer_decay(true, arena_flush);
    arena_release_spares(arena);
    return pageheap_purge(true);
}

size_t arenas_purge(void)
{
    transfer_decay(true, arena_flush);
    for (unsigned i = 0; i < arena_count; i++) {
        struct arena *arena = __atomic_load_n(&arena_table[i], __ATOMIC_ACQUIRE);
        if (arena)
            arena_release_spares(arena);
    }
    return pageheap_purge(true);
}

void arenas_decay_spares(void)
{
    transfer_decay(false, arena_flush);
    for (unsigned i = 0; i < arena_count; i++) {
        struct arena *arena = __atomic_load_n(&arena_table[i], __ATOMIC_ACQUIRE);
        if (!arena)
            continue;
        large_decay(&arena->large);
        for (unsigned cls = 1; cls < TCA_NCLASSES; cls++) {
            struct arena_bin *bin = &arena->bins[cls];
            bin_lock(bin);
            uint64_t ops = bin->counts->nmalloc + bin->counts->ndalloc;
            if (ops == bin->ops_at_decay)
                bin_release_empty(bin, cls);
            bin->ops_at_decay = ops;
            pthread_mutex_unlock(&bin->lock);
        }
    }
}

/* fork(): every bin lock, arena by arena, before the page heap's (the lock order). */
void arenas_fork_prepare(void)
{
    transfer_fork_prepare();
    pthread_mutex_lock(&arena_create_lock);
    for (unsigned i = 0; i < arena_count; i++)
        if (arena_table[i]) {
            for (unsigned cls = 0; cls < TCA_NCLASSES; cls++)
                pthread_mutex_lock(&arena_table[i]->bins[cls].lock);
            large_fork_prepare(&arena_table[i]->large);
        }
}

void arenas_fork_parent(void)
{
    for (unsigned i = 0; i < arena_count; i++)
        if (arena_table[i]) {
            large_fork_parent(&arena_table[i]->large);
            for (unsigned cls = 0; cls < TCA_NCLASSES; cls++)
                pthread_mutex_unlock(&arena_table[i]->bins[cls].lock);
        }
    pthread_mutex_unlock(&arena_create_lock);
    transfer_fork_parent();
}

void arenas_fork_child(void)
{
    for (unsigned i = 0; i < arena_count; i++)
        if (arena_table[i]) {
            for (unsigned cls = 0; cls < TCA_NCLASSES; cls++)
                pthread_mutex_init(&arena_table[i]->bins[cls].lock, NULL);
            large_fork_child(&arena_table[i]->large);
        }
    pthread_mutex_init(&arena_create_lock, NULL);
    transfer_fork_child();
    if (TCA_SECURE)
        secure_fork_child();
}
