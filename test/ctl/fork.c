/* fork() while other threads refresh the statistics: the child finds the ctl
 * lock free (it is taken before the allocator's locks in the fork handlers)
 * and can read, print and allocate. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tcarena.h"

enum { READERS = 2, FORKS = 200 };
static volatile int stop;

static void *refresh_forever(void *arg)
{
    while (!stop) {
        uint64_t epoch = 1;
        CHECK(tca_ctl("epoch", NULL, NULL, &epoch, sizeof epoch) == 0);
    }
    return arg;
}

static void discard(void *opaque, const char *text) { (void)opaque, (void)text; }

static void child(void)
{
    uint64_t epoch = 1;
    size_t allocated, len = sizeof allocated;
    if (tca_ctl("epoch", NULL, NULL, &epoch, sizeof epoch) || tca_ctl("stats.allocated", &allocated, &len, NULL, 0))
        _exit(3);
    tca_stats_print(discard, NULL, "J");
    free(malloc(100));
    _exit(0);
}

int main(void)
{
    pthread_t readers[READERS];
    for (unsigned i = 0; i < READERS; i++)
        CHECK(pthread_create(&readers[i], NULL, refresh_forever, NULL) == 0);
    for (unsigned i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
            child();
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    stop = 1;
    for (unsigned i = 0; i < READERS; i++)
        CHECK(pthread_join(readers[i], NULL) == 0);
    return 0;
}
