/*
 * dispatcher.c — delivers outbox events to subscribers (see events.h for the guarantees).
 *
 * One thread. Reads go through the thread's own read connections; every write (fan-out rows, delivery
 * outcomes, the effects of in-process subscribers) is a job on the region's writer, waited for
 * synchronously, so the single-writer rule holds and an effect commits together with the mark that
 * says it was delivered. The built-in subscribers are the domains' (the subscriber table, events.h):
 * the dispatcher runs them without knowing what they write.
 *
 * A tick (every 200 ms, at once when the outbox's wake-up counters move or when kicked): load the webhook
 * subscriptions; per served region, fan out new events (when its counter moved since the last complete
 * fan-out, and once a second in any case), attempt due deliveries to the built-in subscribers that call
 * out (refunds through the provider, quick), and start due webhook deliveries on the curl multi
 * handle; then drive the transfers for up to SLICE_MS and record the ones that ended. Transfers still
 * running carry over to the next tick, which then comes at once, so new events never wait behind a slow
 * transfer. Isolation between webhook subscribers:
 *   - per subscriber, at most PER_SUB transfers in flight (1 while it is failing) and at most MAX_XFERS
 *     in all, so a subscriber that hangs holds only its own slots until its transfers time out;
 *   - after a failure that is the subscriber's (no connection, timeout, refused address, 5xx, 429) it is
 *     left alone for its own back-off (retry base doubling per failure in a row); its due deliveries wait
 *     without using attempts, the others go on; a success resets it. That state lives in memory: after a
 *     restart every subscriber starts healthy.
 *   - the due rows are read per subscriber (event_delivery_subscriber index), so one subscriber's
 *     backlog is never in the way of another's rows.
 */
#include <assert.h>
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"
#include "core/sig.h"
#include "core/money.h"
#include "core/tz.h"
#include "events/events.h"
#include "region/country.h"
#include "store/notify.h"
#include "store/ops_events.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/banned.h"

#define BATCH 200
#define MAX_ATTEMPTS 12
#define MAX_BACKOFF_MS (3600 * 1000)
#define MAX_SUBS 64
#define MAX_XFERS 64   /* webhook transfers in flight, all subscribers together */
#define PER_SUB 4      /* ... to one subscriber (1 while failing: failing ones cannot take every slot) */
#define SLICE_MS 200   /* a tick drives transfers this long at most before it looks for new work */
#define GATHER_MS 20   /* after a kick, let more events come before looking for them */
#define PERIOD_MS 200  /* the longest idle wait */
#define RESCAN_MS 1000 /* a region's outbox is looked at this often even when its counter stands still */

typedef struct sub {
    char name[32]; /* webhook:<id> */
    char url[256];
    char events[512];
    char secret[80];
} sub_t;

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
    int64_t lease_until; /* this node's claim on the row (mer_store_delivery_claim) */
    /* outcome */
    bool ok;
    const char *result; /* delivered, http_error, timeout, connect_error, refused, error (static) */
    char error[200];
    char ref[MER_EVENT_REF_MAX]; /* a built-in subscriber's attempt, for its record */
    bool lost;                   /* the claim ran out and another node took the row: nothing recorded */
} delivery_t;

typedef struct sub_state {
    char name[32]; /* webhook:<id>; "" = free slot */
    int inflight;
    int failures;         /* in a row; 0 after a success */
    int64_t paused_until; /* no new attempts before (its own back-off) */
} sub_state_t;

typedef struct xfer {
    CURL *easy; /* NULL = free slot */
    struct curl_slist *hdrs;
    mer_buf_t body;
    char region[MER_REGION_NAME_MAX];
    sub_state_t *st;
    char refused[160]; /* set by the socket callback when the address policy said no */
    delivery_t d;
} xfer_t;

/* What the dispatcher last saw of a region's outbox. */
typedef struct region_seen {
    char name[MER_REGION_NAME_MAX]; /* "" = free slot */
    uint64_t wakes;                 /* the outbox's counter at the last complete fan-out */
    int64_t at_ms;                  /* when that was */
} region_seen_t;

