/*
 * translation.h — the translation workflow of the catalogue: which texts a language lacks, files for
 * translators (tr_format.h), and importing their work back.
 *
 * Texts. Every customer-visible text of the catalogue has a stable id and a source text in the source
 * language, English ("en": the language every product, category and attribute must have; the locale
 * chain's last resort):
 *   product:<id>:name         a product's name (at most 200 bytes translated)
 *   product:<id>:description  its description, when the English one is not empty (4000 bytes)
 *   category:<id>:name        a category's name (100 bytes)
 *   attr:<key>                an attribute's name, e.g. attr:colour (100 bytes)
 *   attr:<key>:<value>        one of its values, e.g. attr:storage:256gb (the attribute-texts API's
 *                             "storage=256gb"; ':' because XLIFF unit ids are NMTOKENs)
 *   flash:<id>:title          a flash sale's title (200 bytes), in the languages of the sale's country
 * Attribute sources are their English texts, or the raw id when there is none (what shoppers see).
 * A flash sale (flashsale/) keeps the titles it was created with in its region; translations made here
 * are catalogue data (flash_sale_text), written in the same transaction as the rest of an import, and
 * win over the sale's own title in the same language. The sales are those this node holds (every
 * region in the embedded mode); a sale's titles cannot be edited, so they are never outdated.
 *
 * States, per text and language: translated; missing (no text in exactly that language, or an empty
 * description); outdated (the English text was edited after the translation was made: each translation
 * records the source text it was made from as soon as that source changes, catalog_write.c). Shoppers
 * keep seeing an outdated translation until a new one replaces it; an export offers it again.
 *
 * Everything here reads a locked snapshot (mer_catalog_lock) and touches no storage, except
 * mer_translation_apply, which runs in a writer job of catalog.db.
 */
#ifndef MER_TRANSLATION_H
#define MER_TRANSLATION_H

#include "catalog/catalog.h"
#include "catalog/tr_format.h"

#define MER_TR_SOURCE_LANG "en"

typedef enum {
    MER_TR_PRODUCT_NAME,
    MER_TR_PRODUCT_DESCRIPTION,
    MER_TR_CATEGORY_NAME,
    MER_TR_ATTR_NAME,
    MER_TR_ATTR_VALUE,
    MER_TR_FLASH_TITLE,
    MER_TR_NKINDS
} mer_tr_kind_t;

typedef enum { MER_TR_TRANSLATED, MER_TR_MISSING, MER_TR_OUTDATED } mer_tr_state_t;

/* "product_name", "product_description", "category_name", "attribute_name", "attribute_value",
 * "flash_sale_title". */
const char *mer_tr_kind_name(mer_tr_kind_t k);
/* "translated", "missing", "outdated". */
const char *mer_tr_state_name(mer_tr_state_t s);

/* One text of the catalogue in one language, as the visitor below sees it; valid during the call. */
typedef struct mer_tr_text {
    mer_tr_kind_t kind;
    mer_tr_state_t state;
    const char *id;              /* "product:12:name" */
    int64_t ref;                 /* the product's, category's or flash sale's id; 0 for attributes */
    const char *attr;            /* attributes: "colour" or "colour=black" (attribute_text's key); else NULL */
    const char *source;          /* the current English text */
    const char *target;          /* the translation; NULL when missing */
    const char *previous_source; /* outdated: the English text the translation was made from */
    const char *context;         /* a note for the translator */
    size_t max_len;              /* bytes a translation may have */
} mer_tr_text_t;

typedef void (*mer_tr_visit_fn)(const mer_tr_text_t *t, void *arg);

/*
 * Calls fn for every text of the catalogue in locale (a normalised tag other than "en"), in a stable
 * order: categories, products (name, description) by id, attributes by id, flash sales. With gaps_only, only
 * the missing and outdated ones — the list a translator gets and a country's launch is blocked by.
 * cat is locked by the caller.
 */
void mer_translation_each(const mer_catalog_t *cat, const char *locale, bool gaps_only, mer_tr_visit_fn fn, void *arg);

/*
 * Flash sales, from whoever holds them (the flash-sale module installs itself at start-up) without the
 * catalogue depending on it: each() calls fn for every sale of this node with its id, country and titles
 * {"en": ..., "hi": ...} (borrowed, read-only, valid during the call). Any thread; no storage.
 */
typedef void (*mer_tr_sale_fn)(void *arg, int64_t sale_id, const char *country, json_t *titles);
typedef struct mer_tr_sales {
    void (*each)(mer_tr_sale_fn fn, void *arg);
} mer_tr_sales_t;
/* Installs the provider (start-up; static storage). Without one there are no flash-sale titles. */
void mer_translation_set_sales(const mer_tr_sales_t *provider);

/* Counts of one kind of text in one language. */
typedef struct mer_tr_count {
    size_t total, translated, missing, outdated;
} mer_tr_count_t;
/* Counts per kind (indexed by mer_tr_kind_t) and in all (out[MER_TR_NKINDS]). */
void mer_translation_coverage(const mer_catalog_t *cat, const char *locale, mer_tr_count_t out[MER_TR_NKINDS + 1]);

/* Fills f (MER_TR_FILE_INIT) with the missing and outdated texts of locale: what an export contains. */
void mer_translation_export(const mer_catalog_t *cat, const char *locale, mer_tr_file_t *f);

/* One change an import makes. */
typedef struct mer_tr_change {
    mer_tr_kind_t kind;
    int64_t ref;  /* product, category or flash sale id */
    char *attr;   /* attributes' key */
    char *target; /* the new translation */
} mer_tr_change_t;

/* The outcome of checking an imported file against the catalogue. */
typedef struct mer_tr_import {
    mer_tr_change_t *changes; /* product names before descriptions */
    size_t nchanges;
    json_t *report;   /* {"added": n, "updated": n, "unchanged": n, "skipped": n, "texts": [{id, result}]} */
    json_t *problems; /* [{"id", "line", "code", "message"}], empty when the file may be applied */
} mer_tr_import_t;

/*
 * Checks every entry of a parsed file f for locale against cat (locked by the caller): the file's
 * languages (trgLang / Language must be locale, srcLang / X-Source-Language en when given), ids known and
 * not repeated, the source equal to the current English text (else the source changed since the export:
 * export again), placeholders ({name}, %s, %1$d, %%) and markup tags (<b>, </b>, <br/>) of the source kept
 * in the translation, length limits, no control characters but newline and tab, and a product's
 * description only when the product has or gets a name in that language. Empty targets and fuzzy PO
 * entries are skipped. Fills out (release with mer_translation_import_release): problems lists every
 * problem found; when it is empty, changes holds what to write (texts whose translation is already the
 * same are reported unchanged and not written).
 */
void mer_translation_check(const mer_catalog_t *cat, const char *locale, const mer_tr_file_t *f, mer_tr_import_t *out);
void mer_translation_import_release(mer_tr_import_t *imp);

/*
 * Writes the changes of a checked import in locale, in a writer job of catalog.db (all or nothing with
 * the job's savepoint); calls mer_catalog_changed(). Returns 0 or a negative error with e set.
 */
int mer_translation_apply(mer_db_t *db, const char *locale, const mer_tr_change_t *changes, size_t n, mer_verr_t *e);

#endif
