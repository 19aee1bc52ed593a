/*
 * shared.c — one flash sale on several nodes: the stock, the buyers' counts and "sold out" in Redis.
 *
 * Keys (prefix mer:fs:, <it> = <session id>:<item index>; session ids are unique across regions):
 *   <it>:stock         the central stock: units no node holds
 *   <it>:alloc         hash node id -> units allotted to that node and not yet sold
 *   <it>:out           exists while the item is sold out everywhere (stock 0 and every allotment 0)
 *   <sid>:b:<k>:<key>  a buyer's count in a session (k: u account, p phone, a address, d device)
 *   node:<id>          a node's lease: set for LEASE_MS, renewed every second while the node lives
 *   nodes              sorted set node id -> end of its lease (Redis's clock, ms): how many nodes share the
 *                      rate limits (fs_shared_nodes)
 *   allocs             the set of <it> with allotments, which the reaper walks
 *   pend:<node>        hash token -> "stock key|out key|open message|count keys...": the node's wins
 *                      whose rows are not confirmed yet
 *   pendnodes          the set of nodes with such a hash
 *   <sid>:seq          a queue or draw session's last ticket number (ENTRY), one order for every node
 *   channel events     "sold <sid> <item>" and "open <sid> <item>"
 *
 * Invariant, per item, at any moment: units = stock + sum(alloc) + pending wins not yet recorded +
 * outstanding tokens + sold. Every change is one Lua script:
 *   GRAB    (a grab) takes the buyer's counts (each INCR checked against its limit, all undone if one
 *           is full), a batch from stock into alloc[node] when the node asked for one (or its allotment
 *           is gone from Redis), then one unit of alloc[node] (the counts undone when there is none).
 *           A unit is sold only while alloc[node] >= 1 in Redis, so the node's local copy of its
 *           allotment is only a hint: however stale (a reaped lease, a lost answer), nothing is sold
 *           twice. The win stays in pend:<node> until its row commits (the ticker then drops it, in
 *           batches). When stock and every allotment are 0 the script sets <it>:out, publishes "sold".
 *   UNWIN   a win whose token row did not commit: its unit back to alloc[node], the counts released.
 *   RESTOCK a token expired or returned: its unit back to stock, the counts released, "open" published.
 *   RETURN  n units (or all of them) of alloc[node] back to stock: idle allotments, the session's end,
 *           shutdown.
 *   REAP    the allotments of nodes whose lease expired back to stock (each node reaps every second).
 *   LEASE   renews the node's lease and counts the nodes holding one (rate limits are split by it).
 *   ENTRY   a queue or draw entry: the buyer's counts, then the session's next ticket number.
 *   RELEASE an unrecorded entry's or a losing ticket's counts back.
 *   RESOLVE pending wins that will never get a row, back to stock with their counts released: a grab
 *           whose answer was lost with the connection (this node wrote no row for it), and, once a dead
 *           node's lease expired, each of its pending wins without a row in the database.
 * Redis must keep every write it acknowledged through a crash: appendonly yes, appendfsync always
 * (tests/redis/redis.sh).
 *
 * Fencing. A node that stands still for longer than its lease without dying (SIGSTOP, a VM paused) keeps
 * its database connection and may hold a win still to commit when it wakes up, after another node has
 * resolved that win and sold its unit again. The region database decides which happened: a win's row
 * commits together with a flash_fence row 'won', and the node that resolves a dead node's win first
 * commits a flash_fence row 'void' for it (fence()); the token is the fence's primary key, so exactly one
 * of the two commits and the other finds the row taken (the frozen node's grab answers 503, nothing
 * recorded; or the resolver learns that the win did commit, and only drops its pending entry). UNWIN runs
 * only while the win is still pending, so a unit is never given back twice.
 *
 * Threads: grabs' scripts run on one "redis" executor thread (core/exec.h) that owns its connection,
 * batched (every grab that arrived during the previous call goes in the next one), each completing on
 * the loop that asked; the maintenance ticker (lease, reaper, set-up, returns, the
 * sold-out flags' resync) has its own connection, and so has the subscriber thread.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "flashsale/flash_int.h"
#include "store/store.h"
#include "store/ticker.h"
#include "core/banned.h"

#define LEASE_MS 5000     /* a dead node's allotment returns within LEASE_MS + REAP_MS */
#define REAP_MS 1000      /* lease renewal and reaping */
#define TICK_MS 250       /* maintenance */
#define IDLE_MS 1000      /* an allotment without a grab for this long goes back */
#define CONNECT_MS 200    /* connection timeout */
#define COMMAND_MS 500    /* command timeout: Redis gone answers 503 this fast */
#define BATCH_MAX 128     /* largest allotment taken at once */
#define GRABS_PER_CALL 64 /* grabs sent in one EVALSHA at most */
#define CHANNEL "mer:fs:events"

static char host[256];
static int port, dbnum;
static bool on;
static _Atomic int up;
static _Atomic int nodes = 1; /* nodes holding a lease, as the last renewal saw them */
static char node[33];
static mer_exec_t *exec;
static mer_ticker_t ticker = MER_TICKER_INIT;
static redisContext *grab_conn;  /* the executor thread's */
static redisContext *maint_conn; /* the ticker's (and the main thread's at start and stop) */
static pthread_t sub_tid;
static bool sub_running;
static _Atomic int sub_stopping;
static _Atomic int sub_fd = -1;
static int64_t last_reap;

/* ---- the scripts ---- */

enum {
    S_INIT,
    S_GRAB,
    S_UNWIN,
    S_RESTOCK,
    S_RETURN,
    S_REAP,
    S_STATUS,
    S_RESOLVE,
    S_LEASE,
    S_ENTRY,
    S_RELEASE,
    S__COUNT
};

/* KEYS: stock, allocs, out; ARGV: initial stock, <it> */
static const char init_lua[] = "if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end\n"
                               "redis.call('SADD', KEYS[2], ARGV[2])\n"
                               "return {tonumber(redis.call('GET', KEYS[1])), redis.call('EXISTS', KEYS[3])}\n";

/*
 * Several grabs in one call (those queued while the previous call was out), each as on its own: for grab
 * g, KEYS: stock, alloc, out, counts...; ARGV: want, batch, msg, ncounts, limits... (after ARGV[1] node and
 * ARGV[2] the number of grabs). Per grab, the buyer's counts first (a buyer over a limit hears so whatever
 * the stock, and takes no batch), then a unit. Returns four numbers per grab: status (0 won, i > 0 count i
 * full, -1 no unit), got (units moved from stock to alloc[node]: the node adds them to its allotment),
 * out (sold out everywhere: stock and every allotment 0, marked and published here), and the stock.
 */
