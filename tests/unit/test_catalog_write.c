/*
 * Unit tests: the catalogue's admin service (src/catalog/catalog_write.c) as catalog.db's writer runs it,
 * on a real catalogue database in a temporary directory, with the catalogue's commit hook registered as the
 * module does: a change is in the snapshot once its job is answered; a failing change names its field and
 * leaves nothing of itself behind (its savepoint), in the database or in the snapshot; the stock state of
 * product pages comes from the installed provider.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "store/db.h"
#include "store/store.h"
#include "store/writer.h"

static char dir[64];

/* One service call as a job of catalog.db's writer; the test thread waits for its commit. */
typedef struct op {
    int (*fn)(mer_db_t *db, struct op *op);
    mer_verr_t e;
    int64_t id;
    const mer_cat_product_in_t *product;
    const mer_cat_price_in_t *prices;
    size_t nprices;
} op_t;

static int run_op(mer_db_t *db, void *arg)
{
    op_t *op = arg;
    return op->fn(db, op);
}

static int run(op_t *op)
{
    return mer_writer_run_sync(MER_STORE_CATALOG, run_op, op);
}

static int64_t count(const char *sql)
{
    int64_t n = -1;
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    assert_int_equal(mer_db_query_int(db, &n, sql, NULL), 0);
    mer_store_write_end(MER_STORE_CATALOG);
    return n;
}

static size_t snapshot_products(void)
{
    size_t n = mer_catalog_lock()->nproducts;
    mer_catalog_unlock();
    return n;
}

static int create_phones(mer_db_t *db, op_t *op)
{
    json_t *names = json_pack("{s:s,s:s}", "en", "Phones", "es", "Teléfonos");
    mer_cat_category_in_t in = {"phones", NULL, names};
    int err = mer_catalog_create_category(db, &in, &op->id, &op->e);
    json_decref(names);
    return err;
}

static int create_product(mer_db_t *db, op_t *op)
{
    return mer_catalog_create_product(db, op->product, 1000, &op->id, &op->e);
}

static int set_prices(mer_db_t *db, op_t *op)
{
    return mer_catalog_set_prices(db, op->prices, op->nprices, 2000, &op->e);
}

static mer_cat_product_in_t product(const char *slug, json_t *texts, json_t *skus)
{
    return (mer_cat_product_in_t){slug, "Acme", "phones", "standard", 1, texts, skus};
}

/* A new product is in the snapshot (with its SKU and price) as soon as its job is answered. */
static void test_created_product_is_published_after_commit(void **state)
{
    (void)state;
    op_t cat = {.fn = create_phones};
    assert_int_equal(run(&cat), 0);
    assert_true(cat.id > 0);

    uint64_t gen = mer_catalog_generation();
    json_t *texts = json_pack("{s:{s:s,s:s}}", "en", "name", "Acme One", "description", "a phone");
    json_t *skus = json_pack("[{s:s,s:{s:s},s:{s:I}}]", "code", "ACME-1-BLK", "attributes", "colour", "black", "prices",
                             "IN", (json_int_t)1999900);
    mer_cat_product_in_t in = product("acme-one", texts, skus);
    op_t op = {.fn = create_product, .product = &in};
    assert_int_equal(run(&op), 0);
    json_decref(texts);
    json_decref(skus);

    assert_true(mer_catalog_generation() > gen);
    const mer_catalog_t *c = mer_catalog_lock();
    const mer_cat_product_t *p = mer_catalog_product(c, op.id);
    assert_non_null(p);
    assert_string_equal(p->slug, "acme-one");
    assert_int_equal(p->nskus, 1);
    assert_int_equal(mer_catalog_price(&p->skus[0], "IN"), 1999900);
    assert_int_equal(mer_catalog_price(&p->skus[0], "DE"), -1);
    mer_catalog_unlock();
}

