/* The tables from /sys alone (no hwloc): fake trees for every shape, with
 * offline CPUs and partial cpusets; missing and malformed files; CPU lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "machine.h"

static void check_cpu_lists(void)
{
    struct cpu_mask mask = {{0}};
    CHECK(cpu_mask_parse_list(&mask, "0-3,8,10-11\n"));
    for (unsigned cpu = 0; cpu < 16; cpu++)
        CHECK(cpu_mask_has(&mask, cpu) == (cpu <= 3 || cpu == 8 || cpu == 10 || cpu == 11));
    memset(&mask, 0, sizeof mask);
    CHECK(cpu_mask_parse_list(&mask, "\n"));
    CHECK(cpu_mask_parse_list(&mask, ""));
    CHECK(cpu_mask_parse_list(&mask, "4090-99999"));
    CHECK(cpu_mask_has(&mask, TOPOLOGY_MAX_CPUS - 1) && !cpu_mask_has(&mask, 4089));
    CHECK(!cpu_mask_parse_list(&mask, "3-1"));
    CHECK(!cpu_mask_parse_list(&mask, "x"));
    CHECK(!cpu_mask_parse_list(&mask, "1;2"));
}

static char root_template[] = "/tmp/tcarena-sysfs-XXXXXX";

static void remove_tree(const char *root)
{
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", root);
    CHECK(system(command) == 0);
}

/* Every shape, written to a fresh tree with and without offline CPUs. */
static unsigned check_shapes(void)
{
    static struct machine m;
    unsigned checked = 0;
    for (unsigned s = 0; s < machine_shape_count; s++) {
        machine_build(&m, &machine_shapes[s]);
        /* None offline; the second and the last CPU offline (a sibling pair split). */
        struct cpu_mask offline_sets[2] = {{{0}}, {{0}}};
        if (m.ncpus > 2) {
            cpu_mask_set(&offline_sets[1], m.cpus[1].id);
            cpu_mask_set(&offline_sets[1], m.cpus[m.ncpus - 1].id);
        }
        for (unsigned o = 0; o < 2; o++) {
            char root[sizeof root_template];
            strcpy(root, root_template);
            CHECK(mkdtemp(root) != NULL);
            machine_write_sysfs(&m, root, &offline_sets[o]);
            const unsigned cpusets[][2] = {{1, 0}, {2, 0}, {1, m.ncpus / 2}};
            for (unsigned c = 0; c < sizeof cpusets / sizeof cpusets[0]; c++) {
                struct cpu_mask allowed, usable;
                machine_mask(&m, &allowed, cpusets[c][0], cpusets[c][1]);
                usable = allowed;
                for (unsigned word = 0; word < TOPOLOGY_MAX_CPUS / 64; word++)
                    usable.bits[word] &= ~offline_sets[o].bits[word];
                const unsigned arena_limits[] = {m.ncpus, 3, 1};
                for (unsigned a = 0; a < sizeof arena_limits / sizeof arena_limits[0]; a++)
                    for (enum arena_per per = ARENA_PER_CPU; per <= ARENA_PER_NUMA; per++) {
                        struct topology *topo = topology_from_sysfs(root, &allowed, arena_limits[a], per);
                        CHECK(topo != NULL);
                        CHECK(topo->source == TOPOLOGY_SYSFS);
                        machine_check_tables(topo, &m, &usable, arena_limits[a], per);
                        checked++;
                    }
            }
            remove_tree(root);
        }
    }
    return checked;
}

/* Without any /sys: one arena per allowed CPU, whatever the grouping asked. */
static void check_nothing_known(void)
{
    static struct machine m;
    machine_build(&m, &machine_shapes[0]);
    struct cpu_mask allowed;
    machine_mask(&m, &allowed, 1, 0);
    static const struct machine_shape unknown_shape = {"unknown", 1, 0, 1, 1, NUMA_NONE, false, 0, 0};
    struct machine unknown = {.shape = &unknown_shape, .ncpus = m.ncpus};
    for (unsigned i = 0; i < m.ncpus; i++) {
        /* In id order, each CPU its own core and its own node-less package. */
        unknown.cpus[i] = (struct machine_cpu){.id = i, .core = i, .package = 0, .node = -1};
    }
    for (enum arena_per per = ARENA_PER_CPU; per <= ARENA_PER_NUMA; per++) {
        struct topology *topo = topology_from_sysfs("/nonexistent", &allowed, m.ncpus, per);
        CHECK(topo != NULL);
        CHECK(topo->source == TOPOLOGY_AFFINITY);
        machine_check_tables(topo, &unknown, &allowed, m.ncpus, ARENA_PER_CPU);
    }
    /* Nothing allowed at all: one arena, every slot on it. */
    struct cpu_mask none = {{0}};
    struct topology *topo = topology_from_sysfs("/nonexistent", &none, 8, ARENA_PER_CPU);
    CHECK(topo != NULL && topo->arenas_used == 1 && topo->cpu_slots == 1 && topo->cpu_to_arena[0] == 0);
}

/* Garbage in the files: each CPU falls back to being its own core, and the grouping still holds. */
static void check_malformed(void)
{
    char root[sizeof root_template];
    strcpy(root, root_template);
    CHECK(mkdtemp(root) != NULL);
    static struct machine m;
    static const struct machine_shape shape = {"4 CPUs", 1, 1, 4, 1, NUMA_NONE, false, 0, 0};
    machine_build(&m, &shape);
    struct cpu_mask offline = {{0}}, allowed;
    machine_write_sysfs(&m, root, &offline);
    char path[512];
    snprintf(path, sizeof path, "%s/devices/system/cpu/cpu2/topology/thread_siblings_list", root);
    FILE *file = fopen(path, "w");
    CHECK(file != NULL && fputs("garbage\n", file) >= 0 && fclose(file) == 0);
    machine_mask(&m, &allowed, 1, 0);
    struct topology *topo = topology_from_sysfs(root, &allowed, 4, ARENA_PER_CORE);
    CHECK(topo != NULL && topo->source == TOPOLOGY_SYSFS);
    machine_check_tables(topo, &m, &allowed, 4, ARENA_PER_CORE);
    remove_tree(root);
}

int main(void)
{
    check_cpu_lists();
    unsigned checked = check_shapes();
    check_nothing_known();
    check_malformed();
    printf("%u tables checked\n", checked);
    return 0;
}
