/* The topology's two sources.  hwloc is dlopen()ed rather than linked: linking
 * it (and libudev behind it) would add their load time to every process start,
 * including the many that never start a second thread.  Either source
 * describes each CPU the process may run on by the groups it belongs to; one
 * builder turns that description into the tables. */
#include "arenas/topology_sources.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pageheap/base.h"
#include "pageheap/os.h"

#if TCA_HAVE_HWLOC
#include <hwloc.h>
#endif

/* One CPU the process may run on.  CPUs with equal keys share that level: core
 * (SMT siblings), l3 (an L3 cache; the package, else the whole machine, where no
 * L3 is known), node (the NUMA node, -1 when unknown). */
struct cpu_desc {
    unsigned id;
    int node, package;
    int64_t core, l3;
};

/* What one load needs for a moment; mapped and unmapped around it because the
 * base allocator never frees and a thread's stack may be small. */
struct scratch {
    struct cpu_desc cpus[TOPOLOGY_MAX_CPUS];
    int16_t node_of_cpu[TOPOLOGY_MAX_CPUS];
    char text[32768]; /* one /sys file: a long node cpulist ("0,2,4,...") fits */
};

/* Distinct from every CPU id, so that an l3 key falls back to the package. */
#define PACKAGE_KEY(package) ((int64_t)TOPOLOGY_MAX_CPUS + (package))
#define WHOLE_MACHINE_KEY ((int64_t)-1)

static int64_t group_key(const struct cpu_desc *cpu, enum arena_per per)
{
    switch (per) {
    case ARENA_PER_CORE:
        return cpu->core;
    case ARENA_PER_L3:
        return cpu->l3;
    case ARENA_PER_NUMA:
        return cpu->node;
    default:
        return cpu->id;
    }
}

/* cpus are in topological order, so each group is a run of them.  Groups get
 * arenas in that order; with fewer arenas than groups, neighbouring groups share
 * one (group g of n gets arena g·narenas/n), so a shared arena stays local. */
static struct topology *topology_build(const struct cpu_desc *cpus, unsigned ncpus, unsigned narenas,
                                       enum arena_per per, enum topology_source source)
{
    unsigned cpu_slots = 1, ngroups = 0;
    for (unsigned i = 0; i < ncpus; i++) {
        if (cpus[i].id >= cpu_slots)
            cpu_slots = cpus[i].id + 1;
        ngroups += i == 0 || group_key(&cpus[i], per) != group_key(&cpus[i - 1], per);
    }
    narenas = narenas ? narenas : 1;
    unsigned arenas_used = ngroups == 0 ? 1 : ngroups < narenas ? ngroups : narenas;
    size_t known_words = (cpu_slots + 63) / 64;
    struct topology *topo = base_alloc(sizeof *topo + known_words * sizeof(uint64_t) +
                                       cpu_slots * sizeof(uint16_t) + arenas_used * sizeof(int16_t));
    if (!topo)
        return NULL;
    topo->cpu_slots = cpu_slots;
    topo->arenas_used = arenas_used;
    topo->source = source;
    topo->cpu_known = (uint64_t *)(topo + 1);
    topo->cpu_to_arena = (uint16_t *)(topo->cpu_known + known_words);
    topo->arena_numa_node = (int16_t *)(topo->cpu_to_arena + cpu_slots);
    for (unsigned arena = 0; arena < arenas_used; arena++)
        topo->arena_numa_node[arena] = -1;
    /* Ids nobody could run on when we looked may come online later: any arena will do. */
    for (unsigned cpu = 0; cpu < cpu_slots; cpu++)
        topo->cpu_to_arena[cpu] = (uint16_t)(cpu % arenas_used);
    uint64_t nodes_seen[TOPOLOGY_MAX_NODES / 64] = {0};
    unsigned group = 0;
    for (unsigned i = 0; i < ncpus; i++) {
        group += i > 0 && group_key(&cpus[i], per) != group_key(&cpus[i - 1], per);
        unsigned arena = ngroups <= narenas ? group : (unsigned)((uint64_t)group * narenas / ngroups);
        unsigned cpu = cpus[i].id;
        int node = cpus[i].node;
        topo->cpu_to_arena[cpu] = (uint16_t)arena;
        topo->cpu_known[cpu / 64] |= (uint64_t)1 << (cpu % 64);
        if (topo->arena_numa_node[arena] < 0)
            topo->arena_numa_node[arena] = (int16_t)node;
        if (node >= 0 && node < TOPOLOGY_MAX_NODES && !(nodes_seen[node / 64] >> (node % 64) & 1)) {
            nodes_seen[node / 64] |= (uint64_t)1 << (node % 64);
            topo->numa_nodes++;
        }
    }
    return topo;
}

