/*
 * dispatcher.c — delivers outbox events to subscribers (see events.h for the guarantees).
 *
 * One thread. Reads go through the thread's own read connections; every write (fan-out rows, delivery
 * outcomes, the effects of in-process subscribers) is a job on the region's writer, waited for
 * synchronously, so the single-writer rule holds and an effect commits together with the mark that
 * says it was delivered.
 */
#include <curl/curl.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "core/log.h"
#include "events/events.h"
#include "payment/payment.h"
#include "region/country.h"
#include "store/store.h"
#include "store/ticker.h"
#include "store/writer.h"
#include "core/banned.h"

#define BATCH 200
#define MAX_ATTEMPTS 12
#define MAX_BACKOFF_MS (3600 * 1000)
#define MAX_SUBS 64

typedef struct sub {
    char name[32]; /* logistics, notifications, payments, webhook:<id> */
    char url[256];
    char events[512];
    char secret[80];
} sub_t;

static struct {
    mer_ticker_t ticker;
    int64_t retry_base_ms;
    /* the dispatcher thread's own state between passes */
    sub_t *subs;
    char seen[MAX_SUBS][32], removed[MAX_SUBS][32]; /* webhooks loaded last time; those gone since */
    size_t nseen;
} disp = {.ticker = MER_TICKER_INIT, .retry_base_ms = 1000};

void mer_events_kick(void)
{
    mer_ticker_kick(&disp.ticker);
}

/* ---- subscribers ---- */

static bool wants(const char *list, const char *type)
{
    /* "*" alone or in the list matches everything; "order.*" a prefix */
    size_t n = strlen(type), len;
    for (const char *p = list, *item; mer_list_next(&p, &item, &len);)
        if ((len == n && memcmp(item, type, n) == 0) ||
            (len >= 1 && item[len - 1] == '*' && strncmp(item, type, len - 1) == 0))
            return true;
    return false;
}

/*
 * Loads the subscribers. *complete says that every active webhook subscription was loaded, so that a
 * webhook missing from subs has been deleted (a delivery row only exists for a subscription that was
 * active when its event was fanned out).
 */
static size_t load_subscribers(sub_t *subs, bool *complete)
{
    size_t n = 0;
    *complete = false;
    static const char *const internal[][2] = {
        {"logistics", "order.paid,order.created"},
        {"notifications", "order.*"},
        {"payments", "payment.refund_required"},
    };
    for (size_t i = 0; i < MER_ARRAY_LEN(internal); i++) {
        memset(&subs[n], 0, sizeof(subs[n]));
        snprintf(subs[n].name, sizeof(subs[n].name), "%s", internal[i][0]);
        snprintf(subs[n].events, sizeof(subs[n].events), "%s", internal[i][1]);
        n++;
    }
    mer_db_t *db = mer_store_reader(MER_STORE_CATALOG);
    if (db == NULL)
        return n;
    mer_rows_t *r = mer_db_query(db, "SELECT id, url, events, secret FROM webhook_subscription WHERE active = 1", NULL);
    bool more = false;
    while (mer_rows_next(r)) {
        if (n == MAX_SUBS) {
            more = true;
            break;
        }
        memset(&subs[n], 0, sizeof(subs[n]));
        snprintf(subs[n].name, sizeof(subs[n].name), "webhook:%lld", (long long)mer_rows_int(r, 0));
        snprintf(subs[n].url, sizeof(subs[n].url), "%s", mer_rows_text(r, 1));
        snprintf(subs[n].events, sizeof(subs[n].events), "%s", mer_rows_text(r, 2));
        snprintf(subs[n].secret, sizeof(subs[n].secret), "%s", mer_rows_text(r, 3));
        n++;
    }
    *complete = mer_rows_end(r) == 0 && !more;
    return n;
}

static bool is_webhook(const char *name)
{
    return strncmp(name, "webhook:", 8) == 0;
}

static const sub_t *find_sub(const sub_t *subs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(subs[i].name, name) == 0)
            return &subs[i];
    return NULL;
}

/* ---- deliveries ---- */

typedef struct delivery {
    int64_t event;
    char subscriber[32];
    int attempts;
    char event_id[48];
    char type[48];
    int64_t order_id;
    char *payload; /* owned */
    int64_t created_at;
    /* outcome */
    bool ok;
    bool dropped; /* its webhook subscription was deleted: given up without another attempt */
    char error[200];
    mer_pay_result_t refund;
} delivery_t;

