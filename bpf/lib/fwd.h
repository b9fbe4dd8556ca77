/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Forwarding of IPv4 packets: to a local pod, or by the node's FIB. */
#ifndef SL_LIB_FWD_H
#define SL_LIB_FWD_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/consts.h"
#include "lib/eth.h"
#include "lib/ipv4.h"

static __always_inline int fwd_redirect_result(int verdict, int path, int *out)
{
	*out = verdict;
	return verdict == TC_ACT_REDIRECT ? path : -SL_DROP_REDIRECT;
}

/* Straight into the pod's namespace: the peer of its host veth. */
static __always_inline int fwd_local4(struct ethhdr *eth, struct iphdr *ip4,
				      const struct sl_ep_val *dst, int *verdict)
{
	int ret = ipv4_ttl_dec(ip4);

	if (ret)
		return ret;
	mac_copy(eth->h_source, dst->host_mac);
	mac_copy(eth->h_dest, dst->pod_mac);
	return fwd_redirect_result(bpf_redirect_peer(dst->ifindex, 0), SL_PATH_LOCAL, verdict);
}

/* Routed by the node's FIB from the pod's host veth; whatever the FIB does
 * not forward (the node's own addresses, no route) goes to the stack. */
static __always_inline int fwd_fib4(struct __sk_buff *skb, struct ethhdr *eth, struct iphdr *ip4,
				    int *verdict)
{
	struct bpf_fib_lookup fib = {};
	struct bpf_redir_neigh nh = {};
	int rc, ret;

	fib.family = AF_INET;
	fib.tos = ip4->tos;
	fib.l4_protocol = ip4->protocol;
	/* A GSO packet (a TSO sender's, through veths) is many segments long:
	 * its IP length fails the FIB's MTU check although each segment fits,
	 * and the stack it would go to drops a SNATed one (a local source).
	 * Without tot_len the helper checks it as the stack does (GSO passes,
	 * segmented at the egress, too big there: "fragmentation needed"). */
	fib.tot_len = skb->gso_size ? 0 : bpf_ntohs(ip4->tot_len);
	fib.ipv4_src = ip4->saddr;
	fib.ipv4_dst = ip4->daddr;
	fib.ifindex = skb->ingress_ifindex;

	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) {
		*verdict = TC_ACT_OK;
		return SL_PATH_STACK;
	}
	ret = ipv4_ttl_dec(ip4);
	if (ret)
		return ret;
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		mac_copy(eth->h_source, fib.smac);
		mac_copy(eth->h_dest, fib.dmac);
		return fwd_redirect_result(bpf_redirect(fib.ifindex, 0), SL_PATH_FIB, verdict);
	}
	nh.nh_family = fib.family;
	nh.ipv4_nh = fib.ipv4_dst;
	return fwd_redirect_result(bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0), SL_PATH_FIB,
				   verdict);
}

#endif