bool cpu_mask_parse_list(struct cpu_mask *mask, const char *text)
{
    const char *p = text;
    while (*p && *p != '\n') {
        char *end;
        unsigned long first = strtoul(p, &end, 10), last = first;
        if (end == p)
            return false;
        if (*end == '-') {
            p = end + 1;
            last = strtoul(p, &end, 10);
            if (end == p || last < first)
                return false;
        }
        for (unsigned long cpu = first; cpu <= last && cpu < TOPOLOGY_MAX_CPUS; cpu++)
            cpu_mask_set(mask, (unsigned)cpu);
        p = end + (*end == ',');
        if (*end != ',' && *end && *end != '\n')
            return false;
    }
    return true;
}

/* Reads root/devices/system/<format with number> into text; false when absent. */
static bool __attribute__((format(printf, 4, 5)))
sysfs_read(const char *root, char *text, size_t size, const char *format, ...)
{
    char path[512];
    int len = snprintf(path, sizeof path, "%s/devices/system/", root);
    if (len < 0 || (size_t)len >= sizeof path)
        return false;
    va_list args;
    va_start(args, format);
    int more = vsnprintf(path + len, sizeof path - (size_t)len, format, args);
    va_end(args);
    return more >= 0 && (size_t)(len + more) < sizeof path && os_read_file(path, text, size) >= 0;
}

/* The first number in text (for a kernel CPU list: its lowest CPU); -1 if none. */
static long first_number(const char *text)
{
    char *end;
    long value = strtol(text, &end, 10);
    return end > text ? value : -1;
}

static bool cpu_desc_before(const struct cpu_desc *a, const struct cpu_desc *b)
{
    if (a->node != b->node)
        return a->node < b->node;
    if (a->package != b->package)
        return a->package < b->package;
    if (a->l3 != b->l3)
        return a->l3 < b->l3;
    if (a->core != b->core)
        return a->core < b->core;
    return a->id < b->id;
}

/* NUMA node of every CPU from node<n>/cpulist; -1 where no node names it. */
static void sysfs_read_nodes(const char *root, struct scratch *scratch)
{
    memset(scratch->node_of_cpu, 0xff, sizeof scratch->node_of_cpu);
    struct cpu_mask nodes = {{0}};
    if (!sysfs_read(root, scratch->text, sizeof scratch->text, "node/online") ||
        !cpu_mask_parse_list(&nodes, scratch->text))
        return;
    for (unsigned node = 0; node < TOPOLOGY_MAX_NODES; node++) {
        struct cpu_mask cpus = {{0}};
        if (!cpu_mask_has(&nodes, node) ||
            !sysfs_read(root, scratch->text, sizeof scratch->text, "node/node%u/cpulist", node) ||
            !cpu_mask_parse_list(&cpus, scratch->text))
            continue;
        for (unsigned cpu = 0; cpu < TOPOLOGY_MAX_CPUS; cpu++)
            if (cpu_mask_has(&cpus, cpu))
                scratch->node_of_cpu[cpu] = (int16_t)node;
    }
}

