// SPDX-License-Identifier: Apache-2.0
/* /healthz and /livez with kube-proxy's meaning and JSON shape: a tiny non-blocking HTTP/1.x server
 * on epoll. */
#define _GNU_SOURCE /* memmem, accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "healthz.h"

#define CONN_MAX     32
#define REQ_MAX	     2048
#define CONN_IDLE_MS 5000

struct conn {
	int fd; /* -1 : free */
	size_t len;
	unsigned long long since_ms;
	char buf[REQ_MAX];
};

struct healthz {
	int lfd, epfd;
	struct conn conns[CONN_MAX];
};

bool healthz_fresh(unsigned long long now, unsigned long long since)
{
	return !since || now < since || now - since <= HEALTHZ_STALE_MS;
}

int healthz_addr_parse(const char *s, __be32 *ip, __be16 *port)
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

/* Go's time.Time.String() form, as kube-proxy prints it: "2006-01-02 15:04:05.123 +0000 UTC". */
static void time_fmt(const struct timespec *t, char *buf, size_t len)
{
	struct tm tm;
	char frac[16] = "";
	long ns = t->tv_nsec;

	gmtime_r(&t->tv_sec, &tm);
	if (ns) {
		int digits = 9;

		while (ns % 10 == 0) {
			ns /= 10;
			digits--;
		}
		snprintf(frac, sizeof(frac), ".%0*ld", digits, ns);
	}
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d%s +0000 UTC", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static size_t reply(char *out, size_t out_len, int code, const char *reason, const char *body)
{
	int n =
	    snprintf(out, out_len,
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nX-Content-Type-Options: nosniff\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		     code, reason, code == 200 || code == 503 ? "application/json" : "text/plain",
		     strlen(body), body);

	return n < 0 || (size_t)n >= out_len ? 0 : (size_t)n;
}

size_t healthz_respond(const char *req, size_t len, const struct healthz_state *st,
		       const struct timespec *now, char *out, size_t out_len)
{
	char path[64], last[64] = "0001-01-01 00:00:00 +0000 UTC", cur[64], body[256];
	const char *sp, *end = memmem(req, len, "\r\n\r\n", 4);
	bool head, livez;
	size_t plen;

	if (!end && !(end = memmem(req, len, "\n\n", 2)))
		return len >= REQ_MAX ? reply(out, out_len, 431, "Request Header Fields Too Large",
					      "too large\n")
				      : 0;
	head = len >= 5 && !memcmp(req, "HEAD ", 5);
	if (!head && (len < 4 || memcmp(req, "GET ", 4)))
		return reply(out, out_len, 405, "Method Not Allowed", "only GET\n");
	req += head ? 5 : 4;
	sp = memchr(req, ' ', (size_t)(end - req));
	plen = sp ? (size_t)(sp - req) : 0;
	if (!plen || plen >= sizeof(path))
		return reply(out, out_len, 400, "Bad Request", "bad request line\n");
	memcpy(path, req, plen);
	path[plen] = '\0';
	path[strcspn(path, "?")] = '\0';
	livez = !strcmp(path, "/livez");
	if (!livez && strcmp(path, "/healthz"))
		return reply(out, out_len, 404, "Not Found", "404 page not found\n");
	if (st->last_updated.tv_sec)
		time_fmt(&st->last_updated, last, sizeof(last));
	time_fmt(now, cur, sizeof(cur));
	if (livez)
		snprintf(body, sizeof(body), "{\"lastUpdated\": \"%s\",\"currentTime\": \"%s\"}",
			 last, cur);
	else
		snprintf(body, sizeof(body),
			 "{\"lastUpdated\": \"%s\",\"currentTime\": \"%s\", \"nodeEligible\": %s}",
			 last, cur, st->node_eligible ? "true" : "false");
	len = st->healthy && (livez || st->node_eligible)
		  ? reply(out, out_len, 200, "OK", body)
		  : reply(out, out_len, 503, "Service Unavailable", body);
	if (head && len) { /* same head, no body */
		char *b = strstr(out, "\r\n\r\n");

		len = b ? (size_t)(b + 4 - out) : len;
	}
	return len;
}

int healthz_open(const char *bind_addr, struct healthz **out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct epoll_event ev = {.events = EPOLLIN};
	struct healthz *h;
	int one = 1, r;

	r = healthz_addr_parse(bind_addr, &sa.sin_addr.s_addr, &sa.sin_port);
	if (r < 0)
		return r;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
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
	healthz_close(h);
	return r;
}

static void conn_close(struct healthz *h, struct conn *c)
{
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

void healthz_close(struct healthz *h)
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

int healthz_fd(const struct healthz *h)
{
	return h->epfd;
}

static void conns_accept(struct healthz *h, unsigned long long now)
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
		c->since_ms = now;
	}
}

static void conn_read(struct healthz *h, struct conn *c, const struct healthz_state *st)
{
	char out[1024];
	struct timespec now;
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	size_t len;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(h, c);
		return;
	}
	c->len += (size_t)n;
	clock_gettime(CLOCK_REALTIME, &now);
	len = healthz_respond(c->buf, c->len, st, &now, out, sizeof(out));
	if (!len)
		return;
	/* a few hundred bytes on a fresh socket: one non-blocking write */
	(void)!write(c->fd, out, len);
	conn_close(h, c);
}

void healthz_serve(struct healthz *h, const struct healthz_state *st, unsigned long long now)
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
				conn_read(h, &h->conns[j], st);
	}
	for (int j = 0; j < CONN_MAX; j++)
		if (h->conns[j].fd >= 0 && now - h->conns[j].since_ms > CONN_IDLE_MS)
			conn_close(h, &h->conns[j]);
}
