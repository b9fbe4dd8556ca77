/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU packet and byte counters per drop reason and forwarding path. */
#ifndef SL_LIB_METRICS_H
#define SL_LIB_METRICS_H

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

#endif
