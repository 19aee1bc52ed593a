/* Unit tests: the translation file formats (catalog/tr_format.h) — PO and XLIFF written and read back,
 * PO escaping, and the parsers' refusals of malformed and hostile files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "catalog/tr_format.h"

/* Texts that need escaping in one format or the other. */
static const char *const tricky[][2] = {
    {"plain", "einfach"},
    {"say \"hi\"", "sag \"hallo\""},
    {"back\\slash C:\\dir", "Rück\\strich"},
    {"two\nlines", "zwei\nZeilen"},
    {"ends with newline\n", "endet mit Zeilenumbruch\n"},
    {"tab\there", "Tab\thier"},
    {"cr\r\nlf", "cr\r\nlf"},
    {"<b>bold</b> & {name} %s", "<b>fett</b> & {name} %s"},
    {"₹19,999 नमस्ते", "১৯,৯৯৯ নমস্কার"},
    {"\x01 control", "\x01 Steuerzeichen"},
};

static void fill(mer_tr_file_t *f)
{
    snprintf(f->source_lang, sizeof(f->source_lang), "en");
    snprintf(f->target_lang, sizeof(f->target_lang), "bn");
    for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
        char id[32];
        snprintf(id, sizeof(id), "product:%zu:name", i + 1);
        mer_tr_file_add(f, id, tricky[i][0], tricky[i][1], "a note\non two lines", NULL);
    }
    mer_tr_file_add(f, "attr:colour:black", "Black", NULL, NULL, NULL); /* untranslated */
}

static void test_po_round_trip(void **state)
{
    (void)state;
    mer_tr_file_t f = MER_TR_FILE_INIT, g = MER_TR_FILE_INIT;
    mer_buf_t out = MER_BUF_INIT;
    char err[256];
    fill(&f);
    mer_tr_write_po(&out, &f);
    assert_int_equal(mer_tr_parse_po(out.data, out.len, &g, err), 0);
    assert_string_equal(g.target_lang, "bn");
    assert_string_equal(g.source_lang, "en");
    assert_int_equal(g.n, f.n);
    for (size_t i = 0; i < f.n; i++) {
        assert_string_equal(g.entries[i].id, f.entries[i].id);
        assert_string_equal(g.entries[i].source, f.entries[i].source);
        assert_string_equal(g.entries[i].target, f.entries[i].target ? f.entries[i].target : "");
        assert_false(g.entries[i].fuzzy);
    }
    mer_buf_release(&out);
    mer_tr_file_release(&f);
    mer_tr_file_release(&g);
}

static void test_po_escaping(void **state)
{
    (void)state;
    mer_buf_t b = MER_BUF_INIT;
    mer_tr_po_string(&b, "a \"q\" \\ \t\x01 end");
    assert_string_equal(mer_buf_str(&b), "\"a \\\"q\\\" \\\\ \\t\\001 end\"\n");
    mer_buf_reset(&b);
    mer_tr_po_string(&b, "one\ntwo");
    assert_string_equal(mer_buf_str(&b), "\"\"\n\"one\\n\"\n\"two\"\n"); /* split after each \n, as msgcat does */
    mer_buf_reset(&b);
    mer_tr_po_string(&b, "only at the end\n");
    assert_string_equal(mer_buf_str(&b), "\"only at the end\\n\"\n");
    mer_buf_release(&b);

    /* an outdated entry is written as msgmerge writes one: fuzzy, the previous msgid, the old msgstr */
    mer_tr_file_t f = MER_TR_FILE_INIT;
    snprintf(f.target_lang, sizeof(f.target_lang), "sw");
    mer_tr_file_add(&f, "product:7:name", "New \"name\"", "Jina", "Product name", "Old \"name\"");
    mer_tr_write_po(&b, &f);
    assert_non_null(strstr(mer_buf_str(&b),
                           "\n#. Product name\n#, fuzzy\n#| msgid \"Old \\\"name\\\"\"\n"
                           "msgctxt \"product:7:name\"\nmsgid \"New \\\"name\\\"\"\nmsgstr \"Jina\"\n"));
    mer_tr_file_t g = MER_TR_FILE_INIT;
    char err[256];
    assert_int_equal(mer_tr_parse_po(b.data, b.len, &g, err), 0);
    assert_int_equal(g.n, 1);
    assert_true(g.entries[0].fuzzy);
    mer_buf_release(&b);
    mer_tr_file_release(&f);
    mer_tr_file_release(&g);
}

