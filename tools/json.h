/* A JSON reader for statistics dumps that keeps what it read before a
 * problem: a truncated or damaged file still yields its good part, and the
 * problem comes back as a byte offset, the path of keys to it and a phrase. */
#ifndef TCARENA_JSON_H
#define TCARENA_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    /* false when the text broke off or went bad inside this value: the
     * members before that point are whole, the rest are missing.  A number
     * that runs into the end of the text is never complete: it may be cut. */
    bool complete;
    size_t offset;       /* of its first byte */
    const char *literal; /* scalars as written: 12, true, "cpu" (with quotes) */
    size_t literal_len;
    char *string;        /* JSON_STRING: decoded */
    size_t count;        /* members of an array or object */
    struct json **items;
    char **keys;         /* JSON_OBJECT: decoded keys, one per item */
};

/* What went wrong, and where: the first problem wins. */
struct json_problem {
    bool found;
    size_t offset;
    char path[160]; /* tcarena.arenas[1].bins[3].nmalloc */
    char what[160];
};

/* Parses the value at text[*at] (after white space), sets *at past it and
 * returns it, complete or not; NULL when not even its start was there.
 * Syntax errors go to *problem. */
struct json *json_parse(const char *text, size_t len, size_t *at, struct json_problem *problem);

/* Skips white space at text[*at]; whether the text ends there. */
bool json_at_end(const char *text, size_t len, size_t *at);

/* The last member named key, or NULL (for a JSON_OBJECT). */
const struct json *json_member(const struct json *object, const char *key);

/* Records a problem unless an earlier one (by offset) is there already. */
void json_problem_set(struct json_problem *problem, size_t offset, const char *path, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

#endif
