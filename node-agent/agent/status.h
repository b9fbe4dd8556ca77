/* SPDX-License-Identifier: Apache-2.0 */
/* What `sluice-agent status` reports about a node's pinned datapath. */
#ifndef SLUICE_AGENT_STATUS_H
#define SLUICE_AGENT_STATUS_H

#include <stdbool.h>
#include <stdio.h>

#include "dp.h"

#define STATUS_N_MAPS	  5
#define STATUS_AGENT_FILE "agent-status.json" /* in the CNI state dir */

struct json_t;

struct status_obj {
	const char *name; /* SL_PIN_* */
	int err;	  /* 0 pinned and described by info, -errno otherwise */
	struct dp_obj_info info;
};

struct status {
	const char *pin_dir;
	bool ready;
	char reason[256]; /* why not ready, "" when ready */
	int abi_err;	  /* 0 when abi_version is valid */
	__u32 abi_version;
	struct status_obj prog;		       /* sl_from_pod */
	struct status_obj maps[STATUS_N_MAPS]; /* sl_ep4, sl_metrics, sl_info, sl_svc4, sl_be4 */
	int endpoints;			       /* >= 0 count, -errno when sl_ep4 cannot be read */
	int slots;			       /* valid sl_epsrc4 slots, or -errno */
	int metrics_err;		       /* 0 when metrics is valid */
	struct sl_metric_val metrics[SL_METRICS_MAX];
	/* what the running agent published: {"api", "resources", "routes", ...};
	 * NULL when the file is missing or unreadable (agent_err says why) */
	struct json_t *agent;
	int agent_err;
};

/* The running agent's view of the API, published for `status`. */
struct status_resource {
	const char *name;
	bool synced;
	const char *rv;
	unsigned long objects;
	unsigned int relists, errors, malformed;
};

struct status_route {
	char dst[20]; /* "10.244.2.0/24" */
	char via[16];
};

struct svc_stats;
struct pol_stats;
struct pin_stats;
struct kube_store;

struct status_agent {
	const char *mode;   /* "kubeconfig", "in-cluster", "standalone" */
	const char *server; /* NULL when standalone */
	const char *node;
	const char *pod_cidr;	   /* "" until known */
	const char *nodeport_mode; /* --nodeport-mode; NULL: not reported */
	bool cni_ready;		   /* conflist written */
	const char *waiting;	   /* why not ready yet, "" when ready */
	int n_resources;
	struct status_resource resources[8];
	size_t n_routes;
	const struct status_route *routes;
	const struct svc_stats *svc;	  /* NULL: Services are not published */
	const struct pol_stats *pol;	  /* NULL: policies are not published */
	const struct kube_store *netpols; /* for the policies that cannot be enforced */
	const struct pin_stats *pins;	  /* NULL: no pin guard */
};

/* Writes a as JSON to path atomically (temp file + rename). */
int status_agent_publish(const char *path, const struct status_agent *a);
/* Writes j to path the same way (parent directories created). */
int status_file_write(const char *path, struct json_t *j);
/* The same with what fill writes to f (0 or -errno): for files too big to
 * build in memory first. */
typedef int (*status_fill_fn)(FILE *f, void *ctx);
int status_file_write_with(const char *path, status_fill_fn fill, void *ctx);

/* Reads the published file into st->agent (st->agent_err on failure). */
void status_agent_load(struct status *st, const char *path);

/* Reads everything under pin_dir. -ENOENT when nothing at all is pinned there;
 * otherwise 0, with each part's own error recorded in st. */
int status_collect(const char *pin_dir, struct status *st);

/* "hash", "percpu_array", ... for a bpf_map_type; "type N" in buf otherwise. */
const char *map_type_name(__u32 type, char *buf, size_t len);

/* st as one JSON object (see cmd_status.c), every known metric included;
 * malloc'd text the caller frees, NULL when out of memory. */
char *status_json_dump(const struct status *st);

#endif
