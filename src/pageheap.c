/* Page heap.  Pagemap invariant kept here: an entry is set only for every page
 * of a slab and for the first and last pages of a large or free span, so the
 * page just before or after a span names its neighbour, or nothing. */
#include "pageheap.h"

#include <pthread.h>

#include "base.h"
#include "os.h"
#include "pagemap.h"

/* Regions are at least this big (address space only: pages cost RSS once touched)
 * and 2 MiB aligned so the kernel can back them with huge pages where allowed. */
#define REGION_MIN_SIZE ((size_t)64 << 20)
#define REGION_ALIGN ((size_t)2 << 20)
/* Free spans up to this many pages sit in exact-size lists; bigger ones in one list. */
#define EXACT_LISTS 128

static struct {
    pthread_mutex_t lock;
    struct span *exact[EXACT_LISTS + 1];
    struct span *large;
    struct span *spare;  /* span structs ready for reuse */
    size_t mapped_bytes, free_pages, large_pages, slab_pages;
} heap = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct span **free_list_for(size_t npages)
{
    return npages <= EXACT_LISTS ? &heap.exact[npages] : &heap.large;
}

static void list_push(struct span **list, struct span *span)
{
    span->prev = NULL;
    span->next = *list;
    if (*list)
        (*list)->prev = span;
    *list = span;
}

static void list_remove(struct span **list, struct span *span)
{
    if (span->prev)
        span->prev->next = span->next;
    else
        *list = span->next;
    if (span->next)
        span->next->prev = span->prev;
    span->next = span->prev = NULL;
}

static struct span *span_struct_new(void)
{
    struct span *span = heap.spare;
    if (span) {
        heap.spare = span->next;
        *span = (struct span){0};
        return span;
    }
    return base_alloc(sizeof(struct span));
}

static void span_struct_recycle(struct span *span)
{
    span->state = 0;
    span->next = heap.spare;
    heap.spare = span;
}

static uintptr_t span_last_page(const struct span *span)
{
    return span->start + ((span->npages - 1) << TCA_PAGE_SHIFT);
}

static void span_map_ends(struct span *span)
{
    pagemap_set(span->start, span, 0);
    pagemap_set(span_last_page(span), span, 0);
}

/* Merges free neighbours into span (removing them from their lists), then lists it. */
static void insert_free(struct span *span)
{
    span->state = SPAN_FREE;
    struct span *before = span->start >= TCA_PAGE_SIZE ? pagemap_span_of((void *)(span->start - TCA_PAGE_SIZE)) : NULL;
    if (before && before->state == SPAN_FREE) {
        list_remove(free_list_for(before->npages), before);
        heap.free_pages -= before->npages;
        pagemap_set(span_last_page(before), NULL, 0);
        pagemap_set(span->start, NULL, 0);
        span->start = before->start;
        span->npages += before->npages;
        span->zeroed &= before->zeroed;
        span_struct_recycle(before);
    }
    struct span *after = pagemap_span_of((void *)(span->start + (span->npages << TCA_PAGE_SHIFT)));
    if (after && after->state == SPAN_FREE) {
        list_remove(free_list_for(after->npages), after);
        heap.free_pages -= after->npages;
        pagemap_set(span_last_page(span), NULL, 0);
        pagemap_set(after->start, NULL, 0);
        span->npages += after->npages;
        span->zeroed &= after->zeroed;
        span_struct_recycle(after);
    }
    span_map_ends(span);
    list_push(free_list_for(span->npages), span);
    heap.free_pages += span->npages;
}

static struct span *find_free(size_t npages)
{
    for (size_t n = npages; n <= EXACT_LISTS; n++)
        if (heap.exact[n])
            return heap.exact[n];
    /* Best fit among the big ones, lower address on ties: keeps the heap compact. */
    struct span *best = NULL;
    for (struct span *span = heap.large; span; span = span->next)
        if (span->npages >= npages &&
            (!best || span->npages < best->npages ||
             (span->npages == best->npages && span->start < best->start)))
            best = span;
    return best;
}

static struct span *grow(size_t npages)
{
    size_t bytes = npages << TCA_PAGE_SHIFT;
    size_t region = bytes < REGION_MIN_SIZE ? REGION_MIN_SIZE : tca_align_up(bytes, REGION_ALIGN);
    void *memory = os_map(region, REGION_ALIGN);
    if (!memory)
        return NULL;
    struct span *span = span_struct_new();
    if (!span || !pagemap_reserve((uintptr_t)memory, region)) {
        os_unmap(memory, region);
        if (span)
            span_struct_recycle(span);
        return NULL;
    }
    heap.mapped_bytes += region;
    span->start = (uintptr_t)memory;
    span->npages = region >> TCA_PAGE_SHIFT;
    span->zeroed = 1;
    insert_free(span);
    return find_free(npages);
}

/* Splits the pages after the first npages of an unlisted span into a new span
 * of the same zeroed-ness; NULL when no span struct can be had. */