static const char grab_lua[] =
    "local node = ARGV[1]\n"
    "local function soldcheck(stock, alloc, out, msg)\n"
    "  if tonumber(redis.call('GET', stock) or '0') > 0 then return 0 end\n"
    "  for _, v in ipairs(redis.call('HVALS', alloc)) do if tonumber(v) > 0 then return 0 end end\n"
    "  if redis.call('SET', out, '1', 'NX') then\n"
    "    local t = redis.call('TIME')\n"
    "    redis.call('PUBLISH', '" CHANNEL "', msg .. ' ' .. t[1] .. string.format('%06d', tonumber(t[2])))\n"
    "  end\n"
    "  return 1\n"
    "end\n"
    "local function one(k, a)\n"
    "  local stock, alloc, out = KEYS[k], KEYS[k + 1], KEYS[k + 2]\n"
    "  local want, batch, msg, token = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2], ARGV[a + 3]\n"
    "  local n = tonumber(ARGV[a + 4])\n"
    "  for i = 1, n do\n"
    "    if redis.call('INCR', KEYS[k + 2 + i]) > tonumber(ARGV[a + 4 + i]) then\n"
    "      for j = 1, i do redis.call('DECR', KEYS[k + 2 + j]) end\n"
    "      return i, 0, 0\n"
    "    end\n"
    "  end\n"
    "  local mine = tonumber(redis.call('HGET', alloc, node) or '0')\n"
    "  local got = 0\n"
    "  if mine < 1 then want = math.max(want, batch) end\n"
    "  if want > 0 then\n"
    "    got = math.min(want, tonumber(redis.call('GET', stock) or '0'))\n"
    "    if got > 0 then\n"
    "      redis.call('DECRBY', stock, got)\n"
    "      mine = redis.call('HINCRBY', alloc, node, got)\n"
    "    end\n"
    "  end\n"
    "  if mine < 1 then\n"
    "    for j = 1, n do redis.call('DECR', KEYS[k + 2 + j]) end\n"
    "    return -1, got, soldcheck(stock, alloc, out, msg)\n"
    "  end\n"
    "  redis.call('HINCRBY', alloc, node, -1)\n"
    "  local meta = stock .. '|' .. out .. '|open' .. string.sub(msg, 5)\n"
    "  for j = 1, n do meta = meta .. '|' .. KEYS[k + 2 + j] end\n"
    "  redis.call('HSET', 'mer:fs:pend:' .. node, token, meta)\n"
    "  redis.call('SADD', 'mer:fs:pendnodes', node)\n"
    "  return 0, got, soldcheck(stock, alloc, out, msg)\n"
    "end\n"
    "local res, k, a = {}, 1, 3\n"
    "for g = 1, tonumber(ARGV[2]) do\n"
    "  local st, got, out = one(k, a)\n"
    "  local n = tonumber(ARGV[a + 4])\n"
    "  res[#res + 1] = st\n"
    "  res[#res + 1] = got\n"
    "  res[#res + 1] = out\n"
    "  res[#res + 1] = tonumber(redis.call('GET', KEYS[k]) or '0')\n"
    "  k, a = k + 3 + n, a + 5 + n\n"
    "end\n"
    "return res\n";

/*
 * KEYS: stock, alloc, out, counts...; ARGV: node, msg, token. Only while the win is still pending: a win
 * another node resolved (this node's lease ran out meanwhile) gave its unit back already. Returns 1 when
 * the unit went back to alloc[node], else 0.
 */
static const char unwin_lua[] =
    "if redis.call('HDEL', 'mer:fs:pend:' .. ARGV[1], ARGV[3]) == 0 then return 0 end\n"
    "redis.call('HINCRBY', KEYS[2], ARGV[1], 1)\n"
    "for i = 4, #KEYS do\n"
    "  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end\n"
    "end\n"
    "if redis.call('DEL', KEYS[3]) == 1 then redis.call('PUBLISH', '" CHANNEL "', ARGV[2]) end\n"
    "return 1\n";

/* KEYS: stock, alloc, out, counts...; ARGV: msg. */
static const char restock_lua[] =
    "redis.call('INCR', KEYS[1])\n"
    "for i = 4, #KEYS do\n"
    "  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end\n"
    "end\n"
    "if redis.call('DEL', KEYS[3]) == 1 then redis.call('PUBLISH', '" CHANNEL "', ARGV[1]) end\n"
    "return 1\n";

/* KEYS: stock, alloc, out; ARGV: node, n (-1: all), msg. Returns the units given back. */
static const char return_lua[] =
    "local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')\n"
    "local n = tonumber(ARGV[2])\n"
    "if n < 0 or n > mine then n = mine end\n"
    "if n <= 0 then return 0 end\n"
    "if redis.call('HINCRBY', KEYS[2], ARGV[1], -n) <= 0 then "
    "redis.call('HDEL', KEYS[2], ARGV[1]) end\n"
    "redis.call('INCRBY', KEYS[1], n)\n"
    "if redis.call('DEL', KEYS[3]) == 1 then redis.call('PUBLISH', '" CHANNEL "', ARGV[3]) end\n"
    "return n\n";

/*
 * KEYS: allocs. Gives back the allotments of nodes without a lease. The keys it touches are derived from
 * the set's members (a standalone Redis allows it; a cluster would need one script per item).
 */
static const char reap_lua[] = "local total = 0\n"
                               "for _, it in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
                               "  local alloc = 'mer:fs:' .. it .. ':alloc'\n"
                               "  local h = redis.call('HGETALL', alloc)\n"
                               "  for i = 1, #h, 2 do\n"
                               "    if redis.call('EXISTS', 'mer:fs:node:' .. h[i]) == 0 then\n"
                               "      local v = tonumber(h[i + 1])\n"
                               "      redis.call('HDEL', alloc, h[i])\n"
                               "      if v > 0 then\n"
                               "        redis.call('INCRBY', 'mer:fs:' .. it .. ':stock', v)\n"
                               "        total = total + v\n"
                               "        if redis.call('DEL', 'mer:fs:' .. it .. ':out') == 1 then\n"
                               "          local sid, idx = string.match(it, '(%d+):(%d+)')\n"
                               "          redis.call('PUBLISH', '" CHANNEL "', 'open ' .. sid .. ' ' .. idx)\n"
                               "        end\n"
                               "      end\n"
                               "    end\n"
                               "  end\n"
                               "end\n"
                               "return total\n";

/*
 * ARGV: node, tokens...: wins of that node whose rows never committed (its grab's answer was lost, or the
 * node died): each pending entry (stock|out|open message|counts...) gives its unit back to the stock and
 * releases the counts, once. Returns how many.
 */
