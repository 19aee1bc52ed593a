/*
 * launch.c — the launch service (launch.h): request checks, pricing arithmetic, the plan, apply,
 * readiness and opening. No HTTP here: launch_http.c is the adapter, main.c's `launch-plan` the command.
 */
#include "launch/launch.h"

#include <ctype.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <unicode/uloc.h>

#include "catalog/translation.h"
#include "inventory/inventory.h"
#include "payment/payment.h"
#include "core/banned.h"

/* ---- arithmetic ---- */

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* s[0..n) as a whole number at most max; false if it is not one or too large. */
static bool whole(const char *s, size_t n, int64_t max, int64_t *out)
{
    if (!all_digits(s, n) || n > 19)
        return false;
    __int128 v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
        if (v > max)
            return false;
    }
    *out = (int64_t)v;
    return true;
}

int mer_launch_parse_rate(const char *s, mer_launch_rate_t *out)
{
    size_t n = strlen(s);
    const char *slash = strchr(s, '/'), *dot = strchr(s, '.');
    int64_t num = 0, den = 1;
    if (n == 0 || n > 40)
        return MER_E_VALIDATION;
    if (slash) {
        if (dot || !whole(s, (size_t)(slash - s), MER_LAUNCH_RATE_MAX, &num) ||
            !whole(slash + 1, n - (size_t)(slash - s) - 1, MER_LAUNCH_RATE_MAX, &den))
            return MER_E_VALIDATION;
    } else if (dot) {
        size_t ip = (size_t)(dot - s), fp = n - ip - 1;
        char digits[48];
        if (ip == 0 || fp == 0 || fp > 12 || !all_digits(s, ip) || !all_digits(dot + 1, fp))
            return MER_E_VALIDATION;
        snprintf(digits, sizeof(digits), "%.*s%s", (int)ip, s, dot + 1);
        /* leading zeros do not count against the limit: "0.0115" is 115/10000 */
        const char *d = digits;
        while (d[0] == '0' && d[1])
            d++;
        if (!whole(d, strlen(d), INT64_MAX / 10, &num))
            return MER_E_VALIDATION;
        for (size_t i = 0; i < fp; i++)
            den *= 10;
    } else if (!whole(s, n, MER_LAUNCH_RATE_MAX, &num)) {
        return MER_E_VALIDATION;
    }
    if (num <= 0 || den <= 0)
        return MER_E_VALIDATION;
    int64_t g = gcd64(num, den);
    num /= g;
    den /= g;
    if (num > MER_LAUNCH_RATE_MAX || den > MER_LAUNCH_RATE_MAX)
        return MER_E_VALIDATION;
    out->num = num;
    out->den = den;
    return 0;
}

void mer_launch_rate_text(const mer_launch_rate_t *r, char *out, size_t cap)
{
    if (r->den == 1)
        snprintf(out, cap, "%lld", (long long)r->num);
    else
        snprintf(out, cap, "%lld/%lld", (long long)r->num, (long long)r->den);
}

static __int128 pow10_128(int k)
{
    __int128 v = 1;
    while (k-- > 0)
        v *= 10;
    return v;
}

int64_t mer_launch_convert(int64_t amount, int from_digits, int to_digits, const mer_launch_rate_t *rate, int markup_bp)
{
    if (amount < 0 || rate->num <= 0 || rate->den <= 0 || markup_bp <= -10000)
        return -1;
    /* at most 2^50 * 2^40 * 2^14 * 2^17 < 2^127: no overflow (launch.h bounds every factor) */
    __int128 num = (__int128)amount * rate->num * pow10_128(to_digits) * (10000 + markup_bp);
    __int128 den = (__int128)rate->den * pow10_128(from_digits) * 10000;
    __int128 q = num / den, r = num % den;
    if (2 * r >= den) /* half up (amounts are never negative) */
        q++;
    return q > MER_MONEY_MAX ? -1 : (int64_t)q;
}

int64_t mer_launch_ending(int64_t x, const mer_launch_ending_t *rule)
{
    if (x <= 0 || rule->ntiers == 0)
        return x < 0 ? -1 : x;
    const mer_launch_tier_t *t = &rule->tiers[0];
    for (size_t i = 1; i < rule->ntiers; i++)
        if (rule->tiers[i].from <= x)
            t = &rule->tiers[i];
    /* lo: the largest candidate k * step + ends at most x (k may be -1: then lo < 0), hi = lo + step */
    int64_t k = x >= t->ends ? (x - t->ends) / t->step : -1;
    int64_t lo = k * t->step + t->ends, hi = lo + t->step, y;
    if (lo == x)
        y = x;
    else if (rule->dir == MER_LAUNCH_UP)
        y = hi;
    else if (rule->dir == MER_LAUNCH_DOWN)
        y = lo;
    else
        y = (x - lo) < (hi - x) ? lo : hi; /* a tie goes up */
    if (y <= 0)
        y = t->ends > 0 ? t->ends : t->step; /* the first positive candidate */
    return y > MER_MONEY_MAX ? -1 : y;
}

