#include "order/coupon.h"

#include <ctype.h>
#include <stdio.h>

#include "catalog/catalog.h"
#include "core/log.h"
#include "core/tz.h"
#include "region/region_http.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

static const char *const kind_names[] = {"threshold_amount", "percent", "fixed_amount"};
static const char *const scope_names[] = {"store", "category", "product", "sku"};

#define COPYS(dst, rows, col) snprintf((dst), sizeof(dst), "%s", mer_rows_text((rows), (col)))

/* The columns coupon_row() reads, in its order. */
#define COUPON_COLUMNS                                                                                                 \
    "id, code, country, kind, value, min_subtotal, max_discount, scope, scope_ids, valid_from, valid_until, budget, "  \
    "max_redemptions, per_user_limit, payment_methods, active"
/* Two more columns for admin answers: redemptions that count (frozen or consumed) and the discount they gave. */
#define COUPON_USAGE                                                                                                   \
    "(SELECT COUNT(*) FROM coupon_redemption u WHERE u.coupon_id = coupon.id "                                         \
    "AND u.status IN ('frozen', 'consumed')), "                                                                        \
    "(SELECT COALESCE(SUM(u.amount), 0) FROM coupon_redemption u WHERE u.coupon_id = coupon.id "                       \
    "AND u.status IN ('frozen', 'consumed'))"

/* Reads a coupon from a row that starts with COUPON_COLUMNS. */
static void coupon_row(mer_rows_t *r, mer_coupon_t *out)
{
    memset(out, 0, sizeof(*out));
    out->id = mer_rows_int(r, 0);
    COPYS(out->code, r, 1);
    COPYS(out->country, r, 2);
    for (int k = 0; k < 3; k++)
        if (strcmp(mer_rows_text(r, 3), kind_names[k]) == 0)
            out->kind = (mer_coupon_kind_t)k;
    out->value = mer_rows_int(r, 4);
    out->min_subtotal = mer_rows_int(r, 5);
    out->max_discount = mer_rows_int(r, 6);
    for (int k = 0; k < 4; k++)
        if (strcmp(mer_rows_text(r, 7), scope_names[k]) == 0)
            out->scope = (mer_coupon_scope_t)k;
    const char *ids = mer_rows_text(r, 8), *item;
    size_t len;
    while (out->nscope < MER_COUPON_MAX_SCOPE && mer_list_next(&ids, &item, &len)) {
        int64_t v = 0;
        if (mer_parse_int64(item, len, 1, INT64_MAX, &v) == 0)
            out->scope_ids[out->nscope++] = v;
    }
    out->valid_from = mer_rows_int(r, 9);
    out->valid_until = mer_rows_int(r, 10);
    out->budget = mer_rows_int(r, 11);
    out->max_redemptions = mer_rows_int(r, 12);
    out->per_user_limit = mer_rows_int(r, 13);
    COPYS(out->methods, r, 14);
    out->active = mer_rows_int(r, 15) != 0;
}

int mer_coupon_load(mer_db_t *db, const char *country, const char *code, mer_coupon_t *out)
{
    char upper[33];
    size_t n = strlen(code);
    if (n == 0 || n >= sizeof(upper))
        return MER_E_NOT_FOUND;
    for (size_t i = 0; i <= n; i++)
        upper[i] = (char)toupper((unsigned char)code[i]);
    memset(out, 0, sizeof(*out));
    mer_rows_t *r =
        mer_db_query(db, "SELECT " COUPON_COLUMNS " FROM coupon WHERE country = ? AND code = ?", "ss", country, upper);
    bool found = mer_rows_next(r);
    if (found)
        coupon_row(r, out);
    int err = mer_rows_end(r);
    return err ? err : found ? 0 : MER_E_NOT_FOUND;
}

