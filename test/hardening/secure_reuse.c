/* Secure build (-Dsecure=true): slabs hand out their blocks in random order,
 * a freed block is not handed out again before SECURE_QUARANTINE_LEN more
 * frees of its class, and slabs given back to the page heap (guard page
 * included) serve as ordinary memory afterwards. */
#include <malloc.h>
#include <stdint.h>

#include "arenas/secure.h"
#include "secure_bin.h"

#define BLOCK_SIZE 64

static void check_random_order(uint32_t nregs)
{
    unsigned count = 2 * nregs;
    uintptr_t blocks[count];
    unsigned descents = 0;
    for (unsigned i = 0; i < count; i++) {
        blocks[i] = (uintptr_t)malloc(BLOCK_SIZE);
        CHECK(blocks[i] != 0);
        descents += i && blocks[i] < blocks[i - 1];
    }
    /* In address order there would be none; at random about half. */
    CHECK(descents >= count / 4);
    for (unsigned i = 0; i < count; i++)
        free((void *)blocks[i]);
}

static void check_delayed_reuse(void)
{
    void *freed = malloc(BLOCK_SIZE);
    free(freed);
    /* With no free in between, it never comes back. */
    void *held[4 * SECURE_QUARANTINE_LEN];
    for (unsigned i = 0; i < 4 * SECURE_QUARANTINE_LEN; i++)
        CHECK((held[i] = malloc(BLOCK_SIZE)) != freed);
    for (unsigned i = 0; i < 4 * SECURE_QUARANTINE_LEN; i++)
        free(held[i]);

    freed = malloc(BLOCK_SIZE);
    free(freed);
    /* Fewer frees than the quarantine holds leave it there. */
    for (unsigned i = 0; i + 1 < SECURE_QUARANTINE_LEN; i++) {
        void *block = malloc(BLOCK_SIZE);
        CHECK(block != freed);
        free(block);
    }
}

/* Many slabs made and given back, then their pages written as one large block. */
static void check_slabs_reusable(uint32_t nregs)
{
    unsigned count = 32 * nregs;
    void **blocks = malloc(count * sizeof *blocks);
    CHECK(blocks != NULL);
    for (unsigned i = 0; i < count; i++)
        CHECK((blocks[i] = malloc(BLOCK_SIZE)) != NULL);
    for (unsigned i = 0; i < count; i++)
        free(blocks[i]);
    malloc_trim(0);
    size_t large_size = (size_t)count * BLOCK_SIZE * 2;
    char *large = malloc(large_size);
    CHECK(large != NULL);
    memset(large, 0x5a, large_size);
    free(large);
    free(blocks);
}

int main(void)
{
    struct secure_bin_geometry bin = secure_bin_of(BLOCK_SIZE);
    check_random_order(bin.nregs);
    check_delayed_reuse();
    check_slabs_reusable(bin.nregs);
    return 0;
}
