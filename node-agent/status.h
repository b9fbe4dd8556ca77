/* SPDX-License-Identifier: Apache-2.0 */
/* What `sluice-agent status` reports about a node's pinned datapath. */
#ifndef SLUICE_AGENT_STATUS_H
#define SLUICE_AGENT_STATUS_H

#include <stdbool.h>

#include "dp.h"

#define STATUS_N_MAPS 3

struct status_obj {
	const char *name; /* SL_PIN_* */
	int err; /* 0 pinned and described by info, -errno otherwise */
	struct dp_obj_info info;
};

struct status {
	const char *pin_dir;
	bool ready;
	char reason[256]; /* why not ready, "" when ready */
	int abi_err; /* 0 when abi_version is valid */
	__u32 abi_version;
	struct status_obj prog; /* sl_from_pod */
	struct status_obj maps[STATUS_N_MAPS]; /* sl_ep4, sl_metrics, sl_info */
	int endpoints; /* >= 0 count, -errno when sl_ep4 cannot be read */
	int metrics_err; /* 0 when metrics is valid */
	struct sl_metric_val metrics[SL_METRICS_MAX];
};

/* Reads everything under pin_dir. -ENOENT when nothing at all is pinned there;
 * otherwise 0, with each part's own error recorded in st. */
int status_collect(const char *pin_dir, struct status *st);

/* "hash", "percpu_array", ... for a bpf_map_type; "type N" in buf otherwise. */
const char *map_type_name(__u32 type, char *buf, size_t len);

/* st as one JSON object (see cmd_status.c), every known metric included;
 * malloc'd text the caller frees, NULL when out of memory. */
char *status_json_dump(const struct status *st);

#endif