/* Dispatcher state. Everything but the thread's control and wake_fd belongs to the dispatcher thread. */
static struct {
    pthread_t tid;
    bool running;          /* main thread only */
    _Atomic bool stopping; /* set by mer_events_stop */
    int wake_fd;           /* eventfd written by kicks: interrupts the waits; never closed */
    int64_t retry_base_ms;
    int64_t timeout_ms; /* a webhook transfer's limit */
    int64_t last_lease; /* the last claim's lease_until (dispatcher thread): each claim has its own */
    unsigned egress;    /* MER_EGRESS_* */
    /* the dispatcher thread's own state between passes */
    sub_t *subs;
    char seen[MAX_SUBS][32], removed[MAX_SUBS][32]; /* webhooks loaded last time; those gone since */
    char gone[MAX_SUBS][32];                        /* due deliveries' webhooks that no longer exist */
    size_t nseen;
    CURLM *multi;
    xfer_t xfers[MAX_XFERS]; /* webhook transfers in flight (easy != NULL) */
    size_t nxfers;
    sub_state_t states[MAX_SUBS]; /* per webhook subscriber */
    unsigned rr;                  /* round-robin start among subscribers */
    region_seen_t regions[MER_MAX_REGIONS];
    /* a batch of a built-in subscriber's deliveries (deliver_builtin): claim_due sets each entry it fills, so
     * it is neither allocated nor zeroed per tick (that was ~90 KB a tick, a tick per commit under load) */
    delivery_t builtin[BATCH];
    /* subscribers whose back-off an admin's redelivery lifts (mer_events_probe; any thread) */
    pthread_mutex_t probe_mu;
    char probe[MAX_SUBS][32]; /* guarded by probe_mu */
    size_t nprobe;            /* guarded by probe_mu */
} disp = {.wake_fd = -1, .retry_base_ms = 1000, .timeout_ms = 10000, .probe_mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- subscribers ---- */

bool mer_events_wants(const char *list, const char *type)
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
 * Loads the webhook subscriptions. *complete says that every active webhook subscription was loaded, so that a
 * webhook missing from subs has been deleted (a delivery row only exists for a subscription that was
 * active when its event was fanned out).
 */
static size_t load_subscribers(sub_t *subs, bool *complete)
{
    size_t n = 0;
    *complete = false;
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

/* The event a delivery row is about, for a built-in subscriber (data parsed; release with event_release). */
static mer_event_t event_of(const char *region, const delivery_t *d)
{
    return (mer_event_t){.seq = d->event,
                         .id = d->event_id,
                         .region = region,
                         .type = d->type,
                         .order_id = d->order_id,
                         .payload = d->payload,
                         .data = json_loads(d->payload, 0, NULL)};
}

static void event_release(mer_event_t *ev)
{
    json_decref(ev->data);
    ev->data = NULL;
}

/* ---- fan-out ----
 * The built-in subscribers take each event in the fan-out transaction (in-process ones apply their
 * effect right here, idempotent on the event id; those that call out get delivery rows), and every
 * webhook subscription that wants it gets a delivery row to attempt and retry. */

typedef struct fanout_arg {
    const char *region;
    const sub_t *subs;
    size_t nsubs;
    bool full; /* out: this pass took FANOUT_MAX events; more may be waiting */
} fanout_arg_t;

#define FANOUT_MAX 5000

static int cmp_id(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static int fanout(mer_db_t *db, void *arg)
{
    fanout_arg_t *a = arg;
    int64_t now = mer_now_unix_ms();
    /* this pass takes (marks fanned out, in its transaction) the oldest FANOUT_MAX events not yet fanned out
     * that no other node's pass is taking: each event is fanned out by one pass, on one node */
    int64_t *ids = mer_xcalloc(FANOUT_MAX, sizeof(*ids));
    size_t n = 0;
    mer_rows_t *r = mer_store_outbox_claim(db, FANOUT_MAX);
    while (mer_rows_next(r) && n < FANOUT_MAX)
        ids[n++] = mer_rows_int(r, 0);
    int err = mer_rows_end(r);
    if (err || n == 0) {
        free(ids);
        return err;
    }
    a->full = n >= FANOUT_MAX;
    qsort(ids, n, sizeof(*ids), cmp_id);
    r = mer_db_query(db,
                     "SELECT id, type, COALESCE(order_id, 0), payload FROM outbox WHERE id BETWEEN ? AND ? ORDER BY id",
                     "ii", ids[0], ids[n - 1]);
    while (err == 0 && mer_rows_next(r)) {
        int64_t id = mer_rows_int(r, 0);
        if (bsearch(&id, ids, n, sizeof(*ids), cmp_id) == NULL)
            continue; /* fanned out before, or by another node's pass */
        char eid[48];
        mer_event_t ev = {.seq = mer_rows_int(r, 0),
                          .id = eid,
                          .region = a->region,
                          .type = mer_rows_text(r, 1),
                          .order_id = mer_rows_int(r, 2),
                          .payload = mer_rows_text(r, 3)};
        mer_event_id(a->region, ev.seq, eid);
        err = mer_events_fan_out_one(db, &ev, now);
        for (size_t k = 0; err == 0 && k < a->nsubs; k++) {
            if (!mer_events_wants(a->subs[k].events, ev.type))
                continue;
            if (mer_db_defer(db,
                             "INSERT INTO event_delivery (event, subscriber, next_attempt_at) VALUES (?, ?, ?) "
                             "ON CONFLICT DO NOTHING",
                             "isi", ev.seq, a->subs[k].name, now) < 0)
                err = MER_E_INTERNAL;
        }
    }
    int qerr = mer_rows_end(r);
    free(ids);
    return err ? err : qerr;
}

typedef struct outcome_arg {
    const char *region;
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

/* Writes the attempts' outcomes (writer job): delivered, or pending with the next attempt, or dead. */
static int outcomes(mer_db_t *db, void *arg)
{
    outcome_arg_t *a = arg;
    int64_t now = mer_now_unix_ms();
    for (size_t i = 0; i < a->n; i++) {
        delivery_t *d = &a->d[i];
        int effect = 0;
        if (mer_db_savepoint(db) != 0)
            return MER_E_INTERNAL;
        const mer_event_subscriber_t *s = d->ok ? mer_events_subscriber(d->subscriber) : NULL;
        if (s && s->record) {
            mer_event_t ev = event_of(a->region, d);
            effect = s->record(db, &ev, d->ref);
            event_release(&ev);
            d->ok = effect == 0;
        }
        if (effect) {
            mer_db_rollback_to(db);
            if (mer_db_savepoint(db) != 0)
                return MER_E_INTERNAL;
            snprintf(d->error, sizeof(d->error), "subscriber failed (%s)", mer_err_code(effect));
            d->result = "error";
        }
        if (d->result == NULL)
            d->result = d->ok ? "delivered" : "error";
        int attempts = d->attempts + 1;
        int rc;
        /* only while the claim is still this node's (its lease ran out and another node took the row: that
         * node's attempt decides; this one's effect goes) */
        if (d->ok)
            rc = mer_db_exec(db,
                             "UPDATE event_delivery SET status = 'delivered', attempts = ?, delivered_at = ?, "
                             "last_error = '', last_result = ?, claimed_by = NULL, lease_until = 0 "
                             "WHERE event = ? AND subscriber = ? AND claimed_by = ? AND lease_until = ?",
                             "iisissi", (int64_t)attempts, now, d->result, d->event, d->subscriber, mer_notify_node(),
                             d->lease_until);
        else
            rc = mer_db_exec(db,
                             "UPDATE event_delivery SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, "
                             "last_result = ?, claimed_by = NULL, lease_until = 0 "
                             "WHERE event = ? AND subscriber = ? AND claimed_by = ? AND lease_until = ?",
                             "siississi", attempts >= MAX_ATTEMPTS ? "dead" : "pending", (int64_t)attempts,
                             now + backoff(a->retry_base_ms, attempts), d->error, d->result, d->event, d->subscriber,
                             mer_notify_node(), d->lease_until);
        if (rc < 0)
            return MER_E_INTERNAL;
        d->lost = rc == 0;
        if (d->lost)
            mer_db_rollback_to(db);
        if (mer_db_release(db) != 0)
            return MER_E_INTERNAL;
    }
    return 0;
}

static void record(const char *region, delivery_t *ds, size_t n)
{
    if (n == 0)
        return;
    outcome_arg_t oa = {region, ds, n, disp.retry_base_ms};
    if (mer_writer_run_sync(region, outcomes, &oa) != 0) {
        mer_log_warn("region %s: recording %zu event deliveries failed; they will be retried", region, n);
        return;
    }
    for (size_t i = 0; i < n; i++) /* counted once the outcome is durable */
        if (ds[i].lost)
            mer_log_warn("region %s: %s's delivery of event %lld ran past its claim; another node has it", region,
                         ds[i].subscriber, (long long)ds[i].event);
        else
            mer_events_note_delivery(ds[i].subscriber, ds[i].ok                             ? MER_DELIVERY_DELIVERED
                                                       : ds[i].attempts + 1 >= MAX_ATTEMPTS ? MER_DELIVERY_DEAD
                                                                                            : MER_DELIVERY_FAILED);
}

/* Webhook subscriptions deleted: their pending deliveries are given up without another attempt. */
typedef struct removed_arg {
    char (*names)[32];
    size_t n;
} removed_arg_t;

static int drop_removed(mer_db_t *db, void *arg)
{
    removed_arg_t *a = arg;
    for (size_t i = 0; i < a->n; i++)
        if (mer_db_exec(db,
                        "UPDATE event_delivery SET status = 'dead', last_error = 'subscription removed', "
                        "last_result = 'removed' WHERE subscriber = ? AND status = 'pending'",
                        "s", a->names[i]) < 0)
            return MER_E_INTERNAL;
    return 0;
}

/*
 * Claims. Several nodes may serve one region database: a due delivery is attempted by the node that claimed
 * it (claimed_by, lease_until), and by no other until the claim's lease runs out; the outcome, written while
 * the claim is still this node's, ends it. A node that dies holding claims leaves them to the others after
 * the lease. The lease outlasts an attempt (a webhook's time limit, twice, and 2 s), so only a node that
 * stopped (or whose clock is that far off) loses its claims.
 */
static int64_t lease_ms(void)
{
    return 2 * disp.timeout_ms + 2000;
}

typedef struct claim_arg {
    const char *region, *subscriber;
    size_t limit;
    int64_t lease_until;
    delivery_t *ds;
    size_t n; /* out */
} claim_arg_t;

static void free_payloads(delivery_t *ds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ds[i].payload);
        ds[i].payload = NULL;
    }
}

/* Claims due deliveries of one subscriber and reads them into ds (writer job). */
static int claim_due(mer_db_t *db, void *arg)
{
    claim_arg_t *a = arg;
    free_payloads(a->ds, a->n); /* (a job run again) */
    a->n = 0;
    const char *node = mer_notify_node();
    mer_rows_t *r =
        mer_store_delivery_claim(db, a->subscriber, mer_now_unix_ms(), node, a->lease_until, (int64_t)a->limit);
    size_t claimed = 0;
    while (mer_rows_next(r))
        claimed++;
    int err = mer_rows_end(r);
    if (err || claimed == 0)
        return err;
    r = mer_db_query(db,
                     "SELECT d.event, d.attempts, o.type, COALESCE(o.order_id, 0), o.payload, o.created_at "
                     "FROM event_delivery d JOIN outbox o ON o.id = d.event "
                     "WHERE d.subscriber = ? AND d.status = 'pending' AND d.claimed_by = ? AND d.lease_until = ? "
                     "ORDER BY d.next_attempt_at, d.event",
                     "ssi", a->subscriber, node, a->lease_until);
    while (mer_rows_next(r) && a->n < a->limit) {
        delivery_t *d = &a->ds[a->n++];
        memset(d, 0, sizeof(*d));
        d->event = mer_rows_int(r, 0);
        snprintf(d->subscriber, sizeof(d->subscriber), "%s", a->subscriber);
        d->attempts = (int)mer_rows_int(r, 1);
        mer_event_id(a->region, d->event, d->event_id);
        snprintf(d->type, sizeof(d->type), "%s", mer_rows_text(r, 2));
        d->order_id = mer_rows_int(r, 3);
        d->payload = mer_xstrdup(mer_rows_text(r, 4));
        d->created_at = mer_rows_int(r, 5);
        d->lease_until = a->lease_until;
    }
    return mer_rows_end(r);
}

/* Claims up to limit due deliveries of one subscriber (when it has any no node holds) into ds. */
static size_t load_due(mer_db_t *db, const char *region, const char *subscriber, size_t limit, delivery_t *ds)
{
    int64_t now = mer_now_unix_ms(), due = 0;
    if (mer_db_query_int(db, &due,
                         "SELECT EXISTS (SELECT 1 FROM event_delivery WHERE subscriber = ? AND status = 'pending' "
                         "AND next_attempt_at <= ? AND lease_until < ?)",
                         "sii", subscriber, now, now) != 0 ||
        !due)
        return 0;
    int64_t lease = now + lease_ms();
    disp.last_lease = lease > disp.last_lease ? lease : disp.last_lease + 1;
    claim_arg_t ca = {region, subscriber, limit, disp.last_lease, ds, 0};
    if (mer_writer_run_sync(region, claim_due, &ca) != 0) {
        free_payloads(ds, ca.n);
        return 0;
    }
    return ca.n;
}

static region_seen_t *region_seen(const char *region)
{
    region_seen_t *free_slot = NULL;
    for (size_t i = 0; i < MER_MAX_REGIONS; i++) {
        if (strcmp(disp.regions[i].name, region) == 0)
            return &disp.regions[i];
        if (free_slot == NULL && disp.regions[i].name[0] == '\0')
            free_slot = &disp.regions[i];
    }
    if (free_slot)
        snprintf(free_slot->name, sizeof(free_slot->name), "%s", region);
    return free_slot;
}

static int release_stale(mer_db_t *db, void *arg)
{
    (void)arg;
    int rc = mer_store_delivery_release_stale(db, mer_notify_node());
    return rc < 0 ? rc : 0;
}

/*
 * Fans out a region's new events (a writer job, only when there are any). The outbox's counter says
 * whether commits with events happened since the last complete pass; the outbox is looked at once a
 * second in any case (events written before this process started, or by another process).
 */
static void fan_out(const char *region, mer_db_t *db, const sub_t *subs, size_t nsubs)
{
    region_seen_t *seen = region_seen(region);
    uint64_t wakes = mer_outbox_wakes(region);
    int64_t now = mer_now_unix_ms();
    if (seen && seen->at_ms && seen->wakes == wakes && now - seen->at_ms < RESCAN_MS)
        return;
    /* claims of a node that is gone are free again at once (not only when their lease runs out) */
    int64_t stale = 0;
    if (mer_store_delivery_stale(db, mer_notify_node(), &stale) == 0 && stale &&
        mer_writer_run_sync(region, release_stale, NULL) != 0)
        mer_log_warn("region %s: freeing the deliveries of a node that is gone failed; they wait for their lease",
                     region);
    int64_t waiting = 0;
    if (mer_db_query_int(db, &waiting, "SELECT EXISTS (SELECT 1 FROM outbox WHERE fanned_out = 0)", NULL) != 0)
        return;
    fanout_arg_t fa = {region, subs, nsubs, false};
    if (waiting && mer_writer_run_sync(region, fanout, &fa) != 0) {
        mer_log_warn("region %s: fanning out events failed; they will be fanned out next time", region);
        return;
    }
    if (seen && !fa.full) {
        seen->wakes = wakes; /* read before the pass: commits during it move the counter again */
        seen->at_ms = now;
    }
}

/* Attempts a batch of due deliveries to a built-in subscriber that calls out. Returns how many. */
static size_t deliver_builtin(const char *region, mer_db_t *db, const mer_event_subscriber_t *s)
{
    delivery_t *ds = disp.builtin;
    size_t n = load_due(db, region, s->name, BATCH, ds);
    for (size_t i = 0; i < n; i++) {
        if (mer_now_unix_ms() > ds[0].lease_until - lease_ms() / 2) {
            /* the rest waits for its lease to run out (then any node takes it) rather than outlive its claim */
            for (size_t k = i; k < n; k++)
                free(ds[k].payload);
            n = i;
            break;
        }
        mer_event_t ev = event_of(region, &ds[i]);
        ds[i].ok = s->attempt(&ev, ds[i].ref, ds[i].error, sizeof(ds[i].error)) == 0;
        event_release(&ev);
    }
    record(region, ds, n);
    free_payloads(ds, n);
    return n;
}

/* ---- webhook transfers ----
 * Every webhook POST is an easy handle on the dispatcher's multi handle. A tick starts what may start
 * (per subscriber: not backing off, fewer than PER_SUB transfers in flight; at most MAX_XFERS in all),
 * then drives the transfers for up to SLICE_MS, or until a kick says there are new events, records the
 * finished ones and returns; transfers still running carry over to the next tick, which comes at once. */

static sub_state_t *sub_state(const char *name)
{
    sub_state_t *free_slot = NULL;
    for (size_t i = 0; i < MAX_SUBS; i++) {
        if (strcmp(disp.states[i].name, name) == 0)
            return &disp.states[i];
        if (free_slot == NULL && disp.states[i].name[0] == '\0')
            free_slot = &disp.states[i];
    }
    if (free_slot) {
        memset(free_slot, 0, sizeof(*free_slot));
        snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
    }
    return free_slot;
}

static bool in_flight(const char *region, const char *subscriber, int64_t event)
{
    for (size_t i = 0; i < MAX_XFERS; i++) {
        const xfer_t *x = &disp.xfers[i];
        if (x->easy && x->d.event == event && strcmp(x->region, region) == 0 &&
            strcmp(x->d.subscriber, subscriber) == 0)
            return true;
    }
    return false;
}

static size_t http_sink(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

/* Opens the socket of a webhook connection, after checking the resolved address against the policy. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    xfer_t *x = clientp;
    (void)purpose;
    if (mer_webhook_addr_check(&a->addr, disp.egress, x->refused, sizeof(x->refused)) != 0)
        return CURL_SOCKET_BAD;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void start_webhook(const sub_t *s, sub_state_t *st, const char *region, delivery_t *d)
{
    xfer_t *x = NULL;
    for (size_t i = 0; i < MAX_XFERS && x == NULL; i++)
        if (disp.xfers[i].easy == NULL)
            x = &disp.xfers[i];
    assert(x != NULL); /* callers keep disp.nxfers < MAX_XFERS */
    memset(x, 0, sizeof(*x));
    x->d = *d;
    x->st = st;
    snprintf(x->region, sizeof(x->region), "%s", region);
    char ts[32], sig[128], hdr[200];
    mer_format_utc_ms(d->created_at, ts);
    mer_buf_printf(&x->body, "{\"id\":\"%s\",\"type\":\"%s\",\"created_at\":\"%s\",\"region\":\"%s\",\"data\":%s}",
                   d->event_id, d->type, ts, region, d->payload);
    mer_webhook_sign(s->secret, mer_now_unix_ms() / 1000, x->body.data, x->body.len, sig);
    x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
    snprintf(hdr, sizeof(hdr), "X-Meridian-Signature: %s", sig);
    x->hdrs = curl_slist_append(x->hdrs, hdr);
    snprintf(hdr, sizeof(hdr), "X-Meridian-Event-Id: %s", d->event_id);
    x->hdrs = curl_slist_append(x->hdrs, hdr);
    snprintf(hdr, sizeof(hdr), "X-Meridian-Event-Type: %s", d->type);
    x->hdrs = curl_slist_append(x->hdrs, hdr);
    CURL *c = x->easy = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body.data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)x->body.len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)disp.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(disp.timeout_ms / 3));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_sink);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* the policy judges the subscriber's address, not a proxy's */
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
    curl_easy_setopt(c, CURLOPT_PRIVATE, x);
    curl_multi_add_handle(disp.multi, c);
    st->inflight++;
    disp.nxfers++;
}

