// SPDX-License-Identifier: Apache-2.0
/* Reads of single entries and walks of the datapath maps, for the CLI's
 * tables and `explain`: the lookups the programs do, from user space. */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "dp.h"
#include "dp_util.h"

/* In the scope of k: the tables walk both. */
int dp_svc_lookup(int map_fd, const struct sl_svc_key *k, struct sl_svc_val *val)
{
	struct sl_svc_key key = dp_svc_key(k);

	return bpf_map_lookup_elem(map_fd, &key, val);
}

int dp_be_lookup(int map_fd, __u32 id, struct sl_be_val *val)
{
	struct sl_be_key key = {.id = id};

	return bpf_map_lookup_elem(map_fd, &key, val);
}

int dp_ct_lookup(int map_fd, const struct sl_ct_key *k, struct sl_ct_val *val)
{
	struct sl_ct_key key = {};

	key.saddr = k->saddr;
	key.daddr = k->daddr;
	key.sport = k->sport;
	key.dport = k->dport;
	key.proto = k->proto;
	return bpf_map_lookup_elem(map_fd, &key, val);
}

int dp_ct_foreach(int map_fd, dp_walk_fn fn, void *ctx)
{
	return dp_map_walk(map_fd, sizeof(struct sl_ct_key), sizeof(struct sl_ct_val), SL_CT_MAX,
			   fn, ctx);
}

int dp_aff_lookup(int map_fd, __be32 client, __u32 svc_id, struct sl_aff_val *val)
{
	struct sl_aff_key key = {.client = client, .svc_id = svc_id};

	return bpf_map_lookup_elem(map_fd, &key, val);
}

int dp_ipcache_lookup(int map_fd, __be32 ip, __u32 *identity)
{
	struct sl_ipcache_key key = {.prefixlen = 32, .ip = ip};
	struct sl_ipcache_val val;
	int err;

	err = bpf_map_lookup_elem(map_fd, &key, &val);
	if (!err)
		*identity = val.identity;
	return err;
}

int dp_pol_lookup(int map_fd, const struct sl_pol_key *k)
{
	struct sl_pol_key key = {};
	struct sl_pol_val val;

	key.ep_id = k->ep_id;
	key.peer = k->peer;
	key.dport = k->dport;
	key.proto = k->proto;
	return bpf_map_lookup_elem(map_fd, &key, &val);
}

int dp_polcidr_lookup(int map_fd, __u32 ep_id, __u8 dir, __be32 ip, __u32 *set_id)
{
	struct sl_polcidr_key key = {.prefixlen = 64 + 32, .ep_id = ep_id, .dir = dir, .ip = ip};
	struct sl_polcidr_val val;
	int err;

	err = bpf_map_lookup_elem(map_fd, &key, &val);
	if (!err)
		*set_id = val.set_id;
	return err;
}
