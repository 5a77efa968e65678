/* The heap profiler through tca_ctl and the allocation calls, one case per
 * run (the case's TCARENA_CONF comes from meson.build):
 *   off     no prof option: nothing sampled, the class table never emptied,
 *           prof.* answers ENOENT where it must
 *   blocks  every allocation sampled (prof_sample:1): sampled blocks freed,
 *           realloc'd, measured, zeroed, aligned; a double free aborts
 *   active  prof.active turned off and on while the program runs; prof.reset
 *   dump    profiles written while threads allocate, and by a forked child
 * Linked with the static library, to look at the class table itself. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "arenas/sizeclass.h"
#include "check.h"
#include "tcarena.h"

static uint64_t prof_figure(const char *name)
{
    uint64_t value = 0;
    size_t len = sizeof value;
    CHECK(tca_ctl(name, &value, &len, NULL, 0) == 0);
    return value;
}

static int set_active(bool active) { return tca_ctl("prof.active", NULL, NULL, &active, sizeof active); }

static int dump_to(const char *path) { return tca_ctl("prof.dump", NULL, NULL, &path, sizeof path); }

/* Keeps the compiler from dropping an allocation or turning it into a tail call. */
static void *volatile sink;

static void allocate_and_free(unsigned count, size_t size)
{
    for (unsigned i = 0; i < count; i++) {
        sink = malloc(size);
        free(sink);
    }
}

static void case_off(void)
{
    bool active = true;
    size_t len = sizeof active;
    CHECK(tca_ctl("prof.active", &active, &len, NULL, 0) == 0 && !active);
    allocate_and_free(100000, 100);
    CHECK(sizeclass_by_size[100] == sizeclass_of(100)); /* filled at the size's first miss, as without the profiler */
    CHECK(prof_figure("stats.prof.samples") == 0 && prof_figure("stats.prof.stacks") == 0);
    CHECK(prof_figure("stats.prof.metadata") == 0);
    CHECK(set_active(true) == ENOENT);
    CHECK(set_active(false) == 0);
    CHECK(dump_to("/dev/null") == ENOENT);
    CHECK(tca_ctl("prof.reset", NULL, NULL, NULL, 0) == ENOENT);
    size_t sample = 0;
    len = sizeof sample;
    CHECK(tca_ctl("prof.sample", &sample, &len, NULL, 0) == 0 && sample == 512 * 1024);
}

static void free_twice(void *ptr)
{
    free(ptr);
    free(ptr);
}

static void case_blocks(void)
{
    CHECK(sizeclass_by_size[100] == 0); /* sampling: every small size misses */
    uint64_t before = prof_figure("stats.prof.samples");
    char *block = malloc(100);
    CHECK(block && prof_figure("stats.prof.samples") == before + 1);
    CHECK(malloc_usable_size(block) == sizeclass_size(sizeclass_of(100)));
    memset(block, 'a', 100);
    /* The same class: in place; a bigger one: moved, its bytes kept. */
    CHECK(realloc(block, 110) == block);
    char *moved = realloc(block, 5000);
    CHECK(moved && moved != block && moved[0] == 'a' && moved[99] == 'a');
    CHECK(malloc_usable_size(moved) >= 5000);
    free(moved);
    CHECK(prof_figure("stats.prof.samples") == before);

    unsigned char *zeroed = calloc(300, 10);
    for (int i = 0; i < 3000; i++)
        CHECK(zeroed[i] == 0);
    void *aligned = NULL;
    CHECK(posix_memalign(&aligned, 4096, 200) == 0 && (uintptr_t)aligned % 4096 == 0);
    void *large = malloc(100000);
    CHECK(prof_figure("stats.prof.samples") == before + 3);
    free(zeroed);
    free(aligned);
    free(large);
    CHECK(prof_figure("stats.prof.samples") == before);

    void *twice = malloc(48);
    check_aborts(free_twice, twice, "double free of", twice);
    free(twice);
    CHECK(prof_figure("stats.prof.metadata") > 0);
}

