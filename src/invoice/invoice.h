/*
 * invoice.h — tax invoices and credit notes: issued once, numbered without gaps, never changed.
 *
 * Every order that is paid (or, cash on delivery, delivered) gets one invoice; every refund after that gets
 * a credit note that refers to it (a correction is a new document, never an edit). Both are issued by an
 * in-process event subscriber (events/events.h) in the region's database, inside the writer transaction
 * that fans the event out, so a document exists exactly when its event was handled, and a retried event
 * issues nothing twice (the event id is unique on the documents).
 *
 * Numbers: "<series>-<7 digits>", one counter per country and series, taken in the same transaction as the
 * document (a rolled-back issue rolls its number back: no gap). A country's series, its seller (the legal
 * entity: name, address, tax id, state) and India's HSN codes by category come from the country's
 * "invoicing" settings (region/country.c); a country without them issues no documents.
 *
 * The document is stored whole, as issued (JSON: seller, buyer, place of supply, lines with HSN, tax rows —
 * CGST + SGST within an Indian state, IGST between states, VAT elsewhere — and totals as money objects
 * formatted in the order's language), and rendered to PDF on demand with pango + cairo (invoice_pdf.c), so
 * Devanagari, Cyrillic and Vietnamese shape correctly.
 */
#ifndef MER_INVOICE_H
#define MER_INVOICE_H

#include <jansson.h>

#include "core/buf.h"
#include "module.h"
#include "store/db.h"

/* The module (invoice_http.c): the subscriber that issues documents, and the routes that show them. */
extern const mer_module_t mer_invoice_module;

/*
 * The event subscriber's work, inside a writer job of the order's region: on order.paid or
 * order.delivered, issues the order's invoice unless it has one; on order.refunded, a credit note for
 * what was refunded since the last document. Idempotent on event_id. 0 or an error.
 */
int mer_invoice_on_event(mer_db_t *db, const char *type, int64_t order_id, const char *event_id);

/*
 * The documents of an order as stored, oldest first: a JSON array of {"id", "kind", "number", "issued_at",
 * "document": {...}}. user_id > 0: only if the order is that customer's; country non-empty: only if the
 * order is in that country. MER_E_NOT_FOUND when the order is not found so. Read job.
 */
int mer_invoice_list(mer_db_t *db, int64_t order_id, int64_t user_id, const char *country, json_t **out);

/* Renders one stored document to PDF into out. 0 or MER_E_INTERNAL. Off the loops (CPU). */
int mer_invoice_pdf(const json_t *document, mer_buf_t *out);

#endif
