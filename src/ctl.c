/* The control interface: a tree of names whose components are separated by
 * '.', numeric components being indices ("stats.arenas.0.bins.3.nmalloc").
 * tca_ctl_nametomib() turns a name into the numbers of its path once;
 * tca_ctl_bymib() walks those numbers, so hot callers skip every string
 * compare, and tca_ctl() is the two in a row.
 *
 * A path component is, at each inner node, in one numbering: first the node's
 * named children, then the entries of the table it lists (stats fields or
 * options), then its indices.  A node with no named children and no table (as
 * stats.arenas and arenas.bin) thus has mib component = index, as in jemalloc.
 *
 * Statistics are read from a snapshot refreshed by writing "epoch"; one lock
 * serialises ctl calls and guards the snapshot.  It is taken before any
 * allocator lock, and never by malloc or free. */

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "arenas/arena.h"
#include "pageheap/decay.h"
#include "pageheap/os.h"
#include "src/background.h"
#include "src/bootstrap.h"
#include "src/ctl.h"
#include "src/options.h"
#include "src/stats_print.h"
#include "tcache/tcache.h"
#include "tcarena.h"

/* Deepest name: stats.arenas.<i>.bins.<j>.<field> */
#define CTL_MAX_DEPTH 6
/* decay_ms accepts what the option accepts: -1 (never) up to an hour. */
#define DECAY_MS_MAX 3600000

static pthread_mutex_t ctl_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_once_t ctl_fork_once = PTHREAD_ONCE_INIT;
/* glibc mutexes are not fair: threads that refresh statistics in a loop can
 * re-take ctl_lock for seconds while fork() waits for it in fork_prepare.  A
 * fork announces itself here and new ctl callers step aside until it is done
 * (callers already inside, counted by ctl_depth, go on: they hold the lock). */
static unsigned forks_waiting;
static __thread unsigned ctl_depth __attribute__((tls_model("initial-exec")));
static struct tca_stats snapshot;
static uint64_t epoch;

/* ---- Reading and writing values ---- */

static bool writes(const struct ctl_io *io) { return io->newp || io->newlen; }

int ctl_read_value(const struct ctl_io *io, const void *value, size_t len)
{
    if (!io->oldlenp)
        return io->oldp ? EFAULT : 0;
    if (io->oldp && *io->oldlenp != len) {
        *io->oldlenp = len;
        return EINVAL;
    }
    if (io->oldp)
        memcpy(io->oldp, value, len);
    *io->oldlenp = len;
    return 0;
}

int ctl_read_only(const struct ctl_io *io, const void *value, size_t len)
{
    return writes(io) ? EPERM : ctl_read_value(io, value, len);
}

/* A string copied into the caller's buffer, which must hold it with its NUL. */
static int read_only_text(const struct ctl_io *io, const char *text)
{
    size_t len = strlen(text) + 1;
    if (writes(io))
        return EPERM;
    if (!io->oldlenp)
        return io->oldp ? EFAULT : 0;
    bool fits = *io->oldlenp >= len;
    if (io->oldp && fits)
        memcpy(io->oldp, text, len);
    *io->oldlenp = len;
    return io->oldp && !fits ? EINVAL : 0;
}

int ctl_take_new_value(const struct ctl_io *io, void *value, size_t len)
{
    if (!io->newp)
        return io->newlen ? EFAULT : 0;
    if (io->newlen != len)
        return EINVAL;
    memcpy(value, io->newp, len);
    return 0;
}

bool ctl_is_plain_action(const struct ctl_io *io) { return !io->oldp && !io->oldlenp && !writes(io); }

/* ---- Leaves ---- */

static int ctl_version(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    const char *version = TCARENA_VERSION;
    return ctl_read_only(io, &version, sizeof version);
}

static int ctl_epoch(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    uint64_t ignored;
    int err = ctl_take_new_value(io, &ignored, sizeof ignored);
    if (err)
        return err;
    if (io->newp) {
        stats_collect(&snapshot);
        epoch++;
    }
    return ctl_read_value(io, &epoch, sizeof epoch);
}