void mer_launch_default_ending(const char *cur, int iso, int64_t step, mer_launch_ending_t *out)
{
    static const char *const cents99[] = {"EUR", "USD", "GBP", "CHF", "CAD", "AUD", "NZD", "SGD", "MYR", "PLN", NULL};
    int64_t unit = 1;
    for (int i = 0; i < iso; i++)
        unit *= 10;
    memset(out, 0, sizeof(*out));
    out->dir = MER_LAUNCH_NEAREST;
    out->ntiers = 1;
    mer_launch_tier_t *t = out->tiers;
    if (strcmp(cur, "INR") == 0 || strcmp(cur, "BDT") == 0) {
        t[0] = (mer_launch_tier_t){0, 10 * unit, 9 * unit};
        t[1] = (mer_launch_tier_t){10000 * unit, 1000 * unit, 999 * unit};
        out->ntiers = 2;
    } else if (strcmp(cur, "VND") == 0 || strcmp(cur, "IDR") == 0) {
        t[0] = (mer_launch_tier_t){0, 1000 * unit, 0};
    } else if (strcmp(cur, "JPY") == 0) {
        t[0] = (mer_launch_tier_t){0, 10 * unit, 0};
    } else if (strcmp(cur, "KRW") == 0) {
        t[0] = (mer_launch_tier_t){0, 100 * unit, 0};
    } else {
        bool c99 = false;
        for (const char *const *c = cents99; *c && !c99; c++)
            c99 = strcmp(*c, cur) == 0;
        t[0] = c99 && iso == 2 ? (mer_launch_tier_t){0, unit, unit - 1} : (mer_launch_tier_t){0, step, 0};
    }
    /* a payable amount: never finer than the practical step */
    for (size_t i = 0; i < out->ntiers; i++)
        if (t[i].step % step != 0 || t[i].ends % step != 0)
            t[i] = (mer_launch_tier_t){t[i].from, step, 0};
}

/* ---- the request ---- */

static bool iso_country(const char *code)
{
    for (const char *const *c = uloc_getISOCountries(); *c; c++)
        if (strcmp(*c, code) == 0)
            return true;
    return false;
}

/* Prefixes e->field with "settings." (a country parse error names the country's own field). */
static int settings_error(mer_verr_t *e)
{
    char f[sizeof(e->field)];
    snprintf(f, sizeof(f), "settings%s%.80s", e->field[0] ? "." : "", e->field);
    snprintf(e->field, sizeof(e->field), "%s", f);
    return e->code;
}

static int64_t convert_plain(int64_t amount, const mer_country_t *from, const mer_currency_t *to, int64_t step,
                             const mer_launch_rate_t *rate)
{
    int64_t v = mer_launch_convert(amount, from->currency.iso_digits, to->iso_digits, rate, 0);
    return v < 0 ? -1 : mer_money_round_step(v, step, MER_ROUND_HALF_UP);
}

/* The new country's JSON: the template's, each member of settings replacing its own. */
static int build_settings(json_t *settings, mer_launch_in_t *in, json_t **out, mer_verr_t *e)
{
    static const char *const keys[] = {"region",
                                       "names",
                                       "currency",
                                       "practical_digits",
                                       "languages",
                                       "timezone",
                                       "tax",
                                       "payment_methods",
                                       "shipping",
                                       "address",
                                       "order_timeout_minutes",
                                       "order_timeout_seconds",
                                       "invoicing",
                                       NULL};
    const char *currency = in->tpl->currency.code;
    int64_t practical = -1;
    if (mer_json_only(settings, keys, "settings", e) ||
        mer_json_str(settings, "currency", "settings.currency", 3, 3, false, &currency, e) ||
        mer_json_int(settings, "practical_digits", "settings.practical_digits", 0, 4, false, &practical, e))
        return e->code;
    if (json_object_get(settings, "names") == NULL)
        return mer_verr_set(e, MER_E_VALIDATION, "settings.names",
                            "settings.names is required: the new country's names ({\"en\": ...})");
    mer_currency_t cur;
    if (mer_currency_lookup(currency, &cur) != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "settings.currency",
                            "%s is not a currency ICU knows (an ISO 4217 code such as BDT)", currency);
    if (practical < 0)
        practical = cur.cash_digits;
    int64_t step = mer_money_step(cur.iso_digits, (int)MER_MIN(practical, cur.iso_digits));

    json_t *cfg = json_deep_copy(in->tpl->json);
    json_object_del(cfg, "code");
    json_object_del(cfg, "currency_digits");
    json_object_del(cfg, "practical_digits");
    json_object_del(cfg, "order_timeout_seconds");
    json_object_del(cfg, "invoicing"); /* the template's legal entity and invoice series are its own */
    json_object_update(cfg, settings); /* the new country's own members win */
    /* amounts the template set and settings did not: converted at the rate, rounded to a payable amount */
    if (json_object_get(settings, "shipping") == NULL) {
        int64_t fee = convert_plain(in->tpl->shipping_fee, in->tpl, &cur, step, &in->rate);
        json_t *ship = json_pack("{s:I}", "fee", (json_int_t)fee);
        if (in->tpl->free_shipping_above >= 0)
            json_object_set_new(
                ship, "free_above",
                json_integer(convert_plain(in->tpl->free_shipping_above, in->tpl, &cur, step, &in->rate)));
        json_object_set_new(cfg, "shipping", ship);
    }
    if (json_object_get(settings, "payment_methods") == NULL) {
        json_t *pays = json_array();
        for (size_t i = 0; i < in->tpl->npayments; i++) {
            json_t *p = json_pack("{s:s}", "method", in->tpl->payments[i].method);
            if (in->tpl->payments[i].max_amount > 0)
                json_object_set_new(
                    p, "max_amount",
                    json_integer(convert_plain(in->tpl->payments[i].max_amount, in->tpl, &cur, step, &in->rate)));
            json_array_append_new(pays, p);
        }
        json_object_set_new(cfg, "payment_methods", pays);
    }
    *out = cfg;
    return 0;
}

