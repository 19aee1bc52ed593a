#include "region/country.h"

#include <ctype.h>
#include <stdio.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "core/jsonw.h"
#include "core/banned.h"

static const struct {
    const char *name;
    mer_addr_field_t bit;
} addr_fields[] = {
    {"name", MER_ADDR_NAME},   {"line1", MER_ADDR_LINE1},        {"line2", MER_ADDR_LINE2}, {"city", MER_ADDR_CITY},
    {"state", MER_ADDR_STATE}, {"postal_code", MER_ADDR_POSTAL}, {"phone", MER_ADDR_PHONE},
};

static const char *const payment_methods[] = {"card", "wallet", "cod", NULL};

static bool valid_timezone(const char *tz)
{
    UChar utz[64], canon[64];
    UErrorCode st = U_ZERO_ERROR;
    UBool is_system = 0;
    size_t n = strlen(tz);
    if (n == 0 || n >= MER_ARRAY_LEN(utz))
        return false;
    u_uastrncpy(utz, tz, (int32_t)MER_ARRAY_LEN(utz));
    ucal_getCanonicalTimeZoneID(utz, (int32_t)n, canon, (int32_t)MER_ARRAY_LEN(canon), &is_system, &st);
    return U_SUCCESS(st) && is_system;
}

bool mer_region_name_ok(const char *s, size_t n)
{
    if (n < 2 || n >= MER_REGION_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/*
 * glibc's regcomp() copies a repeated expression once per repetition, and copies the copies for each
 * repetition stacked on it, so a short pattern can take gigabytes to compile: "a+++…+" (found by
 * fuzz/country.c: 120 '+' went over 2 GB), "((a{99}){99}){99}". Back-references make matching
 * exponential. A postal-code or phone pattern needs none of that, so before regcomp() sees a pattern its
 * expanded size is estimated — an atom counts 1, a group the sum of its parts, a repetition multiplies
 * what it repeats by its upper bound plus one (2 for *, + and ?) — and must stay within
 * PATTERN_MAX_COST. The seed countries' patterns cost at most 40. A repetition of a repetition ("a*+",
 * "a{2}+") is refused outright: it adds nothing a postal code or phone pattern needs, and a run of them
 * keeps regcomp() busy for seconds building epsilon closures even when the expanded size is small
 * (fuzz/country.c found "\\+*+++++++=+++++++++..." at a cost of ~650 taking over 15 s).
 */
#define PATTERN_MAX_COST 1000
#define PATTERN_MAX_DEPTH 8

static size_t cost_mul(size_t a, size_t b)
{
    return a > (PATTERN_MAX_COST + 1) / (b ? b : 1) ? PATTERN_MAX_COST + 1 : a * b;
}

/* The estimated expanded size of an ERE, or more than PATTERN_MAX_COST (also for back-references). */
static size_t pattern_cost(const char *p)
{
    size_t sum[PATTERN_MAX_DEPTH + 1] = {0}; /* cost of each open group so far */
    size_t depth = 0, last = 0;              /* last: cost of the atom a repetition would apply to */
    bool repeated = false;                   /* the last element was a repetition */
    for (size_t i = 0; p[i]; i++) {
        size_t times = 0; /* > 0: p[i] is a repetition of the last atom */
        if (p[i] == '\\') {
            if (p[i + 1] >= '1' && p[i + 1] <= '9')
                return PATTERN_MAX_COST + 1;
            if (p[i + 1])
                i++;
            last = 1;
        } else if (p[i] == '[') {
            size_t j = i + 1;
            if (p[j] == '^')
                j++;
            if (p[j] == ']')
                j++;
            while (p[j] && p[j] != ']') {
                if (p[j] == '[' && (p[j + 1] == ':' || p[j + 1] == '=' || p[j + 1] == '.')) {
                    const char *close = strchr(p + j + 2, p[j + 1]);
                    j = close && close[1] == ']' ? (size_t)(close - p) + 2 : j + 1;
                } else {
                    j++;
                }
            }
            if (!p[j])
                return 1; /* unterminated: regcomp() refuses it */
            i = j;
            last = 1;
        } else if (p[i] == '(') {
            if (depth == PATTERN_MAX_DEPTH)
                return PATTERN_MAX_COST + 1;
            sum[++depth] = 0;
            last = 0;
            continue;
        } else if (p[i] == ')' && depth > 0) {
            last = sum[depth--];
        } else if (p[i] == '|') {
            last = 0;
            continue;
        } else if (p[i] == '*' || p[i] == '+' || p[i] == '?') {
            times = 2;
        } else if (p[i] == '{' && p[i + 1] >= '0' && p[i + 1] <= '9') {
            char *end;
            unsigned long n = strtoul(p + i + 1, &end, 10);
            if (*end == ',' && end[1] >= '0' && end[1] <= '9')
                n = strtoul(end + 1, &end, 10);
            else if (*end == ',')
                end++;
            if (*end != '}')
                return 1; /* a malformed interval: regcomp() refuses it */
            times = n >= PATTERN_MAX_COST ? PATTERN_MAX_COST + 1 : (size_t)n + 1;
            i = (size_t)(end - p);
        } else {
            last = 1;
        }
        if (times && repeated)
            return PATTERN_MAX_COST + 1;
        repeated = times > 0;
        if (times) {
            /* the repeated atom is already in the sum once: replace it by its copies */
            size_t grown = cost_mul(last, times);
            sum[depth] = sum[depth] - last + grown;
            last = grown;
        } else {
            sum[depth] += last;
        }
        if (sum[depth] > PATTERN_MAX_COST)
            return PATTERN_MAX_COST + 1;
    }
    return depth ? 1 : sum[0]; /* an unclosed group: regcomp() refuses it */
}

static int compile_pattern(const char *pat, regex_t *re, const char *field, mer_verr_t *e)
{
    if (pattern_cost(pat) > PATTERN_MAX_COST)
        return mer_verr_set(e, MER_E_VALIDATION, field,
                            "%s is too complex: no back-references, and repetitions that expand to at most %d "
                            "elements (a postal code or phone pattern needs far fewer)",
                            field, PATTERN_MAX_COST);
    int rc = regcomp(re, pat, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, re, msg, sizeof(msg));
        return mer_verr_set(e, MER_E_VALIDATION, field, "%s is not a valid POSIX extended regular expression: %s",
                            field, msg);
    }
    return 0;
}

static int parse_tax(json_t *tax, mer_country_t *c, mer_verr_t *e)
{
    static const char *const keys[] = {"inclusive", "rounding", "per_line", "split", "rates", "name", NULL};
    const char *rounding = "half_up", *split = "none", *name = "VAT";
    json_t *rates = NULL;
    bool per_line = true;

    if (mer_json_only(tax, keys, "tax", e) ||
        mer_json_bool(tax, "inclusive", "tax.inclusive", true, &c->tax_inclusive, e) ||
        mer_json_str(tax, "rounding", "tax.rounding", 1, 16, false, &rounding, e) ||
        mer_json_bool(tax, "per_line", "tax.per_line", false, &per_line, e) ||
        mer_json_str(tax, "split", "tax.split", 1, 8, false, &split, e) ||
        mer_json_str(tax, "name", "tax.name", 1, 7, false, &name, e) ||
        mer_json_member(tax, "rates", "tax.rates", JSON_OBJECT, true, &rates, e))
        return e->code;
    if (mer_rounding_parse(rounding, &c->rounding) != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "tax.rounding", "tax.rounding must be half_up, half_even, up or down");
    c->round_per_line = per_line;
    snprintf(c->tax_name, sizeof(c->tax_name), "%s", name);
    if (strcmp(split, "none") == 0)
        c->tax_split = MER_TAX_SPLIT_NONE;
    else if (strcmp(split, "gst") == 0)
        c->tax_split = MER_TAX_SPLIT_GST;
    else
        return mer_verr_set(e, MER_E_VALIDATION, "tax.split", "tax.split must be none or gst");
    const char *cls;
    json_t *v;
    json_object_foreach(rates, cls, v)
    {
        char field[96];
        snprintf(field, sizeof(field), "tax.rates.%s", cls);
        if (c->nrates >= MER_MAX_TAX_RATES)
            return mer_verr_set(e, MER_E_VALIDATION, "tax.rates", "at most %d tax classes", MER_MAX_TAX_RATES);
        size_t n = strlen(cls);
        if (n == 0 || n >= sizeof(c->rates[0].tax_class))
            return mer_verr_set(e, MER_E_VALIDATION, field, "tax class names are 1 to 23 characters");
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10000)
            return mer_verr_set(e, MER_E_VALIDATION, field, "%s must be an integer rate in basis points (0..10000)",
                                field);
        snprintf(c->rates[c->nrates].tax_class, sizeof(c->rates[0].tax_class), "%s", cls);
        c->rates[c->nrates++].rate_bp = (int)json_integer_value(v);
    }
    if (mer_country_tax_rate(c, "standard") < 0)
        return mer_verr_set(e, MER_E_VALIDATION, "tax.rates.standard", "a standard tax rate is required");
    return 0;
}

