// SPDX-License-Identifier: Apache-2.0
/* Typed access to the north-south maps: sl_lbsrc4 (written by the agent) and sl_nat4 (read). */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "dp.h"
#include "dp_util.h"

int dp_lbsrc_update(int map_fd, const struct sl_lbsrc_key *k)
{
	struct sl_lbsrc_val val = {};

	return bpf_map_update_elem(map_fd, k, &val, BPF_ANY);
}

int dp_lbsrc_delete(int map_fd, const struct sl_lbsrc_key *k)
{
	return bpf_map_delete_elem(map_fd, k);
}

int dp_lbsrc_foreach(int map_fd, dp_walk_fn fn, void *ctx)
{
	return dp_map_walk(map_fd, sizeof(struct sl_lbsrc_key), sizeof(struct sl_lbsrc_val),
			   SL_LBSRC_MAX, fn, ctx);
}

int dp_nat_foreach(int map_fd, dp_walk_fn fn, void *ctx)
{
	return dp_map_walk(map_fd, sizeof(struct sl_nat_key), sizeof(struct sl_nat_val), SL_NAT_MAX,
			   fn, ctx);
}
