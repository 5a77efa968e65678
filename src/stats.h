/* Statistics: a snapshot computed from the counters each layer keeps, under
 * the locks it already takes, in the statistics page (live.h); nothing here
 * touches a fast path.  The computation and the field tables are built into
 * the library and into the tcarena command alike, so that a reading from
 * inside (tca_stats_print, ctl) and one from outside (tcarena stats --pid)
 * cannot differ in their arithmetic.
 *
 * What adds up (exactly when no thread allocates during the snapshot):
 *   allocated = Σ arenas' allocated, active = Σ arenas' active,
 *   dirty     = Σ arenas' dirty + heap_dirty,
 *   mapped    = Σ arenas' mapped + heap_free + metadata,
 *   resident  = active + dirty + metadata,
 * and always allocated ≤ active ≤ resident ≤ mapped. */
#ifndef TCA_STATS_H
#define TCA_STATS_H

#include "src/live.h"

/* Bin j of the ctl names is size class j + 1 (class 0 is "not small"). */
#define STATS_NBINS (TCA_NCLASSES - 1)

struct bin_stats {
    uint64_t nmalloc;        /* blocks handed to thread caches (or straight to the program) */
    uint64_t ndalloc;        /* blocks given back */
    uint64_t curregs;        /* blocks out now: held by the program or a thread cache */
    uint64_t curslabs;       /* slabs the bin holds */
    uint64_t nslabs;         /* slabs ever made */
    uint64_t nrefills;       /* thread-cache refills served */
    uint64_t nflushes;       /* thread-cache flushes received */
    uint64_t lock_contended; /* times the bin lock was found taken */
};

struct arena_stats {
    size_t allocated;        /* bytes out: small blocks (thread caches included) and large runs */
    size_t active;           /* bytes in pages holding at least one block out */
    size_t dirty;            /* bytes in wholly free slabs the bins keep as spares */
    size_t mapped;           /* bytes of page-heap pages the arena holds: active + dirty */
    size_t small_allocated;
    size_t large_allocated;
    uint64_t small_nmalloc, small_ndalloc;
    uint64_t large_nmalloc, large_ndalloc;
    uint64_t lock_contended; /* over all bins */
    struct bin_stats bins[STATS_NBINS];
};

/* A call site of a heap profile as a reader names it: its estimated figures
 * (the samples scaled up) and its stack, the program's frame first. */
struct stats_site {
    double bytes, blocks;
    size_t depth;
    uint64_t *frames; /* call sites: return address - 1 */
    char **labels;    /* "function (file:line)", "function+0x1c (object)", ... */
};

struct tca_stats {
    size_t allocated;    /* bytes in blocks out (those parked in thread caches included) */
    size_t active;       /* bytes in pages holding blocks out */
    size_t dirty;        /* bytes in unused pages still resident: spare slabs, dirty free spans */
    size_t metadata;     /* bytes of internal metadata mapped */
    size_t resident;     /* bytes that may be in RAM: active + dirty + metadata */
    size_t mapped;       /* bytes mapped from the OS */
    size_t returned;     /* bytes given back with madvise and still mapped */
    size_t tcache_bytes; /* bytes in blocks parked in thread and transfer caches (part of allocated) */
    size_t heap_free;    /* bytes in free page-heap spans, held by no arena */
    size_t heap_dirty;   /* the part of heap_free not returned and once used */
    /* Thread caches are thread-local: a reading from outside the process
     * cannot count them, and tcache_bytes is then unknown. */
    bool thread_caches_known;
    unsigned narenas;
    struct arena_stats *arenas;  /* narenas entries */
    const struct live_view *view; /* the page read: size classes, options, placement */
    /* The heap profiler's top sites, largest first: named by a reader outside
     * the process (tcarena stats --pid), which alone can read the process's
     * symbols; the library leaves them empty.  prof_interval 0: no profile. */
    uint64_t prof_interval;
    unsigned nsites;
    struct stats_site *sites;
};

/* One named value of a snapshot record (struct tca_stats, arena_stats or
 * bin_stats): the tables below drive ctl's names and every output format. */
struct stats_field {
    const char *name;
    uint16_t offset; /* of a size_t or uint64_t in the record */
    enum { FIELD_BYTES, FIELD_GAUGE, FIELD_COUNTER } kind;
    const char *help;
    bool in_thread_caches; /* counted in thread caches: known only inside the process */
};
extern const struct stats_field stats_total_fields[], stats_arena_fields[], stats_bin_fields[];
extern const unsigned stats_total_nfields, stats_arena_nfields, stats_bin_nfields;
uint64_t stats_field_value(const struct stats_field *field, const void *record);
/* Whether record's value of field is known (see thread_caches_known). */
bool stats_field_known(const struct stats_field *field, const struct tca_stats *stats);

/* ---- The computation, shared with the tcarena command ---- */

/* An arena's figures from a copy of its counters (header: the page's). */
void stats_arena_figures(const struct live_header *header, const struct arena_counters *counts,
                         struct arena_stats *out);
/* The totals from the arenas' figures (stats->arenas, filled), the page
 * heap's and the metadata's bytes; derived figures clamped so that allocated
 * ≤ active ≤ resident ≤ mapped holds through a race between the reads. */
void stats_add_totals(struct tca_stats *stats, const struct pageheap_stats *heap, uint64_t metadata_bytes);
/* Every figure from a page mapped from outside the process (stats->arenas
 * holds view->header->narenas entries): each counter is an aligned 64-bit
 * word read without a lock; the thread caches are unknown. */
void stats_read_page(const struct live_view *view, struct tca_stats *stats);

/* ---- The process's own reading (src/live.c) ---- */

/* Storage for a snapshot of every arena (from the metadata allocator, never
 * freed); false when out of memory. */
bool stats_init(struct tca_stats *stats);
/* Refreshes stats (set up by stats_init).  Takes each bin lock briefly, one at
 * a time: thread-cache hits never wait. */
void stats_collect(struct tca_stats *stats);

#endif