static int parse_ending(json_t *ending, const mer_country_t *c, mer_launch_ending_t *out, mer_verr_t *e)
{
    static const char *const keys[] = {"rounding", "tiers", NULL};
    static const char *const tier_keys[] = {"from", "step", "ends", NULL};
    const char *rounding = "nearest";
    json_t *tiers = NULL;
    if (mer_json_only(ending, keys, "pricing.ending", e) ||
        mer_json_str(ending, "rounding", "pricing.ending.rounding", 1, 16, false, &rounding, e) ||
        mer_json_member(ending, "tiers", "pricing.ending.tiers", JSON_ARRAY, true, &tiers, e))
        return e->code;
    memset(out, 0, sizeof(*out));
    if (strcmp(rounding, "nearest") == 0)
        out->dir = MER_LAUNCH_NEAREST;
    else if (strcmp(rounding, "up") == 0)
        out->dir = MER_LAUNCH_UP;
    else if (strcmp(rounding, "down") == 0)
        out->dir = MER_LAUNCH_DOWN;
    else
        return mer_verr_set(e, MER_E_VALIDATION, "pricing.ending.rounding",
                            "pricing.ending.rounding is nearest, up or down");
    if (json_array_size(tiers) == 0 || json_array_size(tiers) > MER_LAUNCH_MAX_TIERS)
        return mer_verr_set(e, MER_E_VALIDATION, "pricing.ending.tiers", "pricing.ending.tiers lists 1 to %d tiers",
                            MER_LAUNCH_MAX_TIERS);
    size_t i;
    json_t *v;
    json_array_foreach(tiers, i, v)
    {
        char prefix[48], field[96];
        mer_launch_tier_t *t = &out->tiers[i];
        snprintf(prefix, sizeof(prefix), "pricing.ending.tiers[%zu]", i);
        if (!json_is_object(v))
            return mer_verr_set(e, MER_E_VALIDATION, prefix, "%s must be an object", prefix);
        t->from = i == 0 ? 0 : -1;
        if (mer_json_only(v, tier_keys, prefix, e) ||
            mer_json_int(v, "from", mer_json_path(field, sizeof(field), prefix, "from"), 0, MER_MONEY_MAX, i > 0,
                         &t->from, e) ||
            mer_json_int(v, "step", mer_json_path(field, sizeof(field), prefix, "step"), 1, MER_MONEY_MAX, true,
                         &t->step, e) ||
            mer_json_int(v, "ends", mer_json_path(field, sizeof(field), prefix, "ends"), 0, MER_MONEY_MAX, false,
                         &t->ends, e))
            return e->code;
        if (i == 0 && t->from != 0)
            return mer_verr_set(e, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "from"),
                                "the first tier starts from 0");
        if (i > 0 && t->from <= out->tiers[i - 1].from)
            return mer_verr_set(e, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "from"),
                                "tiers are listed by from, ascending");
        if (t->step % c->step != 0 || t->ends % c->step != 0)
            return mer_verr_set(e, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "step"),
                                "step and ends must be multiples of %lld minor units of %s (its smallest payable "
                                "amount)",
                                (long long)c->step, c->currency.code);
        if (t->ends >= t->step)
            return mer_verr_set(e, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "ends"),
                                "ends must be less than step");
        out->ntiers++;
    }
    return 0;
}

static json_t *ending_json(const mer_launch_ending_t *r)
{
    static const char *const dirs[] = {"nearest", "up", "down"};
    json_t *tiers = json_array();
    for (size_t i = 0; i < r->ntiers; i++)
        json_array_append_new(tiers, json_pack("{s:I,s:I,s:I}", "from", (json_int_t)r->tiers[i].from, "step",
                                               (json_int_t)r->tiers[i].step, "ends", (json_int_t)r->tiers[i].ends));
    return json_pack("{s:s,s:o}", "rounding", dirs[r->dir], "tiers", tiers);
}

static bool slug_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

