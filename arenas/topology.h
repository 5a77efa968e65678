/* Machine topology → which arena serves each CPU, and the NUMA node each arena's
 * memory belongs on.  Until topology_load() has run every CPU maps to arena 0,
 * so a single-threaded process never pays for reading the topology. */
#ifndef TCA_TOPOLOGY_H
#define TCA_TOPOLOGY_H

#include "arenas/topology_sources.h"

#define TOPOLOGY_MAX_ARENAS 1024

extern struct topology *topology_current;

/* Which arena serves each CPU, and each arena's NUMA node, as the statistics
 * show them (src/stats_print.c).  A record in the statistics page (src/live.h),
 * so that a reader outside the process sees them too: a change here changes
 * that page's layout (bump LIVE_LAYOUT_VERSION).  Filled at bootstrap (arena 0
 * serves every CPU the process may run on) and when the tables are loaded. */
struct topology_placement {
    uint64_t arenas_used;                        /* as struct topology's; 0: not loaded yet */
    uint64_t cpu_known[TOPOLOGY_MAX_CPUS / 64];  /* the CPUs the process may run on */
    uint16_t arena_of_cpu[TOPOLOGY_MAX_CPUS];    /* once loaded */
    int16_t numa_node_of_arena[TOPOLOGY_MAX_ARENAS]; /* once loaded; -1: unknown */
};

/* The settings the options give (hwloc, arena_per), and where to keep the
 * placement, once during bootstrap. */
void topology_boot(bool use_hwloc, enum arena_per per, struct topology_placement *placement);
/* Builds the tables for at most narenas arenas, grouped as topology_boot() said
 * (from hwloc when built with it, asked for, and it loads; else from /sys and
 * sched_getaffinity), and publishes them.  hwloc allocates through malloc, so
 * this must run outside every allocator lock; concurrent callers return at once
 * and, until the tables are published, keep using arena 0. */
void topology_load(unsigned narenas);

TCA_INLINE unsigned topology_arena_of_cpu(unsigned cpu)
{
    const struct topology *topo = __atomic_load_n(&topology_current, __ATOMIC_ACQUIRE);
    if (!topo)
        return 0;
    /* A CPU id above those seen at load time (hotplug, a wider cpuset): clamp. */
    return topo->cpu_to_arena[cpu < topo->cpu_slots ? cpu : cpu % topo->cpu_slots];
}

/* For ctl: the tables in force.  The NUMA node arena's memory belongs on; -1
 * when unknown or not loaded. */
int topology_arena_numa_node(unsigned arena);
/* The CPUs in mask (of slots bits) that arena serves by arena_of_cpu (NULL:
 * arena 0 serves them all), ascending: fills up to max of them into cpus and
 * returns how many there are (which may exceed max). */
static inline size_t topology_list_cpus(const uint64_t *mask, unsigned slots, const uint16_t *arena_of_cpu,
                                        unsigned arena, unsigned *cpus, size_t max)
{
    size_t count = 0;
    for (unsigned cpu = 0; cpu < slots && (arena_of_cpu || arena == 0); cpu++)
        if ((mask[cpu / 64] >> (cpu % 64) & 1) && (!arena_of_cpu || arena_of_cpu[cpu] == arena)) {
            if (count < max)
                cpus[count] = cpu;
            count++;
        }
    return count;
}
/* The CPUs and the NUMA node of arena as a placement records them. */
static inline size_t topology_placement_cpus(const struct topology_placement *placement, unsigned arena,
                                             unsigned *cpus, size_t max)
{
    return topology_list_cpus(placement->cpu_known, TOPOLOGY_MAX_CPUS,
                              placement->arenas_used ? placement->arena_of_cpu : NULL, arena, cpus, max);
}
static inline int topology_placement_numa_node(const struct topology_placement *placement, unsigned arena)
{
    return arena < placement->arenas_used && arena < TOPOLOGY_MAX_ARENAS ? placement->numa_node_of_arena[arena] : -1;
}
/* The node whose heap arena's pages come from: its NUMA node on a machine of
 * more than one, else -1 (no placement: a single-node machine pays nothing). */
int topology_arena_memory_node(unsigned arena);
/* Distinct NUMA nodes among the CPUs; ≤ 1 means node placement is pointless. */
unsigned topology_numa_nodes(void);

#endif
