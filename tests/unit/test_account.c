/*
 * Unit tests: the account and cart services (account.h, cart.h) called without HTTP, on a temporary store
 * seeded with the demo countries and catalogue. Each write runs in its own transaction on the region's
 * writer connection (this thread is no event loop), as a writer job would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <unistd.h>

#include "account/account.h"
#include "cart/cart.h"
#include "catalog/catalog.h"
#include "region/country.h"
#include "seed/seed.h"
#include "store/store.h"
#include "seeded_store.h"

#define REGION "in"

static int setup(void **state)
{
    (void)state;
    if (seeded_store_open("account", REGION) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return seeded_store_close();
}

/* The region's writer connection inside a transaction; end() commits when err is 0, else rolls back. */
static mer_db_t *begin(void)
{
    mer_db_t *db = mer_store_write_begin(REGION);
    assert_non_null(db);
    assert_int_equal(mer_db_begin(db), 0);
    return db;
}

static int end(mer_db_t *db, int err)
{
    if (err)
        mer_db_rollback(db);
    else
        assert_int_equal(mer_db_commit(db), 0);
    mer_store_write_end(REGION);
    return err;
}

static mer_account_t customer(const char *email, const char *phone)
{
    mer_account_t a = {0};
    snprintf(a.email, sizeof(a.email), "%s", email);
    snprintf(a.phone, sizeof(a.phone), "%s", phone);
    snprintf(a.name, sizeof(a.name), "Asha");
    snprintf(a.country, sizeof(a.country), "IN");
    a.created_at = 1700000000000;
    return a;
}

static int64_t count(const char *sql, int64_t id)
{
    int64_t n = -1;
    mer_db_t *db = mer_store_write_begin(REGION);
    assert_int_equal(mer_db_query_int(db, &n, sql, "i", id), 0);
    mer_store_write_end(REGION);
    return n;
}

/* Registration names the field another account already has, and writes nothing then. */
static void test_register(void **state)
{
    (void)state;
    char hash[MER_PWHASH_MAX], stored[MER_PWHASH_MAX], pw[32];
    mer_verr_t e = {0};
    snprintf(pw, sizeof(pw), "correct horse");
    assert_int_equal(mer_password_hash(pw, hash), 0);

    mer_account_t a = customer("asha@example.in", "+919876543210");
    mer_db_t *db = begin();
    assert_int_equal(end(db, mer_account_register(db, &a, hash, &e)), 0);
    assert_true(a.id > 0);

    mer_account_t same_email = customer("asha@example.in", "");
    db = begin();
    assert_int_equal(end(db, mer_account_register(db, &same_email, hash, &e)), MER_E_ALREADY_EXISTS);
    assert_string_equal(e.field, "email");

    mer_account_t same_phone = customer("other@example.in", "+919876543210");
    e = (mer_verr_t){0};
    db = begin();
    assert_int_equal(end(db, mer_account_register(db, &same_phone, hash, &e)), MER_E_ALREADY_EXISTS);
    assert_string_equal(e.field, "phone");
    assert_int_equal(count("SELECT COUNT(*) FROM user WHERE id >= ?", 0), 1);

    /* either the email or the phone finds the one account, with the hash that verifies the password */
    mer_account_t found;
    db = mer_store_write_begin(REGION);
    assert_int_equal(mer_account_find(db, NULL, "+919876543210", &found, stored), 0);
    assert_int_equal(found.id, a.id);
    assert_string_equal(found.email, "asha@example.in");
    assert_int_equal(mer_account_find(db, "nobody@example.in", NULL, &found, stored), MER_E_NOT_FOUND);
    assert_int_equal(mer_account_find(db, "asha@example.in", NULL, &found, stored), 0);
    mer_store_write_end(REGION);
    assert_true(mer_password_matches(stored, pw, sizeof(pw)));
    snprintf(pw, sizeof(pw), "wrong horse");
    assert_false(mer_password_matches(stored, pw, sizeof(pw)));
}

static mer_address_patch_t mumbai(void)
{
    mer_address_patch_t p = {0};
    json_t *in = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", "Asha", "line1", "1 Marine Drive", "city", "Mumbai",
                           "state", "MH", "postal_code", "400001", "phone", "+919876543210");
    mer_verr_t e = {0};
    assert_int_equal(mer_address_patch_parse(in, &p, &e), 0);
    json_decref(in);
    return p;
}

