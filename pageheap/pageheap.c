/* Page heap.  Pagemap invariant kept here: an entry is set only for every page
 * of a slab and for the first and last pages of a large, free or purging span,
 * so the page just before or after a span names its neighbour, or nothing.
 *
 * Dirty pages go back to the OS when the decay curve (decay.h) says they are
 * due, least recently freed first.  madvise runs without the lock: the spans
 * being purged leave the free lists (SPAN_PURGING, so no neighbour merges with
 * them) and come back returned. */
#include "pageheap/pageheap.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "pageheap/base.h"
#include "pageheap/decay.h"
#include "pageheap/freelists.h"
#include "pageheap/os.h"
#include "pageheap/pagemap.h"

/* Regions are at least this big (address space only: pages cost RSS once touched)
 * and 2 MiB aligned so the kernel can back them with huge pages where allowed. */
#define REGION_MIN_SIZE ((size_t)64 << 20)
#define REGION_ALIGN ((size_t)2 << 20)
/* The decay purges what exceeds its allowance, split off a span's end, but
 * not in pieces smaller than this: each madvise is a system call. */
#define PURGE_MIN_PAGES 64
/* The background thread with nothing dirty sleeps until woken by a free, or
 * this long (it looks at spare slabs, and whether it is the last thread left). */
#define BACKGROUND_IDLE_MS 1000

/* The pages of one huge page: the kernel backs a region's aligned 2 MiB with
 * one where it can (REGION_ALIGN). */
#define HUGE_PAGE_PAGES (REGION_ALIGN >> TCA_PAGE_SHIFT)
/* Dirty pages kept whatever the heap's size (see purge_beyond_cap). */
#define DIRTY_CAP_MIN_PAGES (((size_t)64 << 20) >> TCA_PAGE_SHIFT)
/* Beyond this many times the cap, the cap returns holes too: after a mass
 * free of a GiB or more, with no background thread, an idle process would
 * otherwise keep every hole (massfree's tear-down of 1 GiB stays below it). */
#define CAP_HOLES_FACTOR 4

/* STARTING: a slow path is creating the thread (and stays there if it could
 * not: the slow paths keep purging, nobody tries again). */
enum background_state { BACKGROUND_OFF, BACKGROUND_STARTING, BACKGROUND_RUNNING };

/* All zero until first used (glibc's mutex initialiser is all zero), so the
 * heaps of nodes a machine lacks cost no page. */
struct node_heap {
    pthread_mutex_t lock;
    struct free_lists free;    /* free spans */
    struct span_chain purging; /* spans being purged with the lock dropped */
    struct span *spare;        /* span structs ready for reuse */
    struct heap_counters *counts; /* in the statistics page; free.counts too */
    struct decay decay;
    size_t cap_unmet_dirty; /* dirty pages when the cap last found too few huge pages, else 0 */
} __attribute__((aligned(64)));

static struct node_heap heaps[PAGEHEAP_NODES];
/* heaps[0 .. heaps_used-1] may hold memory; raised under heaps[0].lock, so
 * that fork, holding that lock, sees every heap in use. */
static unsigned heaps_used = 1;

static struct pageheap_counters *counters; /* from pageheap_boot(); a heap's own as it comes into use */

/* Shared by every node heap.  thp is set at bootstrap; purge_refused and
 * background are read without a lock; background_idle changes, and wake
 * waits, under heaps[0].lock. */
static struct {
    enum thp_mode thp;
    bool huge_pages;           /* the heap may be in huge pages: purging returns whole ones (pageheap.h) */
    bool purge_refused;        /* the kernel refused madvise: keep everything dirty */
    bool populate_refused;     /* the kernel has no MADV_POPULATE_WRITE */
    enum background_state background; /* atomic */
    bool background_idle;      /* the thread sleeps until a free signals wake */
    pthread_cond_t wake;
} shared = { .wake = PTHREAD_COND_INITIALIZER };

static void check_heap(struct node_heap *h);

