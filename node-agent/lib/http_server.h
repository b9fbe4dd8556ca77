/* SPDX-License-Identifier: Apache-2.0 */
/* A tiny non-blocking HTTP/1.x server on epoll for the agent's poll loop: GET and HEAD, one
 * request per connection, answers of any size written as the socket takes them. */
#ifndef SLUICE_AGENT_HTTP_SERVER_H
#define SLUICE_AGENT_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

/* A growable text buffer; after a failed append it stays failed (and is
 * answered with 500). */
struct http_buf {
	char *data;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3))) void http_buf_printf(struct http_buf *b, const char *fmt,
							   ...);
void http_buf_free(struct http_buf *b);

/* What a handler answers: code 0 : 404. type defaults to text/plain; extra
 * header lines (each ending in CRLF) when not NULL. Methods other than GET
 * and HEAD are answered 405 unless the handler sets any_method (Go's
 * default handlers answer every method). */
struct http_reply {
	int code;
	const char *type;
	char extra[128];
	bool any_method;
	struct http_buf body;
};

/* Fills r for path (without the query string), GET or HEAD alike. */
typedef void (*http_handler_fn)(void *ctx, const char *path, struct http_reply *r);

/* "a.b.c.d:port" (IPv4 literal, port 1..65535): 0 with ip/port in network
 * order, -EINVAL otherwise. */
int http_addr_parse(const char *s, __be32 *ip, __be16 *port);

/* The whole response to the request in req[0..len) into out: 1 when done, 0
 * when the request head is not complete yet, -ENOMEM. Bad requests are
 * answered here (400, 431, and 405 as struct http_reply says). */
int http_respond(const char *req, size_t len, http_handler_fn fn, void *ctx, struct http_buf *out);
/* The same into a string: the response's length, 0 when it is incomplete,
 * out of memory or does not fit in out_len - 1 bytes (for tests and fuzzers). */
size_t http_respond_str(const char *req, size_t len, http_handler_fn fn, void *ctx, char *out,
			size_t out_len);

struct http_server;

/* Listens on bind (see http_addr_parse), non-blocking, in the caller's
 * network namespace; fn answers every request. */
int http_server_open(const char *bind, http_handler_fn fn, void *ctx, struct http_server **out);
void http_server_close(struct http_server *h);
/* Readable when a client connects, sends or can take more: add it to the caller's poll. */
int http_server_fd(const struct http_server *h);
/* Accepts, reads, answers and writes whatever is ready, without blocking;
 * drops clients idle for more than a few seconds. */
void http_server_serve(struct http_server *h, unsigned long long now_ms);

#endif
