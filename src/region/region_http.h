/*
 * region_http.h — the country of a request, and the region routes (/countries, /route, admin countries).
 */
#ifndef MER_REGION_HTTP_H
#define MER_REGION_HTTP_H

#include "http/req.h"
#include "module.h"
#include "region/country.h"

typedef struct mer_where {
    const mer_countries_t *cs; /* the snapshot the request was resolved against */
    const mer_country_t *country;
    mer_locale_chain_t chain; /* language fallback chain for this request */
    bool fallback;            /* mer_where_catalogue: a country of another region, answered from the catalogue */
} mer_where_t;

/*
 * Resolves the request's country (?country= or the X-Country header) and language chain (?lang= or
 * Accept-Language, then the country's default, then "en"). The country must be known (404
 * unknown_country) and served by this node (421 wrong_region, naming the region and its URL). A
 * malformed ?lang= is 400; an unsupported but well-formed one falls back. A header it reads (because the
 * query parameter is absent) is named in Vary, so cacheable answers built on it are cached per value.
 * Returns 0, or answers the error and returns -1.
 */
int mer_where(mer_req_t *r, mer_where_t *out);

/*
 * mer_where for the public catalogue reads (product listings and search, product pages, categories), which
 * may also be answered for a country of another region: when that region has no healthy node, the gateway
 * sends its catalogue reads to another region and marks them with the header X-Meridian-Fallback (naming
 * the region that is down). Such a request is answered here, out->fallback set, only when it came from a
 * trusted proxy (`serve --trusted-proxy`: a client cannot mark its own requests) and carries no customer's
 * token; any other request for a country served elsewhere is 421 wrong_region, as mer_where answers. A
 * fallback answer comes from this node's copy of the catalogue (countries, products, translations and prices
 * are the hub's, the same in every region) and holds nothing of the other region's own data: its stock is
 * stated as unknown (the caller's part) and the answer carries X-Meridian-Stock: unknown (set here).
 * Returns 0, or answers the error and returns -1.
 */
int mer_where_catalogue(mer_req_t *r, mer_where_t *out);

/* The request header a gateway marks a catalogue fallback with (its value: the region that is down). */
#define MER_FALLBACK_HEADER "x-meridian-fallback"

/*
 * The ?lang= parameter, normalised into norm. Returns 0 with *lang = norm, or *lang = NULL when there
 * is none; answers 400 invalid_parameter and returns -1 when it is not a language tag.
 */
int mer_req_lang(mer_req_t *r, char norm[MER_LOCALE_MAX], const char **lang);

/* Returns 0 if country c is served by this node; otherwise answers 421 wrong_region and returns -1. */
int mer_req_served_here(mer_req_t *r, const mer_countries_t *cs, const mer_country_t *c);

/*
 * The country a staff route names, checked in this order: given (400 missing_parameter if code is
 * NULL), known in any case (404 unknown_country), one the caller may act for (403 forbidden, "you may
 * not <what> in XX"), and served by this node (421 wrong_region). All answers name the field "country".
 * Returns the registry's country (c->code is the canonical upper-case code; borrowed, valid until exit),
 * or answers the error and returns NULL.
 */
const mer_country_t *mer_req_staff_country(mer_req_t *r, const char *code, const char *what);

/* The region module: /countries, /route and the admin country/region routes; meridian_countries. */
extern const mer_module_t mer_region_module;

#endif
