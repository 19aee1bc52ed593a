/*
 * Unit tests: the checkout and order services (order/checkout.h, order/order.h) called as a gateway or a
 * storefront would call them, without HTTP, on a real store in a temporary directory seeded with the demo
 * countries and catalogue. Each service call runs in its own transaction on the region's write connection
 * (the writer's role), committed on success and rolled back on error, as a writer job's savepoint is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "inventory/inventory.h"
#include "order/checkout.h"
#include "order/shipment.h"
#include "order/order.h"
#include "region/country.h"
#include "seed/seed.h"
#include "store/store.h"
#include "seeded_store.h"

#define REGION "in"

static int64_t user_id, other_id, addr_user_id; /* addr_user_id: a customer with stored addresses */
static char sku_code[65];
static int64_t sku_price;

/* Runs fn(db, arg) in a transaction of the region's store: committed when it returns 0, else rolled back. */
static int in_tx(int (*fn)(mer_db_t *, void *), void *arg)
{
    mer_db_t *db = mer_store_write_begin(REGION);
    assert_non_null(db);
    assert_int_equal(mer_db_begin(db), 0);
    int err = fn(db, arg);
    if (err == 0)
        assert_int_equal(mer_db_commit(db), 0);
    else
        mer_db_rollback(db);
    mer_store_write_end(REGION);
    return err;
}

static int64_t count(const char *sql, int64_t id)
{
    int64_t n = -1;
    mer_db_t *db = mer_store_write_begin(REGION);
    assert_int_equal(mer_db_query_int(db, &n, sql, "i", id), 0);
    mer_store_write_end(REGION);
    return n;
}

/* ---- checkout ---- */

typedef struct place_arg {
    mer_checkout_t co;
    mer_verr_t e;
    int64_t statements; /* what mer_checkout_place ran (mer_db_statements) */
    bool unprepared;    /* place() skips mer_checkout_prepare */
} place_arg_t;

/* As the adapter does: prepared on its loop, placed by the writer, the answer made after the commit (or
 * not prepared, when unprepared is set: everything in the job). */
static int place(mer_db_t *db, void *arg)
{
    place_arg_t *a = arg;
    if (!a->unprepared)
        mer_checkout_prepare(&a->co);
    int64_t before = mer_db_statements(db);
    int err = mer_checkout_place(db, &a->co, &a->e);
    a->statements = mer_db_statements(db) - before;
    if (err == 0)
        mer_checkout_view(&a->co);
    return err;
}

/* A checkout of quantity units of the test SKU by the test customer, delivered to an inline address in
 * Mumbai, as the adapter would fill it. */
static place_arg_t *new_checkout(int64_t quantity, const char *method)
{
    place_arg_t *a = calloc(1, sizeof(*a));
    mer_checkout_t *co = &a->co;
    mer_checkout_init(co);
    co->user_id = user_id;
    snprintf(co->country, sizeof(co->country), "IN");
    snprintf(co->region, sizeof(co->region), REGION);
    snprintf(co->payment_method, sizeof(co->payment_method), "%s", method);
    co->inline_address = true;
    snprintf(co->address.name, sizeof(co->address.name), "Asha Rao");
    snprintf(co->address.line1, sizeof(co->address.line1), "12 MG Road");
    snprintf(co->address.city, sizeof(co->address.city), "Mumbai");
    snprintf(co->address.state, sizeof(co->address.state), "MH");
    snprintf(co->address.postal_code, sizeof(co->address.postal_code), "400001");
    snprintf(co->address.phone, sizeof(co->address.phone), "+919812345678");
    co->lines_given = true;
    co->nwant = 1;
    snprintf(co->want[0].code, sizeof(co->want[0].code), "%s", sku_code);
    co->want[0].quantity = quantity;
    return a;
}

static void free_checkout(place_arg_t *a)
{
    mer_checkout_release(&a->co);
    free(a);
}

static void test_checkout_places_an_order(void **state)
{
    (void)state;
    place_arg_t *a = new_checkout(2, "card");
    assert_int_equal(in_tx(place, a), 0);
    mer_checkout_t *co = &a->co;
    assert_true(co->order_id > 0);
    assert_false(co->replay);
    assert_string_equal(co->view.status, "pending_payment");
    assert_string_equal(co->view.currency, "INR");
    assert_int_equal(co->view.nlines, 1);
    assert_int_equal(co->view.lines[0].quantity, 2);
    assert_int_equal(co->view.items_total, 2 * sku_price);
    assert_true(co->view.grand_total >= co->view.items_total); /* India: tax included, shipping maybe */
    /* what the answer shows is what was written */
    assert_int_equal(count("SELECT grand_total FROM orders WHERE id = ?", co->order_id), co->view.grand_total);
    assert_int_equal(count("SELECT COUNT(*) FROM order_line WHERE order_id = ?", co->order_id), 1);
    assert_int_equal(count("SELECT COUNT(*) FROM order_event WHERE order_id = ?", co->order_id), 1);
    free_checkout(a);
}