typedef struct done {
    char region[MER_REGION_NAME_MAX];
    delivery_t d;
} done_t;

/* A transfer ended: its outcome goes to done[] (recorded per region later), the slot is freed. */
static void finish_webhook(xfer_t *x, CURLcode rc, done_t *done, size_t *ndone)
{
    delivery_t *d = &x->d;
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    bool subscriber_trouble = true; /* counts against the subscriber (its back-off), not just this event */
    if (rc != CURLE_OK && x->refused[0]) {
        /* (a name with several addresses may have been refused one and connected to another) */
        d->result = "refused";
        snprintf(d->error, sizeof(d->error), "%s", x->refused);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        d->result = "timeout";
        snprintf(d->error, sizeof(d->error), "timeout after %lld ms (%s)", (long long)disp.timeout_ms,
                 status ? "answer too slow" : "no answer");
    } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
        d->result = "connect_error";
        snprintf(d->error, sizeof(d->error), "%s", curl_easy_strerror(rc));
    } else if (rc != CURLE_OK) {
        d->result = "error";
        snprintf(d->error, sizeof(d->error), "%s", curl_easy_strerror(rc));
    } else if (status < 200 || status > 299) {
        d->result = "http_error";
        snprintf(d->error, sizeof(d->error), "HTTP %ld", status);
        /* a 4xx other than 429 is about this event; the subscriber itself is up */
        subscriber_trouble = status >= 500 || status == 429 || status < 200;
    } else {
        d->result = "delivered";
        d->ok = true;
        subscriber_trouble = false;
    }
    sub_state_t *st = x->st;
    st->inflight--;
    if (d->ok || !subscriber_trouble) {
        st->failures = 0;
        st->paused_until = 0;
    } else {
        st->failures++;
        st->paused_until = mer_now_unix_ms() + backoff(disp.retry_base_ms, st->failures);
    }
    done_t *out = &done[(*ndone)++];
    memcpy(out->region, x->region, sizeof(out->region));
    out->d = *d; /* the payload moves with it */
    curl_multi_remove_handle(disp.multi, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    mer_buf_release(&x->body);
    x->easy = NULL;
    disp.nxfers--;
}

