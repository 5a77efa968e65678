/* The control interface.  Names are looked up in a flat table; values are
 * read from the snapshot taken at the last "epoch" write. */
#include "ctl.h"

#include <errno.h>
#include <string.h>

#include "arenas/arena.h"
#include "init.h"
#include "os.h"
#include "options.h"
#include "stats.h"
#include "tcache/tcache.h"
#include "tcarena.h"

static struct tca_stats snapshot;
static uint64_t epoch;

static int read_value(void *oldp, size_t *oldlenp, const void *value, size_t len)
{
    if (!oldp && !oldlenp)
        return 0;
    if (!oldp || !oldlenp)
        return EFAULT;
    if (*oldlenp != len) {
        *oldlenp = len;
        return EINVAL;
    }
    memcpy(oldp, value, len);
    return 0;
}

static int ctl_size(void *oldp, size_t *oldlenp, void *newp, size_t newlen, size_t value)
{
    if (newp || newlen)
        return EPERM;
    return read_value(oldp, oldlenp, &value, sizeof value);
}

int tca_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    if (!name)
        return EFAULT;
    if (!tca_bootstrap())
        return EAGAIN;
    if (!strcmp(name, "version")) {
        if (newp || newlen)
            return EPERM;
        const char *version = TCA_VERSION;
        return read_value(oldp, oldlenp, &version, sizeof version);
    }
    if (!strcmp(name, "epoch")) {
        if (newp) {
            if (newlen != sizeof(uint64_t))
                return EINVAL;
            stats_collect(&snapshot);
            epoch++;
        }
        return read_value(oldp, oldlenp, &epoch, sizeof epoch);
    }
    if (!strcmp(name, "thread.tcache.flush")) {
        tcache_flush_all(&tcache_tls);
        return 0;
    }
    if (!strcmp(name, "stats.allocated"))
        return ctl_size(oldp, oldlenp, newp, newlen, snapshot.allocated);
    if (!strcmp(name, "stats.active"))
        return ctl_size(oldp, oldlenp, newp, newlen, snapshot.active);
    if (!strcmp(name, "stats.metadata"))
        return ctl_size(oldp, oldlenp, newp, newlen, snapshot.metadata);
    if (!strcmp(name, "stats.resident"))
        return ctl_size(oldp, oldlenp, newp, newlen, snapshot.resident);
    if (!strcmp(name, "stats.mapped"))
        return ctl_size(oldp, oldlenp, newp, newlen, snapshot.mapped);
    if (!strcmp(name, "stats.returned"))
        return ctl_size(oldp, oldlenp, newp, newlen, snapshot.returned);
    if (!strcmp(name, "arenas.narenas")) {
        unsigned narenas = arena_count;
        if (newp || newlen)
            return EPERM;
        return read_value(oldp, oldlenp, &narenas, sizeof narenas);
    }
    return ENOENT;
}

int tca_ctl_nametomib(const char *name, size_t *mibp, size_t *miblenp)
{
    (void)name, (void)mibp, (void)miblenp;
    return ENOENT;
}

int tca_ctl_bymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    (void)mib, (void)miblen, (void)oldp, (void)oldlenp, (void)newp, (void)newlen;
    return ENOENT;
}

static void write_stderr(void *opaque, const char *text)
{
    (void)opaque;
    os_write_stderr(text);
}

void tca_stats_print(void (*write_cb)(void *, const char *), void *cbopaque, const char *opts)
{
    (void)opts;
    if (!write_cb)
        write_cb = write_stderr;
    struct tca_stats now;
    if (!tca_bootstrap())
        return;
    stats_collect(&now);
    static const char *const names[] = {"allocated", "active", "metadata", "resident", "mapped", "returned"};
    const size_t values[] = {now.allocated, now.active, now.metadata, now.resident, now.mapped, now.returned};
    write_cb(cbopaque, "___ tcarena statistics ___\n");
    for (unsigned i = 0; i < sizeof values / sizeof values[0]; i++) {
        char line[80], digits[24];
        strcpy(line, names[i]);
        strcat(line, ":");
        for (size_t pad = strlen(line); pad < 12; pad++)
            strcat(line, " ");
        strcat(line, os_format_u64(digits, values[i], 10));
        strcat(line, "\n");
        write_cb(cbopaque, line);
    }
}
