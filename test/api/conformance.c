/* Conformance of every standard entry point, the __libc_* aliases and the
 * tca_* API with glibc's documented behaviour at the edges: malloc(0), sizes
 * that overflow or cannot be had (NULL, ENOMEM, old block intact), bad
 * alignments (EINVAL), 16-byte alignment everywhere, alignments to 4 MiB,
 * usable sizes that really are usable, and realloc keeping contents. */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "tcarena.h"

/* C23 names glibc 2.36 does not declare yet. */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);

/* Sizes no machine can provide; volatile keeps the compiler from judging them. */
static volatile size_t impossible_sizes[] = {
    SIZE_MAX, SIZE_MAX - 4096, PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 47, (size_t)1 << 45,
};
#define NIMPOSSIBLE (sizeof impossible_sizes / sizeof impossible_sizes[0])

static const size_t sample_sizes[] = {
    0, 1, 8, 15, 16, 17, 24, 100, 128, 129, 500, 1000, 1024, 2049, 4096, 5000, 8191, 8192, 8193,
    12345, 16384, 20000, 32767, 32768, 32769, 65536, 100000, 1 << 20, (1 << 20) + 1, 3 << 20,
};
#define NSAMPLES (sizeof sample_sizes / sizeof sample_sizes[0])

static void fill(void *block, size_t size, uint8_t seed)
{
    for (size_t i = 0; i < size; i++)
        ((uint8_t *)block)[i] = (uint8_t)(seed + i * 7);
}

static bool filled(const void *block, size_t size, uint8_t seed)
{
    for (size_t i = 0; i < size; i++)
        if (((const uint8_t *)block)[i] != (uint8_t)(seed + i * 7))
            return false;
    return true;
}

/* The block is ours, aligned, and the usable bytes past the request can be
 * written (those before it may hold what the caller is checking). */
static void check_block(void *block, size_t size, size_t alignment)
{
    CHECK(block != NULL);
    CHECK((uintptr_t)block % (alignment > 16 ? alignment : 16) == 0);
    size_t usable = malloc_usable_size(block);
    CHECK(usable >= size);
    CHECK(tca_malloc_usable_size(block) == usable);
    memset((char *)block + size, 0x5a, usable - size);
}

#define CHECK_ENOMEM(expr)                   \
    do {                                     \
        errno = 0;                           \
        CHECK((expr) == NULL);               \
        CHECK(errno == ENOMEM);              \
    } while (0)

static void check_malloc_zero(void)
{
    enum { COUNT = 1000 };
    static void *blocks[COUNT];
    for (int i = 0; i < COUNT; i++) {
        blocks[i] = malloc(0);
        check_block(blocks[i], 0, 16);
        for (int j = 0; j < i; j++)
            CHECK(blocks[i] != blocks[j]);
    }
    for (int i = 0; i < COUNT; i++)
        free(blocks[i]);
    free(NULL);
    CHECK(malloc_usable_size(NULL) == 0);
}

/* Blocks of one size side by side, each filled to its usable end, stay intact. */
static void check_usable_sizes(void)
{
    enum { COUNT = 64 };
    for (size_t size = 1; size <= 70000; size += size / 8 + 1) {
        void *blocks[COUNT];
        for (int i = 0; i < COUNT; i++) {
            blocks[i] = malloc(size);
            check_block(blocks[i], size, 16);
            fill(blocks[i], malloc_usable_size(blocks[i]), (uint8_t)i);
        }
        for (int i = 0; i < COUNT; i++) {
            CHECK(filled(blocks[i], malloc_usable_size(blocks[i]), (uint8_t)i));
            free(blocks[i]);
        }
    }
}

static void check_impossible_sizes(void)
{
    void *old = malloc(1000);
    fill(old, 1000, 3);
    for (size_t i = 0; i < NIMPOSSIBLE; i++) {
        size_t size = impossible_sizes[i];
        CHECK_ENOMEM(malloc(size));
        CHECK_ENOMEM(calloc(1, size));
        CHECK_ENOMEM(calloc(size, 1));
        CHECK_ENOMEM(realloc(old, size));
        CHECK_ENOMEM(reallocarray(old, size, 1));
        CHECK_ENOMEM(aligned_alloc(64, size));
        CHECK_ENOMEM(memalign(4096, size));
        CHECK_ENOMEM(valloc(size));
        CHECK_ENOMEM(pvalloc(size));
        void *untouched = &old;
        CHECK(posix_memalign(&untouched, 64, size) == ENOMEM);
        CHECK(untouched == &old);
    }
    /* Products that overflow. */
    static volatile size_t half = SIZE_MAX / 2 + 1, third = SIZE_MAX / 3 + 1, big = (size_t)1 << 32;
    CHECK_ENOMEM(calloc(half, 2));
    CHECK_ENOMEM(calloc(big, big));
    CHECK_ENOMEM(calloc(3, third));
    CHECK_ENOMEM(reallocarray(old, half, 2));
    CHECK_ENOMEM(reallocarray(old, big, big));
    CHECK_ENOMEM(reallocarray(NULL, half, 4));
    /* The old block survived every failure. */
    CHECK(filled(old, 1000, 3));
    CHECK(malloc_usable_size(old) >= 1000);
    free(old);
}