void pageheap_boot(enum thp_mode thp, long decay_ms, struct pageheap_counters *storage)
{
    shared.thp = thp;
    /* thp:default asks nothing: the kernel's mode decides, "always" backing
     * the heap with huge pages, "madvise" (most systems) with small ones.
     * The kernel's mode "never" ignores MADV_HUGEPAGE. */
    char kernel_thp[128] = "";
    os_read_file("/sys/kernel/mm/transparent_hugepage/enabled", kernel_thp, sizeof kernel_thp);
    shared.huge_pages = thp == THP_ALWAYS ? !strstr(kernel_thp, "[never]")
                        : thp == THP_DEFAULT && strstr(kernel_thp, "[always]");
    decay_set_ms(decay_ms);
    counters = storage;
    heaps[0].counts = heaps[0].free.counts = &storage->heaps[0];
    base_boot(&storage->metadata_bytes);
    pagemap_boot(&storage->pagemap_bytes);
}

/* A struct stays with its heap for life (recycled structs go back to the same
 * spare list), so another heap may read node through the pagemap unlocked. */
static struct span *span_struct_new(struct node_heap *h)
{
    struct span *span = h->spare;
    if (span) {
        h->spare = span->next;
        *span = (struct span){.node = span->node};
        return span;
    }
    span = base_alloc(sizeof(struct span));
    if (span)
        span->node = (uint16_t)(h - heaps);
    return span;
}

static void span_struct_recycle(struct node_heap *h, struct span *span)
{
    span->state = 0;
    span->next = h->spare;
    h->spare = span;
}

static void span_map_ends(struct span *span)
{
    pagemap_set(span->start, span, 0);
    pagemap_set(span_last_page(span), span, 0);
}

/* Lists a free span of its kind without merging; a dirty one goes into the
 * decay order after lru_after (NULL: at the head). */
static void list_free_span(struct node_heap *h, struct span *span, struct span *lru_after)
{
    span->state = SPAN_FREE;
    span_map_ends(span);
    freelists_insert(&h->free, span, lru_after);
}

/* Merges free neighbours of the same kind into span (unlisting them), then
 * lists it; a dirty span counts as the most recently freed, or as the least
 * (idle: its pages sat unused for a decay time already). */
static void insert_free(struct node_heap *h, struct span *span, bool idle)
{
    struct span *before = span_before(span);
    if (span_free_of_kind(before, span->node, span->zeroed)) {
        freelists_remove(&h->free, before);
        pagemap_set(span_last_page(before), NULL, 0);
        pagemap_set(span->start, NULL, 0);
        span->start = before->start;
        span->npages += before->npages;
        span_struct_recycle(h, before);
    }
    struct span *after = span_after(span);
    if (span_free_of_kind(after, span->node, span->zeroed)) {
        freelists_remove(&h->free, after);
        pagemap_set(span_last_page(span), NULL, 0);
        pagemap_set(after->start, NULL, 0);
        span->npages += after->npages;
        span_struct_recycle(h, after);
    }
    list_free_span(h, span, idle ? NULL : h->free.lru.tail);
}

/* node ≥ 0: the region's pages are asked of that node before any is touched.
 * Where the kernel refuses (no such node) the region still serves, from
 * wherever the kernel places it. */
static struct span *grow(struct node_heap *h, size_t npages, int node)
{
    size_t bytes = npages << TCA_PAGE_SHIFT;
    size_t region = bytes < REGION_MIN_SIZE ? REGION_MIN_SIZE : tca_align_up(bytes, REGION_ALIGN);
    void *memory = os_map(region, REGION_ALIGN);
    if (!memory)
        return NULL;
    struct span *span = span_struct_new(h);
    if (!span || !pagemap_reserve((uintptr_t)memory, region)) {
        os_unmap(memory, region);
        if (span)
            span_struct_recycle(h, span);
        return NULL;
    }
    if (node >= 0)
        os_bind_preferred(memory, region, (unsigned)node);
    if (shared.thp != THP_DEFAULT)
        os_advise_huge_pages(memory, region, shared.thp == THP_ALWAYS);
    h->counts->mapped_bytes += region;
    span->start = (uintptr_t)memory;
    span->npages = region >> TCA_PAGE_SHIFT;
    span->zeroed = 1; /* never touched: returned */
    insert_free(h, span, false);
    return freelists_find(&h->free, npages);
}

