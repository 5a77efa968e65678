/* Machine topology → which arena serves each CPU, and the NUMA node each arena's
 * memory belongs on.  Until topology_load() has run every CPU maps to arena 0,
 * so a single-threaded process never pays for reading the topology. */
#ifndef TCA_TOPOLOGY_H
#define TCA_TOPOLOGY_H

#include "pageheap/common.h"

#define TOPOLOGY_MAX_CPUS 4096
#define TOPOLOGY_MAX_NODES 1024

/* Which CPUs share an arena (the arena_per option): each CPU, SMT siblings,
 * an L3 cache, a NUMA node. */
enum arena_per { ARENA_PER_CPU, ARENA_PER_CORE, ARENA_PER_L3, ARENA_PER_NUMA };

enum topology_source {
    TOPOLOGY_HWLOC,     /* hwloc's tree */
    TOPOLOGY_SYSFS,     /* /sys/devices/system/{cpu,node} */
    TOPOLOGY_AFFINITY,  /* sched_getaffinity alone: /sys told nothing */
};

struct topology {
    unsigned cpu_slots;          /* entries in cpu_to_arena: highest CPU id known + 1 */
    uint16_t *cpu_to_arena;      /* CPU id → arena index (< arenas_used) */
    uint64_t *cpu_known;         /* bit per slot: a CPU the process could run on when read */
    int16_t *arena_numa_node;    /* arena → NUMA node (-1: unknown), arenas_used entries */
    unsigned arenas_used;        /* the map names arenas 0 .. arenas_used-1 */
    unsigned numa_nodes;         /* distinct NUMA nodes among the known CPUs (0: unknown) */
    enum topology_source source;
};

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
/* How many arenas the map names (1 before the topology is loaded). */
unsigned topology_arenas_used(void);
/* Distinct NUMA nodes among the CPUs; ≤ 1 means node placement is pointless. */
unsigned topology_numa_nodes(void);

/* Internal entries, exposed for the tests (test/topology/). */
struct cpu_mask {
    uint64_t bits[TOPOLOGY_MAX_CPUS / 64];
};
static inline bool cpu_mask_has(const struct cpu_mask *mask, unsigned cpu)
{
    return cpu < TOPOLOGY_MAX_CPUS && (mask->bits[cpu / 64] >> (cpu % 64) & 1);
}
static inline void cpu_mask_set(struct cpu_mask *mask, unsigned cpu)
{
    if (cpu < TOPOLOGY_MAX_CPUS)
        mask->bits[cpu / 64] |= (uint64_t)1 << (cpu % 64);
}
/* Parses a kernel CPU list ("0-3,8,10-11") into mask; false on a malformed one. */
bool cpu_mask_parse_list(struct cpu_mask *mask, const char *text);

/* The tables from the topology under root (production: "/sys"), for the allowed CPUs. */
struct topology *topology_from_sysfs(const char *root, const struct cpu_mask *allowed, unsigned narenas,
                                     enum arena_per per);
/* The tables from hwloc (which honours HWLOC_SYNTHETIC and HWLOC_XMLFILE); NULL
 * when hwloc is not built in, cannot be loaded, or names none of the allowed CPUs. */
struct topology *topology_from_hwloc(const struct cpu_mask *allowed, unsigned narenas, enum arena_per per);

#endif