static void test_po_reading(void **state)
{
    (void)state;
    const char po[] = "\xEF\xBB\xBF# translator comment\r\n"
                      "msgid \"\"\r\n"
                      "msgstr \"\"\r\n"
                      "\"Language: pt_BR\\n\"\r\n"
                      "\"Content-Type: text/plain; charset=utf-8\\n\"\r\n"
                      "\r\n"
                      "#: somewhere\n"
                      "#, fuzzy, c-format\n"
                      "msgctxt \"a\"\n"
                      "msgid \"x\"\n"
                      "msgstr \"y\"\n"
                      "#~ msgctxt \"obsolete\"\n"
                      "#~ msgid \"old\"\n"
                      "#~ msgstr \"alt\"\n"
                      "msgctxt \"b\"\n"
                      "msgid \"\"\n"
                      "\"multi \"\n"
                      "\"line\"\n"
                      "msgstr \"\\303\\251t\\303\\251\"  \n";
    mer_tr_file_t f = MER_TR_FILE_INIT;
    char err[256];
    assert_int_equal(mer_tr_parse_po(po, sizeof(po) - 1, &f, err), 0);
    assert_string_equal(f.target_lang, "pt-BR");
    assert_int_equal(f.n, 2);
    assert_string_equal(f.entries[0].id, "a");
    assert_true(f.entries[0].fuzzy);
    assert_int_equal(f.entries[0].line, 7);
    assert_string_equal(f.entries[1].id, "b");
    assert_false(f.entries[1].fuzzy);
    assert_string_equal(f.entries[1].source, "multi line");
    assert_string_equal(f.entries[1].target, "été");
    mer_tr_file_release(&f);
}

static void expect_po_error(const char *po, const char *fragment)
{
    mer_tr_file_t f = MER_TR_FILE_INIT;
    char err[256];
    int rc = mer_tr_parse_po(po, strlen(po), &f, err);
    if (rc == 0 || strstr(err, fragment) == NULL)
        fail_msg("%s: expected an error with \"%s\", got %d \"%s\"", po, fragment, rc, err);
    mer_tr_file_release(&f);
}

#define HEADER "msgid \"\"\nmsgstr \"Language: de\\n\"\n\n"

static void test_po_refusals(void **state)
{
    (void)state;
    expect_po_error(HEADER "msgid \"a\"\nmsgid_plural \"b\"\nmsgstr[0] \"c\"\n", "line 5: plural forms");
    expect_po_error(HEADER "msgctxt \"a\"\nmsgid \"b\\q\"\nmsgstr \"\"\n", "line 5: unknown escape \\q");
    expect_po_error(HEADER "msgctxt \"a\"\nmsgid \"b\nmsgstr \"\"\n", "line 5: the string is not closed");
    expect_po_error(HEADER "msgctxt \"a\"\nmsgid \"b\" x\nmsgstr \"\"\n", "unexpected text after the string");
    expect_po_error(HEADER "msgstr \"a\"\n", "msgstr must follow a msgid");
    expect_po_error(HEADER "msgctxt \"a\"\nmsgid \"b\"\n", "needs both msgid and msgstr");
    expect_po_error(HEADER "msgid \"a\"\nmsgctxt \"b\"\nmsgstr \"\"\n", "msgctxt must come before msgid");
    expect_po_error(HEADER "\"dangling\"\n", "a string that continues nothing");
    expect_po_error(HEADER "hello\n", "expected a comment");
    expect_po_error(HEADER "msgctxt \"a\"\nmsgid \"\\000\"\nmsgstr \"\"\n", "octal escape");
    expect_po_error(HEADER "msgctxt \"a\"\nmsgid \"\\303\"\nmsgstr \"\"\n", "not valid UTF-8 once its escapes");
    expect_po_error(HEADER HEADER, "a second header");
    expect_po_error("msgctxt \"a\"\nmsgid \"b\"\nmsgstr \"c\"\n", "header");
    expect_po_error("msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=ISO-8859-1\\n\"\n", "charset=UTF-8");
    expect_po_error("msgid \"\"\nmsgstr \"Language: \\xff\\n\"\n", "unknown escape");
    expect_po_error(HEADER "msgctxt \"a\"\nmsgid \"\xc3\x28\"\nmsgstr \"\"\n", "not valid UTF-8");
    const char nul[] = HEADER "msgctxt \"a\"\nmsgid \"\0\"\nmsgstr \"\"\n";
    mer_tr_file_t f = MER_TR_FILE_INIT;
    char err[256];
    assert_int_equal(mer_tr_parse_po(nul, sizeof(nul) - 1, &f, err), -1);
    mer_tr_file_release(&f);
}

