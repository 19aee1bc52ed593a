/* Unit tests: the gateway's pure parts (src/gateway/edge.h): token region, webhook region, country,
 * catalogue reads, the edge rate limiter, the edge cache's decisions; and the edge cache's store
 * (src/gateway/cache.h): freshness, generations, LRU eviction within its bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "gateway/cache.h"
#include "gateway/edge.h"

#define S(x) x, strlen(x)

static void test_token_region(void **state)
{
    (void)state;
    char r[MER_GW_REGION_MAX];
    assert_true(mer_gw_token_region(S("Bearer mct_in_abcdef"), r));
    assert_string_equal(r, "in");
    assert_true(mer_gw_token_region(S("bearer   mct_eu_x"), r));
    assert_string_equal(r, "eu");
    assert_false(mer_gw_token_region(S("Bearer mst_abcdef"), r));              /* staff: catalogue-wide */
    assert_false(mer_gw_token_region(S("Bearer mct__abc"), r));                /* no region */
    assert_false(mer_gw_token_region(S("Bearer mct_in"), r));                  /* no '_' after it */
    assert_false(mer_gw_token_region(S("Bearer mct_IN_abc"), r));              /* not lower case */
    assert_false(mer_gw_token_region(S("Bearer mct_abcdefghijklmnopq_x"), r)); /* too long */
    assert_false(mer_gw_token_region(S("Basic mct_in_abc"), r));
    assert_false(mer_gw_token_region(NULL, 0, r));
    assert_true(mer_gw_is_customer(S("Bearer mct_sg_q")));
    assert_false(mer_gw_is_customer(S("Bearer mst_q")));
    assert_false(mer_gw_is_customer(NULL, 0));
}

static void test_country_sources_in_order(void **state)
{
    (void)state;
    char cc[3];
    mer_gw_req_parts_t p = {0};
    assert_false(mer_gw_country(&p, cc));
    p.body = "{\"email\":\"a@b.c\",\"country\":\"es\"}";
    p.body_len = strlen(p.body);
    assert_true(mer_gw_country(&p, cc));
    assert_string_equal(cc, "ES");
    p.cookie = "session=1; country=sg; x=2";
    p.cookie_len = strlen(p.cookie);
    assert_true(mer_gw_country(&p, cc));
    assert_string_equal(cc, "SG");
    p.x_country = "Fr";
    p.x_country_len = 2;
    assert_true(mer_gw_country(&p, cc));
    assert_string_equal(cc, "FR");
    p.path = "/api/v1/admin/countries/de/launch-plan";
    p.path_len = strlen(p.path);
    assert_true(mer_gw_country(&p, cc));
    assert_string_equal(cc, "DE");
    p.query = "lang=hi&country=IN&page=2";
    p.query_len = strlen(p.query);
    assert_true(mer_gw_country(&p, cc));
    assert_string_equal(cc, "IN");
}

static void test_country_rejects_what_is_not_a_code(void **state)
{
    (void)state;
    char cc[3];
    mer_gw_req_parts_t p = {0};
    p.query = "xcountry=IN&country=IND";
    p.query_len = strlen(p.query);
    p.path = "/api/v1/countries";
    p.path_len = strlen(p.path);
    p.cookie = "mycountry=IN";
    p.cookie_len = strlen(p.cookie);
    p.body = "[\"country\",\"IN\"]";
    p.body_len = strlen(p.body);
    assert_false(mer_gw_country(&p, cc));
    p.body = "{\"country\": 12}";
    p.body_len = strlen(p.body);
    assert_false(mer_gw_country(&p, cc));
    p.body = "{\"country\": \"I1\"}";
    p.body_len = strlen(p.body);
    assert_false(mer_gw_country(&p, cc));
    p.body = "{not json";
    p.body_len = strlen(p.body);
    assert_false(mer_gw_country(&p, cc));
}

