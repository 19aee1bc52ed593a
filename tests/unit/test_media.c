/*
 * Unit tests: the media service without HTTP (src/media): blob keys that cannot leave the store, the disk
 * store's put/get, type sniffing, and mer_media_prepare on images made here with libvips — variants that
 * fit their box and are never enlarged, the digest, and refusals of damaged, oversized and mistyped input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>
#include <vips/vips.h>

#include "core/err.h"
#include "media/blob.h"
#include "media/media.h"
#include "media/media_int.h"

static char dir[64];

static void test_keys(void **state)
{
    (void)state;
    assert_true(mer_blob_key_ok("ab/abcdef-thumb.webp"));
    assert_true(mer_blob_key_ok("flat.bin"));
    const char *bad[] = {"",    "/etc/passwd", "../x",   "ab/../x", "ab/.hidden", "a/b/c",
                         "ab/", "Ab/x",        "ab/x y", "ab\\x",   "ab/x\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(mer_blob_key_ok(bad[i]));
}

static void test_disk_store(void **state)
{
    (void)state;
    char root[96];
    snprintf(root, sizeof(root), "%s/blobs", dir);
    mer_blobstore_t bs;
    assert_int_equal(mer_blob_disk_open(root, &bs), 0);
    assert_int_equal(bs.ops->put(bs.self, "ab/one", "hello", 5), 0);
    assert_int_equal(bs.ops->put(bs.self, "ab/one", "hello", 5), 0); /* again: changes nothing */
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(bs.ops->get(bs.self, "ab/one", &out, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "hello", 5);
    free(out);
    assert_int_equal(bs.ops->get(bs.self, "ab/two", &out, &len), MER_E_NOT_FOUND);
    assert_int_equal(bs.ops->get(bs.self, "../blobs/ab/one", &out, &len), MER_E_NOT_FOUND);
    assert_int_equal(bs.ops->put(bs.self, "../escape", "x", 1), MER_E_INTERNAL);
    mer_blob_disk_close(&bs);
}

static void test_sniff(void **state)
{
    (void)state;
    static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    static const char jpg[] = "\xff\xd8\xff\xe0\0\x10JFIF\0\1\1\0";
    static const char webp[] = "RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0";
    bool known;
    const char *ct = "image/png";
    assert_string_equal(mer_media_sniff(ct, strlen(ct), png, sizeof(png) - 1, &known), "image/png");
    assert_true(known);
    ct = "IMAGE/JPEG; charset=binary";
    assert_string_equal(mer_media_sniff(ct, strlen(ct), jpg, sizeof(jpg) - 1, &known), "image/jpeg");
    ct = "image/webp";
    assert_string_equal(mer_media_sniff(ct, strlen(ct), webp, sizeof(webp) - 1, &known), "image/webp");
    /* a taken type whose bytes say otherwise, a short body, a type not taken */
    ct = "image/png";
    assert_null(mer_media_sniff(ct, strlen(ct), jpg, sizeof(jpg) - 1, &known));
    assert_true(known);
    assert_null(mer_media_sniff(ct, strlen(ct), png, 8, &known));
    ct = "image/svg+xml";
    assert_null(mer_media_sniff(ct, strlen(ct), "<svg></svg>........", 19, &known));
    assert_false(known);
    ct = "image/pngx";
    assert_null(mer_media_sniff(ct, strlen(ct), png, sizeof(png) - 1, &known));
    assert_false(known);
}

/* A w x h PNG made by libvips (a gradient); the caller g_free()s it. */
static void *make_png(int w, int h, size_t *len)
{
    VipsImage *x = NULL, *y = NULL;
    void *buf = NULL;
    assert_int_equal(vips_xyz(&x, w, h, NULL), 0);
    assert_int_equal(vips_cast_uchar(x, &y, NULL), 0);
    assert_int_equal(vips_pngsave_buffer(y, &buf, len, NULL), 0);
    g_object_unref(x);
    g_object_unref(y);
    return buf;
}

static void variant_size(const char *digest, const char *name, int *w, int *h)
{
    char *bytes = NULL;
    size_t len = 0;
    assert_int_equal(mer_media_read(digest, name, &bytes, &len), 0);
    assert_memory_equal(bytes, "RIFF", 4);
    VipsImage *img = vips_image_new_from_buffer(bytes, len, "", NULL);
    assert_non_null(img);
    *w = vips_image_get_width(img);
    *h = vips_image_get_height(img);
    g_object_unref(img);
    free(bytes);
}

static void test_prepare(void **state)
{
    (void)state;
    size_t len;
    void *png = make_png(600, 300, &len);
    mer_media_file_t f;
    mer_verr_t e = {0};
    assert_int_equal(mer_media_prepare(png, len, "image/png", &f, &e), 0);
    assert_int_equal(f.width, 600);
    assert_int_equal(f.height, 300);
    assert_int_equal(f.bytes, (int64_t)len);
    assert_string_equal(f.content_type, "image/png");
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256(h, png, len);
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    assert_string_equal(f.digest, hex);
    int w, ht;
    variant_size(f.digest, "thumb.webp", &w, &ht);
    assert_int_equal(w, 160);
    assert_int_equal(ht, 80);
    variant_size(f.digest, "medium.webp", &w, &ht);
    assert_int_equal(w, 480);
    assert_int_equal(ht, 240);
    variant_size(f.digest, "large.webp", &w, &ht); /* never enlarged */
    assert_int_equal(w, 600);
    assert_int_equal(ht, 300);
    char *bytes = NULL;
    size_t blen;
    assert_int_equal(mer_media_read(f.digest, "original.png", &bytes, &blen), MER_E_NOT_FOUND);
    assert_int_equal(mer_media_read(f.digest, "../thumb.webp", &bytes, &blen), MER_E_NOT_FOUND);
    assert_int_equal(mer_media_read("zz", "thumb.webp", &bytes, &blen), MER_E_NOT_FOUND);

    /* the same bytes again: the same files, no error */
    mer_media_file_t g;
    assert_int_equal(mer_media_prepare(png, len, "image/png", &g, &e), 0);
    assert_string_equal(g.digest, f.digest);

    /* cut short in its pixel data */
    e = (mer_verr_t){0};
    assert_int_equal(mer_media_prepare(png, len / 2, "image/png", &g, &e), MER_E_VALIDATION);
    assert_string_equal(e.field, "body");
    /* not an image at all */
    e = (mer_verr_t){0};
    static const char junk[] = "\x89PNG\r\n\x1a\nthis is not a png at all, only its signature";
    assert_int_equal(mer_media_prepare(junk, sizeof(junk) - 1, "image/png", &g, &e), MER_E_VALIDATION);
    g_free(png);

    /* wider than the limit: refused from the header, before any pixel */
    png = make_png(MER_MEDIA_MAX_SIDE + 1, 1, &len);
    e = (mer_verr_t){0};
    assert_int_equal(mer_media_prepare(png, len, "image/png", &g, &e), MER_E_VALIDATION);
    assert_non_null(strstr(e.message, "10001 x 1"));
    g_free(png);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/meridian-media-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char media[96];
    snprintf(media, sizeof(media), "%s/media", dir);
    return mer_media_start(media);
}

static int teardown(void **state)
{
    (void)state;
    mer_media_finish();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_disk_store),
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_prepare),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
