/* One page heap per NUMA node, on a machine of one: a two-node arena → node
 * table is published by hand (arena 0 on node 0, arena 1 on node 1), so that
 * arena 1's spans come from node 1's heap, a block of node 1 freed by another
 * thread goes home, the statistics add up, purge and fork cover both heaps;
 * and mbind itself works for node 0 and fails harmlessly for a missing node. */
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "arenas/arena.h"
#include "check.h"
#include "pageheap/os.h"
#include "pageheap/pagemap.h"
#include "src/options.h"
#include "tcarena.h"

/* The page heap checks its invariants on every step only in a checked build;
 * it exports the check for the tests. */
void pageheap_check(void);
/* One node's heap (node % PAGEHEAP_NODES), also exported for the tests. */
void pageheap_read_node_stats(unsigned node, struct pageheap_stats *out);

#define LARGE_SIZE (256 * 1024)
#define LARGE_PAGES (LARGE_SIZE / TCA_PAGE_SIZE)

static void publish_two_nodes(void)
{
    static struct topology two_nodes;
    /* Threads refill from arena 0 whatever CPU they are on: only the test's
     * explicit calls touch arena 1, so node 1's figures are exact. */
    static uint16_t cpu_to_arena[2] = {0, 0};
    static uint64_t cpu_known[1] = {3};
    static int16_t arena_numa_node[2] = {0, 1};
    two_nodes = (struct topology){
        .cpu_slots = 2,
        .cpu_to_arena = cpu_to_arena,
        .cpu_known = cpu_known,
        .arena_numa_node = arena_numa_node,
        .arenas_used = 2,
        .numa_nodes = 2,
        .source = TOPOLOGY_SYSFS,
    };
    __atomic_store_n(&topology_current, &two_nodes, __ATOMIC_RELEASE);
}

static void node_stats(unsigned node, struct pageheap_stats *out) { pageheap_read_node_stats(node, out); }

static void check_totals_add_up(void)
{
    struct pageheap_stats total, node0, node1;
    pageheap_read_stats(&total);
    node_stats(0, &node0);
    node_stats(1, &node1);
    CHECK(total.mapped_bytes == node0.mapped_bytes + node1.mapped_bytes);
    CHECK(total.free_bytes == node0.free_bytes + node1.free_bytes);
    CHECK(total.dirty_bytes == node0.dirty_bytes + node1.dirty_bytes);
    CHECK(total.returned_bytes == node0.returned_bytes + node1.returned_bytes);
    CHECK(total.large_bytes == node0.large_bytes + node1.large_bytes);
    CHECK(total.slab_bytes == node0.slab_bytes + node1.slab_bytes);
    pageheap_check();
}

static void check_spans_come_from_their_node(void)
{
    struct pageheap_stats before, after;
    node_stats(1, &before);
    void *near = arena_alloc_large(arena_get(0), LARGE_SIZE, 0, false);
    void *far = arena_alloc_large(arena_get(1), LARGE_SIZE, 0, false);
    CHECK(near && far);
    CHECK(pagemap_span_of(near)->node == 0);
    CHECK(pagemap_span_of(far)->node == 1);
    node_stats(1, &after);
    CHECK(after.large_bytes == before.large_bytes + LARGE_SIZE);
    CHECK(after.mapped_bytes > 0);
    memset(far, 1, LARGE_SIZE); /* the bound region is usable memory */
    arena_free_large(pagemap_span_of(near));
    arena_free_large(pagemap_span_of(far));

    /* A slab for arena 1's bin is carved from node 1's heap too. */
    void *blocks[8];
    unsigned got = arena_refill(arena_get(1), 3, blocks, 8);
    CHECK(got > 0);
    CHECK(pagemap_span_of(blocks[0])->node == 1);
    node_stats(1, &after);
    CHECK(after.slab_bytes > 0);
    arena_flush(3, blocks, got);
    check_totals_add_up();
}

/* The other thread stands for a thread of node 0: it frees a node 1 block. */
static void *free_elsewhere(void *block)
{
    tca_free(block);
    return NULL;
}

static void check_cross_node_free_goes_home(void)
{
    void *far = arena_alloc_large(arena_get(1), LARGE_SIZE, 0, false);
    CHECK(far);
    struct pageheap_stats node0_before, node1_before, node0_after, node1_after;
    node_stats(0, &node0_before);
    node_stats(1, &node1_before);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, free_elsewhere, far) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    node_stats(0, &node0_after);
    node_stats(1, &node1_after);
    CHECK(node1_after.large_bytes == node1_before.large_bytes - LARGE_SIZE);
    CHECK(node1_after.free_bytes == node1_before.free_bytes + LARGE_SIZE);
    CHECK(node0_after.large_bytes == node0_before.large_bytes);
    check_totals_add_up();
}

/* Two threads, each allocating from one node and freeing the other's blocks,
 * while the heaps purge: every heap stays consistent and nothing is lost. */
