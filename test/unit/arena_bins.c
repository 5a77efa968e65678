/* Arena bins: refill and flush counts, slabs made, kept and given back, blocks
 * reused lowest first, flushes spanning two arenas, and bad flushes aborting.
 * Runs with narenas:4; a single-threaded process only uses arena 0, so arenas
 * 2 and 3 belong to this test alone. */
#include "arenas/arena.h"
#include "check.h"
#include "pageheap/pagemap.h"
#include "src/bootstrap.h"

#define MAX_BLOCKS 64

static unsigned test_class;

static void check_block(void *block, struct arena *arena)
{
    CHECK(pagemap_class_of(block) == test_class);
    struct span *slab = pagemap_span_of(block);
    CHECK(slab->state == SPAN_SLAB && slab->arena_index == arena->index);
    CHECK((uintptr_t)block % sizeclass_size(test_class) == 0); /* blocks start on multiples of their size */
    CHECK((uintptr_t)block >= slab->blocks && slab->blocks - slab->start < sizeclass_size(test_class));
}

static size_t slab_bytes(void)
{
    struct pageheap_stats stats;
    pageheap_read_stats(&stats);
    return stats.slab_bytes;
}

static void flush_twice(void *block)
{
    arena_flush(test_class, (void *[]){block, block}, 2);
}

static void flush_interior(void *block)
{
    arena_flush(test_class, (void *[]){(char *)block + 16}, 1);
}

static void flush_as_other_class(void *block)
{
    arena_flush(test_class - 1, (void *[]){block}, 1);
}

int main(void)
{
#if TCA_SECURE
    SKIP("the secure build hands out slots in random order and holds freed blocks in quarantine "
         "(test/hardening/secure_*.c test its bins)");
#endif
    CHECK(tca_bootstrap());
    CHECK(arena_count == 4);
    test_class = sizeclass_of(3000);
    const struct sizeclass_info *info = &sizeclass_table[test_class];
    unsigned nslots = info->nslots;
    CHECK(3 * nslots + 1 <= MAX_BLOCKS);
    struct arena *arena = arena_get(3), *other = arena_get(2);
    CHECK(arena && other && arena != other);
    struct bin_counters *bin = arena->bins[test_class].counts;
    CHECK(bin->nmalloc == 0 && bin->curslabs == 0);

    /* Three full slabs and one block of a fourth. */
    void *blocks[MAX_BLOCKS];
    unsigned want = 3 * nslots + 1;
    size_t slabs_before = slab_bytes();
    CHECK(arena_refill(arena, test_class, blocks, want) == want);
    for (unsigned i = 0; i < want; i++) {
        check_block(blocks[i], arena);
        for (unsigned j = 0; j < i; j++)
            CHECK(blocks[i] != blocks[j]);
        if (i % nslots)  /* a slab hands out its blocks in address order */
            CHECK((char *)blocks[i] == (char *)blocks[i - 1] + info->size);
    }
    CHECK(bin->nmalloc == want && bin->ndalloc == 0 && bin->nrefills == 1);
    CHECK(bin->nslabs_made == 4 && bin->curslabs == 4);
    CHECK(slab_bytes() - slabs_before == 4 * info->slab_pages * TCA_PAGE_SIZE);

    /* All back: up to arena_spare_slabs() wholly free slabs stay as the
     * bin's spares, the rest go to the page heap. */
    arena_flush(test_class, blocks, want);
    CHECK(bin->ndalloc == want && bin->nflushes == 1);
    unsigned kept = arena_spare_slabs(test_class) < 4 ? arena_spare_slabs(test_class) : 4;
    CHECK(kept >= 2 && bin->curslabs == kept && bin->spare_slabs == kept);
    CHECK(slab_bytes() - slabs_before == kept * info->slab_pages * TCA_PAGE_SIZE);

    /* A spare slab serves the next refill: no slab is made. */
    void *again[MAX_BLOCKS];
    CHECK(arena_refill(arena, test_class, again, nslots) == nslots);
    CHECK(bin->nslabs_made == 4 && bin->curslabs == kept && bin->spare_slabs == kept - 1);
    struct span *spare = pagemap_span_of(again[0]);
    for (unsigned i = 0; i < nslots; i++)
        CHECK(pagemap_span_of(again[i]) == spare);

    /* Freed blocks come back lowest address first. */
    arena_flush(test_class, again + 2, 3);
    void *reused[3];
    CHECK(arena_refill(arena, test_class, reused, 3) == 3);
    for (unsigned i = 0; i < 3; i++)
        CHECK(reused[i] == again[2 + i]);

    /* One flush returning blocks of two arenas credits each its own. */
    void *mixed[MAX_BLOCKS];
    CHECK(arena_refill(other, test_class, mixed, 4) == 4);
    for (unsigned i = 0; i < 4; i++)
        check_block(mixed[i], other);
    memcpy(mixed + 4, again, nslots * sizeof(void *));
    uint64_t ndalloc = bin->ndalloc;
    arena_flush(test_class, mixed, 4 + nslots);
    const struct bin_counters *others = other->bins[test_class].counts;
    CHECK(others->nmalloc == 4 && others->ndalloc == 4);
    CHECK(bin->ndalloc == ndalloc + nslots && bin->nmalloc == bin->ndalloc);

    /* Bad flushes abort with the block's address. */
    void *victim;
    CHECK(arena_refill(arena, test_class, &victim, 1) == 1);
    check_aborts(flush_twice, victim, "double free of", victim);
    check_aborts(flush_interior, victim, "invalid pointer", (char *)victim + 16);
    check_aborts(flush_as_other_class, victim, "invalid pointer", victim);
    arena_flush(test_class, &victim, 1);
    return 0;
}
