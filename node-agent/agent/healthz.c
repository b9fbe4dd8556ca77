// SPDX-License-Identifier: Apache-2.0
/* /healthz and /livez with kube-proxy's meaning and JSON shape, served by http_srv. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "healthz.h"
#include "http_srv.h"

struct healthz {
	struct http_srv *srv;
	struct healthz_state st; /* as of the last healthz_serve() */
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

size_t healthz_respond(const char *req, size_t len, const struct healthz_state *st,
		       const struct timespec *now, char *out, size_t out_len)
{
	char path[64], last[64] = "0001-01-01 00:00:00 +0000 UTC", cur[64], body[256];
	bool head, livez, ok;
	int r = http_req_parse(req, len, &head, path, sizeof(path));

	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		return http_reply_error(out, out_len, r);
	livez = !strcmp(path, "/livez");
	if (!livez && strcmp(path, "/healthz"))
		return http_reply(out, out_len, 404, "text/plain", "", "404 page not found\n",
				  false);
	ok = st->healthy && (livez || st->node_eligible);
	/* kube-proxy answers a healthy probe with lastUpdated = currentTime */
	if (ok || st->last_updated.tv_sec)
		time_fmt(ok ? now : &st->last_updated, last, sizeof(last));
	time_fmt(now, cur, sizeof(cur));
	if (livez)
		snprintf(body, sizeof(body), "{\"lastUpdated\": \"%s\",\"currentTime\": \"%s\"}",
			 last, cur);
	else
		snprintf(body, sizeof(body),
			 "{\"lastUpdated\": \"%s\",\"currentTime\": \"%s\", \"nodeEligible\": %s}",
			 last, cur, st->node_eligible ? "true" : "false");
	return http_reply(out, out_len, ok ? 200 : 503, "application/json", "", body, head);
}

/* http_srv's answer: the state the loop handed to the last healthz_serve(). */
static size_t healthz_answer(void *ctx, void *lis_ctx, const char *req, size_t len, char *out,
			     size_t out_len)
{
	struct healthz *h = ctx;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return healthz_respond(req, len, &h->st, &now, out, out_len);
}

int healthz_open(const char *bind_addr, struct healthz **out)
{
	struct healthz *h;
	__be32 ip;
	__be16 port;
	int r;

	r = healthz_addr_parse(bind_addr, &ip, &port);
	if (r < 0)
		return r;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	r = http_srv_new(healthz_answer, h, &h->srv);
	if (r < 0)
		goto out_free;
	r = http_srv_listen(h->srv, ip, port, NULL);
	if (r < 0)
		goto out_srv;
	*out = h;
	return 0;
out_srv:
	http_srv_free(h->srv);
out_free:
	free(h);
	return r;
}

void healthz_close(struct healthz *h)
{
	if (!h)
		return;
	http_srv_free(h->srv);
	free(h);
}

int healthz_fd(const struct healthz *h)
{
	return http_srv_fd(h->srv);
}

void healthz_serve(struct healthz *h, const struct healthz_state *st, unsigned long long now)
{
	h->st = *st;
	http_srv_serve(h->srv, now);
}
