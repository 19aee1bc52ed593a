/*
 * invoice_http.c — the invoice module (see invoice.h): its event subscriber and its routes.
 *
 *   GET /api/v1/orders/{id}/invoices                    the customer's own order's documents (JSON)
 *   GET /api/v1/orders/{id}/invoices/{number}           one of them; ?format=pdf renders it
 *   GET /api/v1/admin/orders/{id}/invoices?country=     staff, for the countries they may act for
 *   GET /api/v1/admin/orders/{id}/invoices/{number}?country=&format=pdf
 *
 * A PDF is rendered on the offload pool (mer_call_offload) from the stored document, read first on the
 * read pool: the same bytes of JSON always make the same text.
 */
#include <stdio.h>
#include <string.h>

#include "events/events.h"
#include "http/req.h"
#include "invoice/invoice.h"
#include "region/region_http.h"
#include "core/banned.h"

typedef struct inv_call {
    mer_call_t c;
    int64_t order_id, user_id;
    char country[3];
    char number[40]; /* "" = the list */
    bool pdf;
    json_t *doc; /* the document to render */
    mer_buf_t bytes;
} inv_call_t;

static int inv_read(mer_db_t *db, mer_call_t *c)
{
    inv_call_t *k = (inv_call_t *)c;
    json_t *all = NULL;
    int err = mer_invoice_list(db, k->order_id, k->user_id, k->country, &all);
    if (err == MER_E_NOT_FOUND)
        return mer_verr_set(&c->verr, err, NULL, "no such order");
    if (err)
        return err;
    if (k->number[0] == '\0') {
        c->result = json_pack("{s:I, s:o}", "order_id", (json_int_t)k->order_id, "items", all);
        return 0;
    }
    size_t i;
    json_t *d;
    json_array_foreach(all, i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "number")), k->number) == 0)
            k->doc = json_incref(json_object_get(d, "document"));
    }
    json_decref(all);
    if (k->doc == NULL)
        return mer_verr_set(&c->verr, MER_E_NOT_FOUND, NULL, "the order has no document %s", k->number);
    if (!k->pdf)
        c->result = json_incref(k->doc);
    return 0;
}

static int inv_render(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    inv_call_t *k = (inv_call_t *)c;
    return mer_invoice_pdf(k->doc, &k->bytes);
}

static void inv_pdf_reply(mer_call_t *c)
{
    inv_call_t *k = (inv_call_t *)c;
    char disp[80];
    snprintf(disp, sizeof(disp), "inline; filename=\"%s.pdf\"", k->number);
    mer_reply_header(c->r, "content-disposition", disp);
    mer_reply_header(c->r, "cache-control", "private, no-store");
    char *body = h2o_mem_alloc_pool(&c->r->h2o->pool, k->bytes.len ? k->bytes.len : 1);
    memcpy(body, k->bytes.data, k->bytes.len);
    mer_reply_bytes(c->r, 200, "application/pdf", body, k->bytes.len);
}

/* After the read: a PDF is rendered next (on the offload pool), JSON is answered as it is. */
static void inv_read_reply(mer_call_t *c)
{
    inv_call_t *k = (inv_call_t *)c;
    if (!k->pdf) {
        mer_reply_json(c->r, 200, c->result);
        c->result = NULL;
        return;
    }
    c->reply = inv_pdf_reply;
    mer_call_offload(c, inv_render);
}

static void inv_cleanup(mer_call_t *c)
{
    inv_call_t *k = (inv_call_t *)c;
    json_decref(k->doc);
    mer_buf_release(&k->bytes);
}

/* Starts a read of an order's documents: {id} and the optional {number} of the path, ?format. */
static void start(mer_req_t *r, const char *region, int64_t user_id, const char *country)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) != 0)
        return;
    const char *format = mer_req_query(r, "format");
    if (format && strcmp(format, "pdf") != 0 && strcmp(format, "json") != 0) {
        mer_reply_error(r, MER_E_INVALID_PARAM, "format", "format is json or pdf");
        return;
    }
    if (r->nparams > 1 && (r->params[1].len == 0 || r->params[1].len >= 40)) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no such document");
        return;
    }
    inv_call_t *k = mer_call_new(r, sizeof(*k));
    k->order_id = id;
    k->user_id = user_id;
    snprintf(k->country, sizeof(k->country), "%s", country ? country : "");
    if (r->nparams > 1)
        snprintf(k->number, sizeof(k->number), "%.*s", (int)r->params[1].len, r->params[1].base);
    k->pdf = k->number[0] && format && strcmp(format, "pdf") == 0;
    k->c.reply = inv_read_reply;
    k->c.cleanup = inv_cleanup;
    mer_call_read(&k->c, region, inv_read);
}

static void h_customer(mer_req_t *r)
{
    if (r->who.role != MER_ROLE_CUSTOMER) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "staff read invoices under /api/v1/admin/orders");
        return;
    }
    start(r, r->who.region, r->who.id, NULL);
}

static void h_staff(mer_req_t *r)
{
    const mer_country_t *c = mer_req_staff_country(r, mer_req_query(r, "country"), "read invoices");
    if (c)
        start(r, c->region, 0, c->code);
}

static const mer_route_t routes[] = {
    {"GET", "/api/v1/orders/{id}/invoices", h_customer, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/orders/{id}/invoices/{number}", h_customer, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/orders/{id}/invoices", h_staff, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/admin/orders/{id}/invoices/{number}", h_staff, MER_AUTH_STAFF, 0, MER_IDEM_NONE, MER_RATE_NONE},
};
static const mer_routes_t invoice_routes = {routes, MER_ARRAY_LEN(routes)};
static const mer_routes_t *const invoice_route_tables[] = {&invoice_routes, NULL};

static int invoicing_apply(mer_db_t *db, const mer_event_t *ev)
{
    return ev->order_id ? mer_invoice_on_event(db, ev->type, ev->order_id, ev->id) : 0;
}

static const mer_event_subscriber_t invoicing = {
    .name = "invoicing",
    .events = "order.paid,order.delivered,order.refunded",
    .apply = invoicing_apply,
    .raw = true, /* reads the order, not the event's payload */
};

static int invoice_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    mer_events_subscribe(&invoicing);
    return 0;
}

const mer_module_t mer_invoice_module = {
    .name = "invoice",
    .init = invoice_init,
    .routes = invoice_route_tables,
};
