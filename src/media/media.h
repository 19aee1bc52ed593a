/*
 * media.h — product images: uploaded by an admin, checked, resized into fixed variants with libvips,
 * kept in a blob store (media/blob.h), described in catalog.db, and served with long-lived cache headers.
 *
 * An image belongs to a product and optionally to one of its SKUs (the black phone's photos). Upload
 * takes the raw bytes of a JPEG, PNG or WebP (Content-Type says which, the first bytes must agree), at
 * most the server's --max-body and MER_MEDIA_MAX_SIDE pixels a side. Nothing of an image is served as
 * uploaded: the original is kept (to make new variants later) and every served file is a variant made
 * here, re-encoded as WebP without metadata (no EXIF location leaks from a phone's photo):
 *
 *     thumb   fits in 160 x 160      medium  fits in 480 x 480      large  fits in 1200 x 1200
 *
 * never enlarged. Files are named by the SHA-256 of the original, so a URL names one content forever:
 * /media/{digest}/{variant}.webp is served with Cache-Control immutable and the digest as ETag.
 *
 * Alt texts are translated like other catalogue texts (one per locale, the request's locale chain picks
 * one, then any). Rows: media (catalog.db, store/schema.c), media_text.
 *
 * Threads: mer_media_prepare() decodes and encodes images (CPU, tens of ms) and writes files; it runs on
 * the offload pool. The row functions run as catalog.db jobs (writer or read pool). No function here
 * runs on an event loop.
 */
#ifndef MER_MEDIA_H
#define MER_MEDIA_H

#include <jansson.h>

#include "core/json.h"
#include "core/locale.h"
#include "module.h"
#include "store/db.h"

#define MER_MEDIA_MAX_SIDE 10000            /* pixels, either side of an upload */
#define MER_MEDIA_MAX_PIXELS (50 * 1000000) /* width x height of an upload: a decompression-bomb bound */
#define MER_MEDIA_MAX_PER_PRODUCT 50
#define MER_MEDIA_ALT_MAX 300         /* bytes of one alt text */
#define MER_MEDIA_GRACE_S (24 * 3600) /* default: an unreferenced file is removed this long after its last put */

/* serve --media-grace S (before the module starts): how long an image's files outlive the last row that
 * named them; 0 removes them at the next sweep. The sweep runs hourly and after each delete. */
void mer_media_configure(int64_t grace_s);

/*
 * Removes the files no media row names and that were last put more than grace_s ago (reading catalog.db;
 * not on an event loop). The grace keeps the files of an upload whose row is not committed yet (a put
 * of existing files touches them), and lets cached pages' image URLs live on for a while. *removed receives
 * the number of files removed. 0 or a negative error.
 */
int mer_media_sweep(int64_t grace_s, int *removed);

/* The variants every image gets, in this order: name and the side of the square it fits in. */
typedef struct mer_media_variant {
    const char *name;
    int side;
} mer_media_variant_t;
extern const mer_media_variant_t mer_media_variants[];
extern const size_t mer_media_nvariants;

/* What an upload became once checked and stored (mer_media_prepare). */
typedef struct mer_media_file {
    char digest[65];       /* hex SHA-256 of the uploaded bytes */
    char content_type[16]; /* of the original: image/jpeg, image/png, image/webp */
    int width, height;     /* of the original, in pixels */
    int64_t bytes;         /* of the original */
} mer_media_file_t;

/* A new image row: the file, where it belongs, and where it sorts among the product's images. */
typedef struct mer_media_new {
    int64_t product_id;
    int64_t sku_id; /* 0 = the whole product */
    int64_t position;
    mer_media_file_t file;
} mer_media_new_t;

/* The module (media_http.c): the blob store under <data>/media, libvips, the routes. */
extern const mer_module_t mer_media_module;

/*
 * The image type named by a Content-Type value (parameters ignored) when it is one that is taken, and the
 * bytes start as that type does; NULL otherwise. *known says whether the type was one that is taken (so a
 * caller can tell 415, a type refused, from 400, bytes that are not what they claim).
 */
const char *mer_media_sniff(const char *content_type, size_t ct_len, const void *data, size_t len, bool *known);

/*
 * Checks an upload (the type sniffed, the header's size within the limits, the whole image decodable),
 * makes every variant and stores them and the original in the blob store, durably. Idempotent: the same
 * bytes again make the same files. Returns 0 and fills out, or MER_E_VALIDATION / MER_E_INVALID_PARAM with
 * e saying why (field "body"), or MER_E_INTERNAL / MER_E_UNAVAILABLE when the store cannot write.
 * On the offload pool only.
 */
int mer_media_prepare(const void *data, size_t len, const char *content_type, mer_media_file_t *out, mer_verr_t *e);

/*
 * A variant's bytes ("thumb.webp"), read from the blob store into out (malloc'd, *len set). Returns 0,
 * MER_E_NOT_FOUND for a name that is no variant or a file that is not there, or MER_E_INTERNAL.
 * Off the loops (a file read).
 */
int mer_media_read(const char *digest, const char *file, char **out, size_t *len);

/* ---- rows (catalog.db) ---- */

/* Inside a catalog.db writer job: adds the row; *id receives its id. MER_E_CONFLICT past
 * MER_MEDIA_MAX_PER_PRODUCT images. The caller checked that product and SKU exist. */
int mer_media_insert(mer_db_t *db, const mer_media_new_t *m, int64_t *id);

/*
 * Inside a catalog.db writer job: changes an image's position and alt texts. alt: {"en": "...", "es": null}
 * (null removes a locale's text), or NULL to leave them. position < 0 leaves it. MER_E_NOT_FOUND if no such
 * image. Validation (locale tags, lengths) is the caller's: mer_media_check_alt().
 */
int mer_media_update(mer_db_t *db, int64_t id, int64_t position, json_t *alt);
/* Checks an alt object as mer_media_update takes it; 0 or MER_E_VALIDATION with e set (field "alt.<tag>"). */
int mer_media_check_alt(json_t *alt, mer_verr_t *e);

/* Inside a catalog.db writer job: removes an image. MER_E_NOT_FOUND if none. *product_id receives its product.
 * The files stay for now: another row may name the same content, and a cached URL keeps working; the sweep
 * removes them once no row names them (mer_media_sweep). */
int mer_media_delete(mer_db_t *db, int64_t id, int64_t *product_id);

/*
 * The images of a product (sku_id 0: all of them; else those of that SKU and those of the whole product),
 * in position order, as a JSON array of {id, sku, position, width, height, alt, lang, urls{thumb,...}}
 * with each alt text chosen by chain. all_alt: also "alt_texts" {locale: text} (the admin view). Read job.
 */
int mer_media_list(mer_db_t *db, int64_t product_id, int64_t sku_id, const mer_locale_chain_t *chain, bool all_alt,
                   json_t **out);

#endif
