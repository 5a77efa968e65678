/* Every ctl name is read (and written where writable), by name and by MIB,
 * and every kind of malformed call gets its error code.  Linked against the
 * static library so that the option and statistics tables can be walked: a
 * name added to them is covered here without editing this file. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "src/options.h"
#include "src/stats.h"
#include "tcarena.h"

enum kind { READ_ONLY, READ_WRITE, ACTION, TEXT };

/* A name whose value has len bytes: every malformed call on it fails
 * cleanly, and the well-formed ones agree by name and by MIB. */
static void check_name(const char *name, size_t len, enum kind kind)
{
    unsigned char value[64], again[64], junk[64] = {0};
    size_t got = len, mib[8], miblen = 8;
    CHECK(tca_ctl_nametomib(name, mib, &miblen) == 0);

    if (kind == ACTION) {
        CHECK(tca_ctl(name, NULL, NULL, NULL, 0) == 0);
        CHECK(tca_ctl_bymib(mib, miblen, NULL, NULL, NULL, 0) == 0);
        CHECK(tca_ctl(name, value, &got, NULL, 0) == EPERM);
        CHECK(tca_ctl(name, NULL, NULL, junk, 8) == EPERM);
        return;
    }
    if (kind == TEXT) {
        size_t need = 0;
        CHECK(tca_ctl(name, NULL, &need, NULL, 0) == 0 && need >= 1 && need <= sizeof value);
        got = need - 1;
        CHECK(tca_ctl(name, need > 1 ? value : NULL, &got, NULL, 0) == (need > 1 ? EINVAL : 0) && got == need);
        got = sizeof value;
        CHECK(tca_ctl(name, value, &got, NULL, 0) == 0 && got == need && value[need - 1] == '\0');
        CHECK(tca_ctl(name, NULL, NULL, junk, 1) == EPERM);
        return;
    }
    /* Reading: the right length, a wrong one (told the right one), the length alone. */
    CHECK(tca_ctl(name, value, &got, NULL, 0) == 0 && got == len);
    got = len;
    CHECK(tca_ctl_bymib(mib, miblen, again, &got, NULL, 0) == 0 && got == len);
    got = len + 1;
    CHECK(tca_ctl(name, value, &got, NULL, 0) == EINVAL && got == len);
    got = len - 1;
    CHECK(tca_ctl(name, value, &got, NULL, 0) == EINVAL && got == len);
    got = 0;
    CHECK(tca_ctl(name, NULL, &got, NULL, 0) == 0 && got == len);
    CHECK(tca_ctl(name, value, NULL, NULL, 0) == EFAULT);
    CHECK(tca_ctl(name, NULL, NULL, NULL, 0) == 0);

    if (kind == READ_ONLY) {
        CHECK(tca_ctl(name, NULL, NULL, value, len) == EPERM);
        CHECK(tca_ctl(name, NULL, NULL, NULL, 3) == EPERM);
        CHECK(tca_ctl_bymib(mib, miblen, NULL, NULL, value, len) == EPERM);
        return;
    }
    /* Writing: wrong length, NULL with a length, then the value just read back. */
    CHECK(tca_ctl(name, NULL, NULL, value, len + 1) == EINVAL);
    CHECK(tca_ctl(name, NULL, NULL, value, len - 1) == EINVAL);
    CHECK(tca_ctl(name, NULL, NULL, NULL, len) == EFAULT);
    CHECK(tca_ctl(name, NULL, NULL, value, len) == 0);
    got = len;
    CHECK(tca_ctl_bymib(mib, miblen, again, &got, value, len) == 0);
}

static void check_indexed(const char *format, unsigned index, size_t len, enum kind kind)
{
    char name[128];
    snprintf(name, sizeof name, format, index);
    check_name(name, len, kind);
}

static void check_missing(const char *name)
{
    size_t value[8], len = sizeof(size_t), mib[8], miblen = 8;
    CHECK(tca_ctl(name, value, &len, NULL, 0) == ENOENT);
    CHECK(tca_ctl(name, NULL, NULL, value, sizeof(size_t)) == ENOENT);
    CHECK(tca_ctl_nametomib(name, mib, &miblen) == ENOENT);
}

static uint64_t read_u64(const char *name)
{
    uint64_t value;
    size_t len = sizeof value;
    CHECK(tca_ctl(name, &value, &len, NULL, 0) == 0);
    return value;
}

