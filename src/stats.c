/* Statistics: the figures computed from a page's counters, and the tables
 * that name them for ctl and for every output format.  Built into the
 * library and into the tcarena command: nothing here reaches a global of the
 * allocator. */
#include "src/stats.h"

#include <string.h>

/* Every field a table below names is read as a uint64_t. */
_Static_assert(sizeof(size_t) == sizeof(uint64_t), "stats fields are 64-bit");

void stats_arena_figures(const struct live_header *header, const struct arena_counters *counts,
                         struct arena_stats *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned cls = 1; cls < TCA_NCLASSES; cls++) {
        const struct bin_counters *bin = &counts->bins[cls];
        /* Read from outside, a counter may be a moment newer than another. */
        uint64_t out_now = bin->nmalloc > bin->ndalloc ? bin->nmalloc - bin->ndalloc : 0;
        uint64_t spare_slabs = bin->spare_slabs < bin->curslabs ? bin->spare_slabs : bin->curslabs;
        out->bins[cls - 1] = (struct bin_stats){
            .nmalloc = bin->nmalloc, .ndalloc = bin->ndalloc, .curregs = out_now,
            .curslabs = bin->curslabs, .nslabs = bin->nslabs_made, .nrefills = bin->nrefills,
            .nflushes = bin->nflushes, .lock_contended = bin->lock_contended,
        };
        size_t slab_bytes = header->class_slab_bytes[cls];
        out->small_allocated += out_now * header->class_size[cls];
        out->active += (bin->curslabs - spare_slabs) * slab_bytes;
        out->dirty += spare_slabs * slab_bytes;
        out->small_nmalloc += bin->nmalloc;
        out->small_ndalloc += bin->ndalloc;
        out->lock_contended += bin->lock_contended;
    }
    out->dirty += counts->large.cached_bytes;
    out->large_allocated = counts->large.allocated_bytes;
    out->large_nmalloc = counts->large.nmalloc;
    out->large_ndalloc = counts->large.ndalloc;
    out->allocated = out->small_allocated + out->large_allocated;
    out->active += out->large_allocated;
    if (out->active < out->allocated) /* only a racy read gets here */
        out->active = out->allocated;
    out->mapped = out->active + out->dirty;
}

void stats_add_totals(struct tca_stats *stats, const struct pageheap_stats *heap, uint64_t metadata_bytes)
{
    size_t allocated = 0, active = 0, arena_dirty = 0;
    for (unsigned i = 0; i < stats->narenas; i++) {
        allocated += stats->arenas[i].allocated;
        active += stats->arenas[i].active;
        arena_dirty += stats->arenas[i].dirty;
    }
    stats->metadata = metadata_bytes;
    stats->mapped = heap->mapped_bytes + metadata_bytes;
    stats->heap_free = heap->free_bytes;
    stats->heap_dirty = heap->dirty_bytes;
    stats->returned = heap->returned_bytes;
    stats->dirty = arena_dirty + heap->dirty_bytes;
    /* A slab freed between the arenas' reading and the page heap's is counted
     * by its arena and as a dirty free span: the clamps keep the ordering
     * through such a race (a locked reading needs only the first). */
    size_t resident = active + stats->dirty + stats->metadata;
    stats->resident = resident < stats->mapped ? resident : stats->mapped;
    stats->active = active < stats->resident ? active : stats->resident;
    stats->allocated = allocated < stats->active ? allocated : stats->active;
}

/* src, bytes long, an aligned 64-bit word at a time, each read once. */
static void copy_words(void *dst, const void *src, size_t bytes)
{
    uint64_t *to = dst;
    const uint64_t *from = src;
    for (size_t i = 0; i < bytes / sizeof *from; i++)
        to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

void stats_read_page(const struct live_view *view, struct tca_stats *stats)
{
    stats->view = view;
    stats->narenas = (unsigned)view->header->narenas;
    stats->tcache_bytes = 0;
    stats->thread_caches_known = false;
    for (unsigned i = 0; i < stats->narenas; i++) {
        struct arena_counters counts;
        copy_words(&counts, &view->arenas[i], sizeof counts);
        stats_arena_figures(view->header, &counts, &stats->arenas[i]);
    }
    struct pageheap_stats heap = {0};
    for (unsigned i = 0; i < PAGEHEAP_NODES; i++) {
        struct heap_counters counts;
        copy_words(&counts, &view->heap->heaps[i], sizeof counts);
        pageheap_stats_add(&heap, &counts);
    }
    uint64_t metadata = __atomic_load_n(&view->heap->metadata_bytes, __ATOMIC_RELAXED) +
                        __atomic_load_n(&view->heap->pagemap_bytes, __ATOMIC_RELAXED);
    stats_add_totals(stats, &heap, metadata);
}

/* ---- Field tables: one list of names for every output format and for ctl. ---- */

#define FIELD(record, field, kind_, help_) \
    {#field, (uint16_t)offsetof(struct record, field), kind_, help_, false}

const struct stats_field stats_total_fields[] = {
    FIELD(tca_stats, allocated, FIELD_BYTES, "Bytes in blocks out, thread caches included"),
    FIELD(tca_stats, active, FIELD_BYTES, "Bytes in pages holding blocks out"),
    FIELD(tca_stats, dirty, FIELD_BYTES, "Bytes in unused pages still resident"),
    FIELD(tca_stats, metadata, FIELD_BYTES, "Bytes of internal metadata mapped"),
    FIELD(tca_stats, resident, FIELD_BYTES, "Bytes that may be resident: active + dirty + metadata"),
    FIELD(tca_stats, mapped, FIELD_BYTES, "Bytes mapped from the OS"),
    FIELD(tca_stats, returned, FIELD_BYTES, "Bytes returned to the OS (or never touched) and still mapped"),
    {"tcache_bytes", (uint16_t)offsetof(struct tca_stats, tcache_bytes), FIELD_BYTES,
     "Bytes in blocks parked in thread caches and the transfer caches between them", true},
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

bool stats_field_known(const struct stats_field *field, const struct tca_stats *stats)
{
    return !field->in_thread_caches || stats->thread_caches_known;
}

uint64_t stats_field_value(const struct stats_field *field, const void *record)
{
    uint64_t value;
    memcpy(&value, (const char *)record + field->offset, sizeof value);
    return value;
}
