/*
 * country.h — countries and regions as data.
 *
 * A region is a data-residency unit ("sg", "in", "ru", "eu"): its customers' data lives in its own
 * database and nowhere else. A country belongs to exactly one region and carries everything that makes
 * selling there different: currency (ISO digits from ICU plus a practical precision), languages, IANA
 * timezone, tax regime, payment methods, shipping fee rule and address rules. Adding or changing a
 * country is an admin call (PUT /api/v1/admin/countries/{code}) validated by mer_country_parse(); no code
 * change, no restart.
 *
 * Concurrency: the registry is an immutable snapshot behind an atomic pointer. Readers (every request)
 * load it without a lock; a writer builds a new snapshot and swaps it in. Old snapshots are kept until
 * exit (countries change a few times a day; a snapshot is a few kilobytes), so a reader never sees
 * freed memory.
 *
 * The JSON shape of a country (admin input, seed data and GET output) is documented in docs/openapi.yaml
 * (schema Country) and in seed/countries.json.
 */
#ifndef MER_COUNTRY_H
#define MER_COUNTRY_H

#include <jansson.h>
#include <regex.h>

#include "core/json.h"
#include "core/locale.h"
#include "core/money.h"
#include "store/store.h" /* MER_MAX_REGIONS, MER_REGION_NAME_MAX */

#define MER_MAX_LANGS 6
#define MER_MAX_TAX_RATES 8
#define MER_MAX_PAYMENTS 6
#define MER_MAX_STATES 40

typedef struct mer_region {
    char name[MER_REGION_NAME_MAX];
    char base_url[200]; /* where clients reach it; "" = unknown */
    bool local;         /* served by this node */
} mer_region_t;

typedef struct mer_tax_rate {
    char tax_class[24]; /* "standard", "reduced", ... (a product's tax_class) */
    int rate_bp;        /* basis points: 1800 = 18% */
} mer_tax_rate_t;

typedef enum { MER_TAX_SPLIT_NONE = 0, MER_TAX_SPLIT_GST } mer_tax_split_t;

typedef struct mer_payment_rule {
    char method[16];    /* "card", "wallet", "cod" */
    int64_t max_amount; /* largest order total allowed with this method, minor units; 0 = no limit */
} mer_payment_rule_t;

typedef enum {
    MER_ADDR_NAME = 1 << 0,
    MER_ADDR_LINE1 = 1 << 1,
    MER_ADDR_LINE2 = 1 << 2,
    MER_ADDR_CITY = 1 << 3,
    MER_ADDR_STATE = 1 << 4,
    MER_ADDR_POSTAL = 1 << 5,
    MER_ADDR_PHONE = 1 << 6,
} mer_addr_field_t;

typedef struct mer_country {
    char code[3];
    char region[MER_REGION_NAME_MAX];
    mer_currency_t currency;
    int practical_digits;                          /* digits customers pay in (IDR: 0) */
    int64_t step;                                  /* 10^(iso - practical) minor units */
    char languages[MER_MAX_LANGS][MER_LOCALE_MAX]; /* [0] is the default */
    size_t nlanguages;
    char timezone[64];
    /* tax */
    bool tax_inclusive; /* prices are entered and shown with tax included (EU VAT, India GST) */
    mer_rounding_t rounding;
    bool round_per_line; /* tax rounded on each line (true) or once on the total per rate (false) */
    mer_tax_split_t tax_split;
    char tax_name[32]; /* label on receipts: VAT, GST, SST, PPN ... (at most 7 characters) */
    mer_tax_rate_t rates[MER_MAX_TAX_RATES];
    size_t nrates;
    /* payments and shipping */
    mer_payment_rule_t payments[MER_MAX_PAYMENTS];
    size_t npayments;
    int64_t shipping_fee;        /* flat fee, minor units */
    int64_t free_shipping_above; /* subtotal from which shipping is free; -1 = never */
    int order_timeout_s;         /* unpaid orders are cancelled after this many seconds */
    /* addresses */
    unsigned addr_required; /* mer_addr_field_t bits */
    bool has_postal_re, has_phone_re;
    regex_t postal_re, phone_re;
    char states[MER_MAX_STATES][8]; /* allowed state codes, if listed ("MH", "KA", ...) */
    size_t nstates;
    json_t *json; /* normalised public representation (owned) */
    /* Applied by a launch (launch/launch.h) but not opened yet: staff see and prepare it (prices, stock,
     * texts, readiness), shoppers do not (mer_country_find answers NULL: 404 unknown_country). Loaded from
     * country.status; false for every country made otherwise. */
    bool launching;
} mer_country_t;