/* Splits the pages after the first npages of an unlisted span into a new span
 * of the same zeroed-ness; NULL when no span struct can be had. */
static struct span *split_off(struct node_heap *h, struct span *span, size_t npages)
{
    struct span *back = span_struct_new(h);
    if (!back)
        return NULL;
    back->start = span->start + (npages << TCA_PAGE_SHIFT);
    back->npages = span->npages - npages;
    back->zeroed = span->zeroed;
    span->npages = npages;
    return back;
}

/* ---- purging ---- */

/* Whether dirty pages go back on the decay curve: not with decay_ms 0 (at
 * once) or -1 (never), nor once the kernel refused madvise. */
static bool decay_active(void)
{
    return decay_ms() > 0 && !__atomic_load_n(&shared.purge_refused, __ATOMIC_RELAXED);
}

/* The heap's decay, started at its first use. */
static struct decay *decay_of(struct node_heap *h)
{
    decay_start_once(&h->decay, h->counts->dirty_pages + h->counts->purging_pages);
    return &h->decay;
}

/* Marks an unlisted dirty span as being purged and chains it onto *batch. */
static void stash_for_purge(struct node_heap *h, struct span *span, struct span **batch)
{
    span_map_ends(span); /* neighbours must see it purging */
    span->state = SPAN_PURGING;
    h->counts->purging_pages += span->npages;
    span_chain_insert_after(&h->purging, NULL, span);
    span->next = *batch;
    *batch = span;
}

/* Takes dirty pages, least recently freed first, off the free lists until at
 * most keep dirty pages remain listed; chains them onto *batch. */
static void purge_take(struct node_heap *h, size_t keep, struct span **batch)
{
    while (h->counts->dirty_pages > keep && h->free.lru.head) {
        struct span *span = h->free.lru.head;
        size_t excess = h->counts->dirty_pages - keep;
        size_t purge = excess > PURGE_MIN_PAGES ? excess : PURGE_MIN_PAGES;
        freelists_remove(&h->free, span);
        struct span *back = purge < span->npages ? split_off(h, span, span->npages - purge) : NULL;
        if (back) {
            list_free_span(h, span, NULL); /* still the least recently freed */
            span = back;
        }
        stash_for_purge(h, span, batch);
    }
}

/* Takes whole huge pages out of dirty spans, least recently freed first,
 * until at most keep dirty pages remain listed (in huge pages: it may take up
 * to one more); the span's ends around them stay listed where they were in
 * the decay order.  Chains them onto *batch.
 *
 * Why whole huge pages: a mass free in progress (a program tearing down a big
 * structure), or a heap in steady use, leaves holes of a slab or two between
 * live blocks.  Returning a hole splits the huge page it lies in: the kernel
 * maps the rest with small pages (every access to the live blocks around it
 * misses the TLB more), frees the hole's memory only when it is short of
 * memory, and may collapse the page again later, at a cost; each hole is one
 * more system call.  In a tear-down the next frees make the holes whole huge
 * pages a moment later. */
static void purge_take_huge_pages(struct node_heap *h, size_t keep, struct span **batch)
{
    /* The pieces left of a span are listed where it was, before next. */
    for (struct span *span = h->free.lru.head, *next; span && h->counts->dirty_pages > keep; span = next) {
        next = span->lru_next;
        uintptr_t end = span->start + (span->npages << TCA_PAGE_SHIFT);
        uintptr_t huge_end = end & ~(REGION_ALIGN - 1);
        if (huge_end <= span->start)
            continue;
        size_t wanted = tca_align_up(h->counts->dirty_pages - keep, HUGE_PAGE_PAGES) << TCA_PAGE_SHIFT;
        uintptr_t huge_start = tca_align_up(huge_end - span->start > wanted ? huge_end - wanted : span->start, REGION_ALIGN);
        if (huge_end <= huge_start)
            continue;
        size_t first = (huge_start - span->start) >> TCA_PAGE_SHIFT, last = (huge_end - span->start) >> TCA_PAGE_SHIFT;
        struct span *lru_before = span->lru_prev;
        freelists_remove(&h->free, span);
        struct span *tail = NULL, *middle = NULL;
        if (last == span->npages || (tail = split_off(h, span, last)))
            middle = first ? split_off(h, span, first) : span;
        if (!middle) { /* no span struct: leave it whole */
            if (tail)
                span->npages += tail->npages, span_struct_recycle(h, tail);
            list_free_span(h, span, lru_before);
            continue;
        }
        if (tail)
            list_free_span(h, tail, lru_before);
        if (middle != span)
            list_free_span(h, span, lru_before);
        stash_for_purge(h, middle, batch);
    }
}

