/*
 * media.c — the media service (see media.h): checking and resizing uploads with libvips, the blob keys,
 * and the rows of media and media_text. No HTTP here: media_http.c is the adapter.
 */
#include "media/media.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <vips/vips.h>

#include "core/err.h"
#include "core/log.h"
#include "media/blob.h"
#include "media/media_int.h"
#include "store/store.h"
#include "core/banned.h"

const mer_media_variant_t mer_media_variants[] = {{"thumb", 160}, {"medium", 480}, {"large", 1200}};
const size_t mer_media_nvariants = MER_ARRAY_LEN(mer_media_variants);

static mer_blobstore_t store;

/* libvips reports a damaged upload twice: as an error, which is answered, and as GLib warnings, one per
 * tile. The answer and one info line are enough; the warnings would flood the log on a hostile upload. */
static void quiet(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
    (void)domain, (void)level, (void)msg, (void)data;
}

int mer_media_start(const char *dir)
{
    if (VIPS_INIT("meridian") != 0) {
        mer_log_error("media: libvips did not start: %s", vips_error_buffer());
        return -1;
    }
    /* Requests make images on the offload pool, whose threads are the parallelism: one vips thread each,
     * no operation cache (every upload is new), and only the loaders that are fuzzed for untrusted input. */
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_block_untrusted_set(TRUE);
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, quiet, NULL);
    if (mer_blob_disk_open(dir, &store) != 0) {
        mer_log_error("media: cannot use %s", dir);
        return -1;
    }
    return 0;
}

void mer_media_finish(void)
{
    if (store.ops)
        mer_blob_disk_close(&store);
    store.ops = NULL;
    vips_shutdown();
}

/* ---- uploads ---- */

static const struct {
    const char *type;
    const char *ext;
    const unsigned char *magic;
    size_t magic_len;
    size_t magic_at; /* where the magic starts */
} kinds[] = {
    {"image/jpeg", "jpg", (const unsigned char *)"\xff\xd8\xff", 3, 0},
    {"image/png", "png", (const unsigned char *)"\x89PNG\r\n\x1a\n", 8, 0},
    {"image/webp", "webp", (const unsigned char *)"WEBP", 4, 8}, /* "RIFF" size "WEBP" */
};

const char *mer_media_sniff(const char *content_type, size_t ct_len, const void *data, size_t len, bool *known)
{
    *known = false;
    size_t n = 0;
    while (n < ct_len && content_type[n] != ';' && content_type[n] != ' ')
        n++;
    for (size_t i = 0; i < MER_ARRAY_LEN(kinds); i++) {
        if (strlen(kinds[i].type) != n || strncasecmp(kinds[i].type, content_type, n) != 0)
            continue;
        *known = true;
        const unsigned char *p = data;
        if (len < kinds[i].magic_at + kinds[i].magic_len + 8)
            return NULL;
        if (i == 2 && memcmp(p, "RIFF", 4) != 0)
            return NULL;
        return memcmp(p + kinds[i].magic_at, kinds[i].magic, kinds[i].magic_len) == 0 ? kinds[i].type : NULL;
    }
    return NULL;
}

static const char *ext_of(const char *type)
{
    for (size_t i = 0; i < MER_ARRAY_LEN(kinds); i++)
        if (strcmp(kinds[i].type, type) == 0)
            return kinds[i].ext;
    return "bin";
}

/* The key of a file of an image: "<2 hex>/<digest>-<name>". */
static void key_of(char *out, size_t size, const char *digest, const char *name)
{
    snprintf(out, size, "%.2s/%s-%s", digest, digest, name);
}

