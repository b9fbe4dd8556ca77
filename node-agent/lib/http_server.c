// SPDX-License-Identifier: Apache-2.0
/* A tiny non-blocking HTTP/1.x server on epoll: accept, read one request head, answer, close. */
#define _GNU_SOURCE /* memmem, accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_server.h"

#define CONN_MAX     32
#define REQ_MAX	     2048
#define CONN_IDLE_MS 5000

struct conn {
	int fd; /* -1 : free */
	size_t len;
	unsigned long long since_ms;
	struct http_buf out; /* the answer, once the request is complete */
	size_t sent;
	char buf[REQ_MAX];
};

struct http_server {
	int lfd, epfd;
	http_handler_fn fn;
	void *ctx;
	struct conn conns[CONN_MAX];
};

void http_buf_printf(struct http_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->data ? b->data + b->len : NULL, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		char *d;

		while (cap - b->len <= (size_t)n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d) {
			b->failed = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
}

void http_buf_free(struct http_buf *b)
{
	free(b->data);
	*b = (struct http_buf){};
}

int http_addr_parse(const char *s, __be32 *ip, __be16 *port)
{
	const char *colon = strrchr(s, ':');
	char host[INET_ADDRSTRLEN];
	unsigned long p;
	char *end;

	if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s)
		return -EINVAL;
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	if (inet_pton(AF_INET, host, ip) != 1)
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || errno || !p || p > 65535)
		return -EINVAL;
	*port = htons((__u16)p);
	return 0;
}

static const char *reason_of(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

static int reply_format(struct http_buf *out, int code, const char *type, const char *extra,
			const char *body, size_t body_len, bool head)
{
	http_buf_printf(out,
			"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nX-Content-Type-Options: nosniff\r\n"
			"%sContent-Length: %zu\r\nConnection: close\r\n\r\n%.*s",
			code, reason_of(code), type, extra, body_len, head ? 0 : (int)body_len,
			body);
	return out->failed ? -ENOMEM : 1;
}

static int reply_text(struct http_buf *out, int code, const char *text)
{
	return reply_format(out, code, "text/plain", "", text, strlen(text), false);
}

/* The request line "METHOD SP target SP": path (without the query) and
 * whether the method is GET or HEAD; -EINVAL when malformed. */
static int request_line(const char *req, const char *end, char *path, size_t path_len, bool *head,
			bool *get)
{
	const char *target = memchr(req, ' ', (size_t)(end - req)), *sp;
	size_t plen;

	if (!target || target == req)
		return -EINVAL;
	*head = target - req == 4 && !memcmp(req, "HEAD", 4);
	*get = target - req == 3 && !memcmp(req, "GET", 3);
	target++;
	sp = memchr(target, ' ', (size_t)(end - target));
	plen = sp ? (size_t)(sp - target) : 0;
	if (!plen || plen >= path_len)
		return -EINVAL;
	memcpy(path, target, plen);
	path[plen] = '\0';
	path[strcspn(path, "?")] = '\0';
	return 0;
}

int http_respond(const char *req, size_t len, http_handler_fn fn, void *ctx, struct http_buf *out)
{
	const char *end = memmem(req, len, "\r\n\r\n", 4);
	struct http_reply r = {};
	bool head, get;
	char path[64];
	int ret;

	if (!end && !(end = memmem(req, len, "\n\n", 2)))
		return len >= REQ_MAX ? reply_text(out, 431, "too large\n") : 0;
	if (request_line(req, end, path, sizeof(path), &head, &get) < 0)
		return reply_text(out, 400, "bad request line\n");
	fn(ctx, path, &r);
	if (!head && !get && !r.any_method)
		ret = reply_text(out, 405, "only GET\n");
	else if (r.body.failed)
		ret = reply_text(out, 500, "out of memory\n");
	else if (!r.code)
		ret = reply_text(out, 404, "404 page not found\n");
	else
		ret = reply_format(out, r.code, r.type ? r.type : "text/plain", r.extra,
				   r.body.data ? r.body.data : "", r.body.len, head);
	http_buf_free(&r.body);
	return ret;
}

size_t http_respond_str(const char *req, size_t len, http_handler_fn fn, void *ctx, char *out,
			size_t out_len)
{
	struct http_buf b = {};
	size_t n = 0;

	if (http_respond(req, len, fn, ctx, &b) > 0 && b.len < out_len) {
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
		n = b.len;
	}
	http_buf_free(&b);
	return n;
}

int http_server_open(const char *bind_addr, http_handler_fn fn, void *ctx, struct http_server **out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct epoll_event ev = {.events = EPOLLIN};
	struct http_server *h;
	int one = 1, r;

	r = http_addr_parse(bind_addr, &sa.sin_addr.s_addr, &sa.sin_port);
	if (r < 0)
		return r;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fn = fn;
	h->ctx = ctx;
	for (int i = 0; i < CONN_MAX; i++)
		h->conns[i].fd = -1;
	h->epfd = -1;
	h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->lfd < 0)
		goto out_errno;
	setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(h->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(h->lfd, 64) < 0)
		goto out_errno;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = h->lfd;
	if (h->epfd < 0 || epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->lfd, &ev) < 0)
		goto out_errno;
	*out = h;
	return 0;
