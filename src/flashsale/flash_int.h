/*
 * flash_int.h — flash-sale internals shared by model.c, grab.c, admin.c and processor.c.
 *
 * In memory, per node: an immutable array of sales published through an atomic pointer (replaced when
 * a sale is created; old arrays are kept until exit, so readers need no lock). Sales, sessions and items
 * are never freed while serving. Mutable state is atomics (remaining units, sold-out flags, counters)
 * and sharded maps (core/smap.h): reservations, per-buyer counts, rate-limit cells, tokens.
 *
 * Storage (region database, schema v5): flash_sale, flash_session, flash_item hold the configuration;
 * flash_reservation, flash_token and flash_entry the durable facts from which memory is rebuilt. Sale and
 * session ids are given out by the catalogue (flash_sale_id, flash_session_id), one id space for every
 * region, so a sale id names one sale on the whole node however many regions it serves (model.c, "ids").
 *
 * Rate limits (rules.user_rate, rules.ip_rate) are GCRA cells in the session's maps whose times are
 * monotonic nanoseconds, so every rate up to 100000 per second is kept to within 0.01% (in whole
 * milliseconds 600/s would be 1000/s and 400/s would be 500/s). Proofs of work are remembered per
 * customer (grab.c, "proof of work") so that each challenge is accepted once; that memory is process-wide
 * because a challenge is not bound to a sale.
 */
#ifndef MER_FLASH_INT_H
#define MER_FLASH_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/exec.h"
#include "core/smap.h"
#include "flashsale/flash.h"
#include "region/country.h"

#define FS_MAX_ITEMS 16
#define FS_MAX_SESSIONS 16
#define FS_TOKEN_LEN 35 /* "ft_" + 32 hex */

typedef enum { FS_FCFS = 0, FS_QUEUE, FS_DRAW } fs_mode_t;

/* Why a grab or reservation was refused (counted per session for the admin stats). */
#define FS_REASONS(X)                                                                                                  \
    X(NOT_STARTED, "not_started")                                                                                      \
    X(ENDED, "ended")                                                                                                  \
    X(SOLD_OUT, "sold_out")                                                                                            \
    X(NOT_RESERVED, "not_reserved")                                                                                    \
    X(LIMIT, "limit_reached")                                                                                          \
    X(RATE_USER, "rate_limited_user")                                                                                  \
    X(RATE_IP, "rate_limited_ip")                                                                                      \
    X(BLOCKLIST, "blocklist")                                                                                          \
    X(ACCOUNT_AGE, "account_too_new")                                                                                  \
    X(PHONE, "phone_already_won")                                                                                      \
    X(PHONE_REQUIRED, "phone_required")                                                                                \
    X(ADDRESS, "address_already_won")                                                                                  \
    X(DEVICE, "device_already_won")                                                                                    \
    X(CHALLENGE, "challenge_failed")                                                                                   \
    X(WINDOW, "reservation_closed")
typedef enum {
#define FS_REASON_ENUM(name, text) FS_R_##name,
    FS_REASONS(FS_REASON_ENUM)
#undef FS_REASON_ENUM
        FS_R__COUNT
} fs_reason_t;
extern const char *const fs_reason_names[FS_R__COUNT];

typedef struct fs_rules {
    int64_t min_account_age_ms;
    bool one_per_phone, one_per_address, one_per_device;
    int64_t user_interval_ns, user_burst; /* 0 = no limit; 1e9 / per_second */
    int64_t ip_interval_ns, ip_burst;
    int pow_bits;           /* 0 = no challenge */
    int64_t *blocked_users; /* positive ids, sorted ascending (bsearch) */
    size_t nblocked_users;
    char (*blocked_ips)[64]; /* canonical text (fs_ip_canonical), sorted by strcmp */
    size_t nblocked_ips;
} fs_rules_t;

/* Largest blocklists admin create accepts (each of users and ips); lookups are binary searches. */
#define FS_MAX_BLOCKED 10000

