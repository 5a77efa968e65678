/* The program conf.sh runs under LD_PRELOAD=libtcarena.so: it knows nothing
 * of tcarena, allocates, prints a fixed result, and then, for each option
 * named on its command line (long:NAME, bool:NAME or text:NAME), the value
 * tcarena runs with (tca_ctl("opt.NAME"), found with dlsym), so that a test
 * sees that a malformed entry kept it. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int ctl_fn(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

/* option: TYPE:NAME, TYPE long, bool or text (choices and strings). */
static void print_option(ctl_fn *ctl, const char *option)
{
    char name[64];
    const char *colon = strchr(option, ':');
    snprintf(name, sizeof name, "opt.%s", colon ? colon + 1 : option);
    union {
        long number;
        bool flag;
        const char *text;
    } value;
    size_t len = !strncmp(option, "bool:", 5) ? sizeof value.flag : sizeof value.number;
    if (ctl(name, &value, &len, NULL, 0))
        printf("%s: cannot be read\n", name);
    else if (!strncmp(option, "long:", 5))
        printf("%s: %ld\n", name, value.number);
    else if (!strncmp(option, "bool:", 5))
        printf("%s: %s\n", name, value.flag ? "true" : "false");
    else
        printf("%s: \"%s\"\n", name, value.text);
}

int main(int argc, char **argv)
{
    enum { BLOCKS = 1000 };
    char *blocks[BLOCKS];
    unsigned long sum = 0;
    for (int i = 0; i < BLOCKS; i++) {
        blocks[i] = malloc(16 + i % 200);
        snprintf(blocks[i], 16, "%d", i);
    }
    for (int i = 0; i < BLOCKS; i++) {
        sum += strtoul(blocks[i], NULL, 10);
        free(blocks[i]);
    }
    printf("blocks: %d\nsum: %lu\n", BLOCKS, sum);
    ctl_fn *ctl = (ctl_fn *)dlsym(RTLD_DEFAULT, "tca_ctl");
    for (int i = 1; i < argc && ctl; i++)
        print_option(ctl, argv[i]);
    return 0;
}