/* Starts the due webhook deliveries of a region that may start now. */
static void start_region_webhooks(const char *region, mer_db_t *db, const sub_t *subs, size_t nsubs, bool complete,
                                  removed_arg_t *gone)
{
    /* which subscribers have deliveries due (a short list, from the due index) */
    char due[MAX_SUBS * 2][32];
    size_t ndue = 0;
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT DISTINCT subscriber FROM event_delivery WHERE status = 'pending' "
                                 "AND next_attempt_at <= ? AND lease_until < ? AND subscriber LIKE 'webhook:%'",
                                 "ii", mer_now_unix_ms(), mer_now_unix_ms());
    while (mer_rows_next(r) && ndue < MER_ARRAY_LEN(due))
        snprintf(due[ndue++], sizeof(due[0]), "%s", mer_rows_text(r, 0));
    mer_rows_end(r);
    int64_t now = mer_now_unix_ms();
    delivery_t ds[PER_SUB * 2];
    /* round robin, so that the first subscribers cannot take every slot */
    for (size_t k = 0; k < ndue; k++) {
        const char *name = due[(k + disp.rr) % ndue];
        const sub_t *s = find_sub(subs, nsubs, name);
        if (s == NULL) {
            /* deleted while the dispatcher was not looking (e.g. before a restart) */
            if (complete && gone->n < MAX_SUBS)
                memcpy(gone->names[gone->n++], name, sizeof(gone->names[0]));
            continue;
        }
        sub_state_t *st = sub_state(name);
        int cap = st && st->failures ? 1 : PER_SUB;
        if (st == NULL || st->paused_until > now || st->inflight >= cap || disp.nxfers >= MAX_XFERS)
            continue;
        /* claim as many as may start (rows in flight are claimed already: the claim skips them) */
        size_t room = (size_t)(cap - st->inflight);
        if (room > MAX_XFERS - disp.nxfers)
            room = MAX_XFERS - disp.nxfers;
        size_t n = load_due(db, region, name, room, ds);
        for (size_t i = 0; i < n; i++) {
            if (!in_flight(region, name, ds[i].event))
                start_webhook(s, st, region, &ds[i]); /* takes the payload */
            else
                free(ds[i].payload); /* (its earlier claim ran out while it ran: its outcome is not recorded) */
        }
    }
    disp.rr++;
}

