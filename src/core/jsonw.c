#include "core/jsonw.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "core/banned.h"

void mer_jw_init(mer_jw_t *w, mer_buf_t *b)
{
    w->b = b;
    w->depth = 0;
    w->has_items[0] = false;
}

static void member(mer_jw_t *w, const char *key)
{
    if (w->has_items[w->depth])
        mer_buf_addch(w->b, ',');
    w->has_items[w->depth] = true;
    if (key) {
        mer_buf_add_json_str(w->b, key, strlen(key));
        mer_buf_addch(w->b, ':');
    }
}

static void open(mer_jw_t *w, const char *key, char c)
{
    member(w, key);
    mer_buf_addch(w->b, c);
    if (w->depth + 1 >= MER_JW_MAX_DEPTH)
        MER_BUG("JSON nested too deeply");
    w->has_items[++w->depth] = false;
    w->closer[w->depth] = c == '{' ? '}' : ']';
}

void mer_jw_obj(mer_jw_t *w, const char *key)
{
    open(w, key, '{');
}

void mer_jw_arr(mer_jw_t *w, const char *key)
{
    open(w, key, '[');
}

void mer_jw_end(mer_jw_t *w)
{
    assert(w->depth > 0);
    mer_buf_addch(w->b, w->closer[w->depth]);
    w->depth--;
}

void mer_jw_str(mer_jw_t *w, const char *key, const char *s)
{
    member(w, key);
    if (s)
        mer_buf_add_json_str(w->b, s, strlen(s));
    else
        mer_buf_add(w->b, "null", 4);
}

void mer_jw_int(mer_jw_t *w, const char *key, int64_t v)
{
    member(w, key);
    mer_buf_add_int(w->b, v);
}

void mer_jw_bool(mer_jw_t *w, const char *key, bool v)
{
    member(w, key);
    mer_buf_addstr(w->b, v ? "true" : "false");
}

void mer_jw_key(mer_jw_t *w, const char *key)
{
    member(w, key);
}

void mer_jw_raw(mer_jw_t *w, const char *key, const char *json, size_t len)
{
    member(w, key);
    mer_buf_add(w->b, json, len);
}
