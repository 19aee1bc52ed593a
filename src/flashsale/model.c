/*
 * model.c — the in-memory model of flash sales, and rebuilding it from the region databases.
 */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog/catalog.h"
#include "core/log.h"
#include "flashsale/flash_int.h"
#include "store/store.h"
#include "core/banned.h"

const char *const fs_reason_names[FS_R__COUNT] = {
#define FS_REASON_NAME(name, text) text,
    FS_REASONS(FS_REASON_NAME)
#undef FS_REASON_NAME
};

const char *const fs_mode_names[3] = {"fcfs", "queue", "draw"};

int fs_mode_parse(const char *text)
{
    for (int m = 0; m < (int)MER_ARRAY_LEN(fs_mode_names); m++)
        if (strcmp(text, fs_mode_names[m]) == 0)
            return m;
    return -1;
}

static _Atomic(fs_registry_t *) registry;
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static mer_smap_t tokens; /* hash of token -> fs_token_t * */

const fs_registry_t *fs_registry(void)
{
    fs_registry_t *r = atomic_load_explicit(&registry, memory_order_acquire);
    static const fs_registry_t empty = {NULL, 0, NULL};
    return r ? r : &empty;
}

fs_sale_t *fs_sale_find(int64_t id)
{
    const fs_registry_t *r = fs_registry();
    for (size_t i = 0; i < r->n; i++)
        if (r->sales[i]->id == id)
            return r->sales[i];
    return NULL;
}

fs_session_t *fs_session_find(fs_sale_t *sale, int64_t session_id)
{
    for (int i = 0; sale && i < sale->nsessions; i++)
        if (sale->sessions[i]->id == session_id)
            return sale->sessions[i];
    return NULL;
}

int fs_item_index(const fs_session_t *s, int64_t sku_id)
{
    for (int i = 0; i < s->nitems; i++)
        if (s->items[i].sku_id == sku_id)
            return i;
    return -1;
}

void fs_registry_add(fs_sale_t *sale)
{
    pthread_mutex_lock(&registry_mu);
    fs_registry_t *old = atomic_load(&registry);
    fs_registry_t *r = mer_xcalloc(1, sizeof(*r));
    r->n = old ? old->n + 1 : 1;
    r->sales = mer_xcalloc(r->n, sizeof(*r->sales));
    if (old)
        memcpy(r->sales, old->sales, old->n * sizeof(*r->sales));
    r->sales[r->n - 1] = sale;
    r->prev = old;
    atomic_store_explicit(&registry, r, memory_order_release);
    /* the old array may still be read by another thread: it is kept (sales are created rarely) */
    pthread_mutex_unlock(&registry_mu);
    fs_bump();
}

void fs_count_refusal(fs_session_t *s, fs_reason_t r)
{
    atomic_fetch_add_explicit(&s->refusals[r], 1, memory_order_relaxed);
}

int fs_session_state(fs_session_t *s, int64_t now)
{
    if (now < s->starts_at)
        return 0;
    if (now >= s->ends_at)
        return 3;
    bool all_out = s->mode != FS_DRAW;
    for (int i = 0; i < s->nitems && all_out; i++)
        all_out = atomic_load_explicit(&s->items[i].sold_out, memory_order_relaxed) != 0;
    return all_out ? 2 : 1;
}

/* Publishes progress in whole percent; a change retires cached activity answers. */
void fs_progress(fs_session_t *s)
{
    int64_t total = 0, gone = 0;
    for (int i = 0; i < s->nitems; i++) {
        total += s->items[i].units;
        gone += s->items[i].units - fs_item_remaining(&s->items[i]);
    }
    int p = total ? (int)(gone * 100 / total) : 0;
    if (atomic_exchange_explicit(&s->progress, p, memory_order_relaxed) != p)
        fs_bump();
}

static int64_t token_key(const char *token)
{
    return (int64_t)(mer_hash64(token, strlen(token)) >> 1); /* positive and never 0 */
}

void fs_token_put(fs_token_t *t)
{
    mer_smap_set(&tokens, token_key(t->token), (int64_t)(intptr_t)t);
}

fs_token_t *fs_token_get(const char *token)
{
    fs_token_t *t = (fs_token_t *)(intptr_t)mer_smap_get(&tokens, token_key(token));
    return t && strcmp(t->token, token) == 0 ? t : NULL;
}

