/*
 * common.h — what every Meridian source file needs: fixed-width integers, bool, allocation that aborts on
 * out-of-memory (so callers never check for NULL, as in Redis), and a few macros.
 *
 * Ownership rule for the whole tree: a function that returns a pointer it allocated says so in its header
 * comment ("caller frees with ..."); anything else returned is borrowed.
 */
#ifndef MER_COMMON_H
#define MER_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MER_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MER_LIKELY(x) __builtin_expect(!!(x), 1)
#define MER_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MER_UNUSED __attribute__((unused))
#define MER_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MER_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MER_MAX(a, b) ((a) > (b) ? (a) : (b))
/* The struct of type `type` whose member `member` is at ptr (a job embedded in a domain's own struct). */
#define MER_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Allocation: abort with a message on out-of-memory; never return NULL. */
void *mer_xmalloc(size_t n);
void *mer_xcalloc(size_t n, size_t size);
void *mer_xrealloc(void *p, size_t n);
char *mer_xstrdup(const char *s);
char *mer_xstrndup(const char *s, size_t n);
/* Room for one more element in the growable array p holding n of cap (doubling; first: the first capacity),
 * after git's ALLOC_GROW:   MER_GROW(rows, n, cap, 256); rows[n++] = row;   */
#define MER_GROW(p, n, cap, first)                                                                                     \
    do {                                                                                                               \
        if ((n) == (cap)) {                                                                                            \
            (cap) = (cap) ? (cap)*2 : (first);                                                                         \
            (p) = mer_xrealloc((p), (cap) * sizeof(*(p)));                                                             \
        }                                                                                                              \
    } while (0)

/* Reports a broken invariant (a bug in Meridian, never bad input) and aborts. */
#define MER_BUG(...) mer_bug(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void mer_bug(const char *file, int line, const char *fmt, ...) MER_PRINTF(3, 4);

/*
 * Checks an invariant that is cheap to test (a few comparisons, at most a short bounded loop) and aborts
 * through mer_bug() when it does not hold. Unlike assert() it stays on in every build, NDEBUG or not: a
 * broken batch or money sum must stop the process rather than be acknowledged. Costly checks stay in
 * assert().
 */
#define MER_ASSERT(cond) (MER_LIKELY(cond) ? (void)0 : mer_bug(__FILE__, __LINE__, "assertion failed: %s", #cond))

/* Start-up only: prints "meridian: <message>" and exits 1. */
_Noreturn void mer_die(const char *fmt, ...) MER_PRINTF(1, 2);

/*
 * Parses a whole decimal integer in [min, max]. Returns 0 and sets *out, or -1 if the text is empty, has
 * anything but an optional '-' and digits, or is out of range.
 */
int mer_parse_int64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

/* Copies src into dst (cap bytes, cap > 0), truncated as snprintf(dst, cap, "%s", src) would and always
 * NUL-terminated, without printf's cost (hot paths copy many fields). Returns the bytes copied. */
size_t mer_strcopy(char *dst, size_t cap, const char *src);

/* Case-insensitive ASCII comparison of a counted string with a C string. */
bool mer_streq_nocase(const char *a, size_t alen, const char *b);

/*
 * The one charset check for text that comes in (JSON strings, address fields, names): returns the number of
 * characters (code points) in s[0..n) when it is well-formed UTF-8 (shortest form, no surrogates, nothing
 * above U+10FFFF) and has no NUL and no C0 control character but tab and newline; otherwise -1.
 */
int64_t mer_utf8_text(const char *s, size_t n);
/* Length of the well-formed UTF-8 sequence at s (1..4 bytes, avail >= 1 of them readable), or 0. */
size_t mer_utf8_seq(const unsigned char *s, size_t avail);

/* 64-bit FNV-1a of n bytes; never 0 (0 can then mean "empty" in tables). */
uint64_t mer_hash64(const void *data, size_t n);

/*
 * A phone number in one form: only '+' and the digits count (spaces, '-', '.', '/' and parentheses are
 * separators) and an international "00" prefix is '+' ("+91 98123-45678" and "0091 9812345678" are both
 * "+919812345678"). Writes it into out and returns its length, or -1 for any other character, a '+' that
 * does not lead, or more than MER_PHONE_MAX - 1 characters. Whether it is valid E.164 or fits a country's
 * pattern is for the caller to check.
 */
#define MER_PHONE_MAX 32
int mer_phone_normalize(const char *s, size_t n, char out[MER_PHONE_MAX]);
/* mer_hash64 of the normalised phone, so that two spellings of one number hash alike; 0 when s has no
 * digits or does not normalise. */
uint64_t mer_phone_hash(const char *s, size_t n);

/*
 * Walks a comma-separated list ("a,b,c"; NULL and "" have no entries; a trailing comma adds none):
 *     for (const char *p = list, *item; mer_list_next(&p, &item, &len);) use(item, len);
 * Each call sets *item and *len to the next entry (not NUL-terminated) and returns true, or false at the end.
 */
bool mer_list_next(const char **p, const char **item, size_t *len);

/* Is name an entry of the comma-separated list? An empty list has no entries. */
bool mer_list_has(const char *list, const char *name);

/* Monotonic and wall clocks. */
uint64_t mer_now_mono_ns(void);
int64_t mer_now_unix_ms(void);

#endif
