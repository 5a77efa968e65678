/* Misuse caught at the free call itself, with nothing after it to flush the
 * thread cache (test/api/bad_free.c flushes): each case runs in a child that
 * must die of SIGABRT after one "tcarena: ..." line naming the pointer.
 * Default build: a repeated free of the same block, small or large, and any
 * pointer the pagemap does not know or that is inside a large block.  A
 * -Dchecked=true build also catches a double free with other frees between
 * and an interior pointer of a small block at once. */
#include <malloc.h>
#include <sys/mman.h>

#include "check.h"
#include "tca_config.h"

static int global_object;

static void free_once(void *ptr) { free(ptr); }

static void free_twice(void *ptr)
{
    free(ptr);
    free(ptr);
}

/* free(a); free(b); free(a): a is no longer the last block freed. */
static void free_twice_apart(void *ptr)
{
    void *other = malloc(malloc_usable_size(ptr));
    free(ptr);
    free(other);
    free(ptr);
}

int main(void)
{
    static const size_t sizes[] = {16, 48, 1000, 32768, 40000, 1 << 20, 8 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *block = malloc(sizes[i]);
        CHECK(block != NULL);
        /* A freed large block may merge with a free neighbour; the second
         * free then finds no block at all: an invalid free, also fine. */
        check_aborts(free_twice, block, sizes[i] > 32768 ? NULL : "double free", block);
        if (TCA_CHECKED)
            check_aborts(free_twice_apart, block, NULL, block);
        free(block);
    }

    void *mapped = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mapped != MAP_FAILED);
    check_aborts(free_once, mapped, "invalid", mapped);
    check_aborts(free_once, (char *)mapped + 4096, "invalid", (char *)mapped + 4096);
    check_aborts(free_once, &global_object, "invalid", &global_object);
    /* A stack address of the parent's is the child's too (same layout after fork). */
    volatile int local = 0;
    check_aborts(free_once, (void *)&local, "invalid", (void *)&local);

    char *large = malloc(1 << 20);
    for (size_t offset = 16; offset < (1 << 20); offset *= 16)
        check_aborts(free_once, large + offset, "invalid", large + offset);
    free(large);

    if (TCA_CHECKED) {
        char *small = malloc(200);
        check_aborts(free_once, small + 16, "invalid", small + 16);
        check_aborts(free_once, small + 1, "invalid", small + 1);
        free(small);
    }
    return 0;
}