static int parse_payments(json_t *arr, mer_country_t *c, mer_verr_t *e)
{
    static const char *const keys[] = {"method", "max_amount", NULL};
    size_t i;
    json_t *v;
    if (json_array_size(arr) == 0)
        return mer_verr_set(e, MER_E_VALIDATION, "payment_methods", "at least one payment method is required");
    json_array_foreach(arr, i, v)
    {
        char prefix[48], field[96];
        const char *method = NULL;
        int64_t max = 0;
        snprintf(prefix, sizeof(prefix), "payment_methods[%zu]", i);
        if (i >= MER_MAX_PAYMENTS)
            return mer_verr_set(e, MER_E_VALIDATION, "payment_methods", "at most %d payment methods", MER_MAX_PAYMENTS);
        if (!json_is_object(v))
            return mer_verr_set(e, MER_E_VALIDATION, prefix, "%s must be an object", prefix);
        if (mer_json_only(v, keys, prefix, e) ||
            mer_json_str(v, "method", mer_json_path(field, sizeof(field), prefix, "method"), 1, 15, true, &method, e) ||
            mer_json_int(v, "max_amount", mer_json_path(field, sizeof(field), prefix, "max_amount"), 0, MER_MONEY_MAX,
                         false, &max, e))
            return e->code;
        bool known = false;
        for (const char *const *m = payment_methods; *m; m++)
            if (strcmp(*m, method) == 0)
                known = true;
        if (!known)
            return mer_verr_set(e, MER_E_VALIDATION, mer_json_path(field, sizeof(field), prefix, "method"),
                                "unknown payment method %s (card, wallet or cod)", method);
        if (mer_country_payment(c, method))
            return mer_verr_set(e, MER_E_VALIDATION, prefix, "payment method %s is listed twice", method);
        snprintf(c->payments[c->npayments].method, sizeof(c->payments[0].method), "%s", method);
        c->payments[c->npayments++].max_amount = max;
    }
    return 0;
}