static int parse_pricing(json_t *pricing, mer_launch_in_t *in, mer_verr_t *e)
{
    static const char *const keys[] = {"exchange_rate", "markups", "ending", NULL};
    json_t *rate = json_object_get(pricing, "exchange_rate"), *markups = NULL, *ending = NULL;
    if (mer_json_only(pricing, keys, "pricing", e) ||
        mer_json_member(pricing, "markups", "pricing.markups", JSON_OBJECT, false, &markups, e) ||
        mer_json_member(pricing, "ending", "pricing.ending", JSON_OBJECT, false, &ending, e))
        return e->code;
    if (rate == NULL)
        return mer_verr_set(e, MER_E_VALIDATION, "pricing.exchange_rate",
                            "pricing.exchange_rate is required: units of the new currency for one of the template's, "
                            "as an exact decimal (\"1.42\") or fraction (\"71/50\") string");
    if (!json_is_string(rate) || mer_launch_parse_rate(json_string_value(rate), &in->rate) != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "pricing.exchange_rate",
                            "pricing.exchange_rate must be a positive decimal (\"1.42\") or fraction (\"71/50\") "
                            "string, each part at most 10^12 (no floating-point numbers: money is exact)");
    if (json_object_size(markups) > MER_LAUNCH_MAX_MARKUPS)
        return mer_verr_set(e, MER_E_VALIDATION, "pricing.markups", "at most %d markups", MER_LAUNCH_MAX_MARKUPS);
    const char *slug;
    json_t *v;
    json_object_foreach(markups, slug, v)
    {
        char field[96];
        snprintf(field, sizeof(field), "pricing.markups.%.64s", slug);
        if (!slug_ok(slug))
            return mer_verr_set(e, MER_E_VALIDATION, field, "markups are keyed by category slug");
        if (!json_is_integer(v) || json_integer_value(v) < MER_LAUNCH_MARKUP_MIN ||
            json_integer_value(v) > MER_LAUNCH_MARKUP_MAX)
            return mer_verr_set(e, MER_E_VALIDATION, field,
                                "%s is a whole number of basis points from %d to %d (500 = +5%%)", field,
                                MER_LAUNCH_MARKUP_MIN, MER_LAUNCH_MARKUP_MAX);
        mer_launch_markup_t *m = &in->markups[in->nmarkups++];
        snprintf(m->category, sizeof(m->category), "%s", slug);
        m->bp = (int)json_integer_value(v);
    }
    return 0;
}

static int parse_assortment(json_t *as, mer_launch_in_t *in, mer_verr_t *e)
{
    static const char *const keys[] = {"categories", NULL};
    json_t *cats = NULL;
    if (mer_json_only(as, keys, "assortment", e) ||
        mer_json_member(as, "categories", "assortment.categories", JSON_ARRAY, true, &cats, e))
        return e->code;
    if (json_array_size(cats) == 0 || json_array_size(cats) > MER_LAUNCH_MAX_CATEGORIES)
        return mer_verr_set(e, MER_E_VALIDATION, "assortment.categories",
                            "assortment.categories lists 1 to %d category slugs", MER_LAUNCH_MAX_CATEGORIES);
    size_t i;
    json_t *v;
    json_array_foreach(cats, i, v)
    {
        if (!json_is_string(v) || !slug_ok(json_string_value(v)))
            return mer_verr_set(e, MER_E_VALIDATION, "assortment.categories",
                                "assortment.categories[%zu] is not a category slug", i);
        snprintf(in->categories[in->ncategories++], sizeof(in->categories[0]), "%s", json_string_value(v));
    }
    return 0;
}

int mer_launch_parse(json_t *body, const char *code, const mer_countries_t *cs, bool allow_plan_id, mer_launch_in_t *in,
                     mer_verr_t *e)
{
    static const char *const keys[] = {"template", "settings", "pricing", "assortment", "plan_id", NULL};
    static const char *const plan_keys[] = {"template", "settings", "pricing", "assortment", NULL};
    const char *tpl = NULL, *plan_id = NULL;
    json_t *settings = NULL, *pricing = NULL, *assortment = NULL, *cfg = NULL;
    if (!json_is_object(body))
        return mer_verr_set(e, MER_E_VALIDATION, "", "a launch request is a JSON object");
    if (strlen(code) != 2 || !isupper((unsigned char)code[0]) || !isupper((unsigned char)code[1]) || !iso_country(code))
        return mer_verr_set(e, MER_E_VALIDATION, "code",
                            "%.8s is not an ISO 3166-1 country code (two upper-case "
                            "letters, e.g. BD)",
                            code);
    memcpy(in->code, code, 3);
    if (mer_json_only(body, allow_plan_id ? keys : plan_keys, "", e) ||
        mer_json_str(body, "template", "template", 2, 2, true, &tpl, e) ||
        mer_json_member(body, "settings", "settings", JSON_OBJECT, true, &settings, e) ||
        mer_json_member(body, "pricing", "pricing", JSON_OBJECT, true, &pricing, e) ||
        mer_json_member(body, "assortment", "assortment", JSON_OBJECT, false, &assortment, e) ||
        mer_json_str(body, "plan_id", "plan_id", 64, 64, false, &plan_id, e))
        return e->code;
    if (mer_country_find_any(cs, code, 2))
        return mer_verr_set(e, MER_E_ALREADY_EXISTS, "code", "%s is a country of this store already", code);
    in->tpl = mer_country_find_any(cs, tpl, 2);
    if (in->tpl == NULL)
        return mer_verr_set(e, MER_E_VALIDATION, "template", "template %.8s is not a country of this store", tpl);
    if (plan_id)
        snprintf(in->plan_id, sizeof(in->plan_id), "%s", plan_id);
    if (parse_pricing(pricing, in, e) || (assortment && parse_assortment(assortment, in, e)) ||
        build_settings(settings, in, &cfg, e))
        return e->code;
    int err = mer_country_parse(cfg, code, &in->country, e);
    json_decref(cfg);
    if (err)
        return settings_error(e);
    if (mer_region_find(cs, in->country.region) == NULL)
        return mer_verr_set(e, MER_E_VALIDATION, "settings.region", "region %s does not exist", in->country.region);
    json_t *ending = json_object_get(pricing, "ending");
    if (ending) {
        if (parse_ending(ending, &in->country, &in->ending, e))
            return e->code;
    } else {
        in->ending_default = true;
        mer_launch_default_ending(in->country.currency.code, in->country.currency.iso_digits, in->country.step,
                                  &in->ending);
    }
    in->config = mer_json_dump(in->country.json, NULL);
    /* the rules as understood: stored with the launch, shown in the plan */
    char rate[64];
    mer_launch_rate_text(&in->rate, rate, sizeof(rate));
    json_t *markups = json_object(), *cats = json_array();
    for (size_t i = 0; i < in->nmarkups; i++)
        json_object_set_new(markups, in->markups[i].category, json_integer(in->markups[i].bp));
    for (size_t i = 0; i < in->ncategories; i++)
        json_array_append_new(cats, json_string(in->categories[i]));
    in->request = json_pack("{s:s,s:O,s:{s:s,s:o,s:o,s:b},s:o}", "template", in->tpl->code, "settings",
                            in->country.json, "pricing", "exchange_rate", rate, "markups", markups, "ending",
                            ending_json(&in->ending), "ending_default", in->ending_default, "assortment", cats);
    return 0;
}

