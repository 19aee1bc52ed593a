/*
 * registry.c — the country/region snapshot: loaded from the catalogue database at start and after each
 * admin change, published through an atomic pointer (see country.h for the concurrency rule).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/log.h"
#include "region/country.h"
#include "store/db.h"
#include "store/notify.h"
#include "core/banned.h"

static _Atomic(mer_countries_t *) current;
static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;
static mer_countries_t **retired;
static size_t nretired;
static char *served_list, *url_overrides_list, *self_base_url;
static uint64_t next_version = 1;
static _Atomic bool changed; /* a committed or pending job changed countries or regions */

int mer_countries_changed(mer_db_t *db)
{
    atomic_store(&changed, true);
    return db ? mer_notify_send(db, "countries", NULL) : 0;
}

bool mer_countries_take_changed(void)
{
    return atomic_exchange(&changed, false);
}

const mer_countries_t *mer_countries(void)
{
    return atomic_load_explicit(&current, memory_order_acquire);
}

const mer_country_t *mer_country_find(const mer_countries_t *cs, const char *code, size_t len)
{
    const mer_country_t *c = mer_country_find_any(cs, code, len);
    return c && !c->launching ? c : NULL;
}

const mer_country_t *mer_country_find_any(const mer_countries_t *cs, const char *code, size_t len)
{
    if (cs == NULL || len != 2)
        return NULL;
    int a = code[0] & ~0x20, b = code[1] & ~0x20; /* ASCII upper-case */
    if (a < 'A' || a > 'Z' || b < 'A' || b > 'Z')
        return NULL;
    return cs->by_code[(a - 'A') * 26 + (b - 'A')];
}

const mer_region_t *mer_region_find(const mer_countries_t *cs, const char *name)
{
    for (size_t i = 0; i < cs->nregions; i++)
        if (strcmp(cs->regions[i].name, name) == 0)
            return &cs->regions[i];
    return NULL;
}

/* Does the --regions list serve every region? ("" or "all") */
static bool serves_all(const char *list)
{
    return list == NULL || *list == '\0' || strcmp(list, "all") == 0;
}

/* Does the --regions list serve none ("none": a catalogue hub's node, which holds no region's data)? */
static bool serves_none(const char *list)
{
    return list && strcmp(list, "none") == 0;
}

/* Is name served? */
static bool in_list(const char *list, const char *name)
{
    return !serves_none(list) && (serves_all(list) || mer_list_has(list, name));
}

/* Finds "name=url" in the overrides list; copies url into out. */
static bool find_override(const char *list, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name), len;
    for (const char *p = list, *item; mer_list_next(&p, &item, &len);) {
        if (len > n && item[n] == '=' && memcmp(item, name, n) == 0) {
            snprintf(out, cap, "%.*s", (int)(len - n - 1), item + n + 1);
            return true;
        }
    }
    return false;
}

static void free_snapshot(mer_countries_t *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        mer_country_release(cs->list[i]);
        free(cs->list[i]);
    }
    free(cs->list);
    free(cs);
}