static int parse_address(json_t *addr, mer_country_t *c, mer_verr_t *e)
{
    static const char *const keys[] = {"required", "postal_code_pattern", "phone_pattern", "states", NULL};
    json_t *req = NULL, *states = NULL;
    const char *postal = NULL, *phone = NULL;
    size_t i;
    json_t *v;

    if (mer_json_only(addr, keys, "address", e) ||
        mer_json_member(addr, "required", "address.required", JSON_ARRAY, true, &req, e) ||
        mer_json_str(addr, "postal_code_pattern", "address.postal_code_pattern", 1, 200, false, &postal, e) ||
        mer_json_str(addr, "phone_pattern", "address.phone_pattern", 1, 200, false, &phone, e) ||
        mer_json_member(addr, "states", "address.states", JSON_ARRAY, false, &states, e))
        return e->code;
    json_array_foreach(req, i, v)
    {
        bool found = false;
        for (size_t k = 0; k < MER_ARRAY_LEN(addr_fields); k++) {
            if (json_is_string(v) && strcmp(json_string_value(v), addr_fields[k].name) == 0) {
                c->addr_required |= addr_fields[k].bit;
                found = true;
            }
        }
        if (!found)
            return mer_verr_set(e, MER_E_VALIDATION, "address.required",
                                "address.required lists an unknown field (name, line1, line2, city, state, "
                                "postal_code, phone)");
    }
    c->addr_required |= MER_ADDR_NAME | MER_ADDR_LINE1; /* nobody can deliver without these */
    if (postal) {
        if (compile_pattern(postal, &c->postal_re, "address.postal_code_pattern", e))
            return e->code;
        c->has_postal_re = true;
    }
    if (phone) {
        if (compile_pattern(phone, &c->phone_re, "address.phone_pattern", e))
            return e->code;
        c->has_phone_re = true;
    }
    if (states) {
        json_array_foreach(states, i, v)
        {
            if (i >= MER_MAX_STATES)
                return mer_verr_set(e, MER_E_VALIDATION, "address.states", "at most %d states", MER_MAX_STATES);
            if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > 7)
                return mer_verr_set(e, MER_E_VALIDATION, "address.states", "state codes are 1 to 7 characters");
            snprintf(c->states[c->nstates++], sizeof(c->states[0]), "%s", json_string_value(v));
        }
    }
    return 0;
}

