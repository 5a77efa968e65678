/* The options: TCARENA_CONF read from the environment as bootstrap reads it.
 * Every key takes what its table allows (numbers in their range, true/false/
 * 1/0, the names of its choices, a string that fits), blanks around names and
 * values aside; a bad key or value changes nothing (the warning line it
 * prints is not checked here), and the entries around it still count. */
#include <stdlib.h>

#include "arenas/topology.h"
#include "check.h"
#include "pageheap/pageheap.h"
#include "src/options.h"

static struct tca_options defaults;

/* Reads text as TCARENA_CONF over the options as they were at start. */
static void read_conf(const char *text)
{
    tca_options = defaults;
    CHECK(setenv("TCARENA_CONF", text, 1) == 0);
    options_read_environment();
}

/* text changes nothing: a rejected entry keeps the option's value. */
static void check_rejected(const char *text)
{
    read_conf(text);
    const struct tca_options *now = &tca_options;
    if (now->narenas != defaults.narenas || now->tcache != defaults.tcache || now->hwloc != defaults.hwloc ||
        now->arena_per != defaults.arena_per || now->decay_ms != defaults.decay_ms ||
        now->background_thread != defaults.background_thread || now->thp != defaults.thp ||
        now->stats_print != defaults.stats_print || now->stats_format != defaults.stats_format ||
        strcmp(now->stats_file, defaults.stats_file) || now->stats_pid != defaults.stats_pid) {
        fprintf(stderr, "TCARENA_CONF=%s changed an option\n", text);
        exit(1);
    }
}

static void check_defaults(void)
{
    CHECK(defaults.narenas == 0 && defaults.tcache && defaults.hwloc);
    CHECK(defaults.arena_per == ARENA_PER_CPU && defaults.decay_ms == 1000 && !defaults.background_thread);
    CHECK(defaults.thp == THP_DEFAULT && !defaults.stats_print && defaults.stats_format == STATS_TEXT);
    CHECK(defaults.stats_file[0] == '\0' && defaults.stats_pid == 0);
}

static void check_accepted(void)
{
    read_conf("narenas:4,tcache:false,hwloc:0,arena_per:numa,decay_ms:-1,background_thread:true,thp:never,"
              "stats_print:1,stats_format:prometheus,stats_file:/tmp/stats.%p,stats_pid:42");
    CHECK(tca_options.narenas == 4 && !tca_options.tcache && !tca_options.hwloc);
    CHECK(tca_options.arena_per == ARENA_PER_NUMA && tca_options.decay_ms == -1 && tca_options.background_thread);
    CHECK(tca_options.thp == THP_NEVER && tca_options.stats_print && tca_options.stats_format == STATS_PROMETHEUS);
    CHECK(!strcmp(tca_options.stats_file, "/tmp/stats.%p") && tca_options.stats_pid == 42);

    static const char *const arena_per[] = {"cpu", "core", "l3", "numa"};
    static const char *const thp[] = {"default", "always", "never"};
    static const char *const formats[] = {"text", "json", "prometheus"};
    char text[64];
    for (long i = 0; i < 4; i++) {
        snprintf(text, sizeof text, "arena_per:%s", arena_per[i]);
        read_conf(text);
        CHECK(tca_options.arena_per == i);
    }
    for (long i = 0; i < 3; i++) {
        snprintf(text, sizeof text, "thp:%s,stats_format:%s", thp[i], formats[i]);
        read_conf(text);
        CHECK(tca_options.thp == i && tca_options.stats_format == i);
    }
    /* The ends of each range. */
    read_conf("narenas:1024,decay_ms:3600000,stats_pid:99999999");
    CHECK(tca_options.narenas == 1024 && tca_options.decay_ms == 3600000 && tca_options.stats_pid == 99999999);
    read_conf("narenas:0,decay_ms:0,tcache:1,background_thread:0");
    CHECK(tca_options.narenas == 0 && tca_options.decay_ms == 0 && tca_options.tcache && !tca_options.background_thread);

    /* Blanks around names and values do not count, a later entry wins, a value
     * may hold ':', and an empty entry costs only itself. */
    read_conf(" narenas :\t4 , decay_ms:5,,decay_ms:7,stats_file:/a:b,");
    CHECK(tca_options.narenas == 4 && tca_options.decay_ms == 7 && !strcmp(tca_options.stats_file, "/a:b"));

    /* The longest stats_file that fits (255 bytes) is taken whole. */
    char conf[300] = "stats_file:";
    memset(conf + strlen(conf), 'f', 255);
    read_conf(conf);
    CHECK(strlen(tca_options.stats_file) == 255);
}

static void check_rejections(void)
{
    static const char *const rejected[] = {
        "narenas:1025", "narenas:-1", "narenas:abc", "narenas:", "narenas:4x", "narenas:4 4",
        "decay_ms:-2", "decay_ms:3600001", "decay_ms:99999999999", "decay_ms:--1",
        "tcache:yes", "tcache:TRUE", "hwloc:2", "background_thread:",
        "arena_per:socket", "arena_per:CPU", "thp:madvise", "stats_format:xml", "stats_pid:100000000",
        "no_such_option:1", "NARENAS:4", "narenas", "narenas4", ":4",
    };
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++)
        check_rejected(rejected[i]);
    /* A stats_file longer than the option holds. */
    char conf[300] = "stats_file:";
    memset(conf + strlen(conf), 'f', 256);
    check_rejected(conf);

    /* A bad entry costs only itself. */
    read_conf("narenas:x,decay_ms:250,bogus:1,tcache:false");
    CHECK(tca_options.narenas == 0 && tca_options.decay_ms == 250 && !tca_options.tcache);
}

int main(void)
{
    CHECK(unsetenv("TCARENA_CONF") == 0);
    defaults = tca_options;
    check_defaults();
    check_accepted();
    check_rejections();
    return 0;
}