static void check_calloc(void)
{
    for (size_t i = 0; i < NSAMPLES; i++) {
        size_t size = sample_sizes[i];
        /* Dirty a block of the size first, so calloc may get the same memory back. */
        void *dirty = malloc(size);
        memset(dirty, 0xff, malloc_usable_size(dirty));
        free(dirty);
        uint8_t *zeroed = calloc(1, size);
        CHECK(zeroed != NULL);
        for (size_t j = 0; j < size; j++)
            CHECK(zeroed[j] == 0);
        check_block(zeroed, size, 16);
        free(zeroed);
        uint8_t *array = calloc(size, 3);
        CHECK(array != NULL);
        for (size_t j = 0; j < size * 3; j++)
            CHECK(array[j] == 0);
        free(array);
    }
    void *a = calloc(0, 5), *b = calloc(5, 0);
    CHECK(a && b && a != b);
    free(a);
    free(b);
}

/* Every step of a chain through small, large and back keeps min(old, new) bytes. */
static void check_realloc(void)
{
    static const size_t chain[] = {1, 16, 17, 100, 1000, 4000, 33000, 100000, 3 << 20, 50000, 200, 8, 5 << 20, 24};
    uint8_t *block = realloc(NULL, chain[0]);
    check_block(block, chain[0], 16);
    fill(block, chain[0], 9);
    for (size_t i = 1; i < sizeof chain / sizeof chain[0]; i++) {
        block = realloc(block, chain[i]);
        check_block(block, chain[i], 16);
        size_t kept = chain[i] < chain[i - 1] ? chain[i] : chain[i - 1];
        fill(block + kept, chain[i] - kept, (uint8_t)(9 + kept * 7));
        CHECK(filled(block, chain[i], 9));
    }
    /* Shrinking a little, then growing within the usable size. */
    size_t usable = malloc_usable_size(block);
    fill(block, usable, 1);
    block = realloc(block, usable - 1);
    CHECK(filled(block, usable - 1, 1));
    block = realloc(block, usable);
    CHECK(filled(block, usable - 1, 1));
    CHECK(realloc(block, 0) == NULL); /* glibc: frees it */

    uint8_t *array = reallocarray(NULL, 10, 10);
    check_block(array, 100, 16);
    fill(array, 100, 4);
    array = reallocarray(array, 1000, 10);
    check_block(array, 10000, 16);
    CHECK(filled(array, 100, 4));
    free(array);
}

static void check_alignments(void)
{
    static const size_t bad[] = {0, 1, 2, 3, 4, 24, 48, 100, 4095, 4097};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *untouched = &untouched;
        CHECK(posix_memalign(&untouched, bad[i], 64) == EINVAL);
        CHECK(untouched == &untouched);
        if (bad[i] < sizeof(void *) && bad[i] && !(bad[i] & (bad[i] - 1)))
            continue; /* aligned_alloc accepts 1, 2 and 4: any power of two */
        errno = 0;
        CHECK(aligned_alloc(bad[i], 64) == NULL && errno == EINVAL);
    }
    errno = 0;
    CHECK(memalign(SIZE_MAX / 2 + 2, 64) == NULL && errno == EINVAL);

    for (size_t alignment = 8; alignment <= ((size_t)4 << 20); alignment *= 2) {
        const size_t sizes[] = {0, 1, alignment - 1, alignment, alignment + 1, 3 * alignment, 40000};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t size = sizes[i];
            void *block;
            CHECK(posix_memalign(&block, alignment, size) == 0);
            check_block(block, size, alignment);
            free(block);
            block = aligned_alloc(alignment, size);
            check_block(block, size, alignment);
            free_aligned_sized(block, alignment, size);
            block = memalign(alignment, size);
            check_block(block, size, alignment);
            free(block);
            block = tca_aligned_alloc(alignment, size);
            check_block(block, size, alignment);
            tca_free_aligned_sized(block, alignment, size);
        }
    }
    /* memalign rounds an alignment that is not a power of two up to one. */
    void *block = memalign(24, 100);
    check_block(block, 100, 32);
    free(block);
    block = memalign(5000, 10);
    check_block(block, 10, 8192);
    free(block);

    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < NSAMPLES; i++) {
        block = valloc(sample_sizes[i]);
        check_block(block, sample_sizes[i], page);
        free(block);
        block = pvalloc(sample_sizes[i]);
        check_block(block, sample_sizes[i] ? (sample_sizes[i] + page - 1) / page * page : page, page);
        free(block);
    }
}