static int vips_fail(mer_verr_t *e, const char *what)
{
    char why[200];
    snprintf(why, sizeof(why), "%s", vips_error_buffer());
    for (size_t n = strlen(why); n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '); n--)
        why[n - 1] = '\0';
    mer_log_info("media: %s: %s", what, why);
    vips_error_clear();
    return mer_verr_set(e, MER_E_VALIDATION, "body", "the image cannot be read (%s)", what);
}

/* Makes one variant of the upload and stores it. */
static int make_variant(const void *data, size_t len, const char *digest, const mer_media_variant_t *v, mer_verr_t *e)
{
    VipsImage *img = NULL;
    void *out = NULL;
    size_t out_len = 0;
    /* thumbnail decodes with shrink-on-load and never enlarges (size DOWN); fail_on error refuses a
     * truncated or corrupt file instead of serving a grey half-image */
    if (vips_thumbnail_buffer((void *)data, len, &img, v->side, "height", v->side, "size", VIPS_SIZE_DOWN, "fail_on",
                              VIPS_FAIL_ON_ERROR, NULL) != 0)
        return vips_fail(e, "decoding");
    int rc = vips_webpsave_buffer(img, &out, &out_len, "Q", 82, "strip", TRUE, NULL);
    g_object_unref(img);
    if (rc != 0)
        return vips_fail(e, "encoding");
    char key[160], name[32];
    snprintf(name, sizeof(name), "%s.webp", v->name);
    key_of(key, sizeof(key), digest, name);
    int err = store.ops->put(store.self, key, out, out_len);
    g_free(out);
    return err;
}

int mer_media_prepare(const void *data, size_t len, const char *content_type, mer_media_file_t *out, mer_verr_t *e)
{
    char type[sizeof(out->content_type)];
    snprintf(type, sizeof(type), "%s", content_type); /* content_type may be out's own */
    memset(out, 0, sizeof(*out));
    if (store.ops == NULL)
        return MER_E_UNAVAILABLE;
    /* the header only (vips is lazy): the size is known before any pixel is decoded */
    VipsImage *img = vips_image_new_from_buffer(data, len, "", "fail_on", VIPS_FAIL_ON_ERROR, "access",
                                                VIPS_ACCESS_SEQUENTIAL, NULL);
    if (img == NULL)
        return vips_fail(e, "not an image of the type it claims");
    int w = vips_image_get_width(img), h = vips_image_get_height(img);
    int pages = vips_image_get_n_pages(img);
    if (w <= 0 || h <= 0 || w > MER_MEDIA_MAX_SIDE || h > MER_MEDIA_MAX_SIDE || (int64_t)w * h > MER_MEDIA_MAX_PIXELS) {
        g_object_unref(img);
        return mer_verr_set(e, MER_E_VALIDATION, "body", "the image is %d x %d pixels; at most %d a side and %d pixels",
                            w, h, MER_MEDIA_MAX_SIDE, MER_MEDIA_MAX_PIXELS);
    }
    if (pages > 1) {
        g_object_unref(img);
        return mer_verr_set(e, MER_E_VALIDATION, "body", "animated images are not taken");
    }
    /* every pixel once, failing on a decoder error: the variants below shrink on load and would make a
     * picture of a truncated or corrupt file without a word */
    double mean;
    int rc = vips_avg(img, &mean, NULL);
    g_object_unref(img);
    if (rc != 0)
        return vips_fail(e, "the image data is damaged or cut short");

    unsigned char h256[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h256, data, len);
    sodium_bin2hex(out->digest, sizeof(out->digest), h256, sizeof(h256));
    memcpy(out->content_type, type, sizeof(type));
    out->width = w;
    out->height = h;
    out->bytes = (int64_t)len;

    for (size_t i = 0; i < mer_media_nvariants; i++) {
        int err = make_variant(data, len, out->digest, &mer_media_variants[i], e);
        if (err)
            return err;
    }
    char key[160], name[32];
    snprintf(name, sizeof(name), "original.%s", ext_of(type));
    key_of(key, sizeof(key), out->digest, name);
    return store.ops->put(store.self, key, data, len);
}

int mer_media_read(const char *digest, const char *file, char **out, size_t *len)
{
    if (store.ops == NULL)
        return MER_E_UNAVAILABLE;
    if (strlen(digest) != 64 || strspn(digest, "0123456789abcdef") != 64)
        return MER_E_NOT_FOUND;
    bool variant = false;
    for (size_t i = 0; i < mer_media_nvariants && !variant; i++) {
        size_t n = strlen(mer_media_variants[i].name);
        variant = strncmp(file, mer_media_variants[i].name, n) == 0 && strcmp(file + n, ".webp") == 0;
    }
    if (!variant) /* originals are kept, never served: they may carry the camera's metadata */
        return MER_E_NOT_FOUND;
    char key[160];
    key_of(key, sizeof(key), digest, file);
    return store.ops->get(store.self, key, out, len);
}

/* ---- the sweep ---- */

typedef struct sweep {
    mer_db_t *db;
    char digest[65]; /* the last digest looked up and whether a row names it (a digest's files often come in a row) */
    bool named;
    int removed, err;
} sweep_t;

static int sweep_key(const char *key, void *arg)
{
    sweep_t *s = arg;
    const char *dash = strchr(key, '-'); /* "<2 hex>/<digest>-<name>" */
    if (strlen(key) < 3 + 64 || dash != key + 3 + 64)
        return 0; /* not a media key: not ours to judge */
    if (memcmp(s->digest, key + 3, 64) != 0) {
        memcpy(s->digest, key + 3, 64);
        s->digest[64] = '\0';
        int64_t n = 0;
        int err = mer_db_query_int(s->db, &n, "SELECT COUNT(*) FROM media WHERE digest = ?", "s", s->digest);
        if (err) {
            s->err = err;
            return 1;
        }
        s->named = n > 0;
    }
    if (!s->named && store.ops->del(store.self, key) == 0)
        s->removed++;
    return 0;
}

int mer_media_sweep(int64_t grace_s, int *removed)
{
    *removed = 0;
    if (store.ops == NULL)
        return MER_E_UNAVAILABLE;
    sweep_t s = {.db = mer_store_reader(MER_STORE_CATALOG)};
    if (s.db == NULL)
        return MER_E_UNAVAILABLE;
    int err = store.ops->each_older(store.self, (int64_t)time(NULL) - grace_s, sweep_key, &s);
    *removed = s.removed;
    return err ? err : s.err;
}

/* ---- rows ---- */

int mer_media_insert(mer_db_t *db, const mer_media_new_t *m, int64_t *id)
{
    int64_t n = 0;
    int err = mer_db_query_int(db, &n, "SELECT COUNT(*) FROM media WHERE product_id = ?", "i", m->product_id);
    if (err)
        return err;
    if (n >= MER_MEDIA_MAX_PER_PRODUCT)
        return MER_E_CONFLICT;
    return mer_db_query_int(db, id,
                            "INSERT INTO media (product_id, sku_id, position, digest, content_type, width, height, "
                            "bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                            "iiissiiii", m->product_id, m->sku_id, m->position, m->file.digest, m->file.content_type,
                            (int64_t)m->file.width, (int64_t)m->file.height, m->file.bytes, mer_now_unix_ms());
}

int mer_media_check_alt(json_t *alt, mer_verr_t *e)
{
    if (!json_is_object(alt))
        return mer_verr_set(e, MER_E_VALIDATION, "alt", "alt must be an object of locale tags to texts");
    const char *tag;
    json_t *v;
    json_object_foreach(alt, tag, v)
    {
        char norm[MER_LOCALE_MAX], field[64];
        snprintf(field, sizeof(field), "alt.%.40s", tag);
        if (mer_locale_normalize(tag, strlen(tag), norm) != 0 || strcmp(norm, tag) != 0)
            return mer_verr_set(e, MER_E_VALIDATION, field, "not a normalised locale tag (e.g. \"es\", \"pt-BR\")");
        if (json_is_null(v))
            continue;
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > MER_MEDIA_ALT_MAX)
            return mer_verr_set(e, MER_E_VALIDATION, field, "an alt text is a string of 1 to %d bytes, or null",
                                MER_MEDIA_ALT_MAX);
    }
    return 0;
}

