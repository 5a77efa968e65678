#include "options.h"

#include <string.h>

#include "os.h"

struct tca_options tca_options = {
    .narenas = 0,
    .tcache = true,
    .hwloc = true,
    .stats_print = false,
};

const struct tca_option_desc tca_option_descs[] = {
    {"narenas", OPTION_LONG, &tca_options.narenas, 0, 1024},
    {"tcache", OPTION_BOOL, &tca_options.tcache, 0, 1},
    {"hwloc", OPTION_BOOL, &tca_options.hwloc, 0, 1},
    {"stats_print", OPTION_BOOL, &tca_options.stats_print, 0, 1},
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

void options_read_environment(void)
{
    static const char prefix[] = "TCARENA_CONF=";
    for (char **entry = environ; entry && *entry; entry++)
        if (!strncmp(*entry, prefix, sizeof prefix - 1)) {
            options_parse(*entry + sizeof prefix - 1);
            return;
        }
}
