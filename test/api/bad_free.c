/* Frees of pointers tcarena never handed out, or handed out and already took
 * back, abort with one line naming the pointer.  Inside a slab the default
 * build notices when the thread cache flushes the block, so each case flushes
 * the cache right after the bad free (a checked build aborts at the free). */
#include <malloc.h>
#include <sys/mman.h>

#include "check.h"
#include "tcarena.h"

static int static_object;

static void flush_cache(void) { tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0); }

static void free_then_flush(void *ptr)
{
    free(ptr);
    flush_cache();
}

static void free_twice(void *ptr)
{
    free(ptr);
    free(ptr);
    flush_cache();
}

static void free_twice_apart(void *ptr)
{
    free(ptr);
    void *others[10];
    for (int i = 0; i < 10; i++)
        others[i] = malloc(malloc_usable_size(ptr) + 1);
    free(ptr);
    for (int i = 0; i < 10; i++)
        free(others[i]);
    flush_cache();
}

static void realloc_foreign(void *ptr) { free(realloc(ptr, 100)); }

int main(void)
{
    /* Double frees of small, page-sized, aligned and large blocks. */
    static const size_t sizes[] = {16, 100, 4096, 30000, 40000, 1 << 22};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *block = malloc(sizes[i]);
        /* A large block's freed span may merge with a free neighbour before it:
         * then the second free finds no block at all, an invalid free. */
        const char *what = sizes[i] > 32768 ? NULL : "double free of";
        check_aborts(free_twice, block, what, block);
        check_aborts(free_twice_apart, block, what, block);
        void *aligned = aligned_alloc(4096, sizes[i]);
        check_aborts(free_twice, aligned, what, aligned);
        free(block);
        free(aligned);
    }

    /* Pointers into no block of ours. */
    void *foreign = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(foreign != MAP_FAILED);
    check_aborts(free_then_flush, foreign, "invalid pointer", foreign);
    check_aborts(free_then_flush, &static_object, "invalid pointer", &static_object);
    check_aborts(free_then_flush, (void *)main, "invalid pointer", (void *)main);
    check_aborts(realloc_foreign, foreign, "invalid pointer", foreign);
    int on_stack = 0; /* the child's copy of the stack lies at the same address */
    check_aborts(free_then_flush, &on_stack, "invalid pointer", &on_stack);

    /* Interior pointers of small and large blocks. */
    char *small = malloc(200), *large = malloc(1 << 20);
    check_aborts(free_then_flush, small + 16, "invalid pointer", small + 16);
    check_aborts(free_then_flush, small + 1, "invalid pointer", small + 1);
    check_aborts(free_then_flush, large + 16, "invalid pointer", large + 16);
    check_aborts(free_then_flush, large + (1 << 19), "invalid pointer", large + (1 << 19));
    free(small);
    free(large);
    return 0;
}
