/* The free spans of one node heap, indexed for its allocation and its decay:
 * per kind (dirty or returned), an exact-size list for each length up to
 * FREELISTS_EXACT pages with a bitmap of the lists that hold a span, and one
 * list of the longer spans; the dirty spans also in the order they were freed.
 * The caller holds the heap's lock and keeps the pagemap (see pageheap.c). */
#ifndef TCA_FREELISTS_H
#define TCA_FREELISTS_H

#include "pageheap/pageheap.h"
#include "pageheap/span.h"

#define FREELISTS_EXACT 128
#define FREELISTS_EXACT_WORDS ((FREELISTS_EXACT + 64) / 64)

/* A free span's kind is its zeroed flag. */
enum { FREE_DIRTY = 0, FREE_RETURNED = 1 };

struct free_lists_of_kind {
    struct span *exact[FREELISTS_EXACT + 1];
    struct span *large;
    uint64_t nonempty[FREELISTS_EXACT_WORDS]; /* bit n: exact[n] has a span */
};

struct free_lists {
    struct free_lists_of_kind kinds[2]; /* [FREE_DIRTY], [FREE_RETURNED] */
    struct span_chain lru;              /* dirty spans, least recently freed first */
    struct heap_counters *counts;       /* its dirty_pages and returned_pages: the lists' pages */
};

/* Lists a free span (state SPAN_FREE) of its kind; a dirty one goes into the
 * decay order after lru_after (NULL: at the head, the least recently freed). */
void freelists_insert(struct free_lists *lists, struct span *span, struct span *lru_after);
void freelists_remove(struct free_lists *lists, struct span *span);
/* A free span of at least npages pages, dirty ones first (they are resident
 * already, returned ones fault again): the shortest that fits; NULL if none. */
struct span *freelists_find(const struct free_lists *lists, size_t npages);
/* Checked builds: aborts unless every listed span is in its right list, in the
 * pagemap at both ends and without a free neighbour of its kind, and the
 * counts and the decay order add up.  node: the heap's. */
void freelists_check(const struct free_lists *lists, uint16_t node);

#endif