static int ctl_stats_field(const struct ctl_path *path, const struct ctl_io *io)
{
    const void *record = &snapshot;
    if (path->nindices == 1)
        record = &snapshot.arenas[path->index[0]];
    else if (path->nindices == 2)
        record = &snapshot.arenas[path->index[0]].bins[path->index[1]];
    uint64_t value = stats_field_value(path->field, record);
    return ctl_read_only(io, &value, sizeof value);
}

/* opt.*: bool, long, or const char * (choices and strings), as set at start-up. */
static int ctl_option(const struct ctl_path *path, const struct ctl_io *io)
{
    const struct tca_option_desc *desc = path->option;
    const char *text = desc->value;
    switch (desc->type) {
    case OPTION_BOOL:
        return ctl_read_only(io, desc->value, sizeof(bool));
    case OPTION_LONG:
        return ctl_read_only(io, desc->value, sizeof(long));
    case OPTION_CHOICE:
        text = desc->choices[*(const long *)desc->value];
        break;
    case OPTION_STRING:
        break;
    }
    return ctl_read_only(io, &text, sizeof text);
}

static int ctl_narenas(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    unsigned narenas = arena_count;
    return ctl_read_only(io, &narenas, sizeof narenas);
}

static int ctl_nbins(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    unsigned nbins = STATS_NBINS;
    return ctl_read_only(io, &nbins, sizeof nbins);
}

static int ctl_page(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    size_t page = TCA_PAGE_SIZE;
    return ctl_read_only(io, &page, sizeof page);
}

static int ctl_bin_size(const struct ctl_path *path, const struct ctl_io *io)
{
    size_t size = sizeclass_size((unsigned)path->index[0] + 1);
    return ctl_read_only(io, &size, sizeof size);
}

static int ctl_bin_nregs(const struct ctl_path *path, const struct ctl_io *io)
{
    uint32_t nregs = sizeclass_table[path->index[0] + 1].nslots;
    return ctl_read_only(io, &nregs, sizeof nregs);
}

static int ctl_bin_slab_size(const struct ctl_path *path, const struct ctl_io *io)
{
    size_t bytes = (size_t)sizeclass_table[path->index[0] + 1].slab_pages << TCA_PAGE_SHIFT;
    return ctl_read_only(io, &bytes, sizeof bytes);
}

static int ctl_arena_cpus(const struct ctl_path *path, const struct ctl_io *io)
{
    char cpus[4096];
    stats_format_arena_cpus(snapshot.view->placement, (unsigned)path->index[0], cpus, sizeof cpus);
    return read_only_text(io, cpus);
}

static int ctl_arena_numa_node(const struct ctl_path *path, const struct ctl_io *io)
{
    int node = topology_arena_numa_node((unsigned)path->index[0]);
    return ctl_read_only(io, &node, sizeof node);
}

static int ctl_thread_allocated(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    uint64_t bytes = tcache_thread_allocated(&tcache_tls);
    return ctl_read_only(io, &bytes, sizeof bytes);
}

static int ctl_thread_deallocated(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    uint64_t bytes = tcache_thread_deallocated(&tcache_tls);
    return ctl_read_only(io, &bytes, sizeof bytes);
}

static int ctl_thread_tcache_flush(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    if (!ctl_is_plain_action(io))
        return EPERM;
    tcache_flush_all(&tcache_tls, true);
    return 0;
}

/* decay_ms: the page heap's decay time now (opt.decay_ms: at start-up). */
static int ctl_decay_ms(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    long old_ms = decay_ms(), new_ms = old_ms;
    int err = ctl_take_new_value(io, &new_ms, sizeof new_ms);
    if (err)
        return err;
    if (io->newp && (new_ms < -1 || new_ms > DECAY_MS_MAX))
        return EINVAL;
    err = ctl_read_value(io, &old_ms, sizeof old_ms);
    if (!err && io->newp)
        pageheap_set_decay_ms(new_ms);
    return err;
}

