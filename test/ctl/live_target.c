/* The processes live.sh reads from outside.  Built without tcarena: it runs
 * under LD_PRELOAD, and finds tca_ctl with dlsym when it needs its own view.
 *
 *   hold MIB            holds MIB MiB (written), says "ready", waits for stdin to close
 *   hold-closed MIB     the same, having closed every descriptor but 0-2, as daemons do
 *   load THREADS MIB    THREADS threads allocate and free in bursts without pause; the main
 *                       thread prints its own stats.allocated, allocates MIB MiB,
 *                       prints it again ("A0 A1"), then waits for stdin to close
 *   fork PMIB CMIB      holds PMIB MiB, forks; the child holds CMIB MiB more; says
 *                       "PARENT CHILD" (the two process ids), waits for stdin to close
 *   sigterm             a SIGTERM handler that calls exit(0); says "ready", then
 *                       allocates and frees in batches that overflow its cache, so
 *                       that the signal often lands in a slow path holding a lock
 *   glibc               mallinfo2, mallinfo, malloc_stats and malloc_info against
 *                       tca_ctl's stats.allocated: exit status 0 when they agree */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int (*ctl)(const char *, void *, size_t *, void *, size_t);

static size_t own_allocated(void)
{
    if (!ctl && !(ctl = (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "tca_ctl"))) {
        fprintf(stderr, "live_target: no tca_ctl: not running under tcarena\n");
        exit(3);
    }
    uint64_t epoch = 1;
    size_t allocated, len = sizeof allocated;
    if (ctl("epoch", NULL, NULL, &epoch, sizeof epoch) || ctl("stats.allocated", &allocated, &len, NULL, 0))
        exit(3);
    return allocated;
}

static void *hold(size_t mib)
{
    char *block = malloc(mib << 20);
    if (!block)
        exit(3);
    memset(block, 1, mib << 20);
    return block;
}

/* Until whoever started us closes our stdin. */
static void wait_for_eof(void)
{
    char buf[64];
    while (read(0, buf, sizeof buf) > 0 || errno == EINTR)
        errno = 0;
}

static void say(const char *text)
{
    fputs(text, stdout);
    fflush(stdout);
}

/* Bursts of BURST blocks of 64 to 512 bytes (at most 4 MiB), allocated, then
 * all freed: more than a thread cache and the transfer caches hold, so the
 * slabs see refills and flushes all the time. */
#define BURST 8192

static void *churn(void *arg)
{
    void *blocks[BURST];
    for (unsigned round = (unsigned)(uintptr_t)arg;; round++) {
        size_t size = 64 + 64 * (round % 8);
        for (unsigned i = 0; i < BURST; i++)
            blocks[i] = malloc(size);
        for (unsigned i = 0; i < BURST; i++)
            free(blocks[i]);
    }
    return NULL;
}

static int load(int threads, size_t mib)
{
    for (int i = 0; i < threads; i++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, churn, (void *)(uintptr_t)i))
            return 3;
    }
    usleep(100000);
    size_t before = own_allocated();
    void *block = hold(mib);
    printf("%zu %zu\n", before, own_allocated());
    fflush(stdout);
    wait_for_eof();
    free(block);
    return 0;
}

static int fork_apart(size_t parent_mib, size_t child_mib)
{
    void *parent_block = hold(parent_mib);
    int ready[2];
    if (pipe(ready))
        return 3;
    pid_t child = fork();
    if (child < 0)
        return 3;
    if (child == 0) {
        void *child_block = hold(child_mib);
        if (write(ready[1], "x", 1) != 1)
            return 3;
        wait_for_eof();
        free(child_block);
        return 0;
    }
    char byte;
    if (read(ready[0], &byte, 1) != 1)
        return 3;
    printf("%d %d\n", (int)getpid(), (int)child);
    fflush(stdout);
    wait_for_eof();
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    free(parent_block);
    return 0;
}

static void exit_on_term(int signal)
{
    (void)signal;
    exit(0);
}

static int near(size_t a, size_t b) { return a > b ? a - b <= (1 << 20) : b - a <= (1 << 20); }

