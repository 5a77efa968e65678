/* Pointer → span and size class in O(1): a two-level radix tree over page
 * numbers.  The root covers a 48-bit user address space in 1 GiB leaves (bits
 * above are masked off: no user pointer has them on x86-64 or arm64); a leaf
 * holds, per page, the span and (for slab pages) the size class.  A page whose
 * entries are empty is not ours.
 *
 * free() reads a class on every call, so the classes are kept a second time
 * in a flat array of one byte per page over the whole address space: there
 * free() finds the class with two shifts and one load, where the tree takes
 * two dependent loads and a test for a missing leaf.  The array is 32 GiB of
 * address space reserved read-only, which costs no memory and reads zero (not
 * ours) wherever the heap never was; the part beside each leaf is made
 * writable with it.  Where the reservation is refused (ulimit -v), the array
 * stays NULL and free() takes its slow path, which reads the tree. */
#ifndef TCA_PAGEMAP_H
#define TCA_PAGEMAP_H

#include "pageheap/common.h"

#define PAGEMAP_LEAF_SHIFT 30
#define PAGEMAP_ADDRESS_BITS 48
#define PAGEMAP_ROOT_LEN ((size_t)1 << (PAGEMAP_ADDRESS_BITS - PAGEMAP_LEAF_SHIFT))
#define PAGEMAP_LEAF_LEN ((size_t)1 << (PAGEMAP_LEAF_SHIFT - TCA_PAGE_SHIFT))
#define PAGEMAP_CLASSES_LEN ((size_t)1 << (PAGEMAP_ADDRESS_BITS - TCA_PAGE_SHIFT))

struct span;

struct pagemap_leaf {
    uint8_t sizeclass[PAGEMAP_LEAF_LEN];
    struct span *span[PAGEMAP_LEAF_LEN];
};

extern struct pagemap_leaf *pagemap_root[PAGEMAP_ROOT_LEN];
/* The class of every page, indexed by page number; NULL until the page heap
 * first grows (no block is ours before that), or for good where the address
 * space could not be had. */
extern TCA_HIDDEN uint8_t *pagemap_classes;

TCA_INLINE uintptr_t pagemap_page_of(uintptr_t addr)
{
    return addr << (64 - PAGEMAP_ADDRESS_BITS) >> (64 - PAGEMAP_ADDRESS_BITS + TCA_PAGE_SHIFT);
}

TCA_INLINE struct pagemap_leaf *pagemap_leaf_of(uintptr_t addr)
{
    uintptr_t index = pagemap_page_of(addr) >> (PAGEMAP_LEAF_SHIFT - TCA_PAGE_SHIFT);
    return __atomic_load_n(&pagemap_root[index], __ATOMIC_ACQUIRE);
}

TCA_INLINE size_t pagemap_leaf_index(uintptr_t addr)
{
    return (addr >> TCA_PAGE_SHIFT) & (PAGEMAP_LEAF_LEN - 1);
}

/* pagemap_classes: free()'s fast path tests it for NULL, then reads
 * classes[pagemap_page_of(ptr)]. */
TCA_INLINE const uint8_t *pagemap_class_map(void)
{
    return __atomic_load_n(&pagemap_classes, __ATOMIC_ACQUIRE);
}

/* Size class of the slab holding ptr; 0 for a large span, a free page or a foreign pointer. */
TCA_INLINE unsigned pagemap_class_of(const void *ptr)
{
    struct pagemap_leaf *leaf = pagemap_leaf_of((uintptr_t)ptr);
    return leaf ? leaf->sizeclass[pagemap_leaf_index((uintptr_t)ptr)] : 0;
}

TCA_INLINE struct span *pagemap_span_of(const void *ptr)
{
    struct pagemap_leaf *leaf = pagemap_leaf_of((uintptr_t)ptr);
    return leaf ? leaf->span[pagemap_leaf_index((uintptr_t)ptr)] : NULL;
}

/* Makes sure leaves exist (and the flat classes can be written) for [addr,
 * addr + size); false when out of memory. */
bool pagemap_reserve(uintptr_t addr, size_t size);
/* Sets the entries of npages pages from page address addr (leaves must exist). */
void pagemap_set_range(uintptr_t addr, size_t npages, struct span *span, unsigned sizeclass);
void pagemap_set(uintptr_t addr, struct span *span, unsigned sizeclass);
/* Sets the class of the page at addr alone (its span entry unchanged). */
void pagemap_set_class(uintptr_t addr, unsigned sizeclass);
size_t pagemap_mapped_bytes(void);
/* Counts the bytes of leaves and of writable flat classes in *mapped_bytes
 * from now on (the statistics page), during bootstrap. */
void pagemap_boot(uint64_t *mapped_bytes);

#endif
