/* Page heap.  Pagemap invariant kept here: an entry is set only for every page
 * of a slab and for the first and last pages of a large, free or purging span,
 * so the page just before or after a span names its neighbour, or nothing.
 *
 * Decay (after jemalloc's): time is cut into DECAY_STEPS epochs per decay_ms, and
 * each epoch counts the pages freed in it.  The dirty pages allowed at any
 * moment are those counts weighted by a smoothstep curve of their age, from 1
 * (freed in this epoch) to 0 (freed decay_ms ago); what exceeds that goes back
 * to the OS, least recently freed spans first.  A count, not a per-span age,
 * so that coalescing never changes when memory is due: a burst of frees is
 * gone one decay time later however its spans merged, and a steady state
 * keeps about half a decay time's worth of freed pages for reuse.
 *
 * madvise runs without the lock: the spans being purged leave the free lists
 * (SPAN_PURGING, so no neighbour merges with them) and come back returned. */
#include "pageheap.h"

#include <pthread.h>
#include <time.h>

#include "base.h"
#include "options.h"
#include "os.h"
#include "pagemap.h"

/* Regions are at least this big (address space only: pages cost RSS once touched)
 * and 2 MiB aligned so the kernel can back them with huge pages where allowed. */
#define REGION_MIN_SIZE ((size_t)64 << 20)
#define REGION_ALIGN ((size_t)2 << 20)
/* Free spans up to this many pages sit in exact-size lists; bigger ones in one list. */
#define EXACT_LISTS 128
#define EXACT_WORDS ((EXACT_LISTS + 64) / 64)
#define DECAY_STEPS 20
/* The decay purges what exceeds its allowance, split off a span's end, but
 * not in pieces smaller than this: each madvise is a system call. */
#define PURGE_MIN_PAGES 64
/* The background thread is worth a thread once this much has been freed to
 * the heap in all: a burst, or a process that churns (threads coming and
 * going).  Small programs never get one. */
#define BACKGROUND_START_PAGES (((size_t)64 << 20) >> TCA_PAGE_SHIFT)
/* The background thread with nothing dirty sleeps until woken by a free, or
 * this long (it looks at spare slabs, and whether it is the last thread left). */
#define BACKGROUND_IDLE_MS 1000

/* Dirty pages kept whatever the heap's size (see purge_beyond_cap). */
#define DIRTY_CAP_MIN_PAGES (((size_t)64 << 20) >> TCA_PAGE_SHIFT)

/* Fraction (of 2^16) of the pages freed age epochs ago still allowed to stay
 * dirty: 1 - smoothstep(age / DECAY_STEPS). */
#define DECAY_SMOOTH(x) ((x) * (x) * (3.0 - 2.0 * (x)))
#define DECAY_WEIGHT(age) ((uint32_t)(65536.0 * (1.0 - DECAY_SMOOTH((double)(age) / DECAY_STEPS))))
static const uint32_t decay_weight[DECAY_STEPS] = {
    DECAY_WEIGHT(0),  DECAY_WEIGHT(1),  DECAY_WEIGHT(2),  DECAY_WEIGHT(3),  DECAY_WEIGHT(4),
    DECAY_WEIGHT(5),  DECAY_WEIGHT(6),  DECAY_WEIGHT(7),  DECAY_WEIGHT(8),  DECAY_WEIGHT(9),
    DECAY_WEIGHT(10), DECAY_WEIGHT(11), DECAY_WEIGHT(12), DECAY_WEIGHT(13), DECAY_WEIGHT(14),
    DECAY_WEIGHT(15), DECAY_WEIGHT(16), DECAY_WEIGHT(17), DECAY_WEIGHT(18), DECAY_WEIGHT(19),
};

/* Index into heap.lists: a free span's zeroed flag. */
enum { DIRTY = 0, RETURNED = 1 };

