/* The ctl tree's pieces, for the leaves that live beside the mechanism they
 * control (prof_ctl.c) rather than in ctl.c: what a walk learnt on its way to
 * a leaf, the caller's buffers, the node, and the reading and writing of a
 * value as every leaf does it; and the snapshot, for the entry points that
 * report from it (tca_stats_print, glibc's mallinfo family). */
#ifndef TCA_CTL_H
#define TCA_CTL_H

#include "src/options.h"
#include "src/stats.h"

enum ctl_table { TABLE_NONE, TABLE_TOTALS, TABLE_ARENA, TABLE_BIN, TABLE_OPTIONS };

/* What the walk learnt on its way to a leaf. */
struct ctl_path {
    size_t index[2];                      /* the indices named, in order */
    unsigned nindices;
    const struct stats_field *field;      /* TABLE_TOTALS/ARENA/BIN leaves */
    const struct tca_option_desc *option; /* opt.* leaves */
};

struct ctl_io {
    void *oldp;
    size_t *oldlenp;
    const void *newp;
    size_t newlen;
};

struct ctl_node {
    const char *name;
    int (*handler)(const struct ctl_path *path, const struct ctl_io *io); /* set on leaves */
    const struct ctl_node *children;  /* named children, up to an entry without a name */
    enum ctl_table table;             /* more children, from a table */
    const struct ctl_node *indexed;   /* where a numeric component leads */
    unsigned (*index_limit)(void);    /* indices run below this */
};

#define LEAF(name_, handler_) {.name = name_, .handler = handler_}
#define END {0}

/* Copies value (len bytes) to the caller: oldp without oldlenp is a fault
 * (EFAULT), oldlenp alone asks the length, a length that differs is EINVAL. */
int ctl_read_value(const struct ctl_io *io, const void *value, size_t len);
/* The same, and EPERM when the caller writes. */
int ctl_read_only(const struct ctl_io *io, const void *value, size_t len);
/* Copies the new value, if any, into value; EINVAL when its length is not len. */
int ctl_take_new_value(const struct ctl_io *io, void *value, size_t len);
/* Actions (purge, flush) neither read nor write a value. */
bool ctl_is_plain_action(const struct ctl_io *io);

/* prof.*, and stats.prof.* (prof_ctl.c). */
extern const struct ctl_node prof_ctl_children[], stats_prof_ctl_children[];

/* Refreshes the statistics snapshot (as an "epoch" write does) and hands it
 * to reader under the ctl lock, which is recursive: reader may call tca_ctl
 * and allocate.  False when the allocator cannot start. */
bool ctl_read_snapshot(void (*reader)(const struct tca_stats *stats, uint64_t epoch, void *arg), void *arg);

#endif
