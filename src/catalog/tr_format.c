/*
 * tr_format.c — XLIFF 2.0 and gettext PO, written and parsed (see tr_format.h for the rules).
 *
 * XLIFF is parsed by expat with the namespace separator '|' so element names arrive as
 * "urn:oasis:names:tc:xliff:document:2.0|unit". A small state machine follows xliff > file > (group >)*
 * unit > segment|ignorable > source|target and collects the text of source and target; <notes> and
 * elements of other namespaces (tools' metadata) are skipped. Handlers report an error by stopping the
 * parser; the first error wins.
 *
 * PO is parsed line by line: comments and flags belong to the entry that follows; a keyword
 * (msgctxt, msgid, msgstr) starts or continues an entry and a line that is only a string continues the
 * last keyword. An entry is complete when it has a msgstr and ends at the next comment or keyword or at
 * the end of the file.
 */
#include "catalog/tr_format.h"

#include <ctype.h>
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/common.h"
#include "core/banned.h"

#define XLIFF_NS "urn:oasis:names:tc:xliff:document:2.0"
#define MAX_DEPTH 16

void mer_tr_file_add(mer_tr_file_t *f, const char *id, const char *source, const char *target, const char *note,
                     const char *previous_source)
{
    MER_GROW(f->entries, f->n, f->cap, 64);
    mer_tr_entry_t *e = &f->entries[f->n++];
    *e = (mer_tr_entry_t){0};
    e->id = mer_xstrdup(id);
    e->source = mer_xstrdup(source);
    e->target = target ? mer_xstrdup(target) : NULL;
    e->note = note ? mer_xstrdup(note) : NULL;
    e->previous_source = previous_source ? mer_xstrdup(previous_source) : NULL;
}

void mer_tr_file_release(mer_tr_file_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        mer_tr_entry_t *e = &f->entries[i];
        free(e->id);
        free(e->source);
        free(e->target);
        free(e->note);
        free(e->previous_source);
    }
    free(f->entries);
    f->entries = NULL;
    f->n = f->cap = 0;
}

/* Is s[0..len) well-formed UTF-8 without NUL (line ends may be CRLF, so \r is allowed here)? */
static bool utf8_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = s[i] ? mer_utf8_seq((const unsigned char *)s + i, len - i) : 0;
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* ---- writing XLIFF ---- */

/* Escapes s for element content (attr: also for a double-quoted attribute). Control characters that XML
 * 1.0 cannot carry become U+FFFD; \r is a character reference so that parsers do not fold it into \n. */
static void xml_escape(mer_buf_t *out, const char *s, bool attr)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            mer_buf_addstr(out, "&amp;");
            break;
        case '<':
            mer_buf_addstr(out, "&lt;");
            break;
        case '>':
            mer_buf_addstr(out, "&gt;");
            break;
        case '"':
            mer_buf_addstr(out, attr ? "&quot;" : "\"");
            break;
        case '\r':
            mer_buf_addstr(out, "&#13;");
            break;
        case '\n':
        case '\t':
            if (attr)
                mer_buf_printf(out, "&#%u;", c);
            else
                mer_buf_addch(out, (char)c);
            break;
        default:
            if (c < 0x20)
                mer_buf_addstr(out, "\xEF\xBF\xBD");
            else
                mer_buf_addch(out, (char)c);
        }
    }
}

