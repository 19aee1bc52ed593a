#include "core/json.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/banned.h"

int mer_verr_set(mer_verr_t *e, int code, const char *field, const char *fmt, ...)
{
    if (e->code != 0)
        return e->code;
    va_list ap;
    e->code = code;
    snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return code;
}

const char *mer_json_path(char *out, size_t cap, const char *prefix, const char *key)
{
    if (prefix == NULL || *prefix == '\0') {
        mer_strcopy(out, cap, key);
        return out;
    }
    /* what snprintf("%s.%s") writes, truncation included, without its cost (two per order line) */
    size_t n = mer_strcopy(out, cap, prefix);
    if (n + 1 < cap) {
        out[n] = '.';
        mer_strcopy(out + n + 1, cap - n - 1, key);
    }
    return out;
}

/* The member key of obj, or NULL when it is absent or null (then an error if it is required). */
static json_t *present(json_t *obj, const char *key, const char *field, bool required, mer_verr_t *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            mer_verr_set(e, MER_E_VALIDATION, field, "%s is required", field);
        return NULL;
    }
    return v;
}

int mer_json_str(json_t *obj, const char *key, const char *field, size_t minlen, size_t maxlen, bool required,
                 const char **out, mer_verr_t *e)
{
    json_t *v = present(obj, key, field, required, e);
    if (v == NULL)
        return required ? e->code : 0;
    if (!json_is_string(v))
        return mer_verr_set(e, MER_E_VALIDATION, field, "%s must be a string", field);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    int64_t cps = mer_utf8_text(s, n); /* jansson gives UTF-8; this refuses NUL and C0 controls but \t\n */
    if (cps < 0)
        return mer_verr_set(e, MER_E_VALIDATION, field, "%s contains control characters", field);
    if ((size_t)cps < minlen || (size_t)cps > maxlen)
        return mer_verr_set(e, MER_E_VALIDATION, field, "%s must be %zu to %zu characters long", field, minlen, maxlen);
    *out = s;
    return 0;
}

int mer_json_int(json_t *obj, const char *key, const char *field, int64_t min, int64_t max, bool required, int64_t *out,
                 mer_verr_t *e)
{
    json_t *v = present(obj, key, field, required, e);
    if (v == NULL)
        return required ? e->code : 0;
    if (!json_is_integer(v))
        return mer_verr_set(e, MER_E_VALIDATION, field, "%s must be an integer", field);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return mer_verr_set(e, MER_E_VALIDATION, field, "%s must be between %lld and %lld", field, (long long)min,
                            (long long)max);
    *out = (int64_t)i;
    return 0;
}

int mer_json_bool(json_t *obj, const char *key, const char *field, bool required, bool *out, mer_verr_t *e)
{
    json_t *v = present(obj, key, field, required, e);
    if (v == NULL)
        return required ? e->code : 0;
    if (!json_is_boolean(v))
        return mer_verr_set(e, MER_E_VALIDATION, field, "%s must be true or false", field);
    *out = json_is_true(v);
    return 0;
}

int mer_json_member(json_t *obj, const char *key, const char *field, json_type type, bool required, json_t **out,
                    mer_verr_t *e)
{
    json_t *v = present(obj, key, field, required, e);
    if (v == NULL)
        return required ? e->code : 0;
    if (json_typeof(v) != type)
        return mer_verr_set(e, MER_E_VALIDATION, field, "%s must be %s", field,
                            type == JSON_OBJECT ? "an object" : "an array");
    *out = v;
    return 0;
}

int mer_json_only(json_t *obj, const char *const *allowed, const char *prefix, mer_verr_t *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0)
                ok = true;
        if (!ok) {
            char path[96];
            mer_json_path(path, sizeof(path), prefix, key);
            return mer_verr_set(e, MER_E_VALIDATION, path, "unknown field %s", path);
        }
    }
    return 0;
}

char *mer_json_dump(const json_t *v, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s == NULL)
        MER_BUG("json_dumps failed");
    if (len)
        *len = strlen(s);
    return s;
}

json_t *mer_json_csv_array(const char *list)
{
    json_t *arr = json_array();
    size_t len;
    for (const char *p = list, *item; mer_list_next(&p, &item, &len);)
        json_array_append_new(arr, json_stringn(item, len));
    return arr;
}

/* ---- members of JSON text (json.h) ---- */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Past the string that starts at p ('"'), or NULL. The next quote ends it unless a backslash comes before it:
 * then the character after the backslash is skipped (the four hex digits of \u are plain) and the search goes on. */
static const char *skip_string(const char *p, const char *e)
{
    for (p++; p < e;) {
        const char *q = memchr(p, '"', (size_t)(e - p));
        if (q == NULL)
            return NULL;
        const char *bs = memchr(p, '\\', (size_t)(q - p));
        if (bs == NULL)
            return q + 1;
        p = bs + 2; /* (at most q + 1: bs < q) */
    }
    return NULL;
}

/* Past the value that starts at p, or NULL. */
static const char *skip_value(const char *p, const char *e)
{
    if (p >= e)
        return NULL;
    if (*p == '"')
        return skip_string(p, e);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < e) {
            if (*p == '"') {
                if ((p = skip_string(p, e)) == NULL)
                    return NULL;
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return NULL;
    }
    const char *v = p; /* a number, true, false, null */
    while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
        p++;
    return p > v ? p : NULL;
}

bool mer_json_text_member(const char *text, size_t len, const char *key, const char **val, size_t *vlen)
{
    const char *e = text + len, *p = skip_ws(text, e);
    size_t klen = strlen(key);
    bool found = false;
    if (p >= e || *p != '{')
        return false;
    p = skip_ws(p + 1, e);
    while (p < e && *p == '"') {
        const char *k = p + 1, *kend = skip_string(p, e);
        if (kend == NULL)
            return false;
        bool match = (size_t)(kend - 1 - k) == klen && memcmp(k, key, klen) == 0;
        p = skip_ws(kend, e);
        if (p >= e || *p != ':')
            return false;
        p = skip_ws(p + 1, e);
        const char *vend = skip_value(p, e);
        if (vend == NULL)
            return false;
        if (match) { /* the last of a repeated key wins */
            *val = p;
            *vlen = (size_t)(vend - p);
            found = true;
        }
        p = skip_ws(vend, e);
        if (p >= e || *p != ',')
            break;
        p = skip_ws(p + 1, e);
    }
    return found;
}

bool mer_json_text_str(const char *text, size_t len, const char *key, char *out, size_t cap)
{
    const char *v;
    size_t n;
    if (!mer_json_text_member(text, len, key, &v, &n) || n < 2 || v[0] != '"' || cap == 0)
        return false;
    if (memchr(v, '\\', n) == NULL) { /* nothing to unescape: the text between the quotes */
        if (n - 2 >= cap)
            return false;
        memcpy(out, v + 1, n - 2);
        out[n - 2] = '\0';
        return true;
    }
    json_t *s = json_loadb(v, n, JSON_DECODE_ANY, NULL); /* escapes: jansson's decoding, for this value only */
    bool ok = json_is_string(s) && json_string_length(s) < cap &&
              memchr(json_string_value(s), 0, json_string_length(s)) == NULL;
    if (ok)
        memcpy(out, json_string_value(s), json_string_length(s) + 1);
    json_decref(s);
    return ok;
}

bool mer_json_text_int(const char *text, size_t len, const char *key, int64_t *out)
{
    const char *v;
    size_t n;
    return mer_json_text_member(text, len, key, &v, &n) && mer_parse_int64(v, n, INT64_MIN, INT64_MAX, out) == 0;
}