/* A taken SKU code fails the whole product, naming skus.code: no product row, no text, no snapshot change. */
static void test_failed_product_leaves_nothing(void **state)
{
    (void)state;
    size_t before = snapshot_products();
    uint64_t gen = mer_catalog_generation();
    json_t *texts = json_pack("{s:{s:s}}", "en", "name", "Acme Two");
    json_t *skus = json_pack("[{s:s},{s:s}]", "code", "ACME-2-BLK", "code", "ACME-1-BLK");
    mer_cat_product_in_t in = product("acme-two", texts, skus);
    op_t op = {.fn = create_product, .product = &in};
    assert_int_equal(run(&op), MER_E_ALREADY_EXISTS);
    json_decref(texts);
    json_decref(skus);
    assert_int_equal(op.e.code, MER_E_ALREADY_EXISTS);
    assert_string_equal(op.e.field, "skus.code");
    assert_int_equal(count("SELECT COUNT(*) FROM product WHERE slug = 'acme-two'"), 0);
    assert_int_equal(count("SELECT COUNT(*) FROM sku WHERE code = 'ACME-2-BLK'"), 0);
    assert_int_equal(count("SELECT COUNT(*) FROM product_text WHERE name = 'Acme Two'"), 0);
    assert_int_equal(snapshot_products(), before);
    assert_int_equal(mer_catalog_generation(), gen); /* nothing changed: no reload */
}

/* An unknown SKU in a price list fails it naming the entry; the prices before it are not kept either. */
static void test_price_list_is_all_or_nothing(void **state)
{
    (void)state;
    mer_cat_price_in_t prices[] = {{"ACME-1-BLK", "IN", false, 1899900}, {"NO-SUCH-SKU", "IN", false, 100}};
    op_t op = {.fn = set_prices, .prices = prices, .nprices = 2};
    assert_int_equal(run(&op), MER_E_VALIDATION);
    assert_string_equal(op.e.field, "prices[1].sku");
    assert_int_equal(count("SELECT amount FROM price WHERE country = 'IN'"), 1999900);

    op.nprices = 1; /* the valid entry alone goes through, and the snapshot follows */
    op.e = (mer_verr_t){0};
    assert_int_equal(run(&op), 0);
    const mer_catalog_t *c = mer_catalog_lock();
    const mer_cat_sku_t *s = mer_catalog_sku_by_code(c, "ACME-1-BLK");
    assert_non_null(s);
    assert_int_equal(mer_catalog_price(s, "IN"), 1899900);
    mer_catalog_unlock();
}

/* Product pages ask the installed stock-state provider (out of stock without one). */
static int64_t stocked_sku;
static bool fake_in_stock(int64_t sku_id, const char *country)
{
    return sku_id == stocked_sku && strcmp(country, "IN") == 0;
}
static uint32_t fake_epoch(int64_t product_id)
{
    return (uint32_t)product_id * 7;
}

static void test_stock_state_comes_from_the_provider(void **state)
{
    (void)state;
    const mer_catalog_t *c = mer_catalog_lock();
    stocked_sku = mer_catalog_sku_by_code(c, "ACME-1-BLK")->id;
    mer_catalog_unlock();
    assert_false(mer_catalog_in_stock(stocked_sku, "IN"));
    assert_int_equal(mer_catalog_stock_epoch(3), 0);
    static const mer_stock_state_t fake = {fake_in_stock, fake_epoch};
    mer_catalog_set_stock_state(&fake);
    assert_true(mer_catalog_in_stock(stocked_sku, "IN"));
    assert_false(mer_catalog_in_stock(stocked_sku, "DE"));
    assert_int_equal(mer_catalog_stock_epoch(3), 21);
    mer_catalog_set_stock_state(NULL);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mer-catwrite-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    if (mer_store_init(dir) != 0 || mer_catalog_init() != 0 || mer_writer_start(MER_STORE_CATALOG) != 0)
        return -1;
    mer_writer_on_commit(mer_catalog_on_commit);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mer_writer_stop_all();
    mer_catalog_shutdown();
    mer_store_shutdown();
    static const char *const files[] = {"catalog.db", "catalog.db-wal", "catalog.db-shm"};
    char path[128];
    for (size_t i = 0; i < MER_ARRAY_LEN(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_created_product_is_published_after_commit),
        cmocka_unit_test(test_failed_product_leaves_nothing),
        cmocka_unit_test(test_price_list_is_all_or_nothing),
        cmocka_unit_test(test_stock_state_comes_from_the_provider),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