void mer_tr_write_xliff(mer_buf_t *out, const mer_tr_file_t *f)
{
    mer_buf_addstr(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xliff xmlns=\"" XLIFF_NS
                        "\" version=\"2.0\" srcLang=\"");
    xml_escape(out, f->source_lang, true);
    mer_buf_addstr(out, "\" trgLang=\"");
    xml_escape(out, f->target_lang, true);
    mer_buf_addstr(out, "\">\n <file id=\"catalog\" xml:space=\"preserve\">\n");
    for (size_t i = 0; i < f->n; i++) {
        const mer_tr_entry_t *e = &f->entries[i];
        mer_buf_addstr(out, "  <unit id=\"");
        xml_escape(out, e->id, true);
        mer_buf_addstr(out, "\">\n");
        if (e->note || e->previous_source) {
            mer_buf_addstr(out, "   <notes>\n");
            if (e->note) {
                mer_buf_addstr(out, "    <note category=\"context\">");
                xml_escape(out, e->note, false);
                mer_buf_addstr(out, "</note>\n");
            }
            if (e->previous_source) {
                mer_buf_addstr(out, "    <note category=\"outdated\">The source text changed. It was: ");
                xml_escape(out, e->previous_source, false);
                if (e->target) {
                    mer_buf_addstr(out, " — and its translation was: ");
                    xml_escape(out, e->target, false);
                }
                mer_buf_addstr(out, "</note>\n");
            }
            mer_buf_addstr(out, "   </notes>\n");
        }
        mer_buf_addstr(out, "   <segment>\n    <source>");
        xml_escape(out, e->source, false);
        mer_buf_addstr(out, "</source>\n");
        if (e->target && *e->target && !e->previous_source) {
            mer_buf_addstr(out, "    <target>");
            xml_escape(out, e->target, false);
            mer_buf_addstr(out, "</target>\n");
        }
        mer_buf_addstr(out, "   </segment>\n  </unit>\n");
    }
    mer_buf_addstr(out, " </file>\n</xliff>\n");
}

/* ---- writing PO ---- */

void mer_tr_po_string(mer_buf_t *out, const char *s)
{
    const char *nl = strchr(s, '\n');
    if (nl && nl[1] != '\0') /* several lines: msgid "" then one string per line, as msgcat writes them */
        mer_buf_addstr(out, "\"\"\n");
    mer_buf_addch(out, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"':
            mer_buf_addstr(out, "\\\"");
            break;
        case '\\':
            mer_buf_addstr(out, "\\\\");
            break;
        case '\t':
            mer_buf_addstr(out, "\\t");
            break;
        case '\r':
            mer_buf_addstr(out, "\\r");
            break;
        case '\n':
            mer_buf_addstr(out, "\\n");
            if (s[1] != '\0')
                mer_buf_addstr(out, "\"\n\"");
            break;
        default:
            if (c < 0x20 || c == 0x7F)
                mer_buf_printf(out, "\\%03o", c);
            else
                mer_buf_addch(out, (char)c);
        }
    }
    mer_buf_addstr(out, "\"\n");
}

/* A comment of kind ("#." or "#|"), one line per line of s. */
static void po_comment(mer_buf_t *out, const char *kind, const char *s)
{
    const char *p = s;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        mer_buf_printf(out, "%s %.*s\n", kind, (int)n, p);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
}

void mer_tr_write_po(mer_buf_t *out, const mer_tr_file_t *f)
{
    mer_buf_printf(out,
                   "# Meridian catalogue texts to translate from %s into %s.\n"
                   "# msgctxt is the text's stable id: keep it. Leave an entry's msgstr empty to skip it;\n"
                   "# entries still marked fuzzy are not imported.\n"
                   "msgid \"\"\nmsgstr \"\"\n"
                   "\"Project-Id-Version: Meridian catalogue\\n\"\n"
                   "\"PO-Revision-Date: YEAR-MO-DA HO:MI+ZONE\\n\"\n"
                   "\"Last-Translator: FULL NAME <EMAIL@ADDRESS>\\n\"\n"
                   "\"Language-Team: LANGUAGE <LL@li.org>\\n\"\n"
                   "\"Language: %s\\n\"\n"
                   "\"MIME-Version: 1.0\\n\"\n"
                   "\"Content-Type: text/plain; charset=UTF-8\\n\"\n"
                   "\"Content-Transfer-Encoding: 8bit\\n\"\n"
                   "\"X-Source-Language: %s\\n\"\n",
                   f->source_lang, f->target_lang, f->target_lang, f->source_lang);
    for (size_t i = 0; i < f->n; i++) {
        const mer_tr_entry_t *e = &f->entries[i];
        mer_buf_addch(out, '\n');
        if (e->note)
            po_comment(out, "#.", e->note);
        if (e->previous_source) { /* as msgmerge marks a changed source: fuzzy, with the previous msgid */
            mer_buf_t prev = MER_BUF_INIT;
            mer_tr_po_string(&prev, e->previous_source);
            mer_buf_addstr(out, "#, fuzzy\n#| msgid ");
            const char *p = mer_buf_str(&prev);
            for (const char *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
                mer_buf_add(out, p, (size_t)(nl - p) + 1);
                if (nl[1] != '\0')
                    mer_buf_addstr(out, "#| ");
            }
            mer_buf_release(&prev);
        }
        mer_buf_addstr(out, "msgctxt ");
        mer_tr_po_string(out, e->id);
        mer_buf_addstr(out, "msgid ");
        mer_tr_po_string(out, e->source);
        mer_buf_addstr(out, "msgstr ");
        mer_tr_po_string(out, e->target ? e->target : "");
    }
}

