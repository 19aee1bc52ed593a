/* Unit tests: the catalogue's search words, the typo matcher and matching over a small hand-made snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "catalog/catalog.h"
#include "catalog/search.h"
#include "core/buf.h"

/* The keys of a text, space-separated. */
static void collect(void *arg, const char *key, size_t n)
{
    mer_buf_t *b = arg;
    if (b->len)
        mer_buf_addch(b, ' ');
    mer_buf_add(b, key, n);
}

static void check_words(const char *text, const char *want)
{
    mer_buf_t b = MER_BUF_INIT;
    mer_search_words(text, strlen(text), collect, &b);
    assert_string_equal(b.len ? b.data : "", want);
    mer_buf_release(&b);
}

static void test_words(void **state)
{
    (void)state;
    check_words("Nova X1 Pro Smartphone", "nova x1 pro smartphone");
    check_words("  \"nova\" OR *)(  ", "nova or");
    check_words("Teléfonos", "telefonos");
    check_words("Zubehör für Fitness-Armband", "zubehor fur fitness armband");
    check_words("Điện thoại thông minh", "dien thoai thong minh");
    check_words("Смартфон", "smartfon");
    check_words("Urządzenia", "urzadzenia");
    /* Devanagari stays one word with its vowel signs, then is romanised */
    mer_buf_t hi = MER_BUF_INIT;
    mer_search_words("स्मार्टफ़ोन", strlen("स्मार्टफ़ोन"), collect, &hi);
    assert_non_null(hi.data);
    assert_null(strchr(hi.data, ' '));
    assert_true(strncmp(hi.data, "smar", 4) == 0);
    mer_buf_release(&hi);
    /* Thai has no spaces: the dictionary splits "smart watch" ("สมาร์ทวอทช์") from the name around it */
    mer_buf_t th = MER_BUF_INIT;
    mer_search_words("Nova W1 สมาร์ทวอทช์", strlen("Nova W1 สมาร์ทวอทช์"), collect, &th);
    assert_true(strncmp(th.data, "nova w1 ", 8) == 0);
    for (const char *p = th.data; *p; p++)
        assert_true((unsigned char)*p < 0x80);
    mer_buf_release(&th);
    check_words("", "");
    check_words("!!! ...", "");
}

static void test_budget(void **state)
{
    (void)state;
    assert_int_equal(mer_search_typo_budget(1), 0);
    assert_int_equal(mer_search_typo_budget(3), 0);
    assert_int_equal(mer_search_typo_budget(4), 1);
    assert_int_equal(mer_search_typo_budget(7), 1);
    assert_int_equal(mer_search_typo_budget(8), 2);
    assert_int_equal(mer_search_typo_budget(20), 2);
}

static int dist(const char *a, const char *b, int max, bool *whole)
{
    return mer_search_distance(a, strlen(a), b, strlen(b), max, whole);
}

static void test_distance(void **state)
{
    (void)state;
    bool whole;
    assert_int_equal(dist("nvoa", "nova", 1, &whole), 1); /* a transposition is one edit */
    assert_true(whole);
    assert_int_equal(dist("nova", "nova", 1, &whole), 0);
    assert_true(whole);
    assert_int_equal(dist("nvo", "nova", 1, &whole), 1); /* against the prefix "nov" */
    assert_false(whole);
    assert_int_equal(dist("smrtphone", "smartphone", 2, &whole), 1);
    assert_true(whole);
    assert_int_equal(dist("smarphnoe", "smartphone", 2, &whole), 2);
    assert_int_equal(dist("lumo", "lumio", 1, &whole), 1);   /* a deletion */
    assert_int_equal(dist("kairro", "kairo", 1, &whole), 1); /* an insertion */
    assert_int_equal(dist("zenut", "zenit", 1, &whole), 1);  /* a substitution */
    /* beyond the bound: max + 1, whatever the real distance */
    assert_int_equal(dist("nova", "aster", 1, &whole), 2);
    assert_int_equal(dist("xxxxxxxx", "smartphone", 2, &whole), 3);
    /* a prefix with a typo: "smartpho" is one edit from "smrtpho" */
    assert_int_equal(dist("smrtpho", "smartphone", 1, &whole), 1);
    assert_false(whole);
}

