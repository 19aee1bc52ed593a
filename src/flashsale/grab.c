/*
 * grab.c — the public flash-sale routes, the grab hot path first.
 *
 *   GET  /api/v1/flash-sales?country=&lang=          activities of a country (cached, CDN-friendly)
 *   GET  /api/v1/flash-sales/{id}?lang=              one activity
 *   POST /api/v1/flash-sales/{id}/reservations       {"session_id"}          register before the sale
 *   GET  /api/v1/flash-sales/{id}/challenge          a proof-of-work challenge (when the sale asks)
 *   POST /api/v1/flash-sales/{id}/grab               {"session_id", "sku", "proof": {"challenge", "nonce"}}
 *   GET  /api/v1/flash-sales/{id}/queue/{voucher}    queue / draw outcome
 *
 * The grab checks, in this order (cheapest and most common refusal first): the session is live (425 /
 * 409 sale_ended), the item is not sold out (409, from memory), the reservation (403 not_reserved), the
 * anti-scalper rules (403 blocked, 429 rate_limited, 403 challenge), the buyer's limit (409
 * limit_reached) — then takes one unit atomically and records the token durably before answering.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog/catalog.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/tz.h"
#include "flashsale/flash_int.h"
#include "store/notify.h"
#include "http/rcache.h"
#include "region/region_http.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

#define CHALLENGE_TTL_MS (120 * 1000)

static unsigned char pow_key[crypto_auth_hmacsha256_KEYBYTES];

static const char *const state_names[] = {"upcoming", "live", "sold_out", "ended"};

/* ---- activity info ---- */

static void write_session(mer_jw_t *w, fs_session_t *s, const mer_country_t *c, const char *lang,
                          const mer_locale_chain_t *chain, int64_t now)
{
    char ts[40];
    mer_jw_obj(w, NULL);
    mer_jw_int(w, "id", s->id);
    mer_jw_str(w, "mode", fs_mode_names[s->mode]);
    mer_jw_str(w, "state", state_names[fs_session_state(s, now)]);
    mer_jw_int(w, "progress", atomic_load(&s->progress));
    mer_format_utc_ms(s->starts_at, ts);
    mer_jw_str(w, "starts_at", ts);
    mer_tz_format(s->starts_at, c->timezone, ts);
    mer_jw_str(w, "starts_at_local", ts);
    mer_format_utc_ms(s->ends_at, ts);
    mer_jw_str(w, "ends_at", ts);
    mer_tz_format(s->ends_at, c->timezone, ts);
    mer_jw_str(w, "ends_at_local", ts);
    mer_jw_int(w, "per_user_limit", s->per_user_limit);
    mer_jw_int(w, "token_ttl_seconds", s->token_ttl_ms / 1000);
    mer_jw_bool(w, "cod_allowed", s->cod_allowed);
    mer_jw_obj(w, "reservation");
    mer_jw_bool(w, "required", s->reservation_required);
    if (s->reservation_required) {
        mer_format_utc_ms(s->res_opens_at, ts);
        mer_jw_str(w, "opens_at", ts);
        mer_format_utc_ms(s->res_closes_at, ts);
        mer_jw_str(w, "closes_at", ts);
    }
    mer_jw_end(w);
    mer_jw_arr(w, "items");
    const mer_catalog_t *cat = mer_catalog_lock();
    for (int i = 0; i < s->nitems; i++) {
        fs_item_t *it = &s->items[i];
        const mer_cat_sku_t *sku = mer_catalog_sku_by_id(cat, it->sku_id);
        int64_t left = fs_item_remaining(it);
        mer_jw_obj(w, NULL);
        mer_jw_str(w, "sku", it->sku);
        mer_jw_int(w, "product_id", it->product_id);
        if (sku) {
            const mer_cat_text_t *t = mer_catalog_text(sku->product->texts, sku->product->ntexts, chain);
            mer_jw_str(w, "name", t ? t->name : it->sku);
            int64_t regular = mer_catalog_price(sku, c->code);
            if (regular >= 0)
                mer_country_money_jw(w, "regular_price", c, regular, lang);
        }
        mer_country_money_jw(w, "flash_price", c, it->price, lang);
        mer_jw_int(w, "units", it->units);
        mer_jw_int(w, "progress", it->units ? (int)((it->units - (left < 0 ? 0 : left)) * 100 / it->units) : 0);
        mer_jw_bool(w, "sold_out", atomic_load(&it->sold_out) != 0);
        mer_jw_end(w);
    }
    mer_catalog_unlock();
    mer_jw_end(w);
    if (s->mode == FS_DRAW) {
        mer_jw_obj(w, "draw");
        mer_jw_str(w, "seed_commitment", s->seed_commitment);
        mer_jw_str(w, "method",
                   "winners are the entries with the lowest SHA-256(seed || ticket), per item up to "
                   "its units; check the seed against the commitment");
        if (atomic_load(&s->drawn)) {
            mer_jw_str(w, "seed", s->seed);
            char t[48];
            pthread_mutex_lock(&s->tickets_mu);
            size_t entries = 0;
            for (size_t k = 0; k < s->ntickets; k++)
                entries += s->tickets[k] && atomic_load(&s->tickets[k]->state) != FS_TICKET_VOID;
            mer_jw_int(w, "entries", (int64_t)entries);
            mer_jw_arr(w, "winning_tickets");
            for (size_t k = 0; k < s->ntickets; k++) {
                if (s->tickets[k] && atomic_load(&s->tickets[k]->state) == FS_TICKET_WON) {
                    fs_ticket_name(s, s->tickets[k]->seq, t);
                    mer_jw_str(w, NULL, t);
                }
            }
            mer_jw_end(w);
            mer_jw_arr(w, "all_tickets");
            for (size_t k = 0; k < s->ntickets; k++) {
                if (s->tickets[k] && atomic_load(&s->tickets[k]->state) != FS_TICKET_VOID) {
                    fs_ticket_name(s, s->tickets[k]->seq, t);
                    mer_jw_str(w, NULL, t);
                }
            }
            mer_jw_end(w);
            pthread_mutex_unlock(&s->tickets_mu);
        }
        mer_jw_end(w);
    }
    mer_jw_end(w);
}

