/*
 * translation_http.c — the translation workflow's admin routes (admins only), the HTTP adapter of
 * translation.h:
 *   GET  /api/v1/admin/translations/coverage[?lang=|country=]   counts per language and kind of text
 *   GET  /api/v1/admin/translations/{lang}/export?format=xliff|po   the missing and outdated texts
 *   POST /api/v1/admin/translations/{lang}/import   an XLIFF or PO file (Content-Type says which)
 *
 * Export and coverage answer from the snapshot on the loop. An import is parsed and checked on the loop
 * against the snapshot (a file is at most the server's body limit, 1 MiB by default); a file with any
 * problem is refused with all of them (422, "problems") and nothing is written; otherwise its changes are
 * one writer job of catalog.db, answered after the commit (and the snapshot reload) with the report.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "catalog/translation.h"
#include "core/log.h"
#include "http/req.h"
#include "store/store.h"
#include "core/banned.h"

/* The {lang} path parameter as a normalised tag other than the source language; answers 400 if not. */
static int path_lang(mer_req_t *r, char out[MER_LOCALE_MAX])
{
    h2o_iovec_t v = r->params[0];
    if (mer_locale_normalize(v.base, v.len, out) != 0 || strlen(out) != v.len || memcmp(out, v.base, v.len) != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "lang", "the language must be a normalised tag such as bn or pt-BR");
        return -1;
    }
    if (strcmp(out, MER_TR_SOURCE_LANG) == 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "lang",
                        "%s is the catalogue's source language: there is nothing to "
                        "translate into it",
                        MER_TR_SOURCE_LANG);
        return -1;
    }
    return 0;
}

/* ---- coverage ---- */

static json_t *count_json(const mer_tr_count_t *c)
{
    return json_pack("{s:I,s:I,s:I,s:I}", "total", (json_int_t)c->total, "translated", (json_int_t)c->translated,
                     "missing", (json_int_t)c->missing, "outdated", (json_int_t)c->outdated);
}

static json_t *coverage_json(const mer_catalog_t *cat, const char *locale)
{
    mer_tr_count_t counts[MER_TR_NKINDS + 1];
    mer_translation_coverage(cat, locale, counts);
    json_t *out = count_json(&counts[MER_TR_NKINDS]), *kinds = json_object();
    json_object_set_new(out, "language", json_string(locale));
    json_object_set_new(out, "source", json_boolean(strcmp(locale, MER_TR_SOURCE_LANG) == 0));
    for (int k = 0; k < MER_TR_NKINDS; k++)
        json_object_set_new(kinds, mer_tr_kind_name((mer_tr_kind_t)k), count_json(&counts[k]));
    json_object_set_new(out, "kinds", kinds);
    return out;
}

static void add_lang(char (*langs)[MER_LOCALE_MAX], size_t *n, size_t cap, const char *l)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(langs[i], l) == 0)
            return;
    if (*n < cap)
        snprintf(langs[(*n)++], MER_LOCALE_MAX, "%s", l);
}

static void h_coverage(mer_req_t *r)
{
    const char *lang = mer_req_query(r, "lang"), *cc = mer_req_query(r, "country");
    char langs[64][MER_LOCALE_MAX];
    size_t n = 0;
    json_t *out = json_object();
    if (lang && cc) {
        json_decref(out);
        mer_reply_error(r, MER_E_INVALID_PARAM, "lang", "give lang or country, not both");
        return;
    }
    if (lang) {
        char norm[MER_LOCALE_MAX];
        if (mer_locale_normalize(lang, strlen(lang), norm) != 0) {
            json_decref(out);
            mer_reply_error(r, MER_E_INVALID_PARAM, "lang", "not a language tag");
            return;
        }
        add_lang(langs, &n, 64, norm);
    } else if (cc) {
        const mer_country_t *c = mer_country_find(mer_countries(), cc, strlen(cc));
        if (c == NULL) {
            json_decref(out);
            mer_reply_error(r, MER_E_UNKNOWN_COUNTRY, "country", "no country %.8s", cc);
            return;
        }
        json_object_set_new(out, "country", json_string(c->code));
        for (size_t i = 0; i < c->nlanguages; i++)
            add_lang(langs, &n, 64, c->languages[i]);
    } else { /* every language some country speaks */
        const mer_countries_t *cs = mer_countries();
        for (size_t i = 0; i < cs->n; i++)
            for (size_t k = 0; k < cs->list[i]->nlanguages; k++)
                add_lang(langs, &n, 64, cs->list[i]->languages[k]);
    }
    json_t *arr = json_array();
    const mer_catalog_t *cat = mer_catalog_lock();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, coverage_json(cat, langs[i]));
    mer_catalog_unlock();
    json_object_set_new(out, "source_language", json_string(MER_TR_SOURCE_LANG));
    json_object_set_new(out, "languages", arr);
    mer_reply_json(r, 200, out);
}

/* ---- export ---- */

