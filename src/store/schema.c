/*
 * schema.c — versioned migrations of each kind of database. A migration, once released, never changes:
 * add a new one. Times are Unix milliseconds (UTC), money INTEGER minor units.
 */
#include "store/store.h"

/* clang-format off */
const mer_migration_t mer_schema_catalog[] = {
    {.version = 1,
     .sql =
     "CREATE TABLE region ("
     "  name TEXT PRIMARY KEY,"
     "  base_url TEXT NOT NULL DEFAULT '');"
     "CREATE TABLE country ("
     "  code TEXT PRIMARY KEY,"
     "  region TEXT NOT NULL REFERENCES region(name),"
     "  config TEXT NOT NULL,"            /* validated JSON, see region/country.h */
     "  updated_at INTEGER NOT NULL);"
     "CREATE TABLE category ("
     "  id INTEGER PRIMARY KEY,"
     "  slug TEXT NOT NULL UNIQUE,"
     "  parent_id INTEGER REFERENCES category(id));"
     "CREATE TABLE category_text ("
     "  category_id INTEGER NOT NULL REFERENCES category(id) ON DELETE CASCADE,"
     "  locale TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  PRIMARY KEY (category_id, locale));"
     "CREATE TABLE product ("
     "  id INTEGER PRIMARY KEY,"
     "  slug TEXT NOT NULL UNIQUE,"
     "  brand TEXT NOT NULL,"
     "  category_id INTEGER NOT NULL REFERENCES category(id),"
     "  tax_class TEXT NOT NULL DEFAULT 'standard',"
     "  active INTEGER NOT NULL DEFAULT 1,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL);"
     "CREATE INDEX product_category ON product(category_id);"
     "CREATE TABLE product_text ("
     "  product_id INTEGER NOT NULL REFERENCES product(id) ON DELETE CASCADE,"
     "  locale TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  description TEXT NOT NULL DEFAULT '',"
     "  PRIMARY KEY (product_id, locale));"
     "CREATE TABLE sku ("
     "  id INTEGER PRIMARY KEY,"
     "  product_id INTEGER NOT NULL REFERENCES product(id) ON DELETE CASCADE,"
     "  code TEXT NOT NULL UNIQUE,"
     "  attributes TEXT NOT NULL DEFAULT '{}',"   /* {"colour":"black","storage":"256gb"} */
     "  position INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX sku_product ON sku(product_id);"
     /* translations of attribute names ("colour") and values ("colour=black") */
     "CREATE TABLE attribute_text ("
     "  key TEXT NOT NULL,"
     "  locale TEXT NOT NULL,"
     "  text TEXT NOT NULL,"
     "  PRIMARY KEY (key, locale));"
     /* a SKU is sold in a country exactly when it has a price there */
     "CREATE TABLE price ("
     "  sku_id INTEGER NOT NULL REFERENCES sku(id) ON DELETE CASCADE,"
     "  country TEXT NOT NULL,"
     "  amount INTEGER NOT NULL CHECK (amount >= 0),"
     "  updated_at INTEGER NOT NULL,"
     "  PRIMARY KEY (sku_id, country));"
     "CREATE INDEX price_country ON price(country);"
     "CREATE VIRTUAL TABLE product_fts USING fts5("
     "  name, description, brand, product_id UNINDEXED, locale UNINDEXED,"
     "  tokenize = 'unicode61 remove_diacritics 2');"
     /* staff: admins and country operators (customers live in their region's database) */
     "CREATE TABLE staff ("
     "  id INTEGER PRIMARY KEY,"
     "  email TEXT NOT NULL UNIQUE,"
     "  password_hash TEXT,"               /* NULL: token-only account made by `meridian admin token` */
     "  role TEXT NOT NULL CHECK (role IN ('admin', 'operator')),"
     "  countries TEXT NOT NULL DEFAULT '',"  /* operator's countries, comma-separated */
     "  created_at INTEGER NOT NULL);"
     "CREATE TABLE staff_token ("
     "  hash TEXT PRIMARY KEY,"               /* hex BLAKE2b of the token; the token itself is never stored */
     "  staff_id INTEGER NOT NULL REFERENCES staff(id),"
     "  created_at INTEGER NOT NULL,"
     "  expires_at INTEGER NOT NULL,"
     "  revoked_at INTEGER);"},
    {.version = 2,
     .sql =
     /* per-SKU purchase limit: most units of this SKU one order (and one cart) may hold */
     "ALTER TABLE sku ADD COLUMN max_per_order INTEGER NOT NULL DEFAULT 10;"},
    {.version = 3,
     .sql =
     /* outgoing webhook subscriptions (all regions' events go to them) and provider secrets */
     "CREATE TABLE webhook_subscription ("
     "  id INTEGER PRIMARY KEY,"
     "  url TEXT NOT NULL,"
     "  events TEXT NOT NULL DEFAULT '*',"     /* comma-separated event types, or * */
     "  secret TEXT NOT NULL,"                 /* HMAC-SHA256 key for the X-Meridian-Signature header */
     "  active INTEGER NOT NULL DEFAULT 1,"
     "  created_at INTEGER NOT NULL);"
     "CREATE TABLE provider_secret ("
     "  provider TEXT PRIMARY KEY,"            /* the key a payment provider signs its webhooks with */
     "  secret TEXT NOT NULL);"},
    {.version = 4,
     .sql =
     /* secret rotation: the secret replaced last still verifies until previous_until (Unix ms) */
     "ALTER TABLE provider_secret ADD COLUMN previous_secret TEXT;"
     "ALTER TABLE provider_secret ADD COLUMN previous_until INTEGER NOT NULL DEFAULT 0;"},
    {.version = 5,
     .sql =
     /* flash-sale and session ids: one id space for every region. A region database stores its sales
      * under ids given out here, so an id names one sale everywhere (paths, vouchers, stats, metrics).
      * AUTOINCREMENT: an id is never given twice, even after the row's sale failed to be written. */
     "CREATE TABLE flash_sale_id ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  region TEXT NOT NULL,"                 /* whose database holds the sale */
     "  created_at INTEGER NOT NULL);"
     "CREATE TABLE flash_session_id ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  sale_id INTEGER NOT NULL,"
     "  created_at INTEGER NOT NULL);"},
    {.version = 6,
     .sql =
     /* product images (media/media.h): the files live in the blob store under their digest; a row says
      * which product (and SKU: 0 = the whole product) shows one, where it sorts, and its alt texts */
     "CREATE TABLE media ("
     "  id INTEGER PRIMARY KEY,"
     "  product_id INTEGER NOT NULL REFERENCES product(id),"
     "  sku_id INTEGER NOT NULL DEFAULT 0,"
     "  position INTEGER NOT NULL DEFAULT 0,"
     "  digest TEXT NOT NULL,"         /* hex SHA-256 of the uploaded bytes */
     "  content_type TEXT NOT NULL,"   /* of the upload */
     "  width INTEGER NOT NULL,"
     "  height INTEGER NOT NULL,"
     "  bytes INTEGER NOT NULL,"
     "  created_at INTEGER NOT NULL);"
     "CREATE INDEX media_product ON media(product_id, position);"
     "CREATE TABLE media_text ("
     "  media_id INTEGER NOT NULL REFERENCES media(id),"
     "  locale TEXT NOT NULL,"
     "  alt TEXT NOT NULL,"
     "  PRIMARY KEY (media_id, locale));"},
    {.version = 7,
     .sql =
     /* country launches (launch/launch.h): a launched country is 'launching' (invisible to shoppers)
      * until it is opened; every launch keeps what was applied, who applied it, and who opened it */
     "ALTER TABLE country ADD COLUMN status TEXT NOT NULL DEFAULT 'open';"  /* open, launching */
     "CREATE TABLE country_launch ("
     "  country TEXT PRIMARY KEY,"
     "  template TEXT NOT NULL,"
     "  plan_id TEXT NOT NULL,"             /* hash of the plan as shown (launch.h) */
     "  request TEXT NOT NULL,"             /* settings and pricing rules as applied (JSON) */
     "  skus INTEGER NOT NULL,"             /* prices written */
     "  applied_by INTEGER NOT NULL,"       /* staff id */
     "  applied_at INTEGER NOT NULL,"
     "  opened_by INTEGER,"
     "  opened_at INTEGER,"
     "  forced INTEGER NOT NULL DEFAULT 0," /* opened with blockers by an admin */
     "  force_reason TEXT NOT NULL DEFAULT '',"
     "  blockers_at_open TEXT);"},          /* the readiness blockers overridden (JSON), if forced */
    {.version = 8,
     .sql =
     /* outdated translations: the source-language (en) text a translation was made from, recorded when
      * that source text is edited (NULL: made from the current source). A translation whose recorded
      * source differs from the current one is outdated (catalog/translation.h). */
     "ALTER TABLE product_text ADD COLUMN name_source TEXT;"
     "ALTER TABLE product_text ADD COLUMN description_source TEXT;"
     "ALTER TABLE category_text ADD COLUMN name_source TEXT;"
     "ALTER TABLE attribute_text ADD COLUMN source TEXT;"
     /* translations of flash-sale titles made with the translation workflow (the catalogue owns the
      * translations; a sale's own titles, given when it was created, live with it in its region) */
     "CREATE TABLE flash_sale_text ("
     "  sale_id INTEGER NOT NULL,"            /* flash_sale_id.id */
     "  locale TEXT NOT NULL,"
     "  title TEXT NOT NULL,"
     "  source TEXT,"                         /* as attribute_text.source */
     "  PRIMARY KEY (sale_id, locale));"},
    {.version = 9,
     .sql =
     /* search moved into the catalogue snapshot (catalog/search.h): the full-text table goes */
     "DROP TABLE product_fts;"},
    {.version = 10,
     .sql =
     /* the media sweep asks, for each stored file, whether a row names its digest: each question read every row */
     "CREATE INDEX media_digest ON media(digest);"},
};
const size_t mer_schema_catalog_n = sizeof(mer_schema_catalog) / sizeof(mer_schema_catalog[0]);

