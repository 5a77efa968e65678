/* The page heap: spans allocated and freed, neighbours coalescing whatever
 * order they are freed in, aligned spans, slab spans in the pagemap, the
 * dirty cap returning whole huge pages only, prefaulting a slab's range in
 * small pages, and the heap's own invariant check after every step. */
#include <sys/mman.h>
#include <unistd.h>

#include "arenas/sizeclass.h"
#include "check.h"
#include "pageheap/decay.h"
#include "pageheap/pageheap.h"
#include "pageheap/pagemap.h"
#include "src/bootstrap.h"
#include "src/options.h"

/* The page heap checks its invariants on every step only in a checked build;
 * it exports the check for the tests. */
void pageheap_check(void);

/* Above the exact-size lists, so allocation is best fit and, from one free
 * run, in address order. */
#define RUN_PAGES 300

static uintptr_t page_after(const struct span *span) { return span->start + span->npages * TCA_PAGE_SIZE; }

static void check_heap(void)
{
    pageheap_check();
    struct pageheap_stats stats;
    pageheap_read_stats(&stats);
    CHECK(stats.free_bytes + stats.large_bytes + stats.slab_bytes == stats.mapped_bytes);
}

/* The free span holding page addr, which must run exactly [start, end). */
static void check_free_run(uintptr_t start, uintptr_t end)
{
    struct span *span = pagemap_span_of((void *)start);
    CHECK(span && span->state == SPAN_FREE);
    CHECK(span->start == start && page_after(span) == end);
    CHECK(pagemap_span_of((void *)(end - TCA_PAGE_SIZE)) == span);
}

static struct span *alloc_large(size_t npages)
{
    struct span *span = pageheap_alloc_span(npages, 1, 0, -1);
    CHECK(span && span->state == SPAN_LARGE && span->npages == npages);
    CHECK(span->start % TCA_PAGE_SIZE == 0);
    CHECK(pagemap_span_of((void *)span->start) == span);
    CHECK(pagemap_span_of((void *)(page_after(span) - 1)) == span);
    CHECK(pagemap_class_of((void *)span->start) == 0);
    check_heap();
    return span;
}

/* Fences L and R stay allocated around three neighbours A, B, C that are
 * freed in every order; after each free the freed neighbours form one run. */
static void check_coalescing(void)
{
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    struct span *left = alloc_large(RUN_PAGES);
    for (int order = 0; order < 6; order++) {
        struct span *run[3];
        for (int i = 0; i < 3; i++)
            run[i] = alloc_large(RUN_PAGES);
        struct span *right = alloc_large(RUN_PAGES);
        CHECK(run[0]->start == page_after(left));
        for (int i = 0; i < 3; i++)
            CHECK(page_after(run[i]) == (i < 2 ? run[i + 1]->start : right->start));
        uintptr_t starts[3], ends[3];
        for (int i = 0; i < 3; i++)
            starts[i] = run[i]->start, ends[i] = page_after(run[i]);

        bool freed[3] = {false, false, false};
        for (int step = 0; step < 3; step++) {
            int which = orders[order][step];
            pageheap_free_span(run[which]);
            freed[which] = true;
            check_heap();
            for (int i = 0; i < 3; i++) {
                if (!freed[i])
                    continue;
                int first = i, last = i;
                while (first > 0 && freed[first - 1])
                    first--;
                while (last < 2 && freed[last + 1])
                    last++;
                check_free_run(starts[first], ends[last]);
            }
        }
        /* Freeing R merges everything after L back into one run: the next
         * round carves its neighbours from the same place. */
        pageheap_free_span(right);
        check_heap();
    }
    pageheap_free_span(left);
    check_heap();
}

static void check_alignment(void)
{
    for (size_t align_pages = 1; align_pages <= 512; align_pages *= 2) {
        for (size_t npages = 1; npages <= 257; npages += 64) {
            struct span *span = pageheap_alloc_span(npages, align_pages, 0, -1);
            CHECK(span && span->npages == npages);
            CHECK(span->start % (align_pages * TCA_PAGE_SIZE) == 0);
            check_heap();
            pageheap_free_span(span);
            check_heap();
        }
    }
}

