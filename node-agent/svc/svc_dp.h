/* SPDX-License-Identifier: Apache-2.0 */
/* The map layer the publisher writes through, and its implementation on the pinned maps. */
#ifndef SLUICE_AGENT_SVC_DP_H
#define SLUICE_AGENT_SVC_DP_H

#include "sluice/abi.h"

enum svc_map { SVC_MAP_SVC, SVC_MAP_BE, SVC_MAP_N };

/* The map layer: dp_svc_* and friends in the agent, a recorder in the tests.
 * Same contracts as dp.h (-errno, -ENOENT on deleting an absent key). */
struct svc_map_ops {
	int (*svc_update)(void *ctx, const struct sl_svc_key *key, const struct sl_svc_val *val);
	int (*svc_delete)(void *ctx, const struct sl_svc_key *key);
	int (*be_update)(void *ctx, __u32 id, const struct sl_be_val *val);
	int (*be_delete)(void *ctx, __u32 id);
	int (*svc_foreach)(void *ctx,
			   int (*fn)(const struct sl_svc_key *key, const struct sl_svc_val *val,
				     void *c),
			   void *c);
	int (*be_foreach)(void *ctx, int (*fn)(__u32 id, const struct sl_be_val *val, void *c),
			  void *c);
	/* Optional: zeroes the per service port counters of an id given out anew. */
	int (*stats_reset)(void *ctx, __u32 id);
};

/* The pinned maps under a pin dir, through dp.h: the agent's map layer. */
struct svc_dp {
	int fd[SVC_MAP_N];
	int stat_fd; /* sl_svcstat; -1 without it (counters then start where they were) */
};
extern const struct svc_map_ops svc_dp_ops;
int svc_dp_open(const char *pin_dir, struct svc_dp *d);
void svc_dp_close(struct svc_dp *d);

const char *svc_map_name(enum svc_map m);

#endif
