/* The topology's two sources, hwloc and /sys: each turns the machine the
 * process runs on into the tables (struct topology) that map its CPUs to
 * arenas and its arenas to NUMA nodes.  topology.c picks one and publishes
 * the tables. */
#ifndef TCA_TOPOLOGY_SOURCES_H
#define TCA_TOPOLOGY_SOURCES_H

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

/* A set of CPU ids. */
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
