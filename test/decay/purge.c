/* Purging takes only free pages: live blocks keep their contents whatever is
 * returned around them; returned spans are reused, and read zero only where
 * that is true (calloc of a span reused dirty still clears it).  malloc_trim
 * returns 1 when it gave memory back, 0 when there was nothing to give.  Run
 * with decay_ms:-1 (only explicit purges) and decay_ms:0 (every free purges). */
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rss.h"

#define NBLOCKS 20000

static void *blocks[NBLOCKS];
static size_t sizes[NBLOCKS];

static unsigned char pattern(size_t block, size_t offset) { return (unsigned char)(block * 31 + offset * 7 + 1); }

static void fill(size_t i)
{
    for (size_t offset = 0; offset < sizes[i]; offset++)
        ((unsigned char *)blocks[i])[offset] = pattern(i, offset);
}

static void check_contents(size_t i)
{
    for (size_t offset = 0; offset < sizes[i]; offset++)
        CHECK(((unsigned char *)blocks[i])[offset] == pattern(i, offset));
}

static void check_zero(const unsigned char *block, size_t size)
{
    for (size_t offset = 0; offset < size; offset++)
        CHECK(block[offset] == 0);
}

/* Small, slab-sized and large blocks, every other one freed and the rest purged around. */
static void test_live_blocks_untouched(bool decay_purges_at_once)
{
    uint64_t seed = 12345;
    for (size_t i = 0; i < NBLOCKS; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        sizes[i] = i % 100 == 0 ? 40000 + (seed >> 33) % 300000 : 1 + (seed >> 33) % 5000;
        blocks[i] = malloc(sizes[i]);
        CHECK(blocks[i]);
        fill(i);
    }
    for (size_t i = 0; i < NBLOCKS; i += 2)
        free(blocks[i]);
    CHECK(malloc_trim(0) == !decay_purges_at_once);
    for (size_t i = 1; i < NBLOCKS; i += 2)
        check_contents(i);
    /* Reuse what was returned (and what was not): new contents, old ones intact. */
    for (size_t i = 0; i < NBLOCKS; i += 2) {
        blocks[i] = malloc(sizes[i]);
        CHECK(blocks[i]);
        fill(i);
    }
    malloc_trim(0);
    for (size_t i = 0; i < NBLOCKS; i++) {
        check_contents(i);
        free(blocks[i]);
    }
}

/* calloc of a span that comes back returned may skip the clearing; one that
 * comes back dirty may not. */
static void test_calloc_zero_only_where_true(bool decay_purges_at_once)
{
    const size_t sizes_to_try[] = {40000, 1 << 20, 3 << 20};
    for (size_t i = 0; i < sizeof sizes_to_try / sizeof sizes_to_try[0]; i++) {
        size_t size = sizes_to_try[i];
        unsigned char *block = malloc(size);
        memset(block, 0xab, size);
        free(block);
        block = calloc(1, size); /* dirty reuse (unless every free purges) */
        check_zero(block, size);
        memset(block, 0xcd, size);
        free(block);
        CHECK(malloc_trim(0) == !decay_purges_at_once);
        block = calloc(1, size); /* returned reuse */
        check_zero(block, size);
        memset(block, 0xef, size);
        /* Half of it back as a smaller block: the rest of the span stays free. */
        free(block);
        block = calloc(1, size / 2);
        check_zero(block, size / 2);
        free(block);
    }
}

static void test_trim_gives_rss_back(bool decay_purges_at_once)
{
    enum { MANY = 64 << 10 };
    static void *many[MANY];
    double before = rss_mib();
    for (size_t i = 0; i < MANY; i++) {
        many[i] = malloc(1000);
        memset(many[i], 1, 1000);
    }
    CHECK(rss_mib() > before + 50);
    for (size_t i = 0; i < MANY; i++)
        free(many[i]);
    CHECK(malloc_trim(0) == !decay_purges_at_once);
    CHECK(malloc_trim(0) == 0); /* nothing left to give */
    CHECK(rss_mib() < before + 8);
}

int main(void)
{
    const char *conf = getenv("TCARENA_CONF");
    bool decay_purges_at_once = conf && strstr(conf, "decay_ms:0");
    test_live_blocks_untouched(decay_purges_at_once);
    test_calloc_zero_only_where_true(decay_purges_at_once);
    test_trim_gives_rss_back(decay_purges_at_once);
    return 0;
}