static void check_sized_frees(void)
{
    for (size_t i = 0; i < NSAMPLES; i++) {
        void *block = malloc(sample_sizes[i]);
        check_block(block, sample_sizes[i], 16);
        free_sized(block, sample_sizes[i]);
        block = tca_malloc(sample_sizes[i]);
        check_block(block, sample_sizes[i], 16);
        tca_free_sized(block, sample_sizes[i]);
    }
}

/* Another set of names for malloc, realloc, calloc and free: blocks mix freely with the standard names'. */
static void check_entry_points(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                               void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *))
{
    uint8_t *block = malloc_fn(300);
    check_block(block, 300, 16);
    fill(block, 300, 5);
    block = realloc_fn(block, 70000);
    check_block(block, 70000, 16);
    CHECK(filled(block, 300, 5));
    free(block);
    uint8_t *zeroed = calloc_fn(7, 9);
    for (int i = 0; i < 63; i++)
        CHECK(zeroed[i] == 0);
    free_fn(zeroed);
    free_fn(malloc(1));
}

/* glibc's internal names resolve to tcarena and share its heap with malloc. */
static void check_libc_aliases(void)
{
    static const char *const names[] = {"__libc_malloc", "__libc_free", "__libc_calloc", "__libc_realloc",
                                        "__libc_memalign", "__libc_valloc", "__libc_pvalloc", "__posix_memalign"};
    void *symbol[sizeof names / sizeof names[0]];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        symbol[i] = dlsym(RTLD_DEFAULT, names[i]);
        Dl_info where;
        CHECK(symbol[i] && dladdr(symbol[i], &where) && strstr(where.dli_fname, "libtcarena"));
    }
    void *(*libc_malloc)(size_t) = symbol[0];
    void (*libc_free)(void *) = symbol[1];
    void *(*libc_calloc)(size_t, size_t) = symbol[2];
    void *(*libc_realloc)(void *, size_t) = symbol[3];
    void *(*libc_memalign)(size_t, size_t) = symbol[4];
    void *(*libc_valloc)(size_t) = symbol[5];
    void *(*libc_pvalloc)(size_t) = symbol[6];
    int (*posix_memalign_alias)(void **, size_t, size_t) = symbol[7];

    check_entry_points(libc_malloc, libc_realloc, libc_calloc, libc_free);
    void *block = libc_memalign(256, 10);
    check_block(block, 10, 256);
    tca_free(block);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    block = libc_valloc(10);
    check_block(block, 10, page);
    libc_free(block);
    block = libc_pvalloc(10);
    check_block(block, page, page);
    libc_free(block);
    CHECK(posix_memalign_alias(&block, 1024, 10) == 0);
    check_block(block, 10, 1024);
    libc_free(block);
}

static void check_tca_api(void)
{
    check_entry_points(tca_malloc, tca_realloc, tca_calloc, tca_free);
    errno = 0;
    CHECK(tca_aligned_alloc(48, 10) == NULL && errno == EINVAL);
    CHECK(tca_malloc_usable_size(NULL) == 0);
    tca_free(NULL);

    const char *version = NULL;
    size_t length = sizeof version;
    CHECK(tca_ctl("version", &version, &length, NULL, 0) == 0);
    CHECK(version && strcmp(version, TCARENA_VERSION) == 0);
    CHECK(tca_ctl("no.such.name", NULL, NULL, NULL, 0) == ENOENT);
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
}

int main(void)
{
    check_malloc_zero();
    check_usable_sizes();
    check_impossible_sizes();
    check_calloc();
    check_realloc();
    check_alignments();
    check_sized_frees();
    check_libc_aliases();
    check_tca_api();
    return 0;
}