#define CROSS_ROUNDS 2000
static void *handoff; /* the last block allocated, by either thread */

static void *cross_free_loop(void *arg)
{
    unsigned mine = (unsigned)(uintptr_t)arg;
    for (unsigned round = 0; round < CROSS_ROUNDS; round++) {
        void *block = arena_alloc_large(arena_get(mine), (round % 7 + 1) * TCA_PAGE_SIZE * 3, 0, false);
        CHECK(block);
        void *other = __atomic_exchange_n(&handoff, block, __ATOMIC_ACQ_REL);
        if (other)
            tca_free(other);
        if (round % 256 == 0)
            pageheap_purge(false);
    }
    return NULL;
}

static void check_concurrent_cross_frees(void)
{
    struct pageheap_stats before, after;
    pageheap_read_stats(&before);
    pthread_t threads[2];
    for (uintptr_t i = 0; i < 2; i++)
        CHECK(pthread_create(&threads[i], NULL, cross_free_loop, (void *)i) == 0);
    for (unsigned i = 0; i < 2; i++)
        CHECK(pthread_join(threads[i], NULL) == 0);
    tca_free(handoff);
    pageheap_read_stats(&after);
    CHECK(after.large_bytes == before.large_bytes);
    check_totals_add_up();
}

static void check_purge_covers_every_node(void)
{
    void *far = arena_alloc_large(arena_get(1), LARGE_SIZE, 0, false);
    CHECK(far);
    memset(far, 1, LARGE_SIZE);
    tca_free(far);
    CHECK(tca_ctl("arenas.purge", NULL, NULL, NULL, 0) == 0);
    struct pageheap_stats node1;
    node_stats(1, &node1);
    CHECK(node1.dirty_bytes == 0);
    check_totals_add_up();
}

/* With the background thread (TCARENA_CONF=background_thread:true,decay_ms:100),
 * a free on node 1 wakes the thread sleeping on node 0's heap, and the pages
 * go back within about a decay time: all of them, or where the heap returns
 * whole huge pages only, all but the block's ends outside its whole huge
 * pages (2 MiB at most in all, for a 4 MiB block). */
static void check_background_purges_every_node(void)
{
    if (!tca_options.background_thread)
        return;
    enum { BLOCK = 4 << 20 };
    void *far = arena_alloc_large(arena_get(1), BLOCK, 0, false);
    CHECK(far);
    memset(far, 1, BLOCK);
    usleep(1200 * 1000); /* the thread has seen nothing dirty for a while: it sleeps */
    tca_free(far);
    size_t left = pageheap_returns_huge_pages() ? (size_t)2 << 20 : 0;
    struct pageheap_stats node1;
    unsigned waited_ms = 0;
    for (; waited_ms < 3000; waited_ms += 10) {
        node_stats(1, &node1);
        if (node1.dirty_bytes <= left)
            break;
        usleep(10 * 1000);
    }
    printf("node 1's dirty pages returned %u ms after the free\n", waited_ms);
    CHECK(node1.dirty_bytes <= left);
}

static void check_fork_child_uses_both_heaps(void)
{
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        void *far = arena_alloc_large(arena_get(1), LARGE_SIZE, 0, false);
        void *near = arena_alloc_large(arena_get(0), LARGE_SIZE, 0, false);
        if (!far || !near || pagemap_span_of(far)->node != 1)
            _exit(1);
        tca_free(far);
        tca_free(near);
        pageheap_check();
        _exit(0);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static bool node_exists(unsigned node)
{
    char path[64];
    snprintf(path, sizeof path, "/sys/devices/system/node/node%u", node);
    struct stat info;
    return stat(path, &info) == 0;
}

static void check_mbind(void)
{
    size_t size = 1 << 20;
    char *memory = os_map(size, 0);
    CHECK(memory);
    if (!os_bind_preferred(memory, size, 0)) {
        /* Kernels without NUMA support, or a seccomp filter, refuse mbind itself. */
        CHECK(errno == ENOSYS || errno == EPERM);
        os_unmap(memory, size);
        return;
    }
    if (!node_exists(7))
        CHECK(!os_bind_preferred(memory, size, 7));
    CHECK(!os_bind_preferred(memory, size, 5000));
    memset(memory, 1, size); /* still ordinary memory after the refusals */
    CHECK(memory[size - 1] == 1);
    os_unmap(memory, size);
}

int main(void)
{
    tca_free(tca_malloc(1)); /* bootstrap before the table is replaced */
    check_mbind();
    publish_two_nodes();
    CHECK(topology_arena_memory_node(0) == 0 && topology_arena_memory_node(1) == 1);
    check_spans_come_from_their_node();
    check_cross_node_free_goes_home();
    check_concurrent_cross_frees();
    check_purge_covers_every_node();
    check_background_purges_every_node();
    check_fork_child_uses_both_heaps();
    check_totals_add_up();
    return 0;
}
