/* The pagemap: entries set, read and cleared on memory the test maps itself
 * (the tree's and the flat array's classes agreeing),
 * and pointers tcarena never handed out (stack, static data, another mmap,
 * kernel-half and NULL addresses) reading as not ours. */
#include <sys/mman.h>

#include "arenas/sizeclass.h"
#include "check.h"
#include "pageheap/pagemap.h"

static int static_object;

/* The class as free() reads it: the flat array (pagemap.h), which reads 0
 * before the first pagemap_reserve. */
static unsigned flat_class_of(const void *ptr)
{
    const uint8_t *classes = pagemap_class_map();
    return classes ? classes[pagemap_page_of((uintptr_t)ptr)] : 0;
}

static void check_not_ours(const void *ptr)
{
    CHECK(pagemap_class_of(ptr) == 0);
    CHECK(flat_class_of(ptr) == 0);
    CHECK(pagemap_span_of(ptr) == NULL);
}

int main(void)
{
    /* 3 GiB of address space, never touched: reserving it spans several leaves. */
    size_t size = (size_t)3 << PAGEMAP_LEAF_SHIFT;
    char *region = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(region != MAP_FAILED);
    uintptr_t base = tca_align_up((uintptr_t)region, TCA_PAGE_SIZE);
    check_not_ours((void *)base);

    size_t mapped_before = pagemap_mapped_bytes();
    CHECK(pagemap_reserve(base, size - TCA_PAGE_SIZE));
    CHECK(pagemap_mapped_bytes() - mapped_before >= 2 * sizeof(struct pagemap_leaf));
    size_t mapped_reserved = pagemap_mapped_bytes();
    CHECK(pagemap_reserve(base, TCA_PAGE_SIZE));
    CHECK(pagemap_mapped_bytes() == mapped_reserved); /* reserving twice maps nothing new */

    /* Reserved but unset: still not ours. */
    check_not_ours((void *)(base + 12345));

    struct span first = {0}, second = {0};
    pagemap_set(base, &first, 7);
    CHECK(pagemap_span_of((void *)base) == &first);
    CHECK(pagemap_class_of((void *)(base + TCA_PAGE_SIZE - 1)) == 7);
    CHECK(flat_class_of((void *)(base + TCA_PAGE_SIZE - 1)) == 7);
    check_not_ours((void *)(base + TCA_PAGE_SIZE));

    /* A range crossing a leaf boundary. */
    uintptr_t boundary = tca_align_up(base + 1, (size_t)1 << PAGEMAP_LEAF_SHIFT);
    uintptr_t range = boundary - 4 * TCA_PAGE_SIZE;
    pagemap_set_range(range, 8, &second, TCA_NCLASSES - 1);
    for (uintptr_t page = range; page < range + 8 * TCA_PAGE_SIZE; page += TCA_PAGE_SIZE) {
        CHECK(pagemap_span_of((void *)(page + 8)) == &second);
        CHECK(pagemap_class_of((void *)(page + 8)) == TCA_NCLASSES - 1);
        CHECK(flat_class_of((void *)(page + 8)) == TCA_NCLASSES - 1);
    }
    check_not_ours((void *)(range - 1));
    check_not_ours((void *)(range + 8 * TCA_PAGE_SIZE));

    pagemap_set_range(range, 8, NULL, 0);
    pagemap_set(base, NULL, 0);
    check_not_ours((void *)base);
    check_not_ours((void *)range);
    check_not_ours((void *)(boundary + 1));

    int on_stack = 0;
    check_not_ours(&on_stack);
    check_not_ours(&static_object);
    check_not_ours(NULL);
    check_not_ours((void *)main);
    check_not_ours((void *)0xffff800000001000);
    void *foreign = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(foreign != MAP_FAILED);
    check_not_ours(foreign);
    check_not_ours((char *)foreign + (1 << 19));

    /* And a block tcarena did hand out is found, with its class. */
    void *block = malloc(100);
    CHECK(pagemap_class_of(block) == sizeclass_of(100));
    CHECK(flat_class_of(block) == sizeclass_of(100));
    CHECK(pagemap_span_of(block)->state == SPAN_SLAB);
    free(block);
    return 0;
}
