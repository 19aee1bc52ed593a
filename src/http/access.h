/*
 * access.h — what happens when a request is over: its per-route metrics and its access-log line.
 *
 * The server's logger calls mer_access_done() on the request's worker thread once h2o is done with the
 * request: the last byte of the answer was handed to the kernel, or the client went away first (status
 * 0: no answer was sent). Nothing here takes a lock or makes a system call: the counters are the worker's
 * own (see core/metrics.h), and the log line goes into the worker's buffer, which server.c flushes.
 *
 * Timing: "us" in the log and the latency histograms run on CLOCK_MONOTONIC from the moment the whole
 * request (head and body) had been read and reached the router, to the end of the answer. h2o 2.2's own
 * request timestamps come from the event loop's cached clock, which only moves between loop iterations,
 * so they read 0 for nearly every request. Only a request that h2o answered by itself, before the router
 * (no mer_req_t), is timed from h2o's arrival stamp to the real wall clock at its end.
 *
 * Access-log line (one JSON object per request):
 *   {"ts": "...Z", "type": "access", "id": request id, "method", "path" (as sent, at most 512 bytes),
 *    "route": the route template ("/api/v1/orders/{id}") or null, "status", "bytes", "us",
 *    "country": the two-letter country the request was for (?country=, X-Country, a "country" member of
 *    the JSON body, else the customer's own) or null, "account_id": the customer's id or null,
 *    "staff_id": the staff member's id or null, "peer" (the client's address; behind a trusted gateway,
 *    the one it forwarded: mer_server_client), "proto", "thread"}
 * Never an email, a name, a token or a body.
 *
 * Metrics (Prometheus, see mer_access_metrics()): labels are the route template and its method, never
 * the raw path, so their number is bounded by the route tables; requests that matched no route share
 * route="unmatched".
 */
#ifndef MER_ACCESS_H
#define MER_ACCESS_H

#include <h2o.h>

#include "core/buf.h"

/* Records req's metrics under worker `worker` (its index) and, if log is not NULL, appends its line. */
void mer_access_done(h2o_req_t *req, int worker, mer_buf_t *log);

/*
 * Appends meridian_http_requests_total{method,route,status}, meridian_http_request_duration_seconds
 * {method,route} and meridian_http_responses_total{class}, summed over the workers.
 */
void mer_access_metrics(mer_buf_t *out);

#endif