void mer_launch_in_release(mer_launch_in_t *in)
{
    mer_country_release(&in->country);
    free(in->config);
    json_decref(in->request);
    in->config = NULL;
    in->request = NULL;
}

/* ---- the plan ---- */

static const mer_cat_category_t *category_by_slug(const mer_catalog_t *cat, const char *slug)
{
    for (size_t i = 0; i < cat->ncategories; i++)
        if (strcmp(cat->categories[i].slug, slug) == 0)
            return &cat->categories[i];
    return NULL;
}

/* Is category c, or one of its ancestors, ancestor? */
static bool within(const mer_catalog_t *cat, const mer_cat_category_t *c, int64_t ancestor)
{
    for (int depth = 0; c && depth < 16; depth++) {
        if (c->id == ancestor)
            return true;
        c = c->parent_id ? mer_catalog_category(cat, c->parent_id) : NULL;
    }
    return false;
}

/* The markup of the product's category or its nearest ancestor that has one (0: none). */
static int markup_of(const mer_launch_in_t *in, const mer_catalog_t *cat, const mer_cat_category_t *c)
{
    for (int depth = 0; c && depth < 16; depth++) {
        for (size_t i = 0; i < in->nmarkups; i++)
            if (strcmp(in->markups[i].category, c->slug) == 0)
                return in->markups[i].bp;
        c = c->parent_id ? mer_catalog_category(cat, c->parent_id) : NULL;
    }
    return 0;
}

static bool product_sold(const mer_cat_product_t *p, const char *country)
{
    if (!p->active)
        return false;
    for (size_t i = 0; i < p->nskus; i++)
        if (mer_catalog_price(&p->skus[i], country) >= 0)
            return true;
    return false;
}

/* Does a sold product use attribute key ("colour") or value ("colour=black") on one of its SKUs? */
static bool attr_used(const mer_cat_product_t *p, const char *attr)
{
    const char *eq = strchr(attr, '=');
    size_t klen = eq ? (size_t)(eq - attr) : strlen(attr);
    for (size_t s = 0; s < p->nskus; s++)
        for (size_t a = 0; a < p->skus[s].nattrs; a++) {
            const mer_cat_attr_t *x = &p->skus[s].attrs[a];
            if (strlen(x->key) == klen && memcmp(x->key, attr, klen) == 0 && (!eq || strcmp(x->value, eq + 1) == 0))
                return true;
        }
    return false;
}

typedef struct gaps {
    const mer_catalog_t *cat;
    const bool *sold; /* by index in cat->products */
    const char *lang;
    json_t *blockers; /* NULL: only count */
    size_t n;
} gaps_t;

/* One missing or outdated text of the catalogue (catalog/translation.h): a blocker when it is missing and
 * shoppers of the country would see it (a sold product's text, the category or an attribute of one). */
static void gap(const mer_tr_text_t *t, void *arg)
{
    gaps_t *g = arg;
    if (t->state != MER_TR_MISSING)
        return; /* an outdated text still shows its earlier translation */
    const mer_catalog_t *cat = g->cat;
    const mer_cat_product_t *p = NULL;
    bool shown = false;
    switch (t->kind) {
    case MER_TR_PRODUCT_NAME:
    case MER_TR_PRODUCT_DESCRIPTION:
        p = mer_catalog_product(cat, t->ref);
        shown = p && g->sold[p - cat->products];
        break;
    case MER_TR_CATEGORY_NAME:
        for (size_t i = 0; i < cat->nproducts && !shown; i++) {
            const mer_cat_category_t *c = cat->products[i].category;
            shown = g->sold[i] && c && (c->id == t->ref || c->parent_id == t->ref);
        }
        break;
    case MER_TR_ATTR_NAME:
    case MER_TR_ATTR_VALUE:
        for (size_t i = 0; i < cat->nproducts && !shown; i++)
            shown = g->sold[i] && t->attr && attr_used(&cat->products[i], t->attr);
        break;
    default: /* flash-sale titles belong to a sale, which a launching country has none of */
        break;
    }
    if (!shown)
        return;
    g->n++;
    if (g->blockers == NULL)
        return;
    json_t *b = json_pack("{s:s,s:s,s:s,s:s}", "kind", "text_missing", "id", t->id, "text", mer_tr_kind_name(t->kind),
                          "language", g->lang);
    if (p) {
        json_object_set_new(b, "product_id", json_integer(p->id));
        json_object_set_new(b, "product", json_string(p->slug));
        json_object_set_new(b, "field", json_string(t->kind == MER_TR_PRODUCT_NAME ? "name" : "description"));
    }
    json_array_append_new(g->blockers, b);
}

