/* The metadata allocator: zeroed, cache-line aligned pieces that never
 * overlap, from chunks mapped as needed (one bigger than a chunk included),
 * counted in base_mapped_bytes(). */
#include "check.h"
#include "pageheap/base.h"

#define PIECES 1000

static void check_piece(unsigned char *piece, size_t size)
{
    CHECK(piece && (uintptr_t)piece % TCA_CACHELINE == 0);
    for (size_t i = 0; i < size; i++)
        CHECK(piece[i] == 0);
    memset(piece, 0xa5, size);
}

int main(void)
{
    size_t mapped = base_mapped_bytes();
    static unsigned char *pieces[PIECES];
    /* 1000 pieces of 1 to 5000 bytes: more than one chunk's worth. */
    for (size_t i = 0; i < PIECES; i++) {
        size_t size = 1 + i * 5;
        pieces[i] = base_alloc(size);
        check_piece(pieces[i], size); /* zero: no piece before overlaps it */
    }
    CHECK(base_mapped_bytes() >= mapped + ((size_t)2 << 20));
    size_t before_big = base_mapped_bytes();
    size_t big = ((size_t)5 << 20) + 100;
    check_piece(base_alloc(big), big);
    CHECK(base_mapped_bytes() - before_big >= big);
    /* The earlier pieces were not touched by the later ones. */
    for (size_t i = 0; i < PIECES; i++)
        for (size_t j = 0; j < 1 + i * 5; j++)
            CHECK(pieces[i][j] == 0xa5);
    return 0;
}
