#include "core/buf.h"

#include <stdio.h>

#include "core/banned.h"

void mer_buf_init(mer_buf_t *b, size_t cap)
{
    b->cap = cap < 16 ? 16 : cap;
    b->data = mer_xmalloc(b->cap);
    b->data[0] = '\0';
    b->len = 0;
}

void mer_buf_release(mer_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void mer_buf_reset(mer_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void mer_buf_grow(mer_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = mer_xrealloc(b->data, cap);
    if (b->cap == 0)
        b->data[0] = '\0';
    b->cap = cap;
}

void mer_buf_addstr(mer_buf_t *b, const char *s)
{
    mer_buf_add(b, s, strlen(s));
}

void mer_buf_add_int(mer_buf_t *b, int64_t v)
{
    char tmp[24], *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    mer_buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void mer_buf_vprintf(mer_buf_t *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    mer_buf_grow(b, 64);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, cp);
    va_end(cp);
    if (n < 0)
        MER_BUG("vsnprintf failed");
    if ((size_t)n >= b->cap - b->len) {
        mer_buf_grow(b, (size_t)n);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    }
    b->len += (size_t)n;
}

void mer_buf_printf(mer_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mer_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* A byte that stands for itself inside a JSON string: printable ASCII but the quote and the backslash. */
static inline bool json_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* The length of the run of plain bytes that p[0..len) starts with: eight bytes at a time while a word holds
 * no byte to escape or to check as UTF-8 (each test below is exact when it finds none), then byte by byte. */
static size_t plain_run(const unsigned char *p, size_t len)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
        uint64_t stop = w                              /* >= 0x80 */
                        | ((w - ones * 0x20) & ~w)     /* < 0x20 */
                        | ((quote - ones) & ~quote)    /* '"' */
                        | ((bslash - ones) & ~bslash); /* '\\' */
        if (stop & highs)
            break;
    }
    while (i < len && json_plain(p[i]))
        i++;
    return i;
}

void mer_buf_add_json_str(mer_buf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = plain_run(p, len);
    /* the common case, nothing to escape: one copy between the quotes */
    mer_buf_grow(b, len + 2);
    b->data[b->len++] = '"';
    memcpy(b->data + b->len, p, i);
    b->len += i;
    while (i < len) {
        unsigned char c = p[i];
        if (json_plain(c)) {
            size_t j = i + plain_run(p + i, len - i);
            mer_buf_add(b, p + i, j - i);
            i = j;
        } else if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            mer_buf_add(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            mer_buf_add(b, esc, 6);
            i++;
        } else {
            size_t n = mer_utf8_seq(p + i, len - i);
            if (n == 0) {
                mer_buf_add(b, "\\ufffd", 6);
                i++;
            } else {
                mer_buf_add(b, p + i, n);
                i += n;
            }
        }
    }
    mer_buf_addch(b, '"');
}