typedef struct fs_item {
    int64_t sku_id, product_id;
    char sku[65];
    int64_t price;        /* flash price, minor units */
    int64_t units;        /* total for the session */
    _Atomic int64_t left; /* not yet handed out (shared: this node's allotment) */
    _Atomic int sold_out; /* 1 while left is 0: answered from memory (shared: 0 everywhere) */
    /* shared mode (shared.c), fcfs sessions only: the stock is Redis's, left is this node's allotment */
    bool shared;
    _Atomic int ready;               /* the item's keys are set up in Redis */
    _Atomic int64_t central;         /* Redis's central stock, as last seen (for progress) */
    _Atomic int64_t batch;           /* units the next refill asks for */
    _Atomic int64_t last_refill;     /* monotonic ms of the last refill, to size the next */
    _Atomic int64_t last_grab;       /* monotonic ms of the last grab that took a unit here */
    _Atomic int returned;            /* the session ended and the allotment went back */
    _Atomic int64_t sold_out_lag_us; /* last "sold out everywhere": from Redis's sale to this node's flag */
} fs_item_t;

struct fs_sale;

/*
 * Who took part, as the per-buyer and one-per-* counts see it (an identity hash is 0 when unknown). A
 * buyer has up to two phones: the account's own (login) phone and the phone of the default (delivery)
 * address, both normalised (mer_phone_hash); one_per_phone counts each, so several accounts that share
 * a phone through their addresses get one win between them.
 */
typedef struct fs_buyer {
    int64_t user_id;
    uint64_t phone, address, device;
    uint64_t address_phone;
} fs_buyer_t;

/* A ticket's state: pending until decided; void when its row could not be written (the queue skips it). */
enum { FS_TICKET_PENDING = 0, FS_TICKET_WON, FS_TICKET_LOST, FS_TICKET_VOID };

/* One queued or drawn request, and its outcome. */
typedef struct fs_ticket {
    int64_t seq;
    fs_buyer_t buyer;
    int item;
    _Atomic int state; /* FS_TICKET_* */
    char token[FS_TOKEN_LEN + 1];
    int reason; /* fs_reason_t when lost */
} fs_ticket_t;

typedef struct fs_session {
    int64_t id;
    struct fs_sale *sale;
    int64_t starts_at, ends_at;
    bool reservation_required;
    int64_t res_opens_at, res_closes_at;
    int64_t token_ttl_ms;
    bool cod_allowed;
    int64_t per_user_limit;
    fs_mode_t mode;
    fs_item_t items[FS_MAX_ITEMS];
    int nitems;
    mer_smap_t reservations;               /* user id -> 1 */
    mer_smap_t buyers;                     /* user id -> units won or being won */
    mer_smap_t phones, addresses, devices; /* identity hash -> wins */
    _Atomic uint64_t refusals[FS_R__COUNT];
    _Atomic uint64_t wins;
    _Atomic uint64_t grabs; /* grab requests for this session, for /metrics */
    /* queue and draw modes: tickets[seq - 1] by arrival number, NULL until the ticket's row committed */
    pthread_mutex_t tickets_mu;
    fs_ticket_t **tickets;
    size_t ntickets, tickets_cap; /* ntickets: highest number placed */
    _Atomic int64_t processed;    /* queue: tickets decided so far, in order */
    _Atomic int64_t next_seq;     /* the last ticket number given */
    char seed_commitment[65];     /* draw: SHA-256 of the seed, published before the draw */
    char seed[65];                /* revealed after the draw */
    _Atomic int drawn;
    _Atomic int progress; /* 0..100, last published */
    /* queue with shared entries (processor.c): the number the queue waits for, since (monotonic ms);
     * the processor's thread only */
    int64_t gap_seq, gap_since;
} fs_session_t;

typedef struct fs_sale {
    int64_t id;
    char country[3];
    char region[MER_REGION_NAME_MAX];
    json_t *titles; /* {"en": "...", "hi": "..."} */
    fs_rules_t rules;
    fs_session_t *sessions[FS_MAX_SESSIONS];
    int nsessions;
} fs_sale_t;

typedef struct fs_registry {
    fs_sale_t **sales;
    size_t n;
    struct fs_registry *prev; /* the array it replaced, kept until exit (a reader may still hold it) */
} fs_registry_t;

/* A token's state in memory: issued; used by an order; gone (expired or returned: its unit went back). */
enum { FS_TOKEN_ISSUED = 0, FS_TOKEN_USED, FS_TOKEN_GONE };

