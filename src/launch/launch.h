/*
 * launch.h — launching a new country from a template country: plan, apply, readiness, open.
 *
 * A launch is four steps, each an admin call (launch_http.c) or, for the plan, a command (`meridian
 * launch-plan`):
 *
 *   1. plan     mer_launch_parse() checks the request against the registry; mer_launch_plan() computes, from
 *               the catalogue snapshot and nothing else, every SKU with its template price, converted price
 *               and final price (or why it will not be sold), and the problems found. It changes nothing.
 *               The plan has an id: a BLAKE2b hash of the plan itself as serialised (settings, pricing rules,
 *               every line, every problem; members in the order built, which depends only on the inputs), so
 *               two plans have the same id exactly when they say the same thing.
 *   2. apply    mer_launch_apply(), one job of catalog.db's writer: recomputes the plan from the same
 *               snapshot, refuses it when the caller's plan id differs (the catalogue or the rules changed
 *               since the plan was shown), then writes the country (status 'launching'), its prices (its
 *               assortment: a SKU is sold in a country exactly when it has a price there) and the launch
 *               record, all in the job's savepoint: all or nothing. A launching country is invisible to
 *               shoppers (mer_country_find() answers NULL, so every shopper route says 404 unknown_country);
 *               staff see it (mer_country_find_any) and prepare it: stock, texts, prices.
 *   3. readiness  mer_launch_readiness() lists what blocks opening (see mer_launch_blocker kinds below).
 *   4. open     mer_launch_open() makes the country 'open'. The adapter refuses it (409 not_ready, with the
 *               blockers) when readiness found any, unless an admin forces it; a forced opening records who
 *               forced it, why, and the blockers overridden (country_launch).
 *
 * Pricing (the arithmetic, exact, in integers; mer_launch_convert and mer_launch_ending):
 *   converted = round_half_up(A * num * 10^dn * (10000 + markup_bp) / (den * 10^dt * 10000))
 *     A        the template price in the template currency's minor units (dt = its ISO digits),
 *     num/den  the exchange rate: units of the new currency for one unit of the template's, as an exact
 *              rational ("1.42" is 142/100, "71/50" as given), reduced, each part at most 10^12,
 *     dn       the new currency's ISO digits (ICU: ucurr_getDefaultFractionDigits), markup_bp the category's
 *              markup in basis points (500 = +5%), from the product's category or its nearest ancestor.
 *   All in 128-bit integers: no floating point anywhere. A result above MER_MONEY_MAX is not sold
 *   (reason price_out_of_range).
 *   final = the price-ending rule applied to converted: the rule's tier is the last one whose `from` is at
 *   most converted; the candidates are the amounts k * step + ends (k >= 0); `nearest` takes the closest
 *   (a tie goes up), `up` the smallest at least converted, `down` the largest at most converted. A
 *   candidate must be positive (0 stays 0: a free item stays free), so a price below the first positive
 *   candidate goes up to it. Every step and ending is a multiple of the country's practical step, so a
 *   final price is always payable. Defaults per currency are in mer_launch_default_ending().
 *   Prices are converted as the template enters them (tax included where its regime is inclusive); a
 *   different tax convention in the new country is reported as a problem, and markups can compensate.
 *
 * Threads: parsing uses the registry snapshot (any thread); the plan and readiness read the catalogue
 * snapshot under its read lock (never on an event loop: the adapter runs them on the read pool); apply
 * and open run inside writer jobs of catalog.db; readiness reads stock from the country's region database.
 */
#ifndef MER_LAUNCH_H
#define MER_LAUNCH_H

#include <jansson.h>

#include "catalog/catalog.h"
#include "core/json.h"
#include "module.h"
#include "region/country.h"
#include "store/db.h"

#define MER_LAUNCH_RATE_MAX INT64_C(1000000000000) /* 10^12: numerator and denominator of a rate */
#define MER_LAUNCH_MAX_TIERS 8
#define MER_LAUNCH_MAX_MARKUPS 32
#define MER_LAUNCH_MAX_CATEGORIES 32
#define MER_LAUNCH_MARKUP_MIN (-9000) /* basis points: -90% */
#define MER_LAUNCH_MARKUP_MAX 100000  /* +1000% */

/* An exchange rate: num/den units of the new currency for one unit of the template's (reduced, > 0). */
typedef struct mer_launch_rate {
    int64_t num, den;
} mer_launch_rate_t;

typedef enum mer_launch_dir { MER_LAUNCH_NEAREST = 0, MER_LAUNCH_UP, MER_LAUNCH_DOWN } mer_launch_dir_t;