size_t mer_launch_missing_texts(const mer_catalog_t *cat, const bool *sold, const char *lang, json_t *blockers)
{
    if (strcmp(lang, "en") == 0) /* the source language: every text has it */
        return 0;
    gaps_t g = {cat, sold, lang, blockers, 0};
    mer_translation_each(cat, lang, true, gap, &g);
    return g.n;
}

static void add_problem(json_t *problems, const char *code, json_t *extra, const char *fmt, ...) MER_PRINTF(4, 5);
static void add_problem(json_t *problems, const char *code, json_t *extra, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *p = json_pack("{s:s,s:s}", "code", code, "message", msg);
    if (extra)
        json_object_update(p, extra);
    json_decref(extra);
    json_array_append_new(problems, p);
}

int mer_launch_plan(const mer_launch_in_t *in, const mer_catalog_t *cat, mer_launch_plan_t *plan, mer_verr_t *e)
{
    const mer_country_t *c = &in->country, *t = in->tpl;
    int64_t cat_ids[MER_LAUNCH_MAX_CATEGORIES];
    memset(plan, 0, sizeof(*plan));
    for (size_t i = 0; i < in->nmarkups; i++)
        if (category_by_slug(cat, in->markups[i].category) == NULL) {
            char field[96];
            snprintf(field, sizeof(field), "pricing.markups.%.64s", in->markups[i].category);
            return mer_verr_set(e, MER_E_VALIDATION, field, "no category with slug %s", in->markups[i].category);
        }
    for (size_t i = 0; i < in->ncategories; i++) {
        const mer_cat_category_t *cc = category_by_slug(cat, in->categories[i]);
        if (cc == NULL)
            return mer_verr_set(e, MER_E_VALIDATION, "assortment.categories", "no category with slug %s",
                                in->categories[i]);
        cat_ids[i] = cc->id;
    }

    char loc[MER_LOCALE_MAX];
    mer_country_locale(c, c->languages[0], loc);
    json_t *lines = json_array(), *problems = json_array(), *reasons = json_object();
    size_t total = 0, cap = 64;
    bool *sold = mer_xcalloc(cat->nproducts ? cat->nproducts : 1, sizeof(*sold));
    char missing_classes[MER_MAX_TAX_RATES][24];
    size_t nmissing = 0;
    plan->prices = mer_xcalloc(cap, sizeof(*plan->prices));
    for (size_t i = 0; i < cat->nproducts; i++) {
        const mer_cat_product_t *p = &cat->products[i];
        bool in_assortment = in->ncategories == 0, sells_any = false;
        for (size_t k = 0; k < in->ncategories && !in_assortment; k++)
            in_assortment = within(cat, p->category, cat_ids[k]);
        int markup = markup_of(in, cat, p->category);
        for (size_t s = 0; s < p->nskus; s++) {
            const mer_cat_sku_t *sku = &p->skus[s];
            int64_t tp = mer_catalog_price(sku, t->code), conv = -1, fin = -1;
            const char *reason = NULL;
            total++;
            if (!p->active)
                reason = "product_inactive";
            else if (!in_assortment)
                reason = "not_in_assortment";
            else if (tp < 0)
                reason = "not_sold_in_template";
            else if ((conv = mer_launch_convert(tp, t->currency.iso_digits, c->currency.iso_digits, &in->rate,
                                                markup)) < 0 ||
                     (fin = mer_launch_ending(conv, &in->ending)) < 0)
                reason = "price_out_of_range";
            json_t *line =
                json_pack("{s:s,s:I,s:s,s:s,s:b}", "sku", sku->code, "product_id", (json_int_t)p->id, "product",
                          p->slug, "category", p->category ? p->category->slug : "", "sell", reason == NULL);
            json_object_set_new(line, "template_price", tp >= 0 ? json_integer(tp) : json_null());
            if (reason) {
                json_object_set_new(line, "reason", json_string(reason));
                json_object_set_new(reasons, reason,
                                    json_integer(json_integer_value(json_object_get(reasons, reason)) + 1));
                if (strcmp(reason, "price_out_of_range") == 0)
                    add_problem(problems, "price_out_of_range", json_pack("{s:s}", "sku", sku->code),
                                "the price of %s would exceed the largest amount (%lld minor units)", sku->code,
                                (long long)MER_MONEY_MAX);
            } else {
                char text[96];
                mer_money_format(fin, c->currency.code, c->currency.iso_digits, c->practical_digits, loc, text,
                                 sizeof(text));
                json_object_set_new(line, "markup_bp", json_integer(markup));
                json_object_set_new(line, "converted", json_integer(conv));
                json_object_set_new(line, "final", json_integer(fin));
                json_object_set_new(line, "final_formatted", json_string(text));
                if (plan->nprices == cap) {
                    cap *= 2;
                    plan->prices = mer_xrealloc(plan->prices, cap * sizeof(*plan->prices));
                }
                plan->prices[plan->nprices++] = (mer_launch_price_t){sku->id, fin};
                sells_any = true;
            }
            json_array_append_new(lines, line);
        }
        if (!sells_any)
            continue;
        if (mer_country_tax_rate(c, p->tax_class) < 0) {
            bool seen = false;
            for (size_t k = 0; k < nmissing; k++)
                seen = seen || strcmp(missing_classes[k], p->tax_class) == 0;
            if (!seen && nmissing < MER_MAX_TAX_RATES)
                snprintf(missing_classes[nmissing++], sizeof(missing_classes[0]), "%s", p->tax_class);
        }
        sold[i] = true;
    }
    for (size_t k = 0; k < nmissing; k++)
        add_problem(problems, "tax_rate_missing", json_pack("{s:s}", "tax_class", missing_classes[k]),
                    "products in the assortment have tax class %s, for which %s has no rate (settings.tax.rates)",
                    missing_classes[k], c->code);
    for (size_t l = 0; l < c->nlanguages; l++) {
        size_t missing = mer_launch_missing_texts(cat, sold, c->languages[l], NULL);
        if (missing)
            add_problem(problems, "texts_missing",
                        json_pack("{s:s,s:I}", "language", c->languages[l], "count", (json_int_t)missing),
                        "%zu texts are missing in %s; opening waits for them (readiness)", missing, c->languages[l]);
    }
    free(sold);
    if (c->tax_inclusive != t->tax_inclusive)
        add_problem(problems, "tax_convention_differs", NULL,
                    "%s enters prices %s tax and %s %s tax: prices are converted as entered (use markups to adjust)",
                    t->code, t->tax_inclusive ? "with" : "without", c->code, c->tax_inclusive ? "with" : "without");
    if (plan->nprices == 0)
        add_problem(problems, "nothing_sold", NULL, "no SKU would be sold in %s", c->code);

    json_t *out = json_pack("{s:s,s:s,s:s,s:O,s:O,s:{s:I,s:I,s:I,s:o},s:o,s:o}", "country", c->code, "template",
                            t->code, "status", "plan", "settings", c->json, "pricing",
                            json_object_get(in->request, "pricing"), "summary", "skus", (json_int_t)total, "sold",
                            (json_int_t)plan->nprices, "not_sold", (json_int_t)(total - plan->nprices),
                            "not_sold_by_reason", reasons, "problems", problems, "skus", lines);
    json_object_set(out, "assortment", json_object_get(in->request, "assortment"));
    /* the id: a hash of everything the plan says, as serialised (members in the order built, which depends
     * only on the inputs), so that equal plans have equal ids; the answer is that text with the id added */
    size_t n;
    char *text = mer_json_dump(out, &n);
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), (const unsigned char *)text, n, NULL, 0);
    sodium_bin2hex(plan->id, sizeof(plan->id), h, sizeof(h));
    plan->text = mer_xcalloc(1, n + 96);
    plan->len = (size_t)snprintf(plan->text, n + 96, "%.*s,\"plan_id\":\"%s\"}", (int)(n - 1), text, plan->id);
    free(text);
    json_object_set_new(out, "plan_id", json_string(plan->id));
    plan->json = out;
    return 0;
}

