#include "order/coupon.h"

#include <ctype.h>
#include <stdio.h>

#include "catalog/catalog.h"
#include "core/log.h"
#include "core/tz.h"
#include "order/coupon_input.h"
#include "region/region_http.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

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
        if (strcmp(mer_rows_text(r, 3), mer_coupon_kind_names[k]) == 0)
            out->kind = (mer_coupon_kind_t)k;
    out->value = mer_rows_int(r, 4);
    out->min_subtotal = mer_rows_int(r, 5);
    out->max_discount = mer_rows_int(r, 6);
    for (int k = 0; k < 4; k++)
        if (strcmp(mer_rows_text(r, 7), mer_coupon_scope_names[k]) == 0)
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
    return mer_db_exec(
               db, "UPDATE coupon_redemption SET status = ?, updated_at = ? WHERE order_id = ? AND status = 'frozen'",
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
    return json_pack("{s:s,s:o}", "type", mer_coupon_scope_names[c->scope], "values", values);
}

static json_t *coupon_json(const mer_coupon_t *c, const mer_country_t *country, int64_t uses, int64_t spent)
{
    char from[32], until[32], from_l[40], until_l[40];
    mer_format_utc_ms(c->valid_from, from);
    mer_format_utc_ms(c->valid_until, until);
    mer_tz_format(c->valid_from, country->timezone, from_l);
    mer_tz_format(c->valid_until, country->timezone, until_l);
    return json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:b,s:{s:I,s:I}}", "id",
                     (json_int_t)c->id, "code", c->code, "country", c->country, "kind", mer_coupon_kind_names[c->kind],
                     "value", (json_int_t)c->value, "min_subtotal", (json_int_t)c->min_subtotal, "max_discount",
                     (json_int_t)c->max_discount, "scope", scope_json(c), "valid_from", from, "valid_until", until,
                     "valid_from_local", from_l, "valid_until_local", until_l, "budget", (json_int_t)c->budget,
                     "max_redemptions", (json_int_t)c->max_redemptions, "per_user_limit", (json_int_t)c->per_user_limit,
                     "payment_methods", mer_json_csv_array(c->methods), "active", c->active, "usage", "redemptions",
                     (json_int_t)uses, "discount_given", (json_int_t)spent);
}

typedef struct coupon_job {
    mer_call_t k;
    mer_coupon_t c;
    const mer_country_t *country;
    bool toggle;         /* PATCH active */
    int64_t uses, spent; /* PATCH: the coupon's usage, for the answer */
} coupon_job_t;

/* Reads coupon c->id back with its usage (PATCH's answer). */
static int coupon_reload(mer_db_t *db, coupon_job_t *j)
{
    mer_rows_t *rows =
        mer_db_query(db, "SELECT " COUPON_COLUMNS ", " COUPON_USAGE " FROM coupon WHERE id = ?", "i", j->c.id);
    bool found = mer_rows_next(rows);
    if (found) {
        coupon_row(rows, &j->c);
        j->uses = mer_rows_int(rows, 16);
        j->spent = mer_rows_int(rows, 17);
    }
    int err = mer_rows_end(rows);
    return err ? err : found ? 0 : mer_verr_set(&j->k.verr, MER_E_NOT_FOUND, NULL, "no such coupon");
}

static int coupon_fn(mer_db_t *db, mer_call_t *k)
{
    coupon_job_t *j = MER_CONTAINER_OF(k, coupon_job_t, k);
    mer_coupon_t *c = &j->c;
    if (j->toggle) {
        int rc = mer_db_exec(db, "UPDATE coupon SET active = ? WHERE id = ? AND country = ?", "iis", (int64_t)c->active,
                             c->id, c->country);
        return rc < 0 ? rc : rc == 0 ? MER_E_NOT_FOUND : coupon_reload(db, j);
    }
    mer_buf_t ids = MER_BUF_INIT;
    for (size_t i = 0; i < c->nscope; i++)
        mer_buf_printf(&ids, "%s%lld", i ? "," : "", (long long)c->scope_ids[i]);
    int err = mer_db_query_int(
        db, &c->id,
        "INSERT INTO coupon (code, country, kind, value, min_subtotal, max_discount, scope, "
        "scope_ids, valid_from, valid_until, budget, max_redemptions, per_user_limit, "
        "payment_methods, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
        "RETURNING id",
        "sssiiissiiiiisi", c->code, c->country, mer_coupon_kind_names[c->kind], c->value, c->min_subtotal,
        c->max_discount, mer_coupon_scope_names[c->scope], mer_buf_str(&ids), c->valid_from, c->valid_until, c->budget,
        c->max_redemptions, c->per_user_limit, c->methods, mer_now_unix_ms());
    mer_buf_release(&ids);
    if (err == MER_E_ALREADY_EXISTS)
        return mer_verr_set(&k->verr, err, "code", "coupon %s already exists in %s", c->code, c->country);
    c->active = true;
    return err;
}