static void test_catalogue_reads(void **state)
{
    (void)state;
    assert_true(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/products/3"), false));
    assert_true(mer_gw_is_catalogue_read(S("HEAD"), S("/api/v1/categories"), false));
    assert_true(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/countries"), false));
    assert_false(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/products/3"), true)); /* a customer's token */
    assert_false(mer_gw_is_catalogue_read(S("POST"), S("/api/v1/products"), false));
    assert_false(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/productsx"), false));
    assert_false(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/orders"), false));
    assert_false(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/users/me"), false));
    assert_false(mer_gw_is_catalogue_read(S("GET"), S("/api/v1/cart"), false));
}

static void test_webhook_region(void **state)
{
    (void)state;
    char r[MER_GW_REGION_MAX];
    const char *hook = "/api/v1/payments/wallet/webhook";
    const char *body = "{\"id\":\"whevt_1\",\"type\":\"payment.succeeded\",\"intent\":\"pi_eu_0a1b\",\"amount\":5}";
    assert_true(mer_gw_webhook_region(S("POST"), S(hook), S(body), r));
    assert_string_equal(r, "eu");
    assert_false(mer_gw_webhook_region(S("GET"), S(hook), S(body), r));
    assert_false(mer_gw_webhook_region(S("POST"), S("/api/v1/payments/wallet/webhooks"), S(body), r));
    assert_false(mer_gw_webhook_region(S("POST"), S("/api/v1/payments/a/b/webhook"), S(body), r));
    assert_false(mer_gw_webhook_region(S("POST"), S("/api/v1/orders"), S(body), r));
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), NULL, 0, r));
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), S("{\"intent\":\"pi_EU_x\"}"), r)); /* not a region name */
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), S("{\"intent\":\"pi_eu\"}"), r));   /* no '_' after it */
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), S("{\"intent\":\"ch_eu_x\"}"), r));
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), S("{\"intent\":7}"), r));
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), S("[\"pi_eu_x\"]"), r));
    assert_false(mer_gw_webhook_region(S("POST"), S(hook), S("{\"intent\":\"pi_eu_x\""), r)); /* not JSON */
}

static void test_key_retry_only_where_keys_are_honoured(void **state)
{
    (void)state;
    assert_true(mer_gw_key_retry_safe(S("POST"), S("/api/v1/orders")));
    assert_false(mer_gw_key_retry_safe(S("POST"), S("/api/v1/cart/items"))); /* ignores the key */
    assert_false(mer_gw_key_retry_safe(S("POST"), S("/api/v1/orders/5/cancel")));
    assert_false(mer_gw_key_retry_safe(S("PATCH"), S("/api/v1/orders")));
}

#define SEC 1000000000ull

static void test_limiter_rate_and_burst(void **state)
{
    (void)state;
    mer_gw_limiter_t l;
    uint64_t wait = 0, t = 1000 * SEC;
    mer_gw_limiter_init(&l, 10, 5, 100); /* 10/s, bursts of 5 */
    for (int i = 0; i < 5; i++)
        assert_true(mer_gw_limiter_take(&l, S("10.0.0.1"), t, &wait));
    assert_false(mer_gw_limiter_take(&l, S("10.0.0.1"), t, &wait));
    assert_int_equal(wait, 100);                                   /* one interval */
    assert_true(mer_gw_limiter_take(&l, S("10.0.0.2"), t, &wait)); /* another client is not affected */
    assert_true(mer_gw_limiter_take(&l, S("10.0.0.1"), t + SEC / 10, &wait));
    assert_false(mer_gw_limiter_take(&l, S("10.0.0.1"), t + SEC / 10, &wait));
    for (int i = 0; i < 5; i++) /* a second later the burst is back */
        assert_true(mer_gw_limiter_take(&l, S("10.0.0.1"), t + 2 * SEC, &wait));
    assert_int_equal(l.limited, 2);
    mer_gw_limiter_release(&l);
}

static void test_limiter_memory_is_bounded(void **state)
{
    (void)state;
    mer_gw_limiter_t l;
    uint64_t wait = 0, t = 5 * SEC;
    mer_gw_limiter_init(&l, 1, 1, 64);
    size_t entries = l.nsets * MER_GW_LIMIT_WAYS;
    char key[32];
    for (int i = 0; i < 100000; i++) { /* many more clients than entries: each still gets its first request */
        int n = snprintf(key, sizeof(key), "198.51.%d.%d", i / 256, i % 256);
        assert_true(mer_gw_limiter_take(&l, key, (size_t)n, t + (uint64_t)i * SEC, &wait));
    }
    assert_int_equal(l.nsets * MER_GW_LIMIT_WAYS, entries);
    mer_gw_limiter_release(&l);
}

static void test_limiter_off(void **state)
{
    (void)state;
    mer_gw_limiter_t l;
    uint64_t wait = 0;
    mer_gw_limiter_init(&l, 0, 0, 10);
    for (int i = 0; i < 1000; i++)
        assert_true(mer_gw_limiter_take(&l, S("a"), 1, &wait));
    mer_gw_limiter_release(&l);
}