int mer_media_update(mer_db_t *db, int64_t id, int64_t position, json_t *alt)
{
    int64_t product = 0;
    int err = mer_db_query_int(db, &product, "SELECT product_id FROM media WHERE id = ?", "i", id);
    if (err)
        return err;
    if (position >= 0 && (err = mer_db_exec(db, "UPDATE media SET position = ? WHERE id = ?", "ii", position, id)) < 0)
        return err;
    const char *tag;
    json_t *v;
    json_object_foreach(alt, tag, v)
    {
        err = json_is_null(v)
                  ? mer_db_exec(db, "DELETE FROM media_text WHERE media_id = ? AND locale = ?", "is", id, tag)
                  : mer_db_exec(db,
                                "INSERT INTO media_text (media_id, locale, alt) VALUES (?, ?, ?) "
                                "ON CONFLICT (media_id, locale) DO UPDATE SET alt = excluded.alt",
                                "iss", id, tag, json_string_value(v));
        if (err < 0)
            return err;
    }
    return 0;
}

int mer_media_delete(mer_db_t *db, int64_t id, int64_t *product_id)
{
    int err = mer_db_query_int(db, product_id, "SELECT product_id FROM media WHERE id = ?", "i", id);
    if (err)
        return err;
    if ((err = mer_db_exec(db, "DELETE FROM media_text WHERE media_id = ?", "i", id)) < 0)
        return err;
    err = mer_db_exec(db, "DELETE FROM media WHERE id = ?", "i", id);
    return err < 0 ? err : 0;
}

