/*
 * ops.h — /healthz, /readyz, /metrics. Modules add their own Prometheus lines with mer_ops_add_metrics().
 */
#ifndef MER_OPS_H
#define MER_OPS_H

#include "core/buf.h"

void mer_ops_init(void);
/* fn appends Prometheus text (with # HELP / # TYPE lines) when /metrics is scraped. */
void mer_ops_add_metrics(void (*fn)(mer_buf_t *out));

#endif