/* The decay returns holes too once frees have gone quiet (less than a huge
 * page in the last epoch): no tear-down is in progress that would make them
 * whole huge pages a moment later. */
static bool frees_quiet(const struct decay *decay) { return decay_freed_last_epoch(decay) < HUGE_PAGE_PAGES; }

/* What the decay and the cap return (pageheap.h): whole huge pages first,
 * then, with holes_too, any pages, least recently freed first. */
static struct span *purge_take_due(struct node_heap *h, size_t keep, bool holes_too)
{
    struct span *batch = NULL;
    if (shared.huge_pages)
        purge_take_huge_pages(h, keep, &batch);
    if (!shared.huge_pages || holes_too)
        purge_take(h, keep, &batch);
    return batch;
}

/* What the decay's curve says is due (the heap's decay moved to now). */
static struct span *purge_take_decayed(struct node_heap *h)
{
    return purge_take_due(h, decay_dirty_allowed(&h->decay), frees_quiet(&h->decay));
}

bool pageheap_returns_huge_pages(void) { return shared.huge_pages; }

/* Called with h's lock held, which it drops while madvise runs; returns the
 * pages returned to the OS. */
static size_t purge_batch_locked(struct node_heap *h, struct span *batch)
{
    if (!batch)
        return 0;
    pthread_mutex_unlock(&h->lock);
    for (struct span *span = batch; span; span = span->next)
        span->zeroed = os_purge((void *)span->start, span->npages << TCA_PAGE_SHIFT);
    pthread_mutex_lock(&h->lock);
    size_t purged = 0;
    for (struct span *span = batch, *next; span; span = next) {
        next = span->next;
        span_chain_remove(&h->purging, span);
        h->counts->purging_pages -= span->npages;
        if (span->zeroed)
            purged += span->npages;
        else
            __atomic_store_n(&shared.purge_refused, true, __ATOMIC_RELAXED);
        insert_free(h, span, false);
    }
    return purged;
}

/* With no background thread nobody purges once the program stops calling:
 * the pages of a mass free would stay until the next allocation, however long
 * that takes.  Beyond a cap (64 MiB, or as many pages as are in use when that
 * is more) dirty pages go back in the free that crosses it, down to three
 * quarters of the cap; below it, decay alone decides.  The cap follows the
 * heap: a program that keeps hundreds of MiB and replaces big buffers keeps
 * their holes for the next ones (purging them meant faulting every page
 * again), while after a mass free little is in use and the cap is low.  Per
 * node heap: each node keeps its own reserve.  Where the heap returns whole
 * huge pages, holes go too only beyond CAP_HOLES_FACTOR times the cap; when
 * the last look found too few huge pages, the next waits until another huge
 * page's worth is freed: holes between live blocks do not make the cap search
 * the free lists at every free. */
static struct span *purge_beyond_cap(struct node_heap *h)
{
    size_t in_use = h->counts->slab_pages + h->counts->large_pages;
    size_t cap = in_use > DIRTY_CAP_MIN_PAGES ? in_use : DIRTY_CAP_MIN_PAGES;
    size_t dirty = h->counts->dirty_pages;
    bool holes_too = dirty > CAP_HOLES_FACTOR * cap;
    if (dirty <= cap || !decay_active() ||
        (!holes_too && h->cap_unmet_dirty && dirty < h->cap_unmet_dirty + HUGE_PAGE_PAGES))
        return NULL;
    size_t keep = cap - cap / 4;
    struct span *batch = purge_take_due(h, keep, holes_too);
    h->cap_unmet_dirty = h->counts->dirty_pages > keep ? h->counts->dirty_pages : 0;
    return batch;
}

