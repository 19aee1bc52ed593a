/*
 * seed.h — demo data: the 14 demo countries in four regions, and a generated catalogue of
 * 200+ products (phones, wearables, TVs, accessories, smart-home) with 2-6 SKUs each, translated into
 * every demo country's main language and priced in every country where sold. The source data is
 * seed/countries.json and seed/catalog.json, embedded in the binary at build time.
 */
#ifndef MER_SEED_H
#define MER_SEED_H

/*
 * Seeds the opened store if it holds no countries yet (a second run changes nothing). Returns 0 or a
 * negative error; *seeded tells whether anything was written.
 */
int mer_seed(int *seeded);

#endif
