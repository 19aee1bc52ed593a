/*
 * csv.c — RFC 4180 CSV (see csv.h).
 */
#include "core/csv.h"

#include <stdio.h>
#include <string.h>

#include "core/banned.h"

void mer_csv_init(mer_csv_t *rd, const char *data, size_t len)
{
    *rd = (mer_csv_t){.p = data, .end = data + len, .next_line = 1};
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        rd->p += 3;
}

void mer_csv_free(mer_csv_t *rd)
{
    free(rd->buf);
    rd->buf = NULL;
    rd->cap = 0;
}

const char *mer_csv_field(const mer_csv_t *rd, size_t i)
{
    return i < rd->nfields ? rd->buf + rd->off[i] : "";
}

static void put(mer_csv_t *rd, size_t *n, char c)
{
    if (*n + 1 >= rd->cap) {
        rd->cap = rd->cap ? rd->cap * 2 : 256;
        rd->buf = mer_xrealloc(rd->buf, rd->cap);
    }
    rd->buf[(*n)++] = c;
}

/* The length of the UTF-8 sequence at p (1 to 4), or 0 when it is not one (overlong forms, surrogates and
 * values above U+10FFFF included). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || c > 0xF4 || (size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0) || (c == 0xF0 && p[1] < 0x90) ||
        (c == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

static int fail(mer_csv_t *rd, const char *why)
{
    snprintf(rd->error, sizeof(rd->error), "%s", why);
    rd->line = rd->next_line;
    rd->p = rd->end;
    return -1;
}

int mer_csv_next(mer_csv_t *rd)
{
    const char *p = rd->p, *end = rd->end;
    /* empty lines are skipped */
    while (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))) {
        p += *p == '\r' ? 2 : 1;
        rd->next_line++;
    }
    rd->p = p;
    rd->nfields = 0;
    if (p >= end)
        return 0;
    rd->line = rd->next_line;
    rd->record++;
    size_t n = 0;
    for (;;) { /* one field */
        if (rd->nfields == MER_CSV_MAX_FIELDS)
            return fail(rd, "too many fields in a record");
        rd->off[rd->nfields] = n;
        bool quoted = p < end && *p == '"';
        if (quoted)
            p++;
        for (;;) {
            if (p >= end) {
                if (quoted) {
                    rd->p = p;
                    return fail(rd, "a quoted field is not closed");
                }
                break;
            }
            unsigned char c = (unsigned char)*p;
            if (c == '"') {
                if (!quoted) {
                    rd->p = p;
                    return fail(rd, "a quote inside an unquoted field (enclose the field in quotes and double it)");
                }
                if (p + 1 < end && p[1] == '"') {
                    put(rd, &n, '"');
                    p += 2;
                    continue;
                }
                p++; /* the closing quote: a separator must follow */
                if (p < end && *p != ',' && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
                    rd->p = p;
                    return fail(rd, "only a comma or a line break may follow a closing quote");
                }
                break;
            }
            if (!quoted && (c == ',' || c == '\n' || (c == '\r' && p + 1 < end && p[1] == '\n')))
                break;
            if (c == 0) {
                rd->p = p;
                return fail(rd, "a NUL byte");
            }
            size_t u = utf8_len((const unsigned char *)p, (const unsigned char *)end);
            if (u == 0) {
                rd->p = p;
                return fail(rd, "bytes that are not UTF-8");
            }
            if (c == '\n')
                rd->next_line++;
            for (size_t i = 0; i < u; i++)
                put(rd, &n, p[i]);
            p += u;
        }
        rd->len[rd->nfields] = n - rd->off[rd->nfields];
        put(rd, &n, '\0');
        rd->nfields++;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end) { /* a line break ends the record */
            p += *p == '\r' ? 2 : 1;
            rd->next_line++;
        }
        break;
    }
    rd->p = p;
    return 1;
}

void mer_csv_put(mer_buf_t *out, bool first, const char *s, size_t len)
{
    if (!first)
        mer_buf_addch(out, ',');
    bool quote = len > 0 && (s[0] == ' ' || s[len - 1] == ' ');
    for (size_t i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) {
        mer_buf_add(out, s, len);
        return;
    }
    mer_buf_addch(out, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            mer_buf_addch(out, '"');
        mer_buf_addch(out, s[i]);
    }
    mer_buf_addch(out, '"');
}

void mer_csv_end(mer_buf_t *out)
{
    mer_buf_add(out, "\r\n", 2);
}
