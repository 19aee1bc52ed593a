/*
 * launch_http.c — the launch module's admin routes, the adapter of launch.c:
 *
 *   POST /api/v1/admin/countries/{code}/launch-plan   admin   the plan; changes nothing
 *   POST /api/v1/admin/countries/{code}/launch        admin   applies it (country launching, prices)
 *   GET  /api/v1/admin/countries/{code}/readiness     staff   what blocks opening
 *   POST /api/v1/admin/countries/{code}/open          staff   opens it; 409 not_ready with the blockers,
 *                                                             unless an admin forces it (with a reason)
 *
 * Requests are checked on the loop (mer_launch_parse reads only the registry); the plan runs on the read
 * pool (it walks the whole catalogue), apply and open are jobs of catalog.db's writer, readiness reads the
 * country's region database.
 */
#include <stdio.h>

#include "core/log.h"
#include "http/req.h"
#include "launch/launch.h"
#include "region/region_http.h"
#include "store/store.h"
#include "core/banned.h"

typedef struct launch_call {
    mer_call_t c;
    mer_launch_in_t in;
    mer_launch_plan_t plan; /* the plan answered */
    /* open */
    const mer_country_t *country; /* registry; valid until exit */
    bool force, writing;
    char reason[201];
    json_t *report; /* readiness */
} launch_call_t;

static void launch_free(mer_call_t *c)
{
    launch_call_t *l = (launch_call_t *)c;
    mer_launch_in_release(&l->in);
    mer_launch_plan_release(&l->plan);
    json_decref(l->report);
}

/* The {code} of the path, or answers 422 and returns false. */
static bool path_code(mer_req_t *r, char code[3])
{
    if (r->params[0].len != 2) {
        mer_reply_error(r, MER_E_VALIDATION, "code", "a country code is two upper-case letters (ISO 3166-1)");
        return false;
    }
    memcpy(code, r->params[0].base, 2);
    code[2] = '\0';
    return true;
}

/* A new call for a plan or an apply with its request checked; NULL when it answered an error. */
static launch_call_t *launch_request(mer_req_t *r, bool apply)
{
    char code[3];
    mer_verr_t e = {0};
    if (!path_code(r, code))
        return NULL;
    launch_call_t *l = mer_call_new(r, sizeof(*l));
    l->c.cleanup = launch_free;
    if (mer_launch_parse(r->body, code, mer_countries(), apply, &l->in, &e) != 0) {
        mer_launch_in_release(&l->in);
        free(l);
        mer_reply_verr(r, &e);
        return NULL;
    }
    return l;
}

static int plan_run(mer_db_t *db, mer_call_t *c)
{
    (void)db; /* the plan reads the catalogue snapshot only */
    launch_call_t *l = (launch_call_t *)c;
    const mer_catalog_t *cat = mer_catalog_lock();
    int err = mer_launch_plan(&l->in, cat, &l->plan, &c->verr);
    mer_catalog_unlock();
    return err;
}

/* The plan as serialised once (its id is the hash of that text): no second serialisation. */
static void plan_reply(mer_call_t *c)
{
    launch_call_t *l = (launch_call_t *)c;
    mer_reply_bytes(c->r, 200, NULL, mer_req_strdup(c->r, l->plan.text, l->plan.len), l->plan.len);
}

static void h_plan(mer_req_t *r)
{
    launch_call_t *l = launch_request(r, false);
    if (l == NULL)
        return;
    l->c.reply = plan_reply;
    mer_call_read(&l->c, MER_STORE_CATALOG, plan_run);
}

static int apply_run(mer_db_t *db, mer_call_t *c)
{
    launch_call_t *l = (launch_call_t *)c;
    mer_launch_plan_t plan = {0};
    int err = mer_launch_apply(db, &l->in, c->who.id, mer_now_unix_ms(), &plan, &c->verr);
    if (err == 0) {
        json_t *p = plan.json;
        c->status = 201;
        c->result = json_pack("{s:s,s:s,s:s,s:O,s:O,s:I}", "country", l->in.code, "status", "launching", "plan_id",
                              plan.id, "summary", json_object_get(p, "summary"), "problems",
                              json_object_get(p, "problems"), "prices_written", (json_int_t)plan.nprices);
    }
    mer_launch_plan_release(&plan);
    return err;
}

static void apply_committed(mer_call_t *c)
{
    launch_call_t *l = (launch_call_t *)c;
    mer_log_info("country %s launched from %s by staff %lld (not open yet)", l->in.code, l->in.tpl->code,
                 (long long)c->who.id);
}

