/*
 * processor.c — the flash-sale background thread:
 *
 *   queue  decides queued grabs strictly in arrival order, a batch at a time: a unit for each ticket
 *          while stock lasts (the tokens are written in one durable transaction before any ticket
 *          shows "won"), "lost" after that;
 *   draw   when a draw session has ended: every entry is ranked by SHA-256(seed || ticket), where the
 *          seed was fixed (and its SHA-256 published) when the session was created; per item, the
 *          lowest-ranked entries win up to its units. The seed, all tickets and the winners are then
 *          published on the activity, so anyone can recompute the draw;
 *   expiry tokens past their lifetime become expired;
 *   restock the units of expired tokens, and of tokens whose order was cancelled, go back to their
 *          session (which leaves sold_out), and the buyer's count is lowered.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "flashsale/flash_int.h"
#include "store/notify.h"
#include "store/store.h"
#include "store/ticker.h"
#include "store/writer.h"
#include "core/banned.h"

#define QUEUE_BATCH 1000

static mer_ticker_t proc = MER_TICKER_INIT;

void fs_processor_kick(void)
{
    mer_ticker_kick(&proc);
}

static fs_token_t *token_for(fs_session_t *s, fs_ticket_t *k, int64_t now)
{
    fs_token_t *t = mer_xcalloc(1, sizeof(*t));
    t->session = s;
    t->item = k->item;
    t->buyer = k->buyer;
    t->expires_at = now + s->token_ttl_ms;
    fs_new_token(t->token);
    return t;
}

/* ---- decisions, the queue's and the draw's ---- */

typedef struct decision {
    fs_ticket_t *k;
    fs_token_t *token; /* NULL: lost */
    fs_reason_t why;
} decision_t;

typedef struct decide_arg {
    fs_session_t *s;
    decision_t *d;
    size_t n;
} decide_arg_t;

static bool is_void(fs_ticket_t *k)
{
    return atomic_load(&k->state) == FS_TICKET_VOID;
}

/* Decides d->k: a unit and a token while stock lasts, lost otherwise (at once when ended). Returns won. */
static bool decide(fs_session_t *s, decision_t *d, int64_t now, bool ended)
{
    d->token = NULL;
    d->why = ended ? FS_R_ENDED : FS_R_SOLD_OUT;
    if (!ended && !is_void(d->k) && fs_take_unit(&s->items[d->k->item]))
        d->token = token_for(s, d->k, now);
    return d->token != NULL;
}

/* Writes a batch of decisions: the winners' tokens and every ticket's outcome, in one transaction. */
static int store_decisions(mer_db_t *db, void *arg)
{
    decide_arg_t *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        decision_t *d = &a->d[i];
        if (is_void(d->k))
            continue;
        if (d->token && fs_store_token(db, d->token) != 0)
            return MER_E_INTERNAL;
        if (mer_db_exec(db, "UPDATE flash_entry SET won = ? WHERE session_id = ? AND seq = ?", "iii",
                        (int64_t)(d->token ? 1 : 2), a->s->id, d->k->seq) < 0)
            return MER_E_INTERNAL;
    }
    return 0;
}

/* Nothing was recorded: the winners' units go back; the tickets keep their counts, to be decided again. */
static void undo_decisions(fs_session_t *s, decision_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d[i].token) {
            fs_return_unit(&s->items[d[i].token->item]);
            free(d[i].token);
        }
    }
}

/* Applies committed decisions to memory: tokens become usable, losers' counts are released. */
static void apply_decisions(fs_session_t *s, decision_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fs_ticket_t *k = d[i].k;
        if (is_void(k))
            continue;
        if (d[i].token) {
            fs_token_put(d[i].token);
            snprintf(k->token, sizeof(k->token), "%s", d[i].token->token);
            atomic_fetch_add(&s->wins, 1);
            atomic_store(&k->state, FS_TICKET_WON);
        } else {
            k->reason = d[i].why;
            fs_count_refusal(s, d[i].why);
            if (!fs_entries_shared(s))
                fs_release_buyer(s, &k->buyer);
            else if (s->mode == FS_QUEUE) /* (after a draw nobody can enter any more) */
                fs_shared_release_counts(s, &k->buyer, false);
            atomic_store(&k->state, FS_TICKET_LOST);
        }
    }
}

/* ---- queue ---- */

