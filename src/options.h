/* Options from TCARENA_CONF="key:value,...", read once at bootstrap by scanning
 * environ (getenv may allocate in some libcs, and this runs inside malloc). */
#ifndef TCA_OPTIONS_H
#define TCA_OPTIONS_H

#include "pageheap/common.h"

enum tca_stats_format { STATS_TEXT, STATS_JSON, STATS_PROMETHEUS };

struct tca_options {
    long narenas;            /* 0: one per CPU the process may run on */
    bool tcache;             /* thread caches on */
    bool hwloc;              /* read the topology with hwloc when a second thread starts */
    long arena_per;          /* enum arena_per (arenas/topology.h) */
    long decay_ms;           /* free pages idle this long go back to the OS; 0 at once, -1 never */
    bool background_thread;  /* a thread purges on a timer, so idle processes shrink too */
    long thp;                /* enum thp_mode (pageheap/pageheap.h), for the heap's regions */
    bool stats_print;        /* print statistics at exit */
    long stats_format;       /* enum tca_stats_format */
    char stats_file[256];    /* where stats_print writes ("" = stderr) */
    long stats_pid;          /* only this process writes its reports at exit (0: any): the
                              * statistics and the leak profile; tcarena run sets it so that
                              * the program's children (and wrappers') stay quiet */
    bool prof;               /* the heap profiler may sample (its unwinder is loaded at start) */
    bool prof_active;        /* sampling runs from the start (with prof) */
    long prof_sample;        /* mean bytes allocated between two samples */
    bool prof_leak;          /* write a profile of what is still allocated at exit */
    char prof_leak_file[256]; /* where ("" = tcarena.PID.leaks.heap); "%p": the process id */
};

extern struct tca_options tca_options;

/* One option as the ctl tree and the stats printer see it. */
struct tca_option_desc {
    const char *name;
    enum { OPTION_BOOL, OPTION_LONG, OPTION_CHOICE, OPTION_STRING } type;
    void *value;
    long min, max;                 /* OPTION_LONG */
    const char *const *choices;    /* OPTION_CHOICE: the names of values 0, 1, ...; OPTION_BOOL: the
                                    * words it takes, true at even indices (NULL-terminated) */
};
extern const struct tca_option_desc tca_option_descs[];
extern const unsigned tca_option_count;

/* An option's value as text: "true", a number (formatted in digits, 24
 * bytes), a choice's name, or the string. */
const char *options_value_text(const struct tca_option_desc *desc, char *digits);
/* Parses text (TCARENA_CONF's syntax: NAME:VALUE entries separated by commas,
 * blanks around names and values ignored) into tca_options.  A malformed
 * entry keeps the value in effect and gets one line on stderr quoting it and
 * saying what is allowed.  strike: blank out each malformed entry and one
 * comma next to it, so that the text, parsed again, warns about nothing and
 * sets the same options.  Returns how many lines it printed. */
unsigned options_parse(char *text, bool strike);
/* TCARENA_CONF's value in the environment, or NULL. */
const char *options_environment(void);
/* Reads TCARENA_CONF from the environment, if there is one yet, striking out
 * in place the entries it warned about, so that the images this process
 * execs do not print the warnings again. */
void options_read_environment(void);

#endif