/* background_thread: whether the purge thread runs; writing true starts it. */
static int ctl_background_thread(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    bool running = background_running(), start = running;
    int err = ctl_take_new_value(io, &start, sizeof start);
    if (err)
        return err;
    if (io->newp && running && !start)
        return EPERM; /* it ends with the process; decay_ms:-1 stops its work */
    err = ctl_read_value(io, &running, sizeof running);
    if (!err && start && !running)
        background_start();
    return err;
}

static int ctl_arena_purge(const struct ctl_path *path, const struct ctl_io *io)
{
    if (!ctl_is_plain_action(io))
        return EPERM;
    struct arena *arena = __atomic_load_n(&arena_table[path->index[0]], __ATOMIC_ACQUIRE);
    if (arena)
        arena_purge(arena);
    return 0;
}

static int ctl_arenas_purge(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    if (!ctl_is_plain_action(io))
        return EPERM;
    arenas_purge();
    return 0;
}

/* The largest size thread caches hold (0 with tcache:false). */
static int ctl_tcache_max(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    size_t max = tca_options.tcache ? TCA_SMALL_MAX : 0;
    return ctl_read_only(io, &max, sizeof max);
}

/* ---- The tree ---- */

static unsigned arena_limit(void) { return arena_count; }
static unsigned bin_limit(void) { return STATS_NBINS; }

static const struct ctl_node stats_bin_node = {.table = TABLE_BIN};
static const struct ctl_node stats_arena_children[] = {
    {.name = "bins", .indexed = &stats_bin_node, .index_limit = bin_limit},
    END,
};
static const struct ctl_node stats_arena_node = {.children = stats_arena_children, .table = TABLE_ARENA};
static const struct ctl_node stats_children[] = {
    {.name = "arenas", .indexed = &stats_arena_node, .index_limit = arena_limit},
    {.name = "prof", .children = stats_prof_ctl_children},
    END,
};

static const struct ctl_node arenas_bin_children[] = {
    LEAF("size", ctl_bin_size),
    LEAF("nregs", ctl_bin_nregs),
    LEAF("slab_size", ctl_bin_slab_size),
    END,
};
static const struct ctl_node arenas_bin_node = {.children = arenas_bin_children};
static const struct ctl_node arenas_arena_children[] = {
    LEAF("cpus", ctl_arena_cpus),
    LEAF("numa_node", ctl_arena_numa_node),
    END,
};
static const struct ctl_node arenas_arena_node = {.children = arenas_arena_children};
static const struct ctl_node arenas_children[] = {
    LEAF("narenas", ctl_narenas),
    LEAF("nbins", ctl_nbins),
    LEAF("page", ctl_page),
    LEAF("purge", ctl_arenas_purge),
    {.name = "bin", .indexed = &arenas_bin_node, .index_limit = bin_limit},
    END,
};

static const struct ctl_node arena_arena_children[] = {
    LEAF("purge", ctl_arena_purge),
    END,
};
static const struct ctl_node arena_arena_node = {.children = arena_arena_children};

static const struct ctl_node thread_tcache_children[] = {
    LEAF("flush", ctl_thread_tcache_flush),
    END,
};
static const struct ctl_node thread_children[] = {
    LEAF("allocated", ctl_thread_allocated),
    LEAF("deallocated", ctl_thread_deallocated),
    {.name = "tcache", .children = thread_tcache_children},
    END,
};

static const struct ctl_node tcache_children[] = {
    LEAF("max", ctl_tcache_max),
    END,
};

static const struct ctl_node root_children[] = {
    LEAF("version", ctl_version),
    LEAF("epoch", ctl_epoch),
    LEAF("decay_ms", ctl_decay_ms),
    LEAF("background_thread", ctl_background_thread),
    {.name = "stats", .children = stats_children, .table = TABLE_TOTALS},
    {.name = "arenas", .children = arenas_children, .indexed = &arenas_arena_node, .index_limit = arena_limit},
    {.name = "arena", .indexed = &arena_arena_node, .index_limit = arena_limit},
    {.name = "thread", .children = thread_children},
    {.name = "tcache", .children = tcache_children},
    {.name = "opt", .table = TABLE_OPTIONS},
    {.name = "prof", .children = prof_ctl_children},
    END,
};
static const struct ctl_node root = {.children = root_children};