/* One tier of a price-ending rule, all in minor units of the new currency. */
typedef struct mer_launch_tier {
    int64_t from; /* the tier applies to converted prices >= from (the first tier's from is 0) */
    int64_t step; /* final prices are ends modulo step ... */
    int64_t ends; /* ... 0 <= ends < step */
} mer_launch_tier_t;

typedef struct mer_launch_ending {
    mer_launch_dir_t dir;
    mer_launch_tier_t tiers[MER_LAUNCH_MAX_TIERS]; /* by from, ascending */
    size_t ntiers;
} mer_launch_ending_t;

typedef struct mer_launch_markup {
    char category[65]; /* category slug */
    int bp;
} mer_launch_markup_t;

/*
 * Parses an exchange rate: a decimal ("83.25", "0.0115") or a rational of two whole numbers ("166/2"),
 * positive, each part at most 10^12 once written as a fraction. Returns 0 or MER_E_VALIDATION.
 */
int mer_launch_parse_rate(const char *s, mer_launch_rate_t *out);
/* The rate as text: "71/50", or "2" when den is 1. */
void mer_launch_rate_text(const mer_launch_rate_t *r, char *out, size_t cap);

/*
 * A template price converted (see "Pricing" above): amount in minor units with from_digits, into minor
 * units with to_digits, with the markup in basis points. Returns the converted amount, or -1 when it would
 * exceed MER_MONEY_MAX (or amount is negative).
 */
int64_t mer_launch_convert(int64_t amount, int from_digits, int to_digits, const mer_launch_rate_t *rate,
                           int markup_bp);
/* A converted price after the price-ending rule (see "Pricing"); -1 if it would exceed MER_MONEY_MAX. */
int64_t mer_launch_ending(int64_t converted, const mer_launch_ending_t *rule);
/*
 * The default ending rule of a currency, in minor units with iso_digits; step is the country's practical
 * step (the smallest payable amount). INR and BDT end in 9 (below 10,000) and in 999 (from 10,000); EUR,
 * USD, GBP, CHF, CAD, AUD, NZD, SGD, MYR and PLN in .99; VND is rounded to 1,000, JPY to 10, KRW to 100,
 * IDR to 1,000; any other currency to its practical step. Always `nearest`.
 */
void mer_launch_default_ending(const char *currency, int iso_digits, int64_t step, mer_launch_ending_t *out);

/* ---- the request ---- */

/*
 * A launch request, parsed and checked (mer_launch_parse). The body:
 *   {"template": "IN",
 *    "settings": {"names": {...}, "currency": "BDT", "languages": [...], "timezone": "...", "region": "in",
 *                 "tax": {...}, "address": {...}, "payment_methods": [...], "shipping": {...}, ...},
 *    "pricing": {"exchange_rate": "1.42", "markups": {"phones": 500},
 *                "ending": {"rounding": "nearest", "tiers": [{"from": 0, "step": 1000, "ends": 900}]}},
 *    "assortment": {"categories": ["phones", "cables"]},
 *    "plan_id": "..."}                          (apply only: the plan the caller saw)
 * settings are the new country as PUT /admin/countries/{code} takes it (region/country.h), each member
 * given replacing the template's; names is required. Without shipping, the template's fee and free-above
 * amount are converted at the rate (no markup, rounded half up to the practical step); likewise the
 * payment methods' max_amount when payment_methods is not given. assortment.categories (default: all)
 * limits the assortment to those categories and their descendants.
 */
typedef struct mer_launch_in {
    char code[3];
    const mer_country_t *tpl; /* the template (registry; valid until exit) */
    mer_country_t country;    /* the new country as it will be written (owned) */
    char *config;             /* its JSON, as stored (owned) */
    mer_launch_rate_t rate;
    mer_launch_markup_t markups[MER_LAUNCH_MAX_MARKUPS];
    size_t nmarkups;
    mer_launch_ending_t ending;
    bool ending_default;                            /* the currency's default rule (none given) */
    char categories[MER_LAUNCH_MAX_CATEGORIES][65]; /* assortment; none = everything */
    size_t ncategories;
    char plan_id[65]; /* the plan the caller saw; "" when none given */
    json_t *request;  /* settings, pricing and assortment as normalised (owned): stored with the launch */
} mer_launch_in_t;