static void case_active(void)
{
    allocate_and_free(1, 100);
    CHECK(sizeclass_by_size[100] == sizeclass_of(100)); /* prof_active:false: not sampling yet */
    allocate_and_free(10000, 1000);
    CHECK(prof_figure("stats.prof.stacks") == 0);
    CHECK(set_active(true) == 0);
    CHECK(sizeclass_by_size[100] == 0);
    static void *kept[10000];
    for (int i = 0; i < 10000; i++)
        kept[i] = malloc(1000);
    uint64_t sampled = prof_figure("stats.prof.samples");
    CHECK(sampled > 0 && prof_figure("stats.prof.stacks") > 0);
    CHECK(set_active(false) == 0);
    allocate_and_free(1, 100); /* the first miss of a size fills its class's entries again */
    CHECK(sizeclass_by_size[100] == sizeclass_of(100));
    allocate_and_free(10000, 1000);
    CHECK(prof_figure("stats.prof.samples") == sampled); /* not sampling, sampled blocks kept */
    CHECK(tca_ctl("prof.reset", NULL, NULL, NULL, 0) == 0);
    CHECK(prof_figure("stats.prof.samples") == 0);
    for (int i = 0; i < 10000; i++)
        free(kept[i]); /* samples the reset forgot */
    CHECK(tca_ctl("prof.reset", &sampled, NULL, NULL, 0) == EPERM);
}

/* ---- dump ---- */

static volatile bool stop;

static void *allocating_thread(void *arg)
{
    (void)arg;
    void *ring[64] = {0};
    for (unsigned i = 0; !stop; i++) {
        free(ring[i % 64]);
        ring[i % 64] = malloc(16 + i % 2000);
    }
    for (int i = 0; i < 64; i++)
        free(ring[i]);
    return NULL;
}

/* A profile as google-pprof reads it: the header, stack lines, the map. */
static void check_profile(const char *path)
{
    FILE *file = fopen(path, "r");
    CHECK(file);
    char line[4096];
    CHECK(fgets(line, sizeof line, file) && !strncmp(line, "heap profile: ", 14) && strstr(line, "] @ heap_v2/4096\n"));
    bool maps = false, libc_mapped = false;
    unsigned stacks = 0;
    while (fgets(line, sizeof line, file)) {
        unsigned long long n1, s1, n2, s2;
        if (maps)
            libc_mapped |= strstr(line, "libc.so") != NULL;
        else if (!strcmp(line, "MAPPED_LIBRARIES:\n"))
            maps = true;
        else if (strcmp(line, "\n"))
            CHECK(sscanf(line, "%llu: %llu [%llu: %llu] @ 0x", &n1, &s1, &n2, &s2) == 4 && n1 <= n2 && s1 <= s2 && stacks++ < 100000);
    }
    fclose(file);
    CHECK(maps && libc_mapped && stacks > 0);
}

static void case_dump(void)
{
    char path[64];
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        CHECK(pthread_create(&threads[i], NULL, allocating_thread, NULL) == 0);
    /* Each profile must hold a stack: the threads' first samples come first. */
    while (prof_figure("stats.prof.samples") == 0)
        sched_yield();
    for (int round = 0; round < 20; round++) {
        snprintf(path, sizeof path, "prof_dump_%d.heap", round);
        CHECK(dump_to(path) == 0);
        check_profile(path);
        remove(path);
    }
    stop = true;
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);

    /* The child's profile: what it inherited and what it allocates, under
     * the default name with its own pid; the parent's stays its own. */
    static void *kept[2000];
    for (int i = 0; i < 2000; i++)
        kept[i] = malloc(500);
    uint64_t parent_samples = prof_figure("stats.prof.samples");
    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        for (int i = 0; i < 2000; i++)
            sink = malloc(500);
        CHECK(prof_figure("stats.prof.samples") > parent_samples);
        CHECK(tca_ctl("prof.dump", NULL, NULL, NULL, 0) == 0);
        snprintf(path, sizeof path, "tcarena.%d.0.heap", (int)getpid());
        check_profile(path);
        remove(path);
        _exit(0);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(prof_figure("stats.prof.samples") == parent_samples);
    for (int i = 0; i < 2000; i++)
        free(kept[i]);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } cases[] = {{"off", case_off}, {"blocks", case_blocks}, {"active", case_active}, {"dump", case_dump}};
    for (size_t i = 0; argc == 2 && i < sizeof cases / sizeof cases[0]; i++) {
        if (!strcmp(argv[1], cases[i].name)) {
            cases[i].run();
            return 0;
        }
    }
    fprintf(stderr, "usage: prof_api off|blocks|active|dump\n");
    return 2;
}