struct topology *topology_from_sysfs(const char *root, const struct cpu_mask *allowed, unsigned narenas,
                                     enum arena_per per)
{
    struct scratch *scratch = os_map(sizeof *scratch, 0);
    if (!scratch)
        return NULL;
    char *text = scratch->text;
    size_t size = sizeof scratch->text;
    sysfs_read_nodes(root, scratch);
    /* An offline CPU can be in a cpuset, and has no topology files. */
    struct cpu_mask online = {{0}};
    bool online_known = sysfs_read(root, text, size, "cpu/online") && cpu_mask_parse_list(&online, text);
    bool described = false;
    unsigned ncpus = 0;
    for (unsigned cpu = 0; cpu < TOPOLOGY_MAX_CPUS; cpu++) {
        if (!cpu_mask_has(allowed, cpu) || (online_known && !cpu_mask_has(&online, cpu)))
            continue;
        long package = sysfs_read(root, text, size, "cpu/cpu%u/topology/physical_package_id", cpu)
                           ? first_number(text) : -1;
        long core = sysfs_read(root, text, size, "cpu/cpu%u/topology/thread_siblings_list", cpu)
                        ? first_number(text) : -1;
        long l3 = sysfs_read(root, text, size, "cpu/cpu%u/cache/index3/shared_cpu_list", cpu)
                      ? first_number(text) : -1;
        described |= package >= 0 || core >= 0 || l3 >= 0 || scratch->node_of_cpu[cpu] >= 0;
        /* Insertion sort into topological order: machines have few CPUs, and
         * qsort may allocate. */
        struct cpu_desc desc = {
            .id = cpu,
            .node = scratch->node_of_cpu[cpu],
            .package = (int)package,
            .core = core >= 0 ? core : cpu,
            .l3 = l3 >= 0 ? l3 : package >= 0 ? PACKAGE_KEY(package) : WHOLE_MACHINE_KEY,
        };
        unsigned at = ncpus++;
        for (; at > 0 && cpu_desc_before(&desc, &scratch->cpus[at - 1]); at--)
            scratch->cpus[at] = scratch->cpus[at - 1];
        scratch->cpus[at] = desc;
    }
    /* Knowing nothing of the machine, every CPU is its own group. */
    struct topology *topo = topology_build(scratch->cpus, ncpus, narenas, described ? per : ARENA_PER_CPU,
                                           described ? TOPOLOGY_SYSFS : TOPOLOGY_AFFINITY);
    os_unmap(scratch, sizeof *scratch);
    return topo;
}

#if TCA_HAVE_HWLOC
struct hwloc_api {
    unsigned (*get_api_version)(void);
    int (*init)(hwloc_topology_t *);
    int (*load)(hwloc_topology_t);
    void (*destroy)(hwloc_topology_t);
    int (*get_type_depth)(hwloc_topology_t, hwloc_obj_type_t);
    unsigned (*get_nbobjs_by_depth)(hwloc_topology_t, int);
    hwloc_obj_t (*get_obj_by_depth)(hwloc_topology_t, int, unsigned);
    int (*set_components)(hwloc_topology_t, unsigned long, const char *); /* hwloc ≥ 2.1; may be NULL */
    int (*set_flags)(hwloc_topology_t, unsigned long);
    int (*set_cache_types_filter)(hwloc_topology_t, enum hwloc_type_filter_e);
    int (*set_type_filter)(hwloc_topology_t, hwloc_obj_type_t, enum hwloc_type_filter_e);
};

/* Returns the library's handle with api filled, NULL when it cannot be used. */
static void *hwloc_open(struct hwloc_api *api)
{
    void *lib = os_library_open("libhwloc.so.15");
    if (!lib)
        lib = os_library_open("libhwloc.so");
    if (!lib)
        return NULL;
    /* Each entry by its name, cast to the type api gives it. */
#define HWLOC_ENTRY(field, name) (api->field = (__typeof__(api->field))os_library_symbol(lib, "hwloc_" name))
    HWLOC_ENTRY(get_api_version, "get_api_version");
    HWLOC_ENTRY(init, "topology_init");
    HWLOC_ENTRY(load, "topology_load");
    HWLOC_ENTRY(destroy, "topology_destroy");
    HWLOC_ENTRY(get_type_depth, "get_type_depth");
    HWLOC_ENTRY(get_nbobjs_by_depth, "get_nbobjs_by_depth");
    HWLOC_ENTRY(get_obj_by_depth, "get_obj_by_depth");
    HWLOC_ENTRY(set_components, "topology_set_components");
    HWLOC_ENTRY(set_flags, "topology_set_flags");
    HWLOC_ENTRY(set_cache_types_filter, "topology_set_cache_types_filter");
    HWLOC_ENTRY(set_type_filter, "topology_set_type_filter");
#undef HWLOC_ENTRY
    /* The object layout we compile against must be the one the library has. */
    if (api->get_api_version && api->init && api->load && api->destroy &&
        api->get_type_depth && api->get_nbobjs_by_depth && api->get_obj_by_depth && api->set_flags &&
        api->set_cache_types_filter && api->set_type_filter &&
        (api->get_api_version() >> 16) == (HWLOC_API_VERSION >> 16))
        return lib;
    os_library_close(lib);
    return NULL;
}

