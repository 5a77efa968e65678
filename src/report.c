/* Printing the statistics (tca_stats_print), and the reports at exit, written
 * by the process stats_pid names: the statistics (option stats_print), once,
 * in stats_format, to stats_file or stderr; the heap profile of what is still
 * allocated (option prof_leak), to prof_leak_file.  The statistics reach the
 * operator whatever the program did with its stderr since start-up (they go
 * to a duplicate taken at load), and whatever its exit() interrupted (they
 * are read without a lock).  A process killed by a signal it does not handle
 * runs no exit code and prints nothing: read such a process while it runs
 * (tcarena stats --pid). */
#include "src/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arenas/transfer.h"
#include "pageheap/os.h"
#include "src/ctl.h"
#include "src/options.h"
#include "src/prof.h"
#include "src/stats_print.h"
#include "tcache/tcache.h"
#include "tcarena.h"

static void write_fd(void *fd, const char *text) { os_write_fd((int)(intptr_t)fd, text); }

struct print_request {
    void (*write_cb)(void *, const char *);
    void *cbopaque;
    const char *opts;
};

static void print_snapshot(const struct tca_stats *stats, uint64_t epoch, void *arg)
{
    const struct print_request *request = arg;
    stats_print(stats, epoch, request->write_cb, request->cbopaque, request->opts);
}

/* Refreshes the snapshot (as an "epoch" write does) and prints it.  The ctl
 * lock is recursive, so a write_cb that calls tca_ctl works (and sees the
 * values being printed). */
void tca_stats_print(void (*write_cb)(void *, const char *), void *cbopaque, const char *opts)
{
    struct print_request request = {write_cb ? write_cb : write_fd, write_cb ? cbopaque : (void *)2, opts};
    ctl_read_snapshot(print_snapshot, &request);
}

#if TCA_EXPORT_MALLCTL
/* jemalloc's name (build option mallctl; ctl.c has the others). */
__typeof__(tca_stats_print) malloc_stats_print __attribute__((alias("tca_stats_print"), visibility("default")));
#endif

/* stderr as it was when the statistics report was registered, at load: a
 * program may close its standard streams before exit (coreutils do), and
 * another file may take the number then.  -1 when stderr was not open. */
static int report_fd = -1;
static struct os_file_id report_file;

/* report_fd when it is still that file, else fd 2. */
static int stderr_at_load(void)
{
    struct os_file_id now;
    bool same = report_fd >= 0 && os_file_id_of(report_fd, &now) && now.device == report_file.device &&
                now.inode == report_file.inode;
    return same ? report_fd : 2;
}

/* A file option's value with each "%p" replaced by the process id, so that
 * the children of a program run under tcarena do not overwrite its report. */
static void report_path(const char *from, char *path, size_t len)
{
    size_t used = 0;
    char digits[24];
    for (; *from && used + 1 < len; from++) {
        const char *piece = from[0] == '%' && from[1] == 'p' ? os_format_u64(digits, os_process_id(), 10) : NULL;
        if (!piece) {
            path[used++] = *from;
            continue;
        }
        from++;
        for (; *piece && used + 1 < len; piece++)
            path[used++] = *piece;
    }
    path[used] = '\0';
}

/* "tcarena: stats_file "PATH": No such file or directory; printing to stderr".
 * strerrordesc_np: the English text, with no locale to load (strerror may
 * allocate for a translation). */
static void report_unwritable(const char *option, const char *path, int error, const char *consequence)
{
    char line[sizeof tca_options.stats_file * 5 + 128], digits[24];
    const char *reason = strerrordesc_np(error);
    strcpy(line, "tcarena: ");
    strcat(line, option);
    strcat(line, " \"");
    strcat(line, path);
    strcat(line, "\": ");
    if (reason)
        strcat(line, reason);
    else
        strcat(strcat(line, "error "), os_format_u64(digits, (unsigned)error, 10));
    strcat(line, consequence);
    os_write_fd(stderr_at_load(), line);
}

/* Whether this process writes its reports: stats_pid names it, or nobody. */
static bool reports_here(void) { return !tca_options.stats_pid || (unsigned)tca_options.stats_pid == os_process_id(); }

/* each 2-character "%p" may become 10 digits */
#define REPORT_PATH_MAX (sizeof tca_options.stats_file * 5)

/* The statistics report's snapshot, made when it is registered: at exit
 * nothing may wait for a lock (below). */
static struct tca_stats report_stats;

/* exit() may run in a SIGTERM handler that interrupted this very thread in a
 * slow path, holding a bin's or a heap's lock: the report reads the counters
 * as a reader outside the process does, each word once without a lock, and
 * the thread caches' bytes only if their registry is free. */
static void read_at_exit(void)
{
    stats_read_page(live_self(), &report_stats);
    report_stats.thread_caches_known = tcache_cached_bytes_try(&report_stats.tcache_bytes);
    report_stats.tcache_bytes += transfer_cached_bytes();
}

static void print_at_exit(void)
{
    if (!reports_here())
        return;
    static const char *const format_opts[] = {[STATS_TEXT] = "", [STATS_JSON] = "J", [STATS_PROMETHEUS] = "P"};
    char path[REPORT_PATH_MAX];
    report_path(tca_options.stats_file, path, sizeof path);
    int fd = path[0] ? os_open_output(path) : -1;
    if (path[0] && fd < 0)
        report_unwritable("stats_file", path, errno, "; printing to stderr\n");
    read_at_exit();
    stats_print(&report_stats, 1, write_fd, (void *)(intptr_t)(fd >= 0 ? fd : stderr_at_load()),
                format_opts[tca_options.stats_format]);
    if (fd >= 0)
        os_close(fd);
}

/* The profile of what is still allocated at exit, to prof_leak_file. */
static void write_leaks_at_exit(void)
{
    if (!reports_here())
        return;
    char path[REPORT_PATH_MAX];
    report_path(tca_options.prof_leak_file[0] ? tca_options.prof_leak_file : "tcarena.%p.leaks.heap", path,
                sizeof path);
    int error = prof_dump(path);
    if (error && error != ENOENT)
        report_unwritable("prof_leak_file", path, error, "; no leak profile\n");
}

void report_leaks_at_exit(void) { atexit(write_leaks_at_exit); }

void report_at_exit(void)
{
    if (!stats_init(&report_stats))
        return;
    report_fd = os_dup_high(2);
    if (report_fd >= 0)
        os_file_id_of(report_fd, &report_file);
    atexit(print_at_exit);
}