static const char resolve_lua[] =
    "local pend, done = 'mer:fs:pend:' .. ARGV[1], 0\n"
    "for i = 2, #ARGV do\n"
    "  local meta = redis.call('HGET', pend, ARGV[i])\n"
    "  if meta then\n"
    "    local p = {}\n"
    "    for part in string.gmatch(meta, '[^|]+') do p[#p + 1] = part end\n"
    "    redis.call('INCR', p[1])\n"
    "    for j = 4, #p do\n"
    "      if tonumber(redis.call('GET', p[j]) or '0') > 0 then redis.call('DECR', p[j]) end\n"
    "    end\n"
    "    if redis.call('DEL', p[2]) == 1 then redis.call('PUBLISH', '" CHANNEL "', p[3]) end\n"
    "    redis.call('HDEL', pend, ARGV[i])\n"
    "    done = done + 1\n"
    "  end\n"
    "end\n"
    "return done\n";

/* KEYS: stock, out. */
static const char status_lua[] =
    "return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('EXISTS', KEYS[2])}\n";

/*
 * KEYS: nodes (sorted set node -> lease end, Redis's clock in ms); ARGV: node, lease ms. Renews the node's
 * lease (the key the reaper checks, and its entry in the set), drops the entries that ran out, and returns
 * how many nodes hold a lease: the share of a rate limit each node enforces (fs_shared_nodes).
 */
static const char lease_lua[] = "redis.call('SET', 'mer:fs:node:' .. ARGV[1], '1', 'PX', ARGV[2])\n"
                                "local t = redis.call('TIME')\n"
                                "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
                                "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])\n"
                                "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
                                "return redis.call('ZCARD', KEYS[1])\n";

/*
 * A queue or draw entry. KEYS: seq, counts...; ARGV: highest number this node has seen (the counter's
 * floor, should its key be gone), limits.... The buyer's counts, each checked against its limit (all undone
 * if one is full), then the next number of the session: arrival order across every node. Returns {0, seq},
 * or {i, 0} when count i is full.
 */
static const char entry_lua[] = "for i = 2, #KEYS do\n"
                                "  if redis.call('INCR', KEYS[i]) > tonumber(ARGV[i]) then\n"
                                "    for j = 2, i do redis.call('DECR', KEYS[j]) end\n"
                                "    return {i - 1, 0}\n"
                                "  end\n"
                                "end\n"
                                "if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end\n"
                                "return {0, redis.call('INCR', KEYS[1])}\n";

/* KEYS: counts: an entry that was not recorded, or a ticket that lost, gives its buyer's counts back. */
static const char release_lua[] =
    "for i = 1, #KEYS do\n"
    "  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end\n"
    "end\n"
    "return 1\n";

static const char *const scripts[S__COUNT] = {init_lua,   grab_lua,    unwin_lua, restock_lua, return_lua, reap_lua,
                                              status_lua, resolve_lua, lease_lua, entry_lua,   release_lua};

static char shas[S__COUNT][41]; /* set once at the first connection; a restarted Redis gets them again */

/* ---- connections ---- */

static void conn_drop(redisContext **c)
{
    if (*c)
        redisFree(*c);
    *c = NULL;
}

/* Loads the scripts on c (SCRIPT LOAD is idempotent: the same text has the same SHA-1). */
static bool load_scripts(redisContext *c)
{
    for (int i = 0; i < S__COUNT; i++) {
        redisReply *rep = redisCommand(c, "SCRIPT LOAD %s", scripts[i]);
        bool ok = rep && rep->type == REDIS_REPLY_STRING && rep->len == 40;
        if (ok)
            memcpy(shas[i], rep->str, 41);
        else if (rep && rep->type == REDIS_REPLY_ERROR)
            mer_log_error("redis: script %d: %s", i, rep->str);
        if (rep)
            freeReplyObject(rep);
        if (!ok)
            return false;
    }
    return true;
}

/* A connection that answers, or NULL (and the node is marked down). */
static redisContext *conn_get(redisContext **c)
{
    if (*c && (*c)->err == 0)
        return *c;
    conn_drop(c);
    struct timeval ct = {0, CONNECT_MS * 1000}, rt = {0, COMMAND_MS * 1000};
    redisContext *n = redisConnectWithTimeout(host, port, ct);
    if (n == NULL || n->err) {
        if (n)
            redisFree(n);
        atomic_store(&up, 0);
        return NULL;
    }
    redisSetTimeout(n, rt);
    redisReply *rep = dbnum ? redisCommand(n, "SELECT %d", dbnum) : NULL;
    bool ok = dbnum == 0 || (rep && rep->type == REDIS_REPLY_STATUS);
    if (rep)
        freeReplyObject(rep);
    if (!ok || !load_scripts(n)) {
        redisFree(n);
        atomic_store(&up, 0);
        return NULL;
    }
    *c = n;
    return n;
}

/*
 * EVALSHA of script on *c with keys and args (argv strings), connecting first when *c is NULL or broken.
 * NULL: no answer (the node is marked down; the script may or may
 * not have run, so callers assume the worse for the stock: a unit taken, none given).
 */