/* hwloc 2 hangs NUMA nodes off the smallest object holding their CPUs. */
static int numa_node_of(hwloc_obj_t obj)
{
    for (; obj; obj = obj->parent)
        if (obj->memory_arity > 0 && obj->memory_first_child)
            return (int)obj->memory_first_child->os_index;
    return -1;
}

/* gp_index is unique among all of a topology's objects, so it names a group. */
static int64_t ancestor_key(hwloc_obj_t obj, hwloc_obj_type_t type)
{
    for (; obj; obj = obj->parent)
        if (obj->type == type)
            return (int64_t)obj->gp_index;
    return WHOLE_MACHINE_KEY;
}

/* Only what the tables need: PUs, cores, L3 caches, packages and NUMA nodes.
 * The other caches, groups, NUMA distances, memory attributes and CPU kinds
 * (hwloc reads cpufreq files of every CPU for those) cost reading /sys for
 * nothing.  The flags are from hwloc 2.8; an older one refuses them and
 * discovers everything, as before. */
static void restrict_discovery(const struct hwloc_api *api, hwloc_topology_t hw)
{
    api->set_flags(hw, HWLOC_TOPOLOGY_FLAG_NO_DISTANCES | HWLOC_TOPOLOGY_FLAG_NO_MEMATTRS |
                           HWLOC_TOPOLOGY_FLAG_NO_CPUKINDS);
    api->set_cache_types_filter(hw, HWLOC_TYPE_FILTER_KEEP_NONE);
    api->set_type_filter(hw, HWLOC_OBJ_L3CACHE, HWLOC_TYPE_FILTER_KEEP_ALL);
    api->set_type_filter(hw, HWLOC_OBJ_GROUP, HWLOC_TYPE_FILTER_KEEP_NONE);
    api->set_type_filter(hw, HWLOC_OBJ_DIE, HWLOC_TYPE_FILTER_KEEP_NONE);
}

/* PUs in hwloc's logical order: a tree walk, so every group is a run. */
struct topology *topology_from_hwloc(const struct cpu_mask *allowed, unsigned narenas, enum arena_per per)
{
    struct hwloc_api api;
    hwloc_topology_t hw;
    void *lib = hwloc_open(&api);
    if (!lib)
        return NULL;
    if (api.init(&hw) != 0) {
        os_library_close(lib);
        return NULL;
    }
    /* The x86 backend runs cpuid on each CPU by binding the calling thread (an
     * application's, inside its malloc) to each in turn; Linux's own backend
     * already knows the cores, caches and nodes. */
    if (api.set_components)
        api.set_components(hw, 1ul /* HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST */, "x86");
    restrict_discovery(&api, hw);
    struct topology *topo = NULL;
    struct scratch *scratch = NULL;
    int depth = api.load(hw) == 0 ? api.get_type_depth(hw, HWLOC_OBJ_PU) : -1;
    if (depth >= 0 && (scratch = os_map(sizeof *scratch, 0))) {
        unsigned npus = api.get_nbobjs_by_depth(hw, depth), ncpus = 0;
        for (unsigned i = 0; i < npus; i++) {
            hwloc_obj_t pu = api.get_obj_by_depth(hw, depth, i);
            if (!cpu_mask_has(allowed, pu->os_index))
                continue;
            int64_t core = ancestor_key(pu, HWLOC_OBJ_CORE), l3 = ancestor_key(pu, HWLOC_OBJ_L3CACHE);
            scratch->cpus[ncpus++] = (struct cpu_desc){
                .id = pu->os_index,
                .node = numa_node_of(pu),
                .package = -1,
                .core = core != WHOLE_MACHINE_KEY ? core : (int64_t)pu->gp_index,
                .l3 = l3 != WHOLE_MACHINE_KEY ? l3 : ancestor_key(pu, HWLOC_OBJ_PACKAGE),
            };
        }
        if (ncpus)
            topo = topology_build(scratch->cpus, ncpus, narenas, per, TOPOLOGY_HWLOC);
        os_unmap(scratch, sizeof *scratch);
    }
    api.destroy(hw);
    /* Read once per process: unloading gives back libhwloc's and libudev's pages. */
    os_library_close(lib);
    return topo;
}
#else
struct topology *topology_from_hwloc(const struct cpu_mask *allowed, unsigned narenas, enum arena_per per)
{
    (void)allowed, (void)narenas, (void)per;
    return NULL;
}
#endif
