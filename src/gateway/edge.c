#include "gateway/edge.h"

#include <jansson.h>

#include "core/banned.h"

/* The token of "Bearer <token>", or NULL. */
static const char *bearer(const char *auth, size_t len, size_t *tlen)
{
    if (auth == NULL || len < 7 || !mer_streq_nocase(auth, 7, "bearer "))
        return NULL;
    auth += 7;
    len -= 7;
    while (len && *auth == ' ') {
        auth++;
        len--;
    }
    *tlen = len;
    return auth;
}

bool mer_gw_is_customer(const char *auth, size_t len)
{
    size_t n = 0;
    const char *t = bearer(auth, len, &n);
    return t && n > 4 && memcmp(t, "mct_", 4) == 0;
}

/* The region of an id "<prefix><region>_<rest>" (a customer token "mct_in_...", an intent "pi_in_..."). */
static bool prefixed_region(const char *t, size_t n, const char *prefix, char out[MER_GW_REGION_MAX])
{
    size_t pl = strlen(prefix);
    if (t == NULL || n <= pl || memcmp(t, prefix, pl) != 0)
        return false;
    size_t i = pl, k = 0;
    for (; i < n && t[i] != '_'; i++, k++) {
        char c = t[i];
        if (k + 1 >= MER_GW_REGION_MAX || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return false;
        out[k] = c;
    }
    if (k == 0 || i >= n) /* no region, or no '_' after it */
        return false;
    out[k] = '\0';
    return true;
}

bool mer_gw_token_region(const char *auth, size_t len, char out[MER_GW_REGION_MAX])
{
    size_t n = 0;
    const char *t = bearer(auth, len, &n);
    return prefixed_region(t, n, "mct_", out);
}

bool mer_gw_webhook_region(const char *method, size_t mlen, const char *path, size_t plen, const char *body,
                           size_t blen, char out[MER_GW_REGION_MAX])
{
    static const char prefix[] = "/api/v1/payments/", suffix[] = "/webhook";
    size_t pl = sizeof(prefix) - 1, sl = sizeof(suffix) - 1;
    if (mlen != 4 || memcmp(method, "POST", 4) != 0 || plen <= pl + sl || memcmp(path, prefix, pl) != 0 ||
        memcmp(path + plen - sl, suffix, sl) != 0 || memchr(path + pl, '/', plen - pl - sl) != NULL)
        return false;
    if (body == NULL || blen == 0)
        return false;
    json_t *j = json_loadb(body, blen, JSON_REJECT_DUPLICATES, NULL);
    json_t *intent = json_object_get(j, "intent"); /* NULL when j is not an object */
    bool ok =
        json_is_string(intent) && prefixed_region(json_string_value(intent), json_string_length(intent), "pi_", out);
    json_decref(j);
    return ok;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A two-letter code, upper-cased into out. */
static bool take_code(const char *s, size_t len, char out[3])
{
    if (s == NULL || len != 2 || !is_alpha(s[0]) || !is_alpha(s[1]))
        return false;
    out[0] = (char)(s[0] & ~0x20);
    out[1] = (char)(s[1] & ~0x20);
    out[2] = '\0';
    return true;
}

/* The value of name in a list of name=value pairs separated by sep (a query string, a Cookie header). */
static bool pair_value(const char *s, size_t len, char sep, const char *name, const char **val, size_t *vlen)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < len;) {
        while (i < len && (s[i] == ' ' || s[i] == sep))
            i++;
        size_t start = i;
        while (i < len && s[i] != sep)
            i++;
        if (i - start > nl && memcmp(s + start, name, nl) == 0 && s[start + nl] == '=') {
            *val = s + start + nl + 1;
            *vlen = i - start - nl - 1;
            return true;
        }
    }
    return false;
}

static bool path_country(const char *p, size_t len, char out[3])
{
    static const char seg[] = "/countries/";
    size_t sl = sizeof(seg) - 1;
    for (size_t i = 0; i + sl + 2 <= len; i++) {
        if (memcmp(p + i, seg, sl) != 0)
            continue;
        size_t s = i + sl, e = s;
        while (e < len && p[e] != '/')
            e++;
        if (take_code(p + s, e - s, out))
            return true;
    }
    return false;
}

static bool body_country(const char *body, size_t len, char out[3])
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if (i == len || body[i] != '{')
        return false;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *c = json_object_get(j, "country");
    bool ok = json_is_string(c) && take_code(json_string_value(c), json_string_length(c), out);
    json_decref(j);
    return ok;
}

