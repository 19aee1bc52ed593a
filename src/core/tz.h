/*
 * tz.h — time zones (ICU). Meridian stores every instant as UTC Unix milliseconds and shows it in the
 * country's IANA time zone: "2026-11-26T21:32:05.123+05:30" for Asia/Kolkata. Local wall-clock times
 * given by admins ("the sale starts at 12:00 in India") are converted to UTC with mer_tz_parse_local().
 */
#ifndef MER_TZ_H
#define MER_TZ_H

#include "core/common.h"

/* Offset of tz from UTC at instant unix_ms, in milliseconds (DST included). Returns 0 or -1. */
int mer_tz_offset_ms(const char *tz, int64_t unix_ms, int32_t *offset);
/* Formats unix_ms as local ISO-8601 with offset ("...T21:32:05.123+05:30"); out needs 40 bytes. */
void mer_tz_format(int64_t unix_ms, const char *tz, char out[40]);
/* "YYYY-MM-DDTHH:MM:SS" of a count of seconds since 1970-01-01T00:00:00 (as gmtime_r and strftime would
 * write it, without their cost: answers carry several timestamps), years 0000-9999. */
void mer_format_civil(int64_t secs, char out[20]);
/*
 * Parses a local wall-clock time "YYYY-MM-DDTHH:MM[:SS]" in tz into UTC milliseconds. A string ending in
 * 'Z' or an explicit offset (+05:30) is taken as that instant instead. Returns 0 or -1 if malformed.
 */
int mer_tz_parse_local(const char *text, const char *tz, int64_t *unix_ms);

/* Frees the calling thread's cached calendars (call before a thread that used this module exits). */
void mer_tz_thread_release(void);

#endif
