/* Statistics: a snapshot collected from the counters each layer keeps, and
 * the tables that name its fields for ctl and for every output format. */
#include "src/stats.h"

#include <string.h>

#include "arenas/arena.h"
#include "arenas/transfer.h"
#include "pageheap/base.h"
#include "pageheap/pageheap.h"
#include "pageheap/pagemap.h"
#include "tcache/tcache.h"

/* Every field a table below names is read as a uint64_t. */
_Static_assert(sizeof(size_t) == sizeof(uint64_t), "stats fields are 64-bit");

bool stats_init(struct tca_stats *stats)
{
    stats->narenas = arena_count;
    stats->arenas = base_alloc(arena_count * sizeof *stats->arenas);
    return stats->arenas != NULL;
}

static void collect_arena(struct arena *arena, struct arena_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!arena)
        return;
    for (unsigned cls = 1; cls < TCA_NCLASSES; cls++) {
        struct arena_bin *bin = &arena->bins[cls];
        struct bin_stats *counts = &out->bins[cls - 1];
        pthread_mutex_lock(&bin->lock);
        *counts = (struct bin_stats){
            .nmalloc = bin->nmalloc, .ndalloc = bin->ndalloc, .curregs = bin->curregs,
            .curslabs = bin->curslabs, .nslabs = bin->nslabs_made, .nrefills = bin->nrefills,
            .nflushes = bin->nflushes, .lock_contended = bin->lock_contended,
        };
        uint64_t spare_slabs = bin->nempty;
        pthread_mutex_unlock(&bin->lock);
        /* The secure build's guard page is part of each slab's span. */
        size_t slab_bytes = (size_t)(sizeclass_table[cls].slab_pages + TCA_SECURE) << TCA_PAGE_SHIFT;
        out->small_allocated += counts->curregs * sizeclass_size(cls);
        out->active += (counts->curslabs - spare_slabs) * slab_bytes;
        out->dirty += spare_slabs * slab_bytes;
        out->small_nmalloc += counts->nmalloc;
        out->small_ndalloc += counts->ndalloc;
        out->lock_contended += counts->lock_contended;
    }
    out->dirty += large_cached_bytes(&arena->large);
    out->large_allocated = __atomic_load_n(&arena->large.allocated_bytes, __ATOMIC_RELAXED);
    out->large_nmalloc = __atomic_load_n(&arena->large.nmalloc, __ATOMIC_RELAXED);
    out->large_ndalloc = __atomic_load_n(&arena->large.ndalloc, __ATOMIC_RELAXED);
    out->allocated = out->small_allocated + out->large_allocated;
    out->active += out->large_allocated;
    out->mapped = out->active + out->dirty;
}

void stats_collect(struct tca_stats *stats)
{
    size_t allocated = 0, active = 0, arena_dirty = 0;
    stats->tcache_bytes = tcache_cached_bytes() + transfer_cached_bytes();
    for (unsigned i = 0; i < stats->narenas; i++) {
        struct arena_stats *arena = &stats->arenas[i];
        collect_arena(__atomic_load_n(&arena_table[i], __ATOMIC_ACQUIRE), arena);
        allocated += arena->allocated;
        active += arena->active;
        arena_dirty += arena->dirty;
    }
    /* The page heap is read after the arenas: every page an arena was seen to
     * hold had been taken from a region already counted in mapped_bytes. */
    struct pageheap_stats heap;
    pageheap_read_stats(&heap);
    stats->allocated = allocated;
    stats->active = active;
    stats->metadata = base_mapped_bytes() + pagemap_mapped_bytes();
    stats->mapped = heap.mapped_bytes + stats->metadata;
    stats->heap_free = heap.free_bytes;
    stats->heap_dirty = heap.dirty_bytes;
    stats->returned = heap.returned_bytes;
    stats->dirty = arena_dirty + heap.dirty_bytes;
    /* A slab freed between the two reads is counted by its arena and as a
     * dirty free span: the clamp keeps the ordering through such a race. */
    size_t resident = active + stats->dirty + stats->metadata;
    stats->resident = resident < stats->mapped ? resident : stats->mapped;
}