static void test_xliff_round_trip(void **state)
{
    (void)state;
    mer_tr_file_t f = MER_TR_FILE_INIT, g = MER_TR_FILE_INIT;
    mer_buf_t out = MER_BUF_INIT;
    char err[256];
    fill(&f);
    mer_tr_file_add(&f, "product:99:name", "Edited", "Alt", NULL, "Before"); /* outdated: no target written */
    mer_tr_write_xliff(&out, &f);
    assert_non_null(strstr(mer_buf_str(&out), "<source>&lt;b&gt;bold&lt;/b&gt; &amp; {name} %s</source>"));
    assert_int_equal(mer_tr_parse_xliff(out.data, out.len, &g, err), 0);
    assert_string_equal(g.source_lang, "en");
    assert_string_equal(g.target_lang, "bn");
    assert_int_equal(g.n, f.n);
    for (size_t i = 0; i < f.n; i++) {
        const char *want_src = f.entries[i].source, *want_tgt = f.entries[i].target;
        assert_string_equal(g.entries[i].id, f.entries[i].id);
        if (strcmp(want_src, tricky[9][0]) == 0) { /* XML cannot carry U+0001: written as U+FFFD */
            assert_string_equal(g.entries[i].source, "\xEF\xBF\xBD control");
            continue;
        }
        assert_string_equal(g.entries[i].source, want_src);
        if (f.entries[i].previous_source || want_tgt == NULL)
            assert_null(g.entries[i].target);
        else
            assert_string_equal(g.entries[i].target, want_tgt);
    }
    mer_buf_release(&out);
    mer_tr_file_release(&f);
    mer_tr_file_release(&g);
}

static void expect_xliff_error(const char *xml, const char *fragment)
{
    mer_tr_file_t f = MER_TR_FILE_INIT;
    char err[256];
    int rc = mer_tr_parse_xliff(xml, strlen(xml), &f, err);
    if (rc == 0 || strstr(err, fragment) == NULL)
        fail_msg("%s: expected an error with \"%s\", got %d \"%s\"", xml, fragment, rc, err);
    mer_tr_file_release(&f);
}

#define XL(body)                                                                                                       \
    "<xliff xmlns=\"urn:oasis:names:tc:xliff:document:2.0\" version=\"2.0\" srcLang=\"en\" trgLang=\"de\">"            \
    "<file id=\"f\">" body "</file></xliff>"
#define U(t) "<unit id=\"a\"><segment><source>s</source><target>" t "</target></segment></unit>"

static void test_xliff_refusals(void **state)
{
    (void)state;
    expect_xliff_error("<!DOCTYPE x [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>" XL(U("&b;")),
                       "a DOCTYPE is not allowed");
    expect_xliff_error("<!DOCTYPE x SYSTEM \"http://example.com/x.dtd\">" XL(U("x")), "a DOCTYPE is not allowed");
    expect_xliff_error(XL(U("&ext;")), "undefined entity");
    expect_xliff_error(XL(U("a<ph id=\"1\"/>b")), "inline markup is not supported");
    expect_xliff_error(XL(U("a")) "<junk/>", "junk after document element");
    expect_xliff_error(XL("<unit><segment><source>s</source></segment></unit>"), "<unit> needs an id");
    expect_xliff_error("<xliff version=\"2.0\" srcLang=\"en\" trgLang=\"de\"/>", "the root element must be <xliff>");
    expect_xliff_error("<xliff xmlns=\"urn:oasis:names:tc:xliff:document:2.0\" version=\"1.2\"/>", "version=\"2.0\"");
    expect_xliff_error("<xliff xmlns=\"urn:oasis:names:tc:xliff:document:2.0\" version=\"2.0\" srcLang=\"en\"/>",
                       "trgLang");
    expect_xliff_error("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" XL(U("K\xe4se")), "line 1");
    expect_xliff_error("", "line 1");
    /* nesting: other namespaces are skipped, but not without limit */
    mer_buf_t deep = MER_BUF_INIT;
    mer_buf_addstr(&deep, "<xliff xmlns=\"urn:oasis:names:tc:xliff:document:2.0\" version=\"2.0\" srcLang=\"en\" "
                          "trgLang=\"de\"><file id=\"f\">");
    for (int i = 0; i < 20; i++)
        mer_buf_addstr(&deep, "<m:x xmlns:m=\"urn:m\">");
    for (int i = 0; i < 20; i++)
        mer_buf_addstr(&deep, "</m:x>");
    mer_buf_addstr(&deep, "</file></xliff>");
    expect_xliff_error(mer_buf_str(&deep), "nest too deeply");
    mer_buf_release(&deep);
    /* other namespaces' metadata, groups, notes and several segments are fine */
    const char ok[] = XL("<group id=\"g\"><unit id=\"u\"><notes><note>n</note></notes><m:meta xmlns:m=\"urn:m\">"
                         "<m:y>z</m:y></m:meta><segment><source>a </source><target>b </target></segment><ignorable>"
                         "<source>c</source><target>d</target></ignorable></unit></group>");
    mer_tr_file_t f = MER_TR_FILE_INIT;
    char err[256];
    assert_int_equal(mer_tr_parse_xliff(ok, sizeof(ok) - 1, &f, err), 0);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.entries[0].id, "u");
    assert_string_equal(f.entries[0].source, "a c");
    assert_string_equal(f.entries[0].target, "b d");
    mer_tr_file_release(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_po_round_trip),    cmocka_unit_test(test_po_escaping),
        cmocka_unit_test(test_po_reading),       cmocka_unit_test(test_po_refusals),
        cmocka_unit_test(test_xliff_round_trip), cmocka_unit_test(test_xliff_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