static size_t http_sink(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

static void deliver_webhook(const sub_t *s, delivery_t *d, const char *region)
{
    mer_buf_t body = MER_BUF_INIT;
    char ts[32], sig[128];
    mer_format_utc_ms(d->created_at, ts);
    mer_buf_printf(&body, "{\"id\":\"%s\",\"type\":\"%s\",\"created_at\":\"%s\",\"region\":\"%s\",\"data\":%s}",
                   d->event_id, d->type, ts, region, d->payload);
    mer_webhook_sign(s->secret, mer_now_unix_ms() / 1000, body.data, body.len, sig);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char hdr[200];
    h = curl_slist_append(h, "Content-Type: application/json");
    snprintf(hdr, sizeof(hdr), "X-Meridian-Signature: %s", sig);
    h = curl_slist_append(h, hdr);
    snprintf(hdr, sizeof(hdr), "X-Meridian-Event-Id: %s", d->event_id);
    h = curl_slist_append(h, hdr);
    snprintf(hdr, sizeof(hdr), "X-Meridian-Event-Type: %s", d->type);
    h = curl_slist_append(h, hdr);
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_sink);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK)
        snprintf(d->error, sizeof(d->error), "%s", curl_easy_strerror(rc));
    else if (status < 200 || status > 299)
        snprintf(d->error, sizeof(d->error), "HTTP %ld", status);
    else
        d->ok = true;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    mer_buf_release(&body);
}

static void deliver_refund(delivery_t *d)
{
    json_t *p = json_loads(d->payload, 0, NULL);
    const char *provider = json_string_value(json_object_get(p, "provider"));
    const char *charge = json_string_value(json_object_get(p, "charge_ref"));
    const char *currency = json_string_value(json_object_get(p, "currency"));
    int64_t amount = json_integer_value(json_object_get(p, "amount"));
    const mer_payment_provider_t *pp = provider ? mer_payment_provider(provider) : NULL;
    if (pp == NULL) {
        snprintf(d->error, sizeof(d->error), "no provider %s", provider ? provider : "(none)");
    } else {
        pp->refund(charge, amount, currency ? currency : "", d->event_id, &d->refund);
        if (d->refund.status == MER_PAY_SUCCEEDED)
            d->ok = true;
        else
            snprintf(d->error, sizeof(d->error), "%s", d->refund.message);
    }
    json_decref(p);
}

/* In-process subscribers: their effect runs inside the outcome transaction. */
static int apply_logistics(mer_db_t *db, delivery_t *d)
{
    json_t *p = json_loads(d->payload, 0, NULL);
    const char *status = json_string_value(json_object_get(p, "status"));
    const char *country = json_string_value(json_object_get(p, "country"));
    int err = 0;
    /* ship when an order is paid, or right away for cash on delivery */
    if (status && (strcmp(status, "paid") == 0 || strcmp(status, "pending_shipment") == 0)) {
        unsigned char raw[5];
        char tracking[40];
        randombytes_buf(raw, sizeof(raw));
        snprintf(tracking, sizeof(tracking), "%s%02X%02X%02X%02X%02X", country ? country : "XX", raw[0], raw[1], raw[2],
                 raw[3], raw[4]);
        static const char *const carriers[] = {"Delhivery", "Ninja Van", "CDEK", "DHL"};
        const char *carrier = country && strcmp(country, "IN") == 0   ? carriers[0]
                              : country && strcmp(country, "RU") == 0 ? carriers[2]
                              : country && strchr("SG MY ID PH TH VN", country[0]) ? carriers[1]
                                                                                  : carriers[3];
        if (mer_db_exec(db,
                        "INSERT INTO shipment (order_id, carrier, tracking_number, event_id, created_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
                        "isssi", d->order_id, carrier, tracking, d->event_id, mer_now_unix_ms()) < 0)
            err = MER_E_INTERNAL;
    }
    json_decref(p);
    return err;
}