bool mer_gw_country(const mer_gw_req_parts_t *p, char out[3])
{
    const char *v;
    size_t vl;
    if (p->query && pair_value(p->query, p->query_len, '&', "country", &v, &vl) && take_code(v, vl, out))
        return true;
    if (p->path && path_country(p->path, p->path_len, out))
        return true;
    if (take_code(p->x_country, p->x_country_len, out))
        return true;
    if (p->cookie && pair_value(p->cookie, p->cookie_len, ';', "country", &v, &vl) && take_code(v, vl, out))
        return true;
    return p->body && p->body_len && body_country(p->body, p->body_len, out);
}

static bool has_prefix_segment(const char *path, size_t plen, const char *prefix)
{
    size_t n = strlen(prefix);
    return plen >= n && memcmp(path, prefix, n) == 0 && (plen == n || path[n] == '/' || path[n] == '?');
}

bool mer_gw_is_catalogue_read(const char *method, size_t mlen, const char *path, size_t plen, bool customer)
{
    if (customer)
        return false;
    if (!(mlen == 3 && memcmp(method, "GET", 3) == 0) && !(mlen == 4 && memcmp(method, "HEAD", 4) == 0))
        return false;
    return has_prefix_segment(path, plen, "/api/v1/products") || has_prefix_segment(path, plen, "/api/v1/categories") ||
           has_prefix_segment(path, plen, "/api/v1/countries");
}

bool mer_gw_key_retry_safe(const char *method, size_t mlen, const char *path, size_t plen)
{
    static const char orders[] = "/api/v1/orders";
    return mlen == 4 && memcmp(method, "POST", 4) == 0 && plen == sizeof(orders) - 1 && memcmp(path, orders, plen) == 0;
}

/* ---- the edge cache's decisions ---- */

bool mer_gw_cacheable_request(const char *method, size_t mlen, const char *path, size_t plen, bool has_auth,
                              bool has_conditional)
{
    return !has_auth && !has_conditional && mer_gw_is_catalogue_read(method, mlen, path, plen, false);
}

bool mer_gw_is_admin_write(const char *method, size_t mlen, const char *path, size_t plen)
{
    static const char admin[] = "/api/v1/admin/";
    if ((mlen == 3 && memcmp(method, "GET", 3) == 0) || (mlen == 4 && memcmp(method, "HEAD", 4) == 0))
        return false;
    return plen >= sizeof(admin) - 1 && memcmp(path, admin, sizeof(admin) - 1) == 0;
}

/*
 * The next item of a comma-separated header list ("a, b=1"): its name (trimmed) in name and nlen and its
 * value after '=' (trimmed, quotes dropped; len 0 when none) in val and vlen. Returns false at the end.
 */
static bool list_item(const char **p, const char *end, const char **name, size_t *nlen, const char **val, size_t *vlen)
{
    while (*p < end && (**p == ' ' || **p == '\t' || **p == ','))
        (*p)++;
    if (*p >= end)
        return false;
    const char *s = *p;
    size_t n = 0, rest = (size_t)(end - s);
    while (n < rest && s[n] != ',')
        n++;
    *p = s + n;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    size_t eq = 0; /* the name ends at '=' or at the item's end */
    while (eq < n && s[eq] != '=')
        eq++;
    size_t nl = eq;
    while (nl && (s[nl - 1] == ' ' || s[nl - 1] == '\t'))
        nl--;
    *name = s;
    *nlen = nl;
    *val = NULL;
    *vlen = 0;
    if (eq < n) {
        size_t v = eq + 1, ve = n;
        while (v < ve && (s[v] == ' ' || s[v] == '\t'))
            v++;
        if (ve - v >= 2 && s[v] == '"' && s[ve - 1] == '"') {
            v++;
            ve--;
        }
        *val = s + v;
        *vlen = ve - v;
    }
    return true;
}

