/* Thread caches: calloc's cleared blocks, hits and misses through malloc/free, refill and flush sizes,
 * bins growing for threads that recycle batches (not for threads that only
 * free), flush_all, the per-thread allocated/deallocated counts, idle bins shrinking,
 * everything returned at thread exit, and a thread allocating after its cache
 * was torn down. */
#include <pthread.h>
#include <sys/mman.h>

#include "arenas/arena.h"
#include "arenas/transfer.h"
#include "check.h"
#include "pageheap/pagemap.h"
#include "src/bootstrap.h"
#include "tcache/tcache.h"
#include "tcarena.h"

static unsigned cached(unsigned cls)
{
    return tcache_tls.state == TCACHE_ACTIVE ? tcache_bin_count(&tcache_tls, cls) : 0;
}

/* Blocks of class cls handed out by the arenas and not yet returned to them. */
static uint64_t arena_outstanding(unsigned cls)
{
    uint64_t regs = 0;
    for (unsigned i = 0; i < arena_count; i++)
        if (arena_table[i]) {
            pthread_mutex_lock(&arena_table[i]->bins[cls].lock);
            regs += arena_table[i]->bins[cls].counts->nmalloc - arena_table[i]->bins[cls].counts->ndalloc;
            pthread_mutex_unlock(&arena_table[i]->bins[cls].lock);
        }
    return regs;
}

static void check_hits_and_misses(void)
{
    unsigned cls = sizeclass_of(100);
    const struct sizeclass_info *info = &sizeclass_table[cls];
    tcache_flush_all(&tcache_tls, true);
    CHECK(cached(cls) == 0);

    /* A bin's first refill takes 4 KiB of blocks; each later one as many as
     * came before, up to half the bin's capacity. */
    unsigned first_refill = 4096 / info->size;
    void *first = malloc(100);
    CHECK(tcache_tls.state == TCACHE_ACTIVE);
    CHECK(tcache_bin_capacity(&tcache_tls, cls) == info->tcache_cap);
    CHECK(cached(cls) == first_refill - 1u);
    free(first);
    CHECK(cached(cls) == first_refill);
    CHECK(malloc(100) == first); /* last in, first out */
    free(first);
    void *drained[4096 / 16 + 1];
    for (unsigned i = 0; i <= first_refill; i++)
        CHECK((drained[i] = malloc(100)) != NULL);
    unsigned second_refill = first_refill < info->tcache_cap / 2u ? first_refill : info->tcache_cap / 2u;
    CHECK(cached(cls) == second_refill - 1u);
    for (unsigned i = 0; i <= first_refill; i++)
        free(drained[i]);

    /* Freeing past capacity flushes half the bin, or doubles the capacity (up
     * to the class's maximum) when the thread allocated a bin's worth since
     * the last overflow: batches of its own blocks bigger than the bin. */
    unsigned count = 2u * info->tcache_cap_max + 1;
    void **blocks = calloc(count, sizeof(void *));
    uint64_t flushed = tcache_tls.memory->nflushed[cls];
    for (int round = 0; round < 8; round++) {
        for (unsigned i = 0; i < count; i++)
            CHECK((blocks[i] = malloc(100)) && pagemap_class_of(blocks[i]) == cls);
        for (unsigned i = 0; i < count; i++) {
            free(blocks[i]);
            CHECK(cached(cls) <= tcache_bin_capacity(&tcache_tls, cls));
            CHECK(tcache_bin_capacity(&tcache_tls, cls) <= info->tcache_cap_max);
        }
    }
    CHECK(tcache_bin_capacity(&tcache_tls, cls) == info->tcache_cap_max);
    CHECK(tcache_tls.memory->nflushed[cls] - flushed >= count - info->tcache_cap_max);
    free(blocks);

    uint64_t outstanding = arena_outstanding(cls);
    unsigned held = cached(cls);
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    for (unsigned c = 1; c < TCA_NCLASSES; c++)
        CHECK(cached(c) == 0);
    CHECK(arena_outstanding(cls) == outstanding - held);
}

/* thread.allocated and thread.deallocated count what the thread's cache took
 * from the arenas and gave back, and the blocks that bypass it (large ones)
 * exactly. */
