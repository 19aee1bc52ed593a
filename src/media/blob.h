/*
 * blob.h — where media files live: a store of immutable byte strings under keys.
 *
 * Keys are relative names made of [a-z0-9.-] and at most one '/' ("3f/3fa2...-thumb.webp"); the caller
 * makes them, the store never sees user text. A blob, once put, is never changed (the same key always
 * holds the same bytes: keys carry a content digest), which is what lets an object store, a CDN or a
 * second region hold copies without invalidation. A blob nothing refers to any more is removed by the
 * media sweep (media.h), only once it has not been put for a grace period, so an upload whose row is not
 * yet committed never loses its files.
 *
 * One implementation exists: files under a directory (blob_disk.c), written to a temporary name, synced
 * and renamed, so a blob is either wholly there or absent after a crash. An object store (S3 and the
 * like) would be a second mer_blob_ops_t; nothing above this header knows which one it talks to.
 * Every call may block on disk or network: off the event loops only.
 */
#ifndef MER_BLOB_H
#define MER_BLOB_H

#include "core/common.h"

typedef struct mer_blob_ops {
    const char *name; /* "disk" */
    /* Stores len bytes under key durably (synced when it returns 0). Putting an existing key again is
     * allowed and changes nothing. 0 or MER_E_INTERNAL. */
    int (*put)(void *self, const char *key, const void *data, size_t len);
    /* Reads a blob into a malloc'd buffer. 0, MER_E_NOT_FOUND or MER_E_INTERNAL. */
    int (*get)(void *self, const char *key, char **out, size_t *len);
    /* Removes a blob (a missing key is not an error). 0 or MER_E_INTERNAL. */
    int (*del)(void *self, const char *key);
    /* Calls fn for every blob last put at or before `before` (unix seconds), in no order, until fn returns
     * non-zero. fn may del the key it is given. 0 or MER_E_INTERNAL. */
    int (*each_older)(void *self, int64_t before, int (*fn)(const char *key, void *arg), void *arg);
} mer_blob_ops_t;

typedef struct mer_blobstore {
    const mer_blob_ops_t *ops;
    void *self;
} mer_blobstore_t;

/* A store of files under dir (created if missing). Returns 0 or -1 (errno set). */
int mer_blob_disk_open(const char *dir, mer_blobstore_t *out);
void mer_blob_disk_close(mer_blobstore_t *bs);

/* Is key a well-formed key? (The stores check it too, so no key reaches outside the store.) */
bool mer_blob_key_ok(const char *key);

#endif
