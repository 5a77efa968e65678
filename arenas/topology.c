/* The topology in force, read once, lazily, when a second thread first
 * allocates (topology_sources.c reads it), and what the arenas ask of it. */
#include "arenas/topology.h"

#include <string.h>

#include "pageheap/os.h"

struct topology *topology_current;
static int topology_loading;
static bool hwloc_wanted;
static enum arena_per grouping;

void topology_boot(bool use_hwloc, enum arena_per per)
{
    hwloc_wanted = use_hwloc;
    grouping = per;
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
    if (topo)
        __atomic_store_n(&topology_current, topo, __ATOMIC_RELEASE);
    else
        __atomic_store_n(&topology_loading, 0, __ATOMIC_RELEASE);
}

/* The CPUs in mask (of slots bits) that arena serves under topo (all of them
 * before the topology is loaded: arena 0 serves every CPU then). */
static size_t list_cpus(const uint64_t *mask, unsigned slots, const struct topology *topo, unsigned arena,
                        unsigned *cpus, size_t max)
{
    size_t count = 0;
    for (unsigned cpu = 0; cpu < slots; cpu++)
        if ((mask[cpu / 64] >> (cpu % 64) & 1) && (!topo || topo->cpu_to_arena[cpu] == arena)) {
            if (count < max)
                cpus[count] = cpu;
            count++;
        }
    return count;
}

size_t topology_arena_cpus(unsigned arena, unsigned *cpus, size_t max)
{
    const struct topology *topo = __atomic_load_n(&topology_current, __ATOMIC_ACQUIRE);
    if (topo)
        return list_cpus(topo->cpu_known, topo->cpu_slots, topo, arena, cpus, max);
    struct cpu_mask allowed;
    if (arena != 0 || !os_allowed_cpus(allowed.bits, sizeof allowed.bits))
        return 0;
    return list_cpus(allowed.bits, TOPOLOGY_MAX_CPUS, NULL, 0, cpus, max);
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

