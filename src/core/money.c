#include "core/money.h"

#include <stdio.h>
#include <unicode/ucurr.h>
#include <unicode/unum.h>
#include <unicode/ustring.h>

#include "core/buf.h"

#include "core/banned.h"

static const char *const rounding_names[] = {"half_up", "half_even", "up", "down"};

int mer_rounding_parse(const char *s, mer_rounding_t *out)
{
    for (size_t i = 0; i < MER_ARRAY_LEN(rounding_names); i++) {
        if (strcmp(s, rounding_names[i]) == 0) {
            *out = (mer_rounding_t)i;
            return 0;
        }
    }
    return -1;
}

const char *mer_rounding_name(mer_rounding_t r)
{
    return (unsigned)r < MER_ARRAY_LEN(rounding_names) ? rounding_names[r] : "half_up";
}

int mer_currency_lookup(const char *code, mer_currency_t *out)
{
    UChar ucode[4];
    UErrorCode st = U_ZERO_ERROR;

    if (strlen(code) != 3)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (code[i] < 'A' || code[i] > 'Z')
            return -1;
        ucode[i] = (UChar)code[i];
    }
    ucode[3] = 0;
    /* ICU answers 2 digits for any unknown code; check it is a real ISO currency first. */
    if (!ucurr_isAvailable(ucode, U_DATE_MIN, U_DATE_MAX, &st) || U_FAILURE(st))
        return -1;
    int iso = ucurr_getDefaultFractionDigitsForUsage(ucode, UCURR_USAGE_STANDARD, &st);
    int cash = ucurr_getDefaultFractionDigitsForUsage(ucode, UCURR_USAGE_CASH, &st);
    if (U_FAILURE(st) || iso < 0 || iso > 4 || cash < 0)
        return -1;
    memcpy(out->code, code, 3);
    out->code[3] = '\0';
    out->iso_digits = iso;
    out->cash_digits = cash > iso ? iso : cash;
    return 0;
}

static int money_checked(bool overflow, int64_t r, int64_t *out)
{
    if (overflow || r > MER_MONEY_MAX || r < -MER_MONEY_MAX)
        return MER_E_VALIDATION;
    *out = r;
    return 0;
}

int mer_money_add(int64_t *out, int64_t a, int64_t b)
{
    int64_t r;
    bool overflow = __builtin_add_overflow(a, b, &r);
    return money_checked(overflow, r, out);
}

int mer_money_sub(int64_t *out, int64_t a, int64_t b)
{
    int64_t r;
    bool overflow = __builtin_sub_overflow(a, b, &r);
    return money_checked(overflow, r, out);
}

int mer_money_mul(int64_t *out, int64_t amount, int64_t n)
{
    int64_t r;
    bool overflow = __builtin_mul_overflow(amount, n, &r);
    return money_checked(overflow, r, out);
}

int64_t mer_money_step(int iso_digits, int practical_digits)
{
    int64_t step = 1;
    for (int i = practical_digits; i < iso_digits; i++)
        step *= 10;
    return step;
}

int64_t mer_div_round(__int128 num, __int128 den, mer_rounding_t rule)
{
    if (den <= 0)
        MER_BUG("mer_div_round: non-positive divisor");
    __int128 q = num / den, r = num % den; /* C truncates toward zero: r has num's sign */
    if (r == 0)
        return (int64_t)q;
    bool neg = num < 0;
    __int128 ar = neg ? -r : r;
    switch (rule) {
    case MER_ROUND_UP: /* toward +infinity */
        return (int64_t)(neg ? q : q + 1);
    case MER_ROUND_DOWN: /* toward -infinity */
        return (int64_t)(neg ? q - 1 : q);
    case MER_ROUND_HALF_EVEN:
        if (2 * ar > den || (2 * ar == den && (q % 2) != 0))
            return (int64_t)(neg ? q - 1 : q + 1);
        return (int64_t)q;
    case MER_ROUND_HALF_UP:
    default:
        if (2 * ar >= den)
            return (int64_t)(neg ? q - 1 : q + 1);
        return (int64_t)q;
    }
}