static const struct ctl_node field_leaf = {.handler = ctl_stats_field};
static const struct ctl_node option_leaf = {.handler = ctl_option};

/* ---- Walking it ---- */

static size_t child_count(const struct ctl_node *node)
{
    size_t count = 0;
    while (node->children && node->children[count].name)
        count++;
    return count;
}

static size_t table_count(enum ctl_table table)
{
    switch (table) {
    case TABLE_TOTALS: return stats_total_nfields;
    case TABLE_ARENA: return stats_arena_nfields;
    case TABLE_BIN: return stats_bin_nfields;
    case TABLE_OPTIONS: return tca_option_count;
    case TABLE_NONE: break;
    }
    return 0;
}

static const char *table_name(enum ctl_table table, size_t entry)
{
    switch (table) {
    case TABLE_TOTALS: return stats_total_fields[entry].name;
    case TABLE_ARENA: return stats_arena_fields[entry].name;
    case TABLE_BIN: return stats_bin_fields[entry].name;
    case TABLE_OPTIONS: return tca_option_descs[entry].name;
    case TABLE_NONE: break;
    }
    return NULL;
}

static const struct ctl_node *table_leaf(enum ctl_table table, size_t entry, struct ctl_path *path)
{
    switch (table) {
    case TABLE_TOTALS: path->field = &stats_total_fields[entry]; break;
    case TABLE_ARENA: path->field = &stats_arena_fields[entry]; break;
    case TABLE_BIN: path->field = &stats_bin_fields[entry]; break;
    case TABLE_OPTIONS: path->option = &tca_option_descs[entry]; return &option_leaf;
    case TABLE_NONE: break;
    }
    return &field_leaf;
}

/* Moves *node to its child numbered component; ENOENT when there is none. */
static int step(const struct ctl_node **node, size_t component, struct ctl_path *path)
{
    const struct ctl_node *at = *node;
    size_t named = child_count(at), listed = table_count(at->table);
    if (component < named) {
        *node = &at->children[component];
        return 0;
    }
    component -= named;
    if (component < listed) {
        *node = table_leaf(at->table, component, path);
        return 0;
    }
    component -= listed;
    if (!at->indexed || component >= at->index_limit())
        return ENOENT;
    path->index[path->nindices++] = component;
    *node = at->indexed;
    return 0;
}

/* The number of the name's component [text, text + len) under node. */
static int component_number(const struct ctl_node *node, const char *text, size_t len, size_t *number)
{
    size_t named = child_count(node), listed = table_count(node->table);
    for (size_t i = 0; i < named + listed; i++) {
        const char *name = i < named ? node->children[i].name : table_name(node->table, i - named);
        if (strlen(name) == len && !memcmp(name, text, len)) {
            *number = i;
            return 0;
        }
    }
    /* An index: decimal digits only, and few enough that no overflow can hide
     * an out-of-range one (step() checks the range). */
    if (!node->indexed || len == 0 || len > 9 || strspn(text, "0123456789") < len)
        return ENOENT;
    size_t index = 0;
    for (size_t i = 0; i < len; i++)
        index = index * 10 + (size_t)(text[i] - '0');
    *number = named + listed + index;
    return 0;
}

static void fork_prepare(void)
{
    __atomic_add_fetch(&forks_waiting, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&ctl_lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&ctl_lock);
    __atomic_sub_fetch(&forks_waiting, 1, __ATOMIC_SEQ_CST);
}

static void fork_child(void)
{
    ctl_lock = (pthread_mutex_t)PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
    forks_waiting = 0;
    ctl_depth = 0;
}