/* A two-product snapshot, with the fields the index reads. */
static mer_cat_text_t texts_a[] = {
    {.locale = "en", .name = "Nova X1 Smartphone", .description = "A bright OLED display."},
    {.locale = "ru", .name = "Nova X1 Смартфон", .description = "Яркий экран."}};
static mer_cat_text_t texts_b[] = {
    {.locale = "en", .name = "Lumio W2 Smartwatch", .description = "Counts your steps."},
    {.locale = "es", .name = "Lumio W2 Reloj inteligente", .description = "Cuenta tus pasos en el teléfono."}};
static mer_cat_text_t cat_texts[] = {{.locale = "en", .name = "Phones"}, {.locale = "es", .name = "Teléfonos"}};

static mer_catalog_t *make_catalog(void)
{
    static mer_cat_category_t cats[1];
    static mer_cat_product_t products[2];
    static char locales[3][MER_LOCALE_MAX] = {"en", "es", "ru"};
    static mer_catalog_t cat;
    cats[0] = (mer_cat_category_t){.id = 1, .slug = "phones", .texts = cat_texts, .ntexts = 2};
    products[0] = (mer_cat_product_t){.id = 1,
                                      .slug = "nova-x1",
                                      .brand = "Nova",
                                      .category = &cats[0],
                                      .active = true,
                                      .texts = texts_a,
                                      .ntexts = 2};
    products[1] = (mer_cat_product_t){
        .id = 2, .slug = "lumio-w2", .brand = "Lumio", .category = NULL, .active = true, .texts = texts_b, .ntexts = 2};
    cat = (mer_catalog_t){
        .products = products, .nproducts = 2, .categories = cats, .ncategories = 1, .locales = locales, .nlocales = 3};
    cat.search = mer_search_build(&cat);
    return &cat;
}

static void test_match(void **state)
{
    (void)state;
    mer_catalog_t *cat = make_catalog();
    bool all[3] = {true, true, true}, en_only[3] = {true, false, false};
    uint32_t score[2];

    assert_int_equal(mer_search_match(cat, "nvoa", all, score), 1);
    assert_true(score[0] > 0);
    assert_int_equal(score[1], 0);
    /* an exact match outscores a typo, and a typo is used only when the word matches nothing as typed */
    uint32_t typo = score[0];
    mer_search_match(cat, "nova", all, score);
    assert_true(score[0] > typo);
    /* every word must match */
    mer_search_match(cat, "nova smartwatch", all, score);
    assert_int_equal(score[0], 0);
    assert_int_equal(score[1], 0);
    /* prefixes */
    mer_search_match(cat, "smart", all, score);
    assert_true(score[0] > 0 && score[1] > 0);
    /* accents and scripts: the Spanish category name and the Russian name, typed either way */
    mer_search_match(cat, "telefonos", all, score);
    assert_true(score[0] > 0);
    mer_search_match(cat, "Смартфон", all, score);
    assert_true(score[0] > 0);
    mer_search_match(cat, "smartfon", all, score);
    assert_true(score[0] > 0);
    /* locales the caller does not allow do not count; the brand counts in any */
    mer_search_match(cat, "smartfon", en_only, score);
    assert_int_equal(score[0], 0);
    mer_search_match(cat, "lumio", en_only, score);
    assert_true(score[1] > 0);
    /* the Spanish description's "teléfono" is found only through Spanish */
    mer_search_match(cat, "cuenta", en_only, score);
    assert_int_equal(score[1], 0);
    /* short words get no typos; a query without words matches nothing */
    mer_search_match(cat, "x2", all, score);
    assert_int_equal(score[0], 0);
    assert_int_equal(mer_search_match(cat, "?!", all, score), 0);
    assert_int_equal(score[0] + score[1], 0);
    /* a name match outranks a description match */
    mer_search_match(cat, "steps", all, score);
    assert_true(score[1] > 0);
    mer_search_match(cat, "lumio", all, score);
    uint32_t name_score = score[1];
    mer_search_match(cat, "steps", all, score);
    assert_true(name_score > score[1]);

    mer_search_free(cat->search);
    cat->search = NULL;
    mer_search_shutdown();
}