void mer_launch_plan_release(mer_launch_plan_t *plan)
{
    json_decref(plan->json);
    free(plan->text);
    free(plan->prices);
    memset(plan, 0, sizeof(*plan));
}

/* ---- apply ---- */

int mer_launch_apply(mer_db_t *db, const mer_launch_in_t *in, int64_t who, int64_t now, mer_launch_plan_t *out,
                     mer_verr_t *e)
{
    int64_t have = 0;
    memset(out, 0, sizeof(*out)); /* released by the caller whatever happens */
    int err = mer_db_query_int(db, &have, "SELECT COUNT(*) FROM country WHERE code = ?", "s", in->code);
    if (err)
        return err;
    if (have)
        return mer_verr_set(e, MER_E_ALREADY_EXISTS, "code", "%s is a country of this store already", in->code);
    const mer_catalog_t *cat = mer_catalog_lock();
    err = mer_launch_plan(in, cat, out, e);
    mer_catalog_unlock();
    if (err)
        return err;
    if (in->plan_id[0] && strcmp(in->plan_id, out->id) != 0)
        return mer_verr_set(e, MER_E_CONFLICT, "plan_id",
                            "the plan changed since it was shown (the catalogue or the rules differ): plan again, "
                            "check it, and apply the new plan_id");
    if (out->nprices == 0)
        return mer_verr_set(e, MER_E_VALIDATION, "assortment", "the plan sells nothing in %s", in->code);
    if (mer_db_exec(db,
                    "INSERT INTO country (code, region, config, updated_at, status) VALUES (?, ?, ?, ?, 'launching')",
                    "sssi", in->code, in->country.region, in->config, now) < 0)
        return MER_E_INTERNAL;
    for (size_t i = 0; i < out->nprices; i++)
        if (mer_db_exec(db, "INSERT INTO price (sku_id, country, amount, updated_at) VALUES (?, ?, ?, ?)", "isii",
                        out->prices[i].sku_id, in->code, out->prices[i].amount, now) < 0)
            return MER_E_INTERNAL;
    char *request = mer_json_dump(in->request, NULL);
    err = mer_db_exec(db,
                      "INSERT INTO country_launch (country, template, plan_id, request, skus, applied_by, applied_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      "ssssiii", in->code, in->tpl->code, out->id, request, (int64_t)out->nprices, who, now);
    free(request);
    if (err < 0)
        return MER_E_INTERNAL;
    return (err = mer_catalog_changed(db)) != 0 ? err : mer_countries_changed(db);
}

/* ---- readiness and opening ---- */

int mer_launch_readiness(mer_db_t *region_db, const mer_country_t *c, json_t **out)
{
    json_t *blockers = json_array();
    size_t cap = 64, nsold = 0, nclasses = 0;
    int64_t *sold = mer_xcalloc(cap, sizeof(*sold));
    char classes[MER_MAX_TAX_RATES][24];
    size_t class_products[MER_MAX_TAX_RATES] = {0};

    const mer_catalog_t *cat = mer_catalog_lock();
    bool *shown = mer_xcalloc(cat->nproducts ? cat->nproducts : 1, sizeof(*shown));
    for (size_t i = 0; i < cat->nproducts; i++)
        shown[i] = product_sold(&cat->products[i], c->code);
    for (size_t l = 0; l < c->nlanguages; l++)
        mer_launch_missing_texts(cat, shown, c->languages[l], blockers);
    free(shown);
    for (size_t i = 0; i < cat->nproducts; i++) {
        const mer_cat_product_t *p = &cat->products[i];
        if (!product_sold(p, c->code))
            continue;
        for (size_t s = 0; s < p->nskus; s++) {
            if (mer_catalog_price(&p->skus[s], c->code) < 0) {
                json_array_append_new(blockers, json_pack("{s:s,s:s,s:s}", "kind", "sku_unpriced", "sku",
                                                          p->skus[s].code, "product", p->slug));
                continue;
            }
            if (nsold == cap) {
                cap *= 2;
                sold = mer_xrealloc(sold, cap * sizeof(*sold));
            }
            sold[nsold++] = p->skus[s].id;
        }
        if (mer_country_tax_rate(c, p->tax_class) < 0) {
            size_t k = 0;
            while (k < nclasses && strcmp(classes[k], p->tax_class) != 0)
                k++;
            if (k == nclasses && nclasses < MER_MAX_TAX_RATES)
                snprintf(classes[nclasses++], sizeof(classes[0]), "%s", p->tax_class);
            if (k < nclasses)
                class_products[k]++;
        }
    }
    mer_catalog_unlock();

    int err = 0;
    /* stock from the region database, outside the catalogue's lock (the inventory module's query) */
    for (size_t i = 0; i < nsold && err == 0; i++) {
        int64_t units = 0;
        err = mer_stock_available(region_db, sold[i], c->code, &units);
        if (err == 0 && units <= 0) {
            const mer_catalog_t *cat2 = mer_catalog_lock();
            const mer_cat_sku_t *sku = mer_catalog_sku_by_id(cat2, sold[i]);
            if (sku)
                json_array_append_new(blockers, json_pack("{s:s,s:s,s:s}", "kind", "no_stock", "sku", sku->code,
                                                          "product", sku->product->slug));
            mer_catalog_unlock();
        }
    }
    free(sold);
    if (err) {
        json_decref(blockers);
        return err;
    }
    for (size_t i = 0; i < c->npayments; i++)
        if (strcmp(c->payments[i].method, "cod") != 0 && mer_payment_provider(c->payments[i].method) == NULL)
            json_array_append_new(
                blockers, json_pack("{s:s,s:s}", "kind", "payment_provider_missing", "method", c->payments[i].method));
    for (size_t k = 0; k < nclasses; k++)
        json_array_append_new(blockers, json_pack("{s:s,s:s,s:I}", "kind", "tax_rate_missing", "tax_class", classes[k],
                                                  "products", (json_int_t)class_products[k]));
    if (nsold == 0)
        json_array_append_new(blockers, json_pack("{s:s}", "kind", "nothing_sold"));
    if (json_object_get(c->json, "invoicing") == NULL) /* no seller to name on tax invoices (invoice/invoice.h) */
        json_array_append_new(blockers, json_pack("{s:s}", "kind", "invoicing_missing"));
    json_t *counts = json_object();
    size_t i;
    json_t *b;
    json_array_foreach(blockers, i, b)
    {
        const char *kind = json_string_value(json_object_get(b, "kind"));
        json_object_set_new(counts, kind, json_integer(json_integer_value(json_object_get(counts, kind)) + 1));
    }
    *out = json_pack("{s:s,s:s,s:b,s:I,s:o,s:o}", "country", c->code, "status", c->launching ? "launching" : "open",
                     "ready", json_array_size(blockers) == 0, "skus_sold", (json_int_t)nsold, "counts", counts,
                     "blockers", blockers);
    return 0;
}

int mer_launch_open(mer_db_t *db, const char *code, int64_t who, bool forced, const char *reason, json_t *blockers,
                    int64_t now, mer_verr_t *e)
{
    int n =
        mer_db_exec(db, "UPDATE country SET status = 'open', updated_at = ? WHERE code = ? AND status = 'launching'",
                    "is", now, code);
    if (n < 0)
        return n;
    if (n == 0)
        return mer_verr_set(e, MER_E_CONFLICT, "country", "%s is open already", code);
    char *b = blockers && forced ? mer_json_dump(blockers, NULL) : NULL;
    n = mer_db_exec(db,
                    "UPDATE country_launch SET opened_by = ?, opened_at = ?, forced = ?, force_reason = ?, "
                    "blockers_at_open = ? WHERE country = ?",
                    "iiisss", who, now, (int64_t)forced, reason ? reason : "", b, code);
    free(b);
    if (n < 0)
        return n;
    /* product answers of the country become reachable: drop cached ones (the catalogue's change) */
    return (n = mer_catalog_changed(db)) != 0 ? n : mer_countries_changed(db);
}
