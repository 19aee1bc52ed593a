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
#include <time.h>

#include "core/log.h"
#include "core/money.h"
#include "core/tz.h"
#include "flashsale/flash_int.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

#define QUEUE_BATCH 1000

static struct {
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping, running, kicked;
} proc = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

void fs_processor_kick(void)
{
    pthread_mutex_lock(&proc.mu);
    proc.kicked = true;
    pthread_cond_signal(&proc.cv);
    pthread_mutex_unlock(&proc.mu);
}

typedef struct tok_batch {
    fs_token_t **t;
    size_t n;
    fs_session_t *draw; /* draws also mark winning entries and the session */
    int64_t *winner_seqs;
    size_t nwinners;
} tok_batch_t;

static int store_batch(mer_db_t *db, void *arg)
{
    tok_batch_t *b = arg;
    int err = fs_store_tokens(db, b->t, b->n);
    for (size_t i = 0; err == 0 && i < b->nwinners; i++)
        if (mer_db_exec(db, "UPDATE flash_entry SET won = 1 WHERE session_id = ? AND seq = ?", "ii", b->draw->id,
                        b->winner_seqs[i]) < 0)
            err = MER_E_INTERNAL;
    if (err == 0 && b->draw &&
        mer_db_exec(db, "UPDATE flash_session SET drawn_at = ? WHERE id = ?", "ii", mer_now_unix_ms(), b->draw->id) < 0)
        err = MER_E_INTERNAL;
    return err;
}

static fs_token_t *token_for(fs_session_t *s, fs_ticket_t *k, int64_t now)
{
    fs_token_t *t = mer_xcalloc(1, sizeof(*t));
    t->session = s;
    t->item = k->item;
    t->user_id = k->user_id;
    t->phone = k->phone;
    t->address = k->address;
    t->device = k->device;
    t->expires_at = now + s->token_ttl_ms;
    fs_new_token(t->token);
    return t;
}

/* ---- queue ---- */

static void lose(fs_session_t *s, fs_ticket_t *k, fs_reason_t why)
{
    k->reason = why;
    atomic_store(&k->state, 2);
    fs_count_refusal(s, why);
    fs_release_buyer(s, k->user_id, k->phone, k->address, k->device);
}

static void process_queue(fs_session_t *s, int64_t now)
{
    for (;;) {
        int64_t from = atomic_load(&s->processed);
        fs_ticket_t *batch[QUEUE_BATCH];
        size_t n = 0;
        pthread_mutex_lock(&s->tickets_mu);
        while (n < QUEUE_BATCH && from + (int64_t)n < (int64_t)s->ntickets) {
            batch[n] = s->tickets[from + (int64_t)n];
            n++;
        }
        pthread_mutex_unlock(&s->tickets_mu);
        if (n == 0)
            return;
        fs_token_t *toks[QUEUE_BATCH];
        fs_ticket_t *won[QUEUE_BATCH];
        size_t nt = 0;
        for (size_t i = 0; i < n; i++) {
            fs_ticket_t *k = batch[i];
            if (now >= s->ends_at) {
                lose(s, k, FS_R_ENDED);
            } else if (!fs_take_unit(&s->items[k->item])) {
                lose(s, k, FS_R_SOLD_OUT);
            } else {
                toks[nt] = token_for(s, k, now);
                won[nt++] = k;
            }
        }
        tok_batch_t b = {toks, nt, NULL, NULL, 0};
        if (nt && mer_writer_run_sync(s->sale->region, store_batch, &b) != 0) {
            /* not recorded: give the units back and try these tickets again on the next pass */
            for (size_t i = 0; i < nt; i++) {
                fs_return_unit(&s->items[toks[i]->item]);
                free(toks[i]);
            }
            mer_log_warn("flash session %lld: recording %zu queue wins failed; will retry", (long long)s->id, nt);
            return;
        }
        for (size_t i = 0; i < nt; i++) {
            fs_token_put(toks[i]);
            snprintf(won[i]->token, sizeof(won[i]->token), "%s", toks[i]->token);
            atomic_store(&won[i]->state, 1);
            atomic_fetch_add(&s->wins, 1);
        }
        atomic_store(&s->processed, from + (int64_t)n);
        fs_progress(s);
    }
}

/* ---- draw ---- */