/* Records a refund the provider confirmed. The refund row was written pending when it was requested. */
static int apply_refund(mer_db_t *db, delivery_t *d)
{
    json_t *p = json_loads(d->payload, 0, NULL);
    int64_t payment_id = json_integer_value(json_object_get(p, "payment_id"));
    json_decref(p);
    int rc = mer_db_exec(db,
                         "UPDATE payment SET status = 'succeeded', provider_ref = ? WHERE id = ? AND status = 'pending'",
                         "si", d->refund.provider_ref, payment_id);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        /* the order's payment status follows: refunded when nothing is pending and all is returned */
        if (mer_db_exec(db,
                        "UPDATE orders SET payment_status = CASE "
                        "WHEN EXISTS (SELECT 1 FROM payment WHERE order_id = orders.id AND kind = 'refund' "
                        "AND status = 'pending') THEN 'refund_pending' "
                        "WHEN refunded_total >= (SELECT COALESCE(SUM(amount), 0) FROM payment WHERE order_id = "
                        "orders.id AND kind = 'charge' AND status = 'succeeded') THEN 'refunded' "
                        "ELSE 'partially_refunded' END, updated_at = ? WHERE id = ?",
                        "ii", mer_now_unix_ms(), d->order_id) < 0)
            return MER_E_INTERNAL;
        if (mer_event_emit_order(db, "order.refunded", d->order_id) != 0)
            return MER_E_INTERNAL;
    }
    return 0;
}

/* ---- fan-out ----
 * In-process subscribers (logistics, notifications) take effect right here, in the fan-out transaction
 * (their effects are idempotent on the event id); only subscribers outside the process (webhooks, the
 * payment provider) get delivery rows to attempt and retry. */

typedef struct fanout_arg {
    const char *region;
    const sub_t *subs;
    size_t nsubs;
} fanout_arg_t;

#define FANOUT_MAX 5000

static int fanout(mer_db_t *db, void *arg)
{
    fanout_arg_t *a = arg;
    int64_t first = 0, last = 0, now = mer_now_unix_ms();
    /* this pass takes the oldest FANOUT_MAX events not yet fanned out: ids first..last */
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT MIN(id), MAX(id) FROM (SELECT id FROM outbox WHERE fanned_out = 0 "
                                 "ORDER BY id LIMIT ?)",
                                 "i", (int64_t)FANOUT_MAX);
    if (mer_rows_next(r)) {
        first = mer_rows_int(r, 0);
        last = mer_rows_int(r, 1);
    }
    int err = mer_rows_end(r);
    if (err || last == 0)
        return err;
    char prefix[40];
    snprintf(prefix, sizeof(prefix), "evt_%s_", a->region);
    /* notifications: one message per order event, written in bulk */
    if (mer_db_exec(db,
                    "INSERT INTO notification (event_id, user_id, channel, message, created_at) "
                    "SELECT ? || id, json_extract(payload, '$.user_id'), 'email', 'Your order ' || "
                    "json_extract(payload, '$.number') || ' is now ' || json_extract(payload, '$.status'), ? "
                    "FROM outbox WHERE id BETWEEN ? AND ? AND fanned_out = 0 AND type LIKE 'order.%' "
                    "ON CONFLICT (event_id) DO NOTHING",
                    "siii", prefix, now, first, last) < 0)
        return MER_E_INTERNAL;
    /* logistics: paid orders, and cash-on-delivery orders as soon as they exist */
    delivery_t d;
    memset(&d, 0, sizeof(d));
    r = mer_db_query(db,
                     "SELECT id, order_id, payload FROM outbox WHERE id BETWEEN ? AND ? AND fanned_out = 0 "
                     "AND (type = 'order.paid' OR (type = 'order.created' AND "
                     "json_extract(payload, '$.status') = 'pending_shipment'))",
                     "ii", first, last);
    while (err == 0 && mer_rows_next(r)) {
        mer_event_id(a->region, mer_rows_int(r, 0), d.event_id);
        d.order_id = mer_rows_int(r, 1);
        d.payload = (char *)mer_rows_text(r, 2);
        err = apply_logistics(db, &d);
    }
    int qerr = mer_rows_end(r);
    if (err || qerr)
        return err ? err : qerr;
    /* subscribers outside the process get delivery rows to attempt and retry */
    if (mer_db_exec(db,
                    "INSERT INTO event_delivery (event, subscriber, next_attempt_at) SELECT id, 'payments', ? "
                    "FROM outbox WHERE id BETWEEN ? AND ? AND fanned_out = 0 AND type = 'payment.refund_required' "
                    "ON CONFLICT DO NOTHING",
                    "iii", now, first, last) < 0)
        return MER_E_INTERNAL;
    bool webhooks = false;
    for (size_t k = 0; k < a->nsubs; k++)
        webhooks = webhooks || is_webhook(a->subs[k].name);
    if (webhooks) {
        r = mer_db_query(db, "SELECT id, type FROM outbox WHERE id BETWEEN ? AND ? AND fanned_out = 0", "ii", first,
                         last);
        while (err == 0 && mer_rows_next(r)) {
            for (size_t k = 0; err == 0 && k < a->nsubs; k++) {
                if (!is_webhook(a->subs[k].name) || !wants(a->subs[k].events, mer_rows_text(r, 1)))
                    continue;
                if (mer_db_exec(db,
                                "INSERT INTO event_delivery (event, subscriber, next_attempt_at) VALUES (?, ?, ?) "
                                "ON CONFLICT DO NOTHING",
                                "isi", mer_rows_int(r, 0), a->subs[k].name, now) < 0)
                    err = MER_E_INTERNAL;
            }
        }
        qerr = mer_rows_end(r);
        if (err || qerr)
            return err ? err : qerr;
    }
    return mer_db_exec(db, "UPDATE outbox SET fanned_out = 1 WHERE id BETWEEN ? AND ? AND fanned_out = 0", "ii", first,
                       last) < 0
               ? MER_E_INTERNAL
               : 0;
}

