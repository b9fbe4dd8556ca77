/* SPDX-License-Identifier: Apache-2.0 */
/* A tiny non-blocking HTTP/1.x server on epoll: listeners, short connections, one answer each. */
#ifndef SLUICE_AGENT_HTTP_SRV_H
#define SLUICE_AGENT_HTTP_SRV_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#define HTTP_REQ_MAX 2048 /* a request head longer than this is answered 431 */

/* The answer to the request in req[0..len) that came in by a listener opened
 * with lis_ctx: its length in out, 0 while the request head is incomplete. */
typedef size_t (*http_answer_fn)(void *srv_ctx, void *lis_ctx, const char *req, size_t len,
				 char *out, size_t out_len);

/* The request line of a complete head: 0 with head (a HEAD request) and the
 * path without its query; -EAGAIN while incomplete, -E2BIG when the head does
 * not fit HTTP_REQ_MAX, -EINVAL when malformed. Methods other than GET and
 * HEAD read as -EOPNOTSUPP. */
int http_req_parse(const char *req, size_t len, bool *head, char *path, size_t path_len);

/* A whole response into out (0 when it does not fit): the status line, the
 * Content-Type, X-Content-Type-Options: nosniff, the extra header lines
 * (each ending in CRLF; may be ""), Content-Length and Connection: close; the
 * body unless head. */
size_t http_reply(char *out, size_t out_len, int code, const char *ctype, const char *extra,
		  const char *body, bool head);

/* The answer for what http_req_parse() refused (r < 0, not -EAGAIN). */
size_t http_reply_error(char *out, size_t out_len, int r);

struct http_srv;

int http_srv_new(http_answer_fn answer, void *srv_ctx, struct http_srv **out);
void http_srv_free(struct http_srv *s);

/* Readable when a client connects or sends: add it to the caller's poll. */
int http_srv_fd(const struct http_srv *s);

/* Listens on ip:port (network order, in the caller's network namespace) for
 * requests answered with lis_ctx. The listener's handle (>= 0) or -errno. */
int http_srv_listen(struct http_srv *s, __be32 ip, __be16 port, void *lis_ctx);

/* Closes the listener h and the connections it accepted: the port is free again. */
void http_srv_unlisten(struct http_srv *s, int h);

/* Accepts, reads and answers whatever is ready, without blocking; drops
 * clients idle for more than a few seconds. */
void http_srv_serve(struct http_srv *s, unsigned long long now_ms);

#endif
