/* The reports at exit, written by the process stats_pid names: the statistics
 * (option stats_print), once, in stats_format, to stats_file or stderr; the
 * heap profile of what is still allocated (option prof_leak), to
 * prof_leak_file. */
#include "src/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pageheap/os.h"
#include "src/options.h"
#include "src/prof.h"
#include "tcarena.h"

static void write_fd(void *fd, const char *text) { os_write_fd((int)(intptr_t)fd, text); }

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
    os_write_stderr(line);
}

/* Whether this process writes its reports: stats_pid names it, or nobody. */
static bool reports_here(void) { return !tca_options.stats_pid || (unsigned)tca_options.stats_pid == os_process_id(); }

/* each 2-character "%p" may become 10 digits */
#define REPORT_PATH_MAX (sizeof tca_options.stats_file * 5)

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
    tca_stats_print(write_fd, (void *)(intptr_t)(fd >= 0 ? fd : 2), format_opts[tca_options.stats_format]);
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

void report_at_exit(void) { atexit(print_at_exit); }
