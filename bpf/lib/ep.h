/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Endpoint (local pod) lookups and the anti-spoofing check on their packets. */
#ifndef SL_LIB_EP_H
#define SL_LIB_EP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

#include "lib/eth.h"
#include "lib/maps.h"

static __always_inline const struct sl_ep_val *ep4_lookup(__be32 ip)
{
	struct sl_ep_key key = {};

	key.ip = ip;
	return bpf_map_lookup_elem(&sl_ep4, &key);
}

/* The endpoint that owns saddr, if the packet really comes from its veth with
 * its MAC; else -SL_DROP_SPOOF_IP or -SL_DROP_SPOOF_MAC. */
static __always_inline int ep4_source(struct __sk_buff *skb, const struct ethhdr *eth, __be32 saddr,
				      const struct sl_ep_val **out)
{
	const struct sl_ep_val *ep = ep4_lookup(saddr);

	if (!ep || ep->ifindex != skb->ingress_ifindex)
		return -SL_DROP_SPOOF_IP;
	if (!mac_eq(eth->h_source, ep->pod_mac))
		return -SL_DROP_SPOOF_MAC;
	*out = ep;
	return 0;
}

/* 0 when saddr and the source MAC are those the sl_epsrc4 slot of the
 * ingress veth names (one array lookup, no hash); 1 when the slot cannot
 * tell (beyond the array, empty or being written, another of the pod's
 * addresses, or a spoof): ep4_source decides. The slot's ifindex is read
 * before the rest: the writer sets it last and clears it first. */
static __always_inline int ep4_source_slot(struct __sk_buff *skb, const struct ethhdr *eth,
					   __be32 saddr)
{
	__u32 ifindex = skb->ingress_ifindex;
	const struct sl_epsrc_val *s = bpf_map_lookup_elem(&sl_epsrc4, &ifindex);

	if (!s || !ifindex || s->ifindex != ifindex)
		return 1;
	asm volatile("" ::: "memory"); /* no field read before the ifindex */
	if (s->ip != saddr || !mac_eq(eth->h_source, s->pod_mac))
		return 1;
	return 0;
}

#endif
