/*
 * tr_format.c — fuzzes the translation file parsers (catalog/tr_format.h), as an import reads a body.
 *
 * Input: the first byte chooses the format ('p' PO, anything else XLIFF); the rest is the file.
 * Properties: a parse either succeeds or fails with a message; what parsed is written back in the same
 * format and parses again to the same ids, sources and targets (the writers escape whatever the parsers
 * accept), and never more than MER_TR_MAX_ENTRIES entries or MER_TR_MAX_TEXT bytes per text.
 */
#include <string.h>

#include "catalog/tr_format.h"
#include "fuzz.h"

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool po = data[0] == 'p';
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    mer_tr_file_t f = MER_TR_FILE_INIT, g = MER_TR_FILE_INIT;
    char err[256];
    int rc = po ? mer_tr_parse_po(text, len, &f, err) : mer_tr_parse_xliff(text, len, &f, err);
    if (rc != 0) {
        FUZZ_CHECK(err[0] != '\0');
        mer_tr_file_release(&f);
        return 0;
    }
    FUZZ_CHECK(f.n <= MER_TR_MAX_ENTRIES);
    mer_buf_t out = MER_BUF_INIT;
    if (po)
        mer_tr_write_po(&out, &f);
    else
        mer_tr_write_xliff(&out, &f);
    rc = po ? mer_tr_parse_po(out.data, out.len, &g, err) : mer_tr_parse_xliff(out.data, out.len, &g, err);
    if (rc != 0)
        fprintf(stderr, "re-parse failed: %s\n", err);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(g.n == f.n);
    FUZZ_CHECK(strcmp(g.target_lang, f.target_lang) == 0);
    for (size_t i = 0; i < f.n; i++) {
        FUZZ_CHECK(strlen(f.entries[i].source) <= MER_TR_MAX_TEXT);
        FUZZ_CHECK(strcmp(g.entries[i].id, f.entries[i].id) == 0);
        FUZZ_CHECK(strcmp(g.entries[i].source, f.entries[i].source) == 0);
        FUZZ_CHECK(same(g.entries[i].target, f.entries[i].target));
    }
    mer_buf_release(&out);
    mer_tr_file_release(&f);
    mer_tr_file_release(&g);
    return 0;
}
