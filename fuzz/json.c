/*
 * json.c — fuzzes the JSON the server writes and reads without a tree: mer_buf_add_json_str() (every string
 * of every answer) and mer_json_text_member/_str/_int() (the fan-out's subscribers reading an event's payload).
 *
 * Input: any bytes. Properties:
 * - written as a JSON string, the input parses back (jansson, NUL allowed) to a string, and to itself when it
 *   is well-formed UTF-8;
 * - read as JSON text, no lookup reads outside it (ASan); when jansson parses it to an object, a top-level
 *   key written without escapes is found, a string member reads back as jansson's (when it has no NUL and
 *   fits) and an integer member as jansson's integer;
 * - an object jansson writes from the input's NUL-separated fields (keys, string and integer values, and a
 *   nested object of the same) reads back member by member through the text readers.
 */
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/json.h"
#include "fuzz.h"

static bool utf8_ok(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = p[i] < 0x80 ? 1 : mer_utf8_seq(p + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

static void written(const uint8_t *data, size_t size)
{
    mer_buf_t b = MER_BUF_INIT;
    mer_buf_add(&b, "x", 1); /* after what a buffer holds, as in an answer */
    mer_buf_add_json_str(&b, (const char *)data, size);
    json_error_t err;
    json_t *s = json_loadb(b.data + 1, b.len - 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    FUZZ_CHECK(json_is_string(s));
    if (utf8_ok(data, size))
        FUZZ_CHECK(json_string_length(s) == size && memcmp(json_string_value(s), data, size) == 0);
    json_decref(s);
    mer_buf_release(&b);
}

/* Is key written as "key" (no escapes) among the text's bytes? (A key spelt with escapes is not found.) */
static bool written_plainly(const char *text, size_t len, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 2 <= len; i++)
        if (text[i] == '"' && memcmp(text + i + 1, key, kl) == 0 && text[i + 1 + kl] == '"')
            return true;
    return false;
}

static void read_back(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so that ASan sees a read past the end */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    const char *v;
    size_t vlen;
    char out[64];
    int64_t n;
    static const char *const probes[] = {"a", "number", "status", "user_id", ""};
    for (size_t i = 0; i < MER_ARRAY_LEN(probes); i++) {
        if (mer_json_text_member(text, size, probes[i], &v, &vlen))
            FUZZ_CHECK(v >= text && vlen <= size && v + vlen <= text + size);
        mer_json_text_str(text, size, probes[i], out, sizeof(out));
        mer_json_text_int(text, size, probes[i], &n);
    }
    json_t *doc = json_loadb(text, size, 0, NULL);
    /* (valid JSON holds no NUL byte, but jansson reads past one between tokens) */
    if (json_is_object(doc) && memchr(text, '\\', size) == NULL && memchr(text, 0, size) == NULL) {
        const char *key;
        json_t *val;
        json_object_foreach(doc, key, val)
        {
            if (!written_plainly(text, size, key))
                continue;
            FUZZ_CHECK(mer_json_text_member(text, size, key, &v, &vlen));
            if (json_is_string(val) && json_string_length(val) < sizeof(out)) {
                FUZZ_CHECK(mer_json_text_str(text, size, key, out, sizeof(out)));
                FUZZ_CHECK(strcmp(out, json_string_value(val)) == 0);
            }
            if (json_is_integer(val)) {
                FUZZ_CHECK(mer_json_text_int(text, size, key, &n));
                FUZZ_CHECK(n == json_integer_value(val));
            }
        }
    }
    json_decref(doc);
    free(text);
}

/* Needs a key escapes when written? (Then the text readers do not find it: see json.h.) */
static bool needs_escape(const char *k)
{
    for (; *k; k++)
        if ((unsigned char)*k < 0x20 || *k == '"' || *k == '\\')
            return true;
    return false;
}

/* An object that jansson writes (as the server writes an event's payload) from the input's NUL-separated
 * fields: key, string value, key, integer value, ..., beside a nested object holding the same members; each
 * top-level member is read back from the text as jansson holds it. */
static void generated(const uint8_t *data, size_t size)
{
    json_t *obj = json_object(), *inner = json_object();
    const char *p = (const char *)data, *end = p + size;
    for (int i = 0; p < end && i < 16; i++) {
        const char *kend = memchr(p, '\0', (size_t)(end - p));
        if (kend == NULL)
            break;
        const char *key = p;
        p = kend + 1;
        const char *vend = memchr(p, '\0', (size_t)(end - p));
        size_t vlen = vend ? (size_t)(vend - p) : (size_t)(end - p);
        json_t *val;
        if (i % 2) {
            int64_t x = 0;
            memcpy(&x, p, vlen < sizeof(x) ? vlen : sizeof(x));
            val = json_integer(x);
        } else {
            val = json_stringn(p, vlen); /* NULL when not UTF-8 */
        }
        if (val) {
            json_object_set(inner, key, val); /* (not UTF-8: refused, as below) */
            json_object_set_new(obj, key, val);
        }
        p = vend ? vend + 1 : end;
    }
    json_object_set_new(obj, "~inner", inner);
    char *text = json_dumps(obj, size % 2 ? JSON_INDENT(1) : JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    size_t len = strlen(text);
    const char *key;
    json_t *val;
    char out[64];
    int64_t n;
    json_object_foreach(obj, key, val)
    {
        if (needs_escape(key))
            continue;
        if (json_is_string(val) && json_string_length(val) < sizeof(out) &&
            memchr(json_string_value(val), 0, json_string_length(val)) == NULL) {
            FUZZ_CHECK(mer_json_text_str(text, len, key, out, sizeof(out)));
            FUZZ_CHECK(strcmp(out, json_string_value(val)) == 0);
        } else if (json_is_integer(val)) {
            FUZZ_CHECK(mer_json_text_int(text, len, key, &n));
            FUZZ_CHECK(n == json_integer_value(val));
        } else {
            const char *v;
            size_t vlen;
            FUZZ_CHECK(mer_json_text_member(text, len, key, &v, &vlen));
        }
    }
    free(text);
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    written(data, size);
    read_back(data, size);
    generated(data, size);
    return 0;
}
