#include "core/locale.h"

#include <ctype.h>
#include <stdio.h>

#include "core/banned.h"

static bool all_alpha(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isalpha((unsigned char)s[i]))
            return false;
    return true;
}

static bool all_digit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

int mer_locale_normalize(const char *in, size_t len, char out[MER_LOCALE_MAX])
{
    size_t lang_len = 0;
    while (lang_len < len && in[lang_len] != '-' && in[lang_len] != '_')
        lang_len++;
    if (lang_len < 2 || lang_len > 3 || !all_alpha(in, lang_len))
        return -1;
    size_t pos = 0;
    for (size_t i = 0; i < lang_len; i++)
        out[pos++] = (char)tolower((unsigned char)in[i]);
    if (lang_len == len) {
        out[pos] = '\0';
        return 0;
    }
    const char *sub = in + lang_len + 1;
    size_t sub_len = len - lang_len - 1;
    /* keep only the first subtag: a region or a script; ignore variants after it */
    size_t n = 0;
    while (n < sub_len && sub[n] != '-' && sub[n] != '_')
        n++;
    out[pos++] = '-';
    if (n == 2 && all_alpha(sub, 2)) {
        out[pos++] = (char)toupper((unsigned char)sub[0]);
        out[pos++] = (char)toupper((unsigned char)sub[1]);
    } else if (n == 3 && all_digit(sub, 3)) {
        memcpy(out + pos, sub, 3);
        pos += 3;
    } else if (n == 4 && all_alpha(sub, 4)) {
        out[pos++] = (char)toupper((unsigned char)sub[0]);
        for (int i = 1; i < 4; i++)
            out[pos++] = (char)tolower((unsigned char)sub[i]);
    } else {
        return -1;
    }
    /* the rest must still look like subtags: alphanumerics and separators, bounded */
    for (size_t i = n; i < sub_len; i++)
        if (!isalnum((unsigned char)sub[i]) && sub[i] != '-' && sub[i] != '_')
            return -1;
    if (sub_len > 32)
        return -1;
    out[pos] = '\0';
    return 0;
}

void mer_locale_language(const char *tag, char out[MER_LOCALE_MAX])
{
    size_t i = 0;
    while (tag[i] && tag[i] != '-' && i < MER_LOCALE_MAX - 1) {
        out[i] = tag[i];
        i++;
    }
    out[i] = '\0';
}

static void chain_push(mer_locale_chain_t *c, const char *tag)
{
    if (c->n >= MER_LOCALE_CHAIN_MAX || tag[0] == '\0')
        return;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->tags[i], tag) == 0)
            return;
    mer_strcopy(c->tags[c->n++], MER_LOCALE_MAX, tag);
}

void mer_locale_chain_add(mer_locale_chain_t *c, const char *tag)
{
    char lang[MER_LOCALE_MAX];
    chain_push(c, tag);
    mer_locale_language(tag, lang);
    chain_push(c, lang);
}

typedef struct al_entry {
    char tag[MER_LOCALE_MAX];
    int q; /* 0..1000 */
} al_entry_t;

/* Parses "q=0.8" style weights into 0..1000; returns -1 if malformed. */
static int parse_q(const char *s, size_t n)
{
    while (n && *s == ' ') {
        s++;
        n--;
    }
    if (n < 3 || (s[0] != 'q' && s[0] != 'Q') || s[1] != '=')
        return -1;
    s += 2;
    n -= 2;
    int q = 0, scale = 1000;
    if (s[0] == '1') {
        q = 1000;
    } else if (s[0] != '0') {
        return -1;
    }
    if (n > 1) {
        if (s[1] != '.')
            return -1;
        for (size_t i = 2; i < n && i < 5; i++) {
            if (!isdigit((unsigned char)s[i]))
                return -1;
            scale /= 10;
            if (q < 1000)
                q += (s[i] - '0') * scale;
        }
    }
    return q;
}

void mer_locale_chain_build(mer_locale_chain_t *c, const char *lang, const char *al, size_t al_len,
                            const char *country_default)
{
    char norm[MER_LOCALE_MAX];
    c->n = 0;
    if (lang && mer_locale_normalize(lang, strlen(lang), norm) == 0)
        mer_locale_chain_add(c, norm);
    if (al && al_len) {
        al_entry_t entries[8];
        size_t ne = 0, i = 0;
        while (i < al_len && ne < MER_ARRAY_LEN(entries)) {
            size_t start = i;
            while (i < al_len && al[i] != ',')
                i++;
            /* one entry: tag[;q=x] */
            const char *e = al + start;
            size_t elen = i - start;
            i++; /* skip ',' */
            while (elen && *e == ' ') {
                e++;
                elen--;
            }
            size_t tlen = 0;
            while (tlen < elen && e[tlen] != ';' && e[tlen] != ' ')
                tlen++;
            int q = 1000;
            const char *semi = memchr(e, ';', elen);
            if (semi)
                q = parse_q(semi + 1, elen - (size_t)(semi + 1 - e));
            if (q <= 0 || mer_locale_normalize(e, tlen, entries[ne].tag) != 0)
                continue;
            entries[ne++].q = q;
        }
        /* stable sort by q, descending (at most 8 entries) */
        for (size_t a = 1; a < ne; a++) {
            al_entry_t t = entries[a];
            size_t b = a;
            while (b > 0 && entries[b - 1].q < t.q) {
                entries[b] = entries[b - 1];
                b--;
            }
            entries[b] = t;
        }
        for (size_t k = 0; k < ne; k++)
            mer_locale_chain_add(c, entries[k].tag);
    }
    if (country_default)
        mer_locale_chain_add(c, country_default);
    chain_push(c, "en");
}
