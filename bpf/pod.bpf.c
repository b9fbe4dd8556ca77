// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Programs on the host side of each pod veth: tc ingress sees what the pod sends. */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/arp.h"
#include "lib/consts.h"
#include "lib/ep.h"
#include "lib/fwd.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "sluice/abi.h"

/* ARP from a pod: requests for the gateway are answered here, the rest goes to
 * the node once the sender proved to be the endpoint on this veth. */
static __always_inline int from_pod_arp(struct __sk_buff *skb, int *verdict)
{
	const struct sl_ep_val *ep;
	struct arp_eth *arp;
	struct ethhdr *eth;
	int ret;

	ret = pkt_pull(skb, ETH_HLEN + sizeof(struct arp_eth));
	if (ret)
		return ret;
	eth = pkt_eth(skb);
	arp = pkt_arp(skb);
	if (!eth || !arp)
		return -SL_DROP_SHORT;

	*verdict = TC_ACT_OK;
	if (arp->spa == 0) /* address probe (RFC 5227): claims nothing */
		return SL_PATH_ARP_PASS;
	ep = ep4_lookup(arp->spa);
	if (!ep || ep->ifindex != skb->ingress_ifindex || !mac_eq(arp->sha, ep->pod_mac))
		return -SL_DROP_SPOOF_ARP;
	if (!arp_is_gateway_request(arp))
		return SL_PATH_ARP_PASS;

	arp_reply_gateway(eth, arp, ep->host_mac);
	return fwd_redirect_result(bpf_redirect(skb->ifindex, 0), SL_PATH_ARP_REPLY, verdict);
}

/* IPv4 from a pod: anti-spoofing, then a local pod or the node's routing. */
static __always_inline int from_pod_ipv4(struct __sk_buff *skb, int *verdict)
{
	const struct sl_ep_val *src, *dst;
	struct ethhdr *eth;
	struct iphdr *ip4;
	int ret;

	ret = pkt_pull(skb, ETH_HLEN + sizeof(struct iphdr));
	if (ret)
		return ret;
	eth = pkt_eth(skb);
	ip4 = pkt_ipv4(skb);
	if (!eth || !ip4)
		return -SL_DROP_SHORT;

	ret = ep4_source(skb, eth, ip4->saddr, &src);
	if (ret)
		return ret;
	dst = ep4_lookup(ip4->daddr);
	if (dst)
		return fwd_local4(eth, ip4, dst, verdict);
	return fwd_fib4(skb, eth, ip4, verdict);
}

/* >= 0: the SL_PATH_* taken, with *verdict set; < 0: a -SL_DROP_* reason. */
static __always_inline int from_pod(struct __sk_buff *skb, int *verdict)
{
	struct ethhdr *eth;
	int ret;

	ret = pkt_pull(skb, ETH_HLEN);
	if (ret)
		return ret;
	eth = pkt_eth(skb);
	if (!eth)
		return -SL_DROP_SHORT;

	switch (bpf_ntohs(eth->h_proto)) {
	case ETH_P_IP:
		return from_pod_ipv4(skb, verdict);
	case ETH_P_ARP:
		return from_pod_arp(skb, verdict);
	default:
		return -SL_DROP_L3_PROTO;
	}
}

SEC("tc")
int sl_from_pod(struct __sk_buff *skb)
{
	int verdict = TC_ACT_OK;
	int ret = from_pod(skb, &verdict);

	metrics_count(ret < 0 ? -ret : ret, skb->len);
	return ret < 0 ? TC_ACT_SHOT : verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
