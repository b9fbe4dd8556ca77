/* SPDX-License-Identifier: Apache-2.0 */
/* The Prometheus text exposition format (version 0.0.4): families, samples, histograms. */
#ifndef SLUICE_AGENT_METRICS_H
#define SLUICE_AGENT_METRICS_H

#include <stddef.h>

#include "http_server.h"

#define METRICS_DEFAULT_BIND "127.0.0.1:10249"
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_HIST_MAX     16 /* buckets of one histogram, +Inf not counted */

struct metrics_label {
	const char *name;
	const char *value; /* escaped on output */
};

/* "# HELP" and "# TYPE" of a family; type "counter", "gauge" or "histogram". */
void metrics_family(struct http_buf *b, const char *name, const char *type, const char *help);
/* One sample; labels may be NULL when n is 0. */
void metrics_sample(struct http_buf *b, const char *name, const struct metrics_label *labels,
		    size_t n, double value);

/* A histogram with upper bounds in base units; counts[i] counts observations
 * in (bounds[i-1], bounds[i]], counts[n_bounds] those above the last bound. */
struct metrics_hist {
	const double *bounds;
	size_t n_bounds; /* <= METRICS_HIST_MAX */
	unsigned long long counts[METRICS_HIST_MAX + 1];
	double sum;
};

void metrics_hist_observe(struct metrics_hist *h, double v);
/* name_bucket (cumulative, le="+Inf" last), name_sum and name_count. */
void metrics_hist_write(struct http_buf *b, const char *name, const struct metrics_label *labels,
			size_t n, const struct metrics_hist *h);

#endif