struct free_lists {
    struct span *exact[EXACT_LISTS + 1];
    struct span *large;
    uint64_t nonempty[EXACT_WORDS]; /* bit n: exact[n] has a span */
};

struct span_chain {
    struct span *head, *tail;
};

/* STARTING: a slow path is creating the thread (and stays there if it could
 * not: the slow paths keep purging, nobody tries again). */
enum background_state { BACKGROUND_OFF, BACKGROUND_WANTED, BACKGROUND_STARTING, BACKGROUND_RUNNING };
/* decay_ms before the options are read. */
#define DECAY_UNSET (-2L)

static struct {
    pthread_mutex_t lock;
    struct free_lists lists[2];
    struct span_chain lru;     /* dirty spans, least recently freed first */
    struct span_chain purging; /* spans being purged with the lock dropped */
    struct span *spare;        /* span structs ready for reuse */
    size_t mapped_bytes, large_pages, slab_pages;
    size_t dirty_pages, returned_pages, purging_pages; /* free pages: listed dirty, returned, in flight */
    size_t freed_total_pages;  /* every page ever freed to the heap */
    bool purge_refused;        /* the kernel refused madvise: keep everything dirty */
    long decay_ms;             /* DECAY_UNSET until the first span is allocated */
    uint64_t epoch_ms, epoch_end_ms;
    unsigned epoch;            /* index of the current epoch in freed[] */
    size_t freed[DECAY_STEPS]; /* pages freed per epoch, the last DECAY_STEPS epochs */
    enum background_state background;
    bool background_idle;      /* the thread sleeps until a free signals wake */
    pthread_cond_t wake;
} heap = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .decay_ms = DECAY_UNSET };

bool pageheap_background_wanted;

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

/* The decay order and the purging list link through lru_next/lru_prev.
 * after: the span to follow, NULL for the head. */
static void chain_insert_after(struct span_chain *chain, struct span *after, struct span *span)
{
    span->lru_prev = after;
    span->lru_next = after ? after->lru_next : chain->head;
    if (span->lru_next)
        span->lru_next->lru_prev = span;
    else
        chain->tail = span;
    if (after)
        after->lru_next = span;
    else
        chain->head = span;
}

static void chain_remove(struct span_chain *chain, struct span *span)
{
    if (span->lru_prev)
        span->lru_prev->lru_next = span->lru_next;
    else
        chain->head = span->lru_next;
    if (span->lru_next)
        span->lru_next->lru_prev = span->lru_prev;
    else
        chain->tail = span->lru_prev;
    span->lru_next = span->lru_prev = NULL;
}

static struct span **free_list_for(struct free_lists *lists, size_t npages)
{
    return npages <= EXACT_LISTS ? &lists->exact[npages] : &lists->large;
}