static void h_launch(mer_req_t *r)
{
    launch_call_t *l = launch_request(r, true);
    if (l == NULL)
        return;
    l->c.committed = apply_committed;
    mer_call_write(&l->c, MER_STORE_CATALOG, apply_run);
}

static int readiness_run(mer_db_t *db, mer_call_t *c)
{
    launch_call_t *l = (launch_call_t *)c;
    return mer_launch_readiness(db, l->country, &l->report);
}

static void readiness_reply(mer_call_t *c)
{
    launch_call_t *l = (launch_call_t *)c;
    mer_reply_json(c->r, 200, json_incref(l->report));
}

static void h_readiness(mer_req_t *r)
{
    char code[3];
    if (!path_code(r, code))
        return;
    const mer_country_t *ct = mer_req_staff_country(r, code, "see the readiness of");
    if (ct == NULL)
        return;
    launch_call_t *l = mer_call_new(r, sizeof(*l));
    l->c.cleanup = launch_free;
    l->country = ct;
    l->c.reply = readiness_reply;
    mer_call_read(&l->c, ct->region, readiness_run);
}

static int open_run(mer_db_t *db, mer_call_t *c)
{
    launch_call_t *l = (launch_call_t *)c;
    json_t *blockers = json_object_get(l->report, "blockers");
    return mer_launch_open(db, l->country->code, c->who.id, l->force && json_array_size(blockers) > 0, l->reason,
                           blockers, mer_now_unix_ms(), &c->verr);
}

static void open_reply(mer_call_t *c)
{
    launch_call_t *l = (launch_call_t *)c;
    json_t *blockers = json_object_get(l->report, "blockers");
    if (!l->writing) { /* readiness is known: refuse, or open */
        if (json_array_size(blockers) > 0 && !l->force) {
            mer_reply_error_ex(
                c->r, MER_E_NOT_READY, "country",
                json_pack("{s:O,s:O}", "counts", json_object_get(l->report, "counts"), "blockers", blockers),
                "%s is not ready to open: %zu blockers (an admin may force it with a reason)", l->country->code,
                json_array_size(blockers));
            return;
        }
        l->writing = true;
        mer_call_write(c, MER_STORE_CATALOG, open_run);
        return;
    }
    bool forced = l->force && json_array_size(blockers) > 0;
    if (forced)
        mer_log_warn("country %s opened by staff %lld, forced over %zu blockers: %s", l->country->code,
                     (long long)c->who.id, json_array_size(blockers), l->reason);
    else
        mer_log_info("country %s opened by staff %lld", l->country->code, (long long)c->who.id);
    mer_reply_json(c->r, 200,
                   json_pack("{s:s,s:s,s:b,s:I,s:I}", "country", l->country->code, "status", "open", "forced", forced,
                             "blockers_overridden", (json_int_t)(forced ? json_array_size(blockers) : 0), "opened_by",
                             (json_int_t)c->who.id));
}

static void h_open(mer_req_t *r)
{
    static const char *const keys[] = {"force", "reason", NULL};
    char code[3];
    mer_verr_t e = {0};
    bool force = false;
    const char *reason = "";
    if (!path_code(r, code))
        return;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_bool(r->body, "force", "force", false, &force, &e) ||
        mer_json_str(r->body, "reason", "reason", 1, 200, force, &reason, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    if (force && r->who.role != MER_ROLE_ADMIN) {
        mer_reply_error(r, MER_E_FORBIDDEN, "force", "only an admin may force a country open");
        return;
    }
    const mer_country_t *ct = mer_req_staff_country(r, code, "open");
    if (ct == NULL)
        return;
    if (!ct->launching) {
        mer_reply_error(r, MER_E_CONFLICT, "country", "%s is open already", ct->code);
        return;
    }
    launch_call_t *l = mer_call_new(r, sizeof(*l));
    l->c.cleanup = launch_free;
    l->country = ct;
    l->force = force;
    snprintf(l->reason, sizeof(l->reason), "%s", reason);
    l->c.reply = open_reply;
    mer_call_read(&l->c, ct->region, readiness_run);
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/admin/countries/{code}/launch-plan", h_plan, MER_AUTH_ADMIN, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"POST", "/api/v1/admin/countries/{code}/launch", h_launch, MER_AUTH_ADMIN, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
    {"GET", "/api/v1/admin/countries/{code}/readiness", h_readiness, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/admin/countries/{code}/open", h_open, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_NONE},
};

static const mer_routes_t launch_routes = {routes, MER_ARRAY_LEN(routes)};

const mer_module_t mer_launch_module = {
    .name = "launch",
    .routes = MER_MODULE_ROUTES(&launch_routes),
};