static void process_queue(fs_session_t *s, int64_t now)
{
    for (;;) {
        int64_t from = atomic_load(&s->processed);
        decision_t d[QUEUE_BATCH];
        size_t n = 0;
        /* strictly in arrival order: stop at the first number whose row has not committed yet */
        pthread_mutex_lock(&s->tickets_mu);
        while (n < QUEUE_BATCH && (size_t)from + n < s->ntickets && s->tickets[from + (int64_t)n])
            d[n].k = s->tickets[from + (int64_t)n], n++;
        pthread_mutex_unlock(&s->tickets_mu);
        if (n == 0)
            return;
        for (size_t i = 0; i < n; i++)
            decide(s, &d[i], now, now >= s->ends_at);
        decide_arg_t a = {s, d, n};
        if (mer_writer_run_sync(s->sale->region, store_decisions, &a) != 0) {
            /* decide these tickets again on the next pass */
            undo_decisions(s, d, n);
            mer_log_warn("flash session %lld: recording %zu queue decisions failed; will retry", (long long)s->id, n);
            return;
        }
        apply_decisions(s, d, n);
        atomic_store(&s->processed, from + (int64_t)n);
        fs_progress(s);
    }
}

/* ---- queue on several nodes ----
 * With shared entries (serve --redis) every node numbers its queue's tickets from one counter in Redis
 * and places every other node's tickets as their rows commit (their notes). The queue is decided from the
 * database, by whichever node's processor gets there first: the session's row is locked for the batch,
 * so batches of different nodes follow one another and each ticket is decided once, in number order. The
 * stock is the database's too (units minus the tokens that hold one), so it does not matter which node
 * decides. A number whose row is missing holds the queue up until its row commits; after GAP_MS the
 * deciding node voids it through the fence (flash_fence, as for wins in shared.c): the late row can then
 * never commit, and the queue moves past it.
 */

#define GAP_MS 2000

typedef struct queue_arg {
    fs_session_t *s;
    int64_t now;
    int64_t known;    /* the highest number this node knows was given */
    int64_t void_seq; /* a missing number that may be voided now (missing for GAP_MS), or 0 */
    int64_t from;     /* out: tickets decided before this batch */
    size_t n;         /* out: decided now */
    decision_t *d;    /* QUEUE_BATCH slots */
    int64_t gap;      /* out: the first missing number, or 0 */
    bool voided;      /* out: gap was voided (the queue moved past it) */
} queue_arg_t;

/* Voids number seq's entry unless its row committed (see above). Returns 1 voided, 0 not, or an error. */
static int void_number(mer_db_t *db, fs_session_t *s, int64_t seq, int64_t now)
{
    char ticket[48];
    fs_ticket_name(s, seq, ticket);
    bool pg = strcmp(mer_db_backend_name(db), "postgresql") == 0;
    int64_t isvoid = 0;
    /* a node frozen inside its entry's transaction holds the fence row: wait a moment only */
    if ((pg && mer_db_exec(db, "SET LOCAL lock_timeout = '200ms'", NULL) < 0) ||
        mer_db_exec(db,
                    "INSERT INTO flash_fence (token, state, created_at) VALUES (?, 'void', ?) "
                    "ON CONFLICT (token) DO NOTHING",
                    "si", ticket, now) < 0 ||
        (pg && mer_db_exec(db, "SET LOCAL lock_timeout = 0", NULL) < 0) ||
        mer_db_query_int(db, &isvoid,
                         "SELECT CASE WHEN state = 'void' THEN 1 ELSE 0 END FROM flash_fence WHERE token = ?", "s",
                         ticket) != 0)
        return MER_E_INTERNAL;
    return (int)isvoid;
}

