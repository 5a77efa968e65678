/* The heap profiler's ctl names: prof.active, prof.dump, prof.reset and
 * prof.sample, and its own figures under stats.prof, read as they are now
 * (the profiler's lock gives them at once; the snapshot is not involved). */
#include <errno.h>

#include "src/ctl.h"
#include "src/prof.h"

/* Whether sampling runs now (opt.prof_active: at start-up).  Turning it on
 * takes a profiler started at load (opt.prof): ENOENT otherwise. */
static int ctl_prof_active(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    bool active = prof_is_sampling(), wanted = active;
    int err = ctl_take_new_value(io, &wanted, sizeof wanted);
    if (!err && io->newp && wanted && !prof_started())
        err = ENOENT;
    if (!err)
        err = ctl_read_value(io, &active, sizeof active);
    return !err && io->newp ? prof_set_active(wanted) : err;
}

/* Writes the profile now; the new value is the file's name (const char *),
 * NULL for tcarena.PID.N.heap.  Nothing to read. */
static int ctl_prof_dump(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    const char *file = NULL;
    if (io->oldp || io->oldlenp)
        return EPERM;
    int err = ctl_take_new_value(io, &file, sizeof file);
    return err ? err : prof_dump(file);
}

static int ctl_prof_reset(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    return ctl_is_plain_action(io) ? prof_reset() : EPERM;
}

/* The mean interval between samples, in bytes (opt.prof_sample). */
static int ctl_prof_sample(const struct ctl_path *path, const struct ctl_io *io)
{
    (void)path;
    size_t bytes = (size_t)tca_options.prof_sample;
    return ctl_read_only(io, &bytes, sizeof bytes);
}

const struct ctl_node prof_ctl_children[] = {
    LEAF("active", ctl_prof_active),
    LEAF("dump", ctl_prof_dump),
    LEAF("reset", ctl_prof_reset),
    LEAF("sample", ctl_prof_sample),
    END,
};

static int read_prof_figure(const struct ctl_io *io, size_t offset)
{
    struct prof_stats stats;
    prof_read_stats(&stats);
    uint64_t value = *(const uint64_t *)((const char *)&stats + offset);
    return ctl_read_only(io, &value, sizeof value);
}

#define PROF_FIGURE(field)                                                        \
    static int ctl_stats_prof_##field(const struct ctl_path *path, const struct ctl_io *io) \
    {                                                                             \
        (void)path;                                                               \
        return read_prof_figure(io, offsetof(struct prof_stats, field));          \
    }
PROF_FIGURE(samples)
PROF_FIGURE(stacks)
PROF_FIGURE(metadata)

const struct ctl_node stats_prof_ctl_children[] = {
    LEAF("samples", ctl_stats_prof_samples),
    LEAF("stacks", ctl_stats_prof_stacks),
    LEAF("metadata", ctl_stats_prof_metadata),
    END,
};
