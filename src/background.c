#include "src/background.h"

#include "arenas/arena.h"
#include "pageheap/decay.h"
#include "pageheap/os.h"
#include "pageheap/pageheap.h"

/* The thread only sleeps, purges and walks bins: a small stack will do. */
#define BACKGROUND_STACK_SIZE ((size_t)256 << 10)

/* How often the thread looks whether it is the last one left. */
#define LAST_THREAD_CHECK_MS 1000

static void *background_main(void *unused)
{
    (void)unused;
    uint64_t spares_due = 0, last_thread_check = 0;
    for (;;) {
        pageheap_background_step();
        /* A spare slab goes back once its bin saw no traffic for half a decay
         * time: between half and one decay time of idleness. */
        long decay_time = decay_ms();
        uint64_t now = os_clock_ms();
        if (decay_time > 0 && now >= spares_due) {
            arenas_decay_spares();
            spares_due = now + (uint64_t)decay_time / 2;
        }
        /* main() may have ended with pthread_exit(): the process must end when
         * its last thread does, as it would without us (exit status 0). */
        if (now >= last_thread_check + LAST_THREAD_CHECK_MS) {
            last_thread_check = now;
            if (os_live_thread_count() == 1)
                return NULL;
        }
    }
}

static bool background_started;

bool background_running(void) { return __atomic_load_n(&background_started, __ATOMIC_ACQUIRE); }

void background_start(void)
{
    if (pageheap_background_claim() && os_thread_start(background_main, BACKGROUND_STACK_SIZE, "tcarena-bg"))
        __atomic_store_n(&background_started, true, __ATOMIC_RELEASE);
}