static int load(mer_db_t *db, mer_countries_t **out)
{
    mer_countries_t *cs = mer_xcalloc(1, sizeof(*cs));
    int err;

    mer_rows_t *r = mer_db_query(db, "SELECT name, base_url FROM region ORDER BY name", NULL);
    while (mer_rows_next(r)) {
        if (cs->nregions >= MER_MAX_REGIONS) {
            mer_log_warn("more than %d regions; ignoring the rest", MER_MAX_REGIONS);
            break;
        }
        mer_region_t *rg = &cs->regions[cs->nregions++];
        snprintf(rg->name, sizeof(rg->name), "%s", mer_rows_text(r, 0));
        snprintf(rg->base_url, sizeof(rg->base_url), "%s", mer_rows_text(r, 1));
        rg->local = in_list(served_list, rg->name);
        if (!find_override(url_overrides_list, rg->name, rg->base_url, sizeof(rg->base_url)) && rg->local &&
            self_base_url && rg->base_url[0] == '\0')
            snprintf(rg->base_url, sizeof(rg->base_url), "%s", self_base_url);
    }
    if ((err = mer_rows_end(r)) != 0)
        goto fail;

    size_t cap = 16;
    cs->list = mer_xcalloc(cap, sizeof(*cs->list));
    r = mer_db_query(db, "SELECT code, config, status FROM country ORDER BY code", NULL);
    while (mer_rows_next(r)) {
        json_error_t jerr;
        mer_verr_t e = {0};
        const char *code = mer_rows_text(r, 0);
        json_t *cfg = json_loadb(mer_rows_text(r, 1), mer_rows_len(r, 1), 0, &jerr);
        mer_country_t *c = mer_xcalloc(1, sizeof(*c));
        if (cfg == NULL || mer_country_parse(cfg, code, c, &e) != 0) {
            mer_log_error("country %s in the database is invalid (%s: %s); skipped", code, e.field,
                          cfg ? e.message : jerr.text);
            mer_country_release(c);
            free(c);
            json_decref(cfg);
            continue;
        }
        json_decref(cfg);
        c->launching = strcmp(mer_rows_text(r, 2), "launching") == 0;
        if (mer_region_find(cs, c->region) == NULL) {
            mer_log_error("country %s names unknown region %s; skipped", code, c->region);
            mer_country_release(c);
            free(c);
            continue;
        }
        if (cs->n == cap) {
            cap *= 2;
            cs->list = mer_xrealloc(cs->list, cap * sizeof(*cs->list));
        }
        cs->list[cs->n++] = c;
        cs->by_code[(c->code[0] - 'A') * 26 + (c->code[1] - 'A')] = c;
    }
    if ((err = mer_rows_end(r)) != 0)
        goto fail;
    cs->version = next_version++;
    *out = cs;
    return 0;
fail:
    free_snapshot(cs);
    return err;
}

int mer_countries_init(mer_db_t *catalog, const char *served, const char *url_overrides, const char *self_url)
{
    served_list = mer_xstrdup(served ? served : "");
    url_overrides_list = mer_xstrdup(url_overrides ? url_overrides : "");
    self_base_url = mer_xstrdup(self_url ? self_url : "");
    mer_countries_t *cs;
    int err = load(catalog, &cs);
    if (err)
        return err;
    /* every region named in --regions must exist */
    size_t len;
    for (const char *p = serves_all(served_list) || serves_none(served_list) ? NULL : served_list, *item;
         mer_list_next(&p, &item, &len);) {
        bool found = false;
        for (size_t i = 0; i < cs->nregions && !found; i++)
            found = strlen(cs->regions[i].name) == len && memcmp(cs->regions[i].name, item, len) == 0;
        if (!found) {
            mer_log_error("--regions names %.*s, which is not a known region", (int)len, item);
            free_snapshot(cs);
            return MER_E_INVALID_PARAM;
        }
    }
    atomic_store_explicit(&current, cs, memory_order_release);
    return 0;
}

int mer_countries_reload(mer_db_t *catalog)
{
    mer_countries_t *cs;
    pthread_mutex_lock(&reload_mu);
    int err = load(catalog, &cs);
    if (err == 0) {
        mer_countries_t *old = atomic_exchange_explicit(&current, cs, memory_order_acq_rel);
        if (old) {
            retired = mer_xrealloc(retired, (nretired + 1) * sizeof(*retired));
            retired[nretired++] = old;
        }
    }
    pthread_mutex_unlock(&reload_mu);
    return err;
}

void mer_countries_shutdown(void)
{
    mer_countries_t *cs = atomic_exchange(&current, NULL);
    if (cs)
        free_snapshot(cs);
    for (size_t i = 0; i < nretired; i++)
        free_snapshot(retired[i]);
    free(retired);
    retired = NULL;
    nretired = 0;
    free(served_list);
    free(url_overrides_list);
    free(self_base_url);
    served_list = url_overrides_list = self_base_url = NULL;
}
