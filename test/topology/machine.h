/* Machines described by their shape, written out as hwloc synthetic strings and
 * as fake /sys trees, and the tables each must give: what the topology tests
 * share.  The expected tables are derived from the shape by arithmetic, not by
 * the module's own walk. */
#ifndef TCA_TEST_MACHINE_H
#define TCA_TEST_MACHINE_H

#include "arenas/topology.h"

#define MACHINE_MAX_CPUS 256

enum machine_numa { NUMA_NONE, NUMA_MACHINE, NUMA_PACKAGE, NUMA_L3 };

struct machine_shape {
    const char *name;
    unsigned packages, l3_per_package, cores_per_l3, threads_per_core; /* l3_per_package 0: no L3 */
    enum machine_numa numa; /* where NUMA nodes sit (NUMA_NONE: /sys has no node directory) */
    bool linux_smt_ids;     /* thread t of core c is CPU t·cores + c, as Linux numbers x86 siblings */
    unsigned id_gap_at, id_gap; /* CPUs from logical index id_gap_at on are numbered id_gap higher */
};

struct machine_cpu {
    unsigned id, package, l3, core; /* l3 and core: global indexes in logical order */
    int node;
};

/* The CPUs in logical (topological) order. */
struct machine {
    const struct machine_shape *shape;
    unsigned ncpus;
    struct machine_cpu cpus[MACHINE_MAX_CPUS];
};

void machine_build(struct machine *m, const struct machine_shape *shape);
/* Every CPU of m, and m's CPUs whose logical index is even, or in the second half. */
void machine_mask(const struct machine *m, struct cpu_mask *mask, unsigned every, unsigned from);
/* HWLOC_SYNTHETIC's description of m. */
void machine_synthetic(const struct machine *m, char *out, size_t size);
/* A /sys tree for m under root (a fresh directory), with the CPUs in offline offline. */
void machine_write_sysfs(const struct machine *m, const char *root, const struct cpu_mask *offline);
/* Checks every table entry and accessor of topo against m's CPUs in usable,
 * grouped by per into at most narenas arenas. */
void machine_check_tables(const struct topology *topo, const struct machine *m, const struct cpu_mask *usable,
                          unsigned narenas, enum arena_per per);

extern const struct machine_shape machine_shapes[];
extern const unsigned machine_shape_count;

#endif
