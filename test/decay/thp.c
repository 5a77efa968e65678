/* The thp option reaches the kernel: with thp:always a big written block is
 * backed by huge pages (unless the system forbids them), with thp:never it is
 * not, whatever the system setting. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static long smaps_kib(const char *field)
{
    FILE *file = fopen("/proc/self/smaps_rollup", "r");
    if (!file)
        SKIP("no /proc/self/smaps_rollup");
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, file))
        if (!strncmp(line, field, strlen(field)))
            kib = atol(line + strlen(field) + 1);
    fclose(file);
    CHECK(kib >= 0);
    return kib;
}

static bool system_thp_never(void)
{
    FILE *file = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char text[128] = "[never]";
    if (file) {
        if (!fgets(text, sizeof text, file))
            text[0] = '\0';
        fclose(file);
    }
    return strstr(text, "[never]") != NULL;
}

int main(void)
{
    const char *conf = getenv("TCARENA_CONF");
    bool want_huge = conf && strstr(conf, "thp:always");
    if (want_huge && system_thp_never())
        SKIP("transparent huge pages are off on this system");
    size_t size = (size_t)32 << 20;
    char *block = malloc(size);
    CHECK(block);
    memset(block, 1, size);
    long huge_kib = smaps_kib("AnonHugePages:");
    if (want_huge)
        CHECK(huge_kib >= 2 << 10); /* at least one: the kernel may lack free huge pages */
    else
        CHECK(huge_kib == 0);
    free(block);
    return 0;
}