/* Text of [A-Z0-9] and the characters in extra, 1..max bytes. */
static bool code_text(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && strchr(extra, s[i]) == NULL)
            return false;
    return true;
}

/*
 * "invoicing" (optional; invoice/invoice.h reads it from the country's JSON): the seller (legal entity) named
 * on the country's tax invoices, the number series of invoices and credit notes, and HSN codes by category
 * slug (India's GST invoices print one per line).
 */
static int parse_invoicing(json_t *inv, const mer_country_t *c, mer_verr_t *e)
{
    static const char *const keys[] = {"seller", "series", "credit_series", "hsn", NULL};
    static const char *const seller_keys[] = {"name", "address", "tax_id", "state", NULL};
    json_t *seller = NULL, *hsn = NULL;
    const char *name, *address, *tax_id, *state = NULL, *series, *credit;
    if (mer_json_only(inv, keys, "invoicing", e) ||
        mer_json_member(inv, "seller", "invoicing.seller", JSON_OBJECT, true, &seller, e) ||
        mer_json_only(seller, seller_keys, "invoicing.seller", e) ||
        mer_json_str(seller, "name", "invoicing.seller.name", 1, 200, true, &name, e) ||
        mer_json_str(seller, "address", "invoicing.seller.address", 1, 400, true, &address, e) ||
        mer_json_str(seller, "tax_id", "invoicing.seller.tax_id", 1, 32, true, &tax_id, e) ||
        mer_json_str(seller, "state", "invoicing.seller.state", 1, 7, false, &state, e) ||
        mer_json_str(inv, "series", "invoicing.series", 1, 12, true, &series, e) ||
        mer_json_str(inv, "credit_series", "invoicing.credit_series", 1, 12, true, &credit, e) ||
        mer_json_member(inv, "hsn", "invoicing.hsn", JSON_OBJECT, false, &hsn, e))
        return e->code;
    if (!code_text(tax_id, 32, "-./"))
        return mer_verr_set(e, MER_E_VALIDATION, "invoicing.seller.tax_id",
                            "a tax id is upper-case letters, digits and - . /");
    if (!code_text(series, 12, "-/") || !code_text(credit, 12, "-/") || strcmp(series, credit) == 0)
        return mer_verr_set(e, MER_E_VALIDATION,
                            !code_text(series, 12, "-/") ? "invoicing.series" : "invoicing.credit_series",
                            "series are 1 to 12 upper-case letters, digits, - and /, and invoices and credit notes "
                            "have different ones");
    if (state && c->nstates > 0) {
        bool known = false;
        for (size_t i = 0; i < c->nstates && !known; i++)
            known = strcmp(c->states[i], state) == 0;
        if (!known)
            return mer_verr_set(e, MER_E_VALIDATION, "invoicing.seller.state", "%s is not one of the country's states",
                                state);
    }
    const char *slug;
    json_t *v;
    json_object_foreach(hsn, slug, v)
    {
        char field[96];
        snprintf(field, sizeof(field), "invoicing.hsn.%.60s", slug);
        const char *h = json_string_value(v);
        size_t n = h ? strlen(h) : 0;
        if (h == NULL || (n != 4 && n != 6 && n != 8) || strspn(h, "0123456789") != n)
            return mer_verr_set(e, MER_E_VALIDATION, field, "an HSN code is 4, 6 or 8 digits");
    }
    return 0;
}