/* Writes the sale as the member key of the object being written (key NULL: an element of an array). */
static void write_sale(mer_jw_t *w, const char *key, fs_sale_t *sale, const mer_country_t *c, const char *lang,
                       const mer_locale_chain_t *chain, int64_t now)
{
    /* the title in the first language of the chain that has one: a translation made with the catalogue's
     * translation workflow, else the sale's own (the snapshot is locked while the title is written) */
    const mer_catalog_t *cat = mer_catalog_lock();
    const char *title = NULL;
    for (size_t i = 0; i < chain->n && title == NULL; i++) {
        const mer_cat_flash_text_t *t = mer_catalog_flash_title(cat, sale->id, chain->tags[i]);
        title = t ? t->title : json_string_value(json_object_get(sale->titles, chain->tags[i]));
    }
    if (title == NULL)
        title = json_string_value(json_object_get(sale->titles, "en"));
    mer_jw_obj(w, key);
    mer_jw_int(w, "id", sale->id);
    mer_jw_str(w, "country", sale->country);
    mer_jw_str(w, "title", title ? title : "");
    mer_catalog_unlock();
    mer_jw_arr(w, "sessions");
    for (int i = 0; i < sale->nsessions; i++)
        write_session(w, sale->sessions[i], c, lang, chain, now);
    mer_jw_end(w);
    mer_jw_end(w);
}

/* Answers an activity (id > 0) or a country's list (id 0) from the per-thread cache. */
static void activity(mer_req_t *r, int64_t id)
{
    mer_where_t w;
    fs_sale_t *sale = id ? fs_sale_find(id) : NULL;
    if (id && sale == NULL) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no flash sale %lld", (long long)id);
        return;
    }
    if (id) {
        /* one activity: its own country, in the language asked for */
        char norm[MER_LOCALE_MAX];
        const char *lang;
        if (mer_req_lang(r, norm, &lang) != 0)
            return;
        w.cs = mer_countries();
        w.country = mer_country_find(w.cs, sale->country, 2);
        mer_locale_chain_build(&w.chain, lang, NULL, 0, w.country->languages[0]);
    } else if (mer_where(r, &w) != 0) {
        return;
    }
    int64_t now = mer_now_unix_ms();
    /* the answer carries the server time to the second; state and progress move the generation */
    char key[160];
    int kl = snprintf(key, sizeof(key), "F|%lld|%s|%lld|%s|%s", (long long)id, w.country->code, (long long)(now / 1000),
                      w.chain.tags[0], w.chain.n > 1 ? w.chain.tags[1] : "");
    uint64_t gen = fs_generation() ^ (mer_catalog_generation() << 32);
    const mer_rcache_entry_t *hit = mer_rcache_get(key, (size_t)kl, gen);
    if (hit) {
        mer_reply_cached(r, hit);
        return;
    }
    const char *lang = w.chain.tags[0];
    mer_buf_t b = MER_BUF_INIT;
    mer_jw_t jw;
    char ts[40];
    mer_jw_init(&jw, &b);
    mer_jw_obj(&jw, NULL);
    mer_format_utc_ms(now - now % 1000, ts);
    mer_jw_str(&jw, "server_time", ts);
    if (id) {
        write_sale(&jw, "sale", sale, w.country, lang, &w.chain, now);
    } else {
        mer_jw_str(&jw, "country", w.country->code);
        mer_jw_arr(&jw, "sales");
        const fs_registry_t *reg = fs_registry();
        for (size_t i = 0; i < reg->n; i++)
            if (strcmp(reg->sales[i]->country, w.country->code) == 0)
                write_sale(&jw, NULL, reg->sales[i], w.country, lang, &w.chain, now);
        mer_jw_end(&jw);
    }
    mer_jw_end(&jw);
    const mer_rcache_entry_t *e = mer_rcache_put(key, (size_t)kl, gen, 200, b.data, b.len, "public, max-age=1");
    mer_buf_release(&b);
    mer_reply_cached(r, e);
}

static void h_list(mer_req_t *r)
{
    activity(r, 0);
}

static void h_get(mer_req_t *r)
{
    int64_t id;
    if (mer_req_param_id(r, 0, &id) == 0)
        activity(r, id);
}

/* ---- common checks ---- */

/* Flash sales are for customers: staff ids share a number space with customers', so staff are refused
 * outright rather than matched against customers' tickets. */
static bool customer_only(mer_req_t *r)
{
    if (r->who.role == MER_ROLE_CUSTOMER)
        return true;
    mer_reply_error(r, MER_E_FORBIDDEN, NULL, "only customers take part in flash sales");
    return false;
}

static fs_session_t *pick_session(mer_req_t *r, fs_sale_t **sale_out)
{
    int64_t id, sid = 0;
    mer_verr_t e = {0};
    if (mer_req_param_id(r, 0, &id) != 0)
        return NULL;
    if (!customer_only(r))
        return NULL;
    fs_sale_t *sale = fs_sale_find(id);
    if (sale == NULL) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no flash sale %lld", (long long)id);
        return NULL;
    }
    if (strcmp(sale->country, r->who.country) != 0) {
        mer_reply_error(r, MER_E_FORBIDDEN, NULL, "this sale is for customers in %s", sale->country);
        return NULL;
    }
    if (mer_json_int(r->body, "session_id", "session_id", 1, INT64_C(1) << 53, true, &sid, &e)) {
        mer_reply_verr(r, &e);
        return NULL;
    }
    fs_session_t *s = fs_session_find(sale, sid);
    if (s == NULL)
        mer_reply_error(r, MER_E_VALIDATION, "session_id", "sale %lld has no session %lld", (long long)id,
                        (long long)sid);
    *sale_out = sale;
    return s;
}

static int cmp_user(const void *key, const void *elem)
{
    int64_t a = *(const int64_t *)key, b = *(const int64_t *)elem;
    return (a > b) - (a < b);
}

static int cmp_ip(const void *key, const void *elem)
{
    return strcmp(key, elem);
}

/* The lists are sorted (model.c, parse_rules): up to FS_MAX_BLOCKED entries each cost a dozen compares. */
static bool blocked(const fs_rules_t *ru, int64_t user_id, const char *ip)
{
    if (ru->nblocked_users &&
        bsearch(&user_id, ru->blocked_users, ru->nblocked_users, sizeof(*ru->blocked_users), cmp_user))
        return true;
    if (ru->nblocked_ips == 0)
        return false;
    /* the list holds canonical text: an IPv4 peer seen through a dual-stack socket is ::ffff:a.b.c.d */
    if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.'))
        ip += 7;
    return bsearch(ip, ru->blocked_ips, ru->nblocked_ips, sizeof(*ru->blocked_ips), cmp_ip) != NULL;
}

