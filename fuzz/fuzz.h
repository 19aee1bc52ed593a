/*
 * fuzz.h — what the libFuzzer targets in fuzz/ share.
 *
 * Each target is one file defining LLVMFuzzerTestOneInput() (and, where it needs set-up, also
 * LLVMFuzzerInitialize()). A target calls the narrowest real entry point of what it fuzzes — the same
 * function the request handler calls — and checks properties that must hold for every input
 * (FUZZ_CHECK aborts, which libFuzzer reports as a crash and saves the input). Build and run: see
 * fuzz/README.md (`make fuzz`, or the short runs in `make test`).
 */
#ifndef MER_FUZZ_H
#define MER_FUZZ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "region/country.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property that must hold for every input: abort (a crash libFuzzer saves) when it does not. */
#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);                                \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* The input as a JSON value, parsed the way the server parses request bodies (NULL if not JSON). */
json_t *fuzz_json(const uint8_t *data, size_t size);

/*
 * The demo countries from seed/countries.json, parsed once with mer_country_parse() (the registry's own
 * path); fuzz_country() finds one by code (any case), or returns the first (IN) for an unknown one.
 */
void fuzz_countries_load(void);
const mer_country_t *fuzz_country(const char *code);

#endif