int mer_coupon_freeze(mer_db_t *db, const mer_coupon_t *c, int64_t order_id, int64_t user_id, int64_t amount,
                      char msg[128])
{
    int64_t mine = 0, uses = 0, spent = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT COUNT(*), COALESCE(SUM(amount), 0), "
                                 "COALESCE(SUM(CASE WHEN user_id = ? THEN 1 ELSE 0 END), 0) "
                                 "FROM coupon_redemption WHERE coupon_id = ? AND status IN ('frozen', 'consumed')",
                                 "ii", user_id, c->id);
    if (mer_rows_next(r)) {
        uses = mer_rows_int(r, 0);
        spent = mer_rows_int(r, 1);
        mine = mer_rows_int(r, 2);
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    if (c->per_user_limit > 0 && mine >= c->per_user_limit) {
        snprintf(msg, 128, "you have already used coupon %s %lld time(s)", c->code, (long long)mine);
        return MER_E_CONFLICT;
    }
    if (c->max_redemptions > 0 && uses >= c->max_redemptions) {
        snprintf(msg, 128, "coupon %s has been used up", c->code);
        return MER_E_CONFLICT;
    }
    int64_t after;
    if (c->budget > 0 && (mer_money_add(&after, spent, amount) != 0 || after > c->budget)) {
        snprintf(msg, 128, "coupon %s has no budget left for this discount", c->code);
        return MER_E_CONFLICT;
    }
    return mer_db_exec(db,
                       "INSERT INTO coupon_redemption (coupon_id, order_id, user_id, amount, status, updated_at) "
                       "VALUES (?, ?, ?, ?, 'frozen', ?)",
                       "iiiii", c->id, order_id, user_id, amount, mer_now_unix_ms()) < 0
               ? MER_E_INTERNAL
               : 0;
}

int mer_coupon_settle(mer_db_t *db, int64_t order_id, bool consume)
{
    return mer_db_exec(db,
                       "UPDATE coupon_redemption SET status = ?, updated_at = ? WHERE order_id = ? AND status = 'frozen'",
                       "sii", consume ? "consumed" : "returned", mer_now_unix_ms(), order_id) < 0
               ? MER_E_INTERNAL
               : 0;
}

/* ---- admin ---- */

/*
 * The scope in the shape resolve_scope() takes, so an answer can be sent back as input: category slugs,
 * product ids or SKU codes. An id the catalogue no longer knows is shown as that id.
 */
static json_t *scope_json(const mer_coupon_t *c)
{
    json_t *values = json_array();
    const mer_catalog_t *cat = mer_catalog_lock();
    for (size_t i = 0; i < c->nscope; i++) {
        const mer_cat_category_t *k =
            c->scope == MER_SCOPE_CATEGORY ? mer_catalog_category(cat, c->scope_ids[i]) : NULL;
        const mer_cat_sku_t *s = c->scope == MER_SCOPE_SKU ? mer_catalog_sku_by_id(cat, c->scope_ids[i]) : NULL;
        json_array_append_new(values, k   ? json_string(k->slug)
                                      : s ? json_string(s->code)
                                          : json_integer(c->scope_ids[i]));
    }
    mer_catalog_unlock();
    return json_pack("{s:s,s:o}", "type", scope_names[c->scope], "values", values);
}

static json_t *coupon_json(const mer_coupon_t *c, const mer_country_t *country, int64_t uses, int64_t spent)
{
    char from[32], until[32], from_l[40], until_l[40];
    mer_format_utc_ms(c->valid_from, from);
    mer_format_utc_ms(c->valid_until, until);
    mer_tz_format(c->valid_from, country->timezone, from_l);
    mer_tz_format(c->valid_until, country->timezone, until_l);
    return json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:b,s:{s:I,s:I}}", "id",
                     (json_int_t)c->id, "code", c->code, "country", c->country, "kind", kind_names[c->kind], "value",
                     (json_int_t)c->value, "min_subtotal", (json_int_t)c->min_subtotal, "max_discount",
                     (json_int_t)c->max_discount, "scope", scope_json(c), "valid_from", from, "valid_until", until,
                     "valid_from_local", from_l, "valid_until_local", until_l, "budget", (json_int_t)c->budget,
                     "max_redemptions", (json_int_t)c->max_redemptions, "per_user_limit", (json_int_t)c->per_user_limit,
                     "payment_methods", mer_json_csv_array(c->methods), "active", c->active, "usage", "redemptions",
                     (json_int_t)uses, "discount_given", (json_int_t)spent);
}

typedef struct coupon_job {
    mer_wjob_t w;
    mer_req_t *r;
    mer_coupon_t c;
    const mer_country_t *country;
    bool toggle; /* PATCH active */
} coupon_job_t;

