#include "core/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "core/banned.h"

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "meridian: out of memory allocating %zu bytes\n", n);
    abort();
}

void *mer_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *mer_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *mer_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *mer_xstrdup(const char *s)
{
    return mer_xstrndup(s, strlen(s));
}

char *mer_xstrndup(const char *s, size_t n)
{
    char *p = mer_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void mer_bug(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "meridian: BUG at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void mer_die(const char *fmt, ...)
{
    va_list ap;
    fputs("meridian: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

size_t mer_strcopy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

int mer_parse_int64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0;

    if (len == 0)
        return -1;
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1)
            return -1;
    }
    if (len - i > 19)
        return -1;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (!neg && v > (uint64_t)INT64_MAX)
        return -1;
    if (neg && v > (uint64_t)INT64_MAX + 1)
        return -1;
    int64_t r = neg ? (int64_t)(0 - v) : (int64_t)v;
    if (r < min || r > max)
        return -1;
    *out = r;
    return 0;
}

bool mer_streq_nocase(const char *a, size_t alen, const char *b)
{
    size_t i;
    for (i = 0; i < alen; i++) {
        char x = a[i], y = b[i];
        if (y == '\0')
            return false;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (char)(y + 32);
        if (x != y)
            return false;
    }
    return b[i] == '\0';
}

size_t mer_utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int64_t mer_utf8_text(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    int64_t chars = 0;
    for (size_t i = 0; i < n; chars++) {
        if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\t')
            return -1;
        size_t k = mer_utf8_seq(p + i, n - i);
        if (k == 0)
            return -1;
        i += k;
    }
    return chars;
}

uint64_t mer_hash64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

int mer_phone_normalize(const char *s, size_t n, char out[MER_PHONE_MAX])
{
    size_t k = 0, i = 0;
    if (n >= 2 && s[0] == '0' && s[1] == '0') /* 00 is the international prefix: + */
        i = 2, out[k++] = '+';
    for (; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')')
            continue;
        if (k + 1 >= MER_PHONE_MAX || !((c >= '0' && c <= '9') || (c == '+' && k == 0)))
            return -1;
        out[k++] = c;
    }
    out[k] = '\0';
    return (int)k;
}

uint64_t mer_phone_hash(const char *s, size_t n)
{
    char norm[MER_PHONE_MAX];
    int k = mer_phone_normalize(s, n, norm);
    if (k <= 0 || (k == 1 && norm[0] == '+'))
        return 0;
    return mer_hash64(norm, (size_t)k);
}

bool mer_list_next(const char **p, const char **item, size_t *len)
{
    const char *s = *p;
    if (s == NULL || *s == '\0')
        return false;
    const char *end = strchr(s, ',');
    *item = s;
    *len = end ? (size_t)(end - s) : strlen(s);
    *p = end ? end + 1 : s + *len;
    return true;
}

bool mer_list_has(const char *list, const char *name)
{
    size_t n = strlen(name), len;
    for (const char *p = list, *item; mer_list_next(&p, &item, &len);)
        if (len == n && memcmp(item, name, n) == 0)
            return true;
    return false;
}

uint64_t mer_now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t mer_now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
