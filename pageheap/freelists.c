#include "pageheap/freelists.h"

#include "pageheap/os.h"

static struct span **list_for(struct free_lists_of_kind *kind, size_t npages)
{
    return npages <= FREELISTS_EXACT ? &kind->exact[npages] : &kind->large;
}

static uint64_t *count_of(struct free_lists *lists, const struct span *span)
{
    return span->zeroed ? &lists->counts->returned_pages : &lists->counts->dirty_pages;
}

void freelists_insert(struct free_lists *lists, struct span *span, struct span *lru_after)
{
    struct free_lists_of_kind *kind = &lists->kinds[span->zeroed];
    span_list_push(list_for(kind, span->npages), span);
    if (span->npages <= FREELISTS_EXACT)
        kind->nonempty[span->npages / 64] |= (uint64_t)1 << (span->npages % 64);
    if (!span->zeroed)
        span_chain_insert_after(&lists->lru, lru_after, span);
    *count_of(lists, span) += span->npages;
}

void freelists_remove(struct free_lists *lists, struct span *span)
{
    struct free_lists_of_kind *kind = &lists->kinds[span->zeroed];
    struct span **list = list_for(kind, span->npages);
    span_list_remove(list, span);
    if (span->npages <= FREELISTS_EXACT && !*list)
        kind->nonempty[span->npages / 64] &= ~((uint64_t)1 << (span->npages % 64));
    if (!span->zeroed)
        span_chain_remove(&lists->lru, span);
    *count_of(lists, span) -= span->npages;
}

static size_t first_exact_list(const struct free_lists_of_kind *kind, size_t npages)
{
    for (size_t word = npages / 64; word < FREELISTS_EXACT_WORDS; word++) {
        uint64_t bits = kind->nonempty[word];
        if (word == npages / 64)
            bits &= ~(uint64_t)0 << (npages % 64);
        if (bits)
            return word * 64 + (size_t)__builtin_ctzll(bits);
    }
    return SIZE_MAX;
}

struct span *freelists_find(const struct free_lists *lists, size_t npages)
{
    for (unsigned k = FREE_DIRTY; k <= FREE_RETURNED; k++) {
        const struct free_lists_of_kind *kind = &lists->kinds[k];
        size_t exact = first_exact_list(kind, npages);
        if (exact <= FREELISTS_EXACT)
            return kind->exact[exact];
        /* Best fit among the big ones, lower address on ties: keeps the heap compact. */
        struct span *best = NULL;
        for (struct span *span = kind->large; span; span = span->next)
            if (span->npages >= npages &&
                (!best || span->npages < best->npages ||
                 (span->npages == best->npages && span->start < best->start)))
                best = span;
        if (best)
            return best;
    }
    return NULL;
}

static void check_failed(const char *what, const struct span *span)
{
    os_fatal_pointer(what, span ? (void *)span->start : NULL, 0);
}

/* Returns the pages listed of kind k. */
static size_t check_kind(const struct free_lists *lists, unsigned k, uint16_t node)
{
    const struct free_lists_of_kind *kind = &lists->kinds[k];
    size_t pages = 0;
    for (size_t n = 1; n <= FREELISTS_EXACT + 1; n++) {
        struct span *head = n <= FREELISTS_EXACT ? kind->exact[n] : kind->large;
        if (n <= FREELISTS_EXACT && !head != !(kind->nonempty[n / 64] & ((uint64_t)1 << (n % 64))))
            check_failed("page heap: free list bitmap wrong near", head);
        for (struct span *span = head; span; span = span->next) {
            if (span->state != SPAN_FREE || span->zeroed != k || span->node != node ||
                (span->npages <= FREELISTS_EXACT ? span->npages != n : n <= FREELISTS_EXACT))
                check_failed("page heap: free span in the wrong list at", span);
            if (pagemap_span_of((void *)span->start) != span || pagemap_span_of((void *)span_last_page(span)) != span)
                check_failed("page heap: free span not in the pagemap at", span);
            if (span_free_of_kind(span_after(span), span->node, span->zeroed))
                check_failed("page heap: uncoalesced free spans at", span);
            pages += span->npages;
        }
    }
    return pages;
}

void freelists_check(const struct free_lists *lists, uint16_t node)
{
    if (check_kind(lists, FREE_DIRTY, node) != lists->counts->dirty_pages ||
        check_kind(lists, FREE_RETURNED, node) != lists->counts->returned_pages)
        check_failed("page heap: free page count drifted", NULL);
    size_t lru_pages = 0;
    for (struct span *span = lists->lru.head; span; span = span->lru_next) {
        if (span->state != SPAN_FREE || span->zeroed ||
            (span->lru_next ? span->lru_next->lru_prev : lists->lru.tail) != span)
            check_failed("page heap: decay list broken at", span);
        lru_pages += span->npages;
    }
    if (lru_pages != lists->counts->dirty_pages)
        check_failed("page heap: dirty page count drifted", NULL);
}
