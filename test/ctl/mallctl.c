/* Built with -Dmallctl=true: jemalloc's names reach the same functions. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "tcarena.h"

/* jemalloc's prototypes, as a program written for it declares them. */
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
int mallctlnametomib(const char *name, size_t *mibp, size_t *miblenp);
int mallctlbymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
void malloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque, const char *opts);

static size_t printed;

static void count(void *opaque, const char *text)
{
    (void)opaque;
    printed += strlen(text);
}

int main(void)
{
    unsigned narenas, again;
    size_t len = sizeof narenas, mib[4], miblen = 4;
    CHECK(mallctl("arenas.narenas", &narenas, &len, NULL, 0) == 0);
    CHECK(tca_ctl("arenas.narenas", &again, &len, NULL, 0) == 0 && again == narenas);
    CHECK(mallctlnametomib("arenas.narenas", mib, &miblen) == 0);
    CHECK(mallctlbymib(mib, miblen, &again, &len, NULL, 0) == 0 && again == narenas);
    CHECK(mallctl("nosuch", NULL, NULL, NULL, 0) == ENOENT);
    uint64_t epoch = 1;
    CHECK(mallctl("epoch", NULL, NULL, &epoch, sizeof epoch) == 0);
    malloc_stats_print(count, NULL, "J");
    CHECK(printed > 0);
    return 0;
}
