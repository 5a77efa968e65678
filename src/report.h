/* The statistics report at exit, which the option stats_print asks for. */
#ifndef TCA_REPORT_H
#define TCA_REPORT_H

/* Registers the report (atexit): to stats_file or stderr, in stats_format. */
void report_at_exit(void);

#endif
