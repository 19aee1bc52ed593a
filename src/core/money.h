/*
 * money.h — amounts, currencies, rounding and tax. Money is always an int64_t count of minor units.
 *
 * Minor units follow ISO 4217 as ICU reports it (VND 0 digits, INR 2, KWD 3). Some payment systems
 * settle in a coarser unit than ISO's: IDR has 2 ISO digits but is paid in whole rupiah. That "practical"
 * precision comes from ICU's cash-usage digits (or a country's override) and is expressed here as a step:
 * every amount a customer sees or pays is a multiple of step = 10^(iso_digits - practical_digits) minor
 * units. IDR 19.999.000 is amount 1999900000 with step 100.
 *
 * Rounding (how a fraction of a step becomes a whole step) is chosen per country: half-up (away from
 * zero at .5), half-even (banker's), up (ceiling) or down (floor). All arithmetic is integer; products are
 * taken in 128 bits, so no intermediate overflows for any amount below 2^63.
 *
 * Tax. Rates are basis points (1800 = 18%). For a tax-exclusive price p, tax = round(p * r / 10000).
 * For a tax-inclusive price g, the net part is round(g * 10000 / (10000 + r)) and tax = g - net, so
 * net + tax == g exactly: what the customer was shown is what they pay.
 *
 * Limits. Every amount Meridian stores or computes (a price, line total, discount, shipping fee, tax,
 * order total, refund, coupon value or budget) lies within [-MER_MONEY_MAX, MER_MONEY_MAX], and every
 * sum or product of amounts is taken with mer_money_add/sub/mul, which refuse a result outside that range
 * instead of overflowing. A request whose amounts would leave it is refused (422, naming the field)
 * before anything changes.
 */
#ifndef MER_MONEY_H
#define MER_MONEY_H

#include "core/common.h"
#include "core/err.h"

/*
 * The largest amount of money Meridian handles, in minor units: 2^50 = 1,125,899,906,842,624 (₹11.2
 * trillion, 1.1 x 10^13 rupiah, 1.1 x 10^15 dong). It is also the largest price, coupon value and budget an
 * admin may enter, so one unit at the highest price can always be ordered, and it is the largest order
 * total (grand_total). Why this value: it is far above any real order in any currency; it is exact as a
 * JSON number (an IEEE double holds integers up to 2^53), so clients and payment providers that parse JSON
 * into doubles read every amount exactly; and it lies a factor 2^13 below INT64_MAX, so even a sum of 8191
 * amounts within the limit cannot overflow int64 before it is checked.
 */
#define MER_MONEY_MAX (INT64_C(1) << 50)

/*
 * Checked money arithmetic: *out = a + b, a - b, or amount x n. Each returns 0 with the exact result in
 * *out, or MER_E_VALIDATION (leaving *out unchanged) when the result would lie outside
 * [-MER_MONEY_MAX, MER_MONEY_MAX] -- which also covers every int64 overflow. Callers turn the error into a
 * 422 that names the field that made the amount too large.
 */
int mer_money_add(int64_t *out, int64_t a, int64_t b);
int mer_money_sub(int64_t *out, int64_t a, int64_t b);
int mer_money_mul(int64_t *out, int64_t amount, int64_t n);

typedef enum mer_rounding {
    MER_ROUND_HALF_UP = 0,
    MER_ROUND_HALF_EVEN,
    MER_ROUND_UP,
    MER_ROUND_DOWN,
} mer_rounding_t;

/* "half_up", "half_even", "up", "down" <-> enum. Parse returns -1 for anything else. */
int mer_rounding_parse(const char *s, mer_rounding_t *out);
const char *mer_rounding_name(mer_rounding_t r);

typedef struct mer_currency {
    char code[4];    /* ISO 4217, upper case */
    int iso_digits;  /* ISO 4217 minor-unit digits (ICU default fraction digits) */
    int cash_digits; /* ICU cash-usage digits (IDR: 0) */
} mer_currency_t;

/* Fills *out from ICU. Returns 0, or -1 if code is not a 3-letter currency ICU knows. */
int mer_currency_lookup(const char *code, mer_currency_t *out);

/* 10^(iso_digits - practical_digits); 1 if practical >= iso. */
int64_t mer_money_step(int iso_digits, int practical_digits);

/* num / den rounded by rule; den > 0. */
int64_t mer_div_round(__int128 num, __int128 den, mer_rounding_t rule);

/* amount rounded to a multiple of step. */
int64_t mer_money_round_step(int64_t amount, int64_t step, mer_rounding_t rule);

/* Tax contained in a tax-inclusive gross amount, as a multiple of step. */
int64_t mer_tax_from_gross(int64_t gross, int rate_bp, int64_t step, mer_rounding_t rule);
/* Tax to add to a tax-exclusive net amount, as a multiple of step. */
int64_t mer_tax_on_net(int64_t net, int rate_bp, int64_t step, mer_rounding_t rule);

/*
 * Writes amount (minor units with iso_digits) as a plain decimal string, e.g. 1999900 / 2 -> "19999.00",
 * -5 / 3 -> "-0.005". Returns the length written (excluding NUL), or -1 if cap is too small.
 */
int mer_money_decimal(int64_t amount, int iso_digits, char *out, size_t cap);

/*
 * Formats an amount for a locale with ICU (e.g. "₹19,999.00", "1.234,50 €", "Rp 19.999.000"), showing
 * display_digits fraction digits. locale is a BCP-47 or ICU id ("hi-IN", "es_ES"). Writes UTF-8 into out.
 * Returns the length, or -1 if ICU failed (out then holds a plain "<decimal> <code>" fallback).
 * Thread-safe: each thread keeps its own small cache of ICU formatters; call mer_money_thread_release()
 * before a thread that formatted exits.
 */
int mer_money_format(int64_t amount, const char *currency, int iso_digits, int display_digits, const char *locale,
                     char *out, size_t cap);
void mer_money_thread_release(void);

/*
 * Appends the money object of an amount to b: {"amount":1999900,"currency":"INR","formatted":"₹19,999.00"},
 * formatted as mer_money_format does. An order answer writes 16 of them, mostly the same few amounts: the
 * thread's memo of formatted amounts keeps each object's bytes too, so a repeated one is a single copy.
 */
struct mer_buf;
void mer_money_json(struct mer_buf *b, int64_t amount, const char *currency, int iso_digits, int display_digits,
                    const char *locale);
/*
 * The same for many amounts in one currency, locale and precision (an answer's money objects): prepared once
 * with mer_money_fmt_init (its memo key and hash too), then mer_money_json_fmt per amount. Init copies the
 * strings; it returns false (f unusable) when the currency or the locale does not fit in f.
 */
typedef struct mer_money_fmt {
    char currency[4];
    char locale[40];
    int iso_digits, display_digits;
    char key[40]; /* the memo's key; klen <= 0: not memoized */
    int klen;
    uint64_t khash;
} mer_money_fmt_t;
bool mer_money_fmt_init(mer_money_fmt_t *f, const char *currency, int iso_digits, int display_digits,
                        const char *locale);
void mer_money_json_fmt(struct mer_buf *b, const mer_money_fmt_t *f, int64_t amount);

#endif
