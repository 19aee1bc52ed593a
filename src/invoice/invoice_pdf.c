/*
 * invoice_pdf.c — a stored invoice or credit note (invoice.h) as an A4 PDF, laid out with pango and drawn
 * with cairo: pango shapes every script the demo countries use (Devanagari conjuncts, Cyrillic,
 * Vietnamese stacked accents) with whatever fonts fontconfig finds (fonts-noto-core), and cairo embeds the
 * glyphs, so the text of the PDF is the text of the document (a test reads it back with pdftotext).
 */
#include <cairo-pdf.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "invoice/invoice.h"
#include "core/banned.h"

#define PAGE_W 595.0 /* A4 in points */
#define PAGE_H 842.0
#define MARGIN 40.0

typedef struct pdf {
    cairo_t *cr;
    PangoLayout *layout;
    PangoFontDescription *regular, *bold, *title;
    double y;
} pdf_t;

static cairo_status_t write_out(void *closure, const unsigned char *data, unsigned int len)
{
    mer_buf_add(closure, data, len);
    return CAIRO_STATUS_SUCCESS;
}

/* Draws text in a box of width w at (x, y); returns the height it took. */
static double text_at(pdf_t *p, double x, double y, double w, const char *text, const PangoFontDescription *font,
                      PangoAlignment align)
{
    pango_layout_set_font_description(p->layout, font);
    pango_layout_set_width(p->layout, (int)(w * PANGO_SCALE));
    pango_layout_set_wrap(p->layout, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(p->layout, align);
    pango_layout_set_text(p->layout, text ? text : "", -1);
    cairo_move_to(p->cr, x, y);
    pango_cairo_show_layout(p->cr, p->layout);
    int pw, ph;
    pango_layout_get_size(p->layout, &pw, &ph);
    return (double)ph / PANGO_SCALE;
}

/* A line of text across the page, then down. */
static void para(pdf_t *p, const char *text, const PangoFontDescription *font)
{
    p->y += text_at(p, MARGIN, p->y, PAGE_W - 2 * MARGIN, text, font, PANGO_ALIGN_LEFT) + 2;
}

static void new_page_if(pdf_t *p, double need)
{
    if (p->y + need > PAGE_H - MARGIN) {
        cairo_show_page(p->cr);
        p->y = MARGIN;
    }
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static const char *formatted(const json_t *o, const char *key)
{
    return str(json_object_get(o, key), "formatted");
}

static void rule(pdf_t *p)
{
    cairo_set_line_width(p->cr, 0.5);
    cairo_move_to(p->cr, MARGIN, p->y);
    cairo_line_to(p->cr, PAGE_W - MARGIN, p->y);
    cairo_stroke(p->cr);
    p->y += 4;
}

typedef struct col {
    const char *head;
    double w;
    PangoAlignment align;
} col_t;

/* One row of the lines table: the cells' texts; returns the row's height. */
static void row(pdf_t *p, const col_t *cols, size_t n, const char *const *cells, const PangoFontDescription *font)
{
    double x = MARGIN, h = 0;
    for (size_t i = 0; i < n; i++) {
        double th = text_at(p, x, p->y, cols[i].w - 4, cells[i], font, cols[i].align);
        h = th > h ? th : h;
        x += cols[i].w;
    }
    p->y += h + 3;
}

static void draw(pdf_t *p, const json_t *d)
{
    char buf[600];
    bool credit = strcmp(str(d, "kind"), "credit_note") == 0;
    const json_t *seller = json_object_get(d, "seller"), *buyer = json_object_get(d, "buyer");
    para(p, str(d, "title"), p->title);
    snprintf(buf, sizeof(buf), "No. %s    %s    Order %s", str(d, "number"), str(d, "issued_at_local"),
             str(json_object_get(d, "order"), "number"));
    para(p, buf, p->bold);
    if (credit) {
        snprintf(buf, sizeof(buf), "Corrects invoice %s", str(d, "refers_to"));
        para(p, buf, p->regular);
    }
    p->y += 6;
    /* seller left, buyer right */
    double top = p->y, half = (PAGE_W - 2 * MARGIN) / 2;
    double hs = text_at(p, MARGIN, top, half - 10, "Seller", p->bold, PANGO_ALIGN_LEFT);
    snprintf(buf, sizeof(buf), "%s\n%s\n%s %s%s%s", str(seller, "name"), str(seller, "address"),
             strcmp(str(d, "country"), "IN") == 0 ? "GSTIN" : "Tax ID", str(seller, "tax_id"),
             *str(seller, "state") ? "\nState: " : "", str(seller, "state"));
    hs += text_at(p, MARGIN, top + hs, half - 10, buf, p->regular, PANGO_ALIGN_LEFT);
    double hb = text_at(p, MARGIN + half, top, half, "Buyer", p->bold, PANGO_ALIGN_LEFT);
    snprintf(buf, sizeof(buf), "%s\n%s%s%s\n%s %s %s", str(buyer, "name"), str(buyer, "line1"),
             *str(buyer, "line2") ? ", " : "", str(buyer, "line2"), str(buyer, "city"), str(buyer, "state"),
             str(buyer, "postal_code"));
    hb += text_at(p, MARGIN + half, top + hb, half, buf, p->regular, PANGO_ALIGN_LEFT);
    p->y = top + (hs > hb ? hs : hb) + 6;
    if (json_object_get(d, "place_of_supply")) {
        snprintf(buf, sizeof(buf), "Place of supply: %s (%s)", str(d, "place_of_supply"), str(d, "supply"));
        para(p, buf, p->regular);
    }
    snprintf(buf, sizeof(buf), "Currency: %s. Prices %s %s.", str(d, "currency"),
             json_is_true(json_object_get(d, "tax_included")) ? "include" : "exclude", str(d, "tax_name"));
    para(p, buf, p->regular);
    p->y += 4;

    bool hsn = false;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(d, "lines"), i, l) hsn |= json_object_get(l, "hsn") != NULL;
    col_t cols[8];
    size_t n = 0;
    cols[n++] = (col_t){"#", 18, PANGO_ALIGN_LEFT};
    cols[n++] = (col_t){"Item", hsn ? 170 : 215, PANGO_ALIGN_LEFT};
    if (hsn)
        cols[n++] = (col_t){"HSN", 45, PANGO_ALIGN_LEFT};
    cols[n++] = (col_t){"Qty", 30, PANGO_ALIGN_RIGHT};
    if (!credit) {
        cols[n++] = (col_t){"Unit price", 70, PANGO_ALIGN_RIGHT};
        cols[n++] = (col_t){"Rate", 42, PANGO_ALIGN_RIGHT};
        cols[n++] = (col_t){"Tax", 65, PANGO_ALIGN_RIGHT};
        cols[n++] = (col_t){"Total", 75, PANGO_ALIGN_RIGHT};
    }
    const char *heads[8];
    for (size_t k = 0; k < n; k++)
        heads[k] = cols[k].head;
    rule(p);
    row(p, cols, n, heads, p->bold);
    rule(p);
    json_array_foreach(json_object_get(d, "lines"), i, l)
    {
        char no[16], item[900], qty[24], rate[16];
        snprintf(no, sizeof(no), "%lld", (long long)json_integer_value(json_object_get(l, "line_no")));
        snprintf(item, sizeof(item), "%s\n%s", str(l, "name"), str(l, "sku"));
        snprintf(qty, sizeof(qty), "%lld", (long long)json_integer_value(json_object_get(l, "quantity")));
        int bp = (int)json_integer_value(json_object_get(l, "tax_rate_bp"));
        snprintf(rate, sizeof(rate), "%d.%02d%%", bp / 100, bp % 100);
        const char *cells[8];
        size_t k = 0;
        cells[k++] = no;
        cells[k++] = item;
        if (hsn)
            cells[k++] = str(l, "hsn");
        cells[k++] = qty;
        if (!credit) {
            cells[k++] = formatted(l, "unit_price");
            cells[k++] = rate;
            cells[k++] = formatted(l, "tax");
            cells[k++] = formatted(l, "total");
        }
        new_page_if(p, 30);
        row(p, cols, n, cells, p->regular);
    }
    rule(p);
    /* tax rows, then totals, right-aligned */
    json_array_foreach(json_object_get(d, "taxes"), i, l)
    {
        int bp = (int)json_integer_value(json_object_get(l, "rate_bp"));
        snprintf(buf, sizeof(buf), "%s %d.%02d%% on %s:  %s", str(l, "kind"), bp / 100, bp % 100,
                 formatted(l, "taxable"), formatted(l, "amount"));
        new_page_if(p, 16);
        p->y += text_at(p, MARGIN, p->y, PAGE_W - 2 * MARGIN, buf, p->regular, PANGO_ALIGN_RIGHT) + 1;
    }
    const json_t *t = json_object_get(d, "totals");
    static const char *const keys[] = {"items", "discount", "shipping", "tax", "grand_total"};
    static const char *const labels[] = {"Items", "Discount", "Shipping", "Tax", "Total"};
    for (size_t k = 0; k < MER_ARRAY_LEN(keys); k++) {
        if (json_object_get(t, keys[k]) == NULL)
            continue;
        snprintf(buf, sizeof(buf), "%s:  %s", credit && k == 4 ? "Credited" : labels[k], formatted(t, keys[k]));
        new_page_if(p, 16);
        p->y +=
            text_at(p, MARGIN, p->y, PAGE_W - 2 * MARGIN, buf, k == 4 ? p->bold : p->regular, PANGO_ALIGN_RIGHT) + 1;
    }
}

int mer_invoice_pdf(const json_t *document, mer_buf_t *out)
{
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(write_out, out, PAGE_W, PAGE_H);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return MER_E_INTERNAL;
    }
    pdf_t p = {.cr = cairo_create(s), .y = MARGIN};
    p.layout = pango_cairo_create_layout(p.cr);
    p.regular = pango_font_description_from_string("Noto Sans 8.5");
    p.bold = pango_font_description_from_string("Noto Sans Bold 8.5");
    p.title = pango_font_description_from_string("Noto Sans Bold 16");
    cairo_set_source_rgb(p.cr, 0, 0, 0);
    draw(&p, document);
    cairo_show_page(p.cr);
    pango_font_description_free(p.regular);
    pango_font_description_free(p.bold);
    pango_font_description_free(p.title);
    g_object_unref(p.layout);
    cairo_destroy(p.cr);
    cairo_surface_finish(s);
    int err = cairo_surface_status(s) == CAIRO_STATUS_SUCCESS ? 0 : MER_E_INTERNAL;
    cairo_surface_destroy(s);
    return err;
}