fs_token_t *fs_token_learn(mer_db_t *db, const char *token)
{
    fs_token_t *t = fs_token_get(token);
    if (t || db == NULL || strlen(token) != FS_TOKEN_LEN)
        return t;
    mer_rows_t *r = mer_db_query(
        db, "SELECT session_id, sku_id, expires_at, state, " FS_BUYER_COLUMNS " FROM flash_token WHERE token = ?", "s",
        token);
    if (mer_rows_next(r)) {
        const fs_registry_t *reg = fs_registry();
        fs_session_t *s = NULL;
        for (size_t i = 0; i < reg->n && s == NULL; i++)
            s = fs_session_find(reg->sales[i], mer_rows_int(r, 0));
        int idx = s ? fs_item_index(s, mer_rows_int(r, 1)) : -1;
        const char *st = mer_rows_text(r, 3);
        if (idx >= 0) {
            t = mer_xcalloc(1, sizeof(*t));
            snprintf(t->token, sizeof(t->token), "%s", token);
            t->session = s;
            t->item = idx;
            t->expires_at = mer_rows_int(r, 2);
            t->buyer = fs_buyer_read(r, 4);
            t->foreign = true;
            /* another node's token: its unit is accounted for in Redis (shared) or in that node's memory */
            atomic_store(&t->state, strcmp(st, "issued") == 0     ? FS_TOKEN_ISSUED
                                    : strcmp(st, "consumed") == 0 ? FS_TOKEN_USED
                                                                  : FS_TOKEN_GONE);
        }
    }
    mer_rows_end(r);
    if (t == NULL)
        return NULL;
    /* insert if absent (adding v stays <= v only while the slot is 0); a concurrent learner may have won */
    int64_t v = (int64_t)(intptr_t)t;
    if (mer_smap_add_upto(&tokens, token_key(token), v, v) == v)
        return t;
    free(t);
    return fs_token_get(token);
}

/* Per-thread ChaCha20 keystream: random bytes without a system call each (tokens are made on hot paths). */
static _Thread_local unsigned char rng_key[crypto_stream_chacha20_KEYBYTES];
static _Thread_local uint64_t rng_nonce;
static _Thread_local bool rng_ready;

void fs_random(void *buf, size_t n)
{
    if (!rng_ready) {
        randombytes_buf(rng_key, sizeof(rng_key));
        rng_ready = true;
    }
    unsigned char nonce[crypto_stream_chacha20_NONCEBYTES];
    uint64_t ctr = ++rng_nonce;
    memcpy(nonce, &ctr, sizeof(nonce) < sizeof(ctr) ? sizeof(nonce) : sizeof(ctr));
    crypto_stream_chacha20((unsigned char *)buf, n, nonce, rng_key);
}

void fs_new_token(char out[FS_TOKEN_LEN + 1])
{
    unsigned char raw[16];
    fs_random(raw, sizeof(raw));
    memcpy(out, "ft_", 3);
    sodium_bin2hex(out + 3, 33, raw, sizeof(raw));
}

int fs_store_token(mer_db_t *db, const fs_token_t *t)
{
    const fs_item_t *it = &t->session->items[t->item];
    if (mer_db_exec(db,
                    "INSERT INTO flash_token (token, session_id, sku_id, price, expires_at, " FS_BUYER_COLUMNS
                    ", created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    "siiiiiiiiii", t->token, t->session->id, it->sku_id, it->price, t->expires_at, t->buyer.user_id,
                    (int64_t)t->buyer.phone, (int64_t)t->buyer.address, (int64_t)t->buyer.device,
                    (int64_t)t->buyer.address_phone, mer_now_unix_ms()) < 0)
        return MER_E_INTERNAL;
    /* shared mode: the fence (shared.c, "fencing"). 0 rows: another node voided this win after this node's
     * lease ran out (it was frozen), and gave its unit back: the win must not be recorded */
    if (it->shared) {
        int n = mer_db_exec(db,
                            "INSERT INTO flash_fence (token, state, created_at) VALUES (?, 'won', ?) "
                            "ON CONFLICT (token) DO NOTHING",
                            "si", t->token, mer_now_unix_ms());
        if (n < 0)
            return MER_E_INTERNAL;
        if (n == 0) {
            mer_log_warn("flash win %.8s... was given back by another node while this one stood still: not recorded",
                         t->token);
            return MER_E_CONFLICT;
        }
    }
    return 0;
}

