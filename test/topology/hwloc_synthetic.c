/* The tables hwloc's view gives, on synthetic machines (HWLOC_SYNTHETIC): every
 * shape, every arena_per mode, enough and too few arenas, whole and partial cpusets;
 * and libhwloc is not left loaded once a table is read. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "machine.h"

int main(void)
{
    static struct machine m;
    char synthetic[4096];
    unsigned checked = 0;
    for (unsigned s = 0; s < machine_shape_count; s++) {
        machine_build(&m, &machine_shapes[s]);
        machine_synthetic(&m, synthetic, sizeof synthetic);
        CHECK(setenv("HWLOC_SYNTHETIC", synthetic, 1) == 0);
        /* Every CPU; every other one (SMT siblings split); the second half (one socket). */
        const unsigned cpusets[][2] = {{1, 0}, {2, 0}, {1, m.ncpus / 2}};
        for (unsigned c = 0; c < sizeof cpusets / sizeof cpusets[0]; c++) {
            struct cpu_mask allowed;
            machine_mask(&m, &allowed, cpusets[c][0], cpusets[c][1]);
            const unsigned arena_limits[] = {m.ncpus, 3, 1};
            for (unsigned a = 0; a < sizeof arena_limits / sizeof arena_limits[0]; a++)
                for (enum arena_per per = ARENA_PER_CPU; per <= ARENA_PER_NUMA; per++) {
                    struct topology *topo = topology_from_hwloc(&allowed, arena_limits[a], per);
                    if (!topo && checked == 0)
                        SKIP("hwloc is not built in or cannot be loaded");
                    CHECK(topo != NULL);
                    CHECK(topo->source == TOPOLOGY_HWLOC);
                    machine_check_tables(topo, &m, &allowed, arena_limits[a], per);
                    checked++;
                }
        }
    }
    /* A cpuset naming none of the machine's CPUs: hwloc has nothing to say. */
    struct cpu_mask elsewhere = {{0}};
    cpu_mask_set(&elsewhere, TOPOLOGY_MAX_CPUS - 1);
    CHECK(topology_from_hwloc(&elsewhere, 4, ARENA_PER_CPU) == NULL);
    CHECK(dlopen("libhwloc.so.15", RTLD_LAZY | RTLD_NOLOAD) == NULL);
    printf("%u tables checked\n", checked);
    return 0;
}
