/* The statistics report at exit, which the option stats_print asks for. */
#ifndef TCA_REPORT_H
#define TCA_REPORT_H

/* Registers the report (atexit): to stats_file or stderr, in stats_format.
 * Called at load: stderr is duplicated now (close-on-exec, at OS_HIGH_FD or
 * above), so a program that closes its own before exit still reports. */
void report_at_exit(void);

#endif
