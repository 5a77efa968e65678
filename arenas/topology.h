/* Machine topology → which arena serves each CPU.  Until topology_load() has run
 * every CPU maps to arena 0, so a single-threaded process never pays for it. */
#ifndef TCA_TOPOLOGY_H
#define TCA_TOPOLOGY_H

#include "src/common.h"

#define TOPOLOGY_MAX_CPUS 4096

struct topology {
    unsigned cpu_slots;            /* entries in cpu_to_arena: highest CPU id seen + 1 */
    uint16_t *cpu_to_arena;        /* CPU id → arena index */
    int16_t *arena_numa_node;      /* arena → NUMA node (-1: unknown) */
    unsigned narenas;
    bool from_hwloc;
};

extern struct topology *topology_current;

/* Builds the tables for narenas arenas (hwloc when built with it and loadable,
 * else sched_getaffinity) and publishes them.  Allocates through malloc, so it
 * must run outside every allocator lock; concurrent callers return at once. */
void topology_load(unsigned narenas);

TCA_INLINE unsigned topology_arena_of_cpu(unsigned cpu)
{
    const struct topology *topo = __atomic_load_n(&topology_current, __ATOMIC_ACQUIRE);
    if (!topo)
        return 0;
    /* A CPU id above those seen at load time (hotplug, a wider cpuset): clamp. */
    return topo->cpu_to_arena[cpu < topo->cpu_slots ? cpu : cpu % topo->cpu_slots];
}

#endif
