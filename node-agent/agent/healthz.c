// SPDX-License-Identifier: Apache-2.0
/* /healthz and /livez with kube-proxy's meaning and JSON shape, served by http_server. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "healthz.h"
#include "http_server.h"

bool healthz_fresh(unsigned long long now, unsigned long long since)
{
	return !since || now < since || now - since <= HEALTHZ_STALE_MS;
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

static void healthz_answer(const struct healthz_state *st, const struct timespec *now,
			   const char *path, struct http_reply *r)
{
	char last[64] = "0001-01-01 00:00:00 +0000 UTC", cur[64];
	bool livez = !strcmp(path, "/livez"), ok;

	if (!livez && strcmp(path, "/healthz"))
		return; /* 404 */
	ok = st->healthy && (livez || st->node_eligible);
	/* kube-proxy answers a healthy probe with lastUpdated = currentTime */
	if (ok || st->last_updated.tv_sec)
		time_fmt(ok ? now : &st->last_updated, last, sizeof(last));
	time_fmt(now, cur, sizeof(cur));
	if (livez)
		http_buf_printf(&r->body, "{\"lastUpdated\": \"%s\",\"currentTime\": \"%s\"}", last,
				cur);
	else
		http_buf_printf(&r->body,
				"{\"lastUpdated\": \"%s\",\"currentTime\": \"%s\", "
				"\"nodeEligible\": %s}",
				last, cur, st->node_eligible ? "true" : "false");
	r->code = ok ? 200 : 503;
	r->type = "application/json";
}

void healthz_handle(void *ctx, const char *path, struct http_reply *r)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	healthz_answer(ctx, &now, path, r);
}

struct answer_at {
	const struct healthz_state *st;
	const struct timespec *now;
};

static void handle_at(void *ctx, const char *path, struct http_reply *r)
{
	const struct answer_at *at = ctx;

	healthz_answer(at->st, at->now, path, r);
}

size_t healthz_respond(const char *req, size_t len, const struct healthz_state *st,
		       const struct timespec *now, char *out, size_t out_len)
{
	struct answer_at at = {st, now};

	return http_respond_str(req, len, handle_at, &at, out, out_len);
}