static int coupon_run(mer_db_t *db, mer_wjob_t *w)
{
    coupon_job_t *j = H2O_STRUCT_FROM_MEMBER(coupon_job_t, w, w);
    mer_coupon_t *c = &j->c;
    if (j->toggle) {
        int rc = mer_db_exec(db, "UPDATE coupon SET active = ? WHERE id = ? AND country = ?", "iis", (int64_t)c->active,
                             c->id, c->country);
        return rc < 0 ? rc : rc == 0 ? MER_E_NOT_FOUND : 0;
    }
    mer_buf_t ids = MER_BUF_INIT;
    for (size_t i = 0; i < c->nscope; i++)
        mer_buf_printf(&ids, "%s%lld", i ? "," : "", (long long)c->scope_ids[i]);
    int err = mer_db_query_int(db, &c->id,
                               "INSERT INTO coupon (code, country, kind, value, min_subtotal, max_discount, scope, "
                               "scope_ids, valid_from, valid_until, budget, max_redemptions, per_user_limit, "
                               "payment_methods, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
                               "RETURNING id",
                               "sssiiissiiiiisi", c->code, c->country, kind_names[c->kind], c->value, c->min_subtotal,
                               c->max_discount, scope_names[c->scope], mer_buf_str(&ids), c->valid_from,
                               c->valid_until, c->budget, c->max_redemptions, c->per_user_limit, c->methods,
                               mer_now_unix_ms());
    mer_buf_release(&ids);
    return err;
}

static void coupon_done(mer_wjob_t *w)
{
    coupon_job_t *j = H2O_STRUCT_FROM_MEMBER(coupon_job_t, w, w);
    mer_req_t *r = j->r;
    if (!r->gone) {
        if (w->err == MER_E_ALREADY_EXISTS)
            mer_reply_error(r, w->err, "code", "coupon %s already exists in %s", j->c.code, j->c.country);
        else if (w->err)
            mer_reply_error(r, w->err, NULL, NULL);
        else if (j->toggle) {
            mer_rows_t *rows =
                mer_db_query(mer_store_reader(j->country->region),
                             "SELECT " COUPON_COLUMNS ", " COUPON_USAGE " FROM coupon WHERE id = ?", "i", j->c.id);
            mer_coupon_t c;
            int64_t uses = 0, spent = 0;
            bool found = mer_rows_next(rows);
            if (found) {
                coupon_row(rows, &c);
                uses = mer_rows_int(rows, 16);
                spent = mer_rows_int(rows, 17);
            }
            int err = mer_rows_end(rows);
            if (err)
                mer_reply_error(r, err, NULL, NULL);
            else if (!found)
                mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no such coupon");
            else
                mer_reply_json(r, 200, coupon_json(&c, j->country, uses, spent));
        } else {
            j->c.active = true;
            mer_reply_json(r, 201, coupon_json(&j->c, j->country, 0, 0));
        }
    }
    mer_req_release(r);
    free(j);
}

static int parse_time(mer_req_t *r, const char *field, const char *text, const mer_country_t *c, int64_t *out)
{
    if (mer_tz_parse_local(text, c->timezone, out) != 0) {
        mer_reply_error(r, MER_E_VALIDATION, field,
                        "%s is a local time in %s like 2026-12-01T00:00 (or with Z / an offset)", field, c->timezone);
        return -1;
    }
    return 0;
}

