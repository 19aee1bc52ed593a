/*
 * ops.h — the http layer's own module: /healthz, /readyz and /metrics, and the layer's per-thread answer
 * cache.
 *
 * The http layer knows no domain. /metrics prints the http series (requests per route, in flight,
 * answer cache, connections, uptime) and then asks every module of the cycle for its own families
 * (module.h: metrics); /readyz asks every module for its checks (module.h: ready) and answers 200 when
 * all of them pass, 503 otherwise:
 *     {"status": "ready", "checks": {"catalog": "ok", "in": "ok"}}
 */
#ifndef MER_OPS_H
#define MER_OPS_H

#include "module.h"

extern const mer_module_t mer_http_module;

#endif