/*
 * A catalogue big enough for the build to tokenise it in two halves at once (search.c: SPLIT_MIN): the
 * merged index must be the one a single pass makes. Product i has the brand Brand<i % 50>, the English
 * name "Phone w<i>x model<i % 100>q" and the Spanish name "Teléfono w<i>x": a word of its own, words shared
 * with every 100th and every 50th product, and words shared by all, on both sides of the split.
 */
static void test_big_build(void **state)
{
    (void)state;
    enum { N = 24000 };
    static char locales[2][MER_LOCALE_MAX] = {"en", "es"};
    mer_cat_product_t *products = calloc(N, sizeof(*products));
    mer_cat_text_t *texts = calloc(2 * N, sizeof(*texts));
    char(*names)[3][64] = calloc(N, sizeof(*names));
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i][0], 64, "Brand%zu", i % 50);
        snprintf(names[i][1], 64, "Phone w%zux model%zuq", i, i % 100);
        snprintf(names[i][2], 64, "Teléfono w%zux", i);
        texts[2 * i] = (mer_cat_text_t){.locale = "en", .name = names[i][1], .description = ""};
        texts[2 * i + 1] = (mer_cat_text_t){.locale = "es", .name = names[i][2], .description = ""};
        products[i] = (mer_cat_product_t){.id = (int64_t)i + 1,
                                          .slug = "p",
                                          .brand = names[i][0],
                                          .active = true,
                                          .texts = &texts[2 * i],
                                          .ntexts = 2};
    }
    mer_catalog_t cat = {.products = products, .nproducts = N, .locales = locales, .nlocales = 2};
    cat.search = mer_search_build(&cat);
    const mer_search_index_t *ix = cat.search;
    /* keys: phone, telefono, 50 brands, 100 models, one w<i>x each */
    assert_int_equal(ix->nkeys, 2 + 50 + 100 + N);
    for (size_t k = 1; k < ix->nkeys; k++)
        assert_true(strcmp(ix->keys[k - 1], ix->keys[k]) < 0);
    /* postings: brand (any locale) + phone, model, w<i>x (en) + telefono, w<i>x (es) per product */
    assert_int_equal(ix->post_off[ix->nkeys], 6 * N);
    bool all[2] = {true, true};
    uint32_t *score = calloc(N, sizeof(*score));
    const size_t probe[] = {0, 5, N / 2 - 1, N / 2, N / 2 + 1, N - 1};
    for (size_t j = 0; j < MER_ARRAY_LEN(probe); j++) {
        char q[32];
        snprintf(q, sizeof(q), "w%zux", probe[j]);
        assert_int_equal(mer_search_match(&cat, q, all, score), 1);
        for (size_t i = 0; i < N; i++)
            assert_true((score[i] > 0) == (i == probe[j]));
    }
    /* a word of every 100th product, on both sides of the split: exactly those, the same score each */
    mer_search_match(&cat, "model7q", all, score);
    size_t hits = 0;
    for (size_t i = 0; i < N; i++) {
        assert_true((score[i] > 0) == (i % 100 == 7));
        if (score[i]) {
            assert_int_equal(score[i], score[7]);
            hits++;
        }
    }
    assert_int_equal(hits, N / 100);
    /* facets: brand ids agree with the brands */
    for (size_t i = 0; i < N; i += 997)
        assert_string_equal(ix->brands[ix->brand_of[i]], products[i].brand);
    mer_search_free(cat.search);
    free(score);
    free(products);
    free(texts);
    free(names);
    mer_search_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words), cmocka_unit_test(test_budget),    cmocka_unit_test(test_distance),
        cmocka_unit_test(test_match), cmocka_unit_test(test_big_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
