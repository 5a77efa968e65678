/* On the machine the tests run on: a thread pinned to CPU k refills from arena
 * map[k] once a second thread has loaded the topology, and hwloc and /sys give
 * the same tables.  Run once per arena_per mode and once with hwloc off. */
#include <pthread.h>
#include <malloc.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "arenas/arena.h"
#include "check.h"
#include "pageheap/pagemap.h"
#include "src/options.h"
#include "tcarena.h"

struct pinned {
    unsigned cpu;
    unsigned arena; /* the arena of the block it got */
};

static void *run_pinned(void *arg)
{
    struct pinned *pinned = arg;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(pinned->cpu, &one);
    CHECK(pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0);
    /* The first allocation starts this thread's cache (the first pinned thread
     * loads the topology there, with blocks from arena 0); then the refill of
     * an empty cache comes from the arena of the CPU the thread is on. */
    free(malloc(1));
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    malloc_trim(0); /* empties the transfer caches, where earlier threads' blocks wait */
    void *block = malloc(3000);
    CHECK(block != NULL);
    pinned->arena = pagemap_span_of(block)->arena_index;
    free(block);
    return NULL;
}

static bool same_tables(const struct topology *a, const struct topology *b)
{
    if (a->cpu_slots != b->cpu_slots || a->arenas_used != b->arenas_used || a->numa_nodes != b->numa_nodes)
        return false;
    return !memcmp(a->cpu_to_arena, b->cpu_to_arena, a->cpu_slots * sizeof *a->cpu_to_arena) &&
           !memcmp(a->cpu_known, b->cpu_known, (a->cpu_slots + 63) / 64 * sizeof *a->cpu_known) &&
           !memcmp(a->arena_numa_node, b->arena_numa_node, a->arenas_used * sizeof *a->arena_numa_node);
}

int main(void)
{
    free(malloc(1)); /* the main thread's cache comes first: the next thread is the second */
    cpu_set_t allowed;
    CHECK(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
    if (CPU_COUNT(&allowed) < 2)
        SKIP("one CPU: no second arena to land on");
    CHECK(topology_current == NULL);
    for (unsigned cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        struct pinned pinned = {.cpu = cpu};
        pthread_t thread;
        CHECK(pthread_create(&thread, NULL, run_pinned, &pinned) == 0);
        CHECK(pthread_join(thread, NULL) == 0);
        CHECK(topology_current != NULL);
        CHECK(pinned.arena == topology_current->cpu_to_arena[cpu]);
        CHECK(pinned.arena == topology_arena_of_cpu(cpu));
    }

    const struct topology *loaded = topology_current;
    CHECK(loaded->source == (TCA_HAVE_HWLOC && tca_options.hwloc ? TOPOLOGY_HWLOC : TOPOLOGY_SYSFS));
    if (tca_options.arena_per == ARENA_PER_CPU && tca_options.narenas == 0)
        CHECK(loaded->arenas_used == (unsigned)CPU_COUNT(&allowed));
    struct cpu_mask mask;
    memcpy(&mask, &allowed, sizeof allowed);
    memset((char *)&mask + sizeof allowed, 0, sizeof mask - sizeof allowed);
    struct topology *from_sysfs = topology_from_sysfs("/sys", &mask, arena_count, tca_options.arena_per);
    CHECK(from_sysfs != NULL && same_tables(loaded, from_sysfs));
    struct topology *from_hwloc = topology_from_hwloc(&mask, arena_count, tca_options.arena_per);
    CHECK(!from_hwloc == !TCA_HAVE_HWLOC);
    CHECK(!from_hwloc || same_tables(loaded, from_hwloc));
    return 0;
}
