/*
 * log.h — structured logging: one JSON object per line on stderr, from level info up.
 *
 * Application messages go through mer_log_*(); they are rare and written at once. The HTTP access log is
 * written by each worker thread into its own buffer and flushed in large writes (see http/server.c),
 * so logging every request costs no system call per request.
 */
#ifndef MER_LOG_H
#define MER_LOG_H

#include "core/common.h"

typedef enum { MER_LOG_DEBUG, MER_LOG_INFO, MER_LOG_WARN, MER_LOG_ERROR } mer_log_level_t;

void mer_log(mer_log_level_t level, const char *fmt, ...) MER_PRINTF(2, 3);

#define mer_log_info(...) mer_log(MER_LOG_INFO, __VA_ARGS__)
#define mer_log_warn(...) mer_log(MER_LOG_WARN, __VA_ARGS__)
#define mer_log_error(...) mer_log(MER_LOG_ERROR, __VA_ARGS__)

/* Writes "2026-11-26T16:02:42.123Z" for a Unix time in milliseconds; out needs 25 bytes. */
void mer_format_utc_ms(int64_t unix_ms, char out[32]);

#endif
