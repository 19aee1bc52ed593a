/*
 * jsonw.h — a streaming JSON writer into a mer_buf_t, for hot answers (orders, grabs) where building a
 * jansson tree would cost an allocation per value. The writer inserts commas and escapes strings;
 * the caller keeps begin/end calls balanced (checked with assertions in debug builds).
 *
 *     mer_jw_t w;
 *     mer_jw_init(&w, &buf);
 *     mer_jw_obj(&w, NULL);
 *       mer_jw_str(&w, "number", "IN-2026-0000001");
 *       mer_jw_int(&w, "id", 42);
 *     mer_jw_end(&w);
 */
#ifndef MER_JSONW_H
#define MER_JSONW_H

#include "core/buf.h"

#define MER_JW_MAX_DEPTH 16

typedef struct mer_jw {
    mer_buf_t *b;
    int depth;
    bool has_items[MER_JW_MAX_DEPTH]; /* does the container at each depth have a member yet */
    char closer[MER_JW_MAX_DEPTH];    /* '}' or ']' for each open container */
} mer_jw_t;

void mer_jw_init(mer_jw_t *w, mer_buf_t *b);
/* key is NULL inside arrays and at the top level. */
void mer_jw_obj(mer_jw_t *w, const char *key);
void mer_jw_arr(mer_jw_t *w, const char *key);
void mer_jw_end(mer_jw_t *w);
/* s NULL writes null. */
void mer_jw_str(mer_jw_t *w, const char *key, const char *s);
void mer_jw_int(mer_jw_t *w, const char *key, int64_t v);
void mer_jw_bool(mer_jw_t *w, const char *key, bool v);
/* Writes key (NULL in an array) and what goes before it; the caller then appends exactly one JSON value to
 * w->b itself (a hot object written in a few appends). */
void mer_jw_key(mer_jw_t *w, const char *key);
/* Inserts already-serialised JSON (must be one valid value). */
void mer_jw_raw(mer_jw_t *w, const char *key, const char *json, size_t len);

#endif
