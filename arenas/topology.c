/* Topology, read once, lazily.  hwloc is dlopen()ed rather than linked: linking
 * it (and libudev behind it) would add their load time to every process start,
 * including the many that never start a second thread. */
#include "topology.h"

#include <dlfcn.h>
#include <sched.h>

#include "src/base.h"
#include "src/os.h"

#if TCA_HAVE_HWLOC
#include <hwloc.h>
#endif

struct topology *topology_current;
static int topology_loading;

static struct topology *topology_alloc(unsigned cpu_slots, unsigned narenas)
{
    struct topology *topo = base_alloc(sizeof *topo + cpu_slots * sizeof(uint16_t) + narenas * sizeof(int16_t));
    if (!topo)
        return NULL;
    topo->cpu_slots = cpu_slots;
    topo->narenas = narenas;
    topo->cpu_to_arena = (uint16_t *)(topo + 1);
    topo->arena_numa_node = (int16_t *)(topo->cpu_to_arena + cpu_slots);
    for (unsigned i = 0; i < narenas; i++)
        topo->arena_numa_node[i] = -1;
    return topo;
}

/* Without hwloc: the allowed CPUs in id order, dealt round-robin to the arenas. */
static struct topology *topology_from_affinity(unsigned narenas)
{
    unsigned cpu_slots;
    os_cpu_count(&cpu_slots);
    struct topology *topo = topology_alloc(cpu_slots, narenas);
    if (!topo)
        return NULL;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        CPU_ZERO(&allowed);
    unsigned next = 0;
    for (unsigned cpu = 0; cpu < cpu_slots; cpu++)
        topo->cpu_to_arena[cpu] = (uint16_t)(CPU_ISSET(cpu, &allowed) ? next++ % narenas : cpu % narenas);
    return topo;
}

#if TCA_HAVE_HWLOC
struct hwloc_api {
    unsigned (*get_api_version)(void);
    int (*topology_init)(hwloc_topology_t *);
    int (*topology_load)(hwloc_topology_t);
    void (*topology_destroy)(hwloc_topology_t);
    int (*get_type_depth)(hwloc_topology_t, hwloc_obj_type_t);
    unsigned (*get_nbobjs_by_depth)(hwloc_topology_t, int);
    hwloc_obj_t (*get_obj_by_depth)(hwloc_topology_t, int, unsigned);
};

static bool hwloc_open(struct hwloc_api *api)
{
    void *lib = dlopen("libhwloc.so.15", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        lib = dlopen("libhwloc.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return false;
    api->get_api_version = (unsigned (*)(void))dlsym(lib, "hwloc_get_api_version");
    api->topology_init = (int (*)(hwloc_topology_t *))dlsym(lib, "hwloc_topology_init");
    api->topology_load = (int (*)(hwloc_topology_t))dlsym(lib, "hwloc_topology_load");
    api->topology_destroy = (void (*)(hwloc_topology_t))dlsym(lib, "hwloc_topology_destroy");
    api->get_type_depth = (int (*)(hwloc_topology_t, hwloc_obj_type_t))dlsym(lib, "hwloc_get_type_depth");
    api->get_nbobjs_by_depth = (unsigned (*)(hwloc_topology_t, int))dlsym(lib, "hwloc_get_nbobjs_by_depth");
    api->get_obj_by_depth = (hwloc_obj_t (*)(hwloc_topology_t, int, unsigned))dlsym(lib, "hwloc_get_obj_by_depth");
    /* The object layout we compile against must be the one the library has. */
    return api->get_api_version && api->topology_init && api->topology_load && api->topology_destroy &&
           api->get_type_depth && api->get_nbobjs_by_depth && api->get_obj_by_depth &&
           (api->get_api_version() >> 16) == (HWLOC_API_VERSION >> 16);
}

static int numa_node_of(hwloc_obj_t obj)
{
    for (; obj; obj = obj->parent)
        if (obj->memory_arity > 0 && obj->memory_first_child)
            return (int)obj->memory_first_child->os_index;
    return -1;
}

/* PUs in hwloc's logical order (siblings of a core, then of a cache, are
 * adjacent), dealt to the arenas in that order. */
static struct topology *topology_from_hwloc(unsigned narenas)
{
    struct hwloc_api api;
    hwloc_topology_t hw;
    if (!hwloc_open(&api) || api.topology_init(&hw) != 0)
        return NULL;
    struct topology *topo = NULL;
    int depth = api.topology_load(hw) == 0 ? api.get_type_depth(hw, HWLOC_OBJ_PU) : -1;
    unsigned npus = depth >= 0 ? api.get_nbobjs_by_depth(hw, depth) : 0;
    unsigned cpu_slots = 0;
    for (unsigned i = 0; i < npus; i++) {
        hwloc_obj_t pu = api.get_obj_by_depth(hw, depth, i);
        if (pu->os_index < TOPOLOGY_MAX_CPUS && pu->os_index + 1 > cpu_slots)
            cpu_slots = pu->os_index + 1;
    }
    if (cpu_slots && (topo = topology_alloc(cpu_slots, narenas))) {
        for (unsigned cpu = 0; cpu < cpu_slots; cpu++)
            topo->cpu_to_arena[cpu] = (uint16_t)(cpu % narenas);
        for (unsigned i = 0; i < npus; i++) {
            hwloc_obj_t pu = api.get_obj_by_depth(hw, depth, i);
            if (pu->os_index >= cpu_slots)
                continue;
            unsigned arena = i % narenas;
            topo->cpu_to_arena[pu->os_index] = (uint16_t)arena;
            if (topo->arena_numa_node[arena] < 0)
                topo->arena_numa_node[arena] = (int16_t)numa_node_of(pu);
        }
        topo->from_hwloc = true;
    }
    api.topology_destroy(hw);
    return topo;
}
#endif

void topology_load(unsigned narenas)
{
    if (__atomic_load_n(&topology_current, __ATOMIC_ACQUIRE) ||
        __atomic_exchange_n(&topology_loading, 1, __ATOMIC_ACQ_REL))
        return;
    struct topology *topo = NULL;
#if TCA_HAVE_HWLOC
    topo = topology_from_hwloc(narenas);
#endif
    if (!topo)
        topo = topology_from_affinity(narenas);
    if (topo)
        __atomic_store_n(&topology_current, topo, __ATOMIC_RELEASE);
    else
        __atomic_store_n(&topology_loading, 0, __ATOMIC_RELEASE);
}