/* ---- parsing XLIFF ---- */

typedef enum { X_OTHER = 0, X_XLIFF, X_FILE, X_GROUP, X_UNIT, X_SEGMENT, X_SOURCE, X_TARGET, X_SKIP } xstate_t;

typedef struct xctx {
    XML_Parser p;
    mer_tr_file_t *out;
    char *err;
    bool failed;
    xstate_t stack[MAX_DEPTH];
    size_t depth;
    mer_tr_entry_t *unit; /* the open unit */
    mer_buf_t src, tgt;   /* its text so far */
    bool has_target, seen_root;
} xctx_t;

static void xfail(xctx_t *x, const char *fmt, ...) MER_PRINTF(2, 3);
static void xfail(xctx_t *x, const char *fmt, ...)
{
    if (x->failed)
        return;
    x->failed = true;
    int n = snprintf(x->err, 256, "line %lu, column %lu: ", (unsigned long)XML_GetCurrentLineNumber(x->p),
                     (unsigned long)XML_GetCurrentColumnNumber(x->p) + 1);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err + n, 256 - (size_t)n, fmt, ap);
    va_end(ap);
    XML_StopParser(x->p, XML_FALSE);
}

static const char *xattr(const XML_Char **attrs, const char *name)
{
    for (size_t i = 0; attrs[i]; i += 2)
        if (strcmp(attrs[i], name) == 0)
            return attrs[i + 1];
    return NULL;
}

static void xlang(xctx_t *x, const char *v, const char *what, char out[MER_LOCALE_MAX])
{
    if (v == NULL) {
        xfail(x, "<xliff> needs a %s attribute", what);
        return;
    }
    if (mer_locale_normalize(v, strlen(v), out) != 0)
        xfail(x, "%s=\"%.20s\" is not a language tag", what, v);
}

