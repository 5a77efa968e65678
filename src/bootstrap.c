/* Bootstrap and fork handling.  The first allocation of the process (which may
 * come from ld.so or a constructor) runs tca_bootstrap(): it reads the options
 * and hands each layer its settings.  Nothing it calls allocates through
 * malloc; a thread that re-enters anyway gets ENOMEM rather than deadlocking
 * on the boot lock. */
#include "src/bootstrap.h"

#include <pthread.h>

#include "arenas/arena.h"
#include "arenas/sizeclass.h"
#include "pageheap/base.h"
#include "pageheap/os.h"
#include "pageheap/pageheap.h"
#include "src/live.h"
#include "src/options.h"
#include "src/prof.h"
#include "tcache/tcache.h"

enum { BOOT_NOT_STARTED, BOOT_DONE = 2 };
static int boot_state;
static pthread_mutex_t boot_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread bool booting_here __attribute__((tls_model("initial-exec")));

/* fork(): take every lock in the documented order, so the child starts with
 * consistent structures, and copy the statistics page with them all held;
 * the child takes a page of its own first, then re-initialises the
 * structures (it is single-threaded). */
static void fork_prepare(void)
{
    prof_fork_prepare();
    tcache_fork_prepare();
    arenas_fork_prepare();
    pageheap_fork_prepare();
    base_fork_prepare();
    live_fork_prepare();
}

static void fork_parent(void)
{
    live_fork_parent();
    base_fork_parent();
    pageheap_fork_parent();
    arenas_fork_parent();
    tcache_fork_parent();
    prof_fork_parent();
}

static void fork_child(void)
{
    live_fork_child();
    base_fork_child();
    pageheap_fork_child();
    arenas_fork_child();
    tcache_fork_child();
    prof_fork_child();
}

/* Each layer gets its settings and the storage for its counters, in the
 * statistics page, before it counts anything. */
static bool boot(void)
{
    options_read_environment();
    sizeclass_init();
    unsigned narenas = tca_options.narenas ? (unsigned)tca_options.narenas : os_cpu_count(NULL);
    narenas = narenas < 1 ? 1 : narenas > ARENA_MAX ? ARENA_MAX : narenas;
    struct live_storage counters;
    if (!live_boot(narenas, &counters))
        return false;
    arenas_boot(narenas, counters.arenas);
    topology_boot(tca_options.hwloc, (enum arena_per)tca_options.arena_per, counters.placement);
    pageheap_boot((enum thp_mode)tca_options.thp, tca_options.decay_ms, counters.heap);
    if (!arena_get(0) || !tcache_boot(tca_options.tcache))
        return false;
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    return true;
}

bool tca_bootstrap(void)
{
    if (TCA_LIKELY(__atomic_load_n(&boot_state, __ATOMIC_ACQUIRE) == BOOT_DONE))
        return true;
    if (booting_here)
        return false;
    pthread_mutex_lock(&boot_lock);
    bool ready = boot_state == BOOT_DONE;
    if (!ready) {
        booting_here = true;
        ready = boot();
        booting_here = false;
        if (ready)
            __atomic_store_n(&boot_state, BOOT_DONE, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&boot_lock);
    return ready;
}