/* Addresses: the first is the default; a bad one names its field and changes nothing. */
static void test_addresses(void **state)
{
    (void)state;
    mer_verr_t e = {0};
    mer_address_t a, list[MER_MAX_ADDRESSES];
    bool def = false, defs[MER_MAX_ADDRESSES];
    int64_t user = 1; /* test_register's customer */

    mer_address_patch_t p = mumbai();
    mer_db_t *db = begin();
    assert_int_equal(end(db, mer_address_add(db, user, REGION, "IN", &p, &a, &def, &e)), 0);
    assert_true(def);
    assert_string_equal(a.country, "IN");
    assert_string_equal(a.city, "Mumbai");

    mer_address_patch_t bad = mumbai();
    snprintf(bad.a.postal_code, sizeof(bad.a.postal_code), "1");
    db = begin();
    assert_int_equal(end(db, mer_address_add(db, user, REGION, "IN", &bad, &a, &def, &e)), MER_E_VALIDATION);
    assert_string_equal(e.field, "postal_code");

    mer_address_patch_t abroad = mumbai();
    snprintf(abroad.a.country, sizeof(abroad.a.country), "SG"); /* a valid Singapore address, another region */
    snprintf(abroad.a.phone, sizeof(abroad.a.phone), "+6591234567");
    abroad.set |= MER_ADDRF_COUNTRY;
    e = (mer_verr_t){0};
    db = begin();
    assert_int_equal(end(db, mer_address_add(db, user, REGION, "IN", &abroad, &a, &def, &e)), MER_E_VALIDATION);
    assert_string_equal(e.field, "country");
    assert_int_equal(count("SELECT COUNT(*) FROM address WHERE user_id = ?", user), 1);

    /* a change names only the fields it changes */
    mer_address_patch_t change = {0};
    db = mer_store_write_begin(REGION);
    assert_int_equal(mer_address_list(db, user, list, defs, MER_MAX_ADDRESSES), 1);
    mer_store_write_end(REGION);
    change.a.id = list[0].id;
    snprintf(change.a.city, sizeof(change.a.city), "Thane");
    change.set = MER_ADDRF_CITY;
    db = begin();
    assert_int_equal(end(db, mer_address_update(db, user, REGION, &change, &a, &def, &e)), 0);
    assert_string_equal(a.city, "Thane");
    assert_string_equal(a.line1, "1 Marine Drive");
    assert_true(def);

    change.a.id = list[0].id + 1000; /* not this user's */
    db = begin();
    assert_int_equal(end(db, mer_address_update(db, user, REGION, &change, &a, &def, &e)), MER_E_NOT_FOUND);

    db = begin();
    assert_int_equal(end(db, mer_address_delete(db, user, list[0].id)), 0);
    db = begin();
    assert_int_equal(end(db, mer_address_delete(db, user, list[0].id)), MER_E_NOT_FOUND);
    assert_int_equal(count("SELECT COUNT(*) FROM address WHERE user_id = ?", user), 0);
}

/* The default address: the one marked default, else the newest; loaded in one statement. Its JSON text
 * is the JSON of mer_address_json, byte for byte. */
static void test_default_address(void **state)
{
    (void)state;
    mer_verr_t e = {0};
    mer_address_t a, b, got;
    bool def = false;
    int64_t user = 1; /* test_register's customer, without addresses since test_addresses */

    mer_db_t *db = mer_store_write_begin(REGION);
    assert_int_equal(mer_address_default(db, user), 0);
    assert_int_equal(mer_address_load_default(db, user, &got), MER_E_NOT_FOUND);
    mer_store_write_end(REGION);

    mer_address_patch_t p = mumbai();
    db = begin();
    assert_int_equal(end(db, mer_address_add(db, user, REGION, "IN", &p, &a, &def, &e)), 0);
    assert_true(def);
    snprintf(p.a.name, sizeof(p.a.name), "B \"Office\" \\ राव");
    db = begin();
    assert_int_equal(end(db, mer_address_add(db, user, REGION, "IN", &p, &b, &def, &e)), 0);
    assert_false(def);
    assert_true(b.id > a.id);

    db = mer_store_write_begin(REGION);
    /* the marked one, though older */
    assert_int_equal(mer_address_default(db, user), a.id);
    assert_int_equal(mer_address_load_default(db, user, &got), 0);
    assert_int_equal(got.id, a.id);
    /* none marked: the newest */
    assert_int_equal(mer_db_exec(db, "UPDATE address SET is_default = 0 WHERE user_id = ?", "i", user), 2);
    assert_int_equal(mer_address_default(db, user), b.id);
    assert_int_equal(mer_address_load_default(db, user, &got), 0);
    assert_int_equal(got.id, b.id);
    assert_string_equal(got.name, "B \"Office\" \\ राव");
    mer_store_write_end(REGION);

    json_t *j = mer_address_json(&got);
    char *tree = mer_json_dump(j, NULL), *text = mer_address_json_text(&got);
    assert_string_equal(text, tree);
    json_decref(j);
    free(tree);
    free(text);
}