static void XMLCALL xstart(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    xctx_t *x = ud;
    if (x->failed)
        return;
    if (x->depth == MAX_DEPTH) {
        xfail(x, "elements nest too deeply");
        return;
    }
    xstate_t parent = x->depth ? x->stack[x->depth - 1] : X_OTHER, st = X_SKIP;
    bool ours = strncmp(name, XLIFF_NS "|", sizeof(XLIFF_NS)) == 0;
    const char *local = ours ? name + sizeof(XLIFF_NS) : name;
    if (parent == X_SOURCE || parent == X_TARGET) {
        xfail(x, "<%s> inside <%s>: inline markup is not supported (catalogue texts are plain text; escape < as &lt;)",
              local, parent == X_SOURCE ? "source" : "target");
        return;
    }
    if (x->depth == 0) {
        if (!ours || strcmp(local, "xliff") != 0) {
            xfail(x, "the root element must be <xliff> in the namespace " XLIFF_NS);
            return;
        }
        const char *version = xattr(attrs, "version");
        if (version == NULL || strcmp(version, "2.0") != 0) {
            xfail(x, "only XLIFF version=\"2.0\" is supported");
            return;
        }
        xlang(x, xattr(attrs, "srcLang"), "srcLang", x->out->source_lang);
        const char *trg = xattr(attrs, "trgLang");
        if (trg == NULL)
            xfail(x, "<xliff> needs a trgLang attribute (the language of the translations)");
        else
            xlang(x, trg, "trgLang", x->out->target_lang);
        x->seen_root = true;
        st = X_XLIFF;
    } else if (!ours || parent == X_SKIP || parent == X_OTHER) {
        st = X_SKIP; /* another namespace's metadata, or inside something skipped */
    } else if (parent == X_XLIFF && strcmp(local, "file") == 0) {
        st = X_FILE;
    } else if ((parent == X_FILE || parent == X_GROUP) && strcmp(local, "group") == 0) {
        st = X_GROUP;
    } else if ((parent == X_FILE || parent == X_GROUP) && strcmp(local, "unit") == 0) {
        const char *id = xattr(attrs, "id");
        if (id == NULL || *id == '\0' || strlen(id) > MER_TR_MAX_ID) {
            xfail(x, "<unit> needs an id of 1 to %d characters", MER_TR_MAX_ID);
            return;
        }
        if (x->out->n == MER_TR_MAX_ENTRIES) {
            xfail(x, "more than %d units", MER_TR_MAX_ENTRIES);
            return;
        }
        mer_tr_file_add(x->out, id, "", NULL, NULL, NULL);
        x->unit = &x->out->entries[x->out->n - 1];
        x->unit->line = (unsigned)XML_GetCurrentLineNumber(x->p);
        mer_buf_reset(&x->src);
        mer_buf_reset(&x->tgt);
        x->has_target = false;
        st = X_UNIT;
    } else if (parent == X_UNIT && (strcmp(local, "segment") == 0 || strcmp(local, "ignorable") == 0)) {
        st = X_SEGMENT;
    } else if (parent == X_SEGMENT && strcmp(local, "source") == 0) {
        st = X_SOURCE;
    } else if (parent == X_SEGMENT && strcmp(local, "target") == 0) {
        st = X_TARGET;
        x->has_target = true;
    } else if (parent == X_UNIT || parent == X_FILE || parent == X_XLIFF || parent == X_GROUP) {
        st = X_SKIP; /* notes, originalData, skeleton: nothing the catalogue reads */
    } else {
        xfail(x, "unexpected <%s>", local);
        return;
    }
    x->stack[x->depth++] = st;
}

static void XMLCALL xend(void *ud, const XML_Char *name)
{
    (void)name;
    xctx_t *x = ud;
    if (x->failed || x->depth == 0)
        return;
    if (x->stack[--x->depth] == X_UNIT && x->unit) {
        free(x->unit->source);
        x->unit->source = mer_xstrdup(mer_buf_str(&x->src));
        x->unit->target = x->has_target ? mer_xstrdup(mer_buf_str(&x->tgt)) : NULL;
        x->unit = NULL;
    }
}

static void XMLCALL xtext(void *ud, const XML_Char *s, int len)
{
    xctx_t *x = ud;
    if (x->failed || x->depth == 0)
        return;
    xstate_t st = x->stack[x->depth - 1];
    mer_buf_t *b = st == X_SOURCE ? &x->src : st == X_TARGET ? &x->tgt : NULL;
    if (b == NULL)
        return;
    if (b->len + (size_t)len > MER_TR_MAX_TEXT) {
        xfail(x, "a text is longer than %d bytes", MER_TR_MAX_TEXT);
        return;
    }
    mer_buf_add(b, s, (size_t)len);
}

static void XMLCALL xdoctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                             int has_internal)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal;
    xfail(ud, "a DOCTYPE is not allowed (no DTDs, entity declarations or external entities)");
}

