/*
 * media_http.c — the media module's HTTP adapter (see media.h):
 *
 *   POST   /api/v1/admin/products/{id}/media   raw image body; ?sku=CODE&position=N      admin
 *   PATCH  /api/v1/admin/media/{id}            {"position": N, "alt": {"en": "...", "es": null}} admin
 *   DELETE /api/v1/admin/media/{id}                                                      admin
 *   GET    /api/v1/products/{id}/media         ?sku=CODE&lang=xx: the images, alt texts localized
 *   GET    /media/{digest}/{variant}.webp      the image files, immutable
 *
 * An upload is checked here (admin, product, SKU, type and first bytes), then made into files on the
 * offload pool (mer_call_offload: decoding and encoding images is CPU work, writing them is disk work),
 * then its row is a catalog.db writer job: the answer (201) comes after both are durable.
 */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "core/err.h"
#include "core/log.h"
#include "http/req.h"
#include "media/media.h"
#include "media/media_int.h"
#include "store/store.h"
#include "store/ticker.h"
#include "core/banned.h"

/* The product {id} of the path (must exist) and the SKU code of ?sku= (must be the product's), as ids.
 * Answers 404 / 400 and returns -1 when they are not. */
static int product_and_sku(mer_req_t *r, int64_t *product_id, int64_t *sku_id)
{
    if (mer_req_param_id(r, 0, product_id) != 0)
        return -1;
    const char *code = mer_req_query(r, "sku");
    const mer_catalog_t *cat = mer_catalog_lock();
    const mer_cat_product_t *p = mer_catalog_product(cat, *product_id);
    const mer_cat_sku_t *s = code ? mer_catalog_sku_by_code(cat, code) : NULL;
    bool have_product = p != NULL, sku_ok = code == NULL || (s && p && s->product->id == p->id);
    *sku_id = s ? s->id : 0;
    mer_catalog_unlock();
    if (!have_product) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no product %lld", (long long)*product_id);
        return -1;
    }
    if (!sku_ok) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "sku", "the product has no SKU with this code");
        return -1;
    }
    return 0;
}

/* ---- upload ---- */

typedef struct upload {
    mer_call_t c;
    const char *data; /* the request's body: valid while the call holds the request */
    size_t len;
    mer_media_new_t m;
} upload_t;

static int upload_prepare(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    upload_t *u = (upload_t *)c;
    return mer_media_prepare(u->data, u->len, u->m.file.content_type, &u->m.file, &c->verr);
}

static int upload_write(mer_db_t *db, mer_call_t *c)
{
    upload_t *u = (upload_t *)c;
    int64_t id = 0;
    int err = mer_media_insert(db, &u->m, &id);
    if (err == MER_E_CONFLICT)
        return mer_verr_set(&c->verr, MER_E_CONFLICT, NULL, "a product has at most %d images",
                            MER_MEDIA_MAX_PER_PRODUCT);
    if (err)
        return err;
    json_t *all = NULL;
    if ((err = mer_media_list(db, u->m.product_id, 0, NULL, true, &all)) != 0)
        return err;
    size_t i;
    json_t *item;
    json_array_foreach(all, i, item)
    {
        if (json_integer_value(json_object_get(item, "id")) == id) {
            json_object_set_new(item, "product_id", json_integer(u->m.product_id));
            json_object_set_new(item, "bytes", json_integer(u->m.file.bytes));
            json_object_set_new(item, "content_type", json_string(u->m.file.content_type));
            c->result = json_incref(item);
        }
    }
    json_decref(all);
    c->status = 201;
    return c->result ? 0 : MER_E_INTERNAL;
}

static void upload_prepared(mer_call_t *c)
{
    c->reply = NULL;
    mer_call_write(c, NULL, upload_write);
}

static void h_upload(mer_req_t *r)
{
    int64_t product_id, sku_id, position = 0;
    if (product_and_sku(r, &product_id, &sku_id) != 0 || mer_req_query_int(r, "position", 0, 10000, 0, &position) != 0)
        return;
    size_t ct_len = 0;
    const char *ct = mer_req_header(r, "content-type", &ct_len);
    h2o_iovec_t body = r->h2o->entity;
    if (body.base == NULL || body.len == 0) {
        mer_reply_error(r, MER_E_MISSING_PARAM, "body", "the body is the image's bytes");
        return;
    }
    bool known = false;
    const char *type = ct ? mer_media_sniff(ct, ct_len, body.base, body.len, &known) : NULL;
    if (!known) {
        mer_reply_error(r, MER_E_UNSUPPORTED_MEDIA, "Content-Type", "images are image/jpeg, image/png or image/webp");
        return;
    }
    if (type == NULL) {
        mer_reply_error(r, MER_E_VALIDATION, "body", "the body does not start as a %.*s does", (int)MER_MIN(ct_len, 40),
                        ct);
        return;
    }
    upload_t *u = mer_call_new(r, sizeof(*u));
    u->data = body.base;
    u->len = body.len;
    u->m.product_id = product_id;
    u->m.sku_id = sku_id;
    u->m.position = position;
    snprintf(u->m.file.content_type, sizeof(u->m.file.content_type), "%s", type);
    u->c.reply = upload_prepared;
    mer_call_offload(&u->c, upload_prepare);
}