/* Describes a refusal (counted for the session's stats) and returns its error. */
static int no_grab(fs_refusal_t *no, fs_session_t *s, fs_reason_t why, int err, const char *fmt, ...) MER_PRINTF(5, 6);
static int no_grab(fs_refusal_t *no, fs_session_t *s, fs_reason_t why, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(no->message, sizeof(no->message), fmt, ap);
    va_end(ap);
    fs_count_refusal(s, why);
    no->err = err;
    no->reason = (int)why;
    no->field = NULL;
    return err;
}

/* The adapter's answer to a refusal: the error envelope with its reason, Retry-After for a rate limit. */
static void reply_refusal(mer_req_t *r, const fs_refusal_t *no)
{
    if (no->retry_after_ns) {
        char secs[24]; /* whole seconds, rounded up: at least one interval of the limit that refused */
        snprintf(secs, sizeof(secs), "%lld", (long long)(no->retry_after_ns / 1000000000 + 1));
        mer_reply_header(r, "retry-after", secs);
    }
    if (no->reason < 0)
        mer_reply_error(r, no->err, no->field, "%s", no->message);
    else
        mer_reply_error_reason(r, no->err, no->field, fs_reason_names[no->reason], "%s", no->message);
}

static void refuse(mer_req_t *r, fs_session_t *s, fs_reason_t why, int err, const char *fmt, ...) MER_PRINTF(5, 6);
static void refuse(mer_req_t *r, fs_session_t *s, fs_reason_t why, int err, const char *fmt, ...)
{
    fs_refusal_t no = {0};
    char msg[sizeof(no.message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    no_grab(&no, s, why, err, "%s", msg);
    reply_refusal(r, &no);
}

bool fs_rules_need_ip(const fs_rules_t *ru)
{
    return ru->nblocked_ips || ru->ip_interval_ns;
}

/* The flash-sale limits apply to a route that says so (the route table documents its limiter). */
static void check_rate_class(const mer_req_t *r)
{
    if (r->route->rate != MER_RATE_FLASH)
        MER_BUG("%s %s applies the flash-sale limits but its route says otherwise", r->route->method,
                r->route->pattern);
}

/* Anti-scalper rules shared by reservations and grabs. Returns 0, or describes the refusal and returns its error. */
static int rules_check(fs_sale_t *sale, fs_session_t *s, const fs_grab_in_t *in, fs_refusal_t *no)
{
    const fs_rules_t *ru = &sale->rules;
    if (blocked(ru, in->user_id, in->ip))
        return no_grab(no, s, FS_R_BLOCKLIST, MER_E_BLOCKED, "this account or address may not take part");
    if (ru->min_account_age_ms && in->now - in->created_at < ru->min_account_age_ms)
        return no_grab(no, s, FS_R_ACCOUNT_AGE, MER_E_BLOCKED, "accounts must be at least %lld days old to take part",
                       (long long)(ru->min_account_age_ms / 86400000));
    if (!ru->user_interval_ns && !ru->ip_interval_ns)
        return 0;
    /*
     * GCRA in monotonic nanoseconds: exact for every rate the rules allow (see flash_int.h). Several nodes
     * (serve --redis): each enforces its share, 1/n of the rate and ceil(burst / n) of the burst, n the
     * nodes holding a lease; so a client spread over the nodes, however, gets at most rate * t +
     * n * ceil(burst / n) <= rate * t + burst + n - 1 in any t, with no Redis command per grab (the price:
     * a client that only ever reaches one node gets 1/n of the rate). While n changes (a node starts or
     * stops; every node sees it within a second) one node may still use the old share.
     */
    int64_t now_ns = (int64_t)mer_now_mono_ns(), n = fs_shared_nodes();
    int64_t user_interval = ru->user_interval_ns * n, ip_interval = ru->ip_interval_ns * n;
    if (ru->user_interval_ns &&
        !mer_smap_gcra(&s->buyers, -in->user_id, now_ns, user_interval, (ru->user_burst + n - 1) / n)) {
        no->retry_after_ns = user_interval;
        return no_grab(no, s, FS_R_RATE_USER, MER_E_RATE_LIMITED, "too many attempts from this account; slow down");
    }
    if (ru->ip_interval_ns && !mer_smap_gcra(&s->devices, -(int64_t)(mer_hash64(in->ip, strlen(in->ip)) >> 1), now_ns,
                                             ip_interval, (ru->ip_burst + n - 1) / n)) {
        no->retry_after_ns = ip_interval;
        return no_grab(no, s, FS_R_RATE_IP, MER_E_RATE_LIMITED,
                       "too many attempts from this network address; slow down");
    }
    return 0;
}

/* ---- proof of work ----
 *
 * A challenge is <expiry ms>.<customer id>.<MAC of both>, valid until its expiry and only for that
 * customer. It is also accepted once only: a replay, with the same nonce or another, is refused like a
 * wrong proof. Because the MAC is a function of the expiry and the customer, a customer's challenge is
 * named by its expiry, and per customer we remember:
 *
 *   used[POW_SEEN]  the expiries of the last challenges accepted (0 = free slot)
 *   floor           every other challenge ever accepted expires at or before it; it only rises
 *
 * A challenge is fresh when it expires after the floor and is not in used[]. Accepting it puts it in
 * used[] in place of the lowest entry, and the lower of the two goes under the floor. So a customer may
 * fetch several challenges and solve them in any order; only one with more than POW_SEEN accepted at
 * once finds its oldest unused challenges refused, and fetches another.
 *
 * No clock is needed (an expired challenge is refused before it gets here), and nothing is ever
 * forgotten early; a restart forgets everything, but the MAC key is drawn anew at start-up, so every
 * challenge issued before it is refused anyway. Memory: one record (48 bytes and its map slot) per customer who has
 * sent a valid proof, kept until exit like the per-buyer maps; it grows with customers, not with grabs, and a
 * customer's proofs cannot push anyone else's out. The record's lock is contended only by the same
 * customer's simultaneous grabs, and held for a few compares.
 */

#define POW_SEEN 4

typedef struct pow_seen {
    atomic_flag lock;
    int64_t floor;          /* guarded by lock */
    int64_t used[POW_SEEN]; /* guarded by lock */
} pow_seen_t;

static mer_smap_t pow_seen; /* customer id -> pow_seen_t *, never removed */

static pow_seen_t *pow_seen_of(int64_t user)
{
    pow_seen_t *p = (pow_seen_t *)(intptr_t)mer_smap_get(&pow_seen, user);
    if (p)
        return p;
    p = mer_xcalloc(1, sizeof(*p));
    atomic_flag_clear(&p->lock);
    /* insert if absent: adding v to the value stays <= v only while the value is 0 (pointers are > 0) */
    int64_t v = (int64_t)(intptr_t)p;
    if (mer_smap_add_upto(&pow_seen, user, v, v) == v)
        return p;
    free(p); /* another grab of the same customer inserted first */
    return (pow_seen_t *)(intptr_t)mer_smap_get(&pow_seen, user);
}

/* True, and remembered, the first time; false for every later use of the same challenge. */
static bool pow_first_use(int64_t user, int64_t exp)
{
    pow_seen_t *p = pow_seen_of(user);
    while (atomic_flag_test_and_set_explicit(&p->lock, memory_order_acquire))
        ; /* only the same customer's simultaneous grab can hold it, for a few compares */
    bool fresh = exp > p->floor;
    int low = 0;
    for (int i = 0; i < POW_SEEN; i++) {
        fresh = fresh && p->used[i] != exp;
        if (p->used[i] < p->used[low])
            low = i;
    }
    if (fresh) {
        int64_t out = exp;
        if (p->used[low] < exp) {
            out = p->used[low];
            p->used[low] = exp;
        }
        if (out > p->floor)
            p->floor = out;
    }
    atomic_flag_clear_explicit(&p->lock, memory_order_release);
    return fresh;
}

static void challenge_mac(int64_t exp, int64_t user, char hex[33])
{
    char msg[64];
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    int n = snprintf(msg, sizeof(msg), "%lld.%lld", (long long)exp, (long long)user);
    crypto_auth_hmacsha256(mac, (const unsigned char *)msg, (unsigned long long)n, pow_key);
    sodium_bin2hex(hex, 33, mac, 16);
}

static void h_challenge(mer_req_t *r)
{
    int64_t id;
    if (!customer_only(r) || mer_req_param_id(r, 0, &id) != 0)
        return;
    fs_sale_t *sale = fs_sale_find(id);
    if (sale == NULL) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no flash sale %lld", (long long)id);
        return;
    }
    int64_t exp = mer_now_unix_ms() + CHALLENGE_TTL_MS;
    char mac[33], ch[96];
    challenge_mac(exp, r->who.id, mac);
    snprintf(ch, sizeof(ch), "%lld.%lld.%s", (long long)exp, (long long)r->who.id, mac);
    mer_reply_json(r, 200,
                   json_pack("{s:s,s:i,s:s}", "challenge", ch, "bits", sale->rules.pow_bits, "algorithm",
                             "find a nonce so that SHA-256(challenge + ':' + nonce) starts with `bits` zero "
                             "bits; send {\"proof\": {\"challenge\", \"nonce\"}} with the grab"));
}

static bool leading_zero_bits(const unsigned char *h, int bits)
{
    for (int i = 0; i < bits; i++)
        if (h[i / 8] & (0x80 >> (i % 8)))
            return false;
    return true;
}

static bool proof_ok(const fs_grab_in_t *in, int bits)
{
    const char *ch = in->challenge, *nonce = in->nonce;
    int64_t now = in->now;
    if (ch == NULL || nonce == NULL || strlen(ch) > 90 || strlen(nonce) > 64)
        return false;
    long long exp = 0, user = 0;
    char mac[40], expect[33];
    if (sscanf(ch, "%lld.%lld.%39s", &exp, &user, mac) != 3 || user != in->user_id || exp < now)
        return false;
    challenge_mac(exp, user, expect);
    if (strlen(mac) != 32 || sodium_memcmp(mac, expect, 32) != 0)
        return false;
    char buf[160];
    int n = snprintf(buf, sizeof(buf), "%s:%s", ch, nonce);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)buf, (unsigned long long)n);
    /* only a valid proof is remembered: wrong ones cost the server no memory */
    return leading_zero_bits(h, bits) && pow_first_use(user, exp);
}

