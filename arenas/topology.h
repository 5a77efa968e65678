/* Machine topology → which arena serves each CPU, and the NUMA node each arena's
 * memory belongs on.  Until topology_load() has run every CPU maps to arena 0,
 * so a single-threaded process never pays for reading the topology. */
#ifndef TCA_TOPOLOGY_H
#define TCA_TOPOLOGY_H

#include "arenas/topology_sources.h"

extern struct topology *topology_current;

/* The settings the options give (hwloc, arena_per), once during bootstrap. */
void topology_boot(bool use_hwloc, enum arena_per per);
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

/* For ctl and the stats printer: the tables in force (before a second thread
 * starts, arena 0 serves every CPU the process may run on).
 * The CPUs arena serves, ascending: fills up to max of them into cpus and
 * returns how many there are (which may exceed max). */
size_t topology_arena_cpus(unsigned arena, unsigned *cpus, size_t max);
/* The NUMA node arena's memory belongs on; -1 when unknown or not loaded. */
int topology_arena_numa_node(unsigned arena);
/* The node whose heap arena's pages come from: its NUMA node on a machine of
 * more than one, else -1 (no placement: a single-node machine pays nothing). */
int topology_arena_memory_node(unsigned arena);
/* Distinct NUMA nodes among the CPUs; ≤ 1 means node placement is pointless. */
unsigned topology_numa_nodes(void);

#endif
