// SPDX-License-Identifier: Apache-2.0
/* A tiny non-blocking HTTP/1.x server on epoll, shared by /healthz and the health check node ports:
 * each connection gets one answer and is closed. */
#define _GNU_SOURCE /* memmem, accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_srv.h"
#include "vec.h"

#define CONN_MAX     32
#define CONN_IDLE_MS 5000
#define TAG_LISTENER (1ull << 32) /* epoll data: fd | TAG_LISTENER for listeners */

struct conn {
	int fd; /* -1 : free */
	int lfd;
	void *lis_ctx;
	size_t len;
	unsigned long long since_ms;
	char buf[HTTP_REQ_MAX];
};

struct listener {
	int fd; /* -1 : closed slot */
	void *ctx;
};

struct http_srv {
	int epfd;
	http_answer_fn answer;
	void *ctx;
	struct vec lis; /* struct listener */
	struct conn conns[CONN_MAX];
};

int http_req_parse(const char *req, size_t len, bool *head, char *path, size_t path_len)
{
	const char *sp, *end = memmem(req, len, "\r\n\r\n", 4);
	size_t plen;

	if (!end && !(end = memmem(req, len, "\n\n", 2)))
		return len >= HTTP_REQ_MAX ? -E2BIG : -EAGAIN;
	*head = len >= 5 && !memcmp(req, "HEAD ", 5);
	if (!*head && (len < 4 || memcmp(req, "GET ", 4)))
		return -EOPNOTSUPP;
	req += *head ? 5 : 4;
	sp = memchr(req, ' ', (size_t)(end - req));
	plen = sp ? (size_t)(sp - req) : 0;
	if (!plen || plen >= path_len || req[0] != '/')
		return -EINVAL;
	memcpy(path, req, plen);
	path[plen] = '\0';
	path[strcspn(path, "?")] = '\0';
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
	default:
		return "Service Unavailable";
	}
}

size_t http_reply(char *out, size_t out_len, int code, const char *ctype, const char *extra,
		  const char *body, bool head)
{
	int n = snprintf(out, out_len,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nX-Content-Type-Options: nosniff\r\n"
			 "%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 code, reason_of(code), ctype, extra, strlen(body), head ? "" : body);

	return n < 0 || (size_t)n >= out_len ? 0 : (size_t)n;
}

size_t http_reply_error(char *out, size_t out_len, int r)
{
	if (r == -E2BIG)
		return http_reply(out, out_len, 431, "text/plain", "", "too large\n", false);
	if (r == -EOPNOTSUPP)
		return http_reply(out, out_len, 405, "text/plain", "", "only GET\n", false);
	return http_reply(out, out_len, 400, "text/plain", "", "bad request line\n", false);
}

int http_srv_new(http_answer_fn answer, void *ctx, struct http_srv **out)
{
	struct http_srv *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->answer = answer;
	s->ctx = ctx;
	s->lis.elem = sizeof(struct listener);
	for (int i = 0; i < CONN_MAX; i++)
		s->conns[i].fd = -1;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		int r = -errno;

		free(s);
		return r;
	}
	*out = s;
	return 0;
}

static void conn_close(struct http_srv *s, struct conn *c)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static struct listener *listener_of(struct http_srv *s, int fd)
{
	struct listener *l = s->lis.v;

	for (size_t i = 0; i < s->lis.n; i++)
		if (l[i].fd == fd)
			return &l[i];
	return NULL;
}

void http_srv_free(struct http_srv *s)
{
	struct listener *l;

	if (!s)
		return;
	l = s->lis.v;
	for (size_t i = 0; i < s->lis.n; i++)
		if (l[i].fd >= 0)
			http_srv_unlisten(s, l[i].fd);
	close(s->epfd);
	free(s->lis.v);
	free(s);
}

int http_srv_fd(const struct http_srv *s)
{
	return s->epfd;
}

int http_srv_listen(struct http_srv *s, __be32 ip, __be16 port, void *lis_ctx)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = ip, .sin_port = port};
	struct epoll_event ev = {.events = EPOLLIN};
	struct listener *l = listener_of(s, -1);
	int one = 1, fd, r;

	if (!l && !(l = vec_push(&s->lis, 8)))
		return -ENOMEM;
	l->fd = -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ev.data.u64 = TAG_LISTENER | (unsigned)fd;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	l->fd = fd;
	l->ctx = lis_ctx;
	return fd;
}

void http_srv_unlisten(struct http_srv *s, int h)
{
	struct listener *l = listener_of(s, h);

	if (h < 0 || !l)
		return;
	for (int i = 0; i < CONN_MAX; i++)
		if (s->conns[i].fd >= 0 && s->conns[i].lfd == h)
			conn_close(s, &s->conns[i]);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, h, NULL);
	close(h);
	l->fd = -1;
}

static void conns_accept(struct http_srv *s, const struct listener *l, unsigned long long now)
{
	for (int n = 0; n < CONN_MAX; n++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN};
		struct conn *c = NULL;

		if (fd < 0)
			return; /* EAGAIN, or a transient error: the next readiness retries */
		for (int i = 0; i < CONN_MAX && !c; i++)
			if (s->conns[i].fd < 0)
				c = &s->conns[i];
		ev.data.u64 = (unsigned)fd;
		if (!c || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd); /* too many clients at once */
			continue;
		}
		*c = (struct conn){.fd = fd, .lfd = l->fd, .lis_ctx = l->ctx, .since_ms = now};
	}
}

static void conn_read(struct http_srv *s, struct conn *c)
{
	char out[1024];
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	size_t len;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(s, c);
		return;
	}
	c->len += (size_t)n;
	len = s->answer(s->ctx, c->lis_ctx, c->buf, c->len, out, sizeof(out));
	if (!len)
		return;
	/* a few hundred bytes on a fresh socket: one non-blocking write */
	(void)!write(c->fd, out, len);
	conn_close(s, c);
}

void http_srv_serve(struct http_srv *s, unsigned long long now)
{
	struct epoll_event evs[CONN_MAX + 1];
	int n = epoll_wait(s->epfd, evs, CONN_MAX + 1, 0);

	for (int i = 0; i < n; i++) {
		int fd = (int)(evs[i].data.u64 & 0xffffffffu);
		const struct listener *l;

		if (evs[i].data.u64 & TAG_LISTENER) {
			if ((l = listener_of(s, fd)))
				conns_accept(s, l, now);
			continue;
		}
		for (int j = 0; j < CONN_MAX; j++)
			if (s->conns[j].fd == fd)
				conn_read(s, &s->conns[j]);
	}
	for (int j = 0; j < CONN_MAX; j++)
		if (s->conns[j].fd >= 0 && now - s->conns[j].since_ms > CONN_IDLE_MS)
			conn_close(s, &s->conns[j]);
}