/* Resolves scope values (category slugs, product ids or slugs, SKU codes) to ids. */
static int resolve_scope(mer_req_t *r, json_t *scope, mer_coupon_t *c)
{
    static const char *const keys[] = {"type", "values", NULL};
    mer_verr_t e = {0};
    const char *type = "store";
    json_t *values = NULL;
    if (mer_json_only(scope, keys, "scope", &e) || mer_json_str(scope, "type", "scope.type", 1, 16, false, &type, &e) ||
        mer_json_member(scope, "values", "scope.values", JSON_ARRAY, false, &values, &e)) {
        mer_reply_verr(r, &e);
        return -1;
    }
    bool known = false;
    for (int k = 0; k < 4; k++)
        if (strcmp(type, scope_names[k]) == 0) {
            c->scope = (mer_coupon_scope_t)k;
            known = true;
        }
    if (!known) {
        mer_reply_error(r, MER_E_VALIDATION, "scope.type", "scope.type is store, category, product or sku");
        return -1;
    }
    if (c->scope == MER_SCOPE_STORE)
        return 0;
    if (json_array_size(values) == 0 || json_array_size(values) > MER_COUPON_MAX_SCOPE) {
        mer_reply_error(r, MER_E_VALIDATION, "scope.values", "list 1 to %d values", MER_COUPON_MAX_SCOPE);
        return -1;
    }
    const mer_catalog_t *cat = mer_catalog_lock();
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        int64_t id = 0;
        const char *s = json_string_value(v);
        if (c->scope == MER_SCOPE_CATEGORY && s) {
            for (size_t k = 0; k < cat->ncategories; k++)
                if (strcmp(cat->categories[k].slug, s) == 0)
                    id = cat->categories[k].id;
        } else if (c->scope == MER_SCOPE_PRODUCT) {
            if (json_is_integer(v) && mer_catalog_product(cat, json_integer_value(v)))
                id = json_integer_value(v);
            for (size_t k = 0; s && k < cat->nproducts; k++)
                if (strcmp(cat->products[k].slug, s) == 0)
                    id = cat->products[k].id;
        } else if (c->scope == MER_SCOPE_SKU && s) {
            const mer_cat_sku_t *sku = mer_catalog_sku_by_code(cat, s);
            id = sku ? sku->id : 0;
        }
        if (id == 0) {
            mer_catalog_unlock();
            mer_reply_error(r, MER_E_VALIDATION, "scope.values", "scope.values[%zu] names no %s", i, type);
            return -1;
        }
        c->scope_ids[c->nscope++] = id;
    }
    mer_catalog_unlock();
    return 0;
}

static void h_create(mer_req_t *r)
{
    static const char *const keys[] = {"code",         "country",         "kind",           "value",
                                       "min_subtotal", "max_discount",    "scope",          "valid_from",
                                       "valid_until",  "budget",          "max_redemptions", "per_user_limit",
                                       "payment_methods", NULL};
    mer_verr_t e = {0};
    const char *code = NULL, *country = NULL, *kind = NULL, *from = NULL, *until = NULL;
    json_t *scope = NULL, *methods = NULL;
    mer_coupon_t cv = {.per_user_limit = 1}, *c = &cv; /* the job is made once all of it is valid */
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "code", "code", 3, 32, true, &code, &e) ||
        mer_json_str(r->body, "country", "country", 2, 2, true, &country, &e) ||
        mer_json_str(r->body, "kind", "kind", 1, 20, true, &kind, &e) ||
        mer_json_int(r->body, "value", "value", 1, MER_MONEY_MAX, true, &c->value, &e) ||
        mer_json_int(r->body, "min_subtotal", "min_subtotal", 0, MER_MONEY_MAX, false, &c->min_subtotal, &e) ||
        mer_json_int(r->body, "max_discount", "max_discount", 0, MER_MONEY_MAX, false, &c->max_discount, &e) ||
        mer_json_member(r->body, "scope", "scope", JSON_OBJECT, false, &scope, &e) ||
        mer_json_str(r->body, "valid_from", "valid_from", 16, 30, true, &from, &e) ||
        mer_json_str(r->body, "valid_until", "valid_until", 16, 30, true, &until, &e) ||
        mer_json_int(r->body, "budget", "budget", 0, MER_MONEY_MAX, false, &c->budget, &e) ||
        mer_json_int(r->body, "max_redemptions", "max_redemptions", 0, 100000000, false, &c->max_redemptions, &e) ||
        mer_json_int(r->body, "per_user_limit", "per_user_limit", 0, 1000, false, &c->per_user_limit, &e) ||
        mer_json_member(r->body, "payment_methods", "payment_methods", JSON_ARRAY, false, &methods, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    const mer_country_t *ct = mer_req_staff_country(r, country, "manage coupons");
    if (ct == NULL)
        return;
    snprintf(c->country, sizeof(c->country), "%s", ct->code);
    for (size_t i = 0; code[i]; i++) {
        if (!isalnum((unsigned char)code[i]) && code[i] != '-' && code[i] != '_') {
            mer_reply_error(r, MER_E_VALIDATION, "code", "coupon codes are letters, digits, '-' and '_'");
            return;
        }
        c->code[i] = (char)toupper((unsigned char)code[i]);
    }
    bool known = false;
    for (int k = 0; k < 3; k++)
        if (strcmp(kind, kind_names[k]) == 0) {
            c->kind = (mer_coupon_kind_t)k;
            known = true;
        }
    if (!known || (c->kind == MER_COUPON_PERCENT && c->value > 10000)) {
        mer_reply_error(r, MER_E_VALIDATION, known ? "value" : "kind",
                        known ? "a percent coupon's value is basis points, at most 10000"
                              : "kind is threshold_amount, percent or fixed_amount");
        return;
    }
    if (c->kind != MER_COUPON_PERCENT && c->value % ct->step != 0) {
        mer_reply_error(r, MER_E_VALIDATION, "value", "value must be a multiple of %lld minor units",
                        (long long)ct->step);
        return;
    }
    if (parse_time(r, "valid_from", from, ct, &c->valid_from) != 0 ||
        parse_time(r, "valid_until", until, ct, &c->valid_until) != 0)
        return;
    if (c->valid_until <= c->valid_from) {
        mer_reply_error(r, MER_E_VALIDATION, "valid_until", "valid_until must be after valid_from");
        return;
    }
    if (scope && resolve_scope(r, scope, c) != 0)
        return;
    size_t i;
    json_t *v;
    json_array_foreach(methods, i, v)
    {
        const char *m = json_string_value(v);
        if (m == NULL || mer_country_payment(ct, m) == NULL ||
            strlen(c->methods) + strlen(m) + 2 > sizeof(c->methods)) {
            mer_reply_error(r, MER_E_VALIDATION, "payment_methods", "payment_methods lists methods offered in %s",
                            ct->code);
            return;
        }
        if (c->methods[0])
            strncat(c->methods, ",", sizeof(c->methods) - strlen(c->methods) - 1);
        strncat(c->methods, m, sizeof(c->methods) - strlen(c->methods) - 1);
    }
    coupon_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->r = r;
    j->c = cv;
    j->country = ct;
    j->w.run = coupon_run;
    j->w.done = coupon_done;
    if (mer_req_submit(r, ct->region, &j->w) != 0)
        free(j);
}

