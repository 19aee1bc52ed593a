/*
 * seeded_store.h — for unit tests of domain services: a real store in a temporary directory, seeded with
 * the demo data (catalogue, countries, regions), the catalogue loaded and one region's database open;
 * and its removal. Single-threaded tests only: no writers are started.
 */
#ifndef MER_TEST_SEEDED_STORE_H
#define MER_TEST_SEEDED_STORE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "region/country.h"
#include "seed/seed.h"
#include "store/store.h"

static char seeded_store_dir[64];
static char seeded_store_region[MER_REGION_NAME_MAX];

/* Creates /tmp/mer-ut-NAME-XXXXXX and the store in it. Returns 0 or -1. */
static int seeded_store_open(const char *name, const char *region)
{
    int seeded = 0;
    snprintf(seeded_store_dir, sizeof(seeded_store_dir), "/tmp/mer-ut-%s-XXXXXX", name);
    snprintf(seeded_store_region, sizeof(seeded_store_region), "%s", region);
    if (mkdtemp(seeded_store_dir) == NULL || mer_store_init(seeded_store_dir) != 0)
        return -1;
    int err = mer_countries_init(mer_store_write_begin(MER_STORE_CATALOG), "", NULL, "http://127.0.0.1:1");
    mer_store_write_end(MER_STORE_CATALOG);
    if (err || mer_seed(&seeded) != 0 || mer_catalog_init() != 0 || mer_store_open_region(region) != 0)
        return -1;
    return 0;
}

/* Closes the store and removes its directory. Returns 0 or -1. */
static int seeded_store_close(void)
{
    mer_catalog_shutdown();
    mer_countries_shutdown();
    mer_store_shutdown();
    const char *const suffixes[] = {"", "-wal", "-shm"};
    char path[160];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/catalog.db%s", seeded_store_dir, suffixes[i]);
        unlink(path);
        snprintf(path, sizeof(path), "%s/region-%s.db%s", seeded_store_dir, seeded_store_region, suffixes[i]);
        unlink(path);
    }
    return rmdir(seeded_store_dir);
}

#endif