int64_t mer_money_round_step(int64_t amount, int64_t step, mer_rounding_t rule)
{
    if (step <= 1)
        return amount;
    return mer_div_round(amount, step, rule) * step;
}

int64_t mer_tax_on_net(int64_t net, int rate_bp, int64_t step, mer_rounding_t rule)
{
    if (step < 1)
        step = 1;
    return mer_div_round((__int128)net * rate_bp, (__int128)10000 * step, rule) * step;
}

int64_t mer_tax_from_gross(int64_t gross, int rate_bp, int64_t step, mer_rounding_t rule)
{
    if (step < 1)
        step = 1;
    /* net = gross * 10000 / (10000 + rate), rounded to a step; tax is the rest, so net + tax == gross. */
    int64_t net = mer_div_round((__int128)gross * 10000, (__int128)(10000 + rate_bp) * step, rule) * step;
    return gross - net;
}

int mer_money_decimal(int64_t amount, int iso_digits, char *out, size_t cap)
{
    char digits[32];
    uint64_t mag = amount < 0 ? (uint64_t)0 - (uint64_t)amount : (uint64_t)amount;
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)mag);
    size_t pos = 0;

    /* left-pad with zeros so there is at least one integer digit */
    char padded[40];
    int pad = iso_digits + 1 - n;
    if (pad < 0)
        pad = 0;
    memset(padded, '0', (size_t)pad);
    memcpy(padded + pad, digits, (size_t)n + 1);
    int total = pad + n;
    int int_len = total - iso_digits;

    size_t need = (amount < 0 ? 1u : 0u) + (size_t)total + (iso_digits > 0 ? 1u : 0u) + 1;
    if (need > cap)
        return -1;
    if (amount < 0)
        out[pos++] = '-';
    memcpy(out + pos, padded, (size_t)int_len);
    pos += (size_t)int_len;
    if (iso_digits > 0) {
        out[pos++] = '.';
        memcpy(out + pos, padded + int_len, (size_t)iso_digits);
        pos += (size_t)iso_digits;
    }
    out[pos] = '\0';
    return (int)pos;
}

/* A per-thread cache of ICU currency formatters, keyed by locale + currency + digits. */
typedef struct fmt_slot {
    char key[48];
    UNumberFormat *fmt;
} fmt_slot_t;

static _Thread_local fmt_slot_t fmt_cache[16];
static _Thread_local unsigned fmt_next;

static UNumberFormat *formatter(const char *locale, const char *currency, int digits)
{
    char key[48];
    char icu_locale[40];
    UErrorCode st = U_ZERO_ERROR;

    snprintf(key, sizeof(key), "%s|%s|%d", locale, currency, digits);
    for (size_t i = 0; i < MER_ARRAY_LEN(fmt_cache); i++) {
        if (fmt_cache[i].fmt && strcmp(fmt_cache[i].key, key) == 0)
            return fmt_cache[i].fmt;
    }
    /* ICU wants "hi_IN"; accept BCP-47 "hi-IN" too. */
    snprintf(icu_locale, sizeof(icu_locale), "%s", locale);
    for (char *p = icu_locale; *p; p++)
        if (*p == '-')
            *p = '_';
    UNumberFormat *f = unum_open(UNUM_CURRENCY, NULL, 0, icu_locale, NULL, &st);
    if (U_FAILURE(st))
        return NULL;
    UChar ucode[4] = {(UChar)currency[0], (UChar)currency[1], (UChar)currency[2], 0};
    unum_setTextAttribute(f, UNUM_CURRENCY_CODE, ucode, 3, &st);
    unum_setAttribute(f, UNUM_MIN_FRACTION_DIGITS, digits);
    unum_setAttribute(f, UNUM_MAX_FRACTION_DIGITS, digits);
    unum_setAttribute(f, UNUM_ROUNDING_MODE, UNUM_ROUND_HALFUP);
    if (U_FAILURE(st)) {
        unum_close(f);
        return NULL;
    }
    fmt_slot_t *slot = &fmt_cache[fmt_next++ % MER_ARRAY_LEN(fmt_cache)];
    if (slot->fmt)
        unum_close(slot->fmt);
    snprintf(slot->key, sizeof(slot->key), "%s", key);
    slot->fmt = f;
    return f;
}