/* ---- change, delete ---- */

typedef struct change {
    mer_call_t c;
    int64_t id, position;
    json_t *alt; /* a reference to the request's body member, or NULL */
} change_t;

static int change_write(mer_db_t *db, mer_call_t *c)
{
    change_t *x = (change_t *)c;
    int err = mer_media_update(db, x->id, x->position, x->alt);
    if (err == MER_E_NOT_FOUND)
        return mer_verr_set(&c->verr, MER_E_NOT_FOUND, NULL, "no image %lld", (long long)x->id);
    int64_t product = 0;
    if (err || (err = mer_db_query_int(db, &product, "SELECT product_id FROM media WHERE id = ?", "i", x->id)) != 0)
        return err;
    json_t *all = NULL;
    if ((err = mer_media_list(db, product, 0, NULL, true, &all)) != 0)
        return err;
    size_t i;
    json_t *item;
    json_array_foreach(all, i, item)
    {
        if (json_integer_value(json_object_get(item, "id")) == x->id)
            c->result = json_incref(item);
    }
    json_decref(all);
    return c->result ? 0 : MER_E_INTERNAL;
}

static void h_change(mer_req_t *r)
{
    static const char *const keys[] = {"position", "alt", NULL};
    int64_t id, position = -1;
    mer_verr_t e = {0};
    json_t *alt = json_object_get(r->body, "alt"), *pos = json_object_get(r->body, "position");
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    if (mer_json_only(r->body, keys, "", &e) != 0 || (alt && mer_media_check_alt(alt, &e) != 0)) {
        mer_reply_verr(r, &e);
        return;
    }
    if (pos) {
        if (!json_is_integer(pos) || json_integer_value(pos) < 0 || json_integer_value(pos) > 10000) {
            mer_reply_error(r, MER_E_VALIDATION, "position", "position is an integer from 0 to 10000");
            return;
        }
        position = json_integer_value(pos);
    }
    change_t *x = mer_call_new(r, sizeof(*x));
    x->id = id;
    x->position = position;
    x->alt = alt; /* the body lives as long as the request, which the call holds */
    mer_call_write(&x->c, NULL, change_write);
}

typedef struct del {
    mer_call_t c;
    int64_t id;
} del_t;

static int delete_write(mer_db_t *db, mer_call_t *c)
{
    del_t *d = (del_t *)c;
    int64_t product = 0;
    int err = mer_media_delete(db, d->id, &product);
    if (err == MER_E_NOT_FOUND)
        return mer_verr_set(&c->verr, MER_E_NOT_FOUND, NULL, "no image %lld", (long long)d->id);
    return err;
}

static mer_ticker_t sweeper = MER_TICKER_INIT;
static int64_t grace_s = MER_MEDIA_GRACE_S;

void mer_media_configure(int64_t grace)
{
    grace_s = grace;
}

static void sweep(void *arg)
{
    (void)arg;
    int removed = 0;
    int err = mer_media_sweep(grace_s, &removed);
    if (err)
        mer_log_error("media: the sweep of unreferenced files stopped: %s", mer_err_code(err));
    else if (removed > 0)
        mer_log_info("media: removed %d files no image names any more", removed);
}

/* The row is gone: the sweep looks at once (it removes the files only past the grace period). */
static void delete_committed(mer_call_t *c)
{
    (void)c;
    mer_ticker_kick(&sweeper);
}

static void h_delete(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    del_t *d = mer_call_new(r, sizeof(*d));
    d->id = id;
    d->c.committed = delete_committed;
    mer_call_write(&d->c, NULL, delete_write);
}

/* ---- reading ---- */

typedef struct list {
    mer_call_t c;
    int64_t product_id, sku_id;
    mer_locale_chain_t chain;
} list_t;

static int list_read(mer_db_t *db, mer_call_t *c)
{
    list_t *l = (list_t *)c;
    json_t *items = NULL;
    int err = mer_media_list(db, l->product_id, l->sku_id, &l->chain, false, &items);
    if (err == 0)
        c->result = json_pack("{sI so}", "product_id", (json_int_t)l->product_id, "items", items);
    return err;
}

