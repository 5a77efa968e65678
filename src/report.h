/* The reports at exit: the statistics (option stats_print) and the heap
 * profile of what is still allocated (option prof_leak). */
#ifndef TCA_REPORT_H
#define TCA_REPORT_H

/* Registers the report (atexit): to stats_file or stderr, in stats_format.
 * Called at load: stderr is duplicated now (close-on-exec, at OS_HIGH_FD or
 * above), so a program that closes its own before exit still reports. */
void report_at_exit(void);
/* Registers the leak profile (atexit): to prof_leak_file, by default
 * tcarena.PID.leaks.heap; the profiler must be started. */
void report_leaks_at_exit(void);

#endif
