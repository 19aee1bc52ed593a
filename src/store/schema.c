/*
 * schema.c — versioned migrations of each kind of database. A migration, once released, never changes:
 * add a new one. Times are Unix milliseconds (UTC), money INTEGER minor units.
 */
#include "store/store.h"

/* clang-format off */
const mer_migration_t mer_schema_catalog[] = {
    {1,
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
};
const size_t mer_schema_catalog_n = sizeof(mer_schema_catalog) / sizeof(mer_schema_catalog[0]);

const mer_migration_t mer_schema_region[] = {
    {1,
     "CREATE TABLE node_info ("
     "  key TEXT PRIMARY KEY,"
     "  value TEXT NOT NULL);"},
};
const size_t mer_schema_region_n = sizeof(mer_schema_region) / sizeof(mer_schema_region[0]);
/* clang-format on */