/* An issued token, in memory. */
typedef struct fs_token {
    char token[FS_TOKEN_LEN + 1];
    fs_session_t *session;
    int item;
    fs_buyer_t buyer;
    int64_t expires_at;
    _Atomic int state; /* FS_TOKEN_* */
    bool foreign;      /* read from another node's row (fs_token_learn): its unit and counts are not ours */
} fs_token_t;

/* ---- model.c ---- */
extern const char *const fs_mode_names[3]; /* by fs_mode_t: "fcfs", "queue", "draw" */
/* The mode named text, or -1. */
int fs_mode_parse(const char *text);
const fs_registry_t *fs_registry(void);
fs_sale_t *fs_sale_find(int64_t id);
fs_session_t *fs_session_find(fs_sale_t *sale, int64_t session_id);
/* The index of the session's item for sku_id, or -1. */
int fs_item_index(const fs_session_t *s, int64_t sku_id);
void fs_registry_add(fs_sale_t *sale);
/* Start-up: claims the ids of the region's sales and loads them (with the region's writer). */
int fs_load_region(const char *region);
/*
 * While serving (any thread but a loop's): loads the region's sales that are not in memory yet, created
 * by another node on the same database, through this thread's read connection. Returns 0 or an error.
 */
int fs_load_new(const char *region);
/* A reservation another node recorded (its note): held in memory here too. */
void fs_reservation_learn(int64_t session_id, int64_t user_id);
/* Every reservation of the region from its rows (a listener that reconnected may have missed notes). */
int fs_load_reservations(const char *region);
/*
 * Shared queue and draw entries (fs_entries_shared), off the loops, through this thread's read connection:
 * fs_entries_learn places the session's entries numbered from..to that this node does not hold yet (made
 * on another node) and applies their outcomes (won, with the token; lost); fs_queue_learn follows the
 * queue's progress that another node recorded (flash_session.processed); fs_entries_resync does both for
 * every shared session of the region (a listener that reconnected). Return 0 or an error.
 */
int fs_entries_learn(fs_session_t *s, int64_t from, int64_t to);
int fs_queue_learn(fs_session_t *s);
void fs_entries_resync(const char *region);
/* Held while a sale is published, so that fs_load_new and fs_sale_publish never add the same sale twice. */
void fs_load_lock(void);
void fs_load_unlock(void);
/* Stock and per-buyer counts (stock.c): the seam a shared counter would replace. */
bool fs_take_unit(fs_item_t *it);
void fs_return_unit(fs_item_t *it);
/*
 * Raises the buyer's counts, each an atomic check-and-take: the identities the sale's one-per-* rules
 * count (to 1 each), then the buyer's own (to limit). Returns true, or gives back what it took, sets
 * *why to the count that was full and returns false.
 */
/* One count a buyer holds: kind 'u' the account (up to limit), 'p' a phone, 'a' an address, 'd' a device. */
typedef struct fs_count {
    char kind;
    int64_t key, limit;
    fs_reason_t why; /* the refusal when it is full */
} fs_count_t;
/* The counts the sale's rules take for a buyer, in the order they are taken. Returns how many (1..5). */
int fs_buyer_counts(const fs_session_t *s, const fs_buyer_t *b, int64_t limit, fs_count_t c[5]);
bool fs_take_buyer(fs_session_t *s, const fs_buyer_t *b, int64_t limit, fs_reason_t *why);
/* Gives back the counts fs_take_buyer took. */
void fs_release_buyer(fs_session_t *s, const fs_buyer_t *b);
/* Restores them unchecked (rebuilding memory from the rows at start-up). */
void fs_hold_buyer(fs_session_t *s, const fs_buyer_t *b);
/*
 * A token or entry row's buyer: user_id, phone_hash, address_hash, device_hash, address_phone_hash from
 * column col on (model.c). FS_BUYER_COLUMNS is that list, for the queries.
 */
#define FS_BUYER_COLUMNS "user_id, phone_hash, address_hash, device_hash, address_phone_hash"
fs_buyer_t fs_buyer_read(mer_rows_t *r, int col);
/* Gives back everything a token held: its unit and its buyer's counts. */
void fs_token_release(fs_token_t *t);
/* Tokens in memory. */
void fs_token_put(fs_token_t *t);
fs_token_t *fs_token_get(const char *token);
/* The token from memory, else from its row (a token another node issued: several nodes on one database),
 * which it then keeps in memory. db: a connection of the token's region (off the loops); NULL: memory only. */