static redisReply *eval_argv(redisContext **c, int argc, const char **argv)
{
    redisContext *cx = conn_get(c);
    if (cx == NULL)
        return NULL;
    redisReply *rep = redisCommandArgv(cx, argc, argv, NULL);
    if (rep == NULL) {
        conn_drop(c);
        atomic_store(&up, 0);
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        mer_log_error("redis: %s", rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

static redisReply *eval(redisContext **c, int script, int nkeys, const char **keys, int nargs, const char **args)
{
    const char *argv[40];
    char nk[12];
    int n = 0;
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[n++] = "EVALSHA";
    argv[n++] = shas[script];
    argv[n++] = nk;
    for (int i = 0; i < nkeys; i++)
        argv[n++] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[n++] = args[i];
    return eval_argv(c, n, argv);
}

static int64_t rep_int(const redisReply *rep, size_t i)
{
    if (rep->type == REDIS_REPLY_INTEGER)
        return i == 0 ? rep->integer : 0;
    if (rep->type != REDIS_REPLY_ARRAY || i >= rep->elements || rep->element[i]->type != REDIS_REPLY_INTEGER)
        return 0;
    return rep->element[i]->integer;
}

/* The keys of item it: stock, alloc, out (k: 3 slots of 64 bytes). */
static void item_keys(const fs_session_t *s, int item, char k[3][64])
{
    snprintf(k[0], 64, "mer:fs:%lld:%d:stock", (long long)s->id, item);
    snprintf(k[1], 64, "mer:fs:%lld:%d:alloc", (long long)s->id, item);
    snprintf(k[2], 64, "mer:fs:%lld:%d:out", (long long)s->id, item);
}

static void msg(char out[64], const char *what, const fs_session_t *s, int item)
{
    snprintf(out, 64, "%s %lld %d", what, (long long)s->id, item);
}

/* Keys and limits of a buyer's counts after the item's three keys; returns how many. */
static int count_keys(const fs_session_t *s, const fs_buyer_t *b, fs_count_t c[5], char ck[5][80], char cl[5][24])
{
    int n = fs_buyer_counts(s, b, s->per_user_limit, c);
    for (int i = 0; i < n; i++) {
        snprintf(ck[i], 80, "mer:fs:%lld:b:%c:%lld", (long long)s->id, c[i].kind, (long long)c[i].key);
        snprintf(cl[i], 24, "%lld", (long long)c[i].limit);
    }
    return n;
}

static void set_sold_out(fs_item_t *it, bool out)
{
    if (atomic_exchange(&it->sold_out, out ? 1 : 0) != (out ? 1 : 0))
        fs_bump();
}

/* ---- configuration ---- */

int fs_shared_configure(const char *url)
{
    if (url == NULL || *url == '\0')
        return 0;
    char h[256] = "";
    int p = 6379, d = 0, n = 0;
    if (strncmp(url, "redis://", 8) != 0)
        return -1;
    const char *rest = url + 8;
    size_t hl = strcspn(rest, ":/");
    if (hl == 0 || hl >= sizeof(h))
        return -1;
    memcpy(h, rest, hl);
    rest += hl;
    if (*rest == ':') {
        if (sscanf(rest, ":%d%n", &p, &n) != 1 || p <= 0 || p > 65535)
            return -1;
        rest += n;
    }
    if (*rest == '/' && rest[1]) {
        if (sscanf(rest, "/%d%n", &d, &n) != 1 || d < 0 || d > 15 || rest[n])
            return -1;
    } else if (*rest && strcmp(rest, "/") != 0) {
        return -1;
    }
    snprintf(host, sizeof(host), "%s", h);
    port = p;
    dbnum = d;
    on = true;
    unsigned char raw[16];
    fs_random(raw, sizeof(raw));
    for (int i = 0; i < 16; i++)
        snprintf(node + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

bool fs_shared_on(void)
{
    return on;
}

int64_t fs_shared_nodes(void)
{
    return on ? MER_MAX(atomic_load_explicit(&nodes, memory_order_relaxed), 1) : 1;
}

bool fs_shared_up(void)
{
    return atomic_load(&up) != 0;
}

int64_t fs_item_remaining(fs_item_t *it)
{
    int64_t left = atomic_load_explicit(&it->left, memory_order_relaxed);
    if (it->shared)
        left += atomic_load_explicit(&it->central, memory_order_relaxed);
    return left < 0 ? 0 : left;
}

/* ---- grabs (on the executor thread) ---- */

static int64_t mono_ms(void)
{
    return (int64_t)(mer_now_mono_ns() / 1000000);
}

/* The next refill's size, from the rate of refills: doubled when they come fast, halved when slow. */
static int64_t refill_size(fs_item_t *it)
{
    int64_t now = mono_ms(), last = atomic_exchange(&it->last_refill, now);
    int64_t b = atomic_load(&it->batch), cap = MER_MAX(1, MER_MIN(BATCH_MAX, it->units / 16));
    if (now - last < 200)
        b = MER_MIN(b * 2, cap);
    else if (now - last > 2000)
        b = MER_MAX(b / 2, 1);
    atomic_store(&it->batch, b);
    return b;
}

/*
 * Wins whose pending entry in Redis can go: confirmed (the row committed: the entry is dropped) and
 * doubtful (the script's answer was lost and no row is written: the entry, if the script ran, gives its
 * unit back). The ticker sends both lists every tick.
 */
typedef struct token_list {
    pthread_mutex_t mu;
    char (*v)[FS_TOKEN_LEN + 1]; /* guarded by mu */
    size_t n, cap;               /* guarded by mu */
} token_list_t;

static token_list_t confirmed = {.mu = PTHREAD_MUTEX_INITIALIZER}, doubtful = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void tokens_add(token_list_t *l, const char *token)
{
    pthread_mutex_lock(&l->mu);
    MER_GROW(l->v, l->n, l->cap, 256);
    snprintf(l->v[l->n++], FS_TOKEN_LEN + 1, "%s", token);
    pthread_mutex_unlock(&l->mu);
}

/* Takes the list's tokens (the caller frees the array); *n gets how many. */
static char (*tokens_take(token_list_t *l, size_t *n))[FS_TOKEN_LEN + 1]
{
    pthread_mutex_lock(&l->mu);
    char(*v)[FS_TOKEN_LEN + 1] = l->v;
    *n = l->n;
    l->v = NULL;
    l->n = l->cap = 0;
    pthread_mutex_unlock(&l->mu);
    return v;
}

void fs_shared_confirm(const char *token)
{
    tokens_add(&confirmed, token);
}

/* Sends cmd (HDEL of the pending hash, or EVALSHA resolve) for up to 256 tokens at a time; tokens of a call
 * that got no answer go back to l. */
static void tokens_send(token_list_t *l, bool resolve)
{
    size_t n = 0;
    char(*v)[FS_TOKEN_LEN + 1] = tokens_take(l, &n);
    char pend[64];
    snprintf(pend, sizeof(pend), "mer:fs:pend:%s", node);
    for (size_t at = 0; at < n; at += 256) {
        const char *argv[256 + 4];
        int argc = 0;
        size_t k = MER_MIN(n - at, (size_t)256);
        if (resolve) {
            argv[argc++] = "EVALSHA", argv[argc++] = shas[S_RESOLVE], argv[argc++] = "0", argv[argc++] = node;
        } else {
            argv[argc++] = "HDEL", argv[argc++] = pend;
        }
        for (size_t i = 0; i < k; i++)
            argv[argc++] = v[at + i];
        redisReply *rep = eval_argv(&maint_conn, argc, argv);
        if (rep == NULL) {
            for (size_t i = at; i < n; i++)
                tokens_add(l, v[i]);
            break;
        }
        freeReplyObject(rep);
    }
    free(v);
}

/*
 * Fencing a win of a node whose lease expired (the region's writer, briefly, on the ticker's thread):
 * writes the win's fence row 'void' unless its own 'won' row is there. Returns 1 (the win's row committed),
 * 0 (void: the row can never commit now, fs_store_token would find the fence), or -1 (no answer: the
 * database is out of reach, or a transaction of that node still holds the token (a frozen node in the
 * middle of its commit) and the lock wait timed out; decided in a later round).
 */
static int fence(const char *region, const char *token)
{
    mer_db_t *db = mer_store_write_begin(region);
    if (db == NULL)
        return -1;
    int64_t won = -1;
    bool pg = strcmp(mer_db_backend_name(db), "postgresql") == 0;
    if (mer_db_begin(db) == 0) {
        if ((pg && mer_db_exec(db, "SET LOCAL lock_timeout = '200ms'", NULL) < 0) ||
            mer_db_exec(db,
                        "INSERT INTO flash_fence (token, state, created_at) VALUES (?, 'void', ?) "
                        "ON CONFLICT (token) DO NOTHING",
                        "si", token, mer_now_unix_ms()) < 0 ||
            mer_db_query_int(db, &won,
                             "SELECT CASE WHEN state = 'won' THEN 1 ELSE 0 END FROM flash_fence WHERE token = ?", "s",
                             token) != 0) {
            mer_db_rollback(db);
            won = -1;
        } else if (mer_db_commit(db) != 0) {
            won = -1;
        }
    }
    mer_store_write_end(region);
    return (int)won;
}

/*
 * The wins of nodes whose lease expired and that were never confirmed: a win whose row committed is
 * dropped from the pending hash, one whose row never came gives its unit back (resolve). A dead node
 * cannot commit any more; a node that is only frozen (SIGSTOP, a long pause) might, when it wakes up, so
 * each such win is fenced in the database first (fence above): the unit goes back only once the win's
 * 'void' fence row committed, and then the frozen node's row cannot (its 'won' fence row conflicts: the
 * grab answers 503 and nothing is recorded). Whichever of the two commits first decides, exactly once.
 */
static void resolve_dead(void)
{
    redisReply *nodes = redisCommand(maint_conn, "SMEMBERS mer:fs:pendnodes");
    if (nodes == NULL) {
        conn_drop(&maint_conn);
        return;
    }
    for (size_t i = 0; nodes->type == REDIS_REPLY_ARRAY && i < nodes->elements && maint_conn; i++) {
        const char *dead = nodes->element[i]->str;
        redisReply *alive = redisCommand(maint_conn, "EXISTS mer:fs:node:%s", dead);
        bool gone = alive && alive->type == REDIS_REPLY_INTEGER && alive->integer == 0;
        if (alive)
            freeReplyObject(alive);
        if (!gone || strcmp(dead, node) == 0)
            continue;
        redisReply *h = redisCommand(maint_conn, "HGETALL mer:fs:pend:%s", dead);
        for (size_t k = 0; h && h->type == REDIS_REPLY_ARRAY && k + 1 < h->elements; k += 2) {
            const char *token = h->element[k]->str;
            long long sid = 0;
            int item = 0;
            if (sscanf(h->element[k + 1]->str, "mer:fs:%lld:%d:", &sid, &item) != 2)
                continue;
            const fs_registry_t *reg = fs_registry();
            fs_session_t *s = NULL;
            for (size_t n = 0; n < reg->n && s == NULL; n++)
                s = fs_session_find(reg->sales[n], sid);
            int won = s ? fence(s->sale->region, token) : -1;
            if (won < 0) {
                if (s) /* the database is out of reach, or the node's transaction holds the win: later */
                    break;
                continue; /* not a sale of this node's regions */
            }
            redisReply *r = won ? redisCommand(maint_conn, "HDEL mer:fs:pend:%s %s", dead, token)
                                : redisCommand(maint_conn, "EVALSHA %s 0 %s %s", shas[S_RESOLVE], dead, token);
            if (r && !won && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
                mer_log_info("redis: a win of node %s that was never recorded gave its unit back", dead);
            if (r)
                freeReplyObject(r);
        }
        bool empty = h && h->type == REDIS_REPLY_ARRAY && h->elements == 0;
        if (h)
            freeReplyObject(h);
        if (empty) {
            redisReply *r = redisCommand(maint_conn, "SREM mer:fs:pendnodes %s", dead);
            if (r)
                freeReplyObject(r);
        }
    }
    freeReplyObject(nodes);
}

/* A grab's part of a call: its keys and arguments (text), and its buyer's counts. */
typedef struct grab_args {
    char k[3][64], ck[5][80], cl[5][24], want[24], batch[24], sold[64], n[4];
    fs_count_t c[5];
    int nc;
} grab_args_t;

/* Applies one grab's outcome (st, got, out, stock) to the node's memory and to g. */
static void grab_apply(fs_shared_grab_t *g, const grab_args_t *ga, int64_t st, int64_t got, int64_t out, int64_t stock)
{
    fs_item_t *it = &g->s->items[g->item];
    atomic_store(&it->central, stock);
    /* the local allotment follows Redis's: a local unit not used comes back, the batch moved in is added,
     * less the unit this grab won with when it had none of its own */
    int64_t add = g->local_unit ? got + (st > 0 ? 1 : 0) : st == 0 ? MER_MAX(got - 1, 0) : got;
    if (add > 0)
        atomic_fetch_add(&it->left, add);
    if (out)
        set_sold_out(it, true);
    if (st == 0) {
        g->status = FS_SHARED_WON;
    } else if (st > 0 && st <= ga->nc) {
        g->status = FS_SHARED_REFUSED;
        g->why = ga->c[st - 1].why;
    } else {
        g->status = FS_SHARED_SOLD_OUT;
    }
}

/* One EVALSHA for n grabs (n <= GRABS_PER_CALL); each grab's status is set. */
static void grab_call(fs_shared_grab_t **gs, int n)
{
    grab_args_t *ga = mer_xcalloc((size_t)n, sizeof(*ga));
    const char **argv = mer_xcalloc((size_t)n * 19 + 8, sizeof(*argv));
    const char **keys = mer_xcalloc((size_t)n * 8, sizeof(*keys));
    char nk[12], ng[12];
    int nkeys = 0, argc = 0;
    for (int i = 0; i < n; i++) {
        fs_shared_grab_t *g = gs[i];
        grab_args_t *a = &ga[i];
        fs_item_t *it = &g->s->items[g->item];
        a->nc = count_keys(g->s, &g->buyer, a->c, a->ck, a->cl);
        item_keys(g->s, g->item, a->k);
        msg(a->sold, "sold", g->s, g->item);
        int64_t b = g->local_unit ? atomic_load(&it->batch) : refill_size(it);
        snprintf(a->want, sizeof(a->want), "%lld", (long long)(g->local_unit ? 0 : b));
        snprintf(a->batch, sizeof(a->batch), "%lld", (long long)b);
        snprintf(a->n, sizeof(a->n), "%d", a->nc);
        for (int k = 0; k < 3; k++)
            keys[nkeys++] = a->k[k];
        for (int k = 0; k < a->nc; k++)
            keys[nkeys++] = a->ck[k];
    }
    snprintf(nk, sizeof(nk), "%d", nkeys);
    snprintf(ng, sizeof(ng), "%d", n);
    argv[argc++] = "EVALSHA";
    argv[argc++] = shas[S_GRAB];
    argv[argc++] = nk;
    for (int k = 0; k < nkeys; k++)
        argv[argc++] = keys[k];
    argv[argc++] = node;
    argv[argc++] = ng;
    for (int i = 0; i < n; i++) {
        argv[argc++] = ga[i].want;
        argv[argc++] = ga[i].batch;
        argv[argc++] = ga[i].sold;
        argv[argc++] = gs[i]->token;
        argv[argc++] = ga[i].n;
        for (int k = 0; k < ga[i].nc; k++)
            argv[argc++] = ga[i].cl[k];
    }
    redisReply *rep = eval_argv(&grab_conn, argc, argv);
    for (int i = 0; i < n; i++) {
        size_t at = (size_t)i * 4;
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < at + 4) {
            /* no answer: a local unit stays taken (Redis's alloc decides); if the script did sell it, its
             * pending entry gives it back once Redis answers again (no row will be written for it) */
            gs[i]->status = FS_SHARED_UNAVAILABLE;
            tokens_add(&doubtful, gs[i]->token);
        } else
            grab_apply(gs[i], &ga[i], rep_int(rep, at), rep_int(rep, at + 1), rep_int(rep, at + 2),
                       rep_int(rep, at + 3));
    }
    if (rep)
        freeReplyObject(rep);
    free(keys);
    free(argv);
    free(ga);
}

static void item_init(redisContext **c, fs_session_t *s, int i);

/*
 * Grabs wait in one list; a flush job on the Redis thread takes all of them and sends them in calls of up
 * to GRABS_PER_CALL. Grabs that arrive meanwhile queue the next flush, so under load each call carries
 * every grab that arrived during the previous round trip.
 */
static pthread_mutex_t pend_mu = PTHREAD_MUTEX_INITIALIZER;
static fs_shared_grab_t *pend_head, **pend_tail = &pend_head; /* guarded by pend_mu */
static bool flush_queued;                                     /* guarded by pend_mu */

static fs_shared_grab_t *pend_take(void)
{
    pthread_mutex_lock(&pend_mu);
    fs_shared_grab_t *list = pend_head;
    pend_head = NULL;
    pend_tail = &pend_head;
    flush_queued = false;
    pthread_mutex_unlock(&pend_mu);
    return list;
}

static void flush_work(mer_job_t *job)
{
    (void)job;
    fs_shared_grab_t *list = pend_take(), *batch[GRABS_PER_CALL];
    while (list) {
        int n = 0, ready = 0;
        while (list && n < GRABS_PER_CALL) {
            batch[n++] = list;
            list = list->next;
        }
        /* a sale published a moment ago (here or on another node) whose keys the ticker has not set up yet:
         * set up here first (the script is idempotent), rather than answering 503 to its first buyers */
        for (int i = 0; i < n; i++) {
            fs_item_t *it = &batch[i]->s->items[batch[i]->item];
            if (!atomic_load(&it->ready))
                item_init(&grab_conn, batch[i]->s, batch[i]->item);
            if (atomic_load(&it->ready))
                batch[ready++] = batch[i];
            else {
                batch[i]->status = FS_SHARED_UNAVAILABLE; /* no script ran for it */
                mer_job_complete(&batch[i]->job);
            }
        }
        n = ready;
        if (n == 0)
            continue;
        grab_call(batch, n);
        for (int i = 0; i < n; i++)
            mer_job_complete(&batch[i]->job);
    }
}

static void flush_done(mer_job_t *job)
{
    free(job);
}

static void grab_done(mer_job_t *job)
{
    fs_shared_grab_t *g = MER_CONTAINER_OF(job, fs_shared_grab_t, job);
    g->done(g);
}

int fs_shared_grab(fs_shared_grab_t *g)
{
    if (!fs_shared_up())
        return MER_E_UNAVAILABLE;
    atomic_store(&g->s->items[g->item].last_grab, mono_ms());
    g->job = (mer_job_t){.done = grab_done};
    g->next = NULL;
    mer_job_capture(&g->job);
    pthread_mutex_lock(&pend_mu);
    *pend_tail = g;
    pend_tail = &g->next;
    bool submit = !flush_queued;
    flush_queued = true;
    pthread_mutex_unlock(&pend_mu);
    if (submit) {
        mer_job_t *f = mer_xcalloc(1, sizeof(*f));
        *f = (mer_job_t){.work = flush_work, .done = flush_done};
        if (mer_exec_submit(exec, f) != 0) {
            /* stopping: whatever waits is answered 503 (no script ran for them) */
            free(f);
            for (fs_shared_grab_t *p = pend_take(), *nx; p; p = nx) {
                nx = p->next;
                p->status = FS_SHARED_UNAVAILABLE;
                mer_job_complete(&p->job);
            }
        }
    }
    return 0;
}

/* Fire-and-forget scripts: unwin and restock (and release, for entries). */
typedef struct side_job {
    mer_job_t job;
    int script;
    fs_session_t *s;
    int item;
    fs_buyer_t buyer;
    char token[FS_TOKEN_LEN + 1]; /* unwin: the win's pending entry */
    bool own;                     /* release: the buyer's own count too */
} side_job_t;

static void side_work(mer_job_t *job)
{
    side_job_t *j = MER_CONTAINER_OF(job, side_job_t, job);
    char k[3][64], ck[5][80], cl[5][24], m[64];
    fs_count_t c[5];
    item_keys(j->s, j->item, k);
    msg(m, "open", j->s, j->item);
    int n = count_keys(j->s, &j->buyer, c, ck, cl);
    const char *keys[8] = {k[0], k[1], k[2]};
    for (int i = 0; i < n; i++)
        keys[3 + i] = ck[i];
    const char *args[3] = {node, m, j->token};
    redisReply *rep = j->script == S_UNWIN ? eval(&grab_conn, S_UNWIN, 3 + n, keys, 3, args)
                                           : eval(&grab_conn, S_RESTOCK, 3 + n, keys, 1, args + 1);
    if (rep == NULL) {
        mer_log_error("redis: a unit of session %lld could not be given back (it stays taken)", (long long)j->s->id);
        return;
    }
    bool back = rep_int(rep, 0) == 1;
    freeReplyObject(rep);
    if (j->script == S_UNWIN && !back)
        return; /* resolved by another node while this one stood still: nothing to give back here */
    if (j->script == S_UNWIN)
        atomic_fetch_add(&j->s->items[j->item].left, 1);
    set_sold_out(&j->s->items[j->item], false);
    fs_progress(j->s);
}

static void side_done(mer_job_t *job)
{
    free(MER_CONTAINER_OF(job, side_job_t, job));
}

static void side(int script, fs_session_t *s, int item, const fs_buyer_t *b, const char *token)
{
    side_job_t *j = mer_xcalloc(1, sizeof(*j));
    *j = (side_job_t){
        .job = {.work = side_work, .done = side_done}, .script = script, .s = s, .item = item, .buyer = *b};
    snprintf(j->token, sizeof(j->token), "%s", token ? token : "");
    if (mer_exec_submit(exec, &j->job) != 0) {
        mer_log_error("redis: stopping; a unit of session %lld stays taken", (long long)s->id);
        free(j);
    }
}

void fs_shared_unwin(fs_session_t *s, int item, const fs_buyer_t *b, const char *token)
{
    side(S_UNWIN, s, item, b, token);
}

void fs_shared_restock(fs_session_t *s, int item, const fs_buyer_t *b)
{
    side(S_RESTOCK, s, item, b, NULL);
}

/* ---- queue and draw entries ---- */

static void entry_work(mer_job_t *job)
{
    fs_shared_entry_t *e = MER_CONTAINER_OF(job, fs_shared_entry_t, job);
    char seq[64], floor[24], ck[5][80], cl[5][24];
    fs_count_t c[5];
    int n = count_keys(e->s, &e->buyer, c, ck, cl);
    /* one ticket per buyer, whatever the session's per-user limit (as on one node) */
    for (int i = 0; i < n; i++)
        if (c[i].kind == 'u')
            snprintf(cl[i], sizeof(cl[i]), "1");
    snprintf(seq, sizeof(seq), "mer:fs:%lld:seq", (long long)e->s->id);
    snprintf(floor, sizeof(floor), "%lld", (long long)atomic_load(&e->s->next_seq));
    const char *keys[6] = {seq}, *args[6] = {floor};
    for (int i = 0; i < n; i++)
        keys[1 + i] = ck[i], args[1 + i] = cl[i];
    redisReply *rep = eval(&grab_conn, S_ENTRY, 1 + n, keys, 1 + n, args);
    if (rep == NULL) {
        e->status = FS_SHARED_UNAVAILABLE;
        return;
    }
    int64_t st = rep_int(rep, 0);
    if (st > 0 && st <= n) {
        e->status = FS_SHARED_REFUSED;
        e->why = c[st - 1].why;
    } else {
        e->status = FS_SHARED_WON;
        e->seq = rep_int(rep, 1);
    }
    freeReplyObject(rep);
}

static void entry_done(mer_job_t *job)
{
    fs_shared_entry_t *e = MER_CONTAINER_OF(job, fs_shared_entry_t, job);
    e->done(e);
}

int fs_shared_enter(fs_shared_entry_t *e)
{
    if (!fs_shared_up() || exec == NULL)
        return MER_E_UNAVAILABLE;
    e->job = (mer_job_t){.work = entry_work, .done = entry_done};
    return mer_exec_submit(exec, &e->job) != 0 ? MER_E_UNAVAILABLE : 0;
}

static void release_work(mer_job_t *job)
{
    side_job_t *j = MER_CONTAINER_OF(job, side_job_t, job);
    char ck[5][80], cl[5][24];
    fs_count_t c[5];
    int n = count_keys(j->s, &j->buyer, c, ck, cl), nk = 0;
    const char *keys[5];
    for (int i = 0; i < n; i++)
        if (c[i].kind != 'u' || j->own)
            keys[nk++] = ck[i];
    redisReply *rep = eval(&grab_conn, S_RELEASE, nk, keys, 0, NULL);
    if (rep == NULL)
        mer_log_error("redis: a buyer's counts in session %lld could not be released", (long long)j->s->id);
    else
        freeReplyObject(rep);
}

void fs_shared_release_counts(fs_session_t *s, const fs_buyer_t *b, bool own)
{
    side_job_t *j = mer_xcalloc(1, sizeof(*j));
    *j = (side_job_t){.job = {.work = release_work, .done = side_done}, .s = s, .buyer = *b, .own = own};
    if (exec == NULL || mer_exec_submit(exec, &j->job) != 0) {
        mer_log_error("redis: stopping; a buyer's counts in session %lld stay taken", (long long)s->id);
        free(j);
    }
}

/* ---- maintenance (the ticker's connection) ---- */

static void item_init(redisContext **c, fs_session_t *s, int i)
{
    fs_item_t *it = &s->items[i];
    char k[3][64], init[24], member[48];
    item_keys(s, i, k);
    snprintf(init, sizeof(init), "%lld", (long long)atomic_load(&it->central));
    snprintf(member, sizeof(member), "%lld:%d", (long long)s->id, i);
    const char *keys[3] = {k[0], "mer:fs:allocs", k[2]}, *args[2] = {init, member};
    redisReply *rep = eval(c, S_INIT, 3, keys, 2, args);
    if (rep == NULL)
        return;
    atomic_store(&it->central, rep_int(rep, 0));
    set_sold_out(it, rep_int(rep, 1) != 0);
    freeReplyObject(rep);
    atomic_store(&it->ready, 1);
}

/* Gives back n units of this node's allotment (-1: whatever Redis says it holds). */
static bool give_back(fs_session_t *s, int i, int64_t n)
{
    char k[3][64], num[24], m[64];
    item_keys(s, i, k);
    msg(m, "open", s, i);
    snprintf(num, sizeof(num), "%lld", (long long)n);
    const char *keys[3] = {k[0], k[1], k[2]}, *args[3] = {node, num, m};
    redisReply *rep = eval(&maint_conn, S_RETURN, 3, keys, 3, args);
    if (rep == NULL)
        return false;
    freeReplyObject(rep);
    return true;
}

static void item_tick(fs_session_t *s, int i, int64_t now, int64_t mono)
{
    fs_item_t *it = &s->items[i];
    if (!atomic_load(&it->ready)) {
        item_init(&maint_conn, s, i);
        return;
    }
    if (now >= s->ends_at + 1000) {
        /* ended: everything this node holds goes back once (late wins have committed by then) */
        if (!atomic_load(&it->returned)) {
            atomic_store(&it->left, 0);
            if (give_back(s, i, -1))
                atomic_store(&it->returned, 1);
        }
    } else if (atomic_load(&it->left) > 0 && mono - atomic_load(&it->last_grab) > IDLE_MS) {
        int64_t n = atomic_exchange(&it->left, 0);
        if (n > 0 && !give_back(s, i, n))
            atomic_fetch_add(&it->left, n);
        atomic_store(&it->batch, 1);
    }
    /* the sold-out flag and the central stock, in case a message was missed */
    char k[3][64];
    item_keys(s, i, k);
    const char *keys[2] = {k[0], k[2]};
    redisReply *rep = eval(&maint_conn, S_STATUS, 2, keys, 0, NULL);
    if (rep == NULL)
        return;
    atomic_store(&it->central, rep_int(rep, 0));
    set_sold_out(it, rep_int(rep, 1) != 0);
    freeReplyObject(rep);
}

static void each_item(void (*fn)(fs_session_t *, int, int64_t, int64_t), int64_t now, int64_t mono)
{
    const fs_registry_t *reg = fs_registry();
    for (size_t i = 0; i < reg->n; i++)
        for (int k = 0; k < reg->sales[i]->nsessions; k++) {
            fs_session_t *s = reg->sales[i]->sessions[k];
            for (int n = 0; n < s->nitems; n++)
                if (s->items[n].shared)
                    fn(s, n, now, mono);
        }
}

static void tick(void *arg)
{
    (void)arg;
    if (conn_get(&maint_conn) == NULL)
        return;
    int64_t mono = mono_ms();
    if (mono - last_reap >= REAP_MS) {
        char ms[16];
        snprintf(ms, sizeof(ms), "%d", LEASE_MS);
        const char *nkeys[1] = {"mer:fs:nodes"}, *nargs[2] = {node, ms};
        redisReply *rep = eval(&maint_conn, S_LEASE, 1, nkeys, 2, nargs);
        if (rep == NULL)
            return;
        atomic_store(&nodes, (int)MER_MAX(rep_int(rep, 0), 1));
        freeReplyObject(rep);
        const char *keys[1] = {"mer:fs:allocs"};
        rep = eval(&maint_conn, S_REAP, 1, keys, 0, NULL);
        if (rep == NULL)
            return;
        if (rep_int(rep, 0) > 0)
            mer_log_info("redis: %lld units of expired leases back in stock", (long long)rep_int(rep, 0));
        freeReplyObject(rep);
        resolve_dead();
        if (maint_conn == NULL)
            return;
        last_reap = mono;
    }
    tokens_send(&confirmed, false);
    tokens_send(&doubtful, true);
    if (maint_conn == NULL)
        return;
    each_item(item_tick, mer_now_unix_ms(), mono);
    if (maint_conn)
        atomic_store(&up, 1);
}

/* ---- sold out everywhere: the subscriber ---- */

/*
 * "sold <sid> <item> <us>" (us: Redis's clock when the last unit went, in microseconds) or "open <sid>
 * <item>". The delay from that moment to this node's flag is kept per item for /metrics (one machine's
 * clock in tests and the bench; across machines it is as good as their clocks agree).
 */
static void on_message(const char *text)
{
    char what[8];
    long long sid, us = 0;
    int item;
    if (sscanf(text, "%7s %lld %d %lld", what, &sid, &item, &us) < 3)
        return;
    int64_t now_us = mer_now_unix_ms() * 1000;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    const fs_registry_t *reg = fs_registry();
    for (size_t i = 0; i < reg->n; i++) {
        fs_session_t *s = fs_session_find(reg->sales[i], sid);
        if (s && item >= 0 && item < s->nitems && s->items[item].shared) {
            bool sold = strcmp(what, "sold") == 0;
            set_sold_out(&s->items[item], sold);
            if (sold && us > 0)
                atomic_store(&s->items[item].sold_out_lag_us, MER_MAX(now_us - us, 0));
            fs_progress(s);
        }
    }
}

static void *subscriber(void *arg)
{
    (void)arg;
    while (!atomic_load(&sub_stopping)) {
        struct timeval ct = {0, CONNECT_MS * 1000};
        redisContext *c = redisConnectWithTimeout(host, port, ct);
        if (c == NULL || c->err) {
            if (c)
                redisFree(c);
            usleep(TICK_MS * 1000);
            continue;
        }
        atomic_store(&sub_fd, c->fd);
        redisReply *rep = redisCommand(c, "SUBSCRIBE %s", CHANNEL);
        if (rep)
            freeReplyObject(rep);
        while (rep && !atomic_load(&sub_stopping)) {
            void *r = NULL;
            if (redisGetReply(c, &r) != REDIS_OK || r == NULL)
                break;
            rep = r;
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 && rep->element[2]->type == REDIS_REPLY_STRING)
                on_message(rep->element[2]->str);
            freeReplyObject(rep);
        }
        atomic_store(&sub_fd, -1);
        redisFree(c);
        if (!atomic_load(&sub_stopping))
            usleep(TICK_MS * 1000);
    }
    return NULL;
}

/* ---- start and stop ---- */

static void mark_sale(fs_sale_t *sale)
{
    for (int k = 0; k < sale->nsessions; k++) {
        fs_session_t *s = sale->sessions[k];
        if (s->mode != FS_FCFS)
            continue;
        for (int n = 0; n < s->nitems; n++) {
            fs_item_t *it = &s->items[n];
            /* what the durable rows left is the central stock's first value; the allotment starts empty */
            atomic_store(&it->central, atomic_exchange(&it->left, 0));
            atomic_store(&it->batch, 1);
            it->shared = true;
        }
    }
}

void fs_shared_add(fs_sale_t *sale)
{
    if (!on)
        return;
    mark_sale(sale);
    mer_ticker_kick(&ticker);
}

static void grab_thread_exit(void)
{
    conn_drop(&grab_conn);
}

void fs_shared_start(void)
{
    if (!on)
        return;
    const fs_registry_t *reg = fs_registry();
    for (size_t i = 0; i < reg->n; i++)
        mark_sale(reg->sales[i]);
    exec = mer_exec_start("redis", 1, grab_thread_exit);
    tick(NULL); /* connects and sets up the sales now when Redis answers; else the ticker retries */
    if (!fs_shared_up())
        mer_log_error("redis %s:%d does not answer: flash-sale grabs answer 503 until it does", host, port);
    else
        mer_log_info("flash sales shared through redis %s:%d (db %d) as node %s", host, port, dbnum, node);
    if (pthread_create(&sub_tid, NULL, subscriber, NULL) == 0)
        sub_running = true;
    mer_ticker_start(&ticker, tick, NULL, TICK_MS);
}

static void give_all(fs_session_t *s, int i, int64_t now, int64_t mono)
{
    (void)now, (void)mono;
    atomic_store(&s->items[i].left, 0);
    give_back(s, i, -1);
}

void fs_shared_stop(void)
{
    if (on)
        mer_ticker_stop(&ticker);
}

void fs_shared_release(void)
{
    if (!on || exec == NULL)
        return;
    /* every worker and writer has finished: the unwins they queued go out first, then the allotments */
    mer_exec_stop(exec);
    exec = NULL;
    if (conn_get(&maint_conn)) {
        tokens_send(&confirmed, false);
        tokens_send(&doubtful, true);
        each_item(give_all, 0, 0);
        redisReply *rep = redisCommand(maint_conn, "DEL mer:fs:node:%s", node);
        if (rep)
            freeReplyObject(rep);
        rep = redisCommand(maint_conn, "ZREM mer:fs:nodes %s", node);
        if (rep)
            freeReplyObject(rep);
    }
    conn_drop(&maint_conn);
    atomic_store(&sub_stopping, 1);
    int fd = atomic_load(&sub_fd);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    if (sub_running)
        pthread_join(sub_tid, NULL);
    sub_running = false;
}