/* Drives the transfers for up to slice_ms; records those that end. */
static void run_webhooks(int slice_ms)
{
    done_t done[MAX_XFERS];
    size_t ndone = 0;
    int64_t start = mer_now_unix_ms(), end = start + slice_ms;
    bool kicked = false;
    while (disp.nxfers > 0) {
        int running = 0;
        curl_multi_perform(disp.multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(disp.multi, &left)) != NULL) {
            xfer_t *x = NULL;
            if (m->msg != CURLMSG_DONE || curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK)
                continue;
            finish_webhook(x, m->data.result, done, &ndone);
        }
        /* new events (a kick): go and look for them after GATHER_MS; the transfers carry on meanwhile */
        int64_t wait = (kicked ? start + GATHER_MS : end) - mer_now_unix_ms();
        if (disp.nxfers == 0 || wait <= 0)
            break;
        struct curl_waitfd kick[2] = {{.fd = disp.wake_fd, .events = CURL_WAIT_POLLIN},
                                      {.fd = mer_outbox_wake_fd(), .events = CURL_WAIT_POLLIN}};
        curl_multi_poll(disp.multi, kick, kicked || kick[1].fd < 0 ? 0 : 2, (int)wait, NULL);
        kicked = kicked || kick[0].revents != 0 || kick[1].revents != 0;
    }
    /* one writer job per region for the outcomes */
    const mer_countries_t *cs = mer_countries();
    for (size_t i = 0; i < cs->nregions && ndone; i++) {
        delivery_t ds[MAX_XFERS];
        size_t n = 0;
        for (size_t k = 0; k < ndone; k++)
            if (strcmp(done[k].region, cs->regions[i].name) == 0)
                ds[n++] = done[k].d;
        record(cs->regions[i].name, ds, n);
    }
    for (size_t k = 0; k < ndone; k++)
        free(done[k].d.payload);
}