/*
 * Checks body for launching country code against the registry snapshot cs: code is two upper-case
 * letters ICU knows as a country and not already a country here (409 already_exists, field code); the
 * template exists (field template); settings make a valid country (fields settings.*: a currency ICU does
 * not know is settings.currency); the rate, markups and ending are well-formed (fields pricing.*). The
 * categories named are checked by mer_launch_plan (the catalogue knows them). allow_plan_id: the apply
 * call. Returns 0, or a negative error with e set; in must be zeroed before and released after
 * (mer_launch_in_release) either way.
 */
int mer_launch_parse(json_t *body, const char *code, const mer_countries_t *cs, bool allow_plan_id, mer_launch_in_t *in,
                     mer_verr_t *e);
void mer_launch_in_release(mer_launch_in_t *in);

/* ---- the plan ---- */

typedef struct mer_launch_price {
    int64_t sku_id;
    int64_t amount;
} mer_launch_price_t;

typedef struct mer_launch_plan {
    json_t *json; /* the plan (owned) */
    char *text;   /* the same, serialised compactly: the answer (owned) */
    size_t len;
    char id[65];                /* the hash of the text without the id, hex */
    mer_launch_price_t *prices; /* what apply writes: the SKUs sold, with their final prices (owned) */
    size_t nprices;
} mer_launch_plan_t;

/*
 * Computes the plan of in against the catalogue snapshot cat (the caller holds its read lock). A category
 * named in markups or assortment that does not exist fails it (field pricing.markups.<slug> or
 * assortment.categories). Returns 0 with *plan filled (release with mer_launch_plan_release), or an
 * error with e set.
 */
int mer_launch_plan(const mer_launch_in_t *in, const mer_catalog_t *cat, mer_launch_plan_t *plan, mer_verr_t *e);
void mer_launch_plan_release(mer_launch_plan_t *plan);

/*
 * Applies a launch inside a job of catalog.db's writer: locks the catalogue snapshot, recomputes the plan,
 * compares its id with in->plan_id when one was given (409 conflict, field plan_id), refuses a code that
 * is a country already (409 already_exists, field code), and writes the country (launching), its prices
 * and the launch record (who: staff id). *out holds the plan applied; release it whatever the result.
 */
int mer_launch_apply(mer_db_t *db, const mer_launch_in_t *in, int64_t who, int64_t now, mer_launch_plan_t *out,
                     mer_verr_t *e);

/* ---- readiness and opening ---- */

/*
 * What blocks opening country c, as a JSON report {"country", "status", "ready", "counts", "blockers"}.
 * Each blocker has a "kind":
 *   text_missing              a product sold there lacks its name or description in one of the country's
 *                             languages (product_id, product, language, field);
 *   sku_unpriced              a SKU of a product sold there has no price there (sku, product);
 *   no_stock                  a SKU sold there has no units available in any warehouse serving the country;
 *   payment_provider_missing  a payment method of the country has no configured provider (method);
 *   tax_rate_missing          products sold there have a tax class the country has no rate for
 *                             (tax_class, products);
 *   nothing_sold              no SKU has a price there;
 *   invoicing_missing         the country names no seller for its tax invoices (settings.invoicing; a
 *                             launched country never takes the template's: invoice/invoice.h).
 * region_db is a read connection to the country's region database (stock). Reads the catalogue snapshot
 * (taking its read lock). Returns 0 with *out set, or an error.
 */
int mer_launch_readiness(mer_db_t *region_db, const mer_country_t *c, json_t **out);

/*
 * The texts missing in language lang that shoppers of a country would see: the name and description of each
 * product sold there (sold[i] for cat->products[i]), the categories of those products (and their parents),
 * and the attribute names and values of their SKUs. What is missing is what the translation workflow
 * exports (catalog/translation.h: mer_translation_each), so an XLIFF or PO round trip clears exactly
 * these; an outdated text does not block (it still shows its earlier translation). Appended to blockers
 * (when not NULL) as text_missing objects {id, text (its kind), language[, product_id, product, field]}.
 * cat is locked by the caller. Returns how many there are.
 */
size_t mer_launch_missing_texts(const mer_catalog_t *cat, const bool *sold, const char *lang, json_t *blockers);

/*
 * Opens country code inside a job of catalog.db's writer: 'launching' becomes 'open' (409 conflict when
 * it is open already) and the launch record gets who opened it, when, whether it was forced, why, and the
 * blockers overridden (blockers may be NULL).
 */
int mer_launch_open(mer_db_t *db, const char *code, int64_t who, bool forced, const char *reason, json_t *blockers,
                    int64_t now, mer_verr_t *e);

/* The launch module (launch_http.c): its admin routes. */
extern const mer_module_t mer_launch_module;

#endif