static void check_slab_spans(void)
{
    unsigned cls = TCA_NCLASSES - 1;
    struct span *slab = pageheap_alloc_span(4, 1, cls, -1);
    CHECK(slab && slab->state == SPAN_SLAB && slab->sizeclass == cls);
    for (size_t page = 0; page < 4; page++) {
        const void *inside = (const char *)slab->start + page * TCA_PAGE_SIZE + 100;
        CHECK(pagemap_span_of(inside) == slab);
        CHECK(pagemap_class_of(inside) == cls);
    }
    check_heap();
    uintptr_t start = slab->start;
    pageheap_free_span(slab);
    check_heap();
    /* Interior pages of a free span are out of the pagemap, and no page reads as a slab. */
    for (size_t page = 0; page < 4; page++)
        CHECK(pagemap_class_of((const char *)start + page * TCA_PAGE_SIZE) == 0);
}

/* A slab's range about to be written is resident after pageheap_prefault
 * where the heap is in small pages (thp:default unless the kernel gives huge
 * pages everywhere, or thp:never). */
static void check_prefault(void)
{
    unsigned cls = TCA_NCLASSES - 1;
    struct span *slab = pageheap_alloc_span(sizeclass_table[cls].slab_pages, 1, cls, -1);
    CHECK(slab);
    if (!pageheap_returns_huge_pages()) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = 3 * TCA_PAGE_SIZE / page;
        pageheap_prefault(slab->start + 100, slab->start + 3 * TCA_PAGE_SIZE);
        unsigned char resident[3 * TCA_PAGE_SIZE / 4096];
        CHECK(pages <= sizeof resident && mincore((void *)slab->start, 3 * TCA_PAGE_SIZE, resident) == 0);
        for (size_t i = 0; i < pages; i++)
            CHECK(resident[i] & 1);
        /* Populated pages read zero, as untouched ones do. */
        for (size_t offset = 0; offset < 3 * TCA_PAGE_SIZE; offset += 512)
            CHECK(((const char *)slab->start)[offset] == 0);
    }
    pageheap_free_span(slab);
    check_heap();
}

/* Freed memory is reused rather than mapped again. */
static void check_reuse(void)
{
    struct pageheap_stats before, after;
    pageheap_read_stats(&before);
    for (int round = 0; round < 100; round++) {
        struct span *span = pageheap_alloc_span(1000, 1, 0, -1);
        CHECK(span);
        pageheap_free_span(span);
    }
    pageheap_read_stats(&after);
    CHECK(after.mapped_bytes == before.mapped_bytes);
    CHECK(after.large_bytes == before.large_bytes);
}

#define MIB_PAGES(n) (((size_t)(n) << 20) >> TCA_PAGE_SHIFT)

static size_t dirty_mib(void)
{
    struct pageheap_stats stats;
    pageheap_read_stats(&stats);
    return stats.dirty_bytes >> 20;
}

/* A mass free in progress: 96 MiB of 48 KiB spans, three in four freed, so
 * 72 MiB lie dirty in holes between live spans, beyond the 64 MiB cap, with
 * no whole huge page among them: where the heap returns whole huge pages, the
 * cap returns nothing (returning holes would split the huge pages around the
 * survivors); in small pages it returns holes, least recently freed first,
 * down to three quarters of the cap.  As the survivors are freed the holes merge into
 * whole huge pages, which the cap returns: what stays dirty is at most the
 * cap, and not less than three quarters of it (less the huge page it rounds
 * to).  A long decay time keeps the decay out of it. */
static void check_cap_takes_whole_huge_pages(void)
{
    enum { SPAN_PAGES = 6 };
    static struct span *spans[MIB_PAGES(96) / SPAN_PAGES];
    const size_t count = sizeof spans / sizeof *spans;
    pageheap_purge(true);
    pageheap_set_decay_ms(3600000);
    for (size_t i = 0; i < count; i++)
        spans[i] = alloc_large(SPAN_PAGES);
    for (size_t i = 0; i < count; i++)
        if (i % 4)
            pageheap_free_span(spans[i]);
    if (pageheap_returns_huge_pages())
        CHECK(dirty_mib() == 72);
    else
        CHECK(dirty_mib() <= 64);
    for (size_t i = 0; i < count; i += 4)
        pageheap_free_span(spans[i]);
    size_t dirty = dirty_mib();
    CHECK(dirty >= 46 && dirty <= 64);
    check_heap();
    pageheap_set_decay_ms(DECAY_MS_DEFAULT);
}

int main(void)
{
    CHECK(tca_bootstrap());
    check_prefault();
    check_coalescing();
    check_alignment();
    check_slab_spans();
    check_reuse();
    check_cap_takes_whole_huge_pages();
    /* More than one region: a span bigger than the 64 MiB regions. */
    struct span *huge = alloc_large((size_t)100 << 20 >> TCA_PAGE_SHIFT);
    pageheap_free_span(huge);
    check_heap();
    return 0;
}
