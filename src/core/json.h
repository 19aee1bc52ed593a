/*
 * json.h — reading and validating request JSON (jansson), with errors that name the field.
 *
 * Every validator takes the object, the key, the field path used in error messages ("tax.rates.standard")
 * and a mer_verr_t that receives the first error. They return 0 when the value is acceptable (or absent
 * and not required: *out is then left untouched), or the negative error also stored in e->code.
 */
#ifndef MER_JSON_H
#define MER_JSON_H

#include <jansson.h>

#include "core/common.h"
#include "core/err.h"

typedef struct mer_verr {
    int code;       /* negative mer_err_t, 0 if none */
    char field[96]; /* JSON path of the offending field, "" if none */
    char message[256];
} mer_verr_t;

/* Records an error (first one wins) and returns code. */
int mer_verr_set(mer_verr_t *e, int code, const char *field, const char *fmt, ...) MER_PRINTF(4, 5);

/* Builds "prefix.key" (or "key" when prefix is empty) into out. */
const char *mer_json_path(char *out, size_t cap, const char *prefix, const char *key);

int mer_json_str(json_t *obj, const char *key, const char *field, size_t minlen, size_t maxlen, bool required,
                 const char **out, mer_verr_t *e);
int mer_json_int(json_t *obj, const char *key, const char *field, int64_t min, int64_t max, bool required, int64_t *out,
                 mer_verr_t *e);
int mer_json_bool(json_t *obj, const char *key, const char *field, bool required, bool *out, mer_verr_t *e);
/* An object or array member of the given jansson type (JSON_OBJECT / JSON_ARRAY). */
int mer_json_member(json_t *obj, const char *key, const char *field, json_type type, bool required, json_t **out,
                    mer_verr_t *e);
/* Rejects keys not in the NULL-terminated list (a typo in an admin call should not be silently ignored). */
int mer_json_only(json_t *obj, const char *const *allowed, const char *prefix, mer_verr_t *e);

/* Serialises compactly (keys in insertion order); caller frees with free(). */
char *mer_json_dump(const json_t *v, size_t *len);

/* A comma-separated list ("a,b,c"; "" is empty) as a JSON array of strings (new reference). */
json_t *mer_json_csv_array(const char *list);

/*
 * One top-level member of a JSON object's text, found without parsing the rest (no tree, no allocation):
 * for a reader that wants two fields of a document this process wrote (an outbox payload). text must be
 * valid JSON; malformed text gives false or a wrong value, never a read past len. Keys are compared as
 * written (a key spelt with escapes is not found); a repeated key gives its last value, as jansson does.
 * mer_json_text_member: the value's text (a string with its quotes) in *val, *vlen.
 * mer_json_text_str: a string value, unescaped, into out (cap bytes, NUL included); false when absent, not
 * a string or longer. mer_json_text_int: an integer value (no fraction or exponent) in int64 range.
 */
bool mer_json_text_member(const char *text, size_t len, const char *key, const char **val, size_t *vlen);
bool mer_json_text_str(const char *text, size_t len, const char *key, char *out, size_t cap);
bool mer_json_text_int(const char *text, size_t len, const char *key, int64_t *out);

#endif