int mer_country_parse(json_t *in, const char *code, mer_country_t *c, mer_verr_t *e)
{
    static const char *const keys[] = {
        "code",     "region",    "names",           "currency", "practical_digits",      "languages",
        "timezone", "tax",       "payment_methods", "shipping", "order_timeout_minutes", "order_timeout_seconds",
        "address",  "invoicing", "currency_digits", /* derived from ICU; accepted so GET output can be PUT back */
        NULL};
    const char *body_code = NULL, *region = NULL, *currency = NULL, *tz = NULL;
    json_t *names = NULL, *langs = NULL, *tax = NULL, *pay = NULL, *ship = NULL, *addr = NULL;
    int64_t practical = -1, timeout = 30, timeout_s = 0;
    size_t i;
    json_t *v;

    if (!json_is_object(in))
        return mer_verr_set(e, MER_E_VALIDATION, "", "a country must be a JSON object");
    if (strlen(code) != 2 || !isupper((unsigned char)code[0]) || !isupper((unsigned char)code[1]))
        return mer_verr_set(e, MER_E_VALIDATION, "code", "a country code is two upper-case letters (ISO 3166-1)");
    memcpy(c->code, code, 3);
    if (mer_json_only(in, keys, "", e) || mer_json_str(in, "code", "code", 2, 2, false, &body_code, e) ||
        mer_json_str(in, "region", "region", 2, MER_REGION_NAME_MAX - 1, true, &region, e) ||
        mer_json_member(in, "names", "names", JSON_OBJECT, true, &names, e) ||
        mer_json_str(in, "currency", "currency", 3, 3, true, &currency, e) ||
        mer_json_int(in, "practical_digits", "practical_digits", 0, 4, false, &practical, e) ||
        mer_json_member(in, "languages", "languages", JSON_ARRAY, true, &langs, e) ||
        mer_json_str(in, "timezone", "timezone", 1, 63, true, &tz, e) ||
        mer_json_member(in, "tax", "tax", JSON_OBJECT, true, &tax, e) ||
        mer_json_member(in, "payment_methods", "payment_methods", JSON_ARRAY, true, &pay, e) ||
        mer_json_member(in, "shipping", "shipping", JSON_OBJECT, true, &ship, e) ||
        mer_json_int(in, "order_timeout_minutes", "order_timeout_minutes", 1, 7 * 24 * 60, false, &timeout, e) ||
        mer_json_int(in, "order_timeout_seconds", "order_timeout_seconds", 1, 7 * 24 * 3600, false, &timeout_s, e) ||
        mer_json_member(in, "address", "address", JSON_OBJECT, true, &addr, e))
        return e->code;
    if (body_code && strcmp(body_code, code) != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "code", "code in the body (%s) differs from the path (%s)", body_code,
                            code);
    if (!mer_region_name_ok(region, strlen(region)))
        return mer_verr_set(e, MER_E_VALIDATION, "region", "region names are 2-15 lower-case letters, digits, '-'");
    snprintf(c->region, sizeof(c->region), "%s", region);
    if (json_object_size(names) == 0 || json_object_get(names, "en") == NULL)
        return mer_verr_set(e, MER_E_VALIDATION, "names.en", "names needs at least an English name (names.en)");
    const char *lkey;
    json_object_foreach(names, lkey, v)
    {
        char norm[MER_LOCALE_MAX], field[96];
        snprintf(field, sizeof(field), "names.%s", lkey);
        if (mer_locale_normalize(lkey, strlen(lkey), norm) != 0 || strcmp(norm, lkey) != 0)
            return mer_verr_set(e, MER_E_VALIDATION, field, "%s is not a normalised language tag", lkey);
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 100)
            return mer_verr_set(e, MER_E_VALIDATION, field, "%s must be a name of 1 to 100 bytes", field);
    }
    if (mer_currency_lookup(currency, &c->currency) != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "currency", "%s is not an ISO 4217 currency code", currency);
    c->practical_digits = practical >= 0 ? (int)practical : c->currency.cash_digits;
    if (c->practical_digits > c->currency.iso_digits)
        return mer_verr_set(e, MER_E_VALIDATION, "practical_digits",
                            "practical_digits cannot exceed the ISO digits of %s (%d)", currency,
                            c->currency.iso_digits);
    c->step = mer_money_step(c->currency.iso_digits, c->practical_digits);
    if (json_array_size(langs) == 0 || json_array_size(langs) > MER_MAX_LANGS)
        return mer_verr_set(e, MER_E_VALIDATION, "languages", "languages lists 1 to %d language tags", MER_MAX_LANGS);
    json_array_foreach(langs, i, v)
    {
        char norm[MER_LOCALE_MAX];
        if (!json_is_string(v) || mer_locale_normalize(json_string_value(v), json_string_length(v), norm) != 0)
            return mer_verr_set(e, MER_E_VALIDATION, "languages", "languages[%zu] is not a language tag", i);
        snprintf(c->languages[c->nlanguages++], MER_LOCALE_MAX, "%s", norm);
    }

    if (!valid_timezone(tz))
        return mer_verr_set(e, MER_E_VALIDATION, "timezone", "%s is not an IANA timezone", tz);
    snprintf(c->timezone, sizeof(c->timezone), "%s", tz);
    if (parse_tax(tax, c, e) || parse_payments(pay, c, e))
        return e->code;

    static const char *const ship_keys[] = {"fee", "free_above", NULL};
    c->free_shipping_above = -1;
    if (mer_json_only(ship, ship_keys, "shipping", e) ||
        mer_json_int(ship, "fee", "shipping.fee", 0, INT64_C(1) << 40, true, &c->shipping_fee, e) ||
        mer_json_int(ship, "free_above", "shipping.free_above", 0, MER_MONEY_MAX, false, &c->free_shipping_above, e))
        return e->code;
    if (c->shipping_fee % c->step != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "shipping.fee", "shipping.fee must be a multiple of %lld minor units",
                            (long long)c->step);
    if (c->free_shipping_above > 0 && c->free_shipping_above % c->step != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "shipping.free_above",
                            "shipping.free_above must be a multiple of %lld minor units", (long long)c->step);
    for (size_t k = 0; k < c->npayments; k++) {
        if (c->payments[k].max_amount % c->step != 0) {
            char field[64];
            snprintf(field, sizeof(field), "payment_methods[%zu].max_amount", k);
            return mer_verr_set(e, MER_E_VALIDATION, field, "%s must be a multiple of %lld minor units", field,
                                (long long)c->step);
        }
    }
    c->order_timeout_s = timeout_s ? (int)timeout_s : (int)timeout * 60;
    if (parse_address(addr, c, e))
        return e->code;
    json_t *inv = json_object_get(in, "invoicing");
    if (inv && (!json_is_object(inv) ? mer_verr_set(e, MER_E_VALIDATION, "invoicing", "invoicing must be an object")
                                     : parse_invoicing(inv, c, e)))
        return e->code;

    /* the normalised public form: the input with code and derived currency facts filled in */
    c->json = json_deep_copy(in);
    json_t *norm_langs = json_array();
    for (size_t k = 0; k < c->nlanguages; k++)
        json_array_append_new(norm_langs, json_string(c->languages[k]));
    json_object_set_new(c->json, "languages", norm_langs);
    json_object_set_new(c->json, "code", json_string(c->code));
    json_object_set_new(c->json, "practical_digits", json_integer(c->practical_digits));
    json_object_set_new(c->json, "currency_digits", json_integer(c->currency.iso_digits));
    if (!timeout_s)
        json_object_set_new(c->json, "order_timeout_minutes", json_integer(timeout));
    return 0;
}