static void check_thread_counts(void)
{
    const struct tcache *cache = &tcache_tls;
    tcache_flush_all(&tcache_tls, true);
    uint64_t allocated = tcache_thread_allocated(cache), deallocated = tcache_thread_deallocated(cache);
    void *large = malloc(100000);
    CHECK(tcache_thread_allocated(cache) - allocated == tca_align_up(100000, TCA_PAGE_SIZE));
    free(large);
    CHECK(tcache_thread_deallocated(cache) - deallocated == tca_align_up(100000, TCA_PAGE_SIZE));
    allocated = tcache_thread_allocated(cache), deallocated = tcache_thread_deallocated(cache);
    void *small = malloc(1000), *aligned = aligned_alloc(4096, 5000);
    uint64_t took = tcache_thread_allocated(cache) - allocated;
    CHECK(took >= sizeclass_size(sizeclass_of(1000)) + sizeclass_size(sizeclass_for_aligned(5000, 4096)));
    CHECK(took == (cached(sizeclass_of(1000)) + 1) * sizeclass_size(sizeclass_of(1000)) +
                      (cached(sizeclass_for_aligned(5000, 4096)) + 1) * sizeclass_size(sizeclass_for_aligned(5000, 4096)));
    /* Freed into the bins, nothing goes back yet; flushed, all of it. */
    free(small);
    free(aligned);
    CHECK(tcache_thread_deallocated(cache) == deallocated);
    tcache_flush_all(&tcache_tls, true);
    CHECK(tcache_thread_deallocated(cache) - deallocated == took);
}

/* A bin left alone while other classes keep taking slow paths gives blocks
 * back, and a bin that grew (check_hits_and_misses) shrinks again. */
static void check_idle_bin_shrinks(void)
{
    unsigned idle = sizeclass_of(5000), busy = sizeclass_of(16), grown = sizeclass_of(100);
    unsigned grown_capacity = tcache_bin_capacity(&tcache_tls, grown);
    CHECK(grown_capacity > sizeclass_table[grown].tcache_cap);
    void *refill_grown = malloc(100);
    free(refill_grown);
    void *blocks[8];
    for (int i = 0; i < 8; i++)
        blocks[i] = malloc(5000);
    for (int i = 0; i < 8; i++)
        free(blocks[i]);
    unsigned held = cached(idle);
    CHECK(held >= 8);
    size_t count = (size_t)sizeclass_table[busy].tcache_cap_max * 4 * TCA_NCLASSES * 32;
    void **many = malloc(count * sizeof(void *));
    for (size_t i = 0; i < count; i++)
        many[i] = malloc(16);
    for (size_t i = 0; i < count; i++)
        free(many[i]);
    free(many);
    CHECK(cached(idle) < held);
    CHECK(tcache_bin_capacity(&tcache_tls, grown) < grown_capacity);
}

static pthread_key_t late_key;

/* Runs after tcarena's own thread-exit destructor (a later key): the cache is
 * torn down and the arena serves. */
static void allocate_late(void *arg)
{
    (void)arg;
    CHECK(tcache_tls.state == TCACHE_BYPASS);
    void *blocks[100];
    for (int i = 0; i < 100; i++) {
        CHECK((blocks[i] = malloc((size_t)i * 97)) != NULL);
        memset(blocks[i], i, (size_t)i * 97);
    }
    for (int i = 0; i < 100; i++)
        free(blocks[i]);
    CHECK(cached(sizeclass_of(97)) == 0);
}

static void *short_thread(void *arg)
{
    unsigned cls = *(unsigned *)arg;
    void *blocks[50];
    for (int i = 0; i < 50; i++)
        blocks[i] = malloc(sizeclass_size(cls));
    for (int i = 0; i < 50; i += 2)
        free(blocks[i]);
    for (int i = 1; i < 50; i += 2)
        free(blocks[i]);
    CHECK(cached(cls) > 0);
    pthread_setspecific(late_key, &late_key);
    return NULL;
}

static void run_short_thread(unsigned *cls)
{
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, short_thread, cls) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
}

