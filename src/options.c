#include "src/options.h"

#include <string.h>

#include "arenas/topology.h"
#include "pageheap/decay.h"
#include "pageheap/os.h"
#include "pageheap/pageheap.h"

struct tca_options tca_options = {
    .narenas = 0,
    .tcache = true,
    .hwloc = true,
    .arena_per = ARENA_PER_CPU,
    .decay_ms = DECAY_MS_DEFAULT,
    .background_thread = false,
    .thp = THP_DEFAULT,
    .stats_print = false,
    .stats_format = STATS_TEXT,
};

static const char *const thp_names[] = {
    [THP_DEFAULT] = "default", [THP_ALWAYS] = "always", [THP_NEVER] = "never", NULL};
static const char *const arena_per_names[] = {
    [ARENA_PER_CPU] = "cpu", [ARENA_PER_CORE] = "core", [ARENA_PER_L3] = "l3", [ARENA_PER_NUMA] = "numa", NULL};
static const char *const stats_format_names[] = {"text", "json", "prometheus", NULL};

const struct tca_option_desc tca_option_descs[] = {
    {"narenas", OPTION_LONG, &tca_options.narenas, 0, 1024, NULL},
    {"tcache", OPTION_BOOL, &tca_options.tcache, 0, 1, NULL},
    {"hwloc", OPTION_BOOL, &tca_options.hwloc, 0, 1, NULL},
    {"arena_per", OPTION_CHOICE, &tca_options.arena_per, 0, 0, arena_per_names},
    {"decay_ms", OPTION_LONG, &tca_options.decay_ms, -1, 3600000, NULL},
    {"background_thread", OPTION_BOOL, &tca_options.background_thread, 0, 1, NULL},
    {"thp", OPTION_CHOICE, &tca_options.thp, 0, 0, thp_names},
    {"stats_print", OPTION_BOOL, &tca_options.stats_print, 0, 1, NULL},
    {"stats_format", OPTION_CHOICE, &tca_options.stats_format, 0, 0, stats_format_names},
    {"stats_file", OPTION_STRING, tca_options.stats_file, 0, sizeof tca_options.stats_file - 1, NULL},
    {"stats_pid", OPTION_LONG, &tca_options.stats_pid, 0, 99999999, NULL},
};
const unsigned tca_option_count = sizeof tca_option_descs / sizeof tca_option_descs[0];

static void warn(const char *what, const char *key, size_t key_len)
{
    char line[128] = "tcarena: TCARENA_CONF: ";
    strcat(line, what);
    size_t len = strlen(line);
    if (key_len > sizeof line - len - 2)
        key_len = sizeof line - len - 2;
    memcpy(line + len, key, key_len);
    strcpy(line + len + key_len, "\n");
    os_write_stderr(line);
}

static bool parse_long(const char *text, size_t len, long *out)
{
    bool negative = len && text[0] == '-';
    size_t i = negative;
    if (i == len)
        return false;
    long value = 0;
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9' || value > 100000000)
            return false;
        value = value * 10 + (text[i] - '0');
    }
    *out = negative ? -value : value;
    return true;
}

static bool parse_bool(const char *text, size_t len, bool *out)
{
    if ((len == 4 && !memcmp(text, "true", 4)) || (len == 1 && text[0] == '1'))
        return *out = true, true;
    if ((len == 5 && !memcmp(text, "false", 5)) || (len == 1 && text[0] == '0'))
        return *out = false, true;
    return false;
}

static bool parse_choice(const char *const *choices, const char *text, size_t len, long *out)
{
    for (long i = 0; choices[i]; i++)
        if (strlen(choices[i]) == len && !memcmp(choices[i], text, len))
            return *out = i, true;
    return false;
}

static void set_option(const char *key, size_t key_len, const char *value, size_t value_len)
{
    for (unsigned i = 0; i < tca_option_count; i++) {
        const struct tca_option_desc *desc = &tca_option_descs[i];
        if (strlen(desc->name) != key_len || memcmp(desc->name, key, key_len))
            continue;
        long number;
        bool flag;
        if (desc->type == OPTION_BOOL && parse_bool(value, value_len, &flag))
            *(bool *)desc->value = flag;
        else if (desc->type == OPTION_LONG && parse_long(value, value_len, &number) &&
                 number >= desc->min && number <= desc->max)
            *(long *)desc->value = number;
        else if (desc->type == OPTION_CHOICE && parse_choice(desc->choices, value, value_len, &number))
            *(long *)desc->value = number;
        else if (desc->type == OPTION_STRING && value_len <= (size_t)desc->max) {
            memcpy(desc->value, value, value_len);
            ((char *)desc->value)[value_len] = '\0';
        }
        else
            warn("bad value for option ", key, key_len);
        return;
    }
    warn("unknown option ", key, key_len);
}

void options_parse(const char *text)
{
    while (*text) {
        const char *end = strchr(text, ',');
        size_t len = end ? (size_t)(end - text) : strlen(text);
        const char *colon = memchr(text, ':', len);
        if (len && !colon)
            warn("expected key:value, got ", text, len);
        else if (len)
            set_option(text, (size_t)(colon - text), colon + 1, len - (size_t)(colon - text) - 1);
        text += len + (end != NULL);
    }
}

extern char **environ;

const char *options_environment(void)
{
    static const char prefix[] = "TCARENA_CONF=";
    for (char **entry = environ; entry && *entry; entry++)
        if (!strncmp(*entry, prefix, sizeof prefix - 1))
            return *entry + sizeof prefix - 1;
    return NULL;
}

void options_read_environment(void)
{
    const char *text = options_environment();
    if (text)
        options_parse(text);
}