static void test_cache_decisions(void **state)
{
    (void)state;
    /* which requests */
    assert_true(mer_gw_cacheable_request(S("GET"), S("/api/v1/products/3"), false, false));
    assert_true(mer_gw_cacheable_request(S("HEAD"), S("/api/v1/countries"), false, false));
    assert_false(mer_gw_cacheable_request(S("GET"), S("/api/v1/products/3"), true, false)); /* any Authorization */
    assert_false(
        mer_gw_cacheable_request(S("GET"), S("/api/v1/products/3"), false, true)); /* If-Modified-Since, Range */
    assert_false(mer_gw_cacheable_request(S("GET"), S("/api/v1/flash-sales"), false, false));
    assert_false(mer_gw_cacheable_request(S("POST"), S("/api/v1/products"), false, false));
    /* which writes retire the cache */
    assert_true(mer_gw_is_admin_write(S("PUT"), S("/api/v1/admin/prices")));
    assert_true(mer_gw_is_admin_write(S("PATCH"), S("/api/v1/admin/products/7")));
    assert_true(mer_gw_is_admin_write(S("POST"), S("/api/v1/admin/import/products")));
    assert_false(mer_gw_is_admin_write(S("GET"), S("/api/v1/admin/prices")));
    assert_false(mer_gw_is_admin_write(S("POST"), S("/api/v1/orders")));
    assert_false(mer_gw_is_admin_write(S("POST"), S("/api/v1/administrators")));
    /* how long: the node's max-age (or s-maxage), capped by the gateway's own */
    assert_int_equal(mer_gw_cache_ttl_ms(S("public, max-age=5"), 1000), 1000);
    assert_int_equal(mer_gw_cache_ttl_ms(S("public, max-age=1"), 3000), 1000);
    assert_int_equal(mer_gw_cache_ttl_ms(S("max-age=2, PUBLIC"), 60000), 2000);
    assert_int_equal(mer_gw_cache_ttl_ms(S("public, max-age=60, s-maxage=3"), 60000), 3000);
    assert_int_equal(mer_gw_cache_ttl_ms(S("public, max-age=\"4\""), 60000), 4000);
    assert_int_equal(mer_gw_cache_ttl_ms(S("public, max-age=5"), 0), 0); /* the cache is off */
    assert_int_equal(mer_gw_cache_ttl_ms(S("max-age=5"), 1000), 0);      /* not said public */
    assert_int_equal(mer_gw_cache_ttl_ms(S("public, max-age=0"), 1000), 0);
    assert_int_equal(mer_gw_cache_ttl_ms(S("public"), 1000), 0); /* no lifetime given */
    assert_int_equal(mer_gw_cache_ttl_ms(S("public, no-store, max-age=5"), 1000), 0);
    assert_int_equal(mer_gw_cache_ttl_ms(S("private, max-age=5"), 1000), 0);
    assert_int_equal(mer_gw_cache_ttl_ms(S("public, no-cache, max-age=5"), 1000), 0);
    assert_int_equal(mer_gw_cache_ttl_ms(S("public, max-age=soon"), 1000), 0);
    assert_int_equal(mer_gw_cache_ttl_ms(NULL, 0, 1000), 0);
    /* which Vary */
    assert_true(mer_gw_vary_keyed(NULL, 0));
    assert_true(mer_gw_vary_keyed(S("Accept-Language")));
    assert_true(mer_gw_vary_keyed(S("X-Country, accept-language,X-Meridian-Fallback")));
    assert_true(mer_gw_vary_keyed(S("Accept-Encoding")));
    assert_false(mer_gw_vary_keyed(S("Accept-Language, Cookie")));
    assert_false(mer_gw_vary_keyed(S("*")));
    assert_false(mer_gw_vary_keyed(S("Authorization")));
}

static const mer_gw_cached_header_t hdrs[] = {{S("content-type"), S("application/json")}, {S("etag"), S("\"1\"")}};

static const mer_gw_entry_t *put(mer_gw_cache_t *c, const char *key, uint64_t gen, uint64_t now, uint64_t ttl,
                                 size_t body_len)
{
    static char body[8192];
    memset(body, 'x', sizeof(body));
    return mer_gw_cache_put(c, key, strlen(key), gen, now, ttl, 200, hdrs, 2, body, body_len);
}