/* ---- writes of the grab path ----
 * A reservation, a win or an entry is written by the sale's writer before it is answered (mer_call_write).
 * Its in-memory side (the reservation, the token, the ticket) follows the write's fate: settle() runs
 * exactly once on the loop, from the answer (reply) when the client is still there, else from the cleanup
 * (the client went away, the write failed, or the writer refused the job), so it happens before the client
 * can act on the answer and also when nobody is answered.
 */
typedef struct fs_call fs_call_t;
struct fs_call {
    mer_call_t c;
    void (*settle)(fs_call_t *f, bool committed);
    bool ran; /* fn ran: c.err then says whether its write committed */
    bool settled;
};

static void fs_call_settle(fs_call_t *f)
{
    if (!f->settled) {
        f->settled = true;
        f->settle(f, f->ran && f->c.err == 0);
    }
}

static void fs_call_cleanup(mer_call_t *c)
{
    fs_call_settle((fs_call_t *)c);
}

static void *fs_call_new(mer_req_t *r, size_t size, void (*settle)(fs_call_t *, bool), void (*reply)(mer_call_t *))
{
    fs_call_t *f = mer_call_new(r, size);
    f->settle = settle;
    f->c.reply = reply;
    f->c.cleanup = fs_call_cleanup;
    return f;
}

/* ---- reservations ---- */

typedef struct res_job {
    fs_call_t f;
    fs_session_t *s;
    int64_t user_id;
} res_job_t;

