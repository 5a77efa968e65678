/* Writing a heap profile in the text format of gperftools' heap profiler,
 * with version-2 sampling, which google-pprof (and jeprof) read:
 *
 *   heap profile: <live n>: <live bytes> [<total n>: <total bytes>] @ heap_v2/<mean interval>
 *   <live n>: <live bytes> [<total n>: <total bytes>] @ 0x<frame> 0x<frame> ...
 *   ...
 *   MAPPED_LIBRARIES:
 *   <the process's /proc/self/maps>
 *
 * The figures are the samples themselves; a reader scales each stack's up by
 * 1 / (1 - exp(-average size / interval)), the chance that a block of that
 * size is sampled.  The frames are return addresses, the program's first;
 * pprof takes one off each but the first (to land inside the call), so the
 * first is written one lower already.
 *
 * Nothing here allocates: the figures are copied a few stacks at a time
 * under the profiler's lock, then formatted on the stack and written. */
#include <errno.h>
#include <string.h>

#include "pageheap/os.h"
#include "src/options.h"
#include "src/prof.h"

/* Stacks copied per turn of the lock. */
#define STACKS_PER_COPY 16
#define OUT_BUFFER 4096

struct profile_out {
    int fd;
    bool failed;
    size_t len; /* < OUT_BUFFER */
    char buf[OUT_BUFFER + 1];
};

static void out_flush(struct profile_out *out)
{
    out->buf[out->len] = '\0';
    if (out->len && !os_write_fd(out->fd, out->buf))
        out->failed = true;
    out->len = 0;
}

static void out_text(struct profile_out *out, const char *text)
{
    for (; *text; text++) {
        if (out->len == OUT_BUFFER)
            out_flush(out);
        out->buf[out->len++] = *text;
    }
}

static void out_number(struct profile_out *out, uint64_t value, unsigned base)
{
    char digits[24];
    out_text(out, base == 16 ? "0x" : "");
    out_text(out, os_format_u64(digits, value, base));
}

/* "<live n>: <live bytes> [<total n>: <total bytes>] @" */
static void out_figures(struct profile_out *out, const struct prof_stack_figures *figures)
{
    out_number(out, figures->live_count, 10);
    out_text(out, ": ");
    out_number(out, figures->live_bytes, 10);
    out_text(out, " [");
    out_number(out, figures->total_count, 10);
    out_text(out, ": ");
    out_number(out, figures->total_bytes, 10);
    out_text(out, "] @");
}

static void out_stacks(struct profile_out *out)
{
    struct prof_stack_figures figures[STACKS_PER_COPY];
    const void *cursor = NULL;
    for (unsigned n; (n = prof_copy_stacks(&cursor, figures, STACKS_PER_COPY)) != 0;) {
        for (unsigned i = 0; i < n; i++) {
            out_figures(out, &figures[i]);
            for (unsigned f = 0; f < figures[i].depth; f++) {
                out_text(out, " ");
                out_number(out, (uintptr_t)figures[i].frames[f] - (f == 0), 16);
            }
            out_text(out, "\n");
        }
    }
}

int prof_dump(const char *path)
{
    static unsigned dumps;
    if (!prof_started())
        return ENOENT;
    char name[80], digits[24];
    if (!path) {
        strcpy(name, "tcarena.");
        strcat(name, os_format_u64(digits, os_process_id(), 10));
        strcat(name, ".");
        strcat(name, os_format_u64(digits, __atomic_fetch_add(&dumps, 1, __ATOMIC_RELAXED), 10));
        strcat(name, ".heap");
        path = name;
    }
    struct profile_out out = {.fd = os_open_output(path)};
    if (out.fd < 0)
        return errno;
    struct prof_stack_figures totals;
    prof_totals(&totals);
    out_text(&out, "heap profile: ");
    out_figures(&out, &totals);
    out_text(&out, " heap_v2/");
    out_number(&out, (uint64_t)tca_options.prof_sample, 10);
    out_text(&out, "\n");
    out_stacks(&out);
    out_text(&out, "\nMAPPED_LIBRARIES:\n");
    out_flush(&out);
    bool written = !out.failed && os_copy_file("/proc/self/maps", out.fd);
    os_close(out.fd);
    return written ? 0 : EIO;
}
