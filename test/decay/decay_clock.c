/* Decay timing against an injected clock: this test's os_clock_ms() replaces
 * the library's weak one.  Freed pages stay dirty for the first epoch, then
 * leave along the smoothstep curve and are all gone one decay time later;
 * mincore() proves the kernel really dropped them.  decay_ms 0 returns at
 * once, -1 never; a change at run time restarts the curve; the slow paths
 * purge on their own; coalesced dirty and returned spans keep exact counts,
 * and a dirty span is returned to merge rather than the heap growing.  Run
 * under thp:always it checks what differs where the heap is in huge pages:
 * holes between live blocks wait until frees go quiet. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "pageheap/decay.h"
#include "pageheap/pageheap.h"
#include "src/bootstrap.h"
#include "src/options.h"

/* The page heap checks its invariants on every step only in a checked build;
 * it exports the check for the tests. */
void pageheap_check(void);

static uint64_t fake_now_ms = 1000000;
uint64_t os_clock_ms(void) { return fake_now_ms; }

#define DECAY_MS 1000
#define EPOCH_MS (DECAY_MS / 20)
#define SPANS 64
#define SPAN_PAGES 16
#define BURST_PAGES (SPANS * SPAN_PAGES)

static size_t dirty_pages(void)
{
    struct pageheap_stats stats;
    pageheap_read_stats(&stats);
    CHECK(stats.free_bytes == stats.dirty_bytes + stats.returned_bytes);
    CHECK(stats.free_bytes + stats.large_bytes + stats.slab_bytes == stats.mapped_bytes);
    pageheap_check();
    return stats.dirty_bytes / TCA_PAGE_SIZE;
}

static size_t resident_pages(uintptr_t start, size_t npages)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len = npages * TCA_PAGE_SIZE;
    unsigned char vec[BURST_PAGES * TCA_PAGE_SIZE / 4096];
    CHECK(len / page <= sizeof vec);
    CHECK(mincore((void *)start, len, vec) == 0);
    size_t resident = 0;
    for (size_t i = 0; i < len / page; i++)
        resident += vec[i] & 1;
    return resident * page / TCA_PAGE_SIZE;
}

/* SPANS adjacent spans, written, then freed: one coalesced dirty run; returns its start. */
static uintptr_t free_burst(void)
{
    struct span *spans[SPANS];
    for (int i = 0; i < SPANS; i++) {
        spans[i] = pageheap_alloc_span(SPAN_PAGES, 1, 0, -1);
        CHECK(spans[i]);
        memset((void *)spans[i]->start, 0x5a, SPAN_PAGES * TCA_PAGE_SIZE);
        if (i)
            CHECK(spans[i]->start == spans[i - 1]->start + SPAN_PAGES * TCA_PAGE_SIZE);
    }
    uintptr_t start = spans[0]->start;
    for (int i = 0; i < SPANS; i++)
        pageheap_free_span(spans[i]);
    CHECK(dirty_pages() == BURST_PAGES);
    CHECK(resident_pages(start, BURST_PAGES) == BURST_PAGES);
    return start;
}

/* 1 - smoothstep(age / 20), as the page heap computes it. */
static size_t allowed_after(unsigned epochs)
{
    double x = epochs / 20.0;
    return epochs >= 20 ? 0 : (size_t)(BURST_PAGES * (1.0 - x * x * (3 - 2 * x)));
}

static void test_curve(void)
{
    pageheap_set_decay_ms(DECAY_MS);
    uintptr_t start = free_burst();
    fake_now_ms += EPOCH_MS - 1;
    CHECK(pageheap_purge(false) == 0);
    CHECK(dirty_pages() == BURST_PAGES);
    size_t last = BURST_PAGES;
    for (unsigned epochs = 1; epochs <= 20; epochs++) {
        fake_now_ms += EPOCH_MS;
        pageheap_purge(false);
        size_t dirty = dirty_pages(), allowed = allowed_after(epochs);
        /* What exceeds the allowance goes, in pieces of at least 64 pages. */
        CHECK(dirty <= allowed + 1 && dirty + 64 >= allowed);
        CHECK(dirty <= last);
        /* The oldest pages go first: the purged ones are the run's end. */
        CHECK(resident_pages(start, dirty) == dirty);
        CHECK(resident_pages(start + dirty * TCA_PAGE_SIZE, BURST_PAGES - dirty) == 0);
        last = dirty;
    }
    CHECK(dirty_pages() == 0);
}

