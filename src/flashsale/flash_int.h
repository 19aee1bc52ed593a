/*
 * flash_int.h — flash-sale internals shared by model.c, grab.c, admin.c and processor.c.
 *
 * In memory, per node: an immutable array of sales published through an atomic pointer (replaced when
 * a sale is created; old arrays are kept until exit, so readers need no lock). Sales, sessions and items
 * are never freed while serving. Mutable state is atomics (remaining units, sold-out flags, counters)
 * and sharded maps (core/smap.h): reservations, per-buyer counts, rate-limit cells, tokens.
 *
 * Storage (region database, schema v5): flash_sale, flash_session, flash_item hold the configuration;
 * flash_reservation, flash_token and flash_entry the durable facts from which memory is rebuilt.
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

#include "core/smap.h"
#include "flashsale/flash.h"
#include "region/country.h"

#define FS_MAX_ITEMS 16
#define FS_MAX_SESSIONS 16
#define FS_TOKEN_LEN 35 /* "ft_" + 32 hex */

typedef enum { FS_FCFS = 0, FS_QUEUE, FS_DRAW } fs_mode_t;

/* Why a grab or reservation was refused (counted per session for the admin stats). */
#define FS_REASONS(X)                                                                                                  \
    X(NOT_STARTED, "not_started")                                                                                    \
    X(ENDED, "ended")                                                                                                \
    X(SOLD_OUT, "sold_out")                                                                                          \
    X(NOT_RESERVED, "not_reserved")                                                                                  \
    X(LIMIT, "limit_reached")                                                                                        \
    X(RATE_USER, "rate_limited_user")                                                                                \
    X(RATE_IP, "rate_limited_ip")                                                                                    \
    X(BLOCKLIST, "blocklist")                                                                                        \
    X(ACCOUNT_AGE, "account_too_new")                                                                                \
    X(PHONE, "phone_already_won")                                                                                    \
    X(ADDRESS, "address_already_won")                                                                                \
    X(DEVICE, "device_already_won")                                                                                  \
    X(CHALLENGE, "challenge_failed")                                                                                 \
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
    int pow_bits;                         /* 0 = no challenge */
    int64_t *blocked_users;               /* positive ids, sorted ascending (bsearch) */
    size_t nblocked_users;
    char (*blocked_ips)[64];              /* canonical text (fs_ip_canonical), sorted by strcmp */
    size_t nblocked_ips;
} fs_rules_t;

/* Largest blocklists admin create accepts (each of users and ips); lookups are binary searches. */
#define FS_MAX_BLOCKED 10000

typedef struct fs_item {
    int64_t sku_id, product_id;
    char sku[65];
    int64_t price;      /* flash price, minor units */
    int64_t units;      /* total for the session */
    _Atomic int64_t left;   /* not yet handed out */
    _Atomic int sold_out;   /* 1 while left is 0: answered from memory */
} fs_item_t;

struct fs_sale;

/* One queued or drawn request, and its outcome. */
typedef struct fs_ticket {
    int64_t seq;
    int64_t user_id;
    int item;
    uint64_t phone, address, device;
    _Atomic int state; /* 0 pending, 1 won, 2 lost */
    bool voided;       /* its row could not be written: the queue skips it */
    char token[FS_TOKEN_LEN + 1];
    int reason;        /* fs_reason_t when lost */
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
    mer_smap_t reservations; /* user id -> 1 */
    mer_smap_t buyers;       /* user id -> units won or being won */
    mer_smap_t phones, addresses, devices; /* identity hash -> wins */
    _Atomic uint64_t refusals[FS_R__COUNT];
    _Atomic uint64_t wins;
    /* queue and draw modes: tickets[seq - 1] by arrival number, NULL until the ticket's row committed */
    pthread_mutex_t tickets_mu;
    fs_ticket_t **tickets;
    size_t ntickets, tickets_cap; /* ntickets: highest number placed */
    _Atomic int64_t processed;    /* queue: tickets decided so far, in order */
    _Atomic int64_t next_seq;     /* the last ticket number given */
    char seed_commitment[65];  /* draw: SHA-256 of the seed, published before the draw */
    char seed[65];             /* revealed after the draw */
    _Atomic int drawn;
    _Atomic int progress;      /* 0..100, last published */
} fs_session_t;