typedef struct outcome_arg {
    delivery_t *d;
    size_t n;
    int64_t retry_base_ms;
} outcome_arg_t;

static int64_t backoff(int64_t base, int attempts)
{
    int64_t b = base;
    for (int i = 1; i < attempts && b < MAX_BACKOFF_MS; i++)
        b *= 2;
    return b > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : b;
}

static int outcomes(mer_db_t *db, void *arg)
{
    outcome_arg_t *a = arg;
    int64_t now = mer_now_unix_ms();
    for (size_t i = 0; i < a->n; i++) {
        delivery_t *d = &a->d[i];
        int effect = 0;
        if (mer_db_savepoint(db) != 0)
            return MER_E_INTERNAL;
        if (strcmp(d->subscriber, "payments") == 0 && d->ok)
            effect = apply_refund(db, d), d->ok = effect == 0;
        if (effect) {
            mer_db_rollback_to(db);
            if (mer_db_savepoint(db) != 0)
                return MER_E_INTERNAL;
            snprintf(d->error, sizeof(d->error), "subscriber failed (%s)", mer_err_code(effect));
        }
        int attempts = d->dropped ? d->attempts : d->attempts + 1;
        int rc;
        if (d->ok)
            rc = mer_db_exec(db,
                             "UPDATE event_delivery SET status = 'delivered', attempts = ?, delivered_at = ?, "
                             "last_error = '' WHERE event = ? AND subscriber = ?",
                             "iiis", (int64_t)attempts, now, d->event, d->subscriber);
        else
            rc = mer_db_exec(db,
                             "UPDATE event_delivery SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ? "
                             "WHERE event = ? AND subscriber = ?",
                             "siisis", attempts >= MAX_ATTEMPTS || d->dropped ? "dead" : "pending", (int64_t)attempts,
                             now + backoff(a->retry_base_ms, attempts), d->error, d->event, d->subscriber);
        if (rc < 0 || mer_db_release(db) != 0)
            return MER_E_INTERNAL;
    }
    return 0;
}

/* Webhook subscriptions deleted since the dispatcher last looked: their pending deliveries are given up. */
typedef struct removed_arg {
    char (*names)[32];
    size_t n;
} removed_arg_t;

static int drop_removed(mer_db_t *db, void *arg)
{
    removed_arg_t *a = arg;
    for (size_t i = 0; i < a->n; i++)
        if (mer_db_exec(db,
                        "UPDATE event_delivery SET status = 'dead', last_error = 'subscription removed' "
                        "WHERE subscriber = ? AND status = 'pending'",
                        "s", a->names[i]) < 0)
            return MER_E_INTERNAL;
    return 0;
}