/* Formatted amounts repeat (the same prices, over and over): a direct-mapped per-thread cache in
 * front of ICU. */
typedef struct fmt_memo {
    int64_t amount;
    char key[40]; /* locale|currency|digits */
    char text[64];
    int len;
    int olen;      /* > 0: obj holds the money object of text (mer_money_json) */
    char obj[128]; /* {"amount":..,"currency":"..","formatted":".."} */
} fmt_memo_t;
static _Thread_local fmt_memo_t *memo;

static int format_uncached(int64_t amount, const char *currency, int iso_digits, int display_digits, const char *locale,
                           char *out, size_t cap);

/* Writes v in decimal at p; returns its length (at most 11). */
static size_t put_int(char *p, int v)
{
    char tmp[12], *t = tmp + sizeof(tmp);
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    do {
        *--t = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--t = '-';
    size_t n = (size_t)(tmp + sizeof(tmp) - t);
    memcpy(p, t, n);
    return n;
}

/* The memo's key, what snprintf("%s|%.3s|%d|%d", locale, currency, iso, display) writes, without its cost (it
 * runs for every amount an answer shows). Returns its length, or -1 when it does not fit in cap. */
static int memo_key(char *key, size_t cap, const char *locale, const char *currency, int iso, int display)
{
    char tail[32];
    size_t ll = strlen(locale), cl = strnlen(currency, 3), n = 0;
    tail[n++] = '|';
    n += put_int(tail + n, iso);
    tail[n++] = '|';
    n += put_int(tail + n, display);
    if (ll + 1 + cl + n >= cap)
        return -1;
    memcpy(key, locale, ll);
    key[ll] = '|';
    memcpy(key + ll + 1, currency, cl);
    memcpy(key + ll + 1 + cl, tail, n);
    key[ll + 1 + cl + n] = '\0';
    return (int)(ll + 1 + cl + n);
}

#define MEMO_SLOTS 1024

/* The memo's slot for amount under a key whose mer_hash64 is khash: whatever it holds (check amount and key). */
static fmt_memo_t *memo_slot(int64_t amount, uint64_t khash)
{
    if (memo == NULL)
        memo = mer_xcalloc(MEMO_SLOTS, sizeof(*memo));
    uint64_t h = khash ^ (uint64_t)amount * 0x9E3779B97F4A7C15ull;
    return &memo[h & (MEMO_SLOTS - 1)];
}

static bool memo_holds(const fmt_memo_t *m, int64_t amount, const char *key)
{
    return m->len > 0 && m->amount == amount && strcmp(m->key, key) == 0;
}

int mer_money_format(int64_t amount, const char *currency, int iso_digits, int display_digits, const char *locale,
                     char *out, size_t cap)
{
    char key[40];
    int kl = memo_key(key, sizeof(key), locale, currency, iso_digits, display_digits);
    if (kl <= 0)
        return format_uncached(amount, currency, iso_digits, display_digits, locale, out, cap);
    fmt_memo_t *m = memo_slot(amount, mer_hash64(key, (size_t)kl));
    if (memo_holds(m, amount, key) && (size_t)m->len < cap) {
        memcpy(out, m->text, (size_t)m->len + 1);
        return m->len;
    }
    int n = format_uncached(amount, currency, iso_digits, display_digits, locale, out, cap);
    if (n > 0 && (size_t)n < sizeof(m->text)) {
        m->amount = amount;
        memcpy(m->key, key, (size_t)kl + 1);
        memcpy(m->text, out, (size_t)n + 1);
        m->len = n;
        m->olen = 0;
    }
    return n;
}

bool mer_money_fmt_init(mer_money_fmt_t *f, const char *currency, int iso_digits, int display_digits,
                        const char *locale)
{
    size_t cl = strnlen(currency, sizeof(f->currency)), ll = strnlen(locale, sizeof(f->locale));
    if (cl >= sizeof(f->currency) || ll >= sizeof(f->locale))
        return false;
    memcpy(f->currency, currency, cl + 1);
    memcpy(f->locale, locale, ll + 1);
    f->iso_digits = iso_digits;
    f->display_digits = display_digits;
    f->klen = memo_key(f->key, sizeof(f->key), locale, currency, iso_digits, display_digits);
    f->khash = f->klen > 0 ? mer_hash64(f->key, (size_t)f->klen) : 0;
    return true;
}

/* amount's money object, formatted by mer_money_format (through its memo of texts), appended to b. */
static void money_object(mer_buf_t *b, int64_t amount, const char *currency, int iso_digits, int display_digits,
                         const char *locale)
{
    char text[96];
    mer_money_format(amount, currency, iso_digits, display_digits, locale, text, sizeof(text));
    mer_buf_add(b, "{\"amount\":", 10);
    mer_buf_add_int(b, amount);
    mer_buf_add(b, ",\"currency\":", 12);
    mer_buf_add_json_str(b, currency, strnlen(currency, 3));
    mer_buf_add(b, ",\"formatted\":", 13);
    mer_buf_add_json_str(b, text, strlen(text));
    mer_buf_addch(b, '}');
}

void mer_money_json_fmt(mer_buf_t *b, const mer_money_fmt_t *f, int64_t amount)
{
    fmt_memo_t *m = f->klen > 0 ? memo_slot(amount, f->khash) : NULL;
    if (m && m->olen > 0 && memo_holds(m, amount, f->key)) {
        mer_buf_add(b, m->obj, (size_t)m->olen);
        return;
    }
    size_t start = b->len;
    money_object(b, amount, f->currency, f->iso_digits, f->display_digits, f->locale);
    /* kept when the text just formatted is the memo's (it fitted, and ICU did not fail) */
    size_t n = b->len - start;
    if (m && memo_holds(m, amount, f->key) && n < sizeof(m->obj)) {
        memcpy(m->obj, b->data + start, n);
        m->olen = (int)n;
    }
}

void mer_money_json(mer_buf_t *b, int64_t amount, const char *currency, int iso_digits, int display_digits,
                    const char *locale)
{
    mer_money_fmt_t f;
    if (mer_money_fmt_init(&f, currency, iso_digits, display_digits, locale))
        mer_money_json_fmt(b, &f, amount);
    else /* a locale longer than any the countries use: the object is not kept */
        money_object(b, amount, currency, iso_digits, display_digits, locale);
}

static int format_uncached(int64_t amount, const char *currency, int iso_digits, int display_digits, const char *locale,
                           char *out, size_t cap)
{
    char dec[48];
    UChar ubuf[96];
    UErrorCode st = U_ZERO_ERROR;
    int32_t ulen, olen = 0;

    if (mer_money_decimal(amount, iso_digits, dec, sizeof(dec)) < 0) {
        dec[0] = '\0';
        goto fallback;
    }
    if (strlen(currency) != 3)
        goto fallback;
    UNumberFormat *f = formatter(locale, currency, display_digits);
    if (f == NULL)
        goto fallback;
    ulen = unum_formatDecimal(f, dec, -1, ubuf, (int32_t)MER_ARRAY_LEN(ubuf), NULL, &st);
    if (U_FAILURE(st) || ulen >= (int32_t)MER_ARRAY_LEN(ubuf))
        goto fallback;
    u_strToUTF8(out, (int32_t)cap, &olen, ubuf, ulen, &st);
    if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING || (size_t)olen >= cap)
        goto fallback;
    return olen;

fallback: /* dec holds the plain decimal */
    snprintf(out, cap, "%s %.3s", dec, currency);
    return -1;
}

void mer_money_thread_release(void)
{
    free(memo);
    memo = NULL;
    for (size_t i = 0; i < MER_ARRAY_LEN(fmt_cache); i++) {
        if (fmt_cache[i].fmt)
            unum_close(fmt_cache[i].fmt);
        fmt_cache[i].fmt = NULL;
    }
}
