/*
 * tr_format.h — the two translation file formats translators' tools open: XLIFF 2.0
 * (urn:oasis:names:tc:xliff:document:2.0) and gettext PO. Writing and strict parsing, no catalogue and
 * no storage here (translation.h decides what goes into a file and what an imported file means).
 *
 * A file is a list of entries, each one text of the catalogue:
 *   id      the stable id of the text ("product:12:name", "attr:colour:black"; see translation.h). In
 *           XLIFF the <unit id> (an NMTOKEN, so ids use only letters, digits, ':', '-', '_', '.'), in PO
 *           the msgctxt.
 *   source  the text in the source language (XLIFF <source>, PO msgid).
 *   target  the translation, NULL or "" when there is none (XLIFF <target>, PO msgstr).
 *   note    context for the translator (XLIFF <notes><note>, PO "#." comments); written, not parsed.
 *   previous_source / fuzzy: an outdated translation. PO writes it the way msgmerge does ("#, fuzzy",
 *           "#| msgid" with the old source, the old translation as msgstr); XLIFF puts both in a note and
 *           leaves the target empty. A fuzzy PO entry read back is not final: the importer skips it.
 *
 * Parsing is strict and safe for hostile input:
 *   - XLIFF is read with expat; any DOCTYPE is refused before its contents are read, so there are no
 *     entity declarations (no "billion laughs"), no external entities and no DTD; only the five
 *     predefined entities and character references exist. Elements nest at most 16 deep. Inline
 *     XLIFF markup inside <source>/<target> (<ph>, <pc>, ...) is refused: catalogue texts are plain.
 *   - PO is read by the parser below: UTF-8 only (the header's charset must say so), no plural forms,
 *     C escapes \n \t \r \" \\ \a \b \f \v and octal; anything else is an error with its line.
 *   - At most MER_TR_MAX_ENTRIES entries and MER_TR_MAX_TEXT bytes per string; text must be valid UTF-8
 *     without NUL.
 * Errors say where (line, and column for XML) in a message for the client.
 */
#ifndef MER_TR_FORMAT_H
#define MER_TR_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/locale.h"

#define MER_TR_MAX_ENTRIES 50000
#define MER_TR_MAX_TEXT 16384 /* bytes of one source or target */
#define MER_TR_MAX_ID 128

typedef struct mer_tr_entry {
    char *id;
    char *source;
    char *target;          /* NULL: none */
    char *note;            /* NULL: none (written only) */
    char *previous_source; /* outdated: the source the target was made from (written only) */
    bool fuzzy;            /* PO "#, fuzzy" (parsed; written when previous_source is set) */
    unsigned line;         /* parsed: where the entry starts */
} mer_tr_entry_t;

/* Owns its entries and their strings. */
typedef struct mer_tr_file {
    char source_lang[MER_LOCALE_MAX]; /* XLIFF srcLang; PO X-Source-Language header (may be "") */
    char target_lang[MER_LOCALE_MAX]; /* XLIFF trgLang; PO Language header */
    mer_tr_entry_t *entries;
    size_t n, cap;
} mer_tr_file_t;

#define MER_TR_FILE_INIT                                                                                               \
    {                                                                                                                  \
        {0}, {0}, NULL, 0, 0                                                                                           \
    }

/* Appends an entry, copying the strings (any may be NULL but id and source). */
void mer_tr_file_add(mer_tr_file_t *f, const char *id, const char *source, const char *target, const char *note,
                     const char *previous_source);
void mer_tr_file_release(mer_tr_file_t *f);

/* Writes f as an XLIFF 2.0 document / a PO file (UTF-8) to out. */
void mer_tr_write_xliff(mer_buf_t *out, const mer_tr_file_t *f);
void mer_tr_write_po(mer_buf_t *out, const mer_tr_file_t *f);
/* Appends s as a PO string: "..." with escapes, split after each \n into continuation lines. */
void mer_tr_po_string(mer_buf_t *out, const char *s);

/*
 * Parses a file of len bytes into *out (which starts as MER_TR_FILE_INIT; release it in every case).
 * Returns 0, or -1 with a message for the client in err ("line 3, column 7: ...").
 */
int mer_tr_parse_xliff(const char *data, size_t len, mer_tr_file_t *out, char err[256]);
int mer_tr_parse_po(const char *data, size_t len, mer_tr_file_t *out, char err[256]);

#endif