/* One pass over a region: fan out new events, attempt due deliveries. Returns deliveries attempted. */
static size_t pass(const char *region, const sub_t *subs, size_t nsubs, bool complete)
{
    mer_db_t *db = mer_store_reader(region);
    if (db == NULL)
        return 0;
    int64_t waiting = 0;
    if (mer_db_query_int(db, &waiting, "SELECT EXISTS (SELECT 1 FROM outbox WHERE fanned_out = 0)", NULL) == 0 &&
        waiting) {
        fanout_arg_t fa = {region, subs, nsubs};
        if (mer_writer_run_sync(region, fanout, &fa) != 0)
            return 0;
    }
    delivery_t *ds = mer_xcalloc(BATCH, sizeof(*ds));
    size_t n = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT d.event, d.subscriber, d.attempts, o.id, o.type, COALESCE(o.order_id, 0), "
                                 "o.payload, o.created_at FROM event_delivery d JOIN outbox o ON o.id = d.event "
                                 "WHERE d.status = 'pending' AND d.next_attempt_at <= ? "
                                 "ORDER BY d.next_attempt_at, d.event LIMIT ?",
                                 "ii", mer_now_unix_ms(), (int64_t)BATCH);
    while (mer_rows_next(r) && n < BATCH) {
        delivery_t *d = &ds[n++];
        d->event = mer_rows_int(r, 0);
        snprintf(d->subscriber, sizeof(d->subscriber), "%s", mer_rows_text(r, 1));
        d->attempts = (int)mer_rows_int(r, 2);
        mer_event_id(region, mer_rows_int(r, 3), d->event_id);
        snprintf(d->type, sizeof(d->type), "%s", mer_rows_text(r, 4));
        d->order_id = mer_rows_int(r, 5);
        d->payload = mer_xstrdup(mer_rows_text(r, 6));
        d->created_at = mer_rows_int(r, 7);
    }
    mer_rows_end(r);
    for (size_t i = 0; i < n; i++) {
        delivery_t *d = &ds[i];
        if (is_webhook(d->subscriber)) {
            const sub_t *s = find_sub(subs, nsubs, d->subscriber);
            if (s)
                deliver_webhook(s, d, region);
            else
                snprintf(d->error, sizeof(d->error), "subscription removed");
            d->dropped = s == NULL && complete;
        } else if (strcmp(d->subscriber, "payments") == 0) {
            deliver_refund(d);
        }
    }
    if (n) {
        outcome_arg_t oa = {ds, n, disp.retry_base_ms};
        if (mer_writer_run_sync(region, outcomes, &oa) != 0)
            mer_log_warn("region %s: recording %zu event deliveries failed; they will be retried", region, n);
        else
            for (size_t i = 0; i < n; i++)
                mer_events_note_delivery(ds[i].subscriber, ds[i].ok ? MER_DELIVERY_DELIVERED
                                                           : ds[i].dropped || ds[i].attempts + 1 >= MAX_ATTEMPTS
                                                               ? MER_DELIVERY_DEAD
                                                               : MER_DELIVERY_FAILED);
    }
    for (size_t i = 0; i < n; i++)
        free(ds[i].payload);
    free(ds);
    return n;
}

static void dispatch(void *arg)
{
    (void)arg;
    /* under load commits kick us constantly: let events gather for a moment, then take them together */
    struct timespec pause = {0, 20 * 1000000L};
    nanosleep(&pause, NULL);
    bool complete;
    size_t nsubs = load_subscribers(disp.subs, &complete);
    removed_arg_t ra = {disp.removed, 0};
    for (size_t k = 0; complete && k < disp.nseen; k++)
        if (find_sub(disp.subs, nsubs, disp.seen[k]) == NULL)
            memcpy(disp.removed[ra.n++], disp.seen[k], sizeof(disp.seen[k]));
    disp.nseen = 0;
    for (size_t k = 0; k < nsubs; k++)
        if (is_webhook(disp.subs[k].name))
            memcpy(disp.seen[disp.nseen++], disp.subs[k].name, sizeof(disp.seen[0]));
    const mer_countries_t *cs = mer_countries();
    for (size_t i = 0; i < cs->nregions; i++) {
        if (!cs->regions[i].local)
            continue;
        if (ra.n && mer_writer_run_sync(cs->regions[i].name, drop_removed, &ra) != 0)
            mer_log_warn("region %s: giving up deliveries to deleted webhooks failed; they go when next due",
                         cs->regions[i].name);
        /* keep going while a region has a full batch due */
        for (int rounds = 0; rounds < 50 && pass(cs->regions[i].name, disp.subs, nsubs, complete) == BATCH; rounds++)
            ;
    }
}

static _Atomic long emitted; /* events written since the last kick */

void mer_events_note_emit(void)
{
    atomic_fetch_add_explicit(&emitted, 1, memory_order_relaxed);
}

static void on_commit(const char *region)
{
    (void)region;
    if (atomic_exchange_explicit(&emitted, 0, memory_order_relaxed) > 0)
        mer_events_kick();
}

void mer_events_start(int64_t retry_base_ms)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    disp.retry_base_ms = retry_base_ms > 0 ? retry_base_ms : 1000;
    mer_writer_on_commit(on_commit);
    disp.subs = mer_xcalloc(MAX_SUBS, sizeof(*disp.subs));
    mer_ticker_start(&disp.ticker, dispatch, NULL, 200);
}

void mer_events_stop(void)
{
    if (disp.subs == NULL)
        return;
    mer_ticker_stop(&disp.ticker);
    free(disp.subs);
    disp.subs = NULL;
    curl_global_cleanup();
}
