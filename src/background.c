#include "background.h"

#include <pthread.h>
#include <signal.h>

#include "arenas/arena.h"
#include "os.h"

/* The thread only sleeps, purges and walks bins: a small stack will do. */
#define BACKGROUND_STACK_SIZE ((size_t)256 << 10)

static void *background_main(void *unused)
{
    (void)unused;
    uint64_t spares_due = 0;
    for (;;) {
        pageheap_background_step();
        /* A spare slab is given back once its bin saw no traffic for a whole decay time. */
        long decay_ms = pageheap_decay_ms();
        uint64_t now = os_clock_ms();
        if (decay_ms > 0 && now >= spares_due) {
            arenas_decay_spares();
            spares_due = now + (uint64_t)decay_ms;
        }
    }
    return NULL;
}

void background_start(void)
{
    if (!pageheap_background_claim())
        return;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, BACKGROUND_STACK_SIZE);
    /* The program's signal handlers must never run on our thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t thread;
    if (pthread_create(&thread, &attr, background_main, NULL) == 0)
        pthread_setname_np(thread, "tcarena-bg");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}