fs_token_t *fs_token_learn(mer_db_t *db, const char *token);
/* Fast random bytes for tokens (per-thread ChaCha20 stream, seeded from the OS once per thread). */
void fs_random(void *buf, size_t n);
void fs_new_token(char out[FS_TOKEN_LEN + 1]);
/* Marks the sales' cached answers stale (state or progress changed). */
void fs_bump(void);
uint64_t fs_generation(void);
void fs_count_refusal(fs_session_t *s, fs_reason_t r);
/* 0 upcoming, 1 live, 2 sold out, 3 ended */
int fs_session_state(fs_session_t *s, int64_t now);
/* Records an issued token (its row). Runs on the writer thread. Returns 0 or MER_E_INTERNAL. */
int fs_store_token(mer_db_t *db, const fs_token_t *t);

/*
 * Writes the usual text of an IPv4 or IPv6 address (as inet_ntop gives it, which is how a peer address
 * is compared; an IPv4-mapped IPv6 address becomes its IPv4 address). Returns 0, or -1 when in is not
 * an address literal (no names, prefixes or surrounding spaces).
 */
int fs_ip_canonical(const char *in, char out[64]);
fs_sale_t *fs_sale_build(int64_t id, const char *country, const char *region, json_t *titles, json_t *rules);
fs_session_t *fs_session_new(fs_sale_t *sale);
/* Sets the draw seed's published commitment, SHA-256 of the seed (seed_hex: 64 hex digits). */
void fs_session_commit_seed(fs_session_t *s, const char *seed_hex);
/* The next ticket number: arrival order (stock.c). */
int64_t fs_ticket_number(fs_session_t *s);
/* A ticket number given out (here or, with shared entries, by Redis to any node): next_seq is the highest. */
void fs_ticket_seen(fs_session_t *s, int64_t seq);
/* Puts a numbered ticket in its slot (takes tickets_mu). */
void fs_ticket_place(fs_session_t *s, fs_ticket_t *t);
/*
 * A ticket read from its row (shared entries): placed as pending when its slot is empty; a void ticket in
 * the slot (numbered here before this node knew of the row) becomes it. Returns the ticket in the slot;
 * t is freed when it is not that one.
 */
fs_ticket_t *fs_ticket_adopt(fs_session_t *s, fs_ticket_t *t);
/*
 * A ticket's public name, also its voucher: q<session>-<seq> in a queue, d<session>-<seq> in a draw.
 * The draw ranks these very strings, so the published list can be checked.
 */
void fs_ticket_name(const fs_session_t *s, int64_t seq, char out[48]);
/*
 * The draw (stock.c): order receives the indices of tickets sorted by SHA-256(seed || ticket), lowest
 * first. Anyone with the seed and the ticket list can recompute it.
 */
void fs_draw_order(const unsigned char seed[32], const char *const *tickets, size_t n, size_t *order);
/* Publishes the session's progress in whole percent; a change retires cached activity answers. */
void fs_progress(fs_session_t *s);
void fs_model_init(void);

/* ---- the sale service (sale.c): creating a sale, without HTTP ----
 * A new sale is checked by the adapter (admin.c: shapes, country, times, SKUs sold there), then written in
 * two writer jobs and published:
 *   1. fs_sale_number(catalog db, in)   in a job of catalog.db's writer: gives the sale and its sessions
 *                                        ids from the catalogue's id space (unique across regions; model.c)
 *   2. fs_sale_write(region db, in)      in a job of the sale's region writer: the sale's rows
 *   3. fs_sale_publish(in)               after both committed (on any thread): the sale in memory, where
 *                                        grabs find it
 * Each job function returns 0 or a negative error with e describing it (the job's savepoint then undoes its
 * writes; ids given out by a step 1 whose step 2 failed stay unused).
 */
typedef struct fs_item_in {
    int64_t sku_id, product_id, price, units;
    char sku[65];
} fs_item_in_t;