static void XMLCALL xentity(void *ud, const XML_Char *name, int is_param, const XML_Char *value, int len,
                            const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
                            const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)len, (void)base, (void)sysid, (void)pubid, (void)notation;
    xfail(ud, "entity declarations are not allowed");
}

static int XMLCALL xexternal(XML_Parser p, const XML_Char *context, const XML_Char *base, const XML_Char *sysid,
                             const XML_Char *pubid)
{
    (void)p, (void)context, (void)base, (void)sysid, (void)pubid;
    return XML_STATUS_ERROR; /* never load anything */
}

static void XMLCALL xpi(void *ud, const XML_Char *target, const XML_Char *data)
{
    (void)ud, (void)target, (void)data; /* processing instructions carry nothing for us */
}

int mer_tr_parse_xliff(const char *data, size_t len, mer_tr_file_t *out, char err[256])
{
    xctx_t x = {0};
    err[0] = '\0';
    if (len > (size_t)INT32_MAX) {
        snprintf(err, 256, "the file is too large");
        return -1;
    }
    /* "UTF-8" overrides the document's encoding declaration: other encodings fail as invalid bytes */
    x.p = XML_ParserCreateNS("UTF-8", '|');
    if (x.p == NULL)
        abort(); /* out of memory, as mer_xmalloc does */
    x.out = out;
    x.err = err;
    XML_SetUserData(x.p, &x);
    XML_SetElementHandler(x.p, xstart, xend);
    XML_SetCharacterDataHandler(x.p, xtext);
    XML_SetStartDoctypeDeclHandler(x.p, xdoctype);
    XML_SetEntityDeclHandler(x.p, xentity);
    XML_SetExternalEntityRefHandler(x.p, xexternal);
    XML_SetProcessingInstructionHandler(x.p, xpi);
    XML_SetParamEntityParsing(x.p, XML_PARAM_ENTITY_PARSING_NEVER);
    enum XML_Status st = XML_Parse(x.p, data, (int)len, XML_TRUE);
    if (st != XML_STATUS_OK && !x.failed) {
        snprintf(err, 256, "line %lu, column %lu: %s", (unsigned long)XML_GetCurrentLineNumber(x.p),
                 (unsigned long)XML_GetCurrentColumnNumber(x.p) + 1, XML_ErrorString(XML_GetErrorCode(x.p)));
        x.failed = true;
    }
    if (!x.failed && !x.seen_root) {
        snprintf(err, 256, "not an XLIFF document");
        x.failed = true;
    }
    XML_ParserFree(x.p);
    mer_buf_release(&x.src);
    mer_buf_release(&x.tgt);
    return x.failed ? -1 : 0;
}

/* ---- parsing PO ---- */

typedef struct po {
    mer_tr_file_t *out;
    char *err;
    unsigned lineno;
    /* the entry being read */
    mer_buf_t ctx, id, str;
    bool has_ctx, has_id, has_str, fuzzy, started;
    unsigned line;
    mer_buf_t *last; /* where a continuation string goes */
    bool header_seen;
} po_t;