/* The alt texts of one image as {locale: text}. */
static int alt_texts(mer_db_t *db, int64_t id, json_t **out)
{
    json_t *o = json_object();
    mer_rows_t *r = mer_db_query(db, "SELECT locale, alt FROM media_text WHERE media_id = ? ORDER BY locale", "i", id);
    while (mer_rows_next(r))
        json_object_set_new(o, mer_rows_text(r, 0), json_string(mer_rows_text(r, 1)));
    int err = mer_rows_end(r);
    if (err) {
        json_decref(o);
        return err;
    }
    *out = o;
    return 0;
}

/* The text of the chain's first locale that has one, else the first in locale order; and that locale. */
static void pick_alt(json_t *texts, const mer_locale_chain_t *chain, json_t *item)
{
    for (size_t i = 0; chain && i < chain->n; i++) {
        json_t *t = json_object_get(texts, chain->tags[i]);
        if (t) {
            json_object_set(item, "alt", t);
            json_object_set_new(item, "lang", json_string(chain->tags[i]));
            return;
        }
    }
    const char *first = NULL;
    json_t *v;
    json_object_foreach(texts, first, v)
    {
        json_object_set(item, "alt", v);
        json_object_set_new(item, "lang", json_string(first));
        return;
    }
    json_object_set_new(item, "alt", json_string(""));
    json_object_set_new(item, "lang", json_null());
}

int mer_media_list(mer_db_t *db, int64_t product_id, int64_t sku_id, const mer_locale_chain_t *chain, bool all_alt,
                   json_t **out)
{
    json_t *arr = json_array();
    mer_rows_t *r = mer_db_query(db,
                                 "SELECT m.id, m.sku_id, s.code, m.position, m.width, m.height, m.digest "
                                 "FROM media m LEFT JOIN sku s ON s.id = m.sku_id "
                                 "WHERE m.product_id = ? AND (? = 0 OR m.sku_id = 0 OR m.sku_id = ?) "
                                 "ORDER BY m.position, m.id",
                                 "iii", product_id, sku_id, sku_id);
    while (mer_rows_next(r)) {
        const char *digest = mer_rows_text(r, 6);
        json_t *urls = json_object();
        for (size_t i = 0; i < mer_media_nvariants; i++) {
            char url[160];
            snprintf(url, sizeof(url), "/media/%s/%s.webp", digest, mer_media_variants[i].name);
            json_object_set_new(urls, mer_media_variants[i].name, json_string(url));
        }
        json_array_append_new(arr, json_pack("{sI so so sI sI sI so}", "id", (json_int_t)mer_rows_int(r, 0), "sku",
                                             mer_rows_int(r, 1) ? json_string(mer_rows_text(r, 2)) : json_null(),
                                             "digest", json_string(digest), "position", (json_int_t)mer_rows_int(r, 3),
                                             "width", (json_int_t)mer_rows_int(r, 4), "height",
                                             (json_int_t)mer_rows_int(r, 5), "urls", urls));
    }
    int err = mer_rows_end(r);
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        json_t *texts = NULL;
        if (err || (err = alt_texts(db, json_integer_value(json_object_get(item, "id")), &texts)) != 0)
            break;
        pick_alt(texts, chain, item);
        if (all_alt)
            json_object_set_new(item, "alt_texts", texts);
        else
            json_decref(texts);
    }
    if (err) {
        json_decref(arr);
        return err;
    }
    *out = arr;
    return 0;
}
