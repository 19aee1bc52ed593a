/*
 * buf.h — a growable byte string (after git's strbuf).
 *
 * Invariants: b->data is always NUL-terminated (b->data[b->len] == '\0') once anything was appended or
 * mer_buf_init() ran; b->len never counts the terminator. A mer_buf_t owns its data: release it with
 * mer_buf_release().
 *
 *     mer_buf_t b = MER_BUF_INIT;
 *     mer_buf_printf(&b, "%d items", n);
 *     ...
 *     mer_buf_release(&b);
 */
#ifndef MER_BUF_H
#define MER_BUF_H

#include <stdarg.h>

#include "core/common.h"

typedef struct mer_buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
} mer_buf_t;

#define MER_BUF_INIT                                                                                                   \
    {                                                                                                                  \
        NULL, 0, 0                                                                                                     \
    }

void mer_buf_init(mer_buf_t *b, size_t cap);
void mer_buf_release(mer_buf_t *b);
void mer_buf_reset(mer_buf_t *b);
/* Makes room for extra more bytes (and the terminator). */
void mer_buf_grow(mer_buf_t *b, size_t extra);
void mer_buf_addstr(mer_buf_t *b, const char *s);
/* Appends v in decimal, as printf's "%" PRId64 writes it (without printf's cost: JSON answers are mostly
 * numbers). */
void mer_buf_add_int(mer_buf_t *b, int64_t v);
void mer_buf_printf(mer_buf_t *b, const char *fmt, ...) MER_PRINTF(2, 3);
void mer_buf_vprintf(mer_buf_t *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included; control characters and invalid UTF-8 are escaped. */
void mer_buf_add_json_str(mer_buf_t *b, const char *s, size_t len);
/* Appends len bytes, and one character (inline: JSON answers are written a few bytes at a time). */
static inline void mer_buf_add(mer_buf_t *b, const void *data, size_t len)
{
    if (b->len + len >= b->cap)
        mer_buf_grow(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

static inline void mer_buf_addch(mer_buf_t *b, char c)
{
    if (b->len + 1 >= b->cap)
        mer_buf_grow(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

/* Returns b's text; "" if nothing was appended yet. */
static inline const char *mer_buf_str(const mer_buf_t *b)
{
    return b->data ? b->data : "";
}

#endif
