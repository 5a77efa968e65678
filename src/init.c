/* Bootstrap and fork handling.  The first allocation of the process (which may
 * come from ld.so, a constructor or hwloc) runs tca_bootstrap(); nothing it
 * calls allocates through malloc, and a thread that re-enters anyway is served
 * straight from arena 0 rather than deadlocking on the boot lock. */
#include "init.h"

#include <pthread.h>
#include <string.h>

#include "arenas/arena.h"
#include "background.h"
#include "base.h"
#include "options.h"
#include "os.h"
#include "pageheap.h"
#include "sizeclass.h"
#include "stats.h"
#include "tcache/tcache.h"

enum { BOOT_NOT_STARTED, BOOT_DONE = 2 };
static int boot_state;
static pthread_mutex_t boot_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread bool booting_here __attribute__((tls_model("initial-exec")));

/* fork(): take every lock in the documented order, so the child starts with
 * consistent structures; the child re-initialises them (it is single-threaded). */
static void fork_prepare(void)
{
    tcache_fork_prepare();
    arenas_fork_prepare();
    pageheap_fork_prepare();
    base_fork_prepare();
}

static void fork_parent(void)
{
    base_fork_parent();
    pageheap_fork_parent();
    arenas_fork_parent();
    tcache_fork_parent();
}

static void fork_child(void)
{
    base_fork_child();
    pageheap_fork_child();
    arenas_fork_child();
    tcache_fork_child();
}

static bool boot(void)
{
    options_read_environment();
    sizeclass_init();
    arenas_init(tca_options.narenas ? (unsigned)tca_options.narenas : os_cpu_count(NULL));
    if (!arena_get(0) || !tcache_boot())
        return false;
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    if (tca_options.stats_print)
        stats_print_at_exit();
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

/* The allocator otherwise starts at the first allocation.  Two options need it
 * at load, before main(), and only when TCARENA_CONF names them, so other
 * processes keep starting for free: stats_print, whose exit report a program
 * that never allocates (true(1)) would miss, and background_thread, which
 * must not be created inside an allocation (see background.h).  The names
 * are looked for without their colon, which may follow blanks; a stats_file
 * that holds one only starts the allocator at load. */
__attribute__((constructor)) static void start_when_asked(void)
{
    const char *conf = options_environment();
    if (!conf || !(strstr(conf, "stats_print") || strstr(conf, "background_thread")) || !tca_bootstrap())
        return;
    if (tca_options.background_thread)
        background_start();
}