void mer_country_release(mer_country_t *c)
{
    if (c->has_postal_re)
        regfree(&c->postal_re);
    if (c->has_phone_re)
        regfree(&c->phone_re);
    c->has_postal_re = c->has_phone_re = false;
    json_decref(c->json);
    c->json = NULL;
}

int mer_country_tax_rate(const mer_country_t *c, const char *tax_class)
{
    for (size_t i = 0; i < c->nrates; i++)
        if (strcmp(c->rates[i].tax_class, tax_class) == 0)
            return c->rates[i].rate_bp;
    return -1;
}

const mer_payment_rule_t *mer_country_payment(const mer_country_t *c, const char *method)
{
    for (size_t i = 0; i < c->npayments; i++)
        if (strcmp(c->payments[i].method, method) == 0)
            return &c->payments[i];
    return NULL;
}

void mer_country_locale(const mer_country_t *c, const char *lang, char out[MER_LOCALE_MAX])
{
    /* snprintf's "%s" or "%.3s-%s", truncated alike, without its cost (it runs for every amount shown) */
    if (strchr(lang, '-')) {
        mer_strcopy(out, MER_LOCALE_MAX, lang);
        return;
    }
    size_t n = strnlen(lang, 3);
    memcpy(out, lang, n);
    out[n++] = '-';
    mer_strcopy(out + n, MER_LOCALE_MAX - n, c->code);
}