static void test_checkout_refusal_writes_nothing(void **state)
{
    (void)state;
    int64_t before = count("SELECT COUNT(*) FROM orders WHERE user_id = ?", user_id);
    /* a SKU that is not sold: the field names the line */
    place_arg_t *a = new_checkout(1, "card");
    snprintf(a->co.want[0].code, sizeof(a->co.want[0].code), "NO-SUCH-SKU");
    assert_int_equal(in_tx(place, a), MER_E_VALIDATION);
    assert_string_equal(a->e.field, "lines[0].sku");
    free_checkout(a);
    /* a payment method the country does not offer */
    a = new_checkout(1, "bitcoin");
    assert_int_equal(in_tx(place, a), MER_E_VALIDATION);
    assert_string_equal(a->e.field, "payment_method");
    free_checkout(a);
    /* an address that breaks the country's rules */
    a = new_checkout(1, "card");
    snprintf(a->co.address.postal_code, sizeof(a->co.address.postal_code), "1");
    assert_int_equal(in_tx(place, a), MER_E_VALIDATION);
    assert_string_equal(a->e.field, "address.postal_code");
    free_checkout(a);
    /* more than the stock of every warehouse: refused after the reservation began, rolled back */
    a = new_checkout(1000, "card");
    int err = in_tx(place, a);
    assert_true(err == MER_E_CONFLICT || err == MER_E_VALIDATION); /* out of stock, or over the SKU's limit */
    assert_true(a->e.code == err);
    free_checkout(a);
    /* an unknown coupon names its reason */
    a = new_checkout(1, "card");
    snprintf(a->co.coupon_code, sizeof(a->co.coupon_code), "NOSUCHCOUPON");
    assert_int_equal(in_tx(place, a), MER_E_VALIDATION);
    assert_string_equal(a->e.field, "coupon");
    assert_non_null(a->co.reason);
    assert_string_equal(a->co.reason, "unknown");
    free_checkout(a);
    assert_int_equal(count("SELECT COUNT(*) FROM orders WHERE user_id = ?", user_id), before);
}

static void test_checkout_idempotency_key(void **state)
{
    (void)state;
    place_arg_t *a = new_checkout(1, "cod");
    snprintf(a->co.idem_key, sizeof(a->co.idem_key), "key-1");
    snprintf(a->co.req_hash, sizeof(a->co.req_hash), "hash-a");
    assert_int_equal(in_tx(place, a), 0);
    assert_string_equal(a->co.view.status, "pending_shipment");
    int64_t first = a->co.order_id;
    free_checkout(a);
    /* a retry with the same body: the first order, even though the lines given now would be refused */
    a = new_checkout(1, "cod");
    snprintf(a->co.want[0].code, sizeof(a->co.want[0].code), "NO-SUCH-SKU");
    snprintf(a->co.idem_key, sizeof(a->co.idem_key), "key-1");
    snprintf(a->co.req_hash, sizeof(a->co.req_hash), "hash-a");
    assert_int_equal(in_tx(place, a), 0);
    assert_true(a->co.replay);
    assert_int_equal(a->co.order_id, first);
    assert_int_equal(a->co.view.id, first);
    free_checkout(a);
    /* the same key for another body */
    a = new_checkout(1, "cod");
    snprintf(a->co.idem_key, sizeof(a->co.idem_key), "key-1");
    snprintf(a->co.req_hash, sizeof(a->co.req_hash), "hash-b");
    assert_int_equal(in_tx(place, a), MER_E_IDEMPOTENCY_MISMATCH);
    assert_string_equal(a->e.field, "Idempotency-Key");
    free_checkout(a);
}

/* Adds delta to the test SKU's price in India in catalog.db and reloads the catalogue (an admin's change). */
static void change_price(int64_t delta)
{
    mer_db_t *cat = mer_store_write_begin(MER_STORE_CATALOG);
    assert_int_equal(mer_db_exec(cat,
                                 "UPDATE price SET amount = amount + ? WHERE country = 'IN' AND "
                                 "sku_id = (SELECT id FROM sku WHERE code = ?)",
                                 "is", delta, sku_code),
                     1);
    mer_store_write_end(MER_STORE_CATALOG);
    assert_int_equal(mer_catalog_reload(), 0);
}