static int queue_run(mer_db_t *db, void *arg)
{
    queue_arg_t *a = arg;
    fs_session_t *s = a->s;
    a->n = 0, a->gap = 0, a->voided = false;
    if (mer_db_exec(db, "UPDATE flash_session SET processed = processed WHERE id = ?", "i", s->id) < 0 ||
        mer_db_query_int(db, &a->from, "SELECT processed FROM flash_session WHERE id = ?", "i", s->id) != 0)
        return MER_E_INTERNAL;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT seq, sku_id, " FS_BUYER_COLUMNS
                                 " FROM flash_entry WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                                 "iii", s->id, a->from, (int64_t)QUEUE_BATCH);
    while (mer_rows_next(r)) {
        int64_t seq = mer_rows_int(r, 0);
        if (seq != a->from + 1 + (int64_t)a->n) {
            a->gap = a->from + 1 + (int64_t)a->n;
            break;
        }
        fs_ticket_t *k = mer_xcalloc(1, sizeof(*k));
        k->seq = seq;
        k->item = MER_MAX(fs_item_index(s, mer_rows_int(r, 1)), 0);
        k->buyer = fs_buyer_read(r, 2);
        a->d[a->n++] = (decision_t){.k = k};
    }
    int err = mer_rows_end(r);
    if (err)
        return err;
    if (a->n == 0) {
        if (a->gap == 0 && a->known > a->from)
            a->gap = a->from + 1;
        if (a->gap == 0)
            return 0;
        /* voided already (its entry was refused, or another node voided it), or missing for GAP_MS */
        char ticket[48];
        int64_t v = 0;
        fs_ticket_name(s, a->gap, ticket);
        err = mer_db_query_int(db, &v, "SELECT 1 FROM flash_fence WHERE token = ? AND state = 'void'", "s", ticket);
        if (err != 0 && err != MER_E_NOT_FOUND)
            return err;
        if (v == 0 && a->gap == a->void_seq)
            v = void_number(db, s, a->gap, a->now);
        if (v <= 0)
            return (int)v;
        if (mer_db_exec(db, "UPDATE flash_session SET processed = ? WHERE id = ?", "ii", a->gap, s->id) < 0)
            return MER_E_INTERNAL;
        a->voided = true;
        char note[24];
        snprintf(note, sizeof(note), "%lld", (long long)s->id);
        return mer_notify_send(db, "flash_queue", note);
    }
    /* the stock: units less the tokens that hold one (issued or used; an expired one gave its unit back) */
    int64_t left[FS_MAX_ITEMS];
    for (int i = 0; i < s->nitems; i++) {
        int64_t held = 0;
        if (mer_db_query_int(db, &held,
                             "SELECT COUNT(*) FROM flash_token WHERE session_id = ? AND sku_id = ? AND "
                             "state IN ('issued', 'consumed')",
                             "ii", s->id, s->items[i].sku_id) != 0)
            return MER_E_INTERNAL;
        left[i] = s->items[i].units - held;
    }
    bool ended = a->now >= s->ends_at;
    for (size_t i = 0; i < a->n; i++) {
        decision_t *d = &a->d[i];
        d->why = ended ? FS_R_ENDED : FS_R_SOLD_OUT;
        if (!ended && left[d->k->item] > 0) {
            left[d->k->item]--;
            d->token = token_for(s, d->k, a->now);
        }
    }
    decide_arg_t da = {s, a->d, a->n};
    if ((err = store_decisions(db, &da)) != 0)
        return err;
    if (mer_db_exec(db, "UPDATE flash_session SET processed = ? WHERE id = ?", "ii", a->from + (int64_t)a->n, s->id) <
        0)
        return MER_E_INTERNAL;
    char note[24];
    snprintf(note, sizeof(note), "%lld", (long long)s->id);
    return mer_notify_send(db, "flash_queue", note);
}

static void process_queue_shared(fs_session_t *s, int64_t now)
{
    for (;;) {
        int64_t known = atomic_load(&s->next_seq), done = atomic_load(&s->processed);
        if (known <= done)
            return; /* nothing waits (as far as this node knows: every entry's note places its ticket) */
        int64_t mono = (int64_t)(mer_now_mono_ns() / 1000000);
        queue_arg_t a = {.s = s, .now = now, .known = known, .d = mer_xcalloc(QUEUE_BATCH, sizeof(decision_t))};
        if (s->gap_seq == done + 1 && mono - s->gap_since >= GAP_MS)
            a.void_seq = s->gap_seq;
        int err = mer_writer_run_sync(s->sale->region, queue_run, &a);
        if (err) {
            for (size_t i = 0; i < a.n; i++) {
                free(a.d[i].token);
                free(a.d[i].k);
            }
            free(a.d);
            mer_log_warn("flash session %lld: deciding the queue failed; will retry", (long long)s->id);
            return;
        }
        /* what other nodes decided before this batch (their note may still be on its way) is read first,
         * so that progress never runs ahead of the outcomes this node shows */
        bool learnt = a.from <= done || fs_entries_learn(s, done + 1, a.from) == 0;
        /* memory follows: the decided tickets (placed here if their note has not come yet), then progress */
        size_t m = 0;
        for (size_t i = 0; i < a.n; i++) {
            fs_ticket_t *k = fs_ticket_adopt(s, a.d[i].k);
            a.d[i].k = k;
            if (atomic_load(&k->state) == FS_TICKET_PENDING)
                a.d[m++] = a.d[i];
            else /* decided here already (read from the rows meanwhile, with its token) */
                free(a.d[i].token);
        }
        apply_decisions(s, a.d, m);
        int64_t to = a.voided ? a.gap : a.from + (int64_t)a.n, cur = atomic_load(&s->processed);
        while (learnt && cur < to && !atomic_compare_exchange_weak(&s->processed, &cur, to))
            ;
        if (a.gap && !a.voided && a.n == 0 && s->gap_seq != a.gap) {
            s->gap_seq = a.gap; /* a number whose row has not come: wait for it, GAP_MS at most */
            s->gap_since = mono;
        }
        if (a.voided)
            mer_log_info("flash session %lld: ticket %lld has no entry (refused, or its row never came); the queue "
                         "moved past it",
                         (long long)s->id, (long long)a.gap);
        free(a.d);
        fs_progress(s);
        if (a.n == 0 && !a.voided)
            return;
    }
}

