/*
 * flash.c — start-up of the flash-sale module and its contract with checkout (see flash.h).
 */
#include <stdio.h>

#include "catalog/translation.h"
#include "core/log.h"
#include "core/metrics.h"
#include "flashsale/flash_int.h"
#include "store/notify.h"
#include "store/store.h"
#include "core/banned.h"

int mer_flash_token_check(mer_db_t *db, const char *token, int64_t user_id, mer_flash_token_t *out, char msg[128])
{
    fs_token_t *t = token ? fs_token_learn(db, token) : NULL;
    if (t == NULL || t->buyer.user_id != user_id) {
        snprintf(msg, 128, "no such purchase token for you");
        return MER_E_VALIDATION;
    }
    int st = atomic_load(&t->state);
    if (st == FS_TOKEN_USED) {
        snprintf(msg, 128, "this purchase token was already used");
        return MER_E_CONFLICT;
    }
    if (st == FS_TOKEN_GONE || t->expires_at <= mer_now_unix_ms()) {
        snprintf(msg, 128, "this purchase token has expired");
        return MER_E_CONFLICT;
    }
    fs_session_t *s = t->session;
    out->session_id = s->id;
    out->sku_id = s->items[t->item].sku_id;
    out->price = s->items[t->item].price;
    out->expires_at = t->expires_at;
    out->cod_allowed = s->cod_allowed;
    snprintf(out->country, sizeof(out->country), "%s", s->sale->country);
    return 0;
}

bool mer_flash_token_phone_ok(const char *token, const char *phone, size_t len)
{
    fs_token_t *t = fs_token_get(token);
    if (t == NULL || !t->session->sale->rules.one_per_phone)
        return true;
    uint64_t h = mer_phone_hash(phone, len);
    return h == 0 || h == t->buyer.phone || h == t->buyer.address_phone;
}

int mer_flash_token_consume(mer_db_t *db, const char *token, int64_t user_id, int64_t order_id)
{
    int rc = mer_db_exec(db,
                         "UPDATE flash_token SET state = 'consumed', order_id = ? WHERE token = ? AND user_id = ? "
                         "AND state = 'issued' AND expires_at > ?",
                         "isii", order_id, token, user_id, mer_now_unix_ms());
    if (rc < 0)
        return rc;
    return rc == 1 ? 0 : MER_E_CONFLICT;
}

void mer_flash_token_used(const char *token)
{
    fs_token_t *t = fs_token_get(token);
    if (t)
        atomic_store(&t->state, FS_TOKEN_USED);
}

int mer_flash_order_closed(mer_db_t *db, int64_t order_id)
{
    int rc = mer_db_exec(db, "UPDATE flash_token SET state = 'returned' WHERE order_id = ? AND state = 'consumed'", "i",
                         order_id);
    if (rc > 0)
        fs_processor_kick();
    return rc < 0 ? rc : 0;
}

int mer_flash_lines_refunded(mer_db_t *db, int64_t order_id)
{
    int rc =
        mer_db_exec(db,
                    "UPDATE flash_token SET state = 'returned' WHERE order_id = ? AND state = 'consumed' AND token IN "
                    "(SELECT flash_token FROM order_line WHERE order_id = ? AND flash_token IS NOT NULL AND "
                    "refunded_qty >= quantity)",
                    "ii", order_id, order_id);
    if (rc > 0)
        fs_processor_kick();
    return rc < 0 ? rc : 0;
}

/* region="in",sale="3",session="7" of a session */
static void session_labels(mer_buf_t *lb, const fs_session_t *s)
{
    char id[24];
    mer_buf_reset(lb);
    mer_prom_label(lb, "region", s->sale->region);
    snprintf(id, sizeof(id), "%lld", (long long)s->sale->id);
    mer_prom_label(lb, "sale", id);
    snprintf(id, sizeof(id), "%lld", (long long)s->id);
    mer_prom_label(lb, "session", id);
}

static void flash_metrics(mer_buf_t *out)
{
    const fs_registry_t *reg = fs_registry();
    mer_buf_t lb = MER_BUF_INIT;
    static const char *const names[] = {"meridian_flash_grabs_total", "meridian_flash_wins_total"};
    static const char *const helps[] = {"Grab requests, per flash-sale session.", "Purchase tokens handed out."};
    for (int c = 0; c < 2; c++) {
        mer_prom_family(out, names[c], "counter", helps[c]);
        for (size_t i = 0; i < reg->n; i++)
            for (int k = 0; k < reg->sales[i]->nsessions; k++) {
                fs_session_t *s = reg->sales[i]->sessions[k];
                session_labels(&lb, s);
                mer_buf_printf(out, "%s{%s} %llu\n", names[c], mer_buf_str(&lb),
                               (unsigned long long)atomic_load(c == 0 ? &s->grabs : &s->wins));
            }
    }
    mer_prom_family(out, "meridian_flash_refusals_total", "counter",
                    "Grabs and reservations refused, by reason (only reasons that occurred).");
    for (size_t i = 0; i < reg->n; i++)
        for (int k = 0; k < reg->sales[i]->nsessions; k++) {
            fs_session_t *s = reg->sales[i]->sessions[k];
            session_labels(&lb, s);
            for (int r = 0; r < FS_R__COUNT; r++) {
                uint64_t n = atomic_load(&s->refusals[r]);
                if (n)
                    mer_buf_printf(out, "meridian_flash_refusals_total{%s,reason=\"%s\"} %llu\n", mer_buf_str(&lb),
                                   fs_reason_names[r], (unsigned long long)n);
            }
        }
    mer_prom_family(out, "meridian_flash_sold_out_lag_seconds", "gauge",
                    "serve --redis: from the last unit sold (Redis's clock) to this node answering sold_out, "
                    "the last time a session's item sold out everywhere (only sessions that did).");
    for (size_t i = 0; i < reg->n; i++)
        for (int k = 0; k < reg->sales[i]->nsessions; k++) {
            fs_session_t *s = reg->sales[i]->sessions[k];
            int64_t lag = -1;
            for (int n = 0; n < s->nitems; n++)
                if (atomic_load(&s->items[n].sold_out_lag_us) > lag && atomic_load(&s->items[n].sold_out))
                    lag = atomic_load(&s->items[n].sold_out_lag_us);
            if (lag <= 0)
                continue;
            session_labels(&lb, s);
            mer_buf_printf(out, "meridian_flash_sold_out_lag_seconds{%s} %.6f\n", mer_buf_str(&lb), (double)lag / 1e6);
        }
    mer_buf_release(&lb);
}

