/* A thread whose first allocation happens inside dlopen(): the topology (and
 * hwloc, itself dlopen()ed) loads there, nested in the loader's own work.  The
 * module opened is argv[1], built for this test so that nothing loaded it yet. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#include "arenas/topology.h"
#include "check.h"

static void *open_module(void *path)
{
    void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(module != NULL);
    int (*answer)(void) = (int (*)(void))dlsym(module, "topology_test_module_answer");
    CHECK(answer && answer() == 42);
    return NULL;
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    void *volatile block = malloc(64); /* the main thread's cache: the next thread is the second */
    free(block);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, open_module, argv[1]) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(topology_current != NULL);
    return 0;
}