static void test_immediate_and_never(void)
{
    pageheap_set_decay_ms(0);
    struct span *span = pageheap_alloc_span(SPAN_PAGES, 1, 0, -1);
    uintptr_t start = span->start;
    memset((void *)start, 1, SPAN_PAGES * TCA_PAGE_SIZE);
    pageheap_free_span(span);
    CHECK(dirty_pages() == 0);
    CHECK(resident_pages(start, SPAN_PAGES) == 0);

    pageheap_set_decay_ms(-1);
    CHECK(decay_ms() == -1);
    free_burst();
    fake_now_ms += 3600 * 1000;
    CHECK(pageheap_purge(false) == 0);
    CHECK(dirty_pages() == BURST_PAGES);
    CHECK(pageheap_purge(true) == BURST_PAGES * TCA_PAGE_SIZE);
    CHECK(dirty_pages() == 0);
    CHECK(pageheap_purge(true) == 0);
}

/* A new decay time applies to what is dirty already, from the moment it is set. */
static void test_runtime_change(void)
{
    pageheap_set_decay_ms(DECAY_MS);
    free_burst();
    fake_now_ms += DECAY_MS / 2;
    pageheap_set_decay_ms(100);
    CHECK(decay_ms() == 100);
    fake_now_ms += 99;
    pageheap_purge(false);
    CHECK(dirty_pages() > 0);
    fake_now_ms += 2;
    pageheap_purge(false);
    CHECK(dirty_pages() == 0);
    pageheap_set_decay_ms(DECAY_MS);
}

/* Nobody calls purge: allocating and freeing spans does it on the way. */
static void test_slow_paths_purge(void)
{
    free_burst();
    fake_now_ms += DECAY_MS + EPOCH_MS;
    struct span *span = pageheap_alloc_span(1, 1, 0, -1);
    CHECK(dirty_pages() == 0);
    free_burst();
    fake_now_ms += DECAY_MS + EPOCH_MS;
    pageheap_free_span(span);
    CHECK(dirty_pages() == 1); /* the page just freed: the burst before was purged */
    pageheap_purge(true);
}

/* A span that sat idle already (an arena's spare slab) gets no fresh
 * allowance: it goes at the next epoch, where a freshly freed one stays. */
static void test_idle_span_goes_first(void)
{
    enum { PAGES = 128 }; /* above the smallest piece purged */
    struct span *idle = pageheap_alloc_span(PAGES, 1, 0, -1), *apart = pageheap_alloc_span(1, 1, 0, -1),
                *fresh = pageheap_alloc_span(PAGES, 1, 0, -1);
    memset((void *)idle->start, 1, PAGES * TCA_PAGE_SIZE);
    memset((void *)fresh->start, 1, PAGES * TCA_PAGE_SIZE);
    uintptr_t idle_start = idle->start, fresh_start = fresh->start;
    pageheap_free_span(fresh);
    pageheap_free_idle_span(idle);
    CHECK(dirty_pages() == 2 * PAGES);
    fake_now_ms += EPOCH_MS;
    pageheap_purge(false);
    CHECK(dirty_pages() == PAGES);
    CHECK(resident_pages(idle_start, PAGES) == 0 && resident_pages(fresh_start, PAGES) == PAGES);
    pageheap_free_span(apart);
    pageheap_purge(true);
}

/* A returned span next to a dirty one: they stay apart, and each keeps its count
 * and its zeroed flag through allocation. */
static void test_mixed_neighbours(void)
{
    pageheap_set_decay_ms(-1);
    struct span *a = pageheap_alloc_span(8, 1, 0, -1), *b = pageheap_alloc_span(8, 1, 0, -1),
                *c = pageheap_alloc_span(8, 1, 0, -1);
    CHECK(b->start == a->start + 8 * TCA_PAGE_SIZE && c->start == b->start + 8 * TCA_PAGE_SIZE);
    pageheap_free_span(a);
    CHECK(pageheap_purge(true) == 8 * TCA_PAGE_SIZE);
    pageheap_free_span(c);
    CHECK(dirty_pages() == 8);
    pageheap_free_span(b);
    CHECK(dirty_pages() == 16); /* b merged with c, not with a */
    /* Dirty pages are reused first, and are not zero. */
    struct span *reuse = pageheap_alloc_span(16, 1, 0, -1);
    CHECK(reuse->start == b->start && !reuse->zeroed);
    CHECK(dirty_pages() == 0);
    struct span *zero = pageheap_alloc_span(8, 1, 0, -1);
    CHECK(zero->zeroed);
    for (size_t i = 0; i < 8 * TCA_PAGE_SIZE; i++)
        CHECK(((const char *)zero->start)[i] == 0);
    pageheap_free_span(reuse);
    pageheap_free_span(zero);
    pageheap_purge(true);
    pageheap_set_decay_ms(DECAY_MS);
}

/* Dirty and returned neighbours never merge as free spans, so when only
 * together would they fit a request, the run is cut from both, with no
 * madvise (the dirty pages keep their contents, the returned ones read
 * zero), rather than the heap growing.  Runs first: the heap's one region is
 * then all this test's. */