int main(void)
{
    unsigned narenas, nbins;
    size_t len = sizeof narenas;
    CHECK(tca_ctl("arenas.narenas", &narenas, &len, NULL, 0) == 0 && narenas >= 1);
    CHECK(tca_ctl("arenas.nbins", &nbins, &len, NULL, 0) == 0 && nbins == STATS_NBINS);

    const char *version;
    len = sizeof version;
    CHECK(tca_ctl("version", &version, &len, NULL, 0) == 0 && !strcmp(version, TCARENA_VERSION));

    check_name("version", sizeof(char *), READ_ONLY);
    check_name("epoch", sizeof(uint64_t), READ_WRITE);
    check_name("decay_ms", sizeof(long), READ_WRITE);
    check_name("background_thread", sizeof(bool), READ_WRITE);
    check_name("arenas.narenas", sizeof(unsigned), READ_ONLY);
    check_name("arenas.nbins", sizeof(unsigned), READ_ONLY);
    check_name("arenas.page", sizeof(size_t), READ_ONLY);
    check_name("arenas.purge", 0, ACTION);
    check_name("thread.allocated", sizeof(uint64_t), READ_ONLY);
    check_name("thread.deallocated", sizeof(uint64_t), READ_ONLY);
    check_name("thread.tcache.flush", 0, ACTION);
    check_name("tcache.max", sizeof(size_t), READ_ONLY);
    for (unsigned j = 0; j < nbins; j++) {
        check_indexed("arenas.bin.%u.size", j, sizeof(size_t), READ_ONLY);
        check_indexed("arenas.bin.%u.nregs", j, sizeof(uint32_t), READ_ONLY);
        check_indexed("arenas.bin.%u.slab_size", j, sizeof(size_t), READ_ONLY);
    }
    for (unsigned i = 0; i < narenas; i++) {
        check_indexed("arenas.%u.cpus", i, 0, TEXT);
        check_indexed("arenas.%u.numa_node", i, sizeof(int), READ_ONLY);
        check_indexed("arena.%u.purge", i, 0, ACTION);
    }
    char name[128];
    for (unsigned f = 0; f < stats_total_nfields; f++) {
        snprintf(name, sizeof name, "stats.%s", stats_total_fields[f].name);
        check_name(name, sizeof(uint64_t), READ_ONLY);
    }
    for (unsigned i = 0; i < narenas; i++) {
        for (unsigned f = 0; f < stats_arena_nfields; f++) {
            snprintf(name, sizeof name, "stats.arenas.%u.%s", i, stats_arena_fields[f].name);
            check_name(name, sizeof(uint64_t), READ_ONLY);
        }
        for (unsigned j = 0; j < nbins; j++)
            for (unsigned f = 0; f < stats_bin_nfields; f++) {
                snprintf(name, sizeof name, "stats.arenas.%u.bins.%u.%s", i, j, stats_bin_fields[f].name);
                check_name(name, sizeof(uint64_t), READ_ONLY);
            }
    }
    static const size_t option_len[] = {
        [OPTION_BOOL] = sizeof(bool), [OPTION_LONG] = sizeof(long),
        [OPTION_CHOICE] = sizeof(char *), [OPTION_STRING] = sizeof(char *),
    };
    for (unsigned i = 0; i < tca_option_count; i++) {
        snprintf(name, sizeof name, "opt.%s", tca_option_descs[i].name);
        check_name(name, option_len[tca_option_descs[i].type], READ_ONLY);
    }
    const char *format;
    len = sizeof format;
    CHECK(tca_ctl("opt.stats_format", &format, &len, NULL, 0) == 0 && !strcmp(format, "text"));

    /* decay_ms: the range opt.decay_ms accepts, and nothing else. */
    long decay = 250, old_decay;
    len = sizeof old_decay;
    CHECK(tca_ctl("decay_ms", &old_decay, &len, &decay, sizeof decay) == 0);
    CHECK(tca_ctl("decay_ms", &decay, &len, NULL, 0) == 0 && decay == 250);

    /* background_thread: off by default; writing true starts it, false then is refused. */
    bool running = true, start = true;
    len = sizeof running;
    CHECK(tca_ctl("background_thread", &running, &len, NULL, 0) == 0 && !running);
    CHECK(tca_ctl("background_thread", NULL, NULL, &start, sizeof start) == 0);
    CHECK(tca_ctl("background_thread", &running, &len, NULL, 0) == 0 && running);
    start = false;
    CHECK(tca_ctl("background_thread", NULL, NULL, &start, sizeof start) == EPERM);
    long bad_decays[] = {-2, 3600001};
    for (unsigned i = 0; i < 2; i++)
        CHECK(tca_ctl("decay_ms", NULL, NULL, &bad_decays[i], sizeof(long)) == EINVAL);
    CHECK(tca_ctl("decay_ms", NULL, NULL, &old_decay, sizeof old_decay) == 0);

    /* An epoch write moves the epoch on and refreshes what stats.* read. */
    uint64_t before = read_u64("epoch"), one = 1;
    CHECK(tca_ctl("epoch", NULL, NULL, &one, sizeof one) == 0 && read_u64("epoch") == before + 1);

    /* Unknown names, indices out of range, malformed names. */
    snprintf(name, sizeof name, "stats.arenas.%u.allocated", narenas);
    check_missing(name);
    snprintf(name, sizeof name, "arenas.%u.cpus", narenas);
    check_missing(name);
    snprintf(name, sizeof name, "arena.%u.purge", narenas);
    check_missing(name);
    snprintf(name, sizeof name, "arenas.bin.%u.size", nbins);
    check_missing(name);
    static const char *const missing[] = {
        "", ".", "nosuch", "stats.", ".stats.allocated", "stats..allocated",
        "stats.allocated.more", "stats.arenas.-1.allocated", "stats.arenas.+0.allocated",
        "stats.arenas.0x0.allocated", "stats.arenas.99999999999999999999.allocated",
        "stats.arenas.4294967296.allocated", "opt.nosuch", "arenas.bin.0.nosuch",
        "STATS.ALLOCATED", "stats.allocated ",
    };
    for (unsigned i = 0; i < sizeof missing / sizeof missing[0]; i++)
        check_missing(missing[i]);
    /* Inner nodes have a MIB (to be completed) but no value. */
    static const char *const inner[] = {"stats", "stats.arenas", "stats.arenas.0.bins.0", "opt", "thread.tcache"};
    for (unsigned i = 0; i < sizeof inner / sizeof inner[0]; i++) {
        size_t mib[8], miblen = 8, value, len = sizeof value;
        CHECK(tca_ctl(inner[i], &value, &len, NULL, 0) == ENOENT);
        CHECK(tca_ctl_nametomib(inner[i], mib, &miblen) == 0);
        CHECK(tca_ctl_bymib(mib, miblen, &value, &len, NULL, 0) == ENOENT);
    }

    /* NULL where a pointer is needed. */
    size_t mib[8], miblen = 8, value;
    CHECK(tca_ctl(NULL, NULL, NULL, NULL, 0) == EFAULT);
    CHECK(tca_ctl_nametomib(NULL, mib, &miblen) == EFAULT);
    CHECK(tca_ctl_nametomib("stats.allocated", NULL, &miblen) == EFAULT);
    CHECK(tca_ctl_nametomib("stats.allocated", mib, NULL) == EFAULT);
    CHECK(tca_ctl_bymib(NULL, 2, NULL, NULL, NULL, 0) == EFAULT);

    /* MIBs: too short a buffer, a prefix, garbage, one component too many. */
    miblen = 2;
    CHECK(tca_ctl_nametomib("stats.arenas.0.allocated", mib, &miblen) == EINVAL);
    miblen = 8;
    CHECK(tca_ctl_nametomib("stats.arenas.0.bins", mib, &miblen) == 0 && miblen == 4);
    len = sizeof value;
    CHECK(tca_ctl_bymib(mib, miblen, &value, &len, NULL, 0) == ENOENT);
    CHECK(tca_ctl_bymib(mib, 0, &value, &len, NULL, 0) == ENOENT);
    /* stats.arenas.<i>: the index is the MIB component, as in jemalloc. */
    CHECK(mib[2] == 0);
    mib[2] = narenas;
    mib[4] = 0, mib[5] = 0;
    CHECK(tca_ctl_bymib(mib, 6, &value, &len, NULL, 0) == ENOENT);
    mib[2] = narenas - 1;
    CHECK(tca_ctl_bymib(mib, 6, &value, &len, NULL, 0) == 0);
    CHECK(tca_ctl_bymib(mib, 7, &value, &len, NULL, 0) == ENOENT);
    size_t garbage[6] = {12345, (size_t)-1, 7, 7, 7, 7};
    CHECK(tca_ctl_bymib(garbage, 6, &value, &len, NULL, 0) == ENOENT);
    garbage[0] = (size_t)-1;
    CHECK(tca_ctl_bymib(garbage, 1, &value, &len, NULL, 0) == ENOENT);
    return 0;
}
