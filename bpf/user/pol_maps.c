// SPDX-License-Identifier: Apache-2.0
/* Typed operations on the policy maps: IP cache, allows, ipBlock prefixes,
 * the policy config, per-endpoint drops, and an endpoint's identity. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "dp_util.h"

int dp_ipcache_update(int map_fd, __be32 ip, __u32 prefix, __u32 identity)
{
	struct sl_ipcache_key key = {.prefixlen = prefix, .ip = ip};
	struct sl_ipcache_val val = {.identity = identity};

	return bpf_map_update_elem(map_fd, &key, &val, BPF_ANY);
}

int dp_ipcache_delete(int map_fd, __be32 ip, __u32 prefix)
{
	struct sl_ipcache_key key = {.prefixlen = prefix, .ip = ip};

	return bpf_map_delete_elem(map_fd, &key);
}

int dp_ipcache_foreach(int map_fd, dp_walk_fn fn, void *ctx)
{
	return dp_map_walk(map_fd, sizeof(struct sl_ipcache_key), sizeof(struct sl_ipcache_val),
			   SL_IPCACHE_MAX, fn, ctx);
}

int dp_pol_update(int map_fd, const struct sl_pol_key *k)
{
	struct sl_pol_val val = {};

	return bpf_map_update_elem(map_fd, k, &val, BPF_ANY);
}

int dp_pol_delete(int map_fd, const struct sl_pol_key *k)
{
	return bpf_map_delete_elem(map_fd, k);
}

int dp_pol_foreach(int map_fd, dp_walk_fn fn, void *ctx)
{
	return dp_map_walk(map_fd, sizeof(struct sl_pol_key), sizeof(struct sl_pol_val), SL_POL_MAX,
			   fn, ctx);
}

int dp_polcidr_update(int map_fd, const struct sl_polcidr_key *k, __u32 set_id)
{
	struct sl_polcidr_val val = {.set_id = set_id};

	return bpf_map_update_elem(map_fd, k, &val, BPF_ANY);
}

int dp_polcidr_delete(int map_fd, const struct sl_polcidr_key *k)
{
	return bpf_map_delete_elem(map_fd, k);
}

int dp_polcidr_foreach(int map_fd, dp_walk_fn fn, void *ctx)
{
	return dp_map_walk(map_fd, sizeof(struct sl_polcidr_key), sizeof(struct sl_polcidr_val),
			   SL_POLCIDR_MAX, fn, ctx);
}

int dp_polcfg_write(int map_fd, const struct sl_polcfg_val *val)
{
	__u32 zero = 0;

	return bpf_map_update_elem(map_fd, &zero, val, BPF_ANY);
}

int dp_polcfg_read(int map_fd, struct sl_polcfg_val *val)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(map_fd, &zero, val);
}

int dp_poldrop_read(int map_fd, __u32 ep_id, struct sl_poldrop_val *sum)
{
	struct sl_poldrop_key key = {.ep_id = ep_id};

	return DP_PERCPU_SUM(map_fd, &key, sum);
}

int dp_poldrop_delete(int map_fd, __u32 ep_id)
{
	struct sl_poldrop_key key = {.ep_id = ep_id};

	return bpf_map_delete_elem(map_fd, &key);
}

int dp_ep_policy_set(int map_fd, __be32 ip, __u32 identity, __u32 flags)
{
	struct sl_ep_key key = {.ip = ip};
	struct sl_ep_val val;
	int err;

	err = bpf_map_lookup_elem(map_fd, &key, &val);
	if (err)
		return err;
	val.identity = identity;
	val.flags = (val.flags & ~(SL_EP_F_ISO_IN | SL_EP_F_ISO_OUT)) | flags;
	/* never resurrect an endpoint the CNI plugin deleted meanwhile */
	return bpf_map_update_elem(map_fd, &key, &val, BPF_EXIST);
}