/*
 * What the adapter prepares on its loop (lines priced from the catalogue, the inline address checked) is
 * the job's only while the catalogue and the countries are as they were: a price changed between the two
 * is the order's price, and expected_total sees it. Refusals found on the loop come in their turn.
 */
static void test_checkout_prepared(void **state)
{
    (void)state;
    /* prepared or not, the same order */
    place_arg_t *a = new_checkout(2, "card"), *b = new_checkout(2, "card");
    b->unprepared = true;
    assert_int_equal(in_tx(place, a), 0);
    assert_int_equal(in_tx(place, b), 0);
    assert_int_equal(a->co.view.grand_total, b->co.view.grand_total);
    assert_int_equal(a->co.view.tax_total, b->co.view.tax_total);
    assert_int_equal(a->co.view.lines[0].unit_price, sku_price);
    assert_string_equal(a->co.view.lines[0].name, b->co.view.lines[0].name);
    assert_string_equal(a->co.view.address_json, b->co.view.address_json);
    int64_t total = a->co.view.grand_total;
    free_checkout(a);
    free_checkout(b);

    /* priced on the loop, then the price changes before the job: the job prices again */
    a = new_checkout(2, "card");
    mer_checkout_prepare(&a->co);
    assert_true(a->co.prep_lines);
    assert_int_equal(a->co.pr.grand_total, total);
    change_price(100);
    a->unprepared = true; /* (prepared above) */
    assert_int_equal(in_tx(place, a), 0);
    assert_int_equal(a->co.view.lines[0].unit_price, sku_price + 100);
    assert_int_equal(count("SELECT unit_price FROM order_line WHERE order_id = ? AND line_no = 1", a->co.order_id),
                     sku_price + 100);
    free_checkout(a);
    /* the same with the total the client was shown: refused, nothing written */
    a = new_checkout(2, "card");
    a->co.expected_total = total;
    mer_checkout_prepare(&a->co);
    change_price(-100);
    a->unprepared = true;
    int64_t before = count("SELECT COUNT(*) FROM orders WHERE user_id = ?", user_id);
    /* the price is back to what the loop saw, but the catalogue moved on twice: priced again, same total */
    assert_int_equal(in_tx(place, a), 0);
    assert_int_equal(a->co.view.grand_total, total);
    free_checkout(a);
    a = new_checkout(2, "card");
    a->co.expected_total = total;
    mer_checkout_prepare(&a->co);
    change_price(100);
    a->unprepared = true;
    assert_int_equal(in_tx(place, a), MER_E_CONFLICT);
    assert_string_equal(a->e.field, "expected_total");
    assert_int_equal(count("SELECT COUNT(*) FROM orders WHERE user_id = ?", user_id), before + 1);
    free_checkout(a);
    change_price(-100);

    /* an address and a line both refused on the loop: the address first, as in the job */
    a = new_checkout(1, "card");
    snprintf(a->co.address.postal_code, sizeof(a->co.address.postal_code), "1");
    snprintf(a->co.want[0].code, sizeof(a->co.want[0].code), "NO-SUCH-SKU");
    mer_checkout_prepare(&a->co);
    assert_int_equal(a->co.prep_address_err.code, MER_E_VALIDATION);
    assert_int_equal(a->co.prep_lines_err.code, MER_E_VALIDATION);
    a->unprepared = true;
    assert_int_equal(in_tx(place, a), MER_E_VALIDATION);
    assert_string_equal(a->e.field, "address.postal_code");
    free_checkout(a);
}

/*
 * The order of the benchmark (one line, a card, the customer's stored default address, every unit in the
 * first warehouse) costs the writer 11 statements, each a round trip on a database server: the address;
 * the warehouses and one conditional UPDATE of the stock; the order number; the order, its line, its
 * shipment and the shipment's lines; its two tax rows (CGST and SGST: Mumbai to Mumbai) in one; the
 * first event and order.created. Nothing is read back for the answer. (Split shipments had taken 17: the
 * default address found and then loaded, every warehouse's stock read before the UPDATE, the shipments
 * read back, a statement per tax row.)
 */
