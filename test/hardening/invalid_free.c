/* Misuse caught at the free call itself, with nothing after it to flush the
 * thread cache (test/api/bad_free.c flushes): each case runs in a child that
 * must die of SIGABRT after one "tcarena: ..." line naming the pointer.
 * Default build: every free of a small block that is free already, wherever
 * it lies (the thread's cache, another thread's, its slab) and whatever was
 * freed in between; any pointer the pagemap does not know or that is inside a
 * large block.  A -Dchecked=true build also catches, at once, a pointer into
 * a slab that was never handed out: an interior pointer, a block still free.  Program data that looks like the free mark is no double free. */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "tca_config.h"
#include "tcarena.h"

static int global_object;

static void free_once(void *ptr) { free(ptr); }

static void free_twice(void *ptr)
{
    free(ptr);
    free(ptr);
}

/* free(a); free(b...); free(a): a is no longer the last block freed. */
static void free_twice_apart(void *ptr)
{
    void *others[20];
    for (int i = 0; i < 20; i++)
        others[i] = malloc(malloc_usable_size(ptr));
    free(ptr);
    for (int i = 0; i < 20; i++)
        free(others[i]);
    free(ptr);
}

/* The first free's block went back to its slab before the second free. */
static void free_twice_flushed(void *ptr)
{
    free(ptr);
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    free(ptr);
}

static void *free_in_thread(void *ptr)
{
    free(ptr);
    return NULL;
}

/* Another thread freed the block into its own cache and is still alive. */
static void free_twice_across_threads(void *ptr)
{
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, free_in_thread, ptr) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    free(ptr);
}

/* Data in a live block that matches the free mark must not look freed. */
static void check_mark_lookalike(size_t size)
{
    static const uint32_t mark = 0x7ca3e51du;
    for (int round = 0; round < 3; round++) {
        uint32_t *block = malloc(size);
        CHECK(block != NULL);
        for (size_t i = 0; i < size / sizeof *block; i++)
            block[i] = mark;
        free(block);
        void *again = malloc(size);
        CHECK(again != NULL);
        memset(again, 0x5a, size);
        free(again);
    }
}

int main(void)
{
    static const size_t sizes[] = {16, 48, 1000, 32768, 40000, 1 << 20, 8 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *block = malloc(sizes[i]);
        CHECK(block != NULL);
        /* A freed large block may merge with a free neighbour; the second
         * free then finds no block at all: an invalid free, also fine. */
        const char *what = sizes[i] > 32768 ? NULL : "double free";
        check_aborts(free_twice, block, what, block);
        check_aborts(free_twice_apart, block, what, block);
        check_aborts(free_twice_flushed, block, what, block);
        check_aborts(free_twice_across_threads, block, what, block);
        free(block);
        check_mark_lookalike(sizes[i]);
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
        /* The block after it: never handed out, waiting in this thread's cache. */
        char *next = small + malloc_usable_size(small);
        check_aborts(free_once, next, NULL, next);
        free(small);
    }
    return 0;
}