static void ctl_lock_take(void)
{
    if (!ctl_depth)
        while (__atomic_load_n(&forks_waiting, __ATOMIC_SEQ_CST))
            os_yield();
    pthread_mutex_lock(&ctl_lock);
    ctl_depth++;
}

static void ctl_lock_release(void)
{
    ctl_depth--;
    pthread_mutex_unlock(&ctl_lock);
}

/* Handlers registered later run their prepare step earlier, so ctl_lock is
 * taken before the allocator's locks: ctl holds it while taking those. */
static void register_fork_handlers(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

/* glibc skips the handlers registered while a fork runs its prepare steps, so
 * registering them at a thread's first tca_ctl could let a fork in another
 * thread copy ctl_lock held into a child that never frees it.  They are
 * registered at load, before the program has threads, after the allocator's
 * own (bootstrap registers those). */
__attribute__((constructor)) static void register_fork_handlers_at_load(void)
{
    if (tca_bootstrap())
        pthread_once(&ctl_fork_once, register_fork_handlers);
}

/* Takes ctl_lock and makes sure a snapshot exists; false (lock not held) when
 * the allocator cannot start or has no memory for the snapshot. */
static bool ctl_enter(void)
{
    if (!tca_bootstrap())
        return false;
    pthread_once(&ctl_fork_once, register_fork_handlers);
    ctl_lock_take();
    if (!snapshot.arenas) {
        if (!stats_init(&snapshot)) {
            ctl_lock_release();
            return false;
        }
        stats_collect(&snapshot);
    }
    return true;
}

int tca_ctl_nametomib(const char *name, size_t *mibp, size_t *miblenp)
{
    if (!name || !mibp || !miblenp)
        return EFAULT;
    if (!tca_bootstrap())
        return EAGAIN;
    const struct ctl_node *node = &root;
    struct ctl_path path = {0};
    size_t depth = 0;
    for (const char *component = name;; component++) {
        size_t len = strcspn(component, ".");
        if (depth == *miblenp)
            return EINVAL;
        int err = component_number(node, component, len, &mibp[depth]);
        if (!err)
            err = step(&node, mibp[depth], &path);
        if (err)
            return err;
        depth++;
        component += len;
        if (!*component)
            break;
    }
    *miblenp = depth;
    return 0;
}

int tca_ctl_bymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    if (!mib && miblen)
        return EFAULT;
    if (!tca_bootstrap())
        return EAGAIN;
    const struct ctl_node *node = &root;
    struct ctl_path path = {0};
    for (size_t depth = 0; depth < miblen; depth++) {
        int err = node->handler ? ENOENT : step(&node, mib[depth], &path);
        if (err)
            return err;
    }
    if (!node->handler)
        return ENOENT;
    if (!ctl_enter())
        return EAGAIN;
    struct ctl_io io = {.oldp = oldp, .oldlenp = oldlenp, .newp = newp, .newlen = newlen};
    int err = node->handler(&path, &io);
    ctl_lock_release();
    return err;
}

int tca_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    size_t mib[CTL_MAX_DEPTH], miblen = CTL_MAX_DEPTH;
    int err = tca_ctl_nametomib(name, mib, &miblen);
    return err ? err : tca_ctl_bymib(mib, miblen, oldp, oldlenp, newp, newlen);
}

bool ctl_read_snapshot(void (*reader)(const struct tca_stats *stats, uint64_t epoch, void *arg), void *arg)
{
    if (!ctl_enter())
        return false;
    stats_collect(&snapshot);
    epoch++;
    reader(&snapshot, epoch, arg);
    ctl_lock_release();
    return true;
}

#if TCA_EXPORT_MALLCTL
/* For programs written against jemalloc's names (build option mallctl). */
#define TCA_SAME_AS(name, target) __typeof__(target) name __attribute__((alias(#target), visibility("default")))
TCA_SAME_AS(mallctl, tca_ctl);
TCA_SAME_AS(mallctlnametomib, tca_ctl_nametomib);
TCA_SAME_AS(mallctlbymib, tca_ctl_bymib);
#endif
