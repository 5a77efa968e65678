/* The arenas' caches of freed large runs: a run freed on a CPU is carved
 * again for that CPU's next allocation of about its size; the cache is
 * bounded, counted as dirty, given back by a purge, never hands calloc
 * unzeroed memory, and a double free of a cached run aborts. */
#include <malloc.h>
#include <string.h>

#include "arenas/arena.h"
#include "check.h"
#include "pageheap/decay.h"
#include "pageheap/pagemap.h"
#include "src/bootstrap.h"
#include "tcarena.h"

static size_t cached_bytes(void)
{
    size_t bytes = 0;
    for (unsigned i = 0; i < arena_count; i++)
        if (arena_table[i])
            bytes += large_cached_bytes(&arena_table[i]->large);
    return bytes;
}

static void free_twice(void *block)
{
    free(block);
    free(block);
}

int main(void)
{
    CHECK(tca_bootstrap());
    if (topology_numa_nodes() > 1 || decay_ms() == 0)
        SKIP("the cache is off on several NUMA nodes and with decay_ms 0");

    /* Reuse: the same run back, and one a little longer for a little less. */
    size_t size = 100 << 10;
    char *block = malloc(size);
    CHECK(block != NULL);
    memset(block, 0x5a, size);
    free(block);
    CHECK(cached_bytes() == tca_align_up(size, TCA_PAGE_SIZE));
    char *again = malloc(size);
    CHECK(again == block && cached_bytes() == 0);
    free(again);
    char *smaller = malloc(size - size / 8);
    CHECK(smaller == block && malloc_usable_size(smaller) >= size);
    free(smaller);

    /* calloc takes no cached (dirty) run, and whatever it gets reads zero. */
    unsigned char *zeroed = calloc(1, size);
    CHECK(zeroed != NULL && zeroed != (unsigned char *)block);
    for (size_t i = 0; i < size; i++)
        CHECK(zeroed[i] == 0);
    free(zeroed);

    /* A double free of a cached run aborts at the second free. */
    void *victim = malloc(size);
    check_aborts(free_twice, victim, "double free", victim);
    free(victim);

    /* Bounded: no more than LARGE_CACHE_BYTES stay, however many are freed. */
    void *blocks[32];
    for (int i = 0; i < 32; i++)
        CHECK((blocks[i] = malloc(300 << 10)) != NULL);
    for (int i = 0; i < 32; i++)
        free(blocks[i]);
    CHECK(cached_bytes() > 0 && cached_bytes() <= LARGE_CACHE_BYTES);

    /* Counted as dirty, and given back by a purge. */
    uint64_t epoch = 1;
    size_t dirty, len = sizeof dirty;
    CHECK(tca_ctl("epoch", NULL, NULL, &epoch, sizeof epoch) == 0);
    CHECK(tca_ctl("stats.dirty", &dirty, &len, NULL, 0) == 0);
    CHECK(dirty >= cached_bytes());
    CHECK(tca_ctl("arenas.purge", NULL, NULL, NULL, 0) == 0);
    CHECK(cached_bytes() == 0);

    /* Above the size limit runs go straight back to the page heap. */
    void *big = malloc((size_t)(LARGE_CACHE_MAX_PAGES + 1) << TCA_PAGE_SHIFT);
    free(big);
    CHECK(cached_bytes() == 0);
    return 0;
}
