#include "machine.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"

/* How many arenas the tables in force name, and the CPUs each serves:
 * exported for the tests alone. */
unsigned topology_arenas_used(void);
size_t topology_arena_cpus(unsigned arena, unsigned *cpus, size_t max);

const struct machine_shape machine_shapes[] = {
    {"2 sockets x 8 cores x SMT-2, Linux numbering", 2, 1, 8, 2, NUMA_PACKAGE, true, 0, 0},
    {"2 sockets x 8 cores x SMT-2, sibling-adjacent numbering", 2, 1, 8, 2, NUMA_PACKAGE, false, 0, 0},
    {"sub-NUMA clusters: 2 sockets x 2 L3s, a node per L3", 2, 2, 4, 2, NUMA_L3, true, 0, 0},
    {"no L3, no SMT, one node", 1, 0, 4, 1, NUMA_MACHINE, false, 0, 0},
    {"3 cores x SMT-4", 1, 1, 3, 4, NUMA_MACHINE, true, 0, 0},
    {"CPU ids above the count (0,1,64,65,...)", 1, 1, 4, 1, NUMA_MACHINE, false, 2, 62},
    {"4 sockets x 3 cores, ids with a hole", 4, 1, 3, 1, NUMA_PACKAGE, false, 5, 100},
    {"one CPU", 1, 1, 1, 1, NUMA_MACHINE, false, 0, 0},
};
const unsigned machine_shape_count = sizeof machine_shapes / sizeof machine_shapes[0];

void machine_build(struct machine *m, const struct machine_shape *shape)
{
    unsigned l3s = shape->l3_per_package ? shape->l3_per_package : 1;
    unsigned ncores = shape->packages * l3s * shape->cores_per_l3;
    m->shape = shape;
    m->ncpus = ncores * shape->threads_per_core;
    CHECK(m->ncpus <= MACHINE_MAX_CPUS);
    for (unsigned i = 0; i < m->ncpus; i++) {
        struct machine_cpu *cpu = &m->cpus[i];
        unsigned thread = i % shape->threads_per_core;
        cpu->core = i / shape->threads_per_core;
        cpu->l3 = cpu->core / shape->cores_per_l3;
        cpu->package = cpu->l3 / l3s;
        cpu->id = shape->linux_smt_ids ? thread * ncores + cpu->core : i;
        if (shape->id_gap && i >= shape->id_gap_at)
            cpu->id += shape->id_gap;
        cpu->node = shape->numa == NUMA_NONE      ? -1
                    : shape->numa == NUMA_MACHINE ? 0
                    : shape->numa == NUMA_PACKAGE ? (int)cpu->package
                                                  : (int)cpu->l3;
    }
}

void machine_mask(const struct machine *m, struct cpu_mask *mask, unsigned every, unsigned from)
{
    memset(mask, 0, sizeof *mask);
    for (unsigned i = from; i < m->ncpus; i += every)
        cpu_mask_set(mask, m->cpus[i].id);
}

static void append(char *out, size_t size, const char *text)
{
    CHECK(strlen(out) + strlen(text) < size);
    strcat(out, text);
}

void machine_synthetic(const struct machine *m, char *out, size_t size)
{
    const struct machine_shape *shape = m->shape;
    char level[64];
    out[0] = '\0';
    snprintf(level, sizeof level, "pack:%u%s", shape->packages, shape->numa == NUMA_PACKAGE ? " [numa]" : "");
    append(out, size, level);
    if (shape->l3_per_package) {
        snprintf(level, sizeof level, " l3:%u%s", shape->l3_per_package, shape->numa == NUMA_L3 ? " [numa]" : "");
        append(out, size, level);
    }
    snprintf(level, sizeof level, " core:%u pu:%u(indexes=", shape->cores_per_l3, shape->threads_per_core);
    append(out, size, level);
    for (unsigned i = 0; i < m->ncpus; i++) {
        snprintf(level, sizeof level, "%s%u", i ? "," : "", m->cpus[i].id);
        append(out, size, level);
    }
    append(out, size, ")");
}

