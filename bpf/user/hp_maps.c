// SPDX-License-Identifier: Apache-2.0
/* Typed access to the hostPort maps: sl_hport4 and its port gate sl_hpgate (written by the CNI
 * plugin). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "dp.h"
#include "dp_util.h"

int dp_hport_insert(int map_fd, const struct sl_hport_key *key, const struct sl_hport_val *val)
{
	return bpf_map_update_elem(map_fd, key, val, BPF_NOEXIST);
}

int dp_hport_lookup(int map_fd, const struct sl_hport_key *key, struct sl_hport_val *val)
{
	return bpf_map_lookup_elem(map_fd, key, val);
}

int dp_hport_delete(int map_fd, const struct sl_hport_key *key)
{
	return bpf_map_delete_elem(map_fd, key);
}

int dp_hport_foreach(int map_fd, dp_walk_fn fn, void *ctx)
{
	return dp_map_walk(map_fd, sizeof(struct sl_hport_key), sizeof(struct sl_hport_val),
			   SL_HPORT_MAX, fn, ctx);
}

struct port_find {
	__be16 port;
	__u8 proto;
	bool found;
};

static int port_match(const void *key, const void *val, void *ctx)
{
	const struct sl_hport_key *k = key;
	struct port_find *f = ctx;

	f->found = k->port == f->port && k->proto == f->proto;
	return f->found;
}

/* The gate entry holding port's bit for proto (as hp4_gated reads it). */
static int hpgate_idx(__be16 port, __u8 proto, __u32 *idx)
{
	*idx = ntohs(port) / 64;
	if (proto == IPPROTO_UDP)
		*idx += SL_HPGATE_PER_PROTO;
	else if (proto == IPPROTO_SCTP)
		*idx += 2 * SL_HPGATE_PER_PROTO;
	else if (proto != IPPROTO_TCP)
		return -EPROTONOSUPPORT;
	return 0;
}

int dp_hpgate_get(int gate_fd, __be16 port, __u8 proto)
{
	__u64 bits = 0;
	__u32 idx;
	int r;

	r = hpgate_idx(port, proto, &idx);
	if (r == 0)
		r = bpf_map_lookup_elem(gate_fd, &idx, &bits);
	return r < 0 ? r : (int)((bits >> (ntohs(port) % 64)) & 1);
}

int dp_hpgate_sync(int hport_fd, int gate_fd, __be16 port, __u8 proto)
{
	struct port_find f = {.port = port, .proto = proto};
	__u64 bits = 0, bit = 1ull << (ntohs(port) % 64);
	__u32 idx;
	int r;

	r = hpgate_idx(port, proto, &idx);
	if (r < 0)
		return r;
	r = dp_hport_foreach(hport_fd, port_match, &f);
	if (r < 0)
		return r;
	r = bpf_map_lookup_elem(gate_fd, &idx, &bits);
	if (r < 0)
		return r;
	bits = f.found ? bits | bit : bits & ~bit;
	return bpf_map_update_elem(gate_fd, &idx, &bits, BPF_ANY);
}
