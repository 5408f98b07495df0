/*
 * http.h — scsipub-api's HTTP server (libmicrohttpd, one thread per connection since
 * POST /api/images blocks until the image is ready) and its router:
 *
 *   POST /api/images {name, url, sha256?}      GET /api/images   GET|DELETE /api/images/<name>
 *   POST /api/sessions {images, persistent?, ttl_s?}
 *   GET /api/sessions                          GET|DELETE /api/sessions/<id>
 *   GET /status (HTML, or JSON with Accept: application/json or ?format=json)
 *   GET /metrics (Prometheus text)             GET /admin (admin key)
 *
 * Paths under /api need "Authorization: Bearer <account key>", /admin the admin key (401
 * otherwise). /status and /metrics need no key: without one /status shows only what
 * is public (health, counts, the catalog; http_status.c); with an account's key it
 * adds that account's sessions and images, with the admin key every row and the
 * options. A key that is given but unknown is 401 there too. Request bodies are JSON objects of at most HTTP_BODY_MAX bytes (413),
 * checked strictly: bad JSON, wrong types, unknown fields, out-of-range numbers and
 * names not matching ^[a-z0-9][a-z0-9.-]{0,62}$ are 400. Unknown paths are 404,
 * known paths with another method 405 (with Allow). Every error body is
 * {"error": "..."}.
 *
 * Private images answer "iqn": null: they are mounted through POST /api/sessions,
 * whose target is iqn.2025-01.pub.scsipub:s.<id>; the response also carries
 * "mount": "POST /api/sessions {\"images\":[\"<name>\"]}". Catalog images list their
 * anonymous iqn.2025-01.pub.scsipub:image.<name> (or :blank).
 */
#ifndef SCSIPUB_HTTP_H
#define SCSIPUB_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct http_server;
struct https_cert;

#define HTTP_BODY_MAX 65536          /* bytes of a request body */
#define HTTP_CONN_MAX 512            /* concurrent connections */
#define HTTP_CONN_PER_IP 64
#define HTTP_IDLE_TIMEOUT_S 60

/*
 * Start serving a on listen ("ADDR:PORT" or "[V6]:PORT"; port 0 picks a free one).
 * NULL with a reason in err on failure.
 */
struct http_server *http_start(struct app *a, const char *listen, char *err, size_t errlen);
/*
 * The same server over HTTPS (TLS 1.2/1.3, https_cert.h's HTTPS_PRIORITIES) with the
 * certificate of hc, which it installs for GnuTLS's retrieve callback (one HTTPS
 * server per process: -EBUSY otherwise, as NULL with a reason). hc stays the
 * caller's; free it only after http_stop.
 */
struct http_server *http_start_https(struct app *a, const char *listen, struct https_cert *hc,
				     char *err, size_t errlen);
/* The port actually bound (useful after port 0). */
uint16_t http_port(const struct http_server *s);
/* Stop accepting, finish or close connections and free s (NULL is ignored). */
void http_stop(struct http_server *s);

#endif