out_errno:
	r = -errno;
	http_server_close(h);
	return r;
}

static void conn_close(struct http_server *h, struct conn *c)
{
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->sent = 0;
	http_buf_free(&c->out);
}

void http_server_close(struct http_server *h)
{
	if (!h)
		return;
	for (int i = 0; i < CONN_MAX; i++)
		if (h->conns[i].fd >= 0)
			conn_close(h, &h->conns[i]);
	if (h->epfd >= 0)
		close(h->epfd);
	if (h->lfd >= 0)
		close(h->lfd);
	free(h);
}

int http_server_fd(const struct http_server *h)
{
	return h->epfd;
}

static void conns_accept(struct http_server *h, unsigned long long now)
{
	for (int n = 0; n < CONN_MAX; n++) {
		int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN};
		struct conn *c = NULL;

		if (fd < 0)
			return; /* EAGAIN, or a transient error: the next readiness retries */
		for (int i = 0; i < CONN_MAX && !c; i++)
			if (h->conns[i].fd < 0)
				c = &h->conns[i];
		ev.data.fd = fd;
		if (!c || epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd); /* too many clients at once */
			continue;
		}
		c->fd = fd;
		c->len = 0;
		c->sent = 0;
		c->since_ms = now;
	}
}

/* Writes what the socket takes; closes once everything is sent. */
static void conn_write(struct http_server *h, struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.fd = c->fd};

	while (c->sent < c->out.len) {
		ssize_t n = write(c->fd, c->out.data + c->sent, c->out.len - c->sent);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			epoll_ctl(h->epfd, EPOLL_CTL_MOD, c->fd, &ev);
			return;
		}
		if (n <= 0)
			break;
		c->sent += (size_t)n;
	}
	conn_close(h, c);
}

static void conn_read(struct http_server *h, struct conn *c)
{
	ssize_t n;
	int r;

	if (c->out.len) { /* answered: the socket takes more of it */
		conn_write(h, c);
		return;
	}
	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(h, c);
		return;
	}
	c->len += (size_t)n;
	r = http_respond(c->buf, c->len, h->fn, h->ctx, &c->out);
	if (r < 0)
		conn_close(h, c);
	else if (r > 0)
		conn_write(h, c);
}

void http_server_serve(struct http_server *h, unsigned long long now)
{
	struct epoll_event evs[CONN_MAX + 1];
	int n = epoll_wait(h->epfd, evs, CONN_MAX + 1, 0);

	for (int i = 0; i < n; i++) {
		if (evs[i].data.fd == h->lfd) {
			conns_accept(h, now);
			continue;
		}
		for (int j = 0; j < CONN_MAX; j++)
			if (h->conns[j].fd == evs[i].data.fd)
				conn_read(h, &h->conns[j]);
	}
	for (int j = 0; j < CONN_MAX; j++)
		if (h->conns[j].fd >= 0 && now - h->conns[j].since_ms > CONN_IDLE_MS)
			conn_close(h, &h->conns[j]);
}