/* ---- Field tables: one list of names for every output format and for ctl. ---- */

#define FIELD(record, field, kind_, help_) \
    {#field, (uint16_t)offsetof(struct record, field), kind_, help_}

const struct stats_field stats_total_fields[] = {
    FIELD(tca_stats, allocated, FIELD_BYTES, "Bytes in blocks out, thread caches included"),
    FIELD(tca_stats, active, FIELD_BYTES, "Bytes in pages holding blocks out"),
    FIELD(tca_stats, dirty, FIELD_BYTES, "Bytes in unused pages still resident"),
    FIELD(tca_stats, metadata, FIELD_BYTES, "Bytes of internal metadata mapped"),
    FIELD(tca_stats, resident, FIELD_BYTES, "Bytes that may be resident: active + dirty + metadata"),
    FIELD(tca_stats, mapped, FIELD_BYTES, "Bytes mapped from the OS"),
    FIELD(tca_stats, returned, FIELD_BYTES, "Bytes returned to the OS (or never touched) and still mapped"),
    FIELD(tca_stats, tcache_bytes, FIELD_BYTES, "Bytes in blocks parked in thread caches and the transfer caches between them"),
    FIELD(tca_stats, heap_free, FIELD_BYTES, "Bytes in free page-heap spans"),
    FIELD(tca_stats, heap_dirty, FIELD_BYTES, "Bytes in free page-heap spans not returned: the part of heap_free in RAM"),
};
const struct stats_field stats_arena_fields[] = {
    FIELD(arena_stats, allocated, FIELD_BYTES, "Bytes in blocks out from the arena"),
    FIELD(arena_stats, active, FIELD_BYTES, "Bytes in the arena's pages holding blocks out"),
    FIELD(arena_stats, dirty, FIELD_BYTES, "Bytes in the arena's spare empty slabs"),
    FIELD(arena_stats, mapped, FIELD_BYTES, "Bytes of pages the arena holds"),
    FIELD(arena_stats, small_allocated, FIELD_BYTES, "Bytes in small blocks out"),
    FIELD(arena_stats, large_allocated, FIELD_BYTES, "Bytes in large runs out"),
    FIELD(arena_stats, small_nmalloc, FIELD_COUNTER, "Small blocks handed out"),
    FIELD(arena_stats, small_ndalloc, FIELD_COUNTER, "Small blocks given back"),
    FIELD(arena_stats, large_nmalloc, FIELD_COUNTER, "Large runs handed out"),
    FIELD(arena_stats, large_ndalloc, FIELD_COUNTER, "Large runs given back"),
    FIELD(arena_stats, lock_contended, FIELD_COUNTER, "Bin locks found taken"),
};
const struct stats_field stats_bin_fields[] = {
    FIELD(bin_stats, nmalloc, FIELD_COUNTER, "Blocks handed out"),
    FIELD(bin_stats, ndalloc, FIELD_COUNTER, "Blocks given back"),
    FIELD(bin_stats, curregs, FIELD_GAUGE, "Blocks out now"),
    FIELD(bin_stats, curslabs, FIELD_GAUGE, "Slabs held"),
    FIELD(bin_stats, nslabs, FIELD_COUNTER, "Slabs made"),
    FIELD(bin_stats, nrefills, FIELD_COUNTER, "Thread-cache refills served"),
    FIELD(bin_stats, nflushes, FIELD_COUNTER, "Thread-cache flushes received"),
    FIELD(bin_stats, lock_contended, FIELD_COUNTER, "Times the bin lock was found taken"),
};
#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))
const unsigned stats_total_nfields = COUNT_OF(stats_total_fields);
const unsigned stats_arena_nfields = COUNT_OF(stats_arena_fields);
const unsigned stats_bin_nfields = COUNT_OF(stats_bin_fields);

uint64_t stats_field_value(const struct stats_field *field, const void *record)
{
    uint64_t value;
    memcpy(&value, (const char *)record + field->offset, sizeof value);
    return value;
}