/* Writes root/devices/system/<path>, making its directories. */
static void write_sys_file(const char *root, const char *path, const char *content)
{
    char full[1024];
    snprintf(full, sizeof full, "%s/devices/system/%s", root, path);
    for (char *slash = strchr(full + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        CHECK(mkdir(full, 0755) == 0 || errno == EEXIST);
        *slash = '/';
    }
    FILE *file = fopen(full, "w");
    CHECK(file != NULL);
    fputs(content, file);
    CHECK(fclose(file) == 0);
}

/* The online CPUs of m for which same(cpu, other) holds, as a kernel list (ascending). */
static void cpu_list(const struct machine *m, const struct cpu_mask *offline, const struct machine_cpu *cpu,
                     bool (*same)(const struct machine_cpu *, const struct machine_cpu *), char *out, size_t size)
{
    struct cpu_mask members = {{0}};
    for (unsigned i = 0; i < m->ncpus; i++)
        if (!cpu_mask_has(offline, m->cpus[i].id) && (!cpu || same(cpu, &m->cpus[i])))
            cpu_mask_set(&members, m->cpus[i].id);
    out[0] = '\0';
    for (unsigned id = 0; id < TOPOLOGY_MAX_CPUS; id++)
        if (cpu_mask_has(&members, id)) {
            char number[16];
            snprintf(number, sizeof number, "%s%u", out[0] ? "," : "", id);
            append(out, size, number);
        }
    append(out, size, "\n");
}

static bool same_core(const struct machine_cpu *a, const struct machine_cpu *b) { return a->core == b->core; }
static bool same_l3(const struct machine_cpu *a, const struct machine_cpu *b) { return a->l3 == b->l3; }
static bool same_node(const struct machine_cpu *a, const struct machine_cpu *b) { return a->node == b->node; }

void machine_write_sysfs(const struct machine *m, const char *root, const struct cpu_mask *offline)
{
    char path[128], text[2048];
    cpu_list(m, offline, NULL, NULL, text, sizeof text);
    write_sys_file(root, "cpu/online", text);
    int nodes = 0;
    for (unsigned i = 0; i < m->ncpus; i++) {
        const struct machine_cpu *cpu = &m->cpus[i];
        if (cpu->node >= nodes)
            nodes = cpu->node + 1;
        if (cpu_mask_has(offline, cpu->id)) {
            /* The kernel removes an offline CPU's topology directory. */
            snprintf(path, sizeof path, "cpu/cpu%u/online", cpu->id);
            write_sys_file(root, path, "0\n");
            continue;
        }
        snprintf(path, sizeof path, "cpu/cpu%u/topology/physical_package_id", cpu->id);
        snprintf(text, sizeof text, "%u\n", cpu->package);
        write_sys_file(root, path, text);
        snprintf(path, sizeof path, "cpu/cpu%u/topology/thread_siblings_list", cpu->id);
        cpu_list(m, offline, cpu, same_core, text, sizeof text);
        write_sys_file(root, path, text);
        if (m->shape->l3_per_package) {
            snprintf(path, sizeof path, "cpu/cpu%u/cache/index3/shared_cpu_list", cpu->id);
            cpu_list(m, offline, cpu, same_l3, text, sizeof text);
            write_sys_file(root, path, text);
        }
    }
    if (m->shape->numa == NUMA_NONE)
        return;
    snprintf(text, sizeof text, nodes > 1 ? "0-%d\n" : "0\n", nodes - 1);
    write_sys_file(root, "node/online", text);
    for (int node = 0; node < nodes; node++) {
        struct machine_cpu any_of_node = {.node = node};
        snprintf(path, sizeof path, "node/node%d/cpulist", node);
        cpu_list(m, offline, &any_of_node, same_node, text, sizeof text);
        write_sys_file(root, path, text);
    }
}

static long group_key(const struct machine_cpu *cpu, const struct machine_shape *shape, enum arena_per per)
{
    switch (per) {
    case ARENA_PER_CORE:
        return cpu->core;
    case ARENA_PER_L3: /* no L3 known: the package stands in */
        return shape->l3_per_package ? cpu->l3 : cpu->package;
    case ARENA_PER_NUMA:
        return cpu->node;
    default:
        return cpu->id;
    }
}

void machine_check_tables(const struct topology *topo, const struct machine *m, const struct cpu_mask *usable,
                          unsigned narenas, enum arena_per per)
{
    static int arena_of_id[TOPOLOGY_MAX_CPUS];
    unsigned group_of[MACHINE_MAX_CPUS], ngroups = 0, slots = 1;
    long previous = 0;
    for (unsigned i = 0; i < m->ncpus; i++) {
        const struct machine_cpu *cpu = &m->cpus[i];
        if (!cpu_mask_has(usable, cpu->id))
            continue;
        long key = group_key(cpu, m->shape, per);
        ngroups += ngroups == 0 || key != previous;
        previous = key;
        group_of[i] = ngroups - 1;
        slots = cpu->id + 1 > slots ? cpu->id + 1 : slots;
    }
    unsigned used = ngroups == 0 ? 1 : ngroups < narenas ? ngroups : narenas;
    CHECK(topo->arenas_used == used);
    CHECK(topo->cpu_slots == slots);

    /* Each usable CPU: its group's arena, in topological order; with fewer
     * arenas than groups, neighbouring groups share. */
    for (unsigned id = 0; id < slots; id++)
        arena_of_id[id] = -1;
    int first_node[MACHINE_MAX_CPUS];
    bool arena_seen[MACHINE_MAX_CPUS] = {false}, node_seen[MACHINE_MAX_CPUS] = {false};
    unsigned nodes = 0;
    for (unsigned i = 0; i < m->ncpus; i++) {
        const struct machine_cpu *cpu = &m->cpus[i];
        if (!cpu_mask_has(usable, cpu->id))
            continue;
        unsigned arena = ngroups <= narenas ? group_of[i] : group_of[i] * narenas / ngroups;
        arena_of_id[cpu->id] = (int)arena;
        CHECK(topo->cpu_to_arena[cpu->id] == arena);
        CHECK(topo->cpu_known[cpu->id / 64] >> (cpu->id % 64) & 1);
        if (!arena_seen[arena]) {
            arena_seen[arena] = true;
            first_node[arena] = cpu->node;
        }
        if (cpu->node >= 0 && !node_seen[cpu->node]) {
            node_seen[cpu->node] = true;
            nodes++;
        }
    }
    for (unsigned arena = 0; arena < used; arena++)
        CHECK(topo->arena_numa_node[arena] == (arena_seen[arena] ? first_node[arena] : -1));
    CHECK(topo->numa_nodes == nodes);
    for (unsigned id = 0; id < slots; id++)
        if (arena_of_id[id] < 0) {
            CHECK(!(topo->cpu_known[id / 64] >> (id % 64) & 1));
            CHECK(topo->cpu_to_arena[id] < used);
        }

    /* The accessors, with topo in force. */
    topology_current = (struct topology *)topo;
    CHECK(topology_arenas_used() == used);
    CHECK(topology_numa_nodes() == nodes);
    CHECK(topology_arena_numa_node(used) == -1);
    CHECK(topology_arena_of_cpu(slots + 12345) < used);
    for (unsigned arena = 0; arena < used; arena++) {
        unsigned cpus[TOPOLOGY_MAX_CPUS];
        size_t count = topology_arena_cpus(arena, cpus, TOPOLOGY_MAX_CPUS), listed = 0;
        for (unsigned id = 0; id < slots; id++)
            if (arena_of_id[id] == (int)arena) {
                CHECK(listed < count && cpus[listed] == id);
                CHECK(topology_arena_of_cpu(id) == arena);
                listed++;
            }
        CHECK(listed == count);
        CHECK(topology_arena_cpus(arena, cpus, 0) == count);
        CHECK(topology_arena_numa_node(arena) == topo->arena_numa_node[arena]);
    }
    topology_current = NULL;
}