static int res_run(mer_db_t *db, mer_call_t *c)
{
    res_job_t *j = (res_job_t *)c;
    j->f.ran = true;
    if (mer_db_exec(db,
                    "INSERT INTO flash_reservation (session_id, user_id, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    "iii", j->s->id, j->user_id, mer_now_unix_ms()) < 0)
        return MER_E_INTERNAL;
    /* the other nodes on this database hold it in memory too once it commits (flash.c, res_note) */
    char note[48];
    snprintf(note, sizeof(note), "%lld %lld", (long long)j->s->id, (long long)j->user_id);
    return mer_notify_send(db, "flash_res", note);
}

static void res_settle(fs_call_t *f, bool committed)
{
    res_job_t *j = (res_job_t *)f;
    if (committed)
        mer_smap_set(&j->s->reservations, j->user_id, 1);
}

static void res_reply(mer_call_t *c)
{
    res_job_t *j = (res_job_t *)c;
    fs_call_settle(&j->f);
    mer_reply_json(c->r, 201, json_pack("{s:I,s:s}", "session_id", (json_int_t)j->s->id, "status", "reserved"));
}

int fs_reserve_check(fs_sale_t *sale, fs_session_t *s, const fs_grab_in_t *in, bool *already, fs_refusal_t *no)
{
    *no = (fs_refusal_t){.reason = -1};
    *already = false;
    if (!s->reservation_required || in->now < s->res_opens_at || in->now >= s->res_closes_at)
        return no_grab(no, s, FS_R_WINDOW, MER_E_CONFLICT,
                       s->reservation_required ? "reservations are open only during their window"
                                               : "this session needs no reservation");
    if (mer_smap_get(&s->reservations, in->user_id)) {
        *already = true;
        return 0;
    }
    return rules_check(sale, s, in, no);
}

/* The request's part of a grab or reservation: who, from where, with which proof (the adapter's work). */
static void grab_in(mer_req_t *r, const fs_sale_t *sale, fs_grab_in_t *in)
{
    json_t *proof = json_object_get(r->body, "proof");
    size_t dlen = 0;
    const char *dev = mer_req_header(r, "x-device-id", &dlen);
    *in = (fs_grab_in_t){
        .user_id = r->who.id,
        .created_at = r->who.created_at,
        .buyer = {r->who.id, r->who.phone_hash, r->who.address_hash,
                  dev && dlen ? mer_hash64(dev, MER_MIN(dlen, 200)) : 0, r->who.address_phone_hash},
        .sku = json_string_value(json_object_get(r->body, "sku")),
        .challenge = json_string_value(json_object_get(proof, "challenge")),
        .nonce = json_string_value(json_object_get(proof, "nonce")),
        .now = mer_now_unix_ms(),
    };
    if (fs_rules_need_ip(&sale->rules))
        mer_req_peer(r, in->ip); /* only rules on addresses need it */
}

static void h_reserve(mer_req_t *r)
{
    fs_sale_t *sale = NULL;
    fs_session_t *s = pick_session(r, &sale);
    if (s == NULL)
        return;
    check_rate_class(r);
    fs_grab_in_t in;
    fs_refusal_t no;
    bool already;
    grab_in(r, sale, &in);
    if (fs_reserve_check(sale, s, &in, &already, &no) != 0) {
        reply_refusal(r, &no);
        return;
    }
    if (already) {
        mer_reply_json(r, 200, json_pack("{s:I,s:s}", "session_id", (json_int_t)s->id, "status", "reserved"));
        return;
    }
    res_job_t *j = fs_call_new(r, sizeof(*j), res_settle, res_reply);
    j->s = s;
    j->user_id = r->who.id;
    mer_call_write(&j->f.c, sale->region, res_run);
}

/* ---- the grab ---- */

/* An fcfs win (t) or a queue or draw entry (ticket) on its way through the writer. */
typedef struct grab_job {
    fs_call_t f;
    fs_session_t *s;
    fs_token_t *t;
    fs_ticket_t *ticket;
    const mer_country_t *country; /* fcfs: for the answer */
    bool refused;                 /* entry: the writer found the session ended or an entry of the buyer's */
    fs_reason_t why;              /* then FS_R_ENDED or FS_R_LIMIT */
} grab_job_t;

static int grab_run(mer_db_t *db, mer_call_t *c)
{
    grab_job_t *j = (grab_job_t *)c;
    j->f.ran = true;
    /* the answer to any failure, this job's or its batch's commit */
    mer_verr_set(&c->verr, MER_E_UNAVAILABLE, NULL, "the win could not be recorded; try again");
    return fs_store_token(db, j->t);
}

static void grab_settle(fs_call_t *f, bool committed)
{
    grab_job_t *j = (grab_job_t *)f;
    if (committed) {
        if (j->s->items[j->t->item].shared)
            fs_shared_confirm(j->t->token);
        fs_token_put(j->t);
        atomic_fetch_add(&j->s->wins, 1);
    } else {
        if (j->s->items[j->t->item].shared)
            fs_shared_unwin(j->s, j->t->item, &j->t->buyer, j->t->token);
        else
            fs_token_release(j->t);
        free(j->t);
    }
    fs_progress(j->s);
}

static void grab_reply(mer_call_t *c)
{
    grab_job_t *j = (grab_job_t *)c;
    mer_req_t *r = c->r;
    fs_token_t *t = j->t;
    fs_session_t *s = j->s;
    fs_call_settle(&j->f);
    fs_item_t *it = &s->items[t->item];
    char ts[40];
    mer_buf_t b = MER_BUF_INIT;
    mer_jw_t jw;
    mer_jw_init(&jw, &b);
    mer_jw_obj(&jw, NULL);
    mer_jw_str(&jw, "status", "won");
    mer_jw_str(&jw, "token", t->token);
    mer_jw_int(&jw, "session_id", s->id);
    mer_jw_str(&jw, "sku", it->sku);
    mer_country_money_jw(&jw, "price", j->country, it->price, j->country->languages[0]);
    mer_format_utc_ms(t->expires_at, ts);
    mer_jw_str(&jw, "expires_at", ts);
    mer_tz_format(t->expires_at, j->country->timezone, ts);
    mer_jw_str(&jw, "expires_at_local", ts);
    mer_jw_str(&jw, "checkout", "POST /api/v1/orders with \"flash_token\"");
    mer_jw_end(&jw);
    mer_reply_bytes(r, 200, NULL, mer_req_strdup(r, b.data, b.len), b.len);
    mer_buf_release(&b);
}

/*
 * An entry that was not recorded gives back its buyer's counts; its number stays taken, so it is placed
 * void: the queue does not wait for it.
 */
static void void_entry(fs_session_t *s, fs_ticket_t *k)
{
    if (fs_entries_shared(s))
        fs_shared_release_counts(s, &k->buyer, true);
    else
        fs_release_buyer(s, &k->buyer);
    atomic_store(&k->state, FS_TICKET_VOID);
    fs_ticket_place(s, k);
    fs_processor_kick();
}

/*
 * Queue and draw entries are written before they are answered (flash_entry), so a voucher survives a
 * restart. The writer checks the end of the session once more: after ends_at nothing gets in, which is
 * what lets a draw read every entry from the database and know the list is complete. A refusal (ended,
 * already entered) wrote nothing and is answered as one (entry_reply), not as a failed write.
 */
static int entry_run(mer_db_t *db, mer_call_t *c)
{
    grab_job_t *j = (grab_job_t *)c;
    fs_ticket_t *t = j->ticket;
    fs_session_t *s = j->s;
    j->f.ran = true;
    mer_verr_set(&c->verr, MER_E_UNAVAILABLE, NULL, "the entry could not be recorded; try again");
    char ticket[48];
    fs_ticket_name(s, t->seq, ticket);
    bool shared = fs_entries_shared(s);
    /* several nodes: a refused entry's number is voided at once (its fence), so the queue does not wait */
    const char *fence =
        "INSERT INTO flash_fence (token, state, created_at) VALUES (?, ?, ?) ON CONFLICT (token) DO NOTHING";
    if (mer_now_unix_ms() >= s->ends_at) {
        j->refused = true, j->why = FS_R_ENDED;
        return shared && mer_db_exec(db, fence, "ssi", ticket, "void", mer_now_unix_ms()) < 0 ? MER_E_INTERNAL : 0;
    }
    /* ON CONFLICT rather than a failing statement: on PostgreSQL a failed statement would abort the batch */
    int rc = mer_db_exec(db,
                         "INSERT INTO flash_entry (session_id, seq, ticket, kind, sku_id, " FS_BUYER_COLUMNS
                         ", created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, user_id) "
                         "DO NOTHING",
                         "iissiiiiiii", s->id, t->seq, ticket, fs_mode_names[s->mode], s->items[t->item].sku_id,
                         t->buyer.user_id, (int64_t)t->buyer.phone, (int64_t)t->buyer.address, (int64_t)t->buyer.device,
                         (int64_t)t->buyer.address_phone, mer_now_unix_ms());
    if (rc == 0) { /* the buyer has an entry already */
        j->refused = true, j->why = FS_R_LIMIT;
        return shared && mer_db_exec(db, fence, "ssi", ticket, "void", mer_now_unix_ms()) < 0 ? MER_E_INTERNAL : 0;
    }
    if (rc < 0 || !shared)
        return rc < 0 ? rc : 0;
    /* several nodes: the number's fence (a number whose row is late may have been voided by the node that
     * runs the queue, processor.c), then a note, on which the other nodes place the ticket too */
    rc = mer_db_exec(db, fence, "ssi", ticket, "won", mer_now_unix_ms());
    if (rc <= 0)
        return rc < 0 ? rc : MER_E_CONFLICT;
    char note[48];
    snprintf(note, sizeof(note), "%lld %lld", (long long)s->id, (long long)t->seq);
    return mer_notify_send(db, "flash_entry", note);
}

static void entry_settle(fs_call_t *f, bool committed)
{
    grab_job_t *j = (grab_job_t *)f;
    if (committed && !j->refused && fs_entries_shared(j->s)) {
        /* the processor may have read the row and placed (even decided) the ticket already */
        j->ticket = fs_ticket_adopt(j->s, j->ticket);
        fs_processor_kick();
    } else if (committed && !j->refused) {
        fs_ticket_place(j->s, j->ticket);
        if (j->s->mode == FS_QUEUE)
            fs_processor_kick();
    } else {
        void_entry(j->s, j->ticket);
    }
}

static void entry_reply(mer_call_t *c)
{
    grab_job_t *j = (grab_job_t *)c;
    mer_req_t *r = c->r;
    fs_session_t *s = j->s;
    fs_ticket_t *k = j->ticket;
    char v[48];
    fs_ticket_name(s, k->seq, v);
    fs_call_settle(&j->f);
    k = j->ticket; /* settling may have adopted the ticket in its slot (shared entries) */
    if (j->refused && j->why == FS_R_ENDED)
        refuse(r, s, FS_R_ENDED, MER_E_SALE_ENDED, "the session has ended");
    else if (j->refused)
        refuse(r, s, FS_R_LIMIT, MER_E_LIMIT_REACHED, "you already have an entry in this session");
    else if (s->mode == FS_QUEUE)
        mer_reply_json(r, 202,
                       json_pack("{s:s,s:s,s:I,s:i}", "status", "queued", "voucher", v, "position",
                                 (json_int_t)(k->seq - atomic_load(&s->processed)), "poll_after_ms", 500));
    else {
        char ts[32];
        mer_format_utc_ms(s->ends_at, ts);
        mer_reply_json(r, 202,
                       json_pack("{s:s,s:s,s:s,s:s}", "status", "entered", "voucher", v, "draw_at", ts, "poll",
                                 "GET /api/v1/flash-sales/{id}/queue/{voucher}"));
    }
}

static fs_token_t *new_token(fs_session_t *s, int idx, const fs_buyer_t *b, int64_t now)
{
    fs_token_t *t = mer_xcalloc(1, sizeof(*t));
    t->session = s;
    t->item = idx;
    t->buyer = *b;
    fs_new_token(t->token);
    t->expires_at = now + s->token_ttl_ms;
    return t;
}

/* The refusal when one of the buyer's counts is full. */
static int count_full(fs_refusal_t *no, fs_session_t *s, fs_reason_t why)
{
    static const char *const identity[FS_R__COUNT] = {
        [FS_R_PHONE] = "phone number", [FS_R_ADDRESS] = "delivery address", [FS_R_DEVICE] = "device"};
    if (why == FS_R_LIMIT)
        return no_grab(no, s, why, MER_E_LIMIT_REACHED, "you have reached this session's limit of %lld",
                       (long long)s->per_user_limit);
    return no_grab(no, s, why, MER_E_BLOCKED, "this %s has already won in this session", identity[why]);
}

int fs_grab(fs_sale_t *sale, fs_session_t *s, const fs_grab_in_t *in, fs_grab_t *out, fs_refusal_t *no)
{
    *no = (fs_refusal_t){.reason = -1};
    *out = (fs_grab_t){0};
    atomic_fetch_add_explicit(&s->grabs, 1, memory_order_relaxed);
    int idx = -1;
    for (int i = 0; in->sku && i < s->nitems; i++)
        if (strcmp(s->items[i].sku, in->sku) == 0)
            idx = i;
    if (idx < 0) {
        no->field = "sku";
        snprintf(no->message, sizeof(no->message), "this session does not sell %s", in->sku ? in->sku : "(none)");
        return no->err = MER_E_VALIDATION;
    }
    fs_item_t *it = &s->items[idx];
    int64_t now = in->now;
    if (now < s->starts_at) {
        char local[40];
        mer_tz_format(s->starts_at, mer_country_find(mer_countries(), sale->country, 2)->timezone, local);
        return no_grab(no, s, FS_R_NOT_STARTED, MER_E_NOT_STARTED, "the session starts at %s", local);
    }
    if (now >= s->ends_at)
        return no_grab(no, s, FS_R_ENDED, MER_E_SALE_ENDED, "the session has ended");
    if (s->mode != FS_DRAW && atomic_load_explicit(&it->sold_out, memory_order_relaxed))
        return no_grab(no, s, FS_R_SOLD_OUT, MER_E_SOLD_OUT, "%s is sold out in this session", it->sku);
    if (s->reservation_required && !mer_smap_get(&s->reservations, in->user_id))
        return no_grab(no, s, FS_R_NOT_RESERVED, MER_E_NOT_RESERVED, "this session is only for customers who reserved");
    int err = rules_check(sale, s, in, no);
    if (err)
        return err;
    const fs_rules_t *ru = &sale->rules;
    if (ru->pow_bits > 0 && !proof_ok(in, ru->pow_bits))
        return no_grab(no, s, FS_R_CHALLENGE, MER_E_BLOCKED,
                       "solve GET /api/v1/flash-sales/%lld/challenge (%d bits) and send the proof", (long long)sale->id,
                       ru->pow_bits);
    const fs_buyer_t *b = &in->buyer;
    /* one per phone needs a phone to count: without one, any number of accounts would each win */
    if (ru->one_per_phone && b->phone == 0 && b->address_phone == 0)
        return no_grab(no, s, FS_R_PHONE_REQUIRED, MER_E_BLOCKED,
                       "this sale sells one unit per phone number: add a phone number to your account or your "
                       "default address first");
    if (it->shared) {
        /* shared mode: the counts and the unit are taken together in Redis (shared.c); a unit of the local
         * allotment, when there is one, saves a refill */
        out->shared = true;
        out->local_unit = fs_take_unit(it);
        out->token = new_token(s, idx, b, now);
        return 0;
    }
    if (fs_entries_shared(s)) {
        /* several nodes: the counts and the ticket's number come from Redis (fs_shared_enter) */
        fs_ticket_t *k = out->ticket = mer_xcalloc(1, sizeof(*k));
        k->buyer = *b;
        k->item = idx;
        out->shared = true;
        return 0;
    }
    /* identity limits, then the buyer's limit (one ticket per buyer in queue and draw), then a unit */
    fs_reason_t why;
    if (!fs_take_buyer(s, b, s->mode == FS_FCFS ? s->per_user_limit : 1, &why))
        return count_full(no, s, why);
    if (s->mode != FS_FCFS) {
        fs_ticket_t *k = out->ticket = mer_xcalloc(1, sizeof(*k));
        k->buyer = *b;
        k->item = idx;
        k->seq = fs_ticket_number(s); /* arrival order */
        return 0;
    }
    if (!fs_take_unit(it)) {
        fs_release_buyer(s, b);
        return no_grab(no, s, FS_R_SOLD_OUT, MER_E_SOLD_OUT, "%s is sold out in this session", it->sku);
    }
    out->token = new_token(s, idx, b, now);
    return 0;
}

/* Records an fcfs win through the sale's writer, answering after the commit. */
static void record_win(mer_req_t *r, fs_sale_t *sale, fs_session_t *s, fs_token_t *t)
{
    grab_job_t *j = fs_call_new(r, sizeof(*j), grab_settle, grab_reply);
    j->s = s;
    j->t = t;
    j->country = mer_country_find(mer_countries(), sale->country, 2);
    mer_call_write(&j->f.c, sale->region, grab_run);
}

/* ---- the shared step (serve --redis): the unit and the buyer's counts, taken in Redis off the loop ---- */

typedef struct shared_job {
    fs_shared_grab_t g;
    mer_req_t *r;
    fs_sale_t *sale;
    fs_token_t *t;
} shared_job_t;

static void reply_unavailable(mer_req_t *r)
{
    mer_reply_header(r, "retry-after", "1");
    mer_reply_error(r, MER_E_UNAVAILABLE, NULL, "the flash sale's shared stock does not answer right now; try again");
}

/* On the loop again: a win goes on to its durable row; anything else is answered here. */
static void shared_done(fs_shared_grab_t *g)
{
    shared_job_t *j = MER_CONTAINER_OF(g, shared_job_t, g);
    mer_req_t *r = j->r;
    fs_session_t *s = g->s;
    fs_refusal_t no = {.reason = -1};
    if (g->status == FS_SHARED_WON) {
        /* recorded even when the client went away: the unit is sold; the token expires and restocks */
        record_win(r, j->sale, s, j->t);
    } else {
        free(j->t);
        if (r->gone) {
            /* nobody to answer */
        } else if (g->status == FS_SHARED_REFUSED) {
            count_full(&no, s, g->why);
            reply_refusal(r, &no);
        } else if (g->status == FS_SHARED_SOLD_OUT) {
            refuse(r, s, FS_R_SOLD_OUT, MER_E_SOLD_OUT, "%s is sold out in this session", s->items[g->item].sku);
        } else {
            reply_unavailable(r);
        }
    }
    mer_req_release(r);
    free(j);
}

static void shared_step(mer_req_t *r, fs_sale_t *sale, fs_session_t *s, const fs_grab_t *out)
{
    shared_job_t *j = mer_xcalloc(1, sizeof(*j));
    fs_token_t *t = out->token;
    j->g = (fs_shared_grab_t){
        .s = s, .item = t->item, .buyer = t->buyer, .local_unit = out->local_unit, .done = shared_done};
    snprintf(j->g.token, sizeof(j->g.token), "%s", t->token);
    j->r = r;
    j->sale = sale;
    j->t = t;
    mer_req_hold(r);
    if (fs_shared_grab(&j->g) != 0) {
        /* Redis is known to be down: nothing was asked of it, so the local unit simply goes back */
        if (out->local_unit)
            fs_return_unit(&s->items[t->item]);
        free(t);
        free(j);
        reply_unavailable(r);
        mer_req_release(r);
    }
}

/* ---- a queue or draw entry on several nodes: its number and counts from Redis first, then its row ---- */

typedef struct entry_job {
    fs_shared_entry_t e;
    mer_req_t *r;
    fs_sale_t *sale;
    fs_ticket_t *ticket;
} entry_job_t;

static void write_entry(mer_req_t *r, fs_sale_t *sale, fs_session_t *s, fs_ticket_t *k)
{
    grab_job_t *j = fs_call_new(r, sizeof(*j), entry_settle, entry_reply);
    j->s = s;
    j->ticket = k;
    mer_call_write(&j->f.c, sale->region, entry_run);
}

static void shared_entry_done(fs_shared_entry_t *e)
{
    entry_job_t *j = MER_CONTAINER_OF(e, entry_job_t, e);
    mer_req_t *r = j->r;
    fs_refusal_t no = {.reason = -1};
    if (e->status == FS_SHARED_WON) {
        /* written even when the client went away: the number is taken (a void number would only wait) */
        j->ticket->seq = e->seq;
        fs_ticket_seen(e->s, e->seq);
        write_entry(r, j->sale, e->s, j->ticket);
    } else {
        free(j->ticket);
        if (r->gone) {
            /* nobody to answer */
        } else if (e->status == FS_SHARED_REFUSED) {
            count_full(&no, e->s, e->why);
            reply_refusal(r, &no);
        } else {
            reply_unavailable(r);
        }
    }
    mer_req_release(r);
    free(j);
}

static void shared_entry(mer_req_t *r, fs_sale_t *sale, fs_session_t *s, fs_ticket_t *k)
{
    entry_job_t *j = mer_xcalloc(1, sizeof(*j));
    j->e = (fs_shared_entry_t){.s = s, .buyer = k->buyer, .done = shared_entry_done};
    j->r = r;
    j->sale = sale;
    j->ticket = k;
    mer_req_hold(r);
    if (fs_shared_enter(&j->e) != 0) {
        free(k);
        free(j);
        reply_unavailable(r);
        mer_req_release(r);
    }
}

static void h_grab(mer_req_t *r)
{
    fs_sale_t *sale = NULL;
    fs_session_t *s = pick_session(r, &sale);
    if (s == NULL)
        return;
    check_rate_class(r);
    fs_grab_in_t in;
    fs_grab_t out;
    fs_refusal_t no;
    grab_in(r, sale, &in);
    if (fs_grab(sale, s, &in, &out, &no) != 0) {
        reply_refusal(r, &no);
        return;
    }
    if (out.ticket && out.shared) {
        shared_entry(r, sale, s, out.ticket);
        return;
    }
    if (out.ticket) {
        write_entry(r, sale, s, out.ticket);
        return;
    }
    if (out.shared) {
        shared_step(r, sale, s, &out);
        return;
    }
    record_win(r, sale, s, out.token);
}

/* GET /flash-sales/{id}/queue/{voucher}: q<session>-<seq> (queue) or d<session>-<seq> (draw) */
static void h_queue(mer_req_t *r)
{
    int64_t id;
    if (!customer_only(r) || mer_req_param_id(r, 0, &id) != 0)
        return;
    fs_sale_t *sale = fs_sale_find(id);
    char v[64];
    long long sid = 0, seq = 0;
    char kind = 0;
    snprintf(v, sizeof(v), "%.*s", (int)MER_MIN(r->params[1].len, 60), r->params[1].base);
    if (sale == NULL || sscanf(v, "%c%lld-%lld", &kind, &sid, &seq) != 3 || (kind != 'q' && kind != 'd')) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no such voucher");
        return;
    }
    fs_session_t *s = fs_session_find(sale, sid);
    fs_ticket_t *t = NULL;
    if (s && seq >= 1) {
        pthread_mutex_lock(&s->tickets_mu);
        if ((size_t)seq <= s->ntickets && s->tickets[seq - 1] && s->tickets[seq - 1]->buyer.user_id == r->who.id &&
            atomic_load(&s->tickets[seq - 1]->state) != FS_TICKET_VOID)
            t = s->tickets[seq - 1];
        pthread_mutex_unlock(&s->tickets_mu);
    }
    if (t == NULL) {
        mer_reply_error(r, MER_E_NOT_FOUND, NULL, "no such voucher for you");
        return;
    }
    int st = atomic_load(&t->state);
    if (st == FS_TICKET_PENDING) {
        json_t *o = json_pack("{s:s,s:s}", "status", "pending", "voucher", v);
        if (kind == 'q')
            json_object_set_new(o, "position", json_integer(seq - atomic_load(&s->processed)));
        mer_reply_json(r, 200, o);
    } else if (st == FS_TICKET_WON) {
        fs_token_t *tok = fs_token_get(t->token);
        char ts[32];
        mer_format_utc_ms(tok ? tok->expires_at : 0, ts);
        mer_reply_json(r, 200,
                       json_pack("{s:s,s:s,s:s,s:s,s:s}", "status", "won", "voucher", v, "token", t->token, "sku",
                                 s->items[t->item].sku, "expires_at", ts));
    } else {
        mer_reply_json(
            r, 200, json_pack("{s:s,s:s,s:s}", "status", "lost", "voucher", v, "reason", fs_reason_names[t->reason]));
    }
}

static const mer_route_t routes[] = {
    {"GET", "/api/v1/flash-sales", h_list, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/flash-sales/{id}", h_get, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"POST", "/api/v1/flash-sales/{id}/grab", h_grab, MER_AUTH_USER, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_FLASH},
    {"POST", "/api/v1/flash-sales/{id}/reservations", h_reserve, MER_AUTH_USER, MER_ROUTE_JSON_BODY, MER_IDEM_NONE,
     MER_RATE_FLASH},
    {"GET", "/api/v1/flash-sales/{id}/challenge", h_challenge, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/api/v1/flash-sales/{id}/queue/{voucher}", h_queue, MER_AUTH_USER, 0, MER_IDEM_NONE, MER_RATE_NONE},
};

const mer_routes_t fs_grab_routes = {routes, MER_ARRAY_LEN(routes)};

void fs_grab_init(void)
{
    randombytes_buf(pow_key, sizeof(pow_key));
    mer_smap_init(&pow_seen);
}
