/* Fuzz target: the input is a program of allocator operations on 32 slots,
 * run through the tca_* API and checked against a shadow model of what each
 * slot should hold (requested size, alignment, content seed).  Every result
 * is checked: non-NULL for sane sizes and NULL with ENOMEM for impossible
 * ones, alignment, usable size ≥ requested, contents kept across realloc,
 * calloc zeroed, and no block overwriting another (every live block's pattern
 * is checked before it is freed and when the program ends).
 *
 * Each operation takes 4 bytes: opcode, slot, and two bytes that pick a size
 * (see size_from).  Built with libFuzzer (clang -fsanitize=fuzzer) or with
 * fuzz_replay.c as its main. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "blocks.h"
#include "tcarena.h"

#define SLOTS 32

struct slot {
    uint8_t *block;
    size_t size;      /* requested */
    size_t alignment; /* requested (16 when none was) */
    uint64_t seed;    /* of its pattern */
};

static _Noreturn void model_broken(const char *what, const struct slot *slot)
{
    fprintf(stderr, "fuzz: %s: block %p, size %zu, alignment %zu\n", what, (void *)slot->block, slot->size,
            slot->alignment);
    abort();
}

/* Small sizes mostly, every class boundary reachable, page runs, a few MiB,
 * and sizes no machine can satisfy. */
static size_t size_from(uint8_t selector, uint8_t value)
{
    switch (selector >> 5) {
    case 0:
    case 1:
    case 2:
        return (size_t)(selector & 31) << 8 | value; /* 0 .. 8 KiB */
    case 3:
        return ((size_t)(selector & 31) << 8 | value) * 8 + 1; /* .. 64 KiB, odd */
    case 4:
        return (size_t)1 << (4 + (value % 12)); /* powers of two to 32 KiB */
    case 5:
        return ((size_t)1 << (4 + (value % 12))) + (selector & 1 ? 1 : -1); /* around them */
    case 6:
        return ((size_t)(selector & 31) << 8 | value) << 9; /* .. 4 MiB */
    default:
        return SIZE_MAX - value; /* impossible */
    }
}

static bool size_is_possible(size_t size) { return size < ((size_t)1 << 40); }

static void check_block(const struct slot *slot)
{
    if ((uintptr_t)slot->block % slot->alignment || (uintptr_t)slot->block % 16)
        model_broken("misaligned", slot);
    if (tca_malloc_usable_size(slot->block) < slot->size)
        model_broken("usable size below the request", slot);
}

static void fill(struct slot *slot, uint8_t *block, size_t size, size_t alignment, uint64_t seed)
{
    *slot = (struct slot){block, size, alignment, seed};
    check_block(slot);
    pattern_write(block, 0, size, seed);
}

static void check_pattern(const struct slot *slot, size_t size)
{
    if (!pattern_holds(slot->block, size, slot->seed))
        model_broken("contents changed", slot);
}

static void release(struct slot *slot, bool sized)
{
    if (!slot->block)
        return;
    check_pattern(slot, slot->size);
    if (sized)
        tca_free_sized(slot->block, slot->size);
    else
        tca_free(slot->block);
    slot->block = NULL;
}

/* A failed allocation must be one that had to fail, and say ENOMEM. */
static void check_failure(size_t size)
{
    if (size_is_possible(size) || errno != ENOMEM) {
        fprintf(stderr, "fuzz: allocation of %zu bytes failed, errno %d\n", size, errno);
        abort();
    }
}

static void control(const char *action)
{
    if (tca_ctl(action, NULL, NULL, NULL, 0) != 0) {
        fprintf(stderr, "fuzz: tca_ctl(\"%s\") failed\n", action);
        abort();
    }
}

static void run_operation(struct slot *slots, const uint8_t op[4], uint64_t seed)
{
    struct slot *slot = &slots[op[1] % SLOTS];
    size_t size = size_from(op[2], op[3]);
    uint8_t *block;
    errno = 0;
    switch (op[0] % 8) {
    case 0:
        release(slot, false);
        if ((block = tca_malloc(size)))
            fill(slot, block, size, 16, seed);
        else
            check_failure(size);
        break;
    case 1: {
        /* count × element: op[2] also picks the count, so products overflow too */
        size_t count = op[2] >> 5 == 7 ? SIZE_MAX / 2 : (size_t)(op[2] & 7) + 1;
        size_t element = size_is_possible(size) ? size / count : size;
        size_t total;
        bool overflows = __builtin_mul_overflow(count, element, &total);
        release(slot, false);
        block = tca_calloc(count, element);
        if (!block) {
            check_failure(overflows ? SIZE_MAX : total);
            break;
        }
        for (size_t i = 0; i < total; i = pattern_next_offset(i))
            if (block[i])
                model_broken("calloc block not zeroed", &(struct slot){block, total, 16, 0});
        fill(slot, block, total, 16, seed);
        break;
    }
    case 2:
        if (!slot->block)
            break;
        block = tca_realloc(slot->block, size);
        if (!block && size == 0) {
            slot->block = NULL;
        } else if (!block) {
            check_failure(size);
            check_pattern(slot, slot->size); /* the old block is intact */
        } else {
            slot->block = block;
            check_pattern(slot, size < slot->size ? size : slot->size);
            size_t kept = slot->size;
            slot->size = size, slot->alignment = 16;
            check_block(slot);
            pattern_write(block, kept, size, slot->seed);
        }
        break;
    case 3: {
        size_t alignment = (size_t)1 << (op[1] >> 5 << 1); /* 1 .. 16 KiB */
        if (op[0] & 0x80)
            alignment <<= 8; /* .. 4 MiB */
        release(slot, false);
        if ((block = tca_aligned_alloc(alignment, size)))
            fill(slot, block, size, alignment < 16 ? 16 : alignment, seed);
        else
            check_failure(size);
        break;
    }
    case 4:
        /* The opcode's high bits also send the thread cache back to the slabs
         * and the arenas' free pages back to the OS, under the live blocks. */
        release(slot, false);
        if (op[0] & 0x80)
            control("thread.tcache.flush");
        if (op[0] >> 4 == 0xf) /* rarer: it is system calls */
            control("arenas.purge");
        break;
    case 5:
        release(slot, true);
        break;
    case 6:
        /* The whole usable size is the caller's to write. */
        if (slot->block) {
            check_pattern(slot, slot->size);
            size_t usable = tca_malloc_usable_size(slot->block);
            pattern_write(slot->block, 0, usable, ~slot->seed);
            pattern_write(slot->block, 0, slot->size, slot->seed);
        }
        break;
    default:
        /* realloc(NULL, n) is malloc(n). */
        release(slot, false);
        if ((block = tca_realloc(NULL, size)))
            fill(slot, block, size, 16, seed);
        else
            check_failure(size);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slot slots[SLOTS] = {{0}};
    uint64_t seeds = size;
    for (size_t at = 0; at + 4 <= size; at += 4)
        run_operation(slots, data + at, rng_next(&seeds));
    for (int i = 0; i < SLOTS; i++)
        release(&slots[i], false);
    return 0;
}
