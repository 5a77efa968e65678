/* Pointer → span in O(1): a two-level radix tree over page numbers.  The root
 * covers a 48-bit user address space in 1 GiB leaves (bits above are masked
 * off: no user pointer has them on x86-64 or arm64); a leaf holds, per page,
 * the span and (for slab pages) the size class.  A page whose entry is empty
 * is not ours. */
#ifndef TCA_PAGEMAP_H
#define TCA_PAGEMAP_H

#include "pageheap/common.h"

#define PAGEMAP_LEAF_SHIFT 30
#define PAGEMAP_ADDRESS_BITS 48
#define PAGEMAP_ROOT_LEN ((size_t)1 << (PAGEMAP_ADDRESS_BITS - PAGEMAP_LEAF_SHIFT))
#define PAGEMAP_LEAF_LEN ((size_t)1 << (PAGEMAP_LEAF_SHIFT - TCA_PAGE_SHIFT))

struct span;

struct pagemap_leaf {
    uint8_t sizeclass[PAGEMAP_LEAF_LEN];
    struct span *span[PAGEMAP_LEAF_LEN];
};

extern struct pagemap_leaf *pagemap_root[PAGEMAP_ROOT_LEN];
/* free()'s lookup, per root entry: the address of the leaf's class bytes minus
 * the number of pages below the leaf, so that page p's class sits at
 * class_base + p and is found without masking p; 0 where there is no leaf. */
extern uintptr_t pagemap_class_base[PAGEMAP_ROOT_LEN];

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

/* The class base for page number page; 0 when no leaf covers it. */
TCA_INLINE uintptr_t pagemap_class_base_of(uintptr_t page)
{
    return __atomic_load_n(&pagemap_class_base[page >> (PAGEMAP_LEAF_SHIFT - TCA_PAGE_SHIFT)], __ATOMIC_ACQUIRE);
}

TCA_INLINE unsigned pagemap_class_at(uintptr_t class_base, uintptr_t page)
{
    return *(const uint8_t *)(class_base + page);
}

/* Size class of the slab holding ptr; 0 for a large span, a free page or a foreign pointer. */
TCA_INLINE unsigned pagemap_class_of(const void *ptr)
{
    uintptr_t page = pagemap_page_of((uintptr_t)ptr);
    uintptr_t class_base = pagemap_class_base_of(page);
    return class_base ? pagemap_class_at(class_base, page) : 0;
}

TCA_INLINE struct span *pagemap_span_of(const void *ptr)
{
    struct pagemap_leaf *leaf = pagemap_leaf_of((uintptr_t)ptr);
    return leaf ? leaf->span[pagemap_leaf_index((uintptr_t)ptr)] : NULL;
}

/* Makes sure leaves exist for [addr, addr + size); false when out of memory. */
bool pagemap_reserve(uintptr_t addr, size_t size);
/* Sets the entries of npages pages from page address addr (leaves must exist). */
void pagemap_set_range(uintptr_t addr, size_t npages, struct span *span, unsigned sizeclass);
void pagemap_set(uintptr_t addr, struct span *span, unsigned sizeclass);
size_t pagemap_mapped_bytes(void);
/* Counts the bytes of leaves mapped in *mapped_bytes from now on (the
 * statistics page), during bootstrap. */
void pagemap_boot(uint64_t *mapped_bytes);

#endif