static void test_combine_instead_of_growing(void)
{
    pageheap_set_decay_ms(DECAY_MS);
    struct span *a = pageheap_alloc_span(8, 1, 0, -1), *b = pageheap_alloc_span(8, 1, 0, -1);
    struct pageheap_stats stats;
    pageheap_read_stats(&stats);
    struct span *rest = pageheap_alloc_span(stats.returned_bytes / TCA_PAGE_SIZE, 1, 0, -1);
    CHECK(rest && rest->start == b->start + 8 * TCA_PAGE_SIZE);
    uintptr_t start = a->start;
    pageheap_free_span(a);
    pageheap_purge(true);
    memset((void *)b->start, 0x77, 8 * TCA_PAGE_SIZE);
    pageheap_free_span(b);
    CHECK(dirty_pages() == 8);
    struct span *both = pageheap_alloc_span(16, 1, 0, -1);
    CHECK(both->start == start && !both->zeroed);
    CHECK(dirty_pages() == 0);
    pageheap_read_stats(&stats);
    CHECK(stats.mapped_bytes == stats.large_bytes + stats.slab_bytes);
    for (size_t i = 0; i < 16 * TCA_PAGE_SIZE; i++)
        CHECK(((const char *)both->start)[i] == (i < 8 * TCA_PAGE_SIZE ? 0 : 0x77));
    pageheap_free_span(both);
    pageheap_free_span(rest);
    pageheap_purge(true);
}

/* Where the heap is in huge pages (thp:always): holes between live spans
 * stay dirty past the decay time while every epoch frees a huge page's worth
 * (a tear-down in progress, which would soon make them whole huge pages),
 * and go back once an epoch passes with less freed.  Every free here makes
 * a hole, so no whole huge page can stand in for them. */
static void test_holes_wait_for_quiet(void)
{
    enum { HOLES = 32, BUSY_HOLES = 32, BUSY_PAGES = 8, BUSY_EPOCHS = 21 };
    _Static_assert(BUSY_HOLES * BUSY_PAGES * TCA_PAGE_SIZE >= (2 << 20), "a busy epoch frees a huge page's worth");
    pageheap_purge(true);
    struct span *first[HOLES], *busy[BUSY_EPOCHS][BUSY_HOLES];
    uintptr_t first_start[HOLES];
    for (int i = 0; i < HOLES; i++) {
        first[i] = pageheap_alloc_span(SPAN_PAGES, 1, 0, -1);
        CHECK(first[i] && pageheap_alloc_span(1, 1, 0, -1)); /* the live page after the hole */
        memset((void *)first[i]->start, 0x5a, SPAN_PAGES * TCA_PAGE_SIZE);
        first_start[i] = first[i]->start;
    }
    for (int e = 0; e < BUSY_EPOCHS; e++)
        for (int i = 0; i < BUSY_HOLES; i++) {
            busy[e][i] = pageheap_alloc_span(BUSY_PAGES, 1, 0, -1);
            CHECK(busy[e][i] && pageheap_alloc_span(1, 1, 0, -1));
            memset((void *)busy[e][i]->start, 0x5a, BUSY_PAGES * TCA_PAGE_SIZE);
        }
    for (int i = 0; i < HOLES; i++)
        pageheap_free_span(first[i]);
    for (int e = 0; e < BUSY_EPOCHS; e++) {
        fake_now_ms += EPOCH_MS;
        for (int i = 0; i < BUSY_HOLES; i++)
            pageheap_free_span(busy[e][i]);
    }
    /* The first holes are more than a decay time old, and the oldest. */
    for (int i = 0; i < HOLES; i++)
        CHECK(resident_pages(first_start[i], SPAN_PAGES) == SPAN_PAGES);
    fake_now_ms += 2 * EPOCH_MS;
    pageheap_purge(false);
    for (int i = 0; i < HOLES; i++)
        CHECK(resident_pages(first_start[i], SPAN_PAGES) == 0);
}

int main(void)
{
    /* The page heap counts in the statistics page bootstrap makes (it takes
     * no span: the heap's one region is still all this test's). */
    CHECK(tca_bootstrap());
    /* The timer thread would purge on the real clock. */
    tca_options.background_thread = false;
    if (tca_options.thp == THP_ALWAYS) {
        if (!pageheap_returns_huge_pages())
            return 77; /* the kernel's huge pages are off: skipped */
        test_holes_wait_for_quiet();
        return 0;
    }
    test_combine_instead_of_growing();
    test_curve();
    test_immediate_and_never();
    test_runtime_change();
    test_slow_paths_purge();
    test_idle_span_goes_first();
    test_mixed_neighbours();
    return 0;
}