static size_t *free_count_of(const struct span *span)
{
    return span->zeroed ? &heap.returned_pages : &heap.dirty_pages;
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

static uintptr_t span_end(const struct span *span)
{
    return span->start + (span->npages << TCA_PAGE_SHIFT);
}

static uintptr_t span_last_page(const struct span *span)
{
    return span_end(span) - TCA_PAGE_SIZE;
}

static void span_map_ends(struct span *span)
{
    pagemap_set(span->start, span, 0);
    pagemap_set(span_last_page(span), span, 0);
}

/* Lists a free span of its kind without merging; a dirty one goes into the
 * LRU list after lru_after (NULL: at the head). */
static void list_free_span(struct span *span, struct span *lru_after)
{
    struct free_lists *lists = &heap.lists[span->zeroed];
    span->state = SPAN_FREE;
    span_map_ends(span);
    list_push(free_list_for(lists, span->npages), span);
    if (span->npages <= EXACT_LISTS)
        lists->nonempty[span->npages / 64] |= (uint64_t)1 << (span->npages % 64);
    if (!span->zeroed)
        chain_insert_after(&heap.lru, lru_after, span);
    *free_count_of(span) += span->npages;
}

static void unlist_free_span(struct span *span)
{
    struct free_lists *lists = &heap.lists[span->zeroed];
    struct span **list = free_list_for(lists, span->npages);
    list_remove(list, span);
    if (span->npages <= EXACT_LISTS && !*list)
        lists->nonempty[span->npages / 64] &= ~((uint64_t)1 << (span->npages % 64));
    if (!span->zeroed)
        chain_remove(&heap.lru, span);
    *free_count_of(span) -= span->npages;
}

static struct span *span_before(const struct span *span)
{
    return span->start >= TCA_PAGE_SIZE ? pagemap_span_of((void *)(span->start - TCA_PAGE_SIZE)) : NULL;
}

static struct span *span_after(const struct span *span) { return pagemap_span_of((void *)span_end(span)); }

/* Whether neighbour is a free span of the kind given (zeroed: returned). */
static bool free_of_kind(const struct span *neighbour, uint8_t zeroed)
{
    return neighbour && neighbour->state == SPAN_FREE && neighbour->zeroed == zeroed;
}

/* Merges free neighbours of the same kind into span (unlisting them), then
 * lists it; a dirty span counts as the most recently freed, or as the least
 * (idle: its pages sat unused for a decay time already). */
static void insert_free(struct span *span, bool idle)
{
    struct span *before = span_before(span);
    if (free_of_kind(before, span->zeroed)) {
        unlist_free_span(before);
        pagemap_set(span_last_page(before), NULL, 0);
        pagemap_set(span->start, NULL, 0);
        span->start = before->start;
        span->npages += before->npages;
        span_struct_recycle(before);
    }
    struct span *after = span_after(span);
    if (free_of_kind(after, span->zeroed)) {
        unlist_free_span(after);
        pagemap_set(span_last_page(span), NULL, 0);
        pagemap_set(after->start, NULL, 0);
        span->npages += after->npages;
        span_struct_recycle(after);
    }
    list_free_span(span, idle ? NULL : heap.lru.tail);
}

static size_t first_exact_list(const struct free_lists *lists, size_t npages)
{
    for (size_t word = npages / 64; word < EXACT_WORDS; word++) {
        uint64_t bits = lists->nonempty[word];
        if (word == npages / 64)
            bits &= ~(uint64_t)0 << (npages % 64);
        if (bits)
            return word * 64 + (size_t)__builtin_ctzll(bits);
    }
    return SIZE_MAX;
}

/* Dirty pages first: they are already resident, returned ones fault again. */
static struct span *find_free(size_t npages)
{
    for (unsigned kind = DIRTY; kind <= RETURNED; kind++) {
        const struct free_lists *lists = &heap.lists[kind];
        size_t exact = first_exact_list(lists, npages);
        if (exact <= EXACT_LISTS)
            return lists->exact[exact];
        /* Best fit among the big ones, lower address on ties: keeps the heap compact. */
        struct span *best = NULL;
        for (struct span *span = lists->large; span; span = span->next)
            if (span->npages >= npages &&
                (!best || span->npages < best->npages ||
                 (span->npages == best->npages && span->start < best->start)))
                best = span;
        if (best)
            return best;
    }
    return NULL;
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
    if (tca_options.thp != THP_DEFAULT)
        os_advise_huge_pages(memory, region, tca_options.thp == THP_ALWAYS);
    heap.mapped_bytes += region;
    span->start = (uintptr_t)memory;
    span->npages = region >> TCA_PAGE_SHIFT;
    span->zeroed = 1; /* never touched: returned */
    insert_free(span, false);
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

/* ---- decay ---- */

static void decay_set_locked(long ms, uint64_t now)
{
    __atomic_store_n(&heap.decay_ms, ms, __ATOMIC_RELAXED);
    heap.epoch_ms = ms > DECAY_STEPS ? (uint64_t)ms / DECAY_STEPS : 1;
    heap.epoch_end_ms = now + heap.epoch_ms;
    /* Whatever is dirty now starts its decay now. */
    for (unsigned i = 0; i < DECAY_STEPS; i++)
        heap.freed[i] = 0;
    heap.freed[heap.epoch] = heap.dirty_pages + heap.purging_pages;
}

static void decay_ensure_ready(void)
{
    if (TCA_UNLIKELY(heap.decay_ms == DECAY_UNSET))
        decay_set_locked(tca_options.decay_ms, os_clock_ms());
}

static bool decay_active(void)
{
    return heap.decay_ms > 0 && !heap.purge_refused;
}

/* Moves the epoch ring forward to now; true when an epoch ended. */
static bool decay_advance(uint64_t now)
{
    if (now < heap.epoch_end_ms)
        return false;
    uint64_t ended = (now - heap.epoch_end_ms) / heap.epoch_ms + 1;
    heap.epoch_end_ms += ended * heap.epoch_ms;
    for (uint64_t i = 0; i < ended && i < DECAY_STEPS; i++) {
        heap.epoch = (heap.epoch + 1) % DECAY_STEPS;
        heap.freed[heap.epoch] = 0;
    }
    return true;
}

static size_t decay_dirty_allowed(void)
{
    uint64_t allowed = 0;
    for (unsigned age = 0; age < DECAY_STEPS; age++)
        allowed += (uint64_t)heap.freed[(heap.epoch + DECAY_STEPS - age) % DECAY_STEPS] * decay_weight[age];
    return (size_t)(allowed >> 16);
}

/* Marks an unlisted dirty span as being purged and chains it onto *batch. */
static void stash_for_purge(struct span *span, struct span **batch)
{
    span_map_ends(span); /* neighbours must see it purging */
    span->state = SPAN_PURGING;
    heap.purging_pages += span->npages;
    chain_insert_after(&heap.purging, NULL, span);
    span->next = *batch;
    *batch = span;
}

/* Takes dirty pages, least recently freed first, off the free lists until at
 * most keep dirty pages remain listed; returns them chained through next. */
static struct span *purge_take(size_t keep)
{
    struct span *batch = NULL;
    while (heap.dirty_pages > keep && heap.lru.head) {
        struct span *span = heap.lru.head;
        size_t excess = heap.dirty_pages - keep;
        size_t purge = excess > PURGE_MIN_PAGES ? excess : PURGE_MIN_PAGES;
        unlist_free_span(span);
        struct span *back = purge < span->npages ? split_off(span, span->npages - purge) : NULL;
        if (back) {
            list_free_span(span, NULL); /* still the least recently freed */
            span = back;
        }
        stash_for_purge(span, &batch);
    }
    return batch;
}

/* Called with the lock held, which it drops while madvise runs; returns the
 * pages returned to the OS. */
static size_t purge_batch_locked(struct span *batch)
{
    if (!batch)
        return 0;
    pthread_mutex_unlock(&heap.lock);
    for (struct span *span = batch; span; span = span->next)
        span->zeroed = os_purge((void *)span->start, span->npages << TCA_PAGE_SHIFT);
    pthread_mutex_lock(&heap.lock);
    size_t purged = 0;
    for (struct span *span = batch, *next; span; span = next) {
        next = span->next;
        chain_remove(&heap.purging, span);
        heap.purging_pages -= span->npages;
        if (span->zeroed)
            purged += span->npages;
        else
            __atomic_store_n(&heap.purge_refused, true, __ATOMIC_RELAXED);
        insert_free(span, false);
    }
    return purged;
}

/* With no background thread nobody purges once the program stops calling:
 * the pages of a mass free would stay until the next allocation, however long
 * that takes.  Beyond a cap (64 MiB, or a quarter of the pages in use when that
 * is more) dirty pages go back in the free that crosses it, down to three
 * quarters of the cap; below it, decay alone decides. */
static struct span *purge_beyond_cap(void)
{
    size_t in_use = heap.slab_pages + heap.large_pages;
    size_t cap = in_use / 4 > DIRTY_CAP_MIN_PAGES ? in_use / 4 : DIRTY_CAP_MIN_PAGES;
    if (heap.dirty_pages <= cap || !decay_active())
        return NULL;
    return purge_take(cap - cap / 4);
}

/* The slow paths' share of the decay: once per epoch (a clock read
 * otherwise), left to the background thread when it runs. */
static struct span *decay_take_due(bool epoch_ended)
{
    if (!epoch_ended || !decay_active() || heap.background == BACKGROUND_RUNNING)
        return NULL;
    return purge_take(decay_dirty_allowed());
}

/* ---- allocation ---- */

/* No free span fits, but a dirty one with returned neighbours might once it
 * is returned too (spans of different kinds never merge).  Better than
 * growing while decay is on: the new block faults either way, and the heap
 * does not keep both.  decay_ms -1 asked for no madvise: it grows. */
static struct span *find_free_by_returning(size_t npages)
{
    if (heap.decay_ms < 0 || heap.purge_refused)
        return NULL;
    for (struct span *dirty = heap.lru.head; dirty; dirty = dirty->lru_next) {
        struct span *before = span_before(dirty), *after = span_after(dirty);
        size_t merged = dirty->npages + (free_of_kind(before, RETURNED) ? before->npages : 0) +
                        (free_of_kind(after, RETURNED) ? after->npages : 0);
        if (merged < npages)
            continue;
        struct span *batch = NULL;
        unlist_free_span(dirty);
        stash_for_purge(dirty, &batch);
        purge_batch_locked(batch);
        return find_free(npages);
    }
    return NULL;
}

static void background_consider(void)
{
    if (heap.background == BACKGROUND_OFF && tca_options.background_thread && decay_active() &&
        heap.freed_total_pages >= BACKGROUND_START_PAGES) {
        heap.background = BACKGROUND_WANTED;
        __atomic_store_n(&pageheap_background_wanted, true, __ATOMIC_RELAXED);
    }
}

struct span *pageheap_alloc_span(size_t npages, size_t align_pages, unsigned sizeclass)
{
    if (npages > (TCA_MAX_REQUEST >> TCA_PAGE_SHIFT))
        return NULL;
    pthread_mutex_lock(&heap.lock);
    decay_ensure_ready();
    struct span *due = decay_take_due(decay_advance(os_clock_ms()));
    size_t want = npages + align_pages - 1;
    struct span *span = find_free(want);
    if (!span)
        span = find_free_by_returning(want);
    if (!span)
        span = grow(want);
    if (!span)
        goto out;
    /* The pieces left over keep the span's place in the decay order. */
    struct span *lru_after = span->zeroed ? NULL : span->lru_prev;
    unlist_free_span(span);
    size_t lead = (tca_align_up(span->start, align_pages << TCA_PAGE_SHIFT) - span->start) >> TCA_PAGE_SHIFT;
    struct span *aligned = lead ? split_off(span, lead) : span;
    struct span *tail = aligned && aligned->npages > npages ? split_off(aligned, npages) : NULL;
    if (!aligned || (aligned->npages > npages && !tail)) {
        if (aligned && aligned != span)
            span->npages += aligned->npages, span_struct_recycle(aligned);
        list_free_span(span, lru_after);
        span = NULL;
        goto out;
    }
    if (lead)
        list_free_span(span, lru_after);
    if (tail)
        list_free_span(tail, lru_after);
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
    purge_batch_locked(due);
    pthread_mutex_unlock(&heap.lock);
    return span;
}

static void free_span(struct span *span, bool idle)
{
    /* decay_ms 0: the span is ours alone, so madvise before taking the lock.
     * The unlocked read is harmless: a change of decay_ms applies from the next free. */
    bool purge_now = __atomic_load_n(&heap.decay_ms, __ATOMIC_RELAXED) == 0 &&
                     !__atomic_load_n(&heap.purge_refused, __ATOMIC_RELAXED);
    bool purged = purge_now && os_purge((void *)span->start, span->npages << TCA_PAGE_SHIFT);
    pthread_mutex_lock(&heap.lock);
    decay_ensure_ready();
    if (purge_now && !purged)
        __atomic_store_n(&heap.purge_refused, true, __ATOMIC_RELAXED);
    if (span->state == SPAN_SLAB) {
        pagemap_set_range(span->start, span->npages, NULL, 0);
        heap.slab_pages -= span->npages;
    } else {
        heap.large_pages -= span->npages;
    }
    span->zeroed = purged;
    span->arena = NULL;
    heap.freed_total_pages += span->npages;
    background_consider();
    bool epoch_ended = decay_advance(os_clock_ms());
    if (!purged && !idle)
        heap.freed[heap.epoch] += span->npages;
    insert_free(span, idle);
    struct span *due = decay_take_due(epoch_ended);
    if (!due)
        due = purge_beyond_cap();
    if (heap.background_idle) {
        heap.background_idle = false;
        pthread_cond_signal(&heap.wake);
    }
#if TCA_CHECKED
    pageheap_check();
#endif
    purge_batch_locked(due);
    pthread_mutex_unlock(&heap.lock);
}

void pageheap_free_span(struct span *span) { free_span(span, false); }
void pageheap_free_idle_span(struct span *span) { free_span(span, true); }

size_t pageheap_purge(bool all)
{
    pthread_mutex_lock(&heap.lock);
    decay_ensure_ready();
    struct span *batch = NULL;
    if (all)
        batch = purge_take(0);
    else if (decay_active()) {
        decay_advance(os_clock_ms());
        batch = purge_take(decay_dirty_allowed());
    }
    size_t purged = purge_batch_locked(batch);
    pthread_mutex_unlock(&heap.lock);
    return purged << TCA_PAGE_SHIFT;
}

void pageheap_set_decay_ms(long ms)
{
    pthread_mutex_lock(&heap.lock);
    decay_set_locked(ms, os_clock_ms());
    pthread_cond_signal(&heap.wake); /* a sleeping background thread follows the new pace */
    pthread_mutex_unlock(&heap.lock);
    if (ms == 0)
        pageheap_purge(true);
}

long pageheap_decay_ms(void)
{
    pthread_mutex_lock(&heap.lock);
    decay_ensure_ready();
    long ms = heap.decay_ms;
    pthread_mutex_unlock(&heap.lock);
    return ms;
}

/* ---- background thread ---- */

bool pageheap_background_claim(void)
{
    pthread_mutex_lock(&heap.lock);
    bool mine = heap.background == BACKGROUND_WANTED || heap.background == BACKGROUND_OFF;
    if (mine)
        heap.background = BACKGROUND_STARTING;
    __atomic_store_n(&pageheap_background_wanted, false, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&heap.lock);
    return mine;
}

void pageheap_background_step(void)
{
    pthread_mutex_lock(&heap.lock);
    heap.background = BACKGROUND_RUNNING;
    struct span *due = NULL;
    if (decay_active()) {
        decay_advance(os_clock_ms());
        due = purge_take(decay_dirty_allowed());
    }
    purge_batch_locked(due);
    /* Sleep to the end of the epoch while anything is dirty, else until a
     * free wakes us (or a long while, to look at the arenas' spare slabs).
     * Waking every epoch, not at the next purge the counts predict: a burst
     * of frees during a long sleep would start decaying late. */
    uint64_t wait_ms = BACKGROUND_IDLE_MS;
    if (decay_active() && heap.dirty_pages) {
        uint64_t now = os_clock_ms();
        wait_ms = heap.epoch_end_ms > now ? heap.epoch_end_ms - now : 1;
    } else if (decay_active()) {
        heap.background_idle = true;
    }
    struct timespec deadline = os_monotonic_deadline(wait_ms);
    pthread_cond_clockwait(&heap.wake, &heap.lock, CLOCK_MONOTONIC, &deadline);
    heap.background_idle = false;
    pthread_mutex_unlock(&heap.lock);
}

/* ---- stats, fork, checks ---- */

void pageheap_read_stats(struct pageheap_stats *out)
{
    pthread_mutex_lock(&heap.lock);
    out->mapped_bytes = heap.mapped_bytes;
    out->dirty_bytes = (heap.dirty_pages + heap.purging_pages) << TCA_PAGE_SHIFT;
    out->returned_bytes = heap.returned_pages << TCA_PAGE_SHIFT;
    out->free_bytes = out->dirty_bytes + out->returned_bytes;
    out->large_bytes = heap.large_pages << TCA_PAGE_SHIFT;
    out->slab_bytes = heap.slab_pages << TCA_PAGE_SHIFT;
    pthread_mutex_unlock(&heap.lock);
}

void pageheap_fork_prepare(void) { pthread_mutex_lock(&heap.lock); }
void pageheap_fork_parent(void) { pthread_mutex_unlock(&heap.lock); }

/* Spans some thread of the parent was purging come back dirty: whether its
 * madvise ran is unknown. */
void pageheap_fork_child(void)
{
    pthread_mutex_init(&heap.lock, NULL);
    pthread_cond_init(&heap.wake, NULL);
    while (heap.purging.head) {
        struct span *span = heap.purging.head;
        chain_remove(&heap.purging, span);
        heap.purging_pages -= span->npages;
        span->zeroed = 0;
        insert_free(span, false);
    }
    /* The child's thread is asked for at its first free to the heap: a child
     * that only execs never pays for one. */
    heap.background = BACKGROUND_OFF;
    heap.background_idle = false;
    pageheap_background_wanted = false;
}

static void check_failed(const char *what, const struct span *span)
{
    os_fatal_pointer(what, span ? (void *)span->start : NULL, 0);
}

static size_t check_free_lists(unsigned kind)
{
    struct free_lists *lists = &heap.lists[kind];
    size_t pages = 0;
    for (size_t n = 1; n <= EXACT_LISTS + 1; n++) {
        struct span *head = n <= EXACT_LISTS ? lists->exact[n] : lists->large;
        if (n <= EXACT_LISTS && !head != !(lists->nonempty[n / 64] & ((uint64_t)1 << (n % 64))))
            check_failed("page heap: free list bitmap wrong near", head);
        for (struct span *span = head; span; span = span->next) {
            if (span->state != SPAN_FREE || span->zeroed != kind ||
                free_list_for(lists, span->npages) != (n <= EXACT_LISTS ? &lists->exact[n] : &lists->large))
                check_failed("page heap: free span in the wrong list at", span);
            if (pagemap_span_of((void *)span->start) != span || pagemap_span_of((void *)span_last_page(span)) != span)
                check_failed("page heap: free span not in the pagemap at", span);
            if (free_of_kind(span_after(span), span->zeroed))
                check_failed("page heap: uncoalesced free spans at", span);
            pages += span->npages;
        }
    }
    return pages;
}

void pageheap_check(void)
{
    if (check_free_lists(DIRTY) != heap.dirty_pages || check_free_lists(RETURNED) != heap.returned_pages)
        check_failed("page heap: free page count drifted", NULL);
    size_t lru_pages = 0;
    for (struct span *span = heap.lru.head; span; span = span->lru_next) {
        if (span->state != SPAN_FREE || span->zeroed || (span->lru_next ? span->lru_next->lru_prev : heap.lru.tail) != span)
            check_failed("page heap: decay list broken at", span);
        lru_pages += span->npages;
    }
    size_t purging_pages = 0;
    for (struct span *span = heap.purging.head; span; span = span->lru_next)
        purging_pages += span->npages;
    if (lru_pages != heap.dirty_pages || purging_pages != heap.purging_pages)
        check_failed("page heap: dirty page count drifted", NULL);
}