/* ---- draw ----
 * The draw reads the entries from the database inside a writer job: entries are refused there once the
 * session has ended, so the list it reads is complete, and the published tickets are exactly the ones
 * ranked. */

typedef struct draw_arg {
    fs_session_t *s;
    int64_t now;
    bool done;             /* drawn now (false: already drawn, or not yet time) */
    bool elsewhere;        /* drawn already (by another node on the same database): its outcome is read */
    fs_ticket_t **tickets; /* every entry, by seq */
    size_t ntickets;
    decision_t *d; /* one per ticket, in the draw's order; NULL until ranked */
    size_t nwon;
    char seed_hex[65];
} draw_arg_t;

static int draw_run(mer_db_t *db, void *arg)
{
    draw_arg_t *a = arg;
    fs_session_t *s = a->s;
    int64_t drawn_at = 0;
    mer_rows_t *r = mer_db_query(db, "SELECT seed, COALESCE(drawn_at, 0) FROM flash_session WHERE id = ?", "i", s->id);
    if (mer_rows_next(r)) {
        snprintf(a->seed_hex, sizeof(a->seed_hex), "%s", mer_rows_text(r, 0));
        drawn_at = mer_rows_int(r, 1);
    }
    int err = mer_rows_end(r);
    if (err || a->now < s->ends_at)
        return err;
    /* drawn once, by one node: the first to claim it (another node's claim in flight makes this wait, then
     * find it drawn); the others read the outcome (draw()) */
    if (drawn_at == 0) {
        int n = mer_db_exec(db, "UPDATE flash_session SET drawn_at = ? WHERE id = ? AND COALESCE(drawn_at, 0) = 0",
                            "ii", a->now, s->id);
        if (n < 0)
            return MER_E_INTERNAL;
        drawn_at = n == 0;
    }
    if (drawn_at) {
        a->elsewhere = fs_entries_shared(s);
        return 0;
    }
    unsigned char seed[32];
    size_t sl = 0;
    if (sodium_hex2bin(seed, sizeof(seed), a->seed_hex, strlen(a->seed_hex), NULL, &sl, NULL) != 0 || sl != 32)
        return MER_E_INTERNAL;
    size_t cap = 256;
    a->tickets = mer_xcalloc(cap, sizeof(*a->tickets));
    r = mer_db_query(db,
                     "SELECT seq, sku_id, " FS_BUYER_COLUMNS
                     " FROM flash_entry WHERE session_id = ? AND kind = 'draw' ORDER BY seq",
                     "i", s->id);
    while (mer_rows_next(r)) {
        int item = fs_item_index(s, mer_rows_int(r, 1));
        if (item < 0)
            continue;
        if (a->ntickets == cap) {
            cap *= 2;
            a->tickets = mer_xrealloc(a->tickets, cap * sizeof(*a->tickets));
        }
        fs_ticket_t *k = mer_xcalloc(1, sizeof(*k));
        k->seq = mer_rows_int(r, 0);
        k->item = item;
        k->buyer = fs_buyer_read(r, 2);
        a->tickets[a->ntickets++] = k;
    }
    if ((err = mer_rows_end(r)) != 0)
        return err;
    size_t n = a->ntickets;
    char(*names)[48] = mer_xcalloc(n ? n : 1, 48);
    const char **ptrs = mer_xcalloc(n ? n : 1, sizeof(*ptrs));
    size_t *order = mer_xcalloc(n ? n : 1, sizeof(*order));
    for (size_t i = 0; i < n; i++) {
        fs_ticket_name(s, a->tickets[i]->seq, names[i]);
        ptrs[i] = names[i];
    }
    fs_draw_order(seed, ptrs, n, order);
    a->d = mer_xcalloc(n ? n : 1, sizeof(*a->d));
    for (size_t i = 0; i < n; i++) {
        a->d[i].k = a->tickets[order[i]];
        a->nwon += decide(s, &a->d[i], a->now, false);
    }
    free(names);
    free(ptrs);
    free(order);
    decide_arg_t da = {s, a->d, n};
    if ((err = store_decisions(db, &da)) != 0)
        return err;
    if (mer_db_exec(db, "UPDATE flash_session SET drawn_at = ? WHERE id = ?", "ii", a->now, s->id) < 0)
        return MER_E_INTERNAL;
    a->done = true;
    return 0;
}