static void h_list(mer_req_t *r)
{
    int64_t product_id, sku_id;
    if (product_and_sku(r, &product_id, &sku_id) != 0)
        return;
    list_t *l = mer_call_new(r, sizeof(*l));
    l->product_id = product_id;
    l->sku_id = sku_id;
    size_t al_len = 0;
    const char *al = mer_req_header(r, "accept-language", &al_len);
    char al_copy[256];
    snprintf(al_copy, sizeof(al_copy), "%.*s", (int)MER_MIN(al_len, sizeof(al_copy) - 1), al ? al : "");
    mer_locale_chain_build(&l->chain, mer_req_query(r, "lang"), al ? al_copy : NULL, strlen(al_copy), "en");
    mer_reply_vary(r, "Accept-Language");
    mer_call_read(&l->c, NULL, list_read);
}

typedef struct file {
    mer_call_t c;
    char digest[65], name[32];
    char *bytes;
    size_t len;
} file_t;

static int file_read(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    file_t *f = (file_t *)c;
    int err = mer_media_read(f->digest, f->name, &f->bytes, &f->len);
    if (err == MER_E_NOT_FOUND)
        return mer_verr_set(&c->verr, MER_E_NOT_FOUND, NULL, "no such image");
    return err;
}

/* The headers of a file's answer (200 or 304; an error gets none of them: a 404 is not cached forever). */
static void file_headers(mer_req_t *r, const char *digest, const char *name)
{
    char etag[100];
    snprintf(etag, sizeof(etag), "\"%s-%s\"", digest, name);
    /* the URL names one content forever: a copy anyone holds stays right */
    mer_reply_header(r, "cache-control", "public, max-age=31536000, immutable");
    mer_reply_header(r, "etag", etag);
    mer_reply_header(r, "x-content-type-options", "nosniff");
}

static void file_reply(mer_call_t *c)
{
    file_t *f = (file_t *)c;
    file_headers(c->r, f->digest, f->name);
    /* copied into the request's pool, which h2o frees with the request */
    char *body = h2o_mem_alloc_pool(&c->r->h2o->pool, f->len ? f->len : 1);
    memcpy(body, f->bytes, f->len);
    mer_reply_bytes(c->r, 200, "image/webp", body, f->len);
}

static void file_cleanup(mer_call_t *c)
{
    free(((file_t *)c)->bytes);
}

static void h_file(mer_req_t *r)
{
    h2o_iovec_t d = r->params[0], n = r->params[1];
    if (d.len != 64 || n.len >= sizeof(((file_t *)0)->name)) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no such image");
        return;
    }
    char digest[65], name[32], etag[100];
    snprintf(digest, sizeof(digest), "%.*s", (int)d.len, d.base);
    snprintf(name, sizeof(name), "%.*s", (int)n.len, n.base);
    snprintf(etag, sizeof(etag), "\"%s-%s\"", digest, name);
    if (mer_req_etag_matches(r, etag)) { /* only a URL that was served has its ETag */
        file_headers(r, digest, name);
        mer_reply_bytes(r, 304, "image/webp", "", 0);
        return;
    }
    file_t *f = mer_call_new(r, sizeof(*f));
    memcpy(f->digest, digest, sizeof(digest));
    memcpy(f->name, name, sizeof(name));
    f->c.reply = file_reply;
    f->c.cleanup = file_cleanup;
    mer_call_offload(&f->c, file_read);
}

static const mer_route_t routes[] = {
    {"POST", "/api/v1/admin/products/{id}/media", h_upload, MER_AUTH_ADMIN, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"PATCH", "/api/v1/admin/media/{id}", h_change, MER_AUTH_ADMIN, MER_ROUTE_JSON_BODY, MER_IDEM_NONE, MER_RATE_NONE},
    {"DELETE", "/api/v1/admin/media/{id}", h_delete, MER_AUTH_ADMIN, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/products/{id}/media", h_list, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/media/{digest}/{file}", h_file, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
};
static const mer_routes_t media_routes = {routes, MER_ARRAY_LEN(routes)};
static const mer_routes_t *const media_route_tables[] = {&media_routes, NULL};

static int media_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/media", mer_store_dir());
    if (mer_media_start(dir) != 0)
        return -1;
    return mer_ticker_start(&sweeper, sweep, NULL, 3600 * 1000);
}

static void media_stop(void)
{
    mer_ticker_stop(&sweeper);
}

const mer_module_t mer_media_module = {
    .name = "media",
    .init = media_init,
    .routes = media_route_tables,
    .stop_phase = MER_STOP_PRODUCERS,
    .stop = media_stop,
    .release = mer_media_finish,
};