static void coupon_reply(mer_call_t *k)
{
    coupon_job_t *j = MER_CONTAINER_OF(k, coupon_job_t, k);
    mer_reply_json(k->r, j->toggle ? 200 : 201, coupon_json(&j->c, j->country, j->uses, j->spent));
}

static coupon_job_t *coupon_job_new(mer_req_t *r, const mer_country_t *ct)
{
    coupon_job_t *j = mer_call_new(r, sizeof(*j));
    j->country = ct;
    j->k.reply = coupon_reply;
    return j;
}

/* A scope value (category slug, product id or slug, SKU code) to its id; 0 if it names nothing. */
static int64_t resolve_scope_value(void *ctx, mer_coupon_scope_t scope, json_t *v)
{
    const mer_catalog_t *cat = ctx;
    int64_t id = 0;
    const char *s = json_string_value(v);
    if (scope == MER_SCOPE_CATEGORY && s) {
        for (size_t k = 0; k < cat->ncategories; k++)
            if (strcmp(cat->categories[k].slug, s) == 0)
                id = cat->categories[k].id;
    } else if (scope == MER_SCOPE_PRODUCT) {
        if (json_is_integer(v) && mer_catalog_product(cat, json_integer_value(v)))
            id = json_integer_value(v);
        for (size_t k = 0; s && k < cat->nproducts; k++)
            if (strcmp(cat->products[k].slug, s) == 0)
                id = cat->products[k].id;
    } else if (scope == MER_SCOPE_SKU && s) {
        const mer_cat_sku_t *sku = mer_catalog_sku_by_code(cat, s);
        id = sku ? sku->id : 0;
    }
    return id;
}

/* Validation is in coupon_input.c; between its two steps, the caller's right to the country. */
static void h_create(mer_req_t *r)
{
    mer_verr_t e = {0};
    mer_coupon_input_t in;
    if (mer_coupon_input_read(r->body, &in, &e) != 0) {
        mer_reply_verr(r, &e);
        return;
    }
    const mer_country_t *ct = mer_req_staff_country(r, in.country, "manage coupons");
    if (ct == NULL)
        return;
    const mer_catalog_t *cat = mer_catalog_lock();
    int err = mer_coupon_input_check(&in, ct, resolve_scope_value, (void *)cat, &e);
    mer_catalog_unlock();
    if (err != 0) {
        mer_reply_verr(r, &e);
        return;
    }
    coupon_job_t *j = coupon_job_new(r, ct);
    j->c = in.c;
    mer_call_write(&j->k, ct->region, coupon_fn);
}

typedef struct list_call {
    mer_call_t k;
    const mer_country_t *country;
    struct {
        mer_coupon_t c;
        int64_t uses, spent;
    } * items; /* owned */
    size_t n;
} list_call_t;

static int list_fn(mer_db_t *db, mer_call_t *k)
{
    list_call_t *l = MER_CONTAINER_OF(k, list_call_t, k);
    mer_rows_t *rows = mer_db_query(db,
                                    "SELECT " COUPON_COLUMNS ", " COUPON_USAGE " FROM coupon WHERE country = ? "
                                    "ORDER BY id LIMIT 200",
                                    "s", l->country->code);
    l->items = mer_xcalloc(200, sizeof(*l->items));
    while (mer_rows_next(rows) && l->n < 200) {
        coupon_row(rows, &l->items[l->n].c);
        l->items[l->n].uses = mer_rows_int(rows, 16);
        l->items[l->n++].spent = mer_rows_int(rows, 17);
    }
    return mer_rows_end(rows);
}

static void list_reply(mer_call_t *k)
{
    list_call_t *l = MER_CONTAINER_OF(k, list_call_t, k);
    json_t *arr = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(arr, coupon_json(&l->items[i].c, l->country, l->items[i].uses, l->items[i].spent));
    mer_reply_json(k->r, 200, json_pack("{s:o}", "coupons", arr));
}

static void list_cleanup(mer_call_t *k)
{
    free(MER_CONTAINER_OF(k, list_call_t, k)->items);
}

static void h_list(mer_req_t *r)
{
    const mer_country_t *ct = mer_req_staff_country(r, mer_req_query(r, "country"), "manage coupons");
    if (ct == NULL)
        return;
    list_call_t *l = mer_call_new(r, sizeof(*l));
    l->country = ct;
    l->k.reply = list_reply;
    l->k.cleanup = list_cleanup;
    mer_call_read(&l->k, ct->region, list_fn);
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
    coupon_job_t *j = coupon_job_new(r, ct);
    j->toggle = true;
    j->c.id = id;
    j->c.active = active;
    snprintf(j->c.country, sizeof(j->c.country), "%s", ct->code);
    mer_call_write(&j->k, ct->region, coupon_fn);
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/admin/coupons", h_create, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/coupons", h_list, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"PATCH", "/api/v1/admin/coupons/{id}", h_patch, MER_AUTH_STAFF, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
};

const mer_routes_t mer_coupon_routes = {routes, MER_ARRAY_LEN(routes)};