/* The slow paths' share of the decay: once per epoch (a clock read
 * otherwise), left to the background thread when it runs. */
static struct span *decay_take_due(struct node_heap *h, bool epoch_ended)
{
    if (!epoch_ended || !decay_active() ||
        __atomic_load_n(&shared.background, __ATOMIC_RELAXED) == BACKGROUND_RUNNING)
        return NULL;
    return purge_take_decayed(h);
}

/* ---- allocation ---- */

/* Moves n pages of the listed free span beside dirty (an unlisted dirty span)
 * into dirty: the end of a span before it, the start of one after it.  False,
 * with nothing changed, when no span struct can be had. */
static bool absorb_free(struct node_heap *h, struct span *dirty, struct span *free, size_t n)
{
    bool before = free->start < dirty->start;
    freelists_remove(&h->free, free);
    struct span *taken = free;
    if (n < free->npages) {
        struct span *back = split_off(h, free, before ? free->npages - n : n);
        if (!back) {
            list_free_span(h, free, NULL);
            return false;
        }
        taken = before ? back : free;
        list_free_span(h, before ? free : back, NULL);
    }
    struct span *low = before ? taken : dirty, *high = before ? dirty : taken;
    pagemap_set(span_last_page(low), NULL, 0);
    pagemap_set(high->start, NULL, 0);
    dirty->start = low->start;
    dirty->npages += taken->npages;
    span_struct_recycle(h, taken);
    return true;
}

/* Absorbs n pages of the free spans that follow dirty (after) or precede it. */
static bool absorb_side(struct node_heap *h, struct span *dirty, size_t n, bool after)
{
    while (n) {
        struct span *free = after ? span_after(dirty) : span_before(dirty);
        size_t take = n < free->npages ? n : free->npages;
        if (!absorb_free(h, dirty, free, take))
            return false;
        n -= take;
    }
    return true;
}

/* No free span fits, but a dirty one does with the free spans beside it
 * (spans of different kinds never merge, and where the heap returns whole
 * huge pages a run freed long ago alternates between them: dirty ends around
 * returned huge pages).  The run is cut from the dirty span and as much of
 * its free neighbours, on either side, as it lacks, with no madvise: the
 * dirty pages are resident already and only the returned ones fault, where
 * growing would fault the whole run and keep the dirty pages too.  The most
 * recently freed spans are tried first (a program that frees a big buffer and
 * asks for another of about its size finds it at once), at most COMBINE_SCAN
 * of them.  Returns the run listed as dirty (the most recently freed). */
#define COMBINE_SCAN 64
static struct span *find_free_combining(struct node_heap *h, size_t npages)
{
    unsigned scanned = 0;
    for (struct span *dirty = h->free.lru.tail; dirty && scanned++ < COMBINE_SCAN; dirty = dirty->lru_prev) {
        size_t from_after = 0, from_before = 0;
        for (struct span *free = span_after(dirty); dirty->npages + from_after < npages && span_free_in_heap(free, dirty->node);
             free = span_after(free))
            from_after += free->npages;
        for (struct span *free = span_before(dirty);
             dirty->npages + from_after + from_before < npages && span_free_in_heap(free, dirty->node);
             free = span_before(free))
            from_before += free->npages;
        if (dirty->npages + from_after + from_before < npages)
            continue;
        size_t lacking = npages - dirty->npages;
        from_after = lacking < from_after ? lacking : from_after;
        from_before = lacking - from_after;
        freelists_remove(&h->free, dirty);
        bool whole = absorb_side(h, dirty, from_after, true) && absorb_side(h, dirty, from_before, false);
        list_free_span(h, dirty, h->free.lru.tail);
        return whole ? dirty : NULL;
    }
    return NULL;
}

/* Node ids beyond PAGEHEAP_NODES share a heap; a heap is counted in use before
 * its first span. */
static struct node_heap *heap_of_node(int node)
{
    if (node <= 0)
        return &heaps[0];
    unsigned index = (unsigned)node % PAGEHEAP_NODES;
    if (TCA_UNLIKELY(index >= __atomic_load_n(&heaps_used, __ATOMIC_ACQUIRE))) {
        pthread_mutex_lock(&heaps[0].lock);
        for (unsigned joining = heaps_used; joining <= index; joining++)
            heaps[joining].counts = heaps[joining].free.counts = &counters->heaps[joining];
        if (index >= heaps_used)
            __atomic_store_n(&heaps_used, index + 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&heaps[0].lock);
    }
    return &heaps[index];
}