/* ---- loading ---- */

int fs_ip_canonical(const char *in, char out[64])
{
    unsigned char a[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, in, a) == 1)
        return inet_ntop(AF_INET, a, out, 64) ? 0 : -1;
    if (inet_pton(AF_INET6, in, a) != 1)
        return -1;
    if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a))
        return inet_ntop(AF_INET, a + 12, out, 64) ? 0 : -1;
    return inet_ntop(AF_INET6, a, out, 64) ? 0 : -1;
}

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_ip(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* 1e9 / per_second: GCRA in nanoseconds (see the top of flash_int.h). */
static void parse_rate(json_t *rate, int64_t *interval_ns, int64_t *burst)
{
    int64_t per_second = json_integer_value(json_object_get(rate, "per_second"));
    if (!json_is_object(rate) || per_second <= 0)
        return;
    int64_t burst_in = json_integer_value(json_object_get(rate, "burst"));
    *interval_ns = MER_MAX(INT64_C(1000000000) / per_second, 1);
    *burst = MER_MIN(MER_MAX(burst_in, 1), 100000); /* the admin bound; keeps interval * burst far from overflow */
}

/*
 * The stored rules were checked by admin create; rows written before those checks may hold odd entries,
 * which are dropped here (a blocklist entry that is not an id or an address never matched anyone).
 */
static void parse_rules(json_t *j, fs_rules_t *r)
{
    memset(r, 0, sizeof(*r));
    r->min_account_age_ms = json_integer_value(json_object_get(j, "min_account_age_days")) * 86400000;
    r->one_per_phone = json_is_true(json_object_get(j, "one_per_phone"));
    r->one_per_address = json_is_true(json_object_get(j, "one_per_address"));
    r->one_per_device = json_is_true(json_object_get(j, "one_per_device"));
    parse_rate(json_object_get(j, "user_rate"), &r->user_interval_ns, &r->user_burst);
    parse_rate(json_object_get(j, "ip_rate"), &r->ip_interval_ns, &r->ip_burst);
    r->pow_bits = (int)json_integer_value(json_object_get(j, "pow_bits"));
    json_t *bl = json_object_get(j, "blocklist");
    json_t *users = json_object_get(bl, "users"), *ips = json_object_get(bl, "ips");
    if (json_array_size(users)) {
        r->blocked_users = mer_xcalloc(json_array_size(users), sizeof(int64_t));
        for (size_t i = 0; i < json_array_size(users); i++)
            if (json_integer_value(json_array_get(users, i)) > 0)
                r->blocked_users[r->nblocked_users++] = json_integer_value(json_array_get(users, i));
        qsort(r->blocked_users, r->nblocked_users, sizeof(int64_t), cmp_int64);
    }
    if (json_array_size(ips)) {
        r->blocked_ips = mer_xcalloc(json_array_size(ips), 64);
        for (size_t i = 0; i < json_array_size(ips); i++) {
            const char *ip = json_string_value(json_array_get(ips, i));
            if (ip && fs_ip_canonical(ip, r->blocked_ips[r->nblocked_ips]) == 0)
                r->nblocked_ips++;
        }
        qsort(r->blocked_ips, r->nblocked_ips, 64, cmp_ip);
    }
}

fs_sale_t *fs_sale_build(int64_t id, const char *country, const char *region, json_t *titles, json_t *rules)
{
    fs_sale_t *s = mer_xcalloc(1, sizeof(*s));
    s->id = id;
    snprintf(s->country, sizeof(s->country), "%s", country);
    snprintf(s->region, sizeof(s->region), "%s", region);
    s->titles = json_incref(titles);
    parse_rules(rules, &s->rules);
    return s;
}

fs_session_t *fs_session_new(fs_sale_t *sale)
{
    fs_session_t *s = mer_xcalloc(1, sizeof(*s));
    s->sale = sale;
    mer_smap_init(&s->reservations);
    mer_smap_init(&s->buyers);
    mer_smap_init(&s->phones);
    mer_smap_init(&s->addresses);
    mer_smap_init(&s->devices);
    pthread_mutex_init(&s->tickets_mu, NULL);
    return s;
}

void fs_session_commit_seed(fs_session_t *s, const char *seed_hex)
{
    unsigned char seed[32], h[32];
    size_t sl = 0;
    sodium_hex2bin(seed, sizeof(seed), seed_hex, strlen(seed_hex), NULL, &sl, NULL);
    crypto_hash_sha256(h, seed, sl);
    sodium_bin2hex(s->seed_commitment, sizeof(s->seed_commitment), h, sizeof(h));
}

/* ---- ids ----
 *
 * Every region database numbers its own rows, but a sale is looked up by its id alone (the public paths,
 * the admin stats, vouchers, metrics). So ids are given out by the catalogue, one id space for every
 * region (flash_sale_id, flash_session_id; AUTOINCREMENT never gives an id twice), and the region
 * database stores the sale under them. An id that was given out but whose sale was never written (a
 * failed write, kill -9 in between) is a harmless gap.
 *
 * Sales written before the catalogue gave out ids were numbered by their region database: at start-up
 * every loaded id is claimed in the catalogue (which also moves the catalogue's counter past it). A sale
 * id already claimed by another region is given a new id (the old one named two sales, and answered with
 * the first); a session id claimed by another sale keeps its number (tickets and vouchers name it) and is
 * still found only through its own sale, as every use of a session id names the sale too.
 */

/* Claims a loaded sale's id in the catalogue; *taken is set when another region holds it. */
static int claim_sale_id(mer_db_t *cat, const char *region, int64_t id, bool *taken)
{
    if (mer_db_exec(cat,
                    "INSERT INTO flash_sale_id (id, region, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    "isi", id, region, mer_now_unix_ms()) < 0)
        return MER_E_INTERNAL;
    mer_rows_t *r = mer_db_query(cat, "SELECT region FROM flash_sale_id WHERE id = ?", "i", id);
    *taken = mer_rows_next(r) && strcmp(mer_rows_text(r, 0), region) != 0;
    return mer_rows_end(r);
}

/* Moves a sale that was numbered by its region database to a new id of the catalogue's. */
static int renumber_sale(mer_db_t *db, mer_db_t *cat, const char *region, int64_t old_id, int64_t *new_id)
{
    int err = mer_db_query_int(cat, new_id, "INSERT INTO flash_sale_id (region, created_at) VALUES (?, ?) RETURNING id",
                               "si", region, mer_now_unix_ms());
    if (err == 0 && (err = mer_db_begin(db)) == 0) {
        if (mer_db_exec(db,
                        "INSERT INTO flash_sale (id, country, titles, rules, created_at) SELECT ?, country, titles, "
                        "rules, created_at FROM flash_sale WHERE id = ?",
                        "ii", *new_id, old_id) < 0 ||
            mer_db_exec(db, "UPDATE flash_session SET sale_id = ? WHERE sale_id = ?", "ii", *new_id, old_id) < 0 ||
            mer_db_exec(db, "DELETE FROM flash_sale WHERE id = ?", "i", old_id) < 0) {
            mer_db_rollback(db);
            return MER_E_INTERNAL;
        }
        err = mer_db_commit(db);
    }
    return err;
}

/* Claims the ids of the region's sales and sessions (see "ids" above); runs before they are loaded. */
static int claim_ids(mer_db_t *db, const char *region)
{
    int64_t ids[256], n = 0;
    mer_rows_t *r = mer_db_query(db, "SELECT id FROM flash_sale ORDER BY id", NULL);
    while (mer_rows_next(r) && n < (int64_t)MER_ARRAY_LEN(ids))
        ids[n++] = mer_rows_int(r, 0);
    int err = mer_rows_end(r);
    mer_db_t *cat = mer_store_job_begin(MER_STORE_CATALOG); /* ids are given out at the hub (store.h) */
    for (int64_t i = 0; err == 0 && i < n; i++) {
        bool taken = false;
        int64_t id = ids[i];
        if ((err = claim_sale_id(cat, region, id, &taken)) == 0 && taken &&
            (err = renumber_sale(db, cat, region, ids[i], &id)) == 0)
            mer_log_warn("region %s: flash sale %lld clashed with another region's and is now sale %lld", region,
                         (long long)ids[i], (long long)id);
        r = mer_db_query(db, "SELECT id FROM flash_session WHERE sale_id = ? ORDER BY id", "i", id);
        while (err == 0 && mer_rows_next(r)) {
            int64_t sid = mer_rows_int(r, 0), owner = 0;
            if (mer_db_exec(cat,
                            "INSERT INTO flash_session_id (id, sale_id, created_at) VALUES (?, ?, ?) "
                            "ON CONFLICT (id) DO NOTHING",
                            "iii", sid, id, mer_now_unix_ms()) < 0 ||
                mer_db_query_int(cat, &owner, "SELECT sale_id FROM flash_session_id WHERE id = ?", "i", sid) != 0)
                err = MER_E_INTERNAL;
            else if (owner != id)
                mer_log_warn("region %s: flash sale %lld's session %lld has the number of a session of sale %lld; "
                             "it is reached through its own sale",
                             region, (long long)id, (long long)sid, (long long)owner);
        }
        err = err ? err : mer_rows_end(r);
    }
    mer_store_write_end(MER_STORE_CATALOG);
    return err;
}

/* The loaded session with this id in this region's sales, or NULL. */
static fs_session_t *session_of(fs_sale_t *const *sales, size_t nsales, int64_t session_id)
{
    fs_session_t *s = NULL;
    for (size_t i = 0; i < nsales && s == NULL; i++)
        s = fs_session_find(sales[i], session_id);
    return s;
}

fs_buyer_t fs_buyer_read(mer_rows_t *r, int col)
{
    return (fs_buyer_t){mer_rows_int(r, col), (uint64_t)mer_rows_int(r, col + 1), (uint64_t)mer_rows_int(r, col + 2),
                        (uint64_t)mer_rows_int(r, col + 3), (uint64_t)mer_rows_int(r, col + 4)};
}

/*
 * Loads the region's sales that are not in memory yet, with their reservations, tokens and entries, and
 * publishes them. db: the region's writer at start-up (fs_load_region), or a read connection when a sale
 * created on another node is learnt while serving (fs_load_new: late). Serialised by load_mu, so a sale is
 * never published twice.
 */
static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;
static int load_sales(mer_db_t *db, const char *region, bool late);

void fs_load_lock(void)
{
    pthread_mutex_lock(&load_mu);
}

void fs_load_unlock(void)
{
    pthread_mutex_unlock(&load_mu);
}

int fs_load_region(const char *region)
{
    mer_db_t *db = mer_store_write_begin(region);
    if (db == NULL)
        return MER_E_INTERNAL;
    int err = claim_ids(db, region);
    if (err == 0)
        err = load_sales(db, region, false);
    mer_store_write_end(region);
    return err;
}

int fs_load_new(const char *region)
{
    mer_db_t *db = mer_store_reader(region);
    return db ? load_sales(db, region, true) : MER_E_INTERNAL;
}

/* The session with this id among the sales in memory, or NULL. */
static fs_session_t *session_any(int64_t session_id)
{
    const fs_registry_t *reg = fs_registry();
    fs_session_t *s = NULL;
    for (size_t i = 0; i < reg->n && s == NULL; i++)
        s = fs_session_find(reg->sales[i], session_id);
    return s;
}

void fs_reservation_learn(int64_t session_id, int64_t user_id)
{
    fs_session_t *s = session_any(session_id);
    if (s && user_id > 0)
        mer_smap_set(&s->reservations, user_id, 1);
}

int fs_load_reservations(const char *region)
{
    mer_db_t *db = mer_store_reader(region);
    if (db == NULL)
        return MER_E_INTERNAL;
    mer_rows_t *r = mer_db_query(db, "SELECT session_id, user_id FROM flash_reservation", NULL);
    while (mer_rows_next(r))
        fs_reservation_learn(mer_rows_int(r, 0), mer_rows_int(r, 1));
    return mer_rows_end(r);
}

int fs_entries_learn(fs_session_t *s, int64_t from, int64_t to)
{
    mer_db_t *db = mer_store_reader(s->sale->region);
    if (db == NULL)
        return MER_E_INTERNAL;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT e.seq, e.sku_id, e.won, COALESCE(t.token, ''), e.user_id, e.phone_hash, "
                                 "e.address_hash, e.device_hash, e.address_phone_hash FROM flash_entry e LEFT JOIN "
                                 "flash_token t ON e.won = 1 AND t.session_id = e.session_id AND t.user_id = e.user_id "
                                 "WHERE e.session_id = ? AND e.seq >= ? AND e.seq <= ? ORDER BY e.seq",
                                 "iii", s->id, from, to);
    while (mer_rows_next(r)) {
        int64_t seq = mer_rows_int(r, 0), won = mer_rows_int(r, 2);
        int idx = fs_item_index(s, mer_rows_int(r, 1));
        if (idx < 0 || seq < 1)
            continue;
        fs_ticket_seen(s, seq);
        fs_ticket_t *k = mer_xcalloc(1, sizeof(*k));
        k->seq = seq;
        k->item = idx;
        k->buyer = fs_buyer_read(r, 4);
        k = fs_ticket_adopt(s, k);
        int was = atomic_load(&k->state);
        if (won == 1 && was == FS_TICKET_PENDING && mer_rows_text(r, 3)[0]) {
            snprintf(k->token, sizeof(k->token), "%s", mer_rows_text(r, 3));
            atomic_store(&k->state, FS_TICKET_WON); /* after the token: a reader that sees won reads it */
        } else if (won == 2 && was == FS_TICKET_PENDING) {
            k->reason = mer_now_unix_ms() >= s->ends_at && s->mode == FS_QUEUE ? FS_R_ENDED : FS_R_SOLD_OUT;
            atomic_store(&k->state, FS_TICKET_LOST);
        }
    }
    int err = mer_rows_end(r);
    /* the winners' tokens, so that their expiry is known here (a token is also read when it checks out) */
    pthread_mutex_lock(&s->tickets_mu);
    size_t n = s->ntickets;
    pthread_mutex_unlock(&s->tickets_mu);
    for (size_t i = (size_t)MER_MAX(from, 1) - 1; err == 0 && i < n && (int64_t)i < to; i++) {
        pthread_mutex_lock(&s->tickets_mu);
        fs_ticket_t *k = s->tickets[i];
        pthread_mutex_unlock(&s->tickets_mu);
        if (k && atomic_load(&k->state) == FS_TICKET_WON && k->token[0])
            fs_token_learn(db, k->token);
    }
    fs_bump();
    return err;
}

int fs_queue_learn(fs_session_t *s)
{
    mer_db_t *db = mer_store_reader(s->sale->region);
    int64_t done = 0, had = atomic_load(&s->processed);
    if (db == NULL || mer_db_query_int(db, &done, "SELECT processed FROM flash_session WHERE id = ?", "i", s->id) != 0)
        return MER_E_INTERNAL;
    if (done <= had)
        return 0;
    int err = fs_entries_learn(s, had + 1, done);
    if (err == 0) {
        int64_t cur = had;
        while (cur < done && !atomic_compare_exchange_weak(&s->processed, &cur, done))
            ;
        fs_progress(s);
    }
    return err;
}

void fs_entries_resync(const char *region)
{
    const fs_registry_t *reg = fs_registry();
    for (size_t i = 0; i < reg->n; i++)
        for (int k = 0; strcmp(reg->sales[i]->region, region) == 0 && k < reg->sales[i]->nsessions; k++) {
            fs_session_t *s = reg->sales[i]->sessions[k];
            if (!fs_entries_shared(s))
                continue;
            fs_entries_learn(s, 1, INT64_MAX);
            if (s->mode == FS_QUEUE)
                fs_queue_learn(s);
        }
}

static int load_sales(mer_db_t *db, const char *region, bool late)
{
    pthread_mutex_lock(&load_mu);
    int err = 0;
    size_t nsales = 0;
    fs_sale_t *sales[256];
    mer_rows_t *r = mer_db_query(db, "SELECT id, country, titles, rules FROM flash_sale ORDER BY id", NULL);
    while (mer_rows_next(r) && nsales < MER_ARRAY_LEN(sales)) {
        if (fs_sale_find(mer_rows_int(r, 0)))
            continue; /* in memory already (created here, or learnt before) */
        json_t *titles = json_loads(mer_rows_text(r, 2), 0, NULL), *rules = json_loads(mer_rows_text(r, 3), 0, NULL);
        sales[nsales++] = fs_sale_build(mer_rows_int(r, 0), mer_rows_text(r, 1), region, titles, rules);
        json_decref(titles);
        json_decref(rules);
    }
    err = mer_rows_end(r);
    for (size_t i = 0; err == 0 && i < nsales; i++) {
        fs_sale_t *sale = sales[i];
        r = mer_db_query(db,
                         "SELECT id, starts_at, ends_at, mode, reservation_required, reservation_opens_at, "
                         "reservation_closes_at, token_ttl_ms, cod_allowed, per_user_limit, seed, "
                         "COALESCE(drawn_at, 0) FROM flash_session WHERE sale_id = ? ORDER BY id",
                         "i", sale->id);
        while (mer_rows_next(r) && sale->nsessions < FS_MAX_SESSIONS) {
            fs_session_t *s = fs_session_new(sale);
            s->id = mer_rows_int(r, 0);
            s->starts_at = mer_rows_int(r, 1);
            s->ends_at = mer_rows_int(r, 2);
            int mode = fs_mode_parse(mer_rows_text(r, 3));
            s->mode = mode < 0 ? FS_FCFS : (fs_mode_t)mode;
            s->reservation_required = mer_rows_int(r, 4) != 0;
            s->res_opens_at = mer_rows_int(r, 5);
            s->res_closes_at = mer_rows_int(r, 6);
            s->token_ttl_ms = mer_rows_int(r, 7);
            s->cod_allowed = mer_rows_int(r, 8) != 0;
            s->per_user_limit = mer_rows_int(r, 9);
            /* the commitment is derived from the seed; the seed itself is shown only after the draw */
            fs_session_commit_seed(s, mer_rows_text(r, 10));
            if (mer_rows_int(r, 11)) {
                snprintf(s->seed, sizeof(s->seed), "%s", mer_rows_text(r, 10));
                atomic_store(&s->drawn, 1);
            }
            sale->sessions[sale->nsessions++] = s;
        }
        err = mer_rows_end(r);
        const mer_catalog_t *cat = mer_catalog_lock();
        for (int k = 0; err == 0 && k < sale->nsessions; k++) {
            fs_session_t *s = sale->sessions[k];
            r = mer_db_query(db, "SELECT sku_id, price, units FROM flash_item WHERE session_id = ? ORDER BY position",
                             "i", s->id);
            while (mer_rows_next(r) && s->nitems < FS_MAX_ITEMS) {
                fs_item_t *it = &s->items[s->nitems++];
                it->sku_id = mer_rows_int(r, 0);
                it->price = mer_rows_int(r, 1);
                it->units = mer_rows_int(r, 2);
                atomic_store(&it->left, it->units);
                const mer_cat_sku_t *sku = mer_catalog_sku_by_id(cat, it->sku_id);
                snprintf(it->sku, sizeof(it->sku), "%s", sku ? sku->code : "");
                it->product_id = sku ? sku->product->id : 0;
            }
            err = mer_rows_end(r);
        }
        mer_catalog_unlock();
    }
    /* reservations */
    r = mer_db_query(db, "SELECT session_id, user_id FROM flash_reservation", NULL);
    fs_session_t *cur = NULL;
    while (err == 0 && mer_rows_next(r)) {
        int64_t sid = mer_rows_int(r, 0);
        if (cur == NULL || cur->id != sid)
            cur = session_of(sales, nsales, sid);
        if (cur)
            mer_smap_set(&cur->reservations, mer_rows_int(r, 1), 1);
    }
    err = err ? err : mer_rows_end(r);
    /* outstanding and used tokens hold their units; the buyers' counts follow */
    r = mer_db_query(db,
                     "SELECT token, session_id, sku_id, expires_at, state, " FS_BUYER_COLUMNS
                     " FROM flash_token WHERE state IN ('issued', 'consumed')",
                     NULL);
    size_t ntok = 0;
    while (err == 0 && mer_rows_next(r)) {
        fs_session_t *s = session_of(sales, nsales, mer_rows_int(r, 1));
        int idx = s ? fs_item_index(s, mer_rows_int(r, 2)) : -1;
        if (idx < 0)
            continue;
        fs_token_t *t = mer_xcalloc(1, sizeof(*t));
        snprintf(t->token, sizeof(t->token), "%s", mer_rows_text(r, 0));
        t->session = s;
        t->item = idx;
        t->buyer = fs_buyer_read(r, 5);
        t->expires_at = mer_rows_int(r, 3);
        atomic_store(&t->state, strcmp(mer_rows_text(r, 4), "consumed") == 0 ? FS_TOKEN_USED : FS_TOKEN_ISSUED);
        t->foreign = late; /* another node issued it (as fs_token_learn reads one) */
        fs_token_put(t);
        atomic_fetch_sub(&s->items[idx].left, 1);
        fs_hold_buyer(s, &t->buyer);
        atomic_fetch_add(&s->wins, 1);
        ntok++;
    }
    err = err ? err : mer_rows_end(r);
    /* queue and draw entries: undecided ones hold their buyer's and identities' counts (decided winners
     * hold them through their token, losers hold none) */
    r = mer_db_query(
        db, "SELECT session_id, seq, sku_id, won, " FS_BUYER_COLUMNS " FROM flash_entry ORDER BY session_id, seq",
        NULL);
    while (err == 0 && mer_rows_next(r)) {
        fs_session_t *s = session_of(sales, nsales, mer_rows_int(r, 0));
        int idx = s ? fs_item_index(s, mer_rows_int(r, 2)) : -1;
        if (idx < 0)
            continue;
        fs_ticket_t *t = mer_xcalloc(1, sizeof(*t));
        t->seq = mer_rows_int(r, 1);
        t->item = idx;
        t->buyer = fs_buyer_read(r, 4);
        int won = (int)mer_rows_int(r, 3);
        atomic_store(&t->state, won == 1 ? FS_TICKET_WON : won == 2 ? FS_TICKET_LOST : FS_TICKET_PENDING);
        if (won == 2)
            t->reason = FS_R_SOLD_OUT;
        fs_ticket_place(s, t);
        if (t->seq > atomic_load(&s->next_seq))
            atomic_store(&s->next_seq, t->seq);
        if (won == 0)
            fs_hold_buyer(s, &t->buyer);
    }
    err = err ? err : mer_rows_end(r);
    /* a winner's ticket shows its token */
    r = mer_db_query(db,
                     "SELECT e.session_id, e.seq, t.token FROM flash_entry e JOIN flash_token t ON "
                     "t.session_id = e.session_id AND t.user_id = e.user_id WHERE e.won = 1",
                     NULL);
    while (err == 0 && mer_rows_next(r)) {
        fs_session_t *s = session_of(sales, nsales, mer_rows_int(r, 0));
        int64_t seq = mer_rows_int(r, 1);
        if (s && seq >= 1 && (size_t)seq <= s->ntickets && s->tickets[seq - 1])
            snprintf(s->tickets[seq - 1]->token, sizeof(s->tickets[seq - 1]->token), "%s", mer_rows_text(r, 2));
    }
    err = err ? err : mer_rows_end(r);
    if (err) {
        pthread_mutex_unlock(&load_mu);
        return err;
    }
    for (size_t i = 0; i < nsales; i++) {
        for (int k = 0; k < sales[i]->nsessions; k++) {
            fs_session_t *s = sales[i]->sessions[k];
            for (int n = 0; n < s->nitems; n++)
                if (atomic_load(&s->items[n].left) <= 0)
                    atomic_store(&s->items[n].sold_out, 1);
            /* numbers whose row never committed are void; the queue resumes after the leading decided run */
            int64_t done = 0;
            for (size_t n = 0; n < s->ntickets; n++) {
                if (s->tickets[n] == NULL) {
                    fs_ticket_t *v = mer_xcalloc(1, sizeof(*v));
                    v->seq = (int64_t)n + 1;
                    atomic_store(&v->state, FS_TICKET_VOID);
                    s->tickets[n] = v;
                }
                if (done == (int64_t)n && atomic_load(&s->tickets[n]->state) != FS_TICKET_PENDING)
                    done++;
            }
            if (s->mode == FS_QUEUE)
                atomic_store(&s->processed, done);
            fs_progress(s);
        }
        if (late)
            fs_shared_add(sales[i]); /* shared mode: the stock goes to Redis before any grab sees the sale */
        fs_registry_add(sales[i]);
        if (late)
            mer_log_info("flash sale %lld, created on another node, is on sale here too", (long long)sales[i]->id);
    }
    pthread_mutex_unlock(&load_mu);
    if (nsales && !late)
        mer_log_info("region %s: %zu flash sales loaded, %zu tokens outstanding or used", region, nsales, ntok);
    return 0;
}

void fs_model_init(void)
{
    mer_smap_init(&tokens);
}