static void draw(fs_session_t *s, int64_t now)
{
    /* the seed was written when the session was created */
    char seed_hex[65] = "";
    mer_db_t *db = mer_store_reader(s->sale->region);
    mer_rows_t *r = mer_db_query(db, "SELECT seed FROM flash_session WHERE id = ?", "i", s->id);
    if (mer_rows_next(r))
        snprintf(seed_hex, sizeof(seed_hex), "%s", mer_rows_text(r, 0));
    mer_rows_end(r);
    unsigned char seed[32];
    size_t sl = 0;
    if (sodium_hex2bin(seed, sizeof(seed), seed_hex, strlen(seed_hex), NULL, &sl, NULL) != 0 || sl != 32)
        return;
    pthread_mutex_lock(&s->tickets_mu);
    size_t n = s->ntickets;
    fs_ticket_t **all = mer_xcalloc(n ? n : 1, sizeof(*all));
    char (*names)[48] = mer_xcalloc(n ? n : 1, 48);
    const char **name_ptrs = mer_xcalloc(n ? n : 1, sizeof(*name_ptrs));
    for (size_t i = 0; i < n; i++) {
        all[i] = s->tickets[i];
        snprintf(names[i], 48, "d%lld-%lld", (long long)s->id, (long long)s->tickets[i]->seq);
        name_ptrs[i] = names[i];
    }
    pthread_mutex_unlock(&s->tickets_mu);
    size_t *order = mer_xcalloc(n ? n : 1, sizeof(*order));
    fs_draw_order(seed, name_ptrs, n, order);
    fs_token_t **toks = mer_xcalloc(n ? n : 1, sizeof(*toks));
    int64_t *seqs = mer_xcalloc(n ? n : 1, sizeof(*seqs));
    fs_ticket_t **won = mer_xcalloc(n ? n : 1, sizeof(*won));
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        fs_ticket_t *k = all[order[i]];
        if (!fs_take_unit(&s->items[k->item]))
            continue;
        toks[nt] = token_for(s, k, now);
        seqs[nt] = k->seq;
        won[nt++] = k;
    }
    tok_batch_t b = {toks, nt, s, seqs, nt};
    if (mer_writer_run_sync(s->sale->region, store_batch, &b) != 0) {
        for (size_t i = 0; i < nt; i++) {
            fs_return_unit(&s->items[toks[i]->item]);
            free(toks[i]);
        }
        mer_log_warn("flash session %lld: recording the draw failed; will retry", (long long)s->id);
    } else {
        for (size_t i = 0; i < nt; i++) {
            fs_token_put(toks[i]);
            snprintf(won[i]->token, sizeof(won[i]->token), "%s", toks[i]->token);
            atomic_store(&won[i]->state, 1);
            atomic_fetch_add(&s->wins, 1);
        }
        for (size_t i = 0; i < n; i++)
            if (atomic_load(&all[i]->state) == 0)
                lose(s, all[i], FS_R_SOLD_OUT);
        snprintf(s->seed, sizeof(s->seed), "%s", seed_hex);
        atomic_store(&s->drawn, 1);
        fs_progress(s);
        fs_bump();
        mer_log_info("flash session %lld drawn: %zu winners among %zu entries", (long long)s->id, nt, n);
    }
    free(all);
    free(names);
    free(name_ptrs);
    free(order);
    free(toks);
    free(seqs);
    free(won);
}

/* ---- expiry and restock ---- */

static int expire(mer_db_t *db, void *arg)
{
    (void)arg;
    return mer_db_exec(db, "UPDATE flash_token SET state = 'expired' WHERE state = 'issued' AND expires_at <= ?", "i",
                       mer_now_unix_ms()) < 0
               ? MER_E_INTERNAL
               : 0;
}

typedef struct restock_arg {
    char (*tokens)[FS_TOKEN_LEN + 1];
    size_t n;
} restock_arg_t;

static int mark_restocked(mer_db_t *db, void *arg)
{
    restock_arg_t *a = arg;
    for (size_t i = 0; i < a->n; i++)
        if (mer_db_exec(db, "UPDATE flash_token SET restocked = 1 WHERE token = ?", "s", a->tokens[i]) < 0)
            return MER_E_INTERNAL;
    return 0;
}

static void restock(const char *region)
{
    int64_t due = 0;
    mer_db_t *db = mer_store_reader(region);
    if (mer_db_query_int(db, &due,
                         "SELECT EXISTS (SELECT 1 FROM flash_token WHERE state = 'issued' AND expires_at <= ?)", "i",
                         mer_now_unix_ms()) == 0 &&
        due)
        mer_writer_run_sync(region, expire, NULL);
    restock_arg_t a = {mer_xcalloc(1000, FS_TOKEN_LEN + 1), 0};
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT token FROM flash_token WHERE restocked = 0 AND state IN ('expired', 'returned') "
                                 "LIMIT 1000",
                                 NULL);
    while (mer_rows_next(r) && a.n < 1000)
        snprintf(a.tokens[a.n++], FS_TOKEN_LEN + 1, "%s", mer_rows_text(r, 0));
    mer_rows_end(r);
    if (a.n && mer_writer_run_sync(region, mark_restocked, &a) == 0) {
        for (size_t i = 0; i < a.n; i++) {
            fs_token_t *t = fs_token_get(a.tokens[i]);
            /* only units this process took for the token go back (a token already gone at start held none) */
            if (t == NULL || atomic_exchange(&t->state, 3) == 3)
                continue;
            fs_session_t *s = t->session;
            fs_return_unit(&s->items[t->item]);
            fs_release_buyer(s, t->user_id, t->phone, t->address, t->device);
            fs_progress(s);
        }
    }
    free(a.tokens);
}

static void *processor_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&proc.mu);
    while (!proc.stopping) {
        if (!proc.kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&proc.cv, &proc.mu, &ts);
        }
        if (proc.stopping)
            break;
        proc.kicked = false;
        pthread_mutex_unlock(&proc.mu);
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
                if (s->mode == FS_QUEUE)
                    process_queue(s, now);
                else if (s->mode == FS_DRAW && now >= s->ends_at && !atomic_load(&s->drawn))
                    draw(s, now);
            }
        }
        for (size_t k = 0; k < nreg; k++)
            restock(regions[k]);
        pthread_mutex_lock(&proc.mu);
    }
    pthread_mutex_unlock(&proc.mu);
    mer_store_thread_release();
    mer_tz_thread_release();
    mer_money_thread_release();
    return NULL;
}

void fs_processor_start(void)
{
    if (pthread_create(&proc.tid, NULL, processor_main, NULL) == 0)
        proc.running = true;
}

void fs_processor_stop(void)
{
    if (!proc.running)
        return;
    pthread_mutex_lock(&proc.mu);
    proc.stopping = true;
    pthread_cond_signal(&proc.cv);
    pthread_mutex_unlock(&proc.mu);
    pthread_join(proc.tid, NULL);
    proc.running = false;
}