json_t *mer_country_money(const mer_country_t *c, int64_t amount, const char *lang)
{
    char loc[MER_LOCALE_MAX], text[96];
    mer_country_locale(c, lang, loc);
    mer_money_format(amount, c->currency.code, c->currency.iso_digits, c->practical_digits, loc, text, sizeof(text));
    return json_pack("{s:I,s:s,s:s}", "amount", (json_int_t)amount, "currency", c->currency.code, "formatted", text);
}

void mer_country_money_jw(mer_jw_t *w, const char *key, const mer_country_t *c, int64_t amount, const char *lang)
{
    mer_money_fmt_t f;
    mer_country_money_fmt(c, lang, &f);
    /* what mer_country_money answers */
    mer_jw_key(w, key);
    mer_money_json_fmt(w->b, &f, amount);
}

void mer_country_money_fmt(const mer_country_t *c, const char *lang, mer_money_fmt_t *f)
{
    char loc[MER_LOCALE_MAX];
    mer_country_locale(c, lang, loc);
    if (!mer_money_fmt_init(f, c->currency.code, c->currency.iso_digits, c->practical_digits, loc))
        MER_BUG("a locale of MER_LOCALE_MAX does not fit a mer_money_fmt_t");
}

static bool blank(const char *s)
{
    if (s == NULL)
        return true;
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

int mer_country_check_address(const mer_country_t *c, const mer_address_in_t *a, mer_verr_t *e)
{
    const char *vals[] = {a->name, a->line1, a->line2, a->city, a->state, a->postal_code, a->phone};
    for (size_t k = 0; k < MER_ARRAY_LEN(addr_fields); k++) {
        if ((c->addr_required & addr_fields[k].bit) && blank(vals[k]))
            return mer_verr_set(e, MER_E_VALIDATION, addr_fields[k].name, "%s is required for addresses in %s",
                                addr_fields[k].name, c->code);
        int64_t chars = vals[k] ? mer_utf8_text(vals[k], strlen(vals[k])) : 0;
        if (chars < 0)
            return mer_verr_set(e, MER_E_VALIDATION, addr_fields[k].name, "%s contains control characters",
                                addr_fields[k].name);
        if (chars > 200)
            return mer_verr_set(e, MER_E_VALIDATION, addr_fields[k].name, "%s is longer than 200 characters",
                                addr_fields[k].name);
    }
    if (c->has_postal_re && !blank(a->postal_code) && regexec(&c->postal_re, a->postal_code, 0, NULL, 0) != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "postal_code", "%s is not a valid postal code in %s", a->postal_code,
                            c->code);
    if (c->has_phone_re && !blank(a->phone) && regexec(&c->phone_re, a->phone, 0, NULL, 0) != 0)
        return mer_verr_set(e, MER_E_VALIDATION, "phone", "%s is not a valid phone number in %s", a->phone, c->code);
    if (c->nstates && !blank(a->state)) {
        bool ok = false;
        for (size_t i = 0; i < c->nstates; i++)
            if (strcmp(c->states[i], a->state) == 0)
                ok = true;
        if (!ok)
            return mer_verr_set(e, MER_E_VALIDATION, "state", "%s is not a state code of %s", a->state, c->code);
    }
    return 0;
}