typedef struct fs_session_in {
    int64_t id, starts_at, ends_at, res_opens, res_closes, ttl_ms, limit;
    bool res_required, cod;
    fs_mode_t mode;
    char seed[65]; /* hex of the draw seed, published as its SHA-256 */
    fs_item_in_t items[FS_MAX_ITEMS];
    int nitems;
} fs_session_in_t;

typedef struct fs_sale_in {
    int64_t id; /* set by fs_sale_number */
    int64_t created_at;
    char country[3], region[MER_REGION_NAME_MAX];
    json_t *titles, *rules; /* references the caller owns */
    fs_session_in_t sessions[FS_MAX_SESSIONS];
    int nsessions;
} fs_sale_in_t;

int fs_sale_number(mer_db_t *catalog, fs_sale_in_t *in, mer_verr_t *e);
int fs_sale_write(mer_db_t *db, const fs_sale_in_t *in, mer_verr_t *e);
fs_sale_t *fs_sale_publish(const fs_sale_in_t *in);

/* ---- the grab service (grab.c): a reservation or a grab, decided in memory, without HTTP ----
 * The adapter copies the request into an fs_grab_in_t, calls the service on its loop (no storage: the hot
 * path), and then writes what it decided (the reservation, the token, the entry) through the sale's writer,
 * answering after the commit. A refusal is counted in the session's stats and described in fs_refusal_t.
 */
typedef struct fs_grab_in {
    int64_t user_id, created_at;   /* the customer and its account's creation (Unix ms) */
    fs_buyer_t buyer;              /* the identities the sale's rules count */
    char ip[64];                   /* the client's address; needed only when fs_rules_need_ip() ("" otherwise) */
    const char *sku;               /* grab: the SKU's code (NULL: none sent) */
    const char *challenge, *nonce; /* grab: the proof of work, when the sale asks for one */
    int64_t now;                   /* Unix ms */
} fs_grab_in_t;

typedef struct fs_refusal {
    int err;                /* negative mer_err_t */
    int reason;             /* fs_reason_t, or -1: a malformed request, not counted as a refusal */
    const char *field;      /* the failing field, or NULL */
    int64_t retry_after_ns; /* a rate limit: come back after this long; else 0 */
    char message[200];
} fs_refusal_t;

/* What a grab won: an fcfs token (unit taken), or a queue or draw ticket; the caller records it. */
typedef struct fs_grab {
    fs_token_t *token;
    fs_ticket_t *ticket;
    /* shared mode: the token still needs the shared step (fs_shared_grab) for its unit and counts;
     * local_unit: a unit of this node's allotment was taken for it */
    bool shared, local_unit;
} fs_grab_t;

bool fs_rules_need_ip(const fs_rules_t *ru);
/* May the customer reserve? 0 (with *already when it has), or the refusal's error. */
int fs_reserve_check(fs_sale_t *sale, fs_session_t *s, const fs_grab_in_t *in, bool *already, fs_refusal_t *no);
/* A grab: the checks in order (see grab.c), then the buyer's counts and a unit (fcfs) or a ticket number.
 * Returns 0 with out filled (the caller owns the token or ticket), or the refusal's error. */
int fs_grab(fs_sale_t *sale, fs_session_t *s, const fs_grab_in_t *in, fs_grab_t *out, fs_refusal_t *no);

/* ---- the shared flash sale (shared.c): several nodes, one stock in Redis ----
 * With `serve --redis URL` the stock of every fcfs session lives in Redis; each node sells from an
 * allotment taken in batches, and each win takes the buyer's counts and one unit of the node's allotment
 * in one Lua script, so no unit is sold twice and no buyer goes over a limit on any number of nodes.
 * Queue and draw entries take their numbers and counts in Redis (fs_shared_enter) and are decided from the
 * database (processor.c); the rate limits are split between the nodes (fs_shared_nodes). See shared.c for
 * the keys and the scripts.
 */
/* Reads the URL (redis://HOST:PORT[/DB]); NULL: off. Returns 0, or -1 on a malformed URL. */
int fs_shared_configure(const char *url);
bool fs_shared_on(void);
/* Redis answers (the last command of this node succeeded): else grabs are refused at once (503). */
bool fs_shared_up(void);
/*
 * Nodes that share the sales (holding a lease, as this node's last renewal saw them, every second); 1 when
 * not shared. Rate limits: each node enforces 1/n of a sale's rate and burst (grab.c, rules_check), so
 * nothing is sent to Redis per grab for them.
 */