static void test_cache_fresh_and_generation(void **state)
{
    (void)state;
    mer_gw_cache_t *c = mer_gw_cache_new(1 << 20);
    assert_null(mer_gw_cache_get(c, S("eu|/p/1"), 1, 1000));
    const mer_gw_entry_t *e = put(c, "eu|/p/1", 1, 1000, 500, 10);
    assert_non_null(e);
    e = mer_gw_cache_get(c, S("eu|/p/1"), 1, 1499);
    assert_non_null(e);
    assert_int_equal(e->status, 200);
    assert_int_equal(e->body_len, 10);
    assert_int_equal(e->nheaders, 2);
    assert_memory_equal(e->headers[1].name, "etag", 4);
    assert_memory_equal(e->headers[0].value, "application/json", 16);
    assert_int_equal(e->stored_ms, 1000);
    assert_null(mer_gw_cache_get(c, S("eu|/p/1"), 1, 1500)); /* expired: dropped */
    assert_null(mer_gw_cache_get(c, S("eu|/p/1"), 1, 1000)); /* gone, even at an earlier time */
    put(c, "eu|/p/1", 1, 2000, 500, 10);
    assert_null(mer_gw_cache_get(c, S("eu|/p/1"), 2, 2001)); /* another generation: retired */
    assert_null(mer_gw_cache_get(c, S("in|/p/1"), 1, 2001)); /* another region's key */
    const mer_gw_cache_stats_t *st = mer_gw_cache_stats(c);
    assert_int_equal(atomic_load(&st->hits), 1);
    assert_int_equal(atomic_load(&st->misses), 5);
    assert_int_equal(atomic_load(&st->entries), 0);
    assert_int_equal(atomic_load(&st->bytes), 0);
    mer_gw_cache_free(c);
}

static void test_cache_lru_within_its_bytes(void **state)
{
    (void)state;
    mer_gw_cache_t *c = mer_gw_cache_new(64 * 1024);
    const mer_gw_cache_stats_t *st = mer_gw_cache_stats(c);
    assert_null(put(c, "big", 1, 0, 1000, 16 * 1024 + 1)); /* over a quarter of the cache: not stored */
    char key[16];
    for (int i = 0; i < 7; i++) { /* 7 x ~8.3 KB fit in 64 KB */
        snprintf(key, sizeof(key), "k%d", i);
        assert_non_null(put(c, key, 1, 0, 1000, 8000));
    }
    assert_int_equal(atomic_load(&st->evictions), 0);
    assert_non_null(mer_gw_cache_get(c, S("k0"), 1, 1)); /* k0 is now the most recently used: k1 goes first */
    assert_non_null(put(c, "k7", 1, 0, 1000, 8000));
    assert_non_null(put(c, "k8", 1, 0, 1000, 8000));
    assert_true(atomic_load(&st->evictions) >= 1);
    assert_non_null(mer_gw_cache_get(c, S("k0"), 1, 1));
    assert_null(mer_gw_cache_get(c, S("k1"), 1, 1));
    assert_non_null(mer_gw_cache_get(c, S("k8"), 1, 1));
    assert_true(atomic_load(&st->bytes) <= 64 * 1024);
    /* an entry held by an answer in flight outlives its eviction */
    const mer_gw_entry_t *e = mer_gw_cache_get(c, S("k8"), 1, 1);
    h2o_mem_addref_shared((void *)e);
    put(c, "k8", 1, 0, 1000, 100); /* replaced */
    assert_int_equal(e->body_len, 8000);
    assert_int_equal(e->body[7999], 'x');
    h2o_mem_release_shared((void *)e);
    mer_gw_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_region),
        cmocka_unit_test(test_country_sources_in_order),
        cmocka_unit_test(test_country_rejects_what_is_not_a_code),
        cmocka_unit_test(test_catalogue_reads),
        cmocka_unit_test(test_limiter_rate_and_burst),
        cmocka_unit_test(test_limiter_memory_is_bounded),
        cmocka_unit_test(test_limiter_off),
        cmocka_unit_test(test_key_retry_only_where_keys_are_honoured),
        cmocka_unit_test(test_webhook_region),
        cmocka_unit_test(test_cache_decisions),
        cmocka_unit_test(test_cache_fresh_and_generation),
        cmocka_unit_test(test_cache_lru_within_its_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