const mer_migration_t mer_schema_region[] = {
    {.version = 1,
     .sql =
     "CREATE TABLE node_info ("
     "  key TEXT PRIMARY KEY,"
     "  value TEXT NOT NULL);"},
    {.version = 2,
     .sql =
     /* accounts: a customer lives in the database of their country's region only */
     "CREATE TABLE user ("
     "  id INTEGER PRIMARY KEY,"
     "  email TEXT UNIQUE,"                 /* lower-cased */
     "  phone TEXT UNIQUE,"                 /* E.164 */
     "  password_hash TEXT NOT NULL,"       /* argon2id, libsodium string format */
     "  country TEXT NOT NULL,"
     "  name TEXT NOT NULL DEFAULT '',"
     "  created_at INTEGER NOT NULL,"
     "  CHECK (email IS NOT NULL OR phone IS NOT NULL));"
     "CREATE TABLE session ("
     "  hash TEXT PRIMARY KEY,"             /* hex BLAKE2b of the bearer token */
     "  user_id INTEGER NOT NULL REFERENCES user(id),"
     "  created_at INTEGER NOT NULL,"
     "  expires_at INTEGER NOT NULL,"
     "  revoked_at INTEGER);"
     "CREATE TABLE address ("
     "  id INTEGER PRIMARY KEY,"
     "  user_id INTEGER NOT NULL REFERENCES user(id),"
     "  country TEXT NOT NULL,"
     "  name TEXT NOT NULL, line1 TEXT NOT NULL, line2 TEXT NOT NULL DEFAULT '',"
     "  city TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT '',"
     "  postal_code TEXT NOT NULL DEFAULT '', phone TEXT NOT NULL DEFAULT '',"
     "  is_default INTEGER NOT NULL DEFAULT 0,"
     "  created_at INTEGER NOT NULL);"
     "CREATE INDEX address_user ON address(user_id);"
     /* carts: guest carts have no user; a user has one cart per country */
     "CREATE TABLE cart ("
     "  id TEXT PRIMARY KEY,"               /* random, sent back by guests in X-Cart-Id */
     "  user_id INTEGER REFERENCES user(id),"
     "  country TEXT NOT NULL,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL);"
     "CREATE UNIQUE INDEX cart_user ON cart(user_id, country) WHERE user_id IS NOT NULL;"
     "CREATE TABLE cart_item ("
     "  cart_id TEXT NOT NULL REFERENCES cart(id) ON DELETE CASCADE,"
     "  sku_id INTEGER NOT NULL,"
     "  sale_type TEXT NOT NULL DEFAULT 'normal' CHECK (sale_type IN ('normal', 'flash')),"
     "  quantity INTEGER NOT NULL CHECK (quantity > 0),"
     "  unit_price INTEGER NOT NULL,"       /* price when added: a later read flags a change */
     "  flash_token TEXT,"
     "  added_at INTEGER NOT NULL,"
     "  PRIMARY KEY (cart_id, sku_id, sale_type));"
     /* inventory: stock per warehouse; warehouses serve countries and (in India) sit in a state */
     "CREATE TABLE warehouse ("
     "  id INTEGER PRIMARY KEY,"
     "  code TEXT NOT NULL UNIQUE,"
     "  name TEXT NOT NULL,"
     "  country TEXT NOT NULL,"
     "  state TEXT NOT NULL DEFAULT '');"
     "CREATE TABLE warehouse_serves ("
     "  warehouse_id INTEGER NOT NULL REFERENCES warehouse(id),"
     "  country TEXT NOT NULL,"
     "  PRIMARY KEY (warehouse_id, country));"
     "CREATE TABLE stock ("
     "  sku_id INTEGER NOT NULL,"
     "  warehouse_id INTEGER NOT NULL REFERENCES warehouse(id),"
     "  on_hand INTEGER NOT NULL CHECK (on_hand >= 0),"
     "  reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= on_hand),"
     "  sold INTEGER NOT NULL DEFAULT 0 CHECK (sold >= 0),"  /* shipped units, gone from on_hand */
     "  PRIMARY KEY (sku_id, warehouse_id));"
     "CREATE TABLE stock_movement ("        /* audit trail of admin changes and shipments */
     "  id INTEGER PRIMARY KEY,"
     "  sku_id INTEGER NOT NULL, warehouse_id INTEGER NOT NULL,"
     "  d_on_hand INTEGER NOT NULL, d_reserved INTEGER NOT NULL,"
     "  reason TEXT NOT NULL, order_id INTEGER, actor TEXT NOT NULL, at INTEGER NOT NULL);"
     /* orders */
     "CREATE TABLE order_seq (country TEXT PRIMARY KEY, next INTEGER NOT NULL);"
     "CREATE TABLE orders ("
     "  id INTEGER PRIMARY KEY,"
     "  number TEXT NOT NULL UNIQUE,"       /* IN-2026-0000042: readable, unique, per country */
     "  user_id INTEGER NOT NULL REFERENCES user(id),"
     "  country TEXT NOT NULL, currency TEXT NOT NULL, lang TEXT NOT NULL,"
     "  status TEXT NOT NULL,"
     "  payment_method TEXT NOT NULL,"
     "  payment_status TEXT NOT NULL,"      /* unpaid, paid, refunded, partially_refunded */
     "  warehouse_id INTEGER NOT NULL,"
     "  tax_included INTEGER NOT NULL,"
     "  items_total INTEGER NOT NULL,"      /* sum of unit price x quantity */
     "  discount_total INTEGER NOT NULL DEFAULT 0,"
     "  shipping_total INTEGER NOT NULL,"
     "  tax_total INTEGER NOT NULL,"
     "  grand_total INTEGER NOT NULL,"
     "  refunded_total INTEGER NOT NULL DEFAULT 0,"
     "  address TEXT NOT NULL,"             /* JSON snapshot of the delivery address */
     "  coupon_code TEXT,"
     "  tracking_number TEXT,"
     "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
     "  expires_at INTEGER);"               /* unpaid orders are cancelled after this */
     "CREATE INDEX orders_user ON orders(user_id, id);"
     "CREATE INDEX orders_expiry ON orders(expires_at) WHERE status = 'pending_payment';"
     "CREATE TABLE order_line ("
     "  order_id INTEGER NOT NULL REFERENCES orders(id),"
     "  line_no INTEGER NOT NULL,"
     "  sku_id INTEGER NOT NULL, sku_code TEXT NOT NULL, name TEXT NOT NULL,"
     "  sale_type TEXT NOT NULL DEFAULT 'normal',"
     "  quantity INTEGER NOT NULL, unit_price INTEGER NOT NULL,"
     "  discount INTEGER NOT NULL DEFAULT 0,"
     "  line_total INTEGER NOT NULL,"       /* quantity x unit price - discount */
     "  tax INTEGER NOT NULL, tax_rate_bp INTEGER NOT NULL,"
     "  refunded_qty INTEGER NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (order_id, line_no));"
     "CREATE TABLE order_tax ("
     "  order_id INTEGER NOT NULL REFERENCES orders(id),"
     "  kind TEXT NOT NULL,"                /* VAT, GST, CGST, SGST, IGST, SST, PPN ... */
     "  rate_bp INTEGER NOT NULL,"
     "  taxable INTEGER NOT NULL,"          /* net amount the rate applies to */
     "  amount INTEGER NOT NULL,"
     "  PRIMARY KEY (order_id, kind, rate_bp));"
     "CREATE TABLE order_event ("           /* every state transition, with time and actor */
     "  id INTEGER PRIMARY KEY,"
     "  order_id INTEGER NOT NULL REFERENCES orders(id),"
     "  from_status TEXT, to_status TEXT NOT NULL,"
     "  actor TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', at INTEGER NOT NULL);"
     "CREATE INDEX order_event_order ON order_event(order_id);"
     "CREATE TABLE idempotency ("
     "  user_id INTEGER NOT NULL,"
     "  key TEXT NOT NULL,"
     "  request_hash TEXT NOT NULL,"
     "  order_id INTEGER NOT NULL,"
     "  created_at INTEGER NOT NULL,"
     "  PRIMARY KEY (user_id, key));"},
    {.version = 3,
     .sql =
     /* payments: every charge and refund as the provider reported it */
     "CREATE TABLE payment ("
     "  id INTEGER PRIMARY KEY,"
     "  order_id INTEGER NOT NULL REFERENCES orders(id),"
     "  provider TEXT NOT NULL,"            /* card, wallet, cod */
     "  kind TEXT NOT NULL CHECK (kind IN ('charge', 'refund')),"
     "  amount INTEGER NOT NULL CHECK (amount >= 0),"
     "  currency TEXT NOT NULL,"
     "  status TEXT NOT NULL,"              /* succeeded, failed, pending */
     "  provider_ref TEXT,"                 /* the provider's id for it */
     "  reason TEXT NOT NULL DEFAULT '',"
     "  created_at INTEGER NOT NULL);"
     "CREATE INDEX payment_order ON payment(order_id);"
     "CREATE UNIQUE INDEX payment_ref ON payment(provider, provider_ref) WHERE provider_ref IS NOT NULL;"},
    {.version = 4,
     .sql =
     /* the outbox: written in the same transaction as the change it announces */
     "CREATE TABLE outbox ("
     "  id INTEGER PRIMARY KEY,"
     /* the event id subscribers de-duplicate on is derived: evt_<region>_<id> */
     "  type TEXT NOT NULL,"
     "  order_id INTEGER,"
     "  payload TEXT NOT NULL,"
     "  created_at INTEGER NOT NULL,"
     "  fanned_out INTEGER NOT NULL DEFAULT 0);" /* deliveries created for every subscriber */
     "CREATE INDEX outbox_pending ON outbox(id) WHERE fanned_out = 0;"
     "CREATE TABLE event_delivery ("
     "  event INTEGER NOT NULL REFERENCES outbox(id),"
     "  subscriber TEXT NOT NULL,"             /* logistics, notifications, payments, webhook:<id> */
     "  status TEXT NOT NULL DEFAULT 'pending'," /* pending, delivered, dead */
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  next_attempt_at INTEGER NOT NULL,"
     "  last_error TEXT NOT NULL DEFAULT '',"
     "  delivered_at INTEGER,"
     "  PRIMARY KEY (event, subscriber));"
     "CREATE INDEX event_delivery_due ON event_delivery(next_attempt_at) WHERE status = 'pending';"
     "CREATE TABLE notification ("           /* what the notification subscriber would send */
     "  id INTEGER PRIMARY KEY,"
     "  event_id TEXT NOT NULL UNIQUE,"
     "  user_id INTEGER, channel TEXT NOT NULL, message TEXT NOT NULL, created_at INTEGER NOT NULL);"
     "CREATE TABLE shipment ("               /* made by the logistics subscriber when an order can ship */
     "  id INTEGER PRIMARY KEY,"
     "  order_id INTEGER NOT NULL UNIQUE REFERENCES orders(id),"
     "  carrier TEXT NOT NULL, tracking_number TEXT NOT NULL UNIQUE,"
     "  event_id TEXT NOT NULL, created_at INTEGER NOT NULL);"
     /* inbound provider webhooks already processed: a repeat changes nothing */
     "CREATE TABLE webhook_seen ("
     "  provider TEXT NOT NULL, event_id TEXT NOT NULL, received_at INTEGER NOT NULL,"
     "  PRIMARY KEY (provider, event_id));"
     /* coupons of this region's countries */
     "CREATE TABLE coupon ("
     "  id INTEGER PRIMARY KEY,"
     "  code TEXT NOT NULL,"
     "  country TEXT NOT NULL,"
     "  kind TEXT NOT NULL CHECK (kind IN ('threshold_amount', 'percent', 'fixed_amount')),"
     "  value INTEGER NOT NULL,"               /* minor units, or basis points for percent */
     "  min_subtotal INTEGER NOT NULL DEFAULT 0,"
     "  max_discount INTEGER NOT NULL DEFAULT 0," /* percent cap; 0 = none */
     "  scope TEXT NOT NULL DEFAULT 'store',"  /* store, category, product, sku */
     "  scope_ids TEXT NOT NULL DEFAULT '',"   /* comma-separated ids (category/product/sku ids) */
     "  valid_from INTEGER NOT NULL, valid_until INTEGER NOT NULL," /* UTC ms; entered in local time */
     "  budget INTEGER NOT NULL DEFAULT 0,"    /* total discount that may be granted; 0 = none */
     "  max_redemptions INTEGER NOT NULL DEFAULT 0,"
     "  per_user_limit INTEGER NOT NULL DEFAULT 1,"
     "  payment_methods TEXT NOT NULL DEFAULT '',"  /* allowed methods; '' = any */
     "  active INTEGER NOT NULL DEFAULT 1,"
     "  created_at INTEGER NOT NULL,"
     "  UNIQUE (country, code));"
     "CREATE TABLE coupon_redemption ("
     "  coupon_id INTEGER NOT NULL REFERENCES coupon(id),"
     "  order_id INTEGER NOT NULL REFERENCES orders(id),"
     "  user_id INTEGER NOT NULL,"
     "  amount INTEGER NOT NULL,"
     "  status TEXT NOT NULL CHECK (status IN ('frozen', 'consumed', 'returned')),"
     "  updated_at INTEGER NOT NULL,"
     "  PRIMARY KEY (coupon_id, order_id));"
     "CREATE INDEX coupon_redemption_user ON coupon_redemption(coupon_id, user_id);"
     "CREATE INDEX coupon_redemption_order ON coupon_redemption(order_id);"
     "ALTER TABLE payment ADD COLUMN intent TEXT;"  /* redirect providers: the payment intent */
     "CREATE INDEX payment_intent ON payment(intent) WHERE intent IS NOT NULL;"},
    {.version = 5,
     .sql =
     /* flash sales: configuration, and the durable facts memory is rebuilt from */
     "CREATE TABLE flash_sale ("
     "  id INTEGER PRIMARY KEY,"
     "  country TEXT NOT NULL,"
     "  titles TEXT NOT NULL,"                /* {"en": "...", ...} */
     "  rules TEXT NOT NULL,"                 /* anti-scalper rules, JSON as given */
     "  created_at INTEGER NOT NULL);"
     "CREATE TABLE flash_session ("
     "  id INTEGER PRIMARY KEY,"
     "  sale_id INTEGER NOT NULL REFERENCES flash_sale(id),"
     "  starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL,"
     "  mode TEXT NOT NULL CHECK (mode IN ('fcfs', 'queue', 'draw')),"
     "  reservation_required INTEGER NOT NULL DEFAULT 0,"
     "  reservation_opens_at INTEGER NOT NULL DEFAULT 0, reservation_closes_at INTEGER NOT NULL DEFAULT 0,"
     "  token_ttl_ms INTEGER NOT NULL,"
     "  cod_allowed INTEGER NOT NULL DEFAULT 0,"
     "  per_user_limit INTEGER NOT NULL DEFAULT 1,"
     "  seed TEXT NOT NULL,"                  /* draw seed: secret until the draw, then published */
     "  drawn_at INTEGER);"
     "CREATE TABLE flash_item ("
     "  session_id INTEGER NOT NULL REFERENCES flash_session(id),"
     "  sku_id INTEGER NOT NULL,"
     "  price INTEGER NOT NULL CHECK (price >= 0),"
     "  units INTEGER NOT NULL CHECK (units > 0),"
     "  position INTEGER NOT NULL,"
     "  PRIMARY KEY (session_id, sku_id));"
     "CREATE TABLE flash_reservation ("
     "  session_id INTEGER NOT NULL, user_id INTEGER NOT NULL, created_at INTEGER NOT NULL,"
     "  PRIMARY KEY (session_id, user_id)) WITHOUT ROWID;"
     "CREATE TABLE flash_token ("
     "  token TEXT PRIMARY KEY,"
     "  session_id INTEGER NOT NULL, sku_id INTEGER NOT NULL, user_id INTEGER NOT NULL,"
     "  price INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
     "  phone_hash INTEGER NOT NULL DEFAULT 0, address_hash INTEGER NOT NULL DEFAULT 0,"
     "  device_hash INTEGER NOT NULL DEFAULT 0,"
     "  state TEXT NOT NULL DEFAULT 'issued' CHECK (state IN ('issued', 'consumed', 'expired', 'returned')),"
     "  order_id INTEGER,"
     "  restocked INTEGER NOT NULL DEFAULT 0,"  /* the unit of an expired/returned token went back */
     "  created_at INTEGER NOT NULL);"
     "CREATE INDEX flash_token_session ON flash_token(session_id, state);"
     "CREATE INDEX flash_token_order ON flash_token(order_id) WHERE order_id IS NOT NULL;"
     "CREATE INDEX flash_token_restock ON flash_token(state) WHERE restocked = 0 AND state IN ('expired', 'returned');"
     "CREATE TABLE flash_entry ("             /* draw mode: one entry per buyer and session */
     "  session_id INTEGER NOT NULL, seq INTEGER NOT NULL, ticket TEXT NOT NULL,"
     "  sku_id INTEGER NOT NULL, user_id INTEGER NOT NULL,"
     "  phone_hash INTEGER NOT NULL DEFAULT 0, address_hash INTEGER NOT NULL DEFAULT 0,"
     "  device_hash INTEGER NOT NULL DEFAULT 0,"
     "  won INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
     "  PRIMARY KEY (session_id, user_id));"
     "ALTER TABLE order_line ADD COLUMN flash_token TEXT;"},
    {.version = 6,
     .sql =
     /* a refund names the charge it returns money from; a card charge is written (pending) before the
      * acquirer is called, with what is needed to finish it after a crash */
     "ALTER TABLE payment ADD COLUMN refund_of INTEGER REFERENCES payment(id);"
     "ALTER TABLE payment ADD COLUMN request TEXT;"
     "CREATE INDEX payment_pending ON payment(created_at) WHERE status = 'pending' AND kind = 'charge';"
     /* queue tickets are stored before they are answered; won: 0 undecided, 1 won, 2 lost */
     "ALTER TABLE flash_entry ADD COLUMN kind TEXT NOT NULL DEFAULT 'draw';"},
    {.version = 7,
     .sql =
     /* a charge that succeeded when its order already held the money of another charge (a late wallet
      * success for an old attempt): not the order's money, refunded in full; names the charge that paid */
     "ALTER TABLE payment ADD COLUMN duplicate_of INTEGER REFERENCES payment(id);"
     /* a wallet success without charge_id was once stored with reference '' (the second one collided) */
     "UPDATE payment SET provider_ref = NULL WHERE provider_ref = '';"},
    {.version = 8,
     .sql =
     /* one_per_phone also counts the phone of the buyer's default (delivery) address, normalised */
     "ALTER TABLE flash_token ADD COLUMN address_phone_hash INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE flash_entry ADD COLUMN address_phone_hash INTEGER NOT NULL DEFAULT 0;"},
    {.version = 9,
     .sql =
     /* outgoing webhooks: the last attempt's result, and each subscriber's due deliveries found apart */
     "ALTER TABLE event_delivery ADD COLUMN last_result TEXT NOT NULL DEFAULT '';" /* delivered, timeout, ... */
     "CREATE INDEX event_delivery_subscriber ON event_delivery(subscriber, next_attempt_at) WHERE status = 'pending';"
     /* stock.low: a threshold per SKU and country (sku_id 0: the country's default for the other SKUs) */
     "CREATE TABLE stock_threshold ("
     "  country TEXT NOT NULL,"
     "  sku_id INTEGER NOT NULL,"
     "  threshold INTEGER NOT NULL CHECK (threshold >= 0),"  /* 0: no stock.low */
     "  PRIMARY KEY (country, sku_id)) WITHOUT ROWID;"
     /* (SKU, country) pairs whose stock.low was emitted and that have not come back to the threshold since */
     "CREATE TABLE stock_low ("
     "  sku_id INTEGER NOT NULL, country TEXT NOT NULL, since INTEGER NOT NULL,"
     "  PRIMARY KEY (sku_id, country)) WITHOUT ROWID;"},
    {.version = 10,
     .sql =
     /* tax invoices and credit notes (invoice/invoice.h): issued once, never changed; numbered per country
      * and series without gaps (the counter row is taken in the issuing transaction) */
     "CREATE TABLE invoice_series ("
     "  country TEXT NOT NULL, series TEXT NOT NULL, last INTEGER NOT NULL,"
     "  PRIMARY KEY (country, series));"
     "CREATE TABLE invoice ("
     "  id INTEGER PRIMARY KEY,"
     "  order_id INTEGER NOT NULL REFERENCES orders(id),"
     "  kind TEXT NOT NULL,"                  /* invoice, credit_note */
     "  country TEXT NOT NULL, series TEXT NOT NULL, seq INTEGER NOT NULL,"
     "  number TEXT NOT NULL,"                /* <series>-<seq, 7 digits> */
     "  refers_to INTEGER REFERENCES invoice(id),"  /* a credit note's invoice */
     "  event_id TEXT NOT NULL UNIQUE,"       /* the event that issued it */
     "  issued_at INTEGER NOT NULL,"
     "  total INTEGER NOT NULL,"              /* grand total, or the amount credited */
     "  document TEXT NOT NULL,"              /* the whole document as issued (JSON) */
     "  UNIQUE (country, series, seq));"
     "CREATE UNIQUE INDEX invoice_of_order ON invoice(order_id) WHERE kind = 'invoice';"},
    {.version = 11,
     .sql =
     /* split shipments: an order ships from one or more warehouses, one shipment per warehouse, each with
      * its own state and tracking number; its lines are the units still to ship (or shipped) from there */
     "CREATE TABLE order_shipment ("
     "  id INTEGER PRIMARY KEY,"
     "  order_id INTEGER NOT NULL REFERENCES orders(id),"
     "  seq INTEGER NOT NULL,"                 /* 1, 2, ... within the order */
     "  warehouse_id INTEGER NOT NULL REFERENCES warehouse(id),"
     "  status TEXT NOT NULL DEFAULT 'pending'"
     "    CHECK (status IN ('pending', 'shipped', 'delivered', 'cancelled')),"
     "  carrier TEXT NOT NULL DEFAULT '',"
     "  tracking_number TEXT NOT NULL DEFAULT ''," /* booked by logistics, or given when shipped */
     "  created_at INTEGER NOT NULL, shipped_at INTEGER, delivered_at INTEGER,"
     "  UNIQUE (order_id, seq));"
     "CREATE TABLE order_shipment_line ("
     "  shipment_id INTEGER NOT NULL REFERENCES order_shipment(id),"
     "  line_no INTEGER NOT NULL,"
     "  sku_id INTEGER NOT NULL,"
     "  quantity INTEGER NOT NULL CHECK (quantity >= 0),"
     "  PRIMARY KEY (shipment_id, line_no));"
     /* orders placed before: one shipment from their warehouse, in the state the order is in */
     "INSERT INTO order_shipment (order_id, seq, warehouse_id, status, carrier, tracking_number, created_at) "
     "SELECT o.id, 1, o.warehouse_id, CASE WHEN o.status = 'shipped' THEN 'shipped' "
     "WHEN o.status IN ('delivered', 'completed') THEN 'delivered' "
     "WHEN o.status IN ('cancelled', 'refunded') THEN 'cancelled' ELSE 'pending' END, "
     "COALESCE(s.carrier, ''), COALESCE(o.tracking_number, s.tracking_number, ''), o.created_at "
     "FROM orders o LEFT JOIN shipment s ON s.order_id = o.id;"
     "INSERT INTO order_shipment_line (shipment_id, line_no, sku_id, quantity) "
     "SELECT s.id, l.line_no, l.sku_id, l.quantity - l.refunded_qty FROM order_shipment s "
     "JOIN order_line l ON l.order_id = s.order_id;"},
    {.version = 12,
     .sql =
     /* after-sales returns (RMA): each country's return window and how cash-on-delivery money goes back */
     "CREATE TABLE return_policy ("
     "  country TEXT PRIMARY KEY,"
     "  window_days INTEGER NOT NULL CHECK (window_days >= 0),"  /* from delivery; 0 = no returns */
     "  cod_refund TEXT NOT NULL,"             /* comma-separated: bank_transfer, store_credit */
     "  updated_at INTEGER NOT NULL);"
     /* demo countries (facts to check against current law before shipping): EU and UK 14 days of
      * withdrawal; Russia 14 days, money back only; South and South-East Asia 7 days */
     "INSERT INTO return_policy (country, window_days, cod_refund, updated_at) VALUES "
     "('IN', 7, 'bank_transfer,store_credit', 0), ('SG', 7, 'bank_transfer,store_credit', 0), "
     "('MY', 7, 'bank_transfer,store_credit', 0), ('ID', 7, 'bank_transfer,store_credit', 0), "
     "('PH', 7, 'bank_transfer,store_credit', 0), ('TH', 7, 'bank_transfer,store_credit', 0), "
     "('VN', 7, 'bank_transfer,store_credit', 0), ('RU', 14, 'bank_transfer', 0), "
     "('ES', 14, 'bank_transfer,store_credit', 0), ('FR', 14, 'bank_transfer,store_credit', 0), "
     "('IT', 14, 'bank_transfer,store_credit', 0), ('DE', 14, 'bank_transfer,store_credit', 0), "
     "('PL', 14, 'bank_transfer,store_credit', 0), ('GB', 14, 'bank_transfer,store_credit', 0);"
     "CREATE TABLE return_request ("
     "  id INTEGER PRIMARY KEY,"
     "  order_id INTEGER NOT NULL REFERENCES orders(id),"
     "  user_id INTEGER NOT NULL,"
     "  country TEXT NOT NULL, currency TEXT NOT NULL,"
     "  status TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'received', 'refunded',"
     "    'cancelled')),"
     "  reason TEXT NOT NULL,"                 /* damaged, defective, wrong_item, not_as_described, ... */
     "  comment TEXT NOT NULL DEFAULT '',"
     "  refund_method TEXT NOT NULL"          /* original: the order's payment; cash on delivery: the others */
     "    CHECK (refund_method IN ('original', 'bank_transfer', 'store_credit')),"
     "  refund_account TEXT NOT NULL DEFAULT '{}'," /* bank_transfer: {holder, number, bank_code} */
     "  refund_amount INTEGER NOT NULL DEFAULT 0,"
     "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
     "CREATE INDEX return_request_order ON return_request(order_id);"
     "CREATE INDEX return_request_user ON return_request(user_id, id);"
     "CREATE INDEX return_request_country ON return_request(country, id);"
     "CREATE TABLE return_line ("
     "  return_id INTEGER NOT NULL REFERENCES return_request(id),"
     "  line_no INTEGER NOT NULL,"
     "  sku_id INTEGER NOT NULL,"
     "  quantity INTEGER NOT NULL CHECK (quantity > 0),"
     "  item_condition TEXT CHECK (item_condition IN ('resellable', 'damaged')),"  /* NULL until received */
     "  restock_warehouse_id INTEGER,"         /* resellable: where the units went back */
     "  PRIMARY KEY (return_id, line_no));"
     "CREATE TABLE return_event ("           /* every transition, with time and actor */
     "  id INTEGER PRIMARY KEY,"
     "  return_id INTEGER NOT NULL REFERENCES return_request(id),"
     "  from_status TEXT, to_status TEXT NOT NULL,"
     "  actor TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', at INTEGER NOT NULL);"
     "CREATE INDEX return_event_return ON return_event(return_id);"
     /* store credit granted (refunds of cash-on-delivery returns the customer took as credit) */
     "CREATE TABLE store_credit ("
     "  id INTEGER PRIMARY KEY,"
     "  user_id INTEGER NOT NULL, country TEXT NOT NULL, currency TEXT NOT NULL,"
     "  amount INTEGER NOT NULL,"
     "  reason TEXT NOT NULL, return_id INTEGER, created_at INTEGER NOT NULL);"
     "CREATE INDEX store_credit_user ON store_credit(user_id, country);"},
    {.version = 13,
     .sql =
     /* several nodes on one region database: a delivery is attempted by the node that claimed it, until its
      * lease runs out (events/events.h); lease_until 0 = nobody holds it */
     "ALTER TABLE event_delivery ADD COLUMN claimed_by TEXT;"
     "ALTER TABLE event_delivery ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX event_delivery_claimed ON event_delivery(claimed_by) WHERE lease_until > 0;"},
    {.version = 14,
     .sql =
     /* a shared flash sale's fence (flashsale/shared.c): a win's row commits with 'won', a node that gives
      * back the unit of a dead (or frozen) node's unrecorded win first writes 'void'; the first to commit
      * decides, so a win whose unit went back can never be recorded afterwards */
     "CREATE TABLE flash_fence ("
     "  token TEXT PRIMARY KEY,"
     "  state TEXT NOT NULL CHECK (state IN ('won', 'void')),"
     "  created_at INTEGER NOT NULL);"
     /* a queue on several nodes: the tickets decided so far, in number order (flashsale/processor.c) */
     "ALTER TABLE flash_session ADD COLUMN processed INTEGER NOT NULL DEFAULT 0;"},
    {.version = 15,
     .sql =
     /* password reset codes (account.h): only the code's hash is kept; used once, voided by a newer one */
     "CREATE TABLE password_reset ("
     "  hash TEXT PRIMARY KEY,"             /* hex BLAKE2b of the code */
     "  user_id INTEGER NOT NULL REFERENCES user(id),"
     "  created_at INTEGER NOT NULL,"
     "  expires_at INTEGER NOT NULL,"
     "  used_at INTEGER,"
     "  voided_at INTEGER);"
     "CREATE INDEX password_reset_user ON password_reset(user_id) WHERE used_at IS NULL AND voided_at IS NULL;"},
    {.version = 16,
     .sql =
     /* store credit spent at checkout (order/returns.h, mer_store_credit_add): the part of the grand total paid
      * with credit (amount due = grand_total - store_credit); each customer's balance per country, kept with the
      * ledger so that a spend is one guarded update (never below zero, even with two writers on one database) */
     "ALTER TABLE orders ADD COLUMN store_credit INTEGER NOT NULL DEFAULT 0;"
     /* of refunded_total, the part given back as store credit (order/refund.h: card first) */
     "ALTER TABLE orders ADD COLUMN credit_refunded INTEGER NOT NULL DEFAULT 0;"
     "CREATE TABLE store_credit_balance ("
     "  user_id INTEGER NOT NULL, country TEXT NOT NULL,"
     "  balance INTEGER NOT NULL CHECK (balance >= 0),"
     "  PRIMARY KEY (user_id, country));"
     "INSERT INTO store_credit_balance (user_id, country, balance) "
     "SELECT user_id, country, SUM(amount) FROM store_credit GROUP BY user_id, country;"},
    {.version = 17,
     .sql =
     /* an order's lines and shipment lines are found by their key alone: stored in that key's order (WITHOUT
      * ROWID), each is one b-tree instead of a table and its primary-key index: two b-trees fewer for every
      * order to write and for its savepoint to journal (store/writer.c). (order_tax is read in the order it was
      * written, by rowid: it stays.) */
     "CREATE TABLE order_line_new ("
     "  order_id INTEGER NOT NULL REFERENCES orders(id),"
     "  line_no INTEGER NOT NULL,"
     "  sku_id INTEGER NOT NULL, sku_code TEXT NOT NULL, name TEXT NOT NULL,"
     "  sale_type TEXT NOT NULL DEFAULT 'normal',"
     "  quantity INTEGER NOT NULL, unit_price INTEGER NOT NULL,"
     "  discount INTEGER NOT NULL DEFAULT 0,"
     "  line_total INTEGER NOT NULL,"
     "  tax INTEGER NOT NULL, tax_rate_bp INTEGER NOT NULL,"
     "  refunded_qty INTEGER NOT NULL DEFAULT 0, flash_token TEXT,"
     "  PRIMARY KEY (order_id, line_no)) WITHOUT ROWID;"
     "INSERT INTO order_line_new SELECT order_id, line_no, sku_id, sku_code, name, sale_type, quantity, unit_price, "
     "discount, line_total, tax, tax_rate_bp, refunded_qty, flash_token FROM order_line;"
     "DROP TABLE order_line;"
     "ALTER TABLE order_line_new RENAME TO order_line;"
     "CREATE TABLE order_shipment_line_new ("
     "  shipment_id INTEGER NOT NULL REFERENCES order_shipment(id),"
     "  line_no INTEGER NOT NULL,"
     "  sku_id INTEGER NOT NULL,"
     "  quantity INTEGER NOT NULL CHECK (quantity >= 0),"
     "  PRIMARY KEY (shipment_id, line_no)) WITHOUT ROWID;"
     "INSERT INTO order_shipment_line_new SELECT shipment_id, line_no, sku_id, quantity FROM order_shipment_line;"
     "DROP TABLE order_shipment_line;"
     "ALTER TABLE order_shipment_line_new RENAME TO order_shipment_line;"},
    {.version = 18,
     .sql =
     /* SQLite checks "x IN (three or more values)" by building a temporary index of the values at every
      * statement run: one per order's shipment insert (~2 us of the writer's ~46 us per order). The same
      * check written as comparisons costs nothing. The table is rebuilt (SQLite cannot change a CHECK),
      * its child order_shipment_line held aside meanwhile, so no foreign key ever points at nothing. */
     "CREATE TABLE order_shipment_new ("
     "  id INTEGER PRIMARY KEY,"
     "  order_id INTEGER NOT NULL REFERENCES orders(id),"
     "  seq INTEGER NOT NULL,"
     "  warehouse_id INTEGER NOT NULL REFERENCES warehouse(id),"
     "  status TEXT NOT NULL DEFAULT 'pending'"
     "    CHECK (status = 'pending' OR status = 'shipped' OR status = 'delivered' OR status = 'cancelled'),"
     "  carrier TEXT NOT NULL DEFAULT '',"
     "  tracking_number TEXT NOT NULL DEFAULT '',"
     "  created_at INTEGER NOT NULL, shipped_at INTEGER, delivered_at INTEGER,"
     "  UNIQUE (order_id, seq));"
     "INSERT INTO order_shipment_new SELECT id, order_id, seq, warehouse_id, status, carrier, tracking_number, "
     "created_at, shipped_at, delivered_at FROM order_shipment;"
     "CREATE TABLE order_shipment_line_held AS SELECT shipment_id, line_no, sku_id, quantity "
     "FROM order_shipment_line;"
     "DROP TABLE order_shipment_line;"
     "DROP TABLE order_shipment;"
     "ALTER TABLE order_shipment_new RENAME TO order_shipment;"
     "CREATE TABLE order_shipment_line ("
     "  shipment_id INTEGER NOT NULL REFERENCES order_shipment(id),"
     "  line_no INTEGER NOT NULL,"
     "  sku_id INTEGER NOT NULL,"
     "  quantity INTEGER NOT NULL CHECK (quantity >= 0),"
     "  PRIMARY KEY (shipment_id, line_no)) WITHOUT ROWID;"
     "INSERT INTO order_shipment_line SELECT shipment_id, line_no, sku_id, quantity FROM order_shipment_line_held;"
     "DROP TABLE order_shipment_line_held;",
     .only = "sqlite"},
    {.version = 19,
     .sql =
     /* a customer's order list is newest first (created_at, then id: ids are not in time order when several
      * nodes share a database): with the time in the customer's index, a page is read in that order from the
      * index, not sorted out of every order the customer has (order/order.c: mer_order_list) */
     "DROP INDEX orders_user;"
     "CREATE INDEX orders_user ON orders(user_id, created_at, id);"
     /* an order's invoice and credit notes (invoice_of_order holds only the invoice): each look-up read every
      * invoice of the region */
     "CREATE INDEX invoice_order ON invoice(order_id, id);"
     /* the flash-sale processor looks for issued tokens past their time every round: only those are indexed
      * (the consumed tokens of every past sale are not read again) */
     "CREATE INDEX flash_token_expiry ON flash_token(expires_at) WHERE state = 'issued';"
     /* the refunds of a charge (a refund's amount left, an order's refund status): only refunds are indexed */
     "CREATE INDEX payment_refund ON payment(refund_of) WHERE refund_of IS NOT NULL;"
     /* a SKU's last stock movements (the admin's stock view): the trail of every shipment was read backwards */
     "CREATE INDEX stock_movement_sku ON stock_movement(sku_id, id);"
     /* a password change revokes the customer's other sessions: only live sessions are indexed */
     "CREATE INDEX session_live_user ON session(user_id) WHERE revoked_at IS NULL;"},
};
const size_t mer_schema_region_n = sizeof(mer_schema_region) / sizeof(mer_schema_region[0]);

