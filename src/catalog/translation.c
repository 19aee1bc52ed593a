/*
 * translation.c — the translation workflow's service (see translation.h): what a language lacks, what an
 * export contains, checking an imported file, writing it. No HTTP here (translation_http.c).
 *
 * The texts of a language are enumerated from the snapshot in one place, mer_translation_each(); the
 * coverage counts, the export and the import check are all built on it, so they cannot disagree about
 * what is missing or outdated.
 */
#include "catalog/translation.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/banned.h"

static const char *const kind_names[MER_TR_NKINDS] = {"product_name",   "product_description", "category_name",
                                                      "attribute_name", "attribute_value",     "flash_sale_title"};

const char *mer_tr_kind_name(mer_tr_kind_t k)
{
    return k < MER_TR_NKINDS ? kind_names[k] : "?";
}

const char *mer_tr_state_name(mer_tr_state_t s)
{
    return s == MER_TR_TRANSLATED ? "translated" : s == MER_TR_MISSING ? "missing" : "outdated";
}

/* ---- enumerating the texts of a language ---- */

static const mer_cat_text_t *text_in(const mer_cat_text_t *texts, size_t n, const char *locale)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(texts[i].locale, locale) == 0)
            return &texts[i];
    return NULL;
}

/* The attribute_text row of key in exactly locale, or NULL. */
static const mer_cat_attr_text_t *attr_row(const mer_catalog_t *cat, const char *key, const char *locale)
{
    size_t n;
    const mer_cat_attr_text_t *rows = mer_catalog_attr_rows(cat, key, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].locale, locale) == 0)
            return &rows[i];
    return NULL;
}

/* The state of a translation: its text (NULL or "" = missing) and the source it was made from. */
static mer_tr_state_t state_of(const char *target, const char *made_from, const char *source)
{
    if (target == NULL || *target == '\0')
        return MER_TR_MISSING;
    return made_from && strcmp(made_from, source) != 0 ? MER_TR_OUTDATED : MER_TR_TRANSLATED;
}