static void test_checkout_statements(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) { /* the first order warms what a writer caches (stock.low armed or not) */
        place_arg_t *a = new_checkout(1, "card");
        a->co.inline_address = false;
        a->co.user_id = addr_user_id;
        assert_int_equal(in_tx(place, a), 0);
        assert_non_null(strstr(a->co.view.address_json, "\"name\":\"Default Home\""));
        /* the answer's shipments, written without reading, are the very text of those read back */
        mer_db_t *db = mer_store_write_begin(REGION);
        json_t *back = mer_shipments_json(db, a->co.order_id);
        mer_store_write_end(REGION);
        assert_int_equal(json_array_size(back), 1);
        char *text = mer_json_dump(back, NULL);
        assert_string_equal(a->co.view.shipments_text, text);
        free(text);
        json_decref(back);
        assert_int_equal(a->co.view.ntaxes, 2);
        assert_int_equal(count("SELECT COUNT(*) FROM order_tax WHERE order_id = ?", a->co.order_id), 2);
        assert_int_equal(count("SELECT SUM(amount) FROM order_tax WHERE order_id = ?", a->co.order_id),
                         a->co.view.tax_total);
        if (i == 1)
            assert_in_range(a->statements, 1, 11);
        free_checkout(a);
    }
}

/* ---- the order service ---- */

typedef struct change_arg {
    mer_order_change_t ch;
    mer_verr_t e;
} change_arg_t;

static int change(mer_db_t *db, void *arg)
{
    change_arg_t *a = arg;
    return mer_order_change(db, &a->ch, &a->e);
}

static void test_order_change(void **state)
{
    (void)state;
    place_arg_t *p = new_checkout(1, "card");
    assert_int_equal(in_tx(place, p), 0);
    int64_t id = p->co.order_id;
    free_checkout(p);

    change_arg_t a = {.ch = {.order_id = id, .user_id = other_id, .ev = MER_OE_CANCEL}};
    snprintf(a.ch.actor, sizeof(a.ch.actor), "customer:%lld", (long long)other_id);
    assert_int_equal(in_tx(change, &a), MER_E_NOT_FOUND); /* another customer's order */

    a = (change_arg_t){.ch = {.order_id = id, .user_id = user_id, .ev = MER_OE_CANCEL}};
    snprintf(a.ch.actor, sizeof(a.ch.actor), "customer:%lld", (long long)user_id);
    assert_int_equal(in_tx(change, &a), 0);
    assert_string_equal(a.ch.current, "cancelled");
    assert_int_equal(count("SELECT COUNT(*) FROM order_event WHERE order_id = ?", id), 2);

    a = (change_arg_t){.ch = {.order_id = id, .ev = MER_OE_SHIP}};
    snprintf(a.ch.actor, sizeof(a.ch.actor), "admin:1");
    assert_int_equal(in_tx(change, &a), MER_E_CONFLICT);
    assert_string_equal(a.e.field, "status");
    assert_string_equal(a.ch.current, "cancelled");
}

typedef struct list_arg {
    mer_order_query_t q;
    mer_order_page_t page;
    int64_t scanned; /* rows full table scans stepped over meanwhile (mer_db_scan_steps) */
} list_arg_t;

static int list(mer_db_t *db, void *arg)
{
    list_arg_t *a = arg;
    int64_t before = mer_db_scan_steps(db);
    int err = mer_order_list(db, &a->q, &a->page);
    a->scanned = mer_db_scan_steps(db) - before;
    return err;
}

static int make_newest_oldest(mer_db_t *db, void *arg)
{
    /* the customer's last order by id gets the earliest time: the list must go by time, not by id */
    return mer_db_exec(db, "UPDATE orders SET created_at = 1 WHERE id = ?", "i", *(int64_t *)arg) == 1 ? 0
                                                                                                       : MER_E_INTERNAL;
}

/*
 * A customer's orders, newest first by created_at then id, in pages, filtered by status; read through the
 * customer's index whatever else the region holds (no row of a full scan), while staff's listing of every
 * order does scan (which shows the count is live).
 */