/* A SKU sold in India, with its price and purchase limit. */
static mer_cart_change_t sold_sku(void)
{
    mer_cart_change_t ch = {0};
    const mer_catalog_t *cat = mer_catalog_lock();
    for (size_t i = 0; i < cat->nproducts && ch.sku_id == 0; i++) {
        const mer_cat_product_t *p = &cat->products[i];
        for (size_t k = 0; p->active && k < p->nskus && ch.sku_id == 0; k++) {
            int64_t price = mer_catalog_price(&p->skus[k], "IN");
            if (price >= 0 && p->skus[k].max_per_order >= 2) {
                ch.sku_id = p->skus[k].id;
                ch.unit_price = price;
                ch.limit = p->skus[k].max_per_order;
            }
        }
    }
    mer_catalog_unlock();
    assert_true(ch.sku_id > 0);
    snprintf(ch.sale_type, sizeof(ch.sale_type), "normal");
    return ch;
}

/* Cart changes: quantities add up to the limit, a change past it names "quantity", an unknown line "sku". */
static void test_cart(void **state)
{
    (void)state;
    mer_verr_t e = {0};
    mer_cart_ref_t c = {.user_id = 1}; /* test_register's customer */
    c.country = mer_country_find(mer_countries(), "IN", 2);
    assert_non_null(c.country);
    snprintf(c.region, sizeof(c.region), REGION);
    mer_cart_user_id(c.user_id, "IN", c.id);

    mer_cart_change_t ch = sold_sku();
    ch.op = MER_CART_ADD;
    ch.quantity = 1;
    mer_db_t *db = begin();
    assert_int_equal(end(db, mer_cart_apply(db, &c, &ch, &e)), 0);
    db = begin();
    assert_int_equal(end(db, mer_cart_apply(db, &c, &ch, &e)), 0);

    mer_cart_line_t lines[MER_CART_MAX_LINES];
    db = mer_store_write_begin(REGION);
    assert_int_equal(mer_cart_lines(db, c.id, lines, MER_CART_MAX_LINES), 1);
    assert_int_equal(lines[0].quantity, 2);
    assert_int_equal(lines[0].unit_price, ch.unit_price);
    mer_locale_chain_t chain;
    mer_locale_chain_build(&chain, NULL, NULL, 0, c.country->languages[0]);
    json_t *v = mer_cart_view(db, &c, &chain);
    mer_store_write_end(REGION);
    assert_non_null(v);
    assert_int_equal(json_array_size(json_object_get(v, "lines")), 1);
    assert_string_equal(json_string_value(json_object_get(v, "currency")), "INR");
    json_decref(v);

    ch.op = MER_CART_SET;
    ch.quantity = ch.limit + 1;
    db = begin();
    assert_int_equal(end(db, mer_cart_apply(db, &c, &ch, &e)), MER_E_VALIDATION);
    assert_string_equal(e.field, "quantity");

    mer_cart_change_t other = ch;
    other.op = MER_CART_REMOVE;
    other.sku_id = ch.sku_id + 100000; /* not in the cart */
    e = (mer_verr_t){0};
    db = begin();
    assert_int_equal(end(db, mer_cart_apply(db, &c, &other, &e)), MER_E_NOT_FOUND);
    assert_string_equal(e.field, "sku");

    ch.op = MER_CART_REMOVE;
    db = begin();
    assert_int_equal(end(db, mer_cart_apply(db, &c, &ch, &e)), 0);
    db = mer_store_write_begin(REGION);
    assert_int_equal(mer_cart_lines(db, c.id, lines, MER_CART_MAX_LINES), 0);
    mer_store_write_end(REGION);
}

int main(void)
{
    mer_password_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_default_address),
        cmocka_unit_test(test_cart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
