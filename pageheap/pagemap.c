#include "pageheap/pagemap.h"

#include <pthread.h>

#include "pageheap/os.h"

/* In .bss: untouched entries cost no memory. */
struct pagemap_leaf *pagemap_root[PAGEMAP_ROOT_LEN];
uint8_t *pagemap_classes;
/* Bytes of leaves mapped, written under the page heap's lock: a counter of
 * the statistics page from pagemap_boot() on. */
static uint64_t mapped_before_boot;
static uint64_t *leaves_mapped = &mapped_before_boot;

void pagemap_boot(uint64_t *mapped_bytes)
{
    *mapped_bytes = *leaves_mapped;
    leaves_mapped = mapped_bytes;
}

static void count_mapped(size_t bytes)
{
    __atomic_store_n(leaves_mapped, *leaves_mapped + bytes, __ATOMIC_RELAXED);
}

/* The flat classes beside leaf index; none to open where the array could
 * not be reserved. */
static bool open_flat_classes_of_leaf(uintptr_t index)
{
    if (!pagemap_classes)
        return true;
    if (!os_protect(pagemap_classes + index * PAGEMAP_LEAF_LEN, PAGEMAP_LEAF_LEN, true))
        return false;
    count_mapped(PAGEMAP_LEAF_LEN);
    return true;
}

/* Tried once, at the page heap's first growth; a refusal leaves free() on its
 * slow path (pagemap.h), not the allocator without memory. */
static void reserve_flat_classes(void)
{
    static bool tried;
    if (tried)
        return;
    tried = true;
    __atomic_store_n(&pagemap_classes, os_reserve_zero(PAGEMAP_CLASSES_LEN), __ATOMIC_RELEASE);
}

bool pagemap_reserve(uintptr_t addr, size_t size)
{
    /* Only the page heap grows the map, under its lock; readers never see a
     * leaf before it is complete (release store, acquire load). */
    uintptr_t first = addr >> PAGEMAP_LEAF_SHIFT, last = (addr + size - 1) >> PAGEMAP_LEAF_SHIFT;
    if (last >= PAGEMAP_ROOT_LEN)
        return false;
    reserve_flat_classes();
    for (uintptr_t index = first; index <= last; index++) {
        if (pagemap_root[index])
            continue;
        struct pagemap_leaf *leaf = os_map(sizeof(struct pagemap_leaf), 0);
        if (!leaf)
            return false;
        if (!open_flat_classes_of_leaf(index)) {
            os_unmap(leaf, sizeof(struct pagemap_leaf));
            return false;
        }
        count_mapped(sizeof(struct pagemap_leaf));
        __atomic_store_n(&pagemap_root[index], leaf, __ATOMIC_RELEASE);
    }
    return true;
}

/* Both copies of a page's class: the leaf's and the flat array's. */
static void set_class(struct pagemap_leaf *leaf, uintptr_t addr, unsigned sizeclass)
{
    leaf->sizeclass[pagemap_leaf_index(addr)] = (uint8_t)sizeclass;
    if (pagemap_classes)
        pagemap_classes[pagemap_page_of(addr)] = (uint8_t)sizeclass;
}

void pagemap_set(uintptr_t addr, struct span *span, unsigned sizeclass)
{
    struct pagemap_leaf *leaf = pagemap_root[addr >> PAGEMAP_LEAF_SHIFT];
    leaf->span[pagemap_leaf_index(addr)] = span;
    set_class(leaf, addr, sizeclass);
}

void pagemap_set_class(uintptr_t addr, unsigned sizeclass)
{
    set_class(pagemap_root[addr >> PAGEMAP_LEAF_SHIFT], addr, sizeclass);
}

void pagemap_set_range(uintptr_t addr, size_t npages, struct span *span, unsigned sizeclass)
{
    for (size_t i = 0; i < npages; i++)
        pagemap_set(addr + (i << TCA_PAGE_SHIFT), span, sizeclass);
}

size_t pagemap_mapped_bytes(void) { return __atomic_load_n(leaves_mapped, __ATOMIC_RELAXED); }