typedef struct mer_countries {
    mer_country_t *by_code[26 * 26]; /* direct index by the two letters */
    mer_country_t **list;            /* sorted by code */
    size_t n;
    mer_region_t regions[MER_MAX_REGIONS];
    size_t nregions;
    uint64_t version; /* bumped by every change; part of cache keys */
} mer_countries_t;

/*
 * Validates a country's JSON and fills *c (which the caller zeroed). Returns 0, or a negative error with
 * the offending field in *e. On success c->json holds a normalised copy; release with mer_country_release().
 */
int mer_country_parse(json_t *in, const char *code, mer_country_t *c, mer_verr_t *e);
void mer_country_release(mer_country_t *c);

/* The current snapshot; never NULL after mer_countries_init(). Borrowed: valid until process exit. */
const mer_countries_t *mer_countries(void);
/*
 * Looks up a country shoppers may see by a 2-letter code in any case; NULL if unknown, malformed, or
 * still launching (applied but not opened: see mer_country_t.launching). Every shopper-facing lookup goes
 * through it, so a country being launched is invisible to shoppers until it is opened.
 */
const mer_country_t *mer_country_find(const mer_countries_t *cs, const char *code, size_t len);
/* The same, including countries still launching: for staff routes that prepare a launch. */
const mer_country_t *mer_country_find_any(const mer_countries_t *cs, const char *code, size_t len);
const mer_region_t *mer_region_find(const mer_countries_t *cs, const char *name);
/* Is s[0..n) a valid region name: 2 to 15 of a-z, 0-9 and '-'? */
bool mer_region_name_ok(const char *s, size_t n);

/* A tax class's rate for the country; -1 if the class is not defined there. */
int mer_country_tax_rate(const mer_country_t *c, const char *tax_class);
const mer_payment_rule_t *mer_country_payment(const mer_country_t *c, const char *method);
/* The ICU/BCP-47 locale for formatting in the country for a language: "hi" + IN -> "hi-IN". */
void mer_country_locale(const mer_country_t *c, const char *lang, char out[MER_LOCALE_MAX]);

/*
 * A money object for API answers: {"amount": 1999900, "currency": "INR", "formatted": "₹19,999.00"},
 * formatted with ICU for the language in the country (lang "hi" + IN -> hi-IN) at the practical precision.
 */
json_t *mer_country_money(const mer_country_t *c, int64_t amount, const char *lang);
/* The same object written with a streaming writer. */
struct mer_jw;
void mer_country_money_jw(struct mer_jw *w, const char *key, const mer_country_t *c, int64_t amount, const char *lang);
/* The money formatter of the country's currency for a language, for many amounts (mer_money_json_fmt writes
 * the same object as mer_country_money_jw without preparing it each time: an order answer has 16). */
void mer_country_money_fmt(const mer_country_t *c, const char *lang, mer_money_fmt_t *f);

/*
 * Validates an address against the country's rules: required fields, postal-code and phone patterns,
 * state codes. Fields are NUL-terminated strings or NULL when absent. Returns 0 or MER_E_VALIDATION with
 * the field name in *e.
 */
typedef struct mer_address_in {
    const char *name, *line1, *line2, *city, *state, *postal_code, *phone;
} mer_address_in_t;
int mer_country_check_address(const mer_country_t *c, const mer_address_in_t *a, mer_verr_t *e);

/* ---- registry (src/region/registry.c) ---- */

/*
 * Loads regions and countries from the catalogue database, marking as local the regions named in the
 * comma-separated `served` list ("" or "all" = every region). url_overrides is "name=url,..." or NULL.
 * Returns 0 or a negative error.
 */
struct mer_db;
int mer_countries_init(struct mer_db *catalog, const char *served, const char *url_overrides, const char *self_url);
/* Re-reads the database and swaps in a new snapshot (after an admin change). */
int mer_countries_reload(struct mer_db *catalog);
void mer_countries_shutdown(void);
/*
 * Inside a writer job of catalog.db that changed the country or region tables (an admin PUT, a launch):
 * the region module's commit hook reloads the registry, and retires cached answers, after the batch
 * commits and before its jobs are answered; the other nodes of the database hear of it at the commit
 * (store/notify.h) and reload too. db NULL: only this node (the listener calls it so when a note comes).
 * Returns 0 or a negative error (the job fails). mer_countries_take_changed() is the hook's test-and-clear.
 */
int mer_countries_changed(struct mer_db *db);
bool mer_countries_take_changed(void);

#endif
