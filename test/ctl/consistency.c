/* The statistics add up: 100 MiB allocated in known sizes moves
 * stats.allocated by 100 MiB; the totals are the per-arena sums; the ordering
 * allocated ≤ active ≤ resident ≤ mapped holds in every snapshot while threads
 * allocate and free; thread.allocated counts exactly what the thread took. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tcarena.h"

struct totals {
    size_t allocated, active, dirty, metadata, resident, mapped, returned, tcache_bytes, heap_free, heap_dirty;
};

static size_t read_size(const char *name)
{
    size_t value, len = sizeof value;
    CHECK(tca_ctl(name, &value, &len, NULL, 0) == 0);
    return value;
}

static size_t read_arena_size(unsigned arena, const char *field)
{
    char name[96];
    snprintf(name, sizeof name, "stats.arenas.%u.%s", arena, field);
    return read_size(name);
}

static void refresh(void)
{
    uint64_t epoch = 1;
    CHECK(tca_ctl("epoch", NULL, NULL, &epoch, sizeof epoch) == 0);
}

/* One snapshot: totals, the ordering, and the per-arena sums. */
static struct totals check_snapshot(bool quiet)
{
    refresh();
    struct totals t = {
        read_size("stats.allocated"), read_size("stats.active"), read_size("stats.dirty"),
        read_size("stats.metadata"), read_size("stats.resident"), read_size("stats.mapped"),
        read_size("stats.returned"), read_size("stats.tcache_bytes"), read_size("stats.heap_free"),
        read_size("stats.heap_dirty"),
    };
    CHECK(t.allocated <= t.active);
    CHECK(t.active <= t.resident);
    CHECK(t.resident <= t.mapped);
    CHECK(t.returned <= t.heap_free && t.heap_dirty <= t.heap_free);
    unsigned narenas;
    size_t len = sizeof narenas;
    CHECK(tca_ctl("arenas.narenas", &narenas, &len, NULL, 0) == 0);
    size_t allocated = 0, active = 0, dirty = 0, mapped = 0;
    for (unsigned i = 0; i < narenas; i++) {
        size_t a_allocated = read_arena_size(i, "allocated"), a_active = read_arena_size(i, "active");
        size_t a_dirty = read_arena_size(i, "dirty"), a_mapped = read_arena_size(i, "mapped");
        CHECK(a_allocated <= a_active && a_active + a_dirty == a_mapped);
        CHECK(a_allocated == read_arena_size(i, "small_allocated") + read_arena_size(i, "large_allocated"));
        allocated += a_allocated, active += a_active, dirty += a_dirty, mapped += a_mapped;
    }
    CHECK(allocated == t.allocated);
    CHECK(active == t.active);
    CHECK(dirty + t.heap_dirty == t.dirty);
    if (quiet) {
        /* Nothing moved between the reads: the identities hold exactly. */
        CHECK(mapped + t.heap_free + t.metadata == t.mapped);
        CHECK(t.active + t.dirty + t.metadata == t.resident);
    }
    return t;
}

static uint64_t thread_counter(const char *name)
{
    uint64_t value;
    size_t len = sizeof value;
    CHECK(tca_ctl(name, &value, &len, NULL, 0) == 0);
    return value;
}