static void dispatch(void)
{
    /* under load commits kick us constantly: let events gather for a moment, then take them together
     * (with transfers running, run_webhooks() does that) */
    if (disp.nxfers == 0) {
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    eventfd_t drained;
    if (disp.wake_fd >= 0)
        (void)eventfd_read(disp.wake_fd, &drained);
    mer_outbox_wake_drain(); /* before reading: a commit from now on wakes the next tick */
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
    /* an admin asked for a redelivery: the subscriber may be back, so its back-off ends now (while it is
     * failing it still gets one attempt at a time, and a failure starts the next, longer back-off) */
    pthread_mutex_lock(&disp.probe_mu);
    for (size_t k = 0; k < disp.nprobe; k++) {
        sub_state_t *st = sub_state(disp.probe[k]);
        if (st)
            st->paused_until = 0;
    }
    disp.nprobe = 0;
    pthread_mutex_unlock(&disp.probe_mu);
    /* forget the health of subscriptions that are gone and have nothing in flight */
    for (size_t k = 0; k < MAX_SUBS; k++)
        if (disp.states[k].name[0] && disp.states[k].inflight == 0 &&
            find_sub(disp.subs, nsubs, disp.states[k].name) == NULL)
            disp.states[k].name[0] = '\0';
    const mer_countries_t *cs = mer_countries();
    for (size_t i = 0; i < cs->nregions; i++) {
        const char *region = cs->regions[i].name;
        if (!cs->regions[i].local)
            continue;
        if (ra.n && mer_writer_run_sync(region, drop_removed, &ra) != 0)
            mer_log_warn("region %s: giving up deliveries to deleted webhooks failed; they go when next due", region);
        mer_db_t *db = mer_store_reader(region);
        if (db == NULL)
            continue;
        fan_out(region, db, disp.subs, nsubs);
        /* built-in subscribers that call out: keep going while a region has a full batch due */
        const mer_event_subscriber_t *s;
        for (size_t k = 0; (s = mer_events_subscriber_at(k)) != NULL; k++)
            for (int rounds = 0; s->attempt && rounds < 50 && deliver_builtin(region, db, s) == BATCH; rounds++)
                ;
        removed_arg_t gone = {disp.gone, 0};
        start_region_webhooks(region, db, disp.subs, nsubs, complete, &gone);
        if (gone.n && mer_writer_run_sync(region, drop_removed, &gone) != 0)
            mer_log_warn("region %s: giving up deliveries to deleted webhooks failed; they go when next due", region);
    }
    run_webhooks(SLICE_MS);
}

/* The dispatcher thread: a tick, then (unless transfers are running: at once) a wait of up to PERIOD_MS
 * for a kick or for the outbox's counters to move. */
static void *dispatcher_main(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&disp.stopping, memory_order_acquire)) {
        dispatch();
        if (disp.nxfers > 0 || atomic_load_explicit(&disp.stopping, memory_order_acquire))
            continue;
        struct pollfd p[2] = {{.fd = disp.wake_fd, .events = POLLIN}, {.fd = mer_outbox_wake_fd(), .events = POLLIN}};
        (void)poll(p, 2, PERIOD_MS);
    }
    mer_thread_exit();
    return NULL;
}