static void h_export(mer_req_t *r)
{
    char lang[MER_LOCALE_MAX], disp[96];
    const char *format = mer_req_query(r, "format");
    if (path_lang(r, lang) != 0)
        return;
    bool po = format && strcmp(format, "po") == 0;
    if (format && !po && strcmp(format, "xliff") != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "format", "format is xliff (XLIFF 2.0, the default) or po (gettext)");
        return;
    }
    mer_tr_file_t f = MER_TR_FILE_INIT;
    mer_buf_t out = MER_BUF_INIT;
    const mer_catalog_t *cat = mer_catalog_lock();
    mer_translation_export(cat, lang, &f);
    mer_catalog_unlock();
    if (po)
        mer_tr_write_po(&out, &f);
    else
        mer_tr_write_xliff(&out, &f);
    snprintf(disp, sizeof(disp), "attachment; filename=\"catalog-%s.%s\"", lang, po ? "po" : "xlf");
    mer_reply_header(r, "content-disposition", disp);
    char sz[24];
    snprintf(sz, sizeof(sz), "%zu", f.n);
    mer_reply_header(r, "x-translation-units", sz);
    mer_reply_bytes(r, 200, po ? "text/x-gettext-translation; charset=utf-8" : "application/xliff+xml; charset=utf-8",
                    mer_req_strdup(r, mer_buf_str(&out), out.len), out.len);
    mer_buf_release(&out);
    mer_tr_file_release(&f);
}

/* ---- import ---- */

typedef struct import_call {
    mer_call_t c;
    char lang[MER_LOCALE_MAX];
    mer_tr_import_t imp;
} import_call_t;

static void import_free(mer_call_t *c)
{
    mer_translation_import_release(&((import_call_t *)c)->imp);
}

static int import_write(mer_db_t *db, mer_call_t *c)
{
    import_call_t *a = (import_call_t *)c;
    int err = mer_translation_apply(db, a->lang, a->imp.changes, a->imp.nchanges, &c->verr);
    if (err == 0) {
        c->result = a->imp.report;
        a->imp.report = NULL;
    }
    return err;
}

static void import_committed(mer_call_t *c)
{
    import_call_t *a = (import_call_t *)c;
    mer_log_info("translations into %s imported by staff %lld: %zu texts written", a->lang, (long long)c->who.id,
                 a->imp.nchanges);
}

/* Which format a Content-Type names: 'x' XLIFF, 'p' PO, 0 neither. */
static char media_format(const char *ct, size_t len)
{
    static const char *const xliff[] = {"application/xliff+xml", "application/x-xliff+xml", "application/xml",
                                        "text/xml"};
    static const char *const po[] = {"text/x-gettext-translation", "text/x-po", "application/x-po",
                                     "application/x-gettext"};
    size_t n = 0;
    while (n < len && ct[n] != ';' && ct[n] != ' ')
        n++;
    for (size_t i = 0; i < MER_ARRAY_LEN(xliff); i++)
        if (strlen(xliff[i]) == n && strncasecmp(ct, xliff[i], n) == 0)
            return 'x';
    for (size_t i = 0; i < MER_ARRAY_LEN(po); i++)
        if (strlen(po[i]) == n && strncasecmp(ct, po[i], n) == 0)
            return 'p';
    return 0;
}

static void h_import(mer_req_t *r)
{
    char lang[MER_LOCALE_MAX], err[256];
    size_t ctlen = 0;
    if (path_lang(r, lang) != 0)
        return;
    const char *ct = mer_req_header(r, "content-type", &ctlen);
    char fmt = ct ? media_format(ct, ctlen) : 0;
    if (fmt == 0) {
        mer_reply_error(r, MER_E_UNSUPPORTED_MEDIA, "Content-Type",
                        "send an XLIFF 2.0 file as application/xliff+xml or a PO file as text/x-gettext-translation");
        return;
    }
    h2o_iovec_t body = r->h2o->entity;
    if (body.base == NULL || body.len == 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "body", "the request body is empty; send the translated file");
        return;
    }
    mer_tr_file_t f = MER_TR_FILE_INIT;
    int rc =
        fmt == 'x' ? mer_tr_parse_xliff(body.base, body.len, &f, err) : mer_tr_parse_po(body.base, body.len, &f, err);
    if (rc != 0) {
        mer_tr_file_release(&f);
        mer_reply_error(r, MER_E_INVALID_PARAM, "body", "the %s file cannot be read: %s", fmt == 'x' ? "XLIFF" : "PO",
                        err);
        return;
    }
    mer_tr_import_t imp;
    const mer_catalog_t *cat = mer_catalog_lock();
    mer_translation_check(cat, lang, &f, &imp);
    mer_catalog_unlock();
    mer_tr_file_release(&f);
    size_t nproblems = json_array_size(imp.problems);
    if (nproblems) {
        mer_reply_error_ex(r, MER_E_VALIDATION, "body", json_pack("{s:O}", "problems", imp.problems),
                           "the file has %zu problem%s (listed in problems); nothing was imported", nproblems,
                           nproblems == 1 ? "" : "s");
        mer_translation_import_release(&imp);
        return;
    }
    if (imp.nchanges == 0) { /* nothing to write: the report is the answer */
        mer_reply_json(r, 200, json_incref(imp.report));
        mer_translation_import_release(&imp);
        return;
    }
    import_call_t *a = mer_call_new(r, sizeof(*a));
    snprintf(a->lang, sizeof(a->lang), "%s", lang);
    a->imp = imp;
    a->c.cleanup = import_free;
    a->c.committed = import_committed;
    mer_call_write(&a->c, MER_STORE_CATALOG, import_write);
}

static const mer_route_t routes[] = {
    {"GET", "/api/v1/admin/translations/coverage", h_coverage, MER_AUTH_ADMIN, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/translations/{lang}/export", h_export, MER_AUTH_ADMIN, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/admin/translations/{lang}/import", h_import, MER_AUTH_ADMIN, 0, MER_IDEM_NONE, MER_RATE_NONE},
};

const mer_routes_t mer_translation_routes = {routes, MER_ARRAY_LEN(routes)};