/* 100 MiB in sizes that are size classes (small and large): exact. */
static void check_known_sizes(void)
{
    static const size_t sizes[] = {16, 48, 256, 1024, 4096, 32768, 65536, 1 << 20};
    enum { NSIZES = sizeof sizes / sizeof sizes[0] };
    static void *blocks[NSIZES][(100 << 20) / NSIZES / 16];
    size_t counts[NSIZES];
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    struct totals baseline = check_snapshot(true);
    size_t before = baseline.allocated;
    uint64_t thread_before = thread_counter("thread.allocated");
    size_t requested = 0;
    for (unsigned s = 0; s < NSIZES; s++) {
        counts[s] = ((size_t)100 << 20) / NSIZES / sizes[s];
        for (size_t i = 0; i < counts[s]; i++) {
            CHECK((blocks[s][i] = malloc(sizes[s])) != NULL);
            requested += sizes[s];
        }
    }
    uint64_t thread_delta = thread_counter("thread.allocated") - thread_before;
    struct totals after = check_snapshot(true);
    size_t delta = after.allocated - before;
    double error = ((double)delta - (double)requested) / (double)requested;
    printf("100 MiB in class sizes: stats.allocated moved %zu for %zu requested (%+.4f%%), "
           "%zu of it parked in the thread cache\n", delta, requested, 100 * error, after.tcache_bytes);
    CHECK(error > -0.01 && error < 0.01);
    /* What the program holds is exact: allocated less what the cache holds. */
    CHECK((after.allocated - after.tcache_bytes) - (before - baseline.tcache_bytes) == requested);
    /* thread.allocated counts what the thread's cache took from the arenas:
     * the blocks handed out, and those a refill brought that wait in its bins. */
    CHECK(thread_delta >= requested && thread_delta - requested <= after.tcache_bytes);

    /* Sizes between classes: allocated follows the usable sizes. */
    uint64_t dealloc_before = thread_counter("thread.deallocated");
    for (unsigned s = 0; s < NSIZES; s++)
        for (size_t i = 0; i < counts[s]; i++)
            free(blocks[s][i]);
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    /* Flushed, the cache gave back all it took. */
    CHECK(thread_counter("thread.deallocated") - dealloc_before == thread_delta);
    /* Blocks the transfer caches keep count as allocated and as cached. */
    struct totals freed = check_snapshot(true);
    size_t held_after = freed.allocated - freed.tcache_bytes, held_before = before - baseline.tcache_bytes;
    printf("held by the program after freeing and flushing: %zu (before: %zu)\n", held_after, held_before);
    if (held_after != held_before)
        tca_stats_print(NULL, NULL, "");
    CHECK(held_after == held_before);

    size_t usable = 0, odd_requested = 0;
    enum { NODD = 20000 };
    static void *odd[NODD];
    for (unsigned i = 0; i < NODD; i++) {
        size_t size = 1 + (i * 7919u) % 20000;
        odd[i] = malloc(size);
        odd_requested += size;
        usable += malloc_usable_size(odd[i]);
    }
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    struct totals odd_totals = check_snapshot(true);
    size_t odd_delta = (odd_totals.allocated - odd_totals.tcache_bytes) - held_before;
    printf("%zu bytes in odd sizes (usable %zu): stats.allocated moved %zu\n", odd_requested, usable, odd_delta);
    CHECK(odd_delta == usable);
    for (unsigned i = 0; i < NODD; i++)
        free(odd[i]);
}

enum { NTHREADS = 4, ROUNDS = 200000, LIVE = 512 };

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *live[LIVE] = {0};
    size_t live_size[LIVE] = {0};
    uint64_t allocated_before = thread_counter("thread.allocated");
    uint64_t deallocated_before = thread_counter("thread.deallocated");
    for (unsigned round = 0; round < ROUNDS; round++) {
        seed = seed * 1103515245u + 12345u;
        unsigned slot = (seed >> 8) % LIVE;
        if (live[slot]) {
            free(live[slot]);
            live[slot] = NULL;
        } else {
            size_t size = (seed >> 16) % 64 == 0 ? 40000 + (seed >> 20) % 100000 : 1 + (seed >> 16) % 2048;
            live[slot] = malloc(size);
            CHECK(live[slot] != NULL);
            live_size[slot] = malloc_usable_size(live[slot]);
        }
    }
    size_t held = 0;
    for (unsigned i = 0; i < LIVE; i++)
        held += live[i] ? live_size[i] : 0;
    /* With its cache flushed, what the thread took from the arenas and did
     * not give back is what it holds. */
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    uint64_t allocated = thread_counter("thread.allocated") - allocated_before;
    uint64_t deallocated = thread_counter("thread.deallocated") - deallocated_before;
    CHECK(allocated >= held && allocated - deallocated == held);
    for (unsigned i = 0; i < LIVE; i++)
        free(live[i]);
    return NULL;
}

/* The first thread after main to allocate loads the topology (hwloc allocates). */
static void *load_topology(void *arg)
{
    free(malloc(1));
    return arg;
}

static void check_threads(void)
{
    pthread_t first;
    CHECK(pthread_create(&first, NULL, load_topology, NULL) == 0 && pthread_join(first, NULL) == 0);
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    struct totals start = check_snapshot(true);
    size_t before = start.allocated - start.tcache_bytes;
    pthread_t threads[NTHREADS];
    for (unsigned i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&threads[i], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0);
    /* Snapshots taken while the workers run: the ordering and the sums hold in each. */
    unsigned snapshots = 0;
    for (; snapshots < 200; snapshots++)
        check_snapshot(false);
    for (unsigned i = 0; i < NTHREADS; i++)
        CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    /* Exited threads flushed their caches: what the program holds is what it
     * held before (plus what pthread_create kept in ours, which the flush
     * returned); the transfer caches may keep the threads' freed blocks. */
    struct totals end = check_snapshot(true);
    size_t after = end.allocated - end.tcache_bytes;
    printf("%u snapshots under %u threads; held before %zu, after %zu\n", snapshots, NTHREADS, before, after);
    CHECK(after <= before + 4096 && before <= after + 4096);
}

int main(void)
{
    /* printf's buffer would be an allocation between the snapshots compared. */
    setvbuf(stdout, NULL, _IONBF, 0);
    check_snapshot(true);
    check_known_sizes();
    check_threads();
    CHECK(tca_ctl("arenas.purge", NULL, NULL, NULL, 0) == 0);
    struct totals purged = check_snapshot(true);
    CHECK(purged.heap_dirty == 0);
    return 0;
}
