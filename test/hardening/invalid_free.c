/* Misuse caught at the call itself, with nothing after it to flush the
 * thread cache (test/api/bad_free.c flushes): each case runs in a child that
 * must die of SIGABRT after one "tcarena: ..." line naming the pointer.
 * Every build: every free of a small block that is free already, wherever it
 * lies (the thread's cache, another thread's, a transfer cache, its slab) and
 * whatever was freed in between, and one never handed out; every pointer
 * into a block that is not its start, in every size class, whichever thread
 * frees it; a block of a slab that went back to the page heap; any pointer
 * the pagemap does not know or that is inside a large block; realloc and
 * malloc_usable_size of such pointers name their own function.  Program
 * data that looks like the free mark is no double free. */
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
static void realloc_once(void *ptr) { free(realloc(ptr, 100)); }
static void usable_size_once(void *ptr) { CHECK(malloc_usable_size(ptr) > 0); }

static void *free_once_in_thread(void *ptr)
{
    free(ptr);
    return NULL;
}

/* Another thread, with a cache of its own, frees it. */
static void free_once_across_threads(void *ptr)
{
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, free_once_in_thread, ptr) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
}

/* Its own bin full, and then empty: the free takes the slow path. */
static void free_once_after_flush(void *ptr)
{
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    free(ptr);
}

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

/* Data in a live block that matches the free mark, its fresh twin, or
 * their low 16 bits (all free()'s fast path compares) must not look freed,
 * nor make a calloc'd block look fresh. */
static void check_mark_lookalike(size_t size)
{
    static const uint32_t marks[] = {0x7ca3e51du, 0x7ca4e51du, 0x1234e51du};
    for (int round = 0; round < 9; round++) {
        uint32_t *block = malloc(size);
        CHECK(block != NULL);
        for (size_t i = 0; i < size / sizeof *block; i++)
            block[i] = marks[round % 3];
        free(block);
        unsigned char *again = calloc(1, size);
        CHECK(again != NULL);
        for (size_t i = 0; i < size; i++)
            CHECK(again[i] == 0);
        memset(again, 0x5a, size);
        free(again);
    }
}

/* Pages a program filled with the fresh mark's value, freed and reused for
 * new slabs, must not make their never-handed-out blocks look fresh. */
static void check_fresh_lookalike_pages(void)
{
    enum { BIG = 4 << 20, SMALL = 1008, COUNT = 4096 };
    uint32_t *big = malloc(BIG);
    CHECK(big != NULL);
    for (size_t i = 0; i < BIG / sizeof *big; i++)
        big[i] = 0x7ca4e51du;
    free(big);
    static unsigned char *blocks[COUNT];
    for (int i = 0; i < COUNT; i++) {
        CHECK((blocks[i] = calloc(1, SMALL)) != NULL);
        for (size_t j = 0; j < SMALL; j++)
            CHECK(blocks[i][j] == 0);
    }
    for (int i = 0; i < COUNT; i++)
        free(blocks[i]);
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

    /* The first block of a class no one used yet comes from a new slab with
     * the ones after it (4 KiB of them), which wait in this thread's cache,
     * never handed out.  (The secure build hands out a random slot first, and
     * the next one may lie past its slab's last: an invalid pointer then.) */
    char *first = malloc(200);
    char *next = first + malloc_usable_size(first);
    check_aborts(free_once, next, TCA_SECURE ? NULL : "double free", next);
    free(first);

    /* Every small class: offsets inside a block that are not its start. */
    for (size_t size = 16; size <= 32768; size += size < 128 ? 16 : size / 4) {
        char *block = malloc(size);
        CHECK(block != NULL && (uintptr_t)block % 16 == 0);
        size_t usable = malloc_usable_size(block);
        const size_t offsets[] = {1, 8, 16, usable / 2 - usable / 2 % 16, usable - 16};
        for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
            char *inside = block + offsets[i];
            if (offsets[i] == 0 || offsets[i] >= usable)
                continue;
            check_aborts(free_once, inside, "free(): invalid pointer", inside);
        }
        char *inside = block + 16 * (usable > 16);
        if (usable > 16) {
            check_aborts(free_once_across_threads, inside, "free(): invalid pointer", inside);
            check_aborts(free_once_after_flush, inside, "free(): invalid pointer", inside);
            check_aborts(realloc_once, inside, "realloc(): invalid pointer", inside);
            check_aborts(usable_size_once, inside, "malloc_usable_size(): invalid pointer", inside);
        }
        free(block);
    }

    /* A block whose slab went back to the page heap. */
    void *gone[64];
    for (int i = 0; i < 64; i++)
        gone[i] = malloc(20000);
    void *stale = gone[0];
    for (int i = 0; i < 64; i++)
        free(gone[i]);
    malloc_trim(0);
    /* (The secure build's quarantine may still hold a block of it: a double free then.) */
    check_aborts(free_once, stale, TCA_SECURE ? NULL : "invalid pointer", stale);
    check_fresh_lookalike_pages();
    return 0;
}