int64_t mer_gw_cache_ttl_ms(const char *cc, size_t len, int64_t cap_ms)
{
    if (cc == NULL || cap_ms <= 0)
        return 0;
    const char *p = cc, *end = cc + len, *name, *val;
    size_t nl, vl;
    bool pub = false;
    int64_t max_age = -1, s_maxage = -1;
    while (list_item(&p, end, &name, &nl, &val, &vl)) {
        int64_t v;
        if (mer_streq_nocase(name, nl, "public"))
            pub = true;
        else if (mer_streq_nocase(name, nl, "private") || mer_streq_nocase(name, nl, "no-store") ||
                 mer_streq_nocase(name, nl, "no-cache"))
            return 0;
        else if (mer_streq_nocase(name, nl, "max-age") || mer_streq_nocase(name, nl, "s-maxage")) {
            if (mer_parse_int64(val, vl, 0, INT64_MAX / 1000, &v) != 0)
                return 0; /* a lifetime that cannot be read: not stored */
            if (mer_streq_nocase(name, nl, "max-age"))
                max_age = v;
            else
                s_maxage = v; /* a shared cache's own lifetime: before max-age */
        }
    }
    int64_t s = s_maxage >= 0 ? s_maxage : max_age;
    if (!pub || s <= 0)
        return 0;
    return MER_MIN(s * 1000, cap_ms);
}

bool mer_gw_vary_keyed(const char *vary, size_t len)
{
    static const char *const keyed[] = MER_GW_CACHE_KEY_HEADERS;
    if (vary == NULL)
        return true;
    const char *p = vary, *end = vary + len, *name, *val;
    size_t nl, vl;
    while (list_item(&p, end, &name, &nl, &val, &vl)) {
        bool ok = mer_streq_nocase(name, nl, "x-meridian-fallback");
        for (size_t i = 0; i < MER_GW_CACHE_NKEY_HEADERS && !ok; i++)
            ok = mer_streq_nocase(name, nl, keyed[i]);
        if (!ok)
            return false;
    }
    return true;
}

/* ---- GCRA limiter ---- */

void mer_gw_limiter_init(mer_gw_limiter_t *l, double rate, uint32_t burst, size_t keys)
{
    memset(l, 0, sizeof(*l));
    if (rate <= 0)
        return;
    size_t sets = 64;
    while (sets * MER_GW_LIMIT_WAYS < keys)
        sets *= 2;
    l->nsets = sets;
    l->entries = mer_xcalloc(sets * MER_GW_LIMIT_WAYS, sizeof(*l->entries));
    l->interval_ns = (uint64_t)(1e9 / rate);
    if (l->interval_ns == 0)
        l->interval_ns = 1;
    l->burst_ns = (uint64_t)MER_MAX(burst, 1u) * l->interval_ns;
    for (size_t i = 0; i < MER_GW_LIMIT_STRIPES; i++)
        pthread_mutex_init(&l->stripes[i], NULL);
}

void mer_gw_limiter_release(mer_gw_limiter_t *l)
{
    if (l->entries == NULL)
        return;
    for (size_t i = 0; i < MER_GW_LIMIT_STRIPES; i++)
        pthread_mutex_destroy(&l->stripes[i]);
    free(l->entries);
    l->entries = NULL;
}

bool mer_gw_limiter_take(mer_gw_limiter_t *l, const char *key, size_t len, uint64_t now_ns, uint64_t *retry_after_ms)
{
    if (l->entries == NULL)
        return true;
    uint64_t h = mer_hash64(key, len);
    size_t set = (size_t)(h & (l->nsets - 1));
    mer_gw_limit_entry_t *e = &l->entries[set * MER_GW_LIMIT_WAYS], *slot = NULL, *oldest = e;
    pthread_mutex_t *m = &l->stripes[set % MER_GW_LIMIT_STRIPES];
    pthread_mutex_lock(m);
    for (size_t i = 0; i < MER_GW_LIMIT_WAYS; i++) {
        if (e[i].key == h) {
            slot = &e[i];
            break;
        }
        if (e[i].tat < oldest->tat)
            oldest = &e[i];
    }
    if (slot == NULL) { /* a new key: a free entry (its time passed), else the one that frees soonest */
        slot = oldest;
        slot->key = h;
        if (slot->tat < now_ns)
            slot->tat = now_ns;
    }
    uint64_t tat = MER_MAX(slot->tat, now_ns) + l->interval_ns;
    bool ok = tat - now_ns <= l->burst_ns;
    if (ok)
        slot->tat = tat;
    pthread_mutex_unlock(m);
    if (!ok) {
        uint64_t wait_ns = tat - now_ns - l->burst_ns;
        *retry_after_ms = MER_MAX(1, (wait_ns + 999999) / 1000000);
        atomic_fetch_add_explicit(&l->limited, 1, memory_order_relaxed);
    }
    return ok;
}
