/* False sharing, after Hoard's cache-thrash and cache-scratch. Each thread
 * repeatedly allocates an 8-byte object, writes every byte of it many times
 * and frees it. thrash: an allocator that hands neighbouring objects of one
 * cache line to different threads makes the writes fight over the line
 * (active false sharing). scratch: the main thread first allocates one object
 * per thread, back to back, and each thread starts by freeing its object; an
 * allocator that then serves the thread from that shared line causes passive
 * false sharing. */
#include "bench.h"

#include <stdio.h>

#define OBJECT_BYTES 8
#define WRITES_PER_OBJECT 500

struct shared {
    void **handed_over; /* scratch: one object per thread; NULL for thrash */
    uint64_t objects_per_thread;
};

static void write_and_check(volatile unsigned char *object)
{
    for (int w = 0; w < WRITES_PER_OBJECT; w++)
        for (int i = 0; i < OBJECT_BYTES; i++)
            object[i]++;
    for (int i = 0; i < OBJECT_BYTES; i++)
        if (object[i] != (unsigned char)WRITES_PER_OBJECT)
            bench_fail("object %p byte %d lost a write", (void *)object, i);
}

static void run_thread(int index, void *shared_arg)
{
    struct shared *shared = shared_arg;
    if (shared->handed_over)
        free(shared->handed_over[index]);
    for (uint64_t n = 0; n < shared->objects_per_thread; n++) {
        unsigned char *object = bench_malloc(OBJECT_BYTES);
        memset(object, 0, OBJECT_BYTES);
        write_and_check(object);
        free(object);
    }
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 2, "scratch|thrash");
    bool scratch = args.mode && !strcmp(args.mode, "scratch");
    if (!scratch && !(args.mode && !strcmp(args.mode, "thrash")))
        bench_fail("mode must be scratch or thrash");
    struct shared shared = {.objects_per_thread = bench_scaled(&args, 100000, 1)};
    double start = bench_now();
    if (scratch) {
        shared.handed_over = bench_malloc(sizeof(void *) * (size_t)args.threads);
        for (int t = 0; t < args.threads; t++)
            shared.handed_over[t] = bench_malloc(OBJECT_BYTES);
    }
    bench_run_threads(args.threads, run_thread, &shared);
    free(shared.handed_over);
    bench_report(scratch ? "cache-scratch" : "cache-thrash", bench_now() - start);
    return 0;
}