static int pofail(po_t *p, const char *fmt, ...) MER_PRINTF(2, 3);
static int pofail(po_t *p, const char *fmt, ...)
{
    int n = snprintf(p->err, 256, "line %u: ", p->lineno);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, 256 - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Reads a quoted string at s (after optional blanks) into b; nothing but blanks may follow. */
static int po_str(po_t *p, const char *s, const char *end, mer_buf_t *b)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (s == end || *s != '"')
        return pofail(p, "a string in double quotes is expected");
    for (s++; s < end && *s != '"'; s++) {
        char c = *s;
        if (c == '\\') {
            if (++s == end)
                return pofail(p, "the string is not closed");
            switch (*s) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'a':
                c = '\a';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'v':
                c = '\v';
                break;
            case '"':
                c = '"';
                break;
            case '\\':
                c = '\\';
                break;
            default:
                if (*s >= '0' && *s <= '7') {
                    unsigned v = 0;
                    for (int k = 0; k < 3 && s < end && *s >= '0' && *s <= '7'; k++, s++)
                        v = v * 8 + (unsigned)(*s - '0');
                    s--;
                    if (v == 0 || v > 0xFF)
                        return pofail(p, "the octal escape is not a byte other than NUL");
                    c = (char)v;
                } else {
                    return pofail(p, "unknown escape \\%c", *s);
                }
            }
        }
        mer_buf_addch(b, c);
    }
    if (s == end)
        return pofail(p, "the string is not closed");
    for (s++; s < end; s++)
        if (*s != ' ' && *s != '\t')
            return pofail(p, "unexpected text after the string");
    if (b->len > MER_TR_MAX_TEXT)
        return pofail(p, "a string is longer than %d bytes", MER_TR_MAX_TEXT);
    return 0;
}

/* The header entry: "Key: value\n" lines. */
static int po_header(po_t *p, const char *h)
{
    const char *line = h;
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        const char *colon = memchr(line, ':', n);
        if (colon) {
            size_t klen = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < line + n && *v == ' ')
                v++;
            size_t vlen = (size_t)(line + n - v);
            if (vlen == 0) {
                /* an empty value says nothing */
            } else if (klen == 8 && strncasecmp(line, "Language", 8) == 0) {
                if (mer_locale_normalize(v, vlen, p->out->target_lang) != 0)
                    return pofail(p, "the header's Language is not a language tag");
            } else if (klen == 17 && strncasecmp(line, "X-Source-Language", 17) == 0) {
                if (mer_locale_normalize(v, vlen, p->out->source_lang) != 0)
                    return pofail(p, "the header's X-Source-Language is not a language tag");
            } else if (klen == 12 && strncasecmp(line, "Content-Type", 12) == 0) {
                char ct[128];
                snprintf(ct, sizeof(ct), "%.*s", (int)vlen, v);
                for (char *c = ct; *c; c++)
                    *c = (char)tolower((unsigned char)*c);
                const char *cs = strstr(ct, "charset=");
                if (cs && strncmp(cs + 8, "utf-8", 5) != 0)
                    return pofail(p, "only charset=UTF-8 is supported (the header says %s)", cs + 8);
            }
        }
        line = nl ? nl + 1 : line + n;
    }
    return 0;
}

static void po_reset(po_t *p)
{
    mer_buf_reset(&p->ctx);
    mer_buf_reset(&p->id);
    mer_buf_reset(&p->str);
    p->has_ctx = p->has_id = p->has_str = p->fuzzy = p->started = false;
    p->last = NULL;
}

/* Ends the entry being read (if any). */
static int po_finish(po_t *p)
{
    if (!p->has_id && !p->has_ctx && !p->has_str) {
        po_reset(p);
        return 0;
    }
    if (!p->has_id || !p->has_str)
        return pofail(p, "the entry that starts on line %u needs both msgid and msgstr", p->line);
    if (!utf8_ok(p->ctx.data, p->ctx.len) || !utf8_ok(p->id.data, p->id.len) || !utf8_ok(p->str.data, p->str.len))
        return pofail(p, "the entry that starts on line %u is not valid UTF-8 once its escapes are decoded", p->line);
    if (!p->has_ctx && p->id.len == 0) {
        if (p->header_seen)
            return pofail(p, "a second header entry (msgid \"\") starts on line %u", p->line);
        p->header_seen = true;
        int err = po_header(p, mer_buf_str(&p->str));
        po_reset(p);
        return err;
    }
    if (p->out->n == MER_TR_MAX_ENTRIES)
        return pofail(p, "more than %d entries", MER_TR_MAX_ENTRIES);
    if (p->ctx.len > MER_TR_MAX_ID)
        return pofail(p, "the msgctxt of the entry on line %u is longer than %d bytes", p->line, MER_TR_MAX_ID);
    mer_tr_file_add(p->out, mer_buf_str(&p->ctx), mer_buf_str(&p->id), mer_buf_str(&p->str), NULL, NULL);
    mer_tr_entry_t *e = &p->out->entries[p->out->n - 1];
    e->fuzzy = p->fuzzy;
    e->line = p->line;
    po_reset(p);
    return 0;
}