static void h_list(mer_req_t *r)
{
    const mer_country_t *ct = mer_req_staff_country(r, mer_req_query(r, "country"), "manage coupons");
    if (ct == NULL)
        return;
    json_t *arr = json_array();
    mer_rows_t *rows = mer_db_query(mer_store_reader(ct->region),
                                    "SELECT " COUPON_COLUMNS ", " COUPON_USAGE " FROM coupon WHERE country = ? "
                                    "ORDER BY id LIMIT 200",
                                    "s", ct->code);
    while (mer_rows_next(rows)) {
        mer_coupon_t c;
        coupon_row(rows, &c);
        json_array_append_new(arr, coupon_json(&c, ct, mer_rows_int(rows, 16), mer_rows_int(rows, 17)));
    }
    mer_rows_end(rows);
    mer_reply_json(r, 200, json_pack("{s:o}", "coupons", arr));
}

static void h_patch(mer_req_t *r)
{
    static const char *const keys[] = {"country", "active", NULL};
    mer_verr_t e = {0};
    const char *country = NULL;
    bool active = true;
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (mer_json_only(r->body, keys, "", &e) || mer_json_str(r->body, "country", "country", 2, 2, true, &country, &e) ||
        mer_json_bool(r->body, "active", "active", true, &active, &e)) {
        mer_reply_verr(r, &e);
        return;
    }
    const mer_country_t *ct = mer_req_staff_country(r, country, "manage coupons");
    if (ct == NULL)
        return;
    coupon_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->r = r;
    j->country = ct;
    j->toggle = true;
    j->c.id = id;
    j->c.active = active;
    snprintf(j->c.country, sizeof(j->c.country), "%s", ct->code);
    j->w.run = coupon_run;
    j->w.done = coupon_done;
    if (mer_req_submit(r, ct->region, &j->w) != 0)
        free(j);
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/admin/coupons", h_create, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/coupons", h_list, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"PATCH", "/api/v1/admin/coupons/{id}", h_patch, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
};

const mer_routes_t mer_coupon_routes = {routes, MER_ARRAY_LEN(routes)};