static void test_order_list(void **state)
{
    (void)state;
    list_arg_t a = {.q = {.user_id = user_id, .page = 1, .per_page = 2}};
    assert_int_equal(in_tx(list, &a), 0);
    assert_int_equal(a.page.total, count("SELECT COUNT(*) FROM orders WHERE user_id = ?", user_id));
    assert_true(a.page.total >= 3);
    assert_true(count("SELECT COUNT(*) FROM orders WHERE user_id <> ?", user_id) > 0);
    assert_int_equal(a.page.n, 2);
    assert_true(a.page.items[0].id > a.page.items[1].id); /* newest first */
    assert_int_equal(a.scanned, 0);
    int64_t last = a.page.items[0].id;
    mer_order_page_release(&a.page);

    assert_int_equal(in_tx(make_newest_oldest, &last), 0);
    a = (list_arg_t){.q = {.user_id = user_id, .page = 1, .per_page = 100}};
    assert_int_equal(in_tx(list, &a), 0);
    assert_int_equal((int64_t)a.page.n, a.page.total);
    assert_int_equal(a.page.items[a.page.n - 1].id, last);
    for (size_t i = 1; i < a.page.n; i++) {
        const mer_order_summary_t *p = &a.page.items[i - 1], *o = &a.page.items[i];
        assert_true(p->created_at > o->created_at || (p->created_at == o->created_at && p->id > o->id));
    }
    assert_int_equal(a.scanned, 0);
    mer_order_page_release(&a.page);

    a = (list_arg_t){.q = {.user_id = user_id, .status = "cancelled", .page = 1, .per_page = 100}};
    assert_int_equal(in_tx(list, &a), 0);
    assert_true(a.page.total >= 1);
    assert_int_equal(a.page.total,
                     count("SELECT COUNT(*) FROM orders WHERE user_id = ? AND status = 'cancelled'", user_id));
    for (size_t i = 0; i < a.page.n; i++)
        assert_string_equal(a.page.items[i].status, "cancelled");
    assert_int_equal(a.scanned, 0);
    mer_order_page_release(&a.page);

    a = (list_arg_t){.q = {.page = 1, .per_page = 100}};
    assert_int_equal(in_tx(list, &a), 0);
    assert_int_equal(a.page.total, count("SELECT COUNT(*) FROM orders WHERE id > ?", 0));
    assert_true(a.scanned > 0);
    mer_order_page_release(&a.page);
}

/* ---- setup ---- */

static int add_user(mer_db_t *db, void *arg)
{
    int64_t *id = arg;
    static int n;
    char email[64];
    snprintf(email, sizeof(email), "u%d@example.test", ++n);
    return mer_db_query_int(db, id,
                            "INSERT INTO user (email, password_hash, country, created_at) VALUES (?, 'x', 'IN', 0) "
                            "RETURNING id",
                            "s", email);
}

/* Two stored addresses for addr_user_id: the older one marked default, and a newer one. */
static int add_addresses(mer_db_t *db, void *arg)
{
    (void)arg;
    static const char sql[] = "INSERT INTO address (user_id, country, name, line1, city, state, postal_code, phone, "
                              "is_default, created_at) VALUES (?, 'IN', ?, '12 MG Road', 'Mumbai', 'MH', '400001', "
                              "'+919812345678', ?, 0)";
    if (mer_db_exec(db, sql, "isi", addr_user_id, "Default Home", (int64_t)1) != 1 ||
        mer_db_exec(db, sql, "isi", addr_user_id, "Newer Office", (int64_t)0) != 1)
        return MER_E_INTERNAL;
    return 0;
}

static int seed_stock(mer_db_t *db, void *arg)
{
    (void)arg;
    return mer_inventory_seed(db, REGION, 500);
}

static int setup(void **state)
{
    (void)state;
    if (seeded_store_open("checkout", REGION) != 0)
        return -1;
    if (in_tx(seed_stock, NULL) != 0 || in_tx(add_user, &user_id) != 0 || in_tx(add_user, &other_id) != 0 ||
        in_tx(add_user, &addr_user_id) != 0 || in_tx(add_addresses, NULL) != 0)
        return -1;
    /* an accessory sold in India, cheap enough for any quantity used here */
    const mer_catalog_t *cat = mer_catalog_lock();
    for (size_t i = 0; i < cat->nproducts && !sku_code[0]; i++) {
        const mer_cat_product_t *p = &cat->products[i];
        for (size_t k = 0; p->active && k < p->nskus && !sku_code[0]; k++) {
            int64_t price = mer_catalog_price(&p->skus[k], "IN");
            if (price > 0 && p->skus[k].max_per_order >= 2) {
                snprintf(sku_code, sizeof(sku_code), "%s", p->skus[k].code);
                sku_price = price;
            }
        }
    }
    mer_catalog_unlock();
    return sku_code[0] ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return seeded_store_close();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkout_places_an_order),
        cmocka_unit_test(test_checkout_refusal_writes_nothing),
        cmocka_unit_test(test_checkout_idempotency_key),
        cmocka_unit_test(test_checkout_statements),
        cmocka_unit_test(test_checkout_prepared),
        cmocka_unit_test(test_order_change),
        cmocka_unit_test(test_order_list),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