/*
 * The catalogue hub's logical replication (store/replica.h; PostgreSQL only). The hub publishes every table of
 * the catalogue but schema_version (each database migrates itself); a region's copy subscribes. A table added
 * to the catalogue by a migration is added here too: `meridian replica` sets the publication to this list and
 * refreshes the subscription. Each row names the note (store/notify.h) a region node must hear when a
 * replicated row of that table arrives, as the hub's own writer jobs send it to the hub's nodes: topic NULL =
 * nothing in memory depends on it (read when needed); key the column that names the product ("" = none: the
 * whole catalogue is reloaded; "sku_id": the product is looked up through the SKU).
 */
const mer_replicated_table_t mer_schema_replicated[] = {
    {"region", "countries", ""},
    {"country", "countries", ""},
    {"category", "catalog", ""},
    {"category_text", "catalog", ""},
    {"product", "catalog", "id"},
    {"product_text", "catalog", "product_id"},
    {"sku", "catalog", "product_id"},
    {"attribute_text", "catalog", ""},
    {"price", "catalog", "sku_id"},
    {"media", "catalog", "product_id"},
    {"media_text", "catalog", ""},
    {"flash_sale_text", "catalog", ""},
    {"staff", NULL, NULL},
    {"staff_token", NULL, NULL},
    {"webhook_subscription", NULL, NULL},
    {"provider_secret", NULL, NULL},
    {"flash_sale_id", NULL, NULL},
    {"flash_session_id", NULL, NULL},
    {"country_launch", NULL, NULL},
};
const size_t mer_schema_replicated_n = sizeof(mer_schema_replicated) / sizeof(mer_schema_replicated[0]);

