/* Large-buffer reuse, after mimalloc-bench's malloc-large: 20 slots of
 * buffers of 5-25 MiB (uniform in bytes); each step replaces the buffer of a
 * random slot with a new one of a random size and writes it in full with
 * memset, as malloc-large's value-initialised arrays are written; 500 steps
 * (malloc-large's 2000 with -s 4). Programs
 * that reuse big buffers (decompression and image buffers, a server's large
 * replies, a compiler's per-function arenas) behave like this. An allocator
 * that gives a freed buffer back to the OS, or does not reuse it for the next
 * request of a similar size, pays a page fault for every page the memset
 * touches.
 *
 * Verification: every 4 KiB page of a buffer carries one stamp word (at an
 * offset that depends on the buffer) and must still end in the fill byte
 * when the buffer is freed. */
#include "bench.h"

#include <stdio.h>

#define SLOTS 20
#define MIN_SIZE ((size_t)5 << 20)
#define MAX_SIZE ((size_t)25 << 20)
#define PAGE 4096

struct buffer {
    unsigned char *bytes;
    size_t size;
    uint64_t tag;
};

static unsigned char fill_byte(uint64_t tag)
{
    return (unsigned char)(tag * 37 + 1);
}

/* The stamp word of the page at page_start lies below the page's last byte,
 * which the check reads as a fill byte. A last partial page too short for it
 * has none. */
static size_t stamp_offset(const struct buffer *buffer, size_t page_start)
{
    return page_start + (buffer->tag % ((PAGE - 16) / 8)) * 8;
}

static void buffer_write(struct buffer *buffer)
{
    memset(buffer->bytes, fill_byte(buffer->tag), buffer->size);
    for (size_t page = 0; page < buffer->size; page += PAGE) {
        size_t offset = stamp_offset(buffer, page);
        uint64_t word = stamp_word(buffer->tag, offset);
        if (offset + 8 <= buffer->size)
            memcpy(buffer->bytes + offset, &word, sizeof word);
    }
}

static void buffer_free(struct buffer *buffer)
{
    if (!buffer->bytes)
        return;
    for (size_t page = 0; page < buffer->size; page += PAGE) {
        size_t offset = stamp_offset(buffer, page);
        size_t last = (page + PAGE < buffer->size ? page + PAGE : buffer->size) - 1;
        bool stamped = offset + 8 <= buffer->size, intact = true;
        if (stamped) {
            uint64_t word;
            memcpy(&word, buffer->bytes + offset, sizeof word);
            intact = word == stamp_word(buffer->tag, offset);
        }
        if (!stamped || last >= offset + 8)
            intact &= buffer->bytes[last] == fill_byte(buffer->tag);
        if (!intact)
            bench_fail("buffer %p of %zu bytes was overwritten at page %zu while live",
                       (void *)buffer->bytes, buffer->size, page / PAGE);
    }
    free(buffer->bytes);
    buffer->bytes = NULL;
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 1, NULL);
    uint64_t steps = bench_scaled(&args, 500, 1);
    struct buffer slots[SLOTS] = {{0}};
    uint64_t rng = 42;
    double start = bench_now();
    for (uint64_t step = 0; step < steps; step++) {
        struct buffer *slot = &slots[rng_below(&rng, SLOTS)];
        buffer_free(slot);
        slot->size = rng_between(&rng, MIN_SIZE, MAX_SIZE);
        slot->bytes = bench_malloc(slot->size);
        slot->tag = step;
        buffer_write(slot);
    }
    for (size_t i = 0; i < SLOTS; i++)
        buffer_free(&slots[i]);
    bench_report("bigbuf", bench_now() - start);
    return 0;
}
