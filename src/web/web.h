/*
 * web.h — the storefront and the admin console: serves the static assets that `make` builds from web/
 * (npm + esbuild, see web/build.mjs) so that `meridian serve` is also the shop at / and the console at
 * /admin/. The pages use only the public API; this module knows nothing of any domain.
 *
 * What is served (the build writes it into one directory, web/dist/ by default):
 *   GET /              index.html   the storefront        Cache-Control: no-cache (revalidated by ETag)
 *   GET /admin/        admin.html   the admin console     (GET /admin too)
 *   GET /assets/{f}    assets/f     scripts, styles, fonts with a content hash in the name:
 *                                   Cache-Control: public, max-age=31536000, immutable
 * Each file may come with precompressed twins f.br and f.gz (written by the build); the answer is the
 * smallest one the client's Accept-Encoding takes (br, then gzip, else identity), with Content-Encoding
 * and Vary: Accept-Encoding. If-None-Match with the file's ETag answers 304.
 *
 * The directory is read once, at start-up, into memory (a few hundred kB); a rebuild needs a restart.
 * It is $MERIDIAN_WEB_DIR when set, else the build's web/dist (MER_WEB_DIR, set by meson.build). When it
 * holds no index.html the UI is not built: the server still starts and serves the API, and / and /admin/
 * answer a short page that says how to build it (`make`).
 */
#ifndef MER_WEB_H
#define MER_WEB_H

#include "module.h"

extern const mer_module_t mer_web_module;

#endif