static unsigned heaps_in_use(void) { return __atomic_load_n(&heaps_used, __ATOMIC_ACQUIRE); }

struct span *pageheap_alloc_span(size_t npages, size_t align_pages, unsigned sizeclass, int node)
{
    if (npages > (TCA_MAX_REQUEST >> TCA_PAGE_SHIFT))
        return NULL;
    struct node_heap *h = heap_of_node(node);
    pthread_mutex_lock(&h->lock);
    bool epoch_ended = decay_advance(decay_of(h));
    size_t want = npages + align_pages - 1;
    struct span *span = freelists_find(&h->free, want);
    if (!span)
        span = find_free_combining(h, want);
    if (!span)
        span = grow(h, want, node);
    if (!span)
        goto out;
    /* The pieces left over keep the span's place in the decay order. */
    struct span *lru_after = span->zeroed ? NULL : span->lru_prev;
    freelists_remove(&h->free, span);
    size_t lead = (tca_align_up(span->start, align_pages << TCA_PAGE_SHIFT) - span->start) >> TCA_PAGE_SHIFT;
    struct span *aligned = lead ? split_off(h, span, lead) : span;
    struct span *tail = aligned && aligned->npages > npages ? split_off(h, aligned, npages) : NULL;
    if (!aligned || (aligned->npages > npages && !tail)) {
        if (aligned && aligned != span)
            span->npages += aligned->npages, span_struct_recycle(h, aligned);
        list_free_span(h, span, lru_after);
        span = NULL;
        goto out;
    }
    if (lead)
        list_free_span(h, span, lru_after);
    if (tail)
        list_free_span(h, tail, lru_after);
    span = aligned;
    span->next = span->prev = NULL;
    span->sizeclass = (uint8_t)sizeclass;
    if (sizeclass) {
        span->state = SPAN_SLAB;
        pagemap_set_range(span->start, span->npages, span, sizeclass);
        h->counts->slab_pages += npages;
    } else {
        span->state = SPAN_LARGE;
        span_map_ends(span);
        h->counts->large_pages += npages;
    }
#if TCA_CHECKED
    check_heap(h);
#endif
out:
    /* What the decay says is due is taken after the span: taken first, it
     * could be the very run this request needed, and the heap would grow. */
    purge_batch_locked(h, decay_take_due(h, epoch_ended));
    pthread_mutex_unlock(&h->lock);
    return span;
}

/* A free on another node's heap wakes the sleeping thread with that heap's
 * lock released: its condition goes with heaps[0].lock, and no one holds two. */
static void background_wake_locked(void)
{
    if (__atomic_load_n(&shared.background_idle, __ATOMIC_RELAXED)) {
        __atomic_store_n(&shared.background_idle, false, __ATOMIC_RELAXED);
        pthread_cond_signal(&shared.wake);
    }
}

static void free_span(struct span *span, bool idle)
{
    struct node_heap *h = &heaps[span->node];
    /* decay_ms 0: the span is ours alone, so madvise before taking the lock.
     * The unlocked read is harmless: a change of decay_ms applies from the next free. */
    bool purge_now = decay_ms() == 0 && !__atomic_load_n(&shared.purge_refused, __ATOMIC_RELAXED);
    bool purged = purge_now && os_purge((void *)span->start, span->npages << TCA_PAGE_SHIFT);
    pthread_mutex_lock(&h->lock);
    struct decay *decay = decay_of(h);
    if (purge_now && !purged)
        __atomic_store_n(&shared.purge_refused, true, __ATOMIC_RELAXED);
    if (span->state == SPAN_SLAB) {
        pagemap_set_range(span->start, span->npages, NULL, 0);
        h->counts->slab_pages -= span->npages;
    } else {
        h->counts->large_pages -= span->npages;
    }
    span->zeroed = purged;
    bool epoch_ended = decay_advance(decay);
    if (!purged && !idle)
        decay_count_freed(decay, span->npages);
    insert_free(h, span, idle);
    struct span *due = decay_take_due(h, epoch_ended);
    if (!due)
        due = purge_beyond_cap(h);
    if (h == heaps)
        background_wake_locked();
#if TCA_CHECKED
    check_heap(h);
#endif
    purge_batch_locked(h, due);
    pthread_mutex_unlock(&h->lock);
    if (h != heaps && __atomic_load_n(&shared.background_idle, __ATOMIC_RELAXED)) {
        pthread_mutex_lock(&heaps[0].lock);
        background_wake_locked();
        pthread_mutex_unlock(&heaps[0].lock);
    }
}

