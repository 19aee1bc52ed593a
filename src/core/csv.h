/*
 * csv.h — RFC 4180 CSV, read and written (bulk import and export: catalog/bulk.h).
 *
 * Reading. mer_csv_next() parses one record from a buffer into fields: fields are separated by commas,
 * records by CRLF or LF; a field may be enclosed in double quotes, and then holds commas, line breaks and
 * doubled quotes ("" is one "). What RFC 4180 leaves open is decided so that a spreadsheet's export reads:
 * a UTF-8 byte order mark at the very start is skipped, a last record without a line break is read, and an
 * empty line (no byte between two line breaks) is skipped rather than read as a record with one empty field.
 * What is refused, with the physical line of the fault: a quote inside an unquoted field, anything but a
 * comma or a line break after a closing quote, an unterminated quoted field, bytes that are not UTF-8, a
 * NUL byte, more than MER_CSV_MAX_FIELDS fields. The reader keeps no more than one record's fields
 * (a buffer that grows to the longest record), so memory does not grow with the file.
 *
 * Writing. mer_csv_put() appends one field, quoted when it holds a comma, a quote, CR or LF, or begins or
 * ends with a space (a quoted field survives editors that trim); mer_csv_end() ends the record with CRLF.
 */
#ifndef MER_CSV_H
#define MER_CSV_H

#include "core/buf.h"
#include "core/common.h"

#define MER_CSV_MAX_FIELDS 64

typedef struct mer_csv {
    const char *p, *end; /* the unread rest of the input */
    size_t line;         /* physical line (1-based) where the current record began */
    size_t next_line;    /* physical line of the next unread byte */
    size_t record;       /* records read so far, the current one included (the header is record 1) */
    /* the current record: field i is buf + off[i], len[i] bytes, NUL-terminated */
    char *buf;
    size_t cap;
    size_t off[MER_CSV_MAX_FIELDS], len[MER_CSV_MAX_FIELDS];
    size_t nfields;
    char error[128]; /* why mer_csv_next() failed */
} mer_csv_t;

void mer_csv_init(mer_csv_t *rd, const char *data, size_t len);
void mer_csv_free(mer_csv_t *rd);
/* Reads the next record: 1, 0 at the end of the input, or -1 (rd->error and rd->line say why and where;
 * reading stops there). */
int mer_csv_next(mer_csv_t *rd);
/* Field i of the current record, or "" when the record has fewer. */
const char *mer_csv_field(const mer_csv_t *rd, size_t i);

/* Appends a field (first: no comma before it). */
void mer_csv_put(mer_buf_t *out, bool first, const char *s, size_t len);
void mer_csv_end(mer_buf_t *out);

#endif