/*
 * Installed in a region's copy of the catalogue. meridian_replica_note() runs for each replicated row (its
 * triggers are ENABLE ALWAYS: the apply worker runs as a replica, which ordinary triggers skip) and sends the
 * note the hub's writer would have sent, from the node "hub": "catalog <product id>" where the row names a
 * product, else the topic with no argument (reload everything). A transaction of more than 1000 rows (a bulk
 * import) sends one "catalog" note instead of one per product, as the writer's own commit hook does past
 * INCREMENTAL_MAX. PostgreSQL drops a note repeated within one transaction. The apply worker's search_path is
 * empty: the function keeps the one of the session that made it (the catalogue's schema). meridian_replica_guard() refuses
 * every local write (SQLSTATE 25006, read-only): it is an ordinary trigger, so the apply worker skips it.
 */
const char mer_schema_replica_functions[] =
    "CREATE OR REPLACE FUNCTION meridian_replica_note() RETURNS trigger LANGUAGE plpgsql\n"
    "  SET search_path FROM CURRENT AS $f$\n"
    "DECLARE\n"
    "  r jsonb;\n"
    "  arg text := '';\n"
    "  n int;\n"
    "BEGIN\n"
    "  IF TG_OP = 'DELETE' THEN r := to_jsonb(OLD); ELSE r := to_jsonb(NEW); END IF;\n"
    "  IF TG_ARGV[1] = 'sku_id' THEN\n"
    "    SELECT product_id::text INTO arg FROM sku WHERE id = (r ->> 'sku_id')::bigint;\n"
    "  ELSIF TG_ARGV[1] <> '' THEN\n"
    "    arg := r ->> TG_ARGV[1];\n"
    "  END IF;\n"
    "  n := COALESCE(NULLIF(current_setting('meridian.replica_notes', true), ''), '0')::int + 1;\n"
    "  PERFORM set_config('meridian.replica_notes', n::text, true);\n"
    "  IF n > 1000 OR arg IS NULL THEN arg := ''; END IF;\n"
    "  PERFORM pg_notify('meridian', 'hub ' || TG_ARGV[0] || ' ' || arg);\n"
    "  RETURN NULL;\n"
    "END $f$;\n"
    "CREATE OR REPLACE FUNCTION meridian_replica_guard() RETURNS trigger LANGUAGE plpgsql AS $f$\n"
    "BEGIN\n"
    "  RAISE EXCEPTION 'the catalogue here is a replica of the hub''s: write at the hub (meridian serve --hub-db)'\n"
    "    USING ERRCODE = '25006';\n"
    "END $f$;\n";
/* clang-format on */
