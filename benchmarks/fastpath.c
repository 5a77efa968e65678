/* Single-thread fast path: malloc+free pairs of one size at a time, swept
 * from 8 B to 32 KiB, so every pair after the first hits the thread cache.
 * "fastpath SIZE" runs only that size (2M pairs at -s 1): the instruction
 * count script runs it under callgrind with --toggle-collect=bench_loop, and
 * bench_loop's inclusive cost minus its self cost is the allocator's share. */
#include "bench.h"

#include <stdio.h>

static const size_t sweep_sizes[] = {8, 16, 32, 48, 64, 96, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};

/* Each block's first and last words are written and read back before the
 * free: cheap enough to leave the allocator dominant, and a NULL or
 * unwritable block fails. */
__attribute__((noinline)) uint64_t bench_loop(size_t size, uint64_t pairs)
{
    uint64_t mismatches = 0;
    for (uint64_t i = 0; i < pairs; i++) {
        unsigned char *block = bench_malloc(size);
        /* Offset-dependent values, so size 8 (head == tail) reads back consistently. */
        uint64_t head = i, tail = i ^ ((size - 8) * 0x9e3779b97f4a7c15ULL), seen_head, seen_tail;
        memcpy(block, &head, 8);
        memcpy(block + size - 8, &tail, 8);
        __asm__ volatile("" ::: "memory"); /* the reads below must really read */
        memcpy(&seen_head, block, 8);
        memcpy(&seen_tail, block + size - 8, 8);
        mismatches += (seen_head != head) | (seen_tail != tail);
        free(block);
    }
    return mismatches;
}

/* Fills the thread cache's bin before the measured loop. */
__attribute__((noinline)) static void warm_up(size_t size)
{
    free(bench_malloc(size));
}

static void run_size(size_t size, uint64_t pairs)
{
    warm_up(size);
    if (bench_loop(size, pairs))
        bench_fail("a %zu-byte block did not keep what was written to it", size);
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 1, "[SIZE]");
    double start = bench_now();
    if (args.mode) {
        size_t size = strtoul(args.mode, NULL, 0);
        if (size < 8)
            bench_fail("SIZE must be at least 8");
        run_size(size, bench_scaled(&args, 2000000, 1));
    } else {
        uint64_t pairs = bench_scaled(&args, 3000000, 1);
        for (size_t i = 0; i < sizeof sweep_sizes / sizeof sweep_sizes[0]; i++)
            run_size(sweep_sizes[i], pairs);
    }
    bench_report("fastpath", bench_now() - start);
    return 0;
}