static void visit(mer_tr_text_t *t, bool gaps_only, mer_tr_visit_fn fn, void *arg)
{
    if (t->state == MER_TR_MISSING)
        t->target = NULL, t->previous_source = NULL;
    else if (t->state == MER_TR_TRANSLATED)
        t->previous_source = NULL;
    if (!gaps_only || t->state != MER_TR_TRANSLATED)
        fn(t, arg);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every attribute id the catalogue shows: keys and key=value pairs of SKUs, and keys with an English
 * text; sorted, without duplicates. The strings belong to the snapshot except the key=value ones, which
 * are in pairs (freed by the caller with the array). */
static const char **attr_ids(const mer_catalog_t *cat, size_t *n_out, char ***owned, size_t *nowned)
{
    size_t cap = 64, n = 0, no = 0;
    const char **ids = mer_xmalloc(cap * sizeof(*ids));
    char **own = NULL;
    for (size_t i = 0; i < cat->nproducts; i++)
        for (size_t k = 0; k < cat->products[i].nskus; k++) {
            const mer_cat_sku_t *s = &cat->products[i].skus[k];
            for (size_t a = 0; a < s->nattrs; a++) {
                if (n + 2 > cap)
                    ids = mer_xrealloc(ids, (cap *= 2) * sizeof(*ids));
                mer_buf_t b = MER_BUF_INIT;
                mer_buf_printf(&b, "%s=%s", s->attrs[a].key, s->attrs[a].value);
                own = mer_xrealloc(own, (no + 1) * sizeof(*own));
                own[no++] = b.data;
                ids[n++] = s->attrs[a].key;
                ids[n++] = b.data;
            }
        }
    for (size_t i = 0; i < cat->nattr_texts; i++)
        if (strcmp(cat->attr_texts[i].locale, MER_TR_SOURCE_LANG) == 0) {
            if (n + 1 > cap)
                ids = mer_xrealloc(ids, (cap *= 2) * sizeof(*ids));
            ids[n++] = cat->attr_texts[i].key;
        }
    qsort(ids, n, sizeof(*ids), cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || strcmp(ids[u - 1], ids[i]) != 0)
            ids[u++] = ids[i];
    *n_out = u;
    *owned = own;
    *nowned = no;
    return ids;
}

static const mer_tr_sales_t *sales;

void mer_translation_set_sales(const mer_tr_sales_t *provider)
{
    sales = provider;
}

/* Does country (a code) speak locale (or a language of which locale is a variant, or the reverse)? */
static bool country_speaks(const char *country, const char *locale)
{
    const mer_country_t *c = mer_country_find(mer_countries(), country, strlen(country));
    size_t n = strcspn(locale, "-");
    for (size_t i = 0; c && i < c->nlanguages; i++) {
        const char *l = c->languages[i];
        if (strcmp(l, locale) == 0 || (strncmp(l, locale, n) == 0 && (l[n] == '\0' || l[n] == '-')))
            return true;
    }
    return false;
}

typedef struct sale_visit {
    const mer_catalog_t *cat;
    const char *locale;
    bool gaps_only;
    mer_tr_visit_fn fn;
    void *arg;
} sale_visit_t;

static void visit_sale(void *arg, int64_t sale_id, const char *country, json_t *titles)
{
    sale_visit_t *sv = arg;
    const char *source = json_string_value(json_object_get(titles, MER_TR_SOURCE_LANG));
    if (source == NULL || !country_speaks(country, sv->locale))
        return;
    const mer_cat_flash_text_t *t = mer_catalog_flash_title(sv->cat, sale_id, sv->locale);
    const char *own = json_string_value(json_object_get(titles, sv->locale));
    char id[64], ctx[160];
    snprintf(id, sizeof(id), "flash:%lld:title", (long long)sale_id);
    snprintf(ctx, sizeof(ctx), "Title of a flash sale in %s (its page and banners). Short and catchy.", country);
    mer_tr_text_t v = {MER_TR_FLASH_TITLE,
                       t ? state_of(t->title, t->source, source) : state_of(own, NULL, source),
                       id,
                       sale_id,
                       NULL,
                       source,
                       t ? t->title : own,
                       t ? t->source : NULL,
                       ctx,
                       200};
    visit(&v, sv->gaps_only, sv->fn, sv->arg);
}

void mer_translation_each(const mer_catalog_t *cat, const char *locale, bool gaps_only, mer_tr_visit_fn fn, void *arg)
{
    char id[MER_TR_MAX_ID + 64];
    mer_buf_t ctx = MER_BUF_INIT;
    for (size_t i = 0; i < cat->ncategories; i++) {
        const mer_cat_category_t *c = &cat->categories[i];
        const mer_cat_text_t *src = text_in(c->texts, c->ntexts, MER_TR_SOURCE_LANG);
        if (src == NULL)
            continue;
        const mer_cat_text_t *t = text_in(c->texts, c->ntexts, locale);
        snprintf(id, sizeof(id), "category:%lld:name", (long long)c->id);
        mer_buf_reset(&ctx);
        mer_buf_printf(&ctx, "Name of the product category \"%s\" (a menu entry and a page title).", c->slug);
        mer_tr_text_t v = {MER_TR_CATEGORY_NAME,
                           state_of(t ? t->name : NULL, t ? t->name_source : NULL, src->name),
                           id,
                           c->id,
                           NULL,
                           src->name,
                           t ? t->name : NULL,
                           t ? t->name_source : NULL,
                           mer_buf_str(&ctx),
                           100};
        visit(&v, gaps_only, fn, arg);
    }
    for (size_t i = 0; i < cat->nproducts; i++) {
        const mer_cat_product_t *p = &cat->products[i];
        const mer_cat_text_t *src = text_in(p->texts, p->ntexts, MER_TR_SOURCE_LANG);
        if (src == NULL)
            continue;
        const mer_cat_text_t *t = text_in(p->texts, p->ntexts, locale);
        const mer_cat_text_t *cname =
            p->category ? text_in(p->category->texts, p->category->ntexts, MER_TR_SOURCE_LANG) : NULL;
        snprintf(id, sizeof(id), "product:%lld:name", (long long)p->id);
        mer_buf_reset(&ctx);
        mer_buf_printf(&ctx, "Product name (brand %s, category %s, page /%s). Keep brand and model names as they are.",
                       p->brand, cname ? cname->name : "-", p->slug);
        mer_tr_text_t v = {MER_TR_PRODUCT_NAME,
                           state_of(t ? t->name : NULL, t ? t->name_source : NULL, src->name),
                           id,
                           p->id,
                           NULL,
                           src->name,
                           t ? t->name : NULL,
                           t ? t->name_source : NULL,
                           mer_buf_str(&ctx),
                           200};
        visit(&v, gaps_only, fn, arg);
        if (src->description == NULL || *src->description == '\0')
            continue;
        snprintf(id, sizeof(id), "product:%lld:description", (long long)p->id);
        mer_buf_reset(&ctx);
        mer_buf_printf(&ctx, "Description of the product \"%s\" on its page. Plain text.", src->name);
        mer_tr_text_t d = {MER_TR_PRODUCT_DESCRIPTION,
                           state_of(t ? t->description : NULL, t ? t->description_source : NULL, src->description),
                           id,
                           p->id,
                           NULL,
                           src->description,
                           t ? t->description : NULL,
                           t ? t->description_source : NULL,
                           mer_buf_str(&ctx),
                           4000};
        visit(&d, gaps_only, fn, arg);
    }
    size_t nids = 0, nowned = 0;
    char **owned = NULL;
    const char **ids = attr_ids(cat, &nids, &owned, &nowned);
    for (size_t i = 0; i < nids; i++) {
        const char *key = ids[i], *eq = strchr(key, '=');
        const mer_cat_attr_text_t *en = attr_row(cat, key, MER_TR_SOURCE_LANG), *t = attr_row(cat, key, locale);
        const char *source = en ? en->text : eq ? eq + 1 : key;
        if (eq) {
            snprintf(id, sizeof(id), "attr:%.*s:%s", (int)(eq - key), key, eq + 1);
            char k[80];
            snprintf(k, sizeof(k), "%.*s", (int)(eq - key), key);
            const mer_cat_attr_text_t *kn = attr_row(cat, k, MER_TR_SOURCE_LANG);
            mer_buf_reset(&ctx);
            mer_buf_printf(&ctx, "A value of the product option \"%s\" (a choice on the product page).",
                           kn ? kn->text : k);
        } else {
            snprintf(id, sizeof(id), "attr:%s", key);
            mer_buf_reset(&ctx);
            mer_buf_printf(&ctx, "Name of a product option (a label on the product page, e.g. before its values).");
        }
        mer_tr_text_t v = {eq ? MER_TR_ATTR_VALUE : MER_TR_ATTR_NAME,
                           state_of(t ? t->text : NULL, t ? t->source : NULL, source),
                           id,
                           0,
                           key,
                           source,
                           t ? t->text : NULL,
                           t ? t->source : NULL,
                           mer_buf_str(&ctx),
                           100};
        visit(&v, gaps_only, fn, arg);
    }
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    free(ids);
    mer_buf_release(&ctx);
    if (sales) {
        sale_visit_t sv = {cat, locale, gaps_only, fn, arg};
        sales->each(visit_sale, &sv);
    }
}

/* ---- coverage and export ---- */

static void count_one(const mer_tr_text_t *t, void *arg)
{
    mer_tr_count_t *out = arg;
    mer_tr_count_t *k[2] = {&out[t->kind], &out[MER_TR_NKINDS]};
    for (size_t i = 0; i < 2; i++) {
        k[i]->total++;
        if (t->state == MER_TR_TRANSLATED)
            k[i]->translated++;
        else if (t->state == MER_TR_MISSING)
            k[i]->missing++;
        else
            k[i]->outdated++;
    }
}

void mer_translation_coverage(const mer_catalog_t *cat, const char *locale, mer_tr_count_t out[MER_TR_NKINDS + 1])
{
    memset(out, 0, (MER_TR_NKINDS + 1) * sizeof(*out));
    mer_translation_each(cat, locale, false, count_one, out);
}

static void export_one(const mer_tr_text_t *t, void *arg)
{
    mer_tr_file_add(arg, t->id, t->source, t->target, t->context, t->previous_source);
}

void mer_translation_export(const mer_catalog_t *cat, const char *locale, mer_tr_file_t *f)
{
    snprintf(f->source_lang, sizeof(f->source_lang), "%s", MER_TR_SOURCE_LANG);
    snprintf(f->target_lang, sizeof(f->target_lang), "%s", locale);
    mer_translation_each(cat, locale, true, export_one, f);
}

/* ---- checking an import ---- */

/* A text of the language, copied out of the visitor for lookups by id. */
typedef struct known {
    char *id, *attr, *source, *target;
    mer_tr_kind_t kind;
    mer_tr_state_t state;
    int64_t ref;
    size_t max_len;
    size_t entry; /* the file's entry for it + 1; 0 = none yet */
    bool named;   /* a product name: has a translation or gets one from this file */
} known_t;

typedef struct knowns {
    known_t *v;
    size_t n, cap;
} knowns_t;

static void collect(const mer_tr_text_t *t, void *arg)
{
    knowns_t *k = arg;
    MER_GROW(k->v, k->n, k->cap, 256);
    k->v[k->n++] = (known_t){mer_xstrdup(t->id),
                             t->attr ? mer_xstrdup(t->attr) : NULL,
                             mer_xstrdup(t->source),
                             t->target ? mer_xstrdup(t->target) : NULL,
                             t->kind,
                             t->state,
                             t->ref,
                             t->max_len,
                             0,
                             t->kind == MER_TR_PRODUCT_NAME && t->target != NULL};
}

static int cmp_known(const void *a, const void *b)
{
    return strcmp(((const known_t *)a)->id, ((const known_t *)b)->id);
}

static known_t *find_known(knowns_t *k, const char *id)
{
    known_t key = {.id = (char *)id};
    return bsearch(&key, k->v, k->n, sizeof(*k->v), cmp_known);
}

static void problem(mer_tr_import_t *out, const char *id, unsigned line, const char *code, const char *fmt, ...)
    MER_PRINTF(5, 6);
static void problem(mer_tr_import_t *out, const char *id, unsigned line, const char *code, const char *fmt, ...)
{
    if (json_array_size(out->problems) >= 1000)
        return; /* enough to act on; the count says how many more */
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *p = json_pack("{s:s,s:s}", "code", code, "message", msg);
    if (id)
        json_object_set_new(p, "id", json_string(id));
    if (line)
        json_object_set_new(p, "line", json_integer(line));
    json_array_append_new(out->problems, p);
}

/*
 * The placeholders and markup of a text, each as a token: {name}, printf conversions (%s, %d, %1$s,
 * %.2f), and tags (<b>, </b>, <br/>) by name. A translation must carry the same tokens as its source, as
 * many times each; order may change.
 */
typedef struct tokens {
    char (*v)[48];
    size_t n;
} tokens_t;

static void token_add(tokens_t *t, const char *s, size_t len)
{
    t->v = mer_xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
    snprintf(t->v[t->n++], sizeof(*t->v), "%.*s", (int)(len < 47 ? len : 47), s);
}

static void tokenize(const char *s, tokens_t *out)
{
    for (const char *p = s; *p; p++) {
        if (*p == '{') {
            const char *q = p + 1;
            while (isalnum((unsigned char)*q) || *q == '_' || *q == '.')
                q++;
            if (*q == '}' && q > p + 1) {
                token_add(out, p, (size_t)(q - p + 1));
                p = q;
            }
        } else if (*p == '%') {
            const char *q = p + 1;
            if (*q == '%') {
                p = q;
                continue;
            }
            const char *d = q + strspn(q, "0123456789");
            if (*d == '$' && d > q)
                q = d + 1; /* a positional argument: %1$s */
            q += strspn(q, "-+ #0");
            q += strspn(q, "0123456789");
            if (*q == '.')
                q += 1 + strspn(q + 1, "0123456789");
            q += strspn(q, "hlLqjzt");
            if (*q && strchr("sdiufFeEgGxXoc", *q)) {
                token_add(out, p, (size_t)(q - p + 1));
                p = q;
            }
        } else if (*p == '<') {
            const char *q = p + 1;
            bool closing = *q == '/';
            if (closing)
                q++;
            if (!isalpha((unsigned char)*q))
                continue;
            const char *name = q;
            while (isalnum((unsigned char)*q))
                q++;
            size_t nlen = (size_t)(q - name);
            const char *gt = q;
            while (*gt && *gt != '>' && *gt != '<')
                gt++;
            if (*gt != '>')
                continue;
            char tag[48];
            snprintf(tag, sizeof(tag), "<%s%.*s%s>", closing ? "/" : "", (int)(nlen < 40 ? nlen : 40), name,
                     gt > p && gt[-1] == '/' ? "/" : "");
            token_add(out, tag, strlen(tag));
            p = gt;
        }
    }
}

/* Reports tokens of the source missing from the target and tokens the target adds. */
static void check_tokens(mer_tr_import_t *out, const mer_tr_entry_t *e, const char *source, const char *target)
{
    tokens_t s = {0}, t = {0};
    tokenize(source, &s);
    tokenize(target, &t);
    for (size_t i = 0; i < s.n; i++) {
        size_t j;
        for (j = 0; j < t.n; j++)
            if (strcmp(s.v[i], t.v[j]) == 0)
                break;
        if (j == t.n)
            problem(out, e->id, e->line, s.v[i][0] == '<' ? "markup_missing" : "placeholder_missing",
                    "the translation must keep %s from the source text", s.v[i]);
        else
            t.v[j][0] = '\0'; /* matched once */
    }
    for (size_t j = 0; j < t.n; j++)
        if (t.v[j][0])
            problem(out, e->id, e->line, t.v[j][0] == '<' ? "markup_unknown" : "placeholder_unknown",
                    "%s is not in the source text", t.v[j]);
    free(s.v);
    free(t.v);
}

static int cmp_change(const void *a, const void *b)
{
    const mer_tr_change_t *x = a, *y = b;
    if (x->kind != y->kind)
        return (int)x->kind - (int)y->kind;
    return x->ref < y->ref ? -1 : x->ref > y->ref;
}

void mer_translation_check(const mer_catalog_t *cat, const char *locale, const mer_tr_file_t *f, mer_tr_import_t *out)
{
    knowns_t k = {0};
    size_t added = 0, updated = 0, unchanged = 0, skipped = 0;
    json_t *texts = json_array();
    *out = (mer_tr_import_t){0};
    out->problems = json_array();
    if (f->target_lang[0] == '\0')
        problem(out, NULL, 0, "language_missing",
                "the file does not say its language (XLIFF trgLang, PO header Language); expected %s", locale);
    else if (strcmp(f->target_lang, locale) != 0)
        problem(out, NULL, 0, "wrong_language", "the file translates into %s, not %s", f->target_lang, locale);
    if (f->source_lang[0] && strcmp(f->source_lang, MER_TR_SOURCE_LANG) != 0)
        problem(out, NULL, 0, "wrong_source_language", "the source language is %s, not %s", f->source_lang,
                MER_TR_SOURCE_LANG);
    mer_translation_each(cat, locale, false, collect, &k);
    qsort(k.v, k.n, sizeof(*k.v), cmp_known);

    for (size_t i = 0; i < f->n; i++) {
        const mer_tr_entry_t *e = &f->entries[i];
        known_t *t = find_known(&k, e->id);
        if (t == NULL) {
            problem(out, e->id[0] ? e->id : NULL, e->line, "unknown_id",
                    e->id[0] ? "no text of the catalogue has the id %s" : "%sthe entry has no id (msgctxt)",
                    e->id[0] ? e->id : "");
            continue;
        }
        if (t->entry) {
            problem(out, e->id, e->line, "duplicate_id", "%s appears more than once in the file", e->id);
            continue;
        }
        t->entry = i + 1;
        if (e->target == NULL || *e->target == '\0' || e->fuzzy)
            continue;
        if (strcmp(e->source, t->source) != 0) {
            problem(out, e->id, e->line, "source_changed",
                    "the source text is not the catalogue's current English text (it changed since the export, or "
                    "the file's source was edited): export again");
            continue;
        }
        size_t len = strlen(e->target);
        if (len > t->max_len)
            problem(out, e->id, e->line, "too_long", "the translation has %zu bytes; at most %zu are allowed", len,
                    t->max_len);
        if (mer_utf8_text(e->target, len) < 0)
            problem(out, e->id, e->line, "invalid_text",
                    "the translation must be UTF-8 text without control characters other than newline and tab");
        check_tokens(out, e, t->source, e->target);
        if (t->kind == MER_TR_PRODUCT_NAME)
            t->named = true;
    }
    /* a description needs its product's name in the language (a text row holds both) */
    for (size_t i = 0; i < k.n; i++) {
        known_t *t = &k.v[i];
        const mer_tr_entry_t *e = t->entry ? &f->entries[t->entry - 1] : NULL;
        if (t->kind != MER_TR_PRODUCT_DESCRIPTION || e == NULL || e->target == NULL || *e->target == '\0' || e->fuzzy)
            continue;
        char nid[64];
        snprintf(nid, sizeof(nid), "product:%lld:name", (long long)t->ref);
        known_t *name = find_known(&k, nid);
        if (name == NULL || !name->named)
            problem(out, e->id, e->line, "name_needed",
                    "translate %s too: a product's description is shown only with its name in the same language", nid);
    }

    for (size_t i = 0; i < f->n && json_array_size(out->problems) == 0; i++) {
        const mer_tr_entry_t *e = &f->entries[i];
        known_t *t = find_known(&k, e->id);
        const char *result;
        if (e->target == NULL || *e->target == '\0' || e->fuzzy) {
            result = "skipped";
            skipped++;
        } else if (t->state == MER_TR_TRANSLATED && strcmp(t->target, e->target) == 0) {
            result = "unchanged";
            unchanged++;
        } else {
            result = t->state == MER_TR_MISSING ? "added" : "updated";
            (*(t->state == MER_TR_MISSING ? &added : &updated))++;
            out->changes = mer_xrealloc(out->changes, (out->nchanges + 1) * sizeof(*out->changes));
            out->changes[out->nchanges++] =
                (mer_tr_change_t){t->kind, t->ref, t->attr ? mer_xstrdup(t->attr) : NULL, mer_xstrdup(e->target)};
        }
        json_array_append_new(texts, json_pack("{s:s,s:s}", "id", e->id, "result", result));
    }
    if (out->nchanges)
        qsort(out->changes, out->nchanges, sizeof(*out->changes), cmp_change);
    out->report = json_pack("{s:s,s:I,s:I,s:I,s:I,s:o}", "language", locale, "added", (json_int_t)added, "updated",
                            (json_int_t)updated, "unchanged", (json_int_t)unchanged, "skipped", (json_int_t)skipped,
                            "texts", texts);
    for (size_t i = 0; i < k.n; i++) {
        free(k.v[i].id);
        free(k.v[i].attr);
        free(k.v[i].source);
        free(k.v[i].target);
    }
    free(k.v);
}

void mer_translation_import_release(mer_tr_import_t *imp)
{
    for (size_t i = 0; i < imp->nchanges; i++) {
        free(imp->changes[i].attr);
        free(imp->changes[i].target);
    }
    free(imp->changes);
    json_decref(imp->report);
    json_decref(imp->problems);
    *imp = (mer_tr_import_t){0};
}

/* ---- writing ---- */

static int apply_one(mer_db_t *db, const char *locale, const mer_tr_change_t *c)
{
    int n;
    switch (c->kind) {
    case MER_TR_PRODUCT_NAME:
        n = mer_db_exec(db,
                        "INSERT INTO product_text (product_id, locale, name, description) VALUES (?, ?, ?, '') "
                        "ON CONFLICT (product_id, locale) DO UPDATE SET name = excluded.name, name_source = NULL",
                        "iss", c->ref, locale, c->target);
        break;
    case MER_TR_PRODUCT_DESCRIPTION: /* the name came first (changes are sorted by kind) or existed */
        n = mer_db_exec(db,
                        "UPDATE product_text SET description = ?, description_source = NULL WHERE product_id = ? AND "
                        "locale = ?",
                        "sis", c->target, c->ref, locale);
        if (n == 0)
            n = MER_E_CONFLICT;
        break;
    case MER_TR_CATEGORY_NAME:
        n = mer_db_exec(db,
                        "INSERT INTO category_text (category_id, locale, name) VALUES (?, ?, ?) "
                        "ON CONFLICT (category_id, locale) DO UPDATE SET name = excluded.name, name_source = NULL",
                        "iss", c->ref, locale, c->target);
        break;
    case MER_TR_FLASH_TITLE:
        n = mer_db_exec(db,
                        "INSERT INTO flash_sale_text (sale_id, locale, title) VALUES (?, ?, ?) "
                        "ON CONFLICT (sale_id, locale) DO UPDATE SET title = excluded.title, source = NULL",
                        "iss", c->ref, locale, c->target);
        break;
    default:
        n = mer_db_exec(db,
                        "INSERT INTO attribute_text (key, locale, text) VALUES (?, ?, ?) "
                        "ON CONFLICT (key, locale) DO UPDATE SET text = excluded.text, source = NULL",
                        "sss", c->attr, locale, c->target);
    }
    return n < 0 ? n : 0;
}

int mer_translation_apply(mer_db_t *db, const char *locale, const mer_tr_change_t *changes, size_t n, mer_verr_t *e)
{
    for (size_t i = 0; i < n; i++) {
        const mer_tr_change_t *c = &changes[i];
        int err = apply_one(db, locale, c);
        if (err)
            return mer_verr_set(e, err, NULL, "the translation of %s %lld could not be written",
                                mer_tr_kind_name(c->kind), (long long)c->ref);
    }
    return mer_catalog_changed(db); /* the new snapshot indexes the new texts for search (catalog/search.h) */
}
