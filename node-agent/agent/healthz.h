/* SPDX-License-Identifier: Apache-2.0 */
/* kube-proxy's health endpoints, /healthz and /livez, served from the agent's poll loop. */
#ifndef SLUICE_AGENT_HEALTHZ_H
#define SLUICE_AGENT_HEALTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct http_reply;

#define HEALTHZ_DEFAULT_BIND "127.0.0.1:10256"
#define HEALTHZ_STALE_MS     60000 /* 2 x kube-proxy's default syncPeriod of 30 s */

struct healthz_state {
	struct timespec last_updated; /* CLOCK_REALTIME of the last complete sync; 0 : never */
	bool healthy;		      /* programming is not stale */
	bool node_eligible;	      /* /healthz only */
};

/* kube-proxy's rule: programming is fresh unless a change has waited longer
 * than HEALTHZ_STALE_MS; pending_since_ms 0 : nothing is waiting. */
bool healthz_fresh(unsigned long long now_ms, unsigned long long pending_since_ms);

/* The http_server handler; ctx is a struct healthz_state kept current by the loop. */
void healthz_handle(void *ctx, const char *path, struct http_reply *r);

/* One HTTP response for the request in req[0..len): its length in out, 0 when
 * the request head is not complete yet. now is CLOCK_REALTIME. */
size_t healthz_respond(const char *req, size_t len, const struct healthz_state *st,
		       const struct timespec *now, char *out, size_t out_len);

#endif