void pageheap_free_span(struct span *span) { free_span(span, false); }

void pageheap_free_idle_span(struct span *span) { free_span(span, true); }

/* A first write to a small page traps into the kernel, which a virtual
 * machine makes dear: 11-15 µs per 4 KiB on the development machine, against
 * 8.6 µs per page populated by one call and then written.  Huge pages fault
 * 2 MiB at once and need none of it; only fresh pages (read zero) come here,
 * and only those about to be written, so RSS does not move. */
void pageheap_prefault(uintptr_t start, uintptr_t end)
{
    if (shared.huge_pages || __atomic_load_n(&shared.populate_refused, __ATOMIC_RELAXED))
        return;
    size_t page = os_system_page_size();
    uintptr_t first = start & ~(page - 1), past = tca_align_up(end, page);
    if (!os_populate((void *)first, past - first))
        __atomic_store_n(&shared.populate_refused, true, __ATOMIC_RELAXED);
}

size_t pageheap_purge(bool all)
{
    size_t purged = 0;
    for (unsigned i = 0, used = heaps_in_use(); i < used; i++) {
        struct node_heap *h = &heaps[i];
        pthread_mutex_lock(&h->lock);
        struct decay *decay = decay_of(h);
        struct span *batch = NULL;
        if (all)
            purge_take(h, 0, &batch);
        else if (decay_active()) {
            decay_advance(decay);
            batch = purge_take_decayed(h);
        }
        purged += purge_batch_locked(h, batch);
        pthread_mutex_unlock(&h->lock);
    }
    return purged << TCA_PAGE_SHIFT;
}

void pageheap_set_decay_ms(long ms)
{
    decay_set_ms(ms);
    for (unsigned i = 0, used = heaps_in_use(); i < used; i++) {
        struct node_heap *h = &heaps[i];
        pthread_mutex_lock(&h->lock);
        decay_restart(&h->decay, h->counts->dirty_pages + h->counts->purging_pages);
        if (i == 0)
            pthread_cond_signal(&shared.wake); /* a sleeping background thread follows the new pace */
        pthread_mutex_unlock(&h->lock);
    }
    if (ms == 0)
        pageheap_purge(true);
}

/* ---- background thread ---- */

bool pageheap_background_claim(void)
{
    pthread_mutex_lock(&heaps[0].lock);
    enum background_state state = __atomic_load_n(&shared.background, __ATOMIC_RELAXED);
    bool mine = state == BACKGROUND_OFF;
    if (mine)
        __atomic_store_n(&shared.background, BACKGROUND_STARTING, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&heaps[0].lock);
    return mine;
}

/* Purges what is due in h (locked) and lowers *wait_ms to the end of its
 * epoch when anything is dirty there; true when something is. */
static bool background_purge_locked(struct node_heap *h, uint64_t *wait_ms)
{
    struct decay *decay = decay_of(h);
    struct span *due = NULL;
    if (decay_active()) {
        decay_advance(decay);
        due = purge_take_decayed(h);
    }
    purge_batch_locked(h, due);
    if (!decay_active() || !h->counts->dirty_pages)
        return false;
    uint64_t until_epoch_end = decay_ms_to_epoch_end(decay);
    if (until_epoch_end < *wait_ms)
        *wait_ms = until_epoch_end;
    return true;
}

/* Heap 0 last, its lock kept into the wait, so a free there cannot slip
 * between the look and the sleep.  A free on another node in that gap (it saw
 * the thread awake) waits for the idle wake at worst. */