static struct span *split_off(struct span *span, size_t npages)
{
    struct span *back = span_struct_new();
    if (!back)
        return NULL;
    back->start = span->start + (npages << TCA_PAGE_SHIFT);
    back->npages = span->npages - npages;
    back->zeroed = span->zeroed;
    span->npages = npages;
    return back;
}

/* Lists a span carved from a free span: its neighbours are in use, so no merging. */
static void list_free_span(struct span *span)
{
    span->state = SPAN_FREE;
    span_map_ends(span);
    list_push(free_list_for(span->npages), span);
    heap.free_pages += span->npages;
}

struct span *pageheap_alloc_span(size_t npages, size_t align_pages, unsigned sizeclass)
{
    if (npages > (TCA_MAX_REQUEST >> TCA_PAGE_SHIFT))
        return NULL;
    pthread_mutex_lock(&heap.lock);
    size_t want = npages + align_pages - 1;
    struct span *span = find_free(want);
    if (!span)
        span = grow(want);
    if (!span)
        goto out;
    list_remove(free_list_for(span->npages), span);
    heap.free_pages -= span->npages;
    size_t lead = (tca_align_up(span->start, align_pages << TCA_PAGE_SHIFT) - span->start) >> TCA_PAGE_SHIFT;
    struct span *aligned = lead ? split_off(span, lead) : span;
    struct span *tail = aligned && aligned->npages > npages ? split_off(aligned, npages) : NULL;
    if (!aligned || (aligned->npages > npages && !tail)) {
        if (aligned && aligned != span)
            span->npages += aligned->npages, span_struct_recycle(aligned);
        insert_free(span);
        span = NULL;
        goto out;
    }
    if (lead)
        list_free_span(span);
    if (tail)
        list_free_span(tail);
    span = aligned;
    span->next = span->prev = NULL;
    span->sizeclass = (uint8_t)sizeclass;
    if (sizeclass) {
        span->state = SPAN_SLAB;
        pagemap_set_range(span->start, span->npages, span, sizeclass);
        heap.slab_pages += npages;
    } else {
        span->state = SPAN_LARGE;
        span_map_ends(span);
        heap.large_pages += npages;
    }
#if TCA_CHECKED
    pageheap_check();
#endif
out:
    pthread_mutex_unlock(&heap.lock);
    return span;
}

void pageheap_free_span(struct span *span)
{
    pthread_mutex_lock(&heap.lock);
    if (span->state == SPAN_SLAB) {
        pagemap_set_range(span->start, span->npages, NULL, 0);
        heap.slab_pages -= span->npages;
    } else {
        heap.large_pages -= span->npages;
    }
    /* The pages are dirty now; whether a split-off remainder is zero is kept per span. */
    span->zeroed = 0;
    span->arena = NULL;
    insert_free(span);
#if TCA_CHECKED
    pageheap_check();
#endif
    pthread_mutex_unlock(&heap.lock);
}

void pageheap_read_stats(struct pageheap_stats *out)
{
    pthread_mutex_lock(&heap.lock);
    out->mapped_bytes = heap.mapped_bytes;
    out->free_bytes = heap.free_pages << TCA_PAGE_SHIFT;
    out->large_bytes = heap.large_pages << TCA_PAGE_SHIFT;
    out->slab_bytes = heap.slab_pages << TCA_PAGE_SHIFT;
    pthread_mutex_unlock(&heap.lock);
}

void pageheap_fork_prepare(void) { pthread_mutex_lock(&heap.lock); }
void pageheap_fork_parent(void) { pthread_mutex_unlock(&heap.lock); }
void pageheap_fork_child(void) { pthread_mutex_init(&heap.lock, NULL); }

static void check_failed(const char *what, const struct span *span)
{
    os_fatal_pointer(what, (void *)span->start, 0);
}

void pageheap_check(void)
{
    size_t free_pages = 0;
    for (size_t list = 1; list <= EXACT_LISTS + 1; list++) {
        struct span *head = list <= EXACT_LISTS ? heap.exact[list] : heap.large;
        for (struct span *span = head; span; span = span->next) {
            if (span->state != SPAN_FREE || free_list_for(span->npages) != (list <= EXACT_LISTS ? &heap.exact[list] : &heap.large))
                check_failed("page heap: free span in the wrong list at", span);
            if (pagemap_span_of((void *)span->start) != span || pagemap_span_of((void *)span_last_page(span)) != span)
                check_failed("page heap: free span not in the pagemap at", span);
            struct span *after = pagemap_span_of((void *)(span->start + (span->npages << TCA_PAGE_SHIFT)));
            if (after && after->state == SPAN_FREE)
                check_failed("page heap: uncoalesced free spans at", span);
            free_pages += span->npages;
        }
    }
    if (free_pages != heap.free_pages)
        check_failed("page heap: free page count drifted at", heap.large ? heap.large : &(struct span){0});
}
