/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU packet and byte counters per drop reason and forwarding path, and
 * per service port. */
#ifndef SL_LIB_METRICS_H
#define SL_LIB_METRICS_H

#include <stdbool.h>

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lib/maps.h"

static __always_inline void metrics_count(__u32 index, __u32 bytes)
{
	struct sl_metric_val *m;

	m = bpf_map_lookup_elem(&sl_metrics, &index);
	if (!m)
		return;
	m->packets++;
	m->bytes += bytes;
}

/* One packet of bytes sent to service port svc_id, opening a flow if new:
 * one array lookup, per-CPU so no atomics. */
static __always_inline void metrics_svc_count(__u32 svc_id, bool new_flow, __u32 bytes)
{
	struct sl_svcstat_val *s;

	s = bpf_map_lookup_elem(&sl_svcstat, &svc_id);
	if (!s)
		return; /* an id beyond the map's size: not counted */
	s->flows += new_flow;
	s->packets++;
	s->bytes += bytes;
}

#endif
