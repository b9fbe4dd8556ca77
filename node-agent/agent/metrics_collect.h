/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's /metrics page, gathered from the pinned maps and the loop's state at each scrape. */
#ifndef SLUICE_AGENT_METRICS_COLLECT_H
#define SLUICE_AGENT_METRICS_COLLECT_H

#include "http_server.h"
#include "metrics.h"

struct kube_sync;
struct svc_pub;
struct pin_stats;

struct metrics_src {
	const char *pin_dir;
	const struct kube_sync *ks;	    /* the API reflectors */
	const struct svc_pub *svc;	    /* NULL without the service maps */
	const struct metrics_hist *publish; /* publish latency, in seconds */
	const struct pin_stats *pins;	    /* NULL without the pin guard */
};

/* Every metric the agent exports, appended to b. */
void metrics_collect(const struct metrics_src *src, struct http_buf *b);
/* The http_server handler of /metrics; ctx is a struct metrics_src. */
void metrics_handle(void *ctx, const char *path, struct http_reply *r);

#endif