static void draw(fs_session_t *s, int64_t now)
{
    draw_arg_t a;
    memset(&a, 0, sizeof(a));
    a.s = s;
    a.now = now;
    int err = mer_writer_run_sync(s->sale->region, draw_run, &a);
    if (err == 0 && a.elsewhere) {
        /* the winners, losers and seed another node recorded: polled on this node, the same answers */
        if (fs_entries_learn(s, 1, INT64_MAX) == 0) {
            snprintf(s->seed, sizeof(s->seed), "%s", a.seed_hex);
            atomic_store(&s->drawn, 1);
            fs_progress(s);
            fs_bump();
        }
        return;
    }
    if (err || !a.done) {
        if (a.d)
            undo_decisions(s, a.d, a.ntickets);
        for (size_t i = 0; i < a.ntickets; i++)
            free(a.tickets[i]);
        if (err)
            mer_log_warn("flash session %lld: the draw failed; will retry", (long long)s->id);
    } else {
        /* the tickets of the draw replace the ones in memory (entries answered while it ran included) */
        pthread_mutex_lock(&s->tickets_mu);
        fs_ticket_t **old = s->tickets;
        size_t nold = s->ntickets;
        s->tickets = NULL;
        s->ntickets = s->tickets_cap = 0;
        pthread_mutex_unlock(&s->tickets_mu);
        for (size_t i = 0; i < a.ntickets; i++)
            fs_ticket_place(s, a.tickets[i]);
        apply_decisions(s, a.d, a.ntickets);
        /* the entries' own counts were taken when they entered: winners keep theirs (their token
         * holds it), losers were released above */
        for (size_t i = 0; i < nold; i++)
            free(old[i]);
        free(old);
        snprintf(s->seed, sizeof(s->seed), "%s", a.seed_hex);
        atomic_store(&s->drawn, 1);
        fs_progress(s);
        fs_bump();
        mer_log_info("flash session %lld drawn: %zu winners among %zu entries", (long long)s->id, a.nwon, a.ntickets);
    }
    free(a.tickets);
    free(a.d);
}

/* ---- expiry and restock ---- */

#define RESTOCK_BATCH 1000

/* A token whose unit goes back: its name, session, SKU and buyer. */
typedef struct restocked {
    char token[FS_TOKEN_LEN + 1];
    int64_t session_id, sku_id;
    fs_buyer_t buyer;
} restocked_t;

typedef struct restock_arg {
    restocked_t *tokens; /* RESTOCK_BATCH slots */
    size_t n;
} restock_arg_t;

/*
 * Expires tokens past their lifetime, and marks a batch of expired or returned tokens restocked. Several
 * nodes may run this on one database: the outer condition on restocked makes each token restocked by one
 * of them only (a concurrent update re-checks it after the row lock).
 */
