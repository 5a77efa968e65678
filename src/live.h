/* The statistics page: the allocator's counters themselves, not a copy, in a
 * memory file (memfd "tcarena-live") that a reader outside the process maps
 * read-only (tcarena stats --pid).  Each layer keeps owning its counters'
 * definition (struct arena_counters, struct pageheap_counters, struct
 * topology_placement); bootstrap hands each its storage in the page, and they
 * go on counting where they always did, under the locks they take anyway.
 *
 * Layout: a header (what the counters mean: page size, size classes, options,
 * where each section lies), then the page layer's counters, one struct
 * arena_counters per arena, the placement, and on pages of their own the heap
 * profiler's top sites (struct live_prof, written by src/prof.c only while it
 * runs: a process that does not profile never touches those pages, which
 * then cost it nothing, not even a page fault).  This header and the tcarena
 * command are built from the same sources; a reader refuses a page whose
 * LIVE_LAYOUT_VERSION or section sizes differ from its own. */
#ifndef TCA_LIVE_H
#define TCA_LIVE_H

#include "arenas/arena.h"
#include "arenas/topology.h"
#include "pageheap/pageheap.h"
#include "src/prof.h"

/* The memory file's name: /proc/PID/fd/N links to "/memfd:tcarena-live". */
#define LIVE_NAME "tcarena-live"
#define LIVE_MAGIC 0x316576696c616374ull /* "tcalive1" */
/* Bump when any struct of the page changes: the header, or a layer's counters. */
#define LIVE_LAYOUT_VERSION 2
#define LIVE_MAX_OPTIONS 24

struct live_option {
    char name[32];
    char value[256]; /* as TCARENA_CONF writes it (stats_file "" is stderr) */
    uint64_t quoted; /* a choice or a string: quoted in JSON */
};

/* The heap profiler's sites holding the most sampled live bytes, kept by
 * prof_record and prof_forget under prof_lock (src/prof.c).  A reader copies
 * them without a lock: sequence is odd while the profiler changes them, and a
 * copy that saw it change is taken again. */
#define LIVE_PROF_SITES 16
struct live_prof_site {
    uint64_t live_count, live_bytes; /* sampled blocks: a reader scales them up as a profile's */
    uint64_t depth;                  /* frames used, at most PROF_MAX_DEPTH */
    uint64_t frames[PROF_MAX_DEPTH]; /* return addresses, the program's first (as a profile's stack) */
};

struct live_prof {
    uint64_t sequence;
    uint64_t nsites; /* entries used, at most LIVE_PROF_SITES, in no order */
    struct live_prof_site sites[LIVE_PROF_SITES];
};

struct live_header {
    uint64_t magic;
    uint64_t layout_version;
    uint64_t pid;         /* the process counting in the page (a forked child gets its own) */
    uint64_t total_bytes; /* the page's size */
    uint64_t header_bytes;
    uint64_t heap_offset, heap_bytes;           /* struct pageheap_counters */
    uint64_t arenas_offset, arena_bytes;        /* narenas of struct arena_counters */
    uint64_t placement_offset, placement_bytes; /* struct topology_placement */
    uint64_t prof_offset, prof_bytes;           /* struct live_prof, on pages of its own */
    /* prof_sample once the profiler started (at load, just after bootstrap:
     * the one word of the header written later), else 0 and the profiler's
     * section untouched: a reader reads it from the page, not from a copy. */
    uint64_t prof_interval;
    uint64_t page_size;                         /* the allocator's page */
    uint64_t narenas, nclasses, noptions;
    char version[32];
    uint32_t class_size[TCA_NCLASSES];       /* class 0: not small */
    uint32_t class_slab_bytes[TCA_NCLASSES]; /* a slab's span, the secure build's guard page included */
    struct live_option options[LIVE_MAX_OPTIONS];
};

/* A page's sections: this process's own (live_self), or one a reader mapped. */
struct live_view {
    const struct live_header *header;
    const struct pageheap_counters *heap;
    const struct arena_counters *arenas; /* header->narenas of them */
    const struct topology_placement *placement;
    const struct live_prof *prof;
};

/* The storage bootstrap hands the layers. */
struct live_storage {
    struct pageheap_counters *heap;
    struct arena_counters *arenas;
    struct topology_placement *placement;
};

/* Creates the page for narenas arenas during bootstrap (after the options and
 * the size classes are known) and fills its header: shared memory when the
 * kernel allows it, else private memory (the counters work the same; nobody
 * can read them from outside).  False only when no memory can be had. */
bool live_boot(unsigned narenas, struct live_storage *storage);
const struct live_view *live_self(void);
/* The profiler's section, for the profiler when it starts sampling one per
 * interval bytes: from then on fork copies it too (before, its pages stay
 * untouched) and the header tells a reader it is there. */
struct live_prof *live_prof_section(uint64_t interval);

/* fork(): the child must not count in its parent's page (a MAP_SHARED mapping
 * stays shared across fork).  prepare copies the page with every allocator
 * lock held; the child puts a page of its own, holding that copy, at the same
 * address, so every layer's counter pointers stay right. */
void live_fork_prepare(void);
void live_fork_parent(void);
/* The first of the child's fork handlers: the others write counters. */
void live_fork_child(void);

#endif
