/*
 * err.h — the one error type of Meridian.
 *
 * Every failure that can reach a client is a negative mer_err_t. The table below gives each code its
 * snake_case name (the "code" of the JSON error envelope), its HTTP status and a default message
 * (after libuv's UV_ERRNO_MAP). Functions return 0 on success or a negative code; they never return a
 * positive error. Turning an error into a response happens in exactly one place: mer_reply_error()
 * in http/req.h.
 */
#ifndef MER_ERR_H
#define MER_ERR_H

/*      C name            code string            status  default message */
#define MER_ERR_MAP(X)                                                                                                 \
    X(INVALID_JSON, "invalid_json", 400, "the request body is not valid JSON")                                         \
    X(INVALID_PARAM, "invalid_parameter", 400, "a parameter has an invalid value")                                     \
    X(MISSING_PARAM, "missing_parameter", 400, "a required parameter is missing")                                      \
    X(VALIDATION, "validation_failed", 422, "the request is well-formed but a field is not acceptable")                \
    X(UNAUTHORIZED, "unauthorized", 401, "authentication is required")                                                 \
    X(FORBIDDEN, "forbidden", 403, "you are not allowed to do this")                                                   \
    X(NOT_FOUND, "not_found", 404, "no such resource")                                                                 \
    X(UNKNOWN_COUNTRY, "unknown_country", 404, "this country is not known")                                            \
    X(METHOD_NOT_ALLOWED, "method_not_allowed", 405, "this method is not allowed on this resource")                    \
    X(CONFLICT, "conflict", 409, "the resource is in a state that does not allow this")                                \
    X(ALREADY_EXISTS, "already_exists", 409, "a resource with this identity already exists")                           \
    X(NOT_READY, "not_ready", 409, "the country is not ready to open")                                                 \
    X(IDEMPOTENCY_MISMATCH, "idempotency_key_reused", 422, "this Idempotency-Key was used with another body")          \
    X(TOO_LARGE, "payload_too_large", 413, "the request body is too large")                                            \
    X(UNSUPPORTED_MEDIA, "unsupported_media_type", 415, "the request body must be application/json")                   \
    X(WRONG_REGION, "wrong_region", 421, "this country is served by another region")                                   \
    X(RATE_LIMITED, "rate_limited", 429, "too many requests; retry later")                                             \
    X(INVALID_SIGNATURE, "invalid_signature", 400, "the webhook signature does not match")                             \
    X(SOLD_OUT, "sold_out", 409, "this session is sold out")                                                           \
    X(NOT_RESERVED, "not_reserved", 403, "this session needs a reservation made before the sale")                      \
    X(LIMIT_REACHED, "limit_reached", 409, "you have reached the purchase limit of this session")                      \
    X(BLOCKED, "blocked", 403, "this purchase is not allowed")                                                         \
    X(NOT_STARTED, "not_started", 425, "the session has not started yet")                                              \
    X(SALE_ENDED, "sale_ended", 409, "the session has ended")                                                          \
    X(STALE_WEBHOOK, "stale_webhook", 400, "the webhook timestamp is too old or in the future")                        \
    X(INTERNAL, "internal_error", 500, "an internal error occurred")                                                   \
    X(UNAVAILABLE, "unavailable", 503, "the service is shutting down or overloaded")                                   \
    X(REGION_UNAVAILABLE, "region_unavailable", 503, "no node of this region answers right now")                       \
    X(BAD_REQUEST, "bad_request", 400, "the request is not well-formed HTTP")                                          \
    X(EXPECTATION_FAILED, "expectation_failed", 417, "only Expect: 100-continue is supported")

typedef enum mer_err {
    MER_OK = 0,
    MER_E__FIRST = -1000,
#define MER_ERR_ENUM(name, code, status, msg) MER_E_##name,
    MER_ERR_MAP(MER_ERR_ENUM)
#undef MER_ERR_ENUM
        MER_E__LAST
} mer_err_t;

/* The envelope code ("invalid_json"), HTTP status and default message of a negative error. */
const char *mer_err_code(int err);
int mer_err_status(int err);
const char *mer_err_message(int err);

#endif