/* The catalogue's translation workflow reads the sales' titles through this (catalog/translation.h). */
static void each_sale(mer_tr_sale_fn fn, void *arg)
{
    const fs_registry_t *reg = fs_registry();
    for (size_t i = 0; i < reg->n; i++)
        fn(arg, reg->sales[i]->id, reg->sales[i]->country, reg->sales[i]->titles);
}

static const mer_tr_sales_t sales_for_translation = {each_sale};

/*
 * A sale created on another node on one of this node's region databases (sale.c sends the note inside the
 * transaction that writes it): loaded from its rows at once. arg NULL (the listener reconnected and may
 * have missed notes): every sale of the region this node lacks.
 */
static void sale_note(const char *region, const char *arg)
{
    (void)arg;
    if (region && fs_load_new(region) != 0)
        mer_log_error("region %s: new flash sales could not be loaded (next note or restart)", region);
}

/* A reservation made on another node ("<session id> <user id>", grab.c): honoured here from now on. */
static void res_note(const char *region, const char *arg)
{
    long long sid, uid;
    if (region == NULL)
        return;
    if (arg == NULL) {
        if (fs_load_reservations(region) != 0)
            mer_log_error("region %s: reservations could not be reloaded (next note or restart)", region);
    } else if (sscanf(arg, "%lld %lld", &sid, &uid) == 2)
        fs_reservation_learn(sid, uid);
}

/* The session named by a note's first number, if this node has it. */
static fs_session_t *note_session(const char *arg, long long *sid)
{
    if (sscanf(arg, "%lld", sid) != 1)
        return NULL;
    const fs_registry_t *reg = fs_registry();
    fs_session_t *s = NULL;
    for (size_t i = 0; i < reg->n && s == NULL; i++)
        s = fs_session_find(reg->sales[i], *sid);
    return s;
}

/* A queue or draw entry another node recorded ("<session id> <seq>", grab.c): its ticket is placed here. */
static void entry_note(const char *region, const char *arg)
{
    long long sid, seq;
    if (region == NULL)
        return;
    if (arg == NULL) {
        fs_entries_resync(region);
        return;
    }
    fs_session_t *s = note_session(arg, &sid);
    if (s && sscanf(arg, "%lld %lld", &sid, &seq) == 2 && fs_entries_learn(s, seq, seq) != 0)
        mer_log_error("flash session %lld: entry %lld could not be read (resync on the next reconnection)", sid, seq);
}

/* The queue's decisions another node recorded ("<session id>", processor.c). */
static void queue_note(const char *region, const char *arg)
{
    long long sid;
    fs_session_t *s = region && arg ? note_session(arg, &sid) : NULL;
    if (s && fs_queue_learn(s) != 0)
        mer_log_error("flash session %lld: the queue's decisions could not be read", sid);
}

static int flash_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    fs_model_init();
    mer_notify_on("flash_sale", sale_note);
    mer_notify_on("flash_res", res_note);
    mer_notify_on("flash_entry", entry_note);
    mer_notify_on("flash_queue", queue_note);
    const mer_countries_t *cs = mer_countries();
    for (size_t i = 0; i < cs->nregions; i++)
        if (cs->regions[i].local && fs_load_region(cs->regions[i].name) != 0)
            mer_die("cannot load the flash sales of region %s", cs->regions[i].name);
    fs_grab_init();
    mer_translation_set_sales(&sales_for_translation);
    fs_shared_start();
    fs_processor_start();
    return 0;
}

int mer_flash_configure_redis(const char *url)
{
    return fs_shared_configure(url);
}

/* The processor first (it restocks through Redis), then the shared stock's maintenance (the allotments go
 * back at release, once the writers have settled every win). */
static void flash_stop(void)
{
    fs_processor_stop();
    fs_shared_stop();
}

const mer_module_t mer_flash_module = {
    .name = "flashsale",
    .init = flash_init,
    .routes = MER_MODULE_ROUTES(&fs_grab_routes, &fs_admin_routes),
    .stop_phase = MER_STOP_PRODUCERS,
    .stop = flash_stop,
    .release = fs_shared_release,
    .metrics = flash_metrics,
};