int64_t fs_shared_nodes(void);
/* After the sales are loaded: marks fcfs items shared, connects, starts the threads. */
void fs_shared_start(void);
/* A sale created while serving. */
void fs_shared_add(fs_sale_t *sale);
/* Shutdown, with the producers: stops the maintenance. */
void fs_shared_stop(void);
/* After every worker and writer stopped (a failed write may still give a unit back until then): sends
 * what is queued, gives the allotments back, drops the lease, stops the threads. */
void fs_shared_release(void);

/* A grab's shared step, on the Redis thread; done() then runs on the submitting loop. */
typedef struct fs_shared_grab fs_shared_grab_t;
struct fs_shared_grab {
    mer_job_t job;
    fs_session_t *s;
    int item;
    fs_buyer_t buyer;
    bool local_unit;              /* a unit of the local allotment was taken for it */
    char token[FS_TOKEN_LEN + 1]; /* the win's token: its pending entry until the row commits */
    /* the outcome: 0 won (a unit and the counts are taken); FS_SHARED_* else */
    int status;
    fs_reason_t why; /* FS_SHARED_REFUSED: the count that was full */
    void (*done)(fs_shared_grab_t *g);
    fs_shared_grab_t *next; /* private: the list of grabs waiting for the next call */
};
enum { FS_SHARED_WON = 0, FS_SHARED_REFUSED, FS_SHARED_SOLD_OUT, FS_SHARED_UNAVAILABLE };
/*
 * A queue or draw entry's shared step (serve --redis): the buyer's counts (one ticket per buyer, one per
 * identity as the rules say) and the entry's number, from one counter per session in Redis, in one script:
 * every node numbers its entries in one arrival order. On the Redis thread; done() then runs on the
 * submitting loop with status FS_SHARED_WON (seq set), FS_SHARED_REFUSED (why) or FS_SHARED_UNAVAILABLE.
 */
typedef struct fs_shared_entry fs_shared_entry_t;
struct fs_shared_entry {
    mer_job_t job;
    fs_session_t *s;
    fs_buyer_t buyer;
    int status;
    fs_reason_t why;
    int64_t seq;
    void (*done)(fs_shared_entry_t *e);
};
/* Are the session's queue or draw entries shared across nodes (serve --redis, a queue or draw session)? */
static inline bool fs_entries_shared(const fs_session_t *s)
{
    return s->mode != FS_FCFS && fs_shared_on();
}
/* Queues e. Returns 0, or MER_E_UNAVAILABLE at once (Redis is down, or stopping) without queuing. */
int fs_shared_enter(fs_shared_entry_t *e);
/*
 * An entry that was not recorded (own: the buyer's own count too, it may try again), or a ticket that lost
 * (own false: one ticket per buyer stays taken, as its row does): its buyer's counts back (fire and forget).
 */
void fs_shared_release_counts(fs_session_t *s, const fs_buyer_t *b, bool own);
/* Queues g. Returns 0, or MER_E_UNAVAILABLE at once (Redis is down) without queuing (g untouched). */
int fs_shared_grab(fs_shared_grab_t *g);
/* A won unit whose token was not recorded: the unit back to this node's allotment, the counts released. */
void fs_shared_unwin(fs_session_t *s, int item, const fs_buyer_t *b, const char *token);
/* A win's row committed: its pending entry in Redis can go (sent in batches by the ticker). */
void fs_shared_confirm(const char *token);
/* A token expired or returned (processor): its unit back to the central stock, the counts released. */
void fs_shared_restock(fs_session_t *s, int item, const fs_buyer_t *b);
/* Units not yet handed out, this node's view (progress): left, plus the central stock in shared mode. */
int64_t fs_item_remaining(fs_item_t *it);

/* ---- grab.c / admin.c / processor.c ---- */
void fs_grab_init(void); /* the proof-of-work key and its replay set */
extern const mer_routes_t fs_grab_routes, fs_admin_routes;
void fs_processor_start(void);
void fs_processor_stop(void);
void fs_processor_kick(void);

#endif