static int expire_and_mark(mer_db_t *db, void *arg)
{
    restock_arg_t *a = arg;
    if (mer_db_exec(db, "UPDATE flash_token SET state = 'expired' WHERE state = 'issued' AND expires_at <= ?", "i",
                    mer_now_unix_ms()) < 0)
        return MER_E_INTERNAL;
    mer_rows_t *r = mer_db_query(db,
                                 "UPDATE flash_token SET restocked = 1 WHERE restocked = 0 AND token IN (SELECT token "
                                 "FROM flash_token WHERE restocked = 0 AND state IN ('expired', 'returned') LIMIT ?) "
                                 "RETURNING token, session_id, sku_id, " FS_BUYER_COLUMNS,
                                 "i", (int64_t)RESTOCK_BATCH);
    while (mer_rows_next(r) && a->n < RESTOCK_BATCH) {
        restocked_t *t = &a->tokens[a->n++];
        snprintf(t->token, sizeof(t->token), "%s", mer_rows_text(r, 0));
        t->session_id = mer_rows_int(r, 1);
        t->sku_id = mer_rows_int(r, 2);
        t->buyer = fs_buyer_read(r, 3);
    }
    return mer_rows_end(r);
}

/* The session of a restocked token, and its item's index (or NULL). */
static fs_session_t *restocked_session(const restocked_t *t, int *idx)
{
    const fs_registry_t *reg = fs_registry();
    for (size_t i = 0; i < reg->n; i++) {
        fs_session_t *s = fs_session_find(reg->sales[i], t->session_id);
        if (s && (*idx = fs_item_index(s, t->sku_id)) >= 0)
            return s;
    }
    return NULL;
}

static void restock(const char *region)
{
    int64_t due = 0;
    mer_db_t *db = mer_store_reader(region);
    if (db == NULL || /* its database is out of reach: the next round tries again */
        mer_db_query_int(db, &due,
                         "SELECT EXISTS (SELECT 1 FROM flash_token WHERE state = 'issued' AND expires_at <= ?) OR "
                         "EXISTS (SELECT 1 FROM flash_token WHERE restocked = 0 AND state IN ('expired', 'returned'))",
                         "i", mer_now_unix_ms()) != 0 ||
        !due)
        return;
    restock_arg_t a = {mer_xcalloc(RESTOCK_BATCH, sizeof(restocked_t)), 0};
    if (mer_writer_run_sync(region, expire_and_mark, &a) == 0) {
        for (size_t i = 0; i < a.n; i++) {
            fs_token_t *t = fs_token_get(a.tokens[i].token);
            int idx = -1;
            fs_session_t *s = restocked_session(&a.tokens[i], &idx);
            if (s && fs_entries_shared(s)) {
                /* a queue or draw ticket's token on several nodes: the stock is counted from the tokens
                 * (process_queue_shared), so only the identities' counts go back (the ticket stays the
                 * buyer's one) */
                if (t)
                    atomic_store(&t->state, FS_TOKEN_GONE);
                fs_shared_release_counts(s, &a.tokens[i].buyer, false);
                continue;
            }
            if (s && s->items[idx].shared) {
                /* shared: whichever node marked it gives the unit back to the central stock */
                if (t)
                    atomic_store(&t->state, FS_TOKEN_GONE);
                fs_shared_restock(s, idx, &a.tokens[i].buyer);
                continue;
            }
            /* only units this process took for the token go back (a token already gone at start held none) */
            if (t == NULL || atomic_exchange(&t->state, FS_TOKEN_GONE) == FS_TOKEN_GONE || t->foreign)
                continue;
            fs_token_release(t);
            fs_progress(t->session);
        }
    }
    free(a.tokens);
}

static void process(void *arg)
{
    (void)arg;
    int64_t now = mer_now_unix_ms();
    const fs_registry_t *reg = fs_registry();
    char regions[8][MER_REGION_NAME_MAX];
    size_t nreg = 0;
    for (size_t i = 0; i < reg->n; i++) {
        fs_sale_t *sale = reg->sales[i];
        bool seen = false;
        for (size_t k = 0; k < nreg; k++)
            seen = seen || strcmp(regions[k], sale->region) == 0;
        if (!seen && nreg < 8)
            snprintf(regions[nreg++], MER_REGION_NAME_MAX, "%s", sale->region);
        for (int k = 0; k < sale->nsessions; k++) {
            fs_session_t *s = sale->sessions[k];
            if (s->mode == FS_QUEUE && fs_entries_shared(s))
                process_queue_shared(s, now);
            else if (s->mode == FS_QUEUE)
                process_queue(s, now);
            else if (s->mode == FS_DRAW && now >= s->ends_at && !atomic_load(&s->drawn))
                draw(s, now);
        }
    }
    for (size_t k = 0; k < nreg; k++)
        restock(regions[k]);
}

void fs_processor_start(void)
{
    mer_ticker_start(&proc, process, NULL, 100);
}

void fs_processor_stop(void)
{
    mer_ticker_stop(&proc);
}