void pageheap_background_step(void)
{
    __atomic_store_n(&shared.background, BACKGROUND_RUNNING, __ATOMIC_RELAXED);
    /* Sleep to the end of the epoch while anything is dirty, else until a
     * free wakes us (or a long while, to look at the arenas' spare slabs).
     * Waking every epoch, not at the next purge the counts predict: a burst
     * of frees during a long sleep would start decaying late. */
    uint64_t wait_ms = BACKGROUND_IDLE_MS;
    bool dirty = false;
    for (unsigned i = heaps_in_use(); i-- > 1;) {
        pthread_mutex_lock(&heaps[i].lock);
        dirty |= background_purge_locked(&heaps[i], &wait_ms);
        pthread_mutex_unlock(&heaps[i].lock);
    }
    pthread_mutex_lock(&heaps[0].lock);
    dirty |= background_purge_locked(&heaps[0], &wait_ms);
    if (!dirty && decay_active())
        __atomic_store_n(&shared.background_idle, true, __ATOMIC_RELAXED);
    struct timespec deadline = os_monotonic_deadline(wait_ms);
    pthread_cond_clockwait(&shared.wake, &heaps[0].lock, CLOCK_MONOTONIC, &deadline);
    __atomic_store_n(&shared.background_idle, false, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&heaps[0].lock);
}

/* ---- stats, fork, checks ---- */

static void read_heap_stats(struct node_heap *h, struct pageheap_stats *out)
{
    pthread_mutex_lock(&h->lock);
    pageheap_stats_add(out, h->counts);
    pthread_mutex_unlock(&h->lock);
}

void pageheap_read_stats(struct pageheap_stats *out)
{
    *out = (struct pageheap_stats){0};
    for (unsigned i = 0, used = heaps_in_use(); i < used; i++)
        read_heap_stats(&heaps[i], out);
}

/* One node's heap (node % PAGEHEAP_NODES), for the tests, which declare it. */
void pageheap_read_node_stats(unsigned node, struct pageheap_stats *out)
{
    *out = (struct pageheap_stats){0};
    if (node % PAGEHEAP_NODES < heaps_in_use())
        read_heap_stats(&heaps[node % PAGEHEAP_NODES], out);
}

/* Heap 0 first: with it held no heap can come into use (heap_of_node). */
static unsigned fork_heaps;

void pageheap_fork_prepare(void)
{
    pthread_mutex_lock(&heaps[0].lock);
    fork_heaps = heaps_used;
    for (unsigned i = 1; i < fork_heaps; i++)
        pthread_mutex_lock(&heaps[i].lock);
}

void pageheap_fork_parent(void)
{
    for (unsigned i = fork_heaps; i-- > 0;)
        pthread_mutex_unlock(&heaps[i].lock);
}

/* Spans some thread of the parent was purging come back dirty: whether its
 * madvise ran is unknown. */
void pageheap_fork_child(void)
{
    pthread_cond_init(&shared.wake, NULL);
    for (unsigned i = 0; i < fork_heaps; i++) {
        struct node_heap *h = &heaps[i];
        pthread_mutex_init(&h->lock, NULL);
        while (h->purging.head) {
            struct span *span = h->purging.head;
            span_chain_remove(&h->purging, span);
            h->counts->purging_pages -= span->npages;
            span->zeroed = 0;
            insert_free(h, span, false);
        }
    }
    /* The parent's thread is not in the child: it is started again when wanted. */
    shared.background = BACKGROUND_OFF;
    shared.background_idle = false;
}

static void check_heap(struct node_heap *h)
{
    freelists_check(&h->free, (uint16_t)(h - heaps));
    size_t purging_pages = 0;
    for (struct span *span = h->purging.head; span; span = span->lru_next)
        purging_pages += span->npages;
    if (purging_pages != h->counts->purging_pages)
        os_fatal_pointer("page heap: dirty page count drifted", NULL, 0);
}

/* Every node heap's invariants, for the tests (which declare it; checked
 * builds verify them at every step): no thread may use the heap meanwhile. */
void pageheap_check(void)
{
    for (unsigned i = 0, used = heaps_in_use(); i < used; i++)
        check_heap(&heaps[i]);
}