static int glibc_calls(void)
{
    void *blocks[1000];
    for (int i = 0; i < 1000; i++)
        blocks[i] = malloc(100 + i);
    void *big = malloc(8 << 20);
    size_t allocated = own_allocated();
    struct mallinfo2 info = mallinfo2();
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* glibc's old call, tested too */
    struct mallinfo narrow = mallinfo();
    int ok = info.uordblks == allocated && info.arena >= info.uordblks &&
             info.fordblks == info.arena - info.uordblks && (size_t)narrow.uordblks == allocated;
    if (!ok)
        fprintf(stderr, "mallinfo2: uordblks %zu arena %zu fordblks %zu, mallinfo %d; stats.allocated %zu\n",
                info.uordblks, info.arena, info.fordblks, narrow.uordblks, allocated);
    /* malloc_stats writes to stderr: read it back through a pipe. */
    int pipe_fds[2], saved = dup(2);
    char text[1 << 16];
    if (pipe(pipe_fds) || dup2(pipe_fds[1], 2) < 0)
        return 3;
    malloc_stats();
    dup2(saved, 2);
    close(pipe_fds[1]);
    ssize_t len = read(pipe_fds[0], text, sizeof text - 1);
    text[len > 0 ? len : 0] = '\0';
    const char *total = strstr(text, "Total (incl. mmap):\nsystem bytes     = ");
    const char *in_use = total ? strstr(total, "in use bytes     = ") : NULL;
    if (!strstr(text, "Arena 0:\nsystem bytes     = ") || !in_use ||
        !near(strtoull(in_use + strlen("in use bytes     = "), NULL, 10), allocated)) {
        fprintf(stderr, "malloc_stats printed:\n%s", text);
        ok = 0;
    }
    /* malloc_info: glibc's XML shape, our figures; options must be 0. */
    char *xml;
    size_t xml_len;
    FILE *stream = open_memstream(&xml, &xml_len);
    if (!stream || malloc_info(0, stream) != 0 || fclose(stream))
        return 3;
    const char *start = "<malloc version=\"0\">\n<heap nr=\"0\">\n<sizes>\n";
    if (strncmp(xml, start, strlen(start)) || !strstr(xml, "<size from=") ||
        !strstr(xml, "<total type=\"mmap\" count=\"0\" size=\"0\"/>") || !strstr(xml, "</malloc>\n")) {
        fprintf(stderr, "malloc_info printed:\n%s", xml);
        ok = 0;
    }
    errno = 0;
    if (malloc_info(1, stdout) != -1 || errno != EINVAL) {
        fprintf(stderr, "malloc_info(1, ...) did not fail with EINVAL\n");
        ok = 0;
    }
    free(xml);
    free(big);
    for (int i = 0; i < 1000; i++)
        free(blocks[i]);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if ((!strcmp(mode, "hold") || !strcmp(mode, "hold-closed")) && argc == 3) {
        hold(strtoul(argv[2], NULL, 10));
        if (!strcmp(mode, "hold-closed"))
            for (int fd = 3; fd < 1024; fd++)
                close(fd);
        say("ready\n");
        wait_for_eof();
        return 0;
    }
    if (!strcmp(mode, "load") && argc == 4)
        return load(atoi(argv[2]), strtoul(argv[3], NULL, 10));
    if (!strcmp(mode, "fork") && argc == 4)
        return fork_apart(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10));
    if (!strcmp(mode, "sigterm") && argc == 2) {
        signal(SIGTERM, exit_on_term);
        say("ready\n");
        static void *batch[4096];
        for (unsigned round = 0;; round++) {
            for (unsigned i = 0; i < 4096; i++)
                batch[i] = malloc(16 + (round + i) % 2048);
            for (unsigned i = 0; i < 4096; i++)
                free(batch[i]);
        }
    }
    if (!strcmp(mode, "glibc") && argc == 2)
        return glibc_calls();
    fprintf(stderr, "usage: live_target hold[-closed] MIB | load THREADS MIB | fork PMIB CMIB | sigterm | glibc\n");
    return 2;
}
