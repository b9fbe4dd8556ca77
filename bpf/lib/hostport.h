/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* HostPort: a pod's hostPort (sl_hport4, written by the CNI plugin) DNATed to the pod. */
#ifndef SL_LIB_HOSTPORT_H
#define SL_LIB_HOSTPORT_H

#include <stdbool.h>

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/consts.h"
#include "lib/ct.h"
#include "lib/l4.h"
#include "lib/lb.h"
#include "lib/maps.h"
#include "lib/nat.h"
#include "sluice/abi.h"

/*
 * What the portmap plugin does with iptables, done here: a packet to
 * {hostIP, hostPort, protocol} is DNATed to {pod, containerPort} and only
 * DNATed, so the pod sees the client's address. The flow is tracked in sl_ct4
 * as a Service flow is (SL_CT_F_HOSTPORT, svc_id 0): its later packets take
 * the established path of whichever program sees them, the pod's replies are
 * reverse-NATed by sl_from_pod from the reply entry, a pod reaching its own
 * hostPort hairpins through the Service loopback address.
 *
 * A mapping without hostIP serves every address of the node: a tc program
 * asks the FIB (a local route does not forward), a socket program whether
 * the address is loopback or one the socket can bind to.
 */

/* Whether some pod has hostPort port (network order) for proto: one array
 * read, so traffic to other ports pays no hash lookup. */
static __always_inline bool hp4_gated(__be16 port, __u8 proto)
{
	__u16 p = bpf_ntohs(port);
	__u32 idx = p >> 6;
	__u64 *bits;

	if (proto == IPPROTO_UDP)
		idx += SL_HPGATE_PER_PROTO;
	else if (proto == IPPROTO_SCTP)
		idx += 2 * SL_HPGATE_PER_PROTO;
	else if (proto != IPPROTO_TCP)
		return false;
	bits = bpf_map_lookup_elem(&sl_hpgate, &idx);
	return bits && ((*bits >> (p & 63)) & 1);
}

/* The pod behind {daddr, port, proto}: the mapping with hostIP daddr, else
 * the port's every-address one (*any set: the caller checks that daddr is
 * the node's). NULL when there is none. */
static __always_inline const struct sl_hport_val *hp4_lookup(__be32 daddr, __be16 port, __u8 proto,
							     bool *any)
{
	struct sl_hport_key key = {};
	const struct sl_hport_val *v;

	if (!hp4_gated(port, proto))
		return NULL;
	key.ip = daddr;
	key.port = port;
	key.proto = proto;
	*any = false;
	v = bpf_map_lookup_elem(&sl_hport4, &key);
	if (v)
		return v;
	key.ip = 0;
	*any = true;
	return bpf_map_lookup_elem(&sl_hport4, &key);
}

/* Whether the node's FIB holds daddr for one of the node's own addresses
 * (portmap's "dst-type LOCAL"): a route that does not forward, and no
 * multicast or broadcast address. */
static __always_inline bool hp4_local(struct __sk_buff *skb, __be32 daddr)
{
	struct bpf_fib_lookup fib = {};
	__u32 h = bpf_ntohl(daddr);

	if ((h >> 28) == 0xe || h == 0xffffffff)
		return false;
	fib.family = AF_INET;
	fib.ipv4_dst = daddr;
	fib.ifindex = skb->ingress_ifindex;
	return bpf_fib_lookup(skb, &fib, sizeof(fib), 0) == BPF_FIB_LKUP_RET_NOT_FWDED;
}

/* The pod of a new flow t to a hostPort of this node into *be; false when t
 * goes to none. */
static __always_inline bool hp4_target(struct __sk_buff *skb, const struct l4_tuple *t,
				       struct sl_be_val *be)
{
	const struct sl_hport_val *v;
	bool any = false;

	v = hp4_lookup(t->daddr, t->dport, t->proto, &any);
	if (!v || (any && !hp4_local(skb, t->daddr)))
		return false;
	be->ip = v->pod_ip;
	be->port = v->pod_port;
	be->proto = t->proto;
	be->flags = SL_BE_F_LOCAL;
	return true;
}

/* The conntrack entries of the new hostPort flow t to be (p, for the caller to write). */
static __always_inline void hp4_pair_fill(const struct l4_tuple *t, const struct sl_be_val *be,
					  bool hairpin, struct ct4_pair *p)
{
	lb4_pair_fill(t, 0, be, 0, hairpin, p);
	p->fv.flags |= SL_CT_F_HOSTPORT;
	p->rv.flags |= SL_CT_F_HOSTPORT;
}

/* A new flow from a pod of this node to a hostPort of this node: DNAT to the
 * pod (and the loopback source when it is the same pod), the flow's entries
 * in p. 0 when t goes to no hostPort, SL_PATH_HOSTPORT once rewritten. */
static __always_inline int hp4_from_pod(struct __sk_buff *skb, struct l4_tuple *t,
					struct ct4_pair *p)
{
	struct sl_be_val be = {};
	bool hairpin;
	int ret;

	if (!hp4_target(skb, t, &be))
		return 0;
	hairpin = be.ip == t->saddr;
	hp4_pair_fill(t, &be, hairpin, p);
	ret = lb4_dnat(skb, t, &be, hairpin);
	return ret ? ret : SL_PATH_HOSTPORT;
}

#endif
