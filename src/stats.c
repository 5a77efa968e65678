#include "stats.h"

#include <stdlib.h>

#include "arenas/arena.h"
#include "base.h"
#include "pagemap.h"
#include "pageheap.h"
#include "tcache/tcache.h"
#include "tcarena.h"

void stats_collect(struct tca_stats *out)
{
    struct pageheap_stats heap;
    pageheap_read_stats(&heap);
    size_t small_handed_out = 0, large = 0;
    for (unsigned i = 0; i < arena_count; i++) {
        struct arena *arena = __atomic_load_n(&arena_table[i], __ATOMIC_ACQUIRE);
        if (!arena)
            continue;
        for (unsigned cls = 1; cls < TCA_NCLASSES; cls++) {
            struct arena_bin *bin = &arena->bins[cls];
            pthread_mutex_lock(&bin->lock);
            small_handed_out += bin->curregs * sizeclass_size(cls);
            pthread_mutex_unlock(&bin->lock);
        }
        large += __atomic_load_n(&arena->large_allocated_bytes, __ATOMIC_RELAXED);
    }
    out->cached = tcache_cached_bytes();
    out->allocated = small_handed_out - out->cached + large;
    out->active = heap.slab_bytes + heap.large_bytes;
    out->metadata = base_mapped_bytes() + pagemap_mapped_bytes();
    out->mapped = heap.mapped_bytes + out->metadata;
    out->returned = 0;
    out->resident = out->active + heap.free_bytes + out->metadata;
}

static void print_at_exit(void) { tca_stats_print(NULL, NULL, NULL); }

void stats_print_at_exit(void) { atexit(print_at_exit); }