static void check_thread_exit(void)
{
    unsigned cls = sizeclass_of(2500);
    CHECK(pthread_key_create(&late_key, allocate_late) == 0);
    /* The first second thread loads the topology, which keeps what it allocates. */
    run_short_thread(&cls);
    tcache_flush_all(&tcache_tls, true);
    transfer_decay(true, arena_flush);
    uint64_t outstanding = arena_outstanding(cls);
    for (int round = 0; round < 4; round++) {
        run_short_thread(&cls);
        transfer_decay(true, arena_flush); /* an exiting thread's blocks wait there for the next thread */
        CHECK(arena_outstanding(cls) == outstanding);
    }
}

/* A thread that only frees blocks another thread allocated (a consumer)
 * flushes its overflows and keeps its bin at the first capacity. */
static void *free_all(void *arg)
{
    void **blocks = arg;
    unsigned cls = pagemap_class_of(blocks[0]);
    for (unsigned i = 0; blocks[i]; i++) {
        free(blocks[i]);
        CHECK(tcache_bin_capacity(&tcache_tls, cls) == sizeclass_table[cls].tcache_cap);
    }
    return NULL;
}

static void check_consumer_bin_stays(void)
{
    unsigned cls = sizeclass_of(300), count = 4u * sizeclass_table[cls].tcache_cap_max;
    void **blocks = calloc(count + 1, sizeof(void *));
    for (int round = 0; round < 3; round++) {
        for (unsigned i = 0; i < count; i++)
            CHECK((blocks[i] = malloc(300)) != NULL);
        pthread_t thread;
        CHECK(pthread_create(&thread, NULL, free_all, blocks) == 0);
        CHECK(pthread_join(thread, NULL) == 0);
    }
    free(blocks);
}

static bool all_zero(const unsigned char *bytes, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (bytes[i])
            return false;
    return true;
}

/* calloc leaves a block never handed out from a slab of zero pages as it is
 * (its pages past the first, where the mark lies, are not even faulted in),
 * and clears every other: one the program wrote and freed, and the blocks of
 * slabs made again on pages other classes left dirty. */
static void check_calloc_clears(void)
{
    enum { SIZE = 32768, COUNT = 8 };
    long system_page = sysconf(_SC_PAGESIZE);
    unsigned char *blocks[COUNT];
    for (int i = 0; i < COUNT; i++) {
        CHECK((blocks[i] = calloc(1, SIZE)) != NULL);
        unsigned char resident = 1;
        CHECK(mincore(blocks[i] + SIZE - system_page, (size_t)system_page, &resident) == 0);
        CHECK(!(resident & 1)); /* run with thp:never: no huge page maps it whole */
        CHECK(all_zero(blocks[i], SIZE));
        memset(blocks[i], 0xa5, SIZE);
    }
    for (int i = 0; i < COUNT; i++)
        free(blocks[i]);
    for (int i = 0; i < COUNT; i++) {
        CHECK((blocks[i] = calloc(SIZE, 1)) != NULL);
        CHECK(all_zero(blocks[i], SIZE));
    }
    for (int i = 0; i < COUNT; i++)
        free(blocks[i]);

    enum { CHURN = 4096 };
    static void *churn[CHURN];
    for (int round = 0; round < 6; round++) {
        size_t dirty_size = (size_t)16 << round, clean_size = (size_t)2064 >> round;
        for (int i = 0; i < CHURN; i++) {
            CHECK((churn[i] = malloc(dirty_size)) != NULL);
            memset(churn[i], 0x5a, dirty_size);
        }
        for (int i = 0; i < CHURN; i++)
            free(churn[i]);
        tcache_flush_all(&tcache_tls, true);
        transfer_decay(true, arena_flush);
        for (int i = 0; i < CHURN; i++) {
            CHECK((churn[i] = calloc(1, clean_size)) != NULL);
            CHECK(all_zero(churn[i], clean_size));
        }
        for (int i = 0; i < CHURN; i++)
            free(churn[i]);
    }
}

int main(void)
{
#if TCA_SECURE
    SKIP("the secure build keeps every thread cache in bypass mode");
#endif
    CHECK(tca_bootstrap()); /* the class table is read before the first malloc */
    check_calloc_clears();
    check_hits_and_misses();
    check_thread_counts();
    check_idle_bin_shrinks();
    check_thread_exit();
    check_consumer_bin_stays();
    return 0;
}
