/* The background thread (TCARENA_CONF=background_thread:true): there before
 * main(); a process that frees a burst and then sleeps (no allocator call at
 * all) shrinks by itself within a few decay times; so does one whose
 * allocating thread exited; a forked child, which has no background thread
 * (no thread is ever created inside an allocator call), still runs; and a
 * process whose main() ends with pthread_exit() still ends. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "rss.h"
#include "tcarena.h"

#define BURST_BLOCKS (96 << 10) /* of 1 KiB: 96 MiB */
#define DECAY_MS 200

static void *burst[BURST_BLOCKS];
/* RSS with the whole burst allocated: after the frees the page heap's dirty
 * cap has already returned part of it (more in the secure build, whose
 * untouched guard pages count as dirty). */
static double burst_peak_mib;

static int threads_named(const char *name)
{
    DIR *tasks = opendir("/proc/self/task");
    CHECK(tasks);
    int count = 0;
    for (struct dirent *task; (task = readdir(tasks));) {
        if (task->d_name[0] == '.')
            continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", task->d_name);
        FILE *file = fopen(path, "r");
        if (!file)
            continue;
        if (fgets(comm, sizeof comm, file) && (!name || !strncmp(comm, name, strlen(name))))
            count++;
        fclose(file);
    }
    closedir(tasks);
    return count;
}

static void *alloc_and_free_burst(void *unused)
{
    (void)unused;
    for (size_t i = 0; i < BURST_BLOCKS; i++) {
        burst[i] = malloc(1024);
        CHECK(burst[i]);
        memset(burst[i], 7, 1024);
    }
    burst_peak_mib = rss_mib();
    for (size_t i = 0; i < BURST_BLOCKS; i++)
        free(burst[i]);
    return NULL;
}

/* Sleeps without touching the allocator until RSS is back near base. */
static void check_shrinks_while_idle(double base)
{
    double rss = rss_mib();
    for (int waited = 0; waited < 20 * DECAY_MS && rss > base + 24; waited += 10) {
        usleep(10 * 1000);
        rss = rss_mib();
    }
    if (rss > base + 24)
        fprintf(stderr, "RSS still %.1f MiB (base %.1f MiB)\n", rss, base);
    CHECK(rss <= base + 24);
}

int main(void)
{
    free(malloc(1));
    CHECK(threads_named("tcarena-bg") == 1);
    bool running = false;
    size_t len = sizeof running;
    CHECK(tca_ctl("background_thread", &running, &len, NULL, 0) == 0 && running);
    double base = rss_mib();

    alloc_and_free_burst(NULL);
    CHECK(burst_peak_mib > base + 64);
    check_shrinks_while_idle(base);
    CHECK(threads_named("tcarena-bg") == 1);

    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, alloc_and_free_burst, NULL) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    check_shrinks_while_idle(base);

    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        alloc_and_free_burst(NULL);
        CHECK(threads_named("tcarena-bg") == 0);
        exit(0);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* main() leaving with pthread_exit(): the process ends with its last
     * thread of its own, as it would without the background thread. */
    child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        alloc_and_free_burst(NULL);
        pthread_exit(NULL);
    }
    int waited_ms = 0;
    while (waitpid(child, &status, WNOHANG) == 0 && waited_ms < 5000) {
        usleep(10 * 1000);
        waited_ms += 10;
    }
    if (waited_ms >= 5000)
        kill(child, SIGKILL);
    CHECK(waited_ms < 5000 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}