typedef struct fs_sale {
    int64_t id;
    char country[3];
    char region[MER_REGION_NAME_MAX];
    json_t *titles; /* {"en": "...", "hi": "..."} */
    fs_rules_t rules;
    fs_session_t *sessions[FS_MAX_SESSIONS];
    int nsessions;
    int64_t created_at;
} fs_sale_t;

typedef struct fs_registry {
    fs_sale_t **sales;
    size_t n;
} fs_registry_t;

/* An issued token, in memory. */
typedef struct fs_token {
    char token[FS_TOKEN_LEN + 1];
    fs_session_t *session;
    int item;
    int64_t user_id;
    int64_t expires_at;
    uint64_t phone, address, device;
    _Atomic int state; /* 0 issued, 1 in checkout, 2 used, 3 gone (expired / returned) */
} fs_token_t;

/* ---- model.c ---- */
const fs_registry_t *fs_registry(void);
fs_sale_t *fs_sale_find(int64_t id);
fs_session_t *fs_session_find(fs_sale_t *sale, int64_t session_id);
void fs_registry_add(fs_sale_t *sale);
int fs_load_region(const char *region);
/* Stock and per-buyer counts: the seam a shared counter would replace. */
bool fs_take_unit(fs_item_t *it);
void fs_return_unit(fs_item_t *it);
/* Tokens in memory. */
void fs_token_put(fs_token_t *t);
fs_token_t *fs_token_get(const char *token);
/* Gives back the per-buyer and identity counts a grab or ticket took (stock.c). */
void fs_release_buyer(fs_session_t *s, int64_t user_id, uint64_t phone, uint64_t address, uint64_t device);
/* Fast random bytes for tokens (per-thread ChaCha20 stream, seeded from the OS once per thread). */
void fs_random(void *buf, size_t n);
void fs_new_token(char out[FS_TOKEN_LEN + 1]);
/* Marks the sales' cached answers stale (state or progress changed). */
void fs_bump(void);
uint64_t fs_generation(void);
void fs_count_refusal(fs_session_t *s, fs_reason_t r);
/* 0 upcoming, 1 live, 2 sold out, 3 ended */
int fs_session_state(fs_session_t *s, int64_t now);
/* Writer job: records issued tokens (one row each). Runs on the writer thread. */
int fs_store_tokens(mer_db_t *db, fs_token_t **tokens, size_t n);

/*
 * Writes the usual text of an IPv4 or IPv6 address (as inet_ntop gives it, which is how a peer address
 * is compared; an IPv4-mapped IPv6 address becomes its IPv4 address). Returns 0, or -1 when in is not
 * an address literal (no names, prefixes or surrounding spaces).
 */
int fs_ip_canonical(const char *in, char out[64]);
fs_sale_t *fs_sale_build(int64_t id, const char *country, const char *region, json_t *titles, json_t *rules,
                         int64_t created_at);
fs_session_t *fs_session_new(fs_sale_t *sale);
/* The next ticket number: arrival order (stock.c). */
int64_t fs_ticket_number(fs_session_t *s);
/* Puts a numbered ticket in its slot (takes tickets_mu). */
void fs_ticket_place(fs_session_t *s, fs_ticket_t *t);
/*
 * The draw (stock.c): order receives the indices of tickets sorted by SHA-256(seed || ticket), lowest
 * first. Anyone with the seed and the ticket list can recompute it.
 */
void fs_draw_order(const unsigned char seed[32], const char *const *tickets, size_t n, size_t *order);
void fs_progress(fs_session_t *s);
void fs_model_init(void);

/* ---- grab.c / admin.c / processor.c ---- */
void fs_routes_init(void);
void fs_admin_init(void);
void fs_processor_start(void);
void fs_processor_stop(void);
void fs_processor_kick(void);
/* Parses admin input into a new sale (not yet stored). Returns 0 or answers the error and -1. */

#endif
