// SPDX-License-Identifier: Apache-2.0
/* The Prometheus text exposition format: escaping, families, samples and histograms. */
#include <math.h> /* isinf, isnan: macros, no libm */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* Label values escape backslash, double quote and newline; HELP text only
 * backslash and newline. */
static void escaped(struct http_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			http_buf_printf(b, "\\\\");
		else if (*s == '\n')
			http_buf_printf(b, "\\n");
		else if (*s == '"' && quote)
			http_buf_printf(b, "\\\"");
		else
			http_buf_printf(b, "%c", *s);
	}
}

void metrics_family(struct http_buf *b, const char *name, const char *type, const char *help)
{
	http_buf_printf(b, "# HELP %s ", name);
	escaped(b, help, false);
	http_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* The shortest of %.15g..%.17g that reads back as v. */
static const char *shortest(double v, char *buf, size_t len)
{
	for (int prec = 15; prec < 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return buf;
	}
	snprintf(buf, len, "%.17g", v);
	return buf;
}

static void value_write(struct http_buf *b, double v)
{
	char buf[32];

	if (isinf(v))
		http_buf_printf(b, v > 0 ? "+Inf" : "-Inf");
	else if (isnan(v))
		http_buf_printf(b, "NaN");
	else if (v > -9e18 && v < 9e18 && v == (double)(long long)v)
		http_buf_printf(b, "%.0f", v); /* counters: every digit a double holds */
	else
		http_buf_printf(b, "%s", shortest(v, buf, sizeof(buf)));
}

/* name{a="x",b="y",extra="v"} value */
static void sample_write(struct http_buf *b, const char *name, const struct metrics_label *labels,
			 size_t n, const struct metrics_label *extra, double value)
{
	http_buf_printf(b, "%s", name);
	for (size_t i = 0; i < n + (extra != NULL); i++) {
		const struct metrics_label *l = i < n ? &labels[i] : extra;

		http_buf_printf(b, "%s%s=\"", i ? "," : "{", l->name);
		escaped(b, l->value, true);
		http_buf_printf(b, "\"");
	}
	http_buf_printf(b, "%s ", n || extra ? "}" : "");
	value_write(b, value);
	http_buf_printf(b, "\n");
}

void metrics_sample(struct http_buf *b, const char *name, const struct metrics_label *labels,
		    size_t n, double value)
{
	sample_write(b, name, labels, n, NULL, value);
}

void metrics_hist_observe(struct metrics_hist *h, double v)
{
	size_t i = 0;

	while (i < h->n_bounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->sum += v;
}

void metrics_hist_write(struct http_buf *b, const char *name, const struct metrics_label *labels,
			size_t n, const struct metrics_hist *h)
{
	char series[128], le[32];
	unsigned long long cum = 0;
	struct metrics_label l = {"le", le};

	snprintf(series, sizeof(series), "%s_bucket", name);
	for (size_t i = 0; i <= h->n_bounds && i <= METRICS_HIST_MAX; i++) {
		cum += h->counts[i];
		if (i < h->n_bounds)
			snprintf(le, sizeof(le), "%.9g", h->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		sample_write(b, series, labels, n, &l, (double)cum);
	}
	snprintf(series, sizeof(series), "%s_sum", name);
	sample_write(b, series, labels, n, NULL, h->sum);
	snprintf(series, sizeof(series), "%s_count", name);
	sample_write(b, series, labels, n, NULL, (double)cum);
}
