#include "pageheap/pagemap.h"

#include <pthread.h>

#include "pageheap/os.h"

/* In .bss: untouched entries cost no memory. */
struct pagemap_leaf *pagemap_root[PAGEMAP_ROOT_LEN];
uintptr_t pagemap_class_base[PAGEMAP_ROOT_LEN];
/* Bytes of leaves mapped, written under the page heap's lock: a counter of
 * the statistics page from pagemap_boot() on. */
static uint64_t mapped_before_boot;
static uint64_t *leaves_mapped = &mapped_before_boot;

void pagemap_boot(uint64_t *mapped_bytes)
{
    *mapped_bytes = *leaves_mapped;
    leaves_mapped = mapped_bytes;
}

static uintptr_t class_base_of(struct pagemap_leaf *leaf, uintptr_t index)
{
    return (uintptr_t)leaf->sizeclass - (index << (PAGEMAP_LEAF_SHIFT - TCA_PAGE_SHIFT));
}

bool pagemap_reserve(uintptr_t addr, size_t size)
{
    /* Only the page heap grows the map, under its lock; readers never see a
     * leaf before it is complete (release store, acquire load). */
    uintptr_t first = addr >> PAGEMAP_LEAF_SHIFT, last = (addr + size - 1) >> PAGEMAP_LEAF_SHIFT;
    if (last >= PAGEMAP_ROOT_LEN)
        return false;
    for (uintptr_t index = first; index <= last; index++) {
        if (pagemap_root[index])
            continue;
        struct pagemap_leaf *leaf = os_map(sizeof(struct pagemap_leaf), 0);
        /* A class base of 0 would read as "no leaf": take other memory (keeping
         * this, or mmap may hand the same address back). */
        if (leaf && class_base_of(leaf, index) == 0)
            leaf = os_map(sizeof(struct pagemap_leaf), 0);
        if (!leaf)
            return false;
        __atomic_store_n(leaves_mapped, *leaves_mapped + sizeof(struct pagemap_leaf), __ATOMIC_RELAXED);
        __atomic_store_n(&pagemap_root[index], leaf, __ATOMIC_RELEASE);
        __atomic_store_n(&pagemap_class_base[index], class_base_of(leaf, index), __ATOMIC_RELEASE);
    }
    return true;
}

void pagemap_set(uintptr_t addr, struct span *span, unsigned sizeclass)
{
    struct pagemap_leaf *leaf = pagemap_root[addr >> PAGEMAP_LEAF_SHIFT];
    size_t index = pagemap_leaf_index(addr);
    leaf->span[index] = span;
    leaf->sizeclass[index] = (uint8_t)sizeclass;
}

void pagemap_set_range(uintptr_t addr, size_t npages, struct span *span, unsigned sizeclass)
{
    for (size_t i = 0; i < npages; i++)
        pagemap_set(addr + (i << TCA_PAGE_SHIFT), span, sizeclass);
}

size_t pagemap_mapped_bytes(void) { return __atomic_load_n(leaves_mapped, __ATOMIC_RELAXED); }
