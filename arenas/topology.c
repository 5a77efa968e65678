/* The topology in force, read once, lazily, when a second thread first
 * allocates (topology_sources.c reads it), and what the arenas ask of it. */
#include "arenas/topology.h"

#include <string.h>

#include "pageheap/os.h"

struct topology *topology_current;
static int topology_loading;
static bool hwloc_wanted;
static enum arena_per grouping;
static struct topology_placement *placement;

void topology_boot(bool use_hwloc, enum arena_per per, struct topology_placement *storage)
{
    hwloc_wanted = use_hwloc;
    grouping = per;
    placement = storage;
    os_allowed_cpus(placement->cpu_known, sizeof placement->cpu_known);
}

/* The tables just published, into the placement: what a reader of the page
 * may see half-written is one moment's mix of the old and the new. */
static void placement_publish(const struct topology *topo)
{
    unsigned slots = topo->cpu_slots < TOPOLOGY_MAX_CPUS ? topo->cpu_slots : TOPOLOGY_MAX_CPUS;
    memset(placement->cpu_known, 0, sizeof placement->cpu_known);
    memcpy(placement->cpu_known, topo->cpu_known, (slots + 63) / 64 * sizeof(uint64_t));
    memcpy(placement->arena_of_cpu, topo->cpu_to_arena, slots * sizeof(uint16_t));
    for (unsigned arena = 0; arena < topo->arenas_used && arena < TOPOLOGY_MAX_ARENAS; arena++)
        placement->numa_node_of_arena[arena] = topo->arena_numa_node[arena];
    __atomic_store_n(&placement->arenas_used, topo->arenas_used, __ATOMIC_RELEASE);
}

void topology_load(unsigned narenas)
{
    if (__atomic_load_n(&topology_current, __ATOMIC_ACQUIRE) ||
        __atomic_exchange_n(&topology_loading, 1, __ATOMIC_ACQ_REL))
        return;
    struct cpu_mask allowed;
    if (!os_allowed_cpus(allowed.bits, sizeof allowed.bits))
        memset(&allowed, 0xff, sizeof allowed); /* then /sys's online list decides */
    struct topology *topo = hwloc_wanted ? topology_from_hwloc(&allowed, narenas, grouping) : NULL;
    if (!topo)
        topo = topology_from_sysfs("/sys", &allowed, narenas, grouping);
    if (topo) {
        __atomic_store_n(&topology_current, topo, __ATOMIC_RELEASE);
        placement_publish(topo);
    } else
        __atomic_store_n(&topology_loading, 0, __ATOMIC_RELEASE);
}

/* The CPUs arena serves under the tables in force (before a second thread
 * starts, arena 0 serves every CPU the process may run on), for the tests,
 * which declare it: the statistics read the placement. */
size_t topology_arena_cpus(unsigned arena, unsigned *cpus, size_t max)
{
    const struct topology *topo = __atomic_load_n(&topology_current, __ATOMIC_ACQUIRE);
    if (topo)
        return topology_list_cpus(topo->cpu_known, topo->cpu_slots, topo->cpu_to_arena, arena, cpus, max);
    struct cpu_mask allowed;
    if (arena != 0 || !os_allowed_cpus(allowed.bits, sizeof allowed.bits))
        return 0;
    return topology_list_cpus(allowed.bits, TOPOLOGY_MAX_CPUS, NULL, 0, cpus, max);
}

int topology_arena_numa_node(unsigned arena)
{
    const struct topology *topo = __atomic_load_n(&topology_current, __ATOMIC_ACQUIRE);
    return topo && arena < topo->arenas_used ? topo->arena_numa_node[arena] : -1;
}

int topology_arena_memory_node(unsigned arena)
{
    const struct topology *topo = __atomic_load_n(&topology_current, __ATOMIC_ACQUIRE);
    return topo && topo->numa_nodes > 1 && arena < topo->arenas_used ? topo->arena_numa_node[arena] : -1;
}

/* How many arenas the map names (1 before the topology is loaded), for the
 * tests, which declare it. */
unsigned topology_arenas_used(void)
{
    const struct topology *topo = __atomic_load_n(&topology_current, __ATOMIC_ACQUIRE);
    return topo ? topo->arenas_used : 1;
}

unsigned topology_numa_nodes(void)
{
    const struct topology *topo = __atomic_load_n(&topology_current, __ATOMIC_ACQUIRE);
    return topo ? topo->numa_nodes : 0;
}

