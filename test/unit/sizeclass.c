/* Size classes: the lookup table against a brute-force search, class spacing,
 * slab geometry, the division-free slot lookup and aligned class selection. */
#include "arenas/sizeclass.h"
#include "check.h"
#include "src/bootstrap.h"

/* The smallest class whose blocks hold size, found the slow way. */
static unsigned smallest_fitting(size_t size)
{
    for (unsigned cls = 1; cls < TCA_NCLASSES; cls++)
        if (sizeclass_size(cls) >= size)
            return cls;
    return 0;
}

static void check_table_lookup(void)
{
    for (size_t size = 1; size <= TCA_SMALL_MAX; size++)
        CHECK(sizeclass_of(size) == smallest_fitting(size));
}

static void check_spacing(void)
{
    CHECK(sizeclass_size(1) == TCA_MIN_ALIGN);
    CHECK(sizeclass_size(TCA_NCLASSES - 1) == TCA_SMALL_MAX);
    for (unsigned cls = 1; cls < TCA_NCLASSES; cls++) {
        size_t size = sizeclass_size(cls);
        CHECK(size % TCA_MIN_ALIGN == 0);
        if (cls + 1 < TCA_NCLASSES) {
            size_t next = sizeclass_size(cls + 1);
            CHECK(next > size);
            /* One quantum apart for tiny sizes, at most 12.5% apart below
             * 1 KiB and 25% from there. */
            size_t step = size < 1024 ? size / 8 : size / 4;
            CHECK(next - size <= (step > TCA_MIN_ALIGN ? step : TCA_MIN_ALIGN));
        }
    }
}

/* Every byte offset of every slab: block starts give their slot, the rest UINT32_MAX. */
static void check_slab_geometry(void)
{
    for (unsigned cls = 1; cls < TCA_NCLASSES; cls++) {
        const struct sizeclass_info *info = &sizeclass_table[cls];
        CHECK(info->nslots >= 1 && info->nslots <= TCA_SLAB_MAX_SLOTS);
        CHECK((size_t)info->nslots * info->size <= info->slab_pages * TCA_PAGE_SIZE);
        CHECK(info->tcache_cap >= 8 && info->tcache_cap <= info->tcache_cap_max);
        size_t slab_bytes = info->slab_pages * TCA_PAGE_SIZE;
        for (size_t offset = 0; offset < slab_bytes; offset++) {
            uint32_t expected = offset % info->size == 0 ? (uint32_t)(offset / info->size) : UINT32_MAX;
            CHECK(sizeclass_slot_of_offset(cls, offset) == expected);
        }
        /* free()'s block-start test at a user address near the top of the
         * address space, where the multiply-by-inverse is closest to failing. */
        uintptr_t slab_start = ((uintptr_t)1 << 47) - 4 * slab_bytes;
        for (uintptr_t addr = slab_start; addr < slab_start + slab_bytes; addr++)
            CHECK(sizeclass_is_block_start(cls, addr) == (addr % info->size == 0));
    }
}

static void check_aligned_classes(void)
{
    for (size_t alignment = TCA_MIN_ALIGN; alignment <= 2 * TCA_PAGE_SIZE; alignment *= 2) {
        for (size_t size = 0; size <= TCA_SMALL_MAX + 16; size++) {
            unsigned cls = sizeclass_for_aligned(size, alignment);
            unsigned expected = 0;
            if (alignment <= TCA_PAGE_SIZE)
                for (unsigned c = smallest_fitting(size ? size : 1); c && c < TCA_NCLASSES; c++)
                    if (sizeclass_size(c) % alignment == 0) {
                        expected = c;
                        break;
                    }
            CHECK(cls == expected);
        }
    }
}

int main(void)
{
    CHECK(tca_bootstrap());
    check_table_lookup();
    check_spacing();
    check_slab_geometry();
    check_aligned_classes();
    return 0;
}