static bool keyword(const char *s, const char *end, const char *kw, const char **rest)
{
    size_t n = strlen(kw);
    if ((size_t)(end - s) < n || memcmp(s, kw, n) != 0)
        return false;
    if (s + n < end && s[n] != ' ' && s[n] != '\t' && s[n] != '"')
        return false;
    *rest = s + n;
    return true;
}

static int po_line(po_t *p, const char *s, const char *end)
{
    const char *rest;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (s == end) {
        p->last = NULL;
        return 0;
    }
    if (*s == '"') {
        if (p->last == NULL)
            return pofail(p, "a string that continues nothing");
        return po_str(p, s, end, p->last);
    }
    if (*s == '#') {
        if (end - s >= 2 && s[1] == '~')
            return 0; /* obsolete entry: ignored */
        if (p->has_str && po_finish(p))
            return -1;
        if (!p->started)
            p->line = p->lineno, p->started = true;
        p->last = NULL;
        if (end - s >= 2 && s[1] == ',') {
            for (const char *f = s + 2; f + 5 <= end; f++)
                if (memcmp(f, "fuzzy", 5) == 0)
                    p->fuzzy = true;
        }
        return 0;
    }
    if (keyword(s, end, "msgid_plural", &rest) || (end - s > 7 && memcmp(s, "msgstr[", 7) == 0))
        return pofail(p, "plural forms are not used by the catalogue");
    if (keyword(s, end, "msgctxt", &rest)) {
        if (p->has_str && po_finish(p))
            return -1;
        if (p->has_ctx || p->has_id)
            return pofail(p, "msgctxt must come before msgid, once per entry");
        if (!p->started)
            p->line = p->lineno, p->started = true;
        p->has_ctx = true;
        p->last = &p->ctx;
        return po_str(p, rest, end, &p->ctx);
    }
    if (keyword(s, end, "msgid", &rest)) {
        if (p->has_str && po_finish(p))
            return -1;
        if (p->has_id)
            return pofail(p, "a second msgid in one entry");
        if (!p->started)
            p->line = p->lineno, p->started = true;
        p->has_id = true;
        p->last = &p->id;
        return po_str(p, rest, end, &p->id);
    }
    if (keyword(s, end, "msgstr", &rest)) {
        if (!p->has_id || p->has_str)
            return pofail(p, "msgstr must follow a msgid, once per entry");
        p->has_str = true;
        p->last = &p->str;
        return po_str(p, rest, end, &p->str);
    }
    return pofail(p, "expected a comment, msgctxt, msgid, msgstr or a string");
}

int mer_tr_parse_po(const char *data, size_t len, mer_tr_file_t *out, char err[256])
{
    po_t p = {.out = out, .err = err};
    int rc = 0;
    err[0] = '\0';
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        data += 3, len -= 3;
    if (!utf8_ok(data, len)) {
        snprintf(err, 256, "the file is not valid UTF-8 (or contains NUL bytes)");
        return -1;
    }
    const char *s = data, *end = data + len;
    while (s < end && rc == 0) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end;
        p.lineno++;
        rc = po_line(&p, s, le > s && le[-1] == '\r' ? le - 1 : le);
        s = nl ? nl + 1 : end;
    }
    if (rc == 0)
        rc = po_finish(&p);
    if (rc == 0 && !p.header_seen) {
        snprintf(err, 256, "the PO header (msgid \"\" with Language and Content-Type) is missing");
        rc = -1;
    }
    mer_buf_release(&p.ctx);
    mer_buf_release(&p.id);
    mer_buf_release(&p.str);
    return rc;
}