void mer_events_kick(void)
{
    if (disp.wake_fd >= 0 && eventfd_write(disp.wake_fd, 1) != 0) {
        /* the counter is full: the dispatcher is woken already */
    }
}

void mer_events_probe(const char *subscriber)
{
    pthread_mutex_lock(&disp.probe_mu);
    bool listed = false;
    for (size_t k = 0; k < disp.nprobe && !listed; k++)
        listed = strcmp(disp.probe[k], subscriber) == 0;
    if (!listed && disp.nprobe < MAX_SUBS)
        snprintf(disp.probe[disp.nprobe++], sizeof(disp.probe[0]), "%s", subscriber);
    pthread_mutex_unlock(&disp.probe_mu);
    mer_events_kick();
}

unsigned mer_events_egress_allow(void)
{
    return disp.egress;
}

void mer_events_configure(const mer_events_config_t *cfg)
{
    disp.retry_base_ms = cfg->retry_base_ms > 0 ? cfg->retry_base_ms : 1000;
    disp.timeout_ms = cfg->webhook_timeout_ms > 0 ? cfg->webhook_timeout_ms : 10000;
    disp.egress = cfg->egress_allow;
}

void mer_events_start(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* never closed: a kick may come from a writer's commit hook at any time, even while stopping */
    if (disp.wake_fd < 0)
        disp.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    disp.multi = curl_multi_init();
    curl_multi_setopt(disp.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)MAX_XFERS);
    mer_outbox_init();
    disp.subs = mer_xcalloc(MAX_SUBS, sizeof(*disp.subs));
    atomic_store(&disp.stopping, false);
    if (pthread_create(&disp.tid, NULL, dispatcher_main, NULL) != 0)
        mer_die("cannot start the event dispatcher");
    pthread_setname_np(disp.tid, "events");
    disp.running = true;
}

void mer_events_stop(void)
{
    if (disp.subs == NULL)
        return;
    if (disp.running) {
        atomic_store_explicit(&disp.stopping, true, memory_order_release);
        mer_events_kick();
        pthread_join(disp.tid, NULL);
        disp.running = false;
    }
    /* transfers still running are abandoned: their rows stay pending and are attempted after a restart */
    for (size_t i = 0; i < MAX_XFERS; i++) {
        xfer_t *x = &disp.xfers[i];
        if (x->easy == NULL)
            continue;
        curl_multi_remove_handle(disp.multi, x->easy);
        curl_easy_cleanup(x->easy);
        curl_slist_free_all(x->hdrs);
        mer_buf_release(&x->body);
        free(x->d.payload);
        x->easy = NULL;
    }
    disp.nxfers = 0;
    curl_multi_cleanup(disp.multi);
    disp.multi = NULL;
    free(disp.subs);
    disp.subs = NULL;
    curl_global_cleanup();
}
