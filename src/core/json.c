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
    if (prefix && *prefix)
        snprintf(out, cap, "%s.%s", prefix, key);
    else
        snprintf(out, cap, "%s", key);
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
