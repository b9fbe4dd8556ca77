// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Programs on the host side of each pod veth: tc ingress sees what the pod
 * sends (sl_from_pod), tc egress what the node sends into it (sl_to_pod). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/arp.h"
#include "lib/dsr.h"
#include "lib/ep.h"
#include "lib/events.h"
#include "lib/fwd.h"
#include "lib/hostport.h"
#include "lib/icmp_err.h"
#include "lib/l4.h"
#include "lib/lb.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/pmtu.h"
#include "lib/policy.h"
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

/* Service handling of a pod's TCP/UDP/SCTP packet, with the one conntrack
 * lookup of its tuple: reverse NAT of a reply of a load-balanced flow, else
 * load balancing if it goes to a ClusterIP, else DNAT if it goes to a hostPort. f is set to the
 * flow policy judges (proto 0 when none): the tuple after DNAT with the client's real source, or
 * the reply as the backend sent it; *ct to the entry of the flow the packet continues (NULL: it
 * opens one, whose entries p holds when it is a Service flow). 0 when neither applies, else as
 * lb4_service. */
static __always_inline int from_pod_lb4(struct __sk_buff *skb, const struct iphdr *ip4,
					struct l4_tuple *f, struct sl_ct_val **ct,
					struct ct4_pair *p, int *verdict)
{
	struct sl_ct_val *e;
	struct l4_tuple t;
	int ret;

	f->proto = 0;
	if (!l4_supported(ip4->protocol))
		return 0;
	ret = l4_tuple_load(skb, ip4, &t);
	if (ret)
		return ret < 0 ? ret : 0;
	*f = t;
	e = ct4_lookup(&t);
	if (e && (e->flags & SL_CT_F_REPLY)) {
		*ct = e;
		return lb4_rev_nat(skb, &t, e);
	}
	if (e && (e->flags & SL_CT_F_POLICY) && !ct4_opens(&t)) {
		*ct = e; /* a policed flow to a pod: no Service to look for */
		return 0;
	}
	ret = lb4_service(skb, &t, e, p, verdict);
	if (!ret)
		ret = hp4_from_pod(skb, &t, p); /* a hostPort of this node */
	if (ret == SL_PATH_SVC_CT)
		*ct = e;
	if (!ret && ct4_opens(&t))
		/* A new connection straight to a pod (e.g. balanced by the socket
		 * programs): an old load-balanced flow from the same client port
		 * to this backend must not reverse-NAT its replies. */
		ct4_forget_reply(&t, t.daddr, t.dport, t.saddr);
	if (ret > 0) {
		f->daddr = t.daddr; /* the backend chosen; the source stays the client */
		f->dport = t.dport;
	}
	return ret;
}

/* IPv4 from a pod: anti-spoofing, services, policy, then a local pod or the
 * node's routing; *too_big the local pod's MTU when the packet (DF) is
 * longer. */
static __always_inline int from_pod_ipv4(struct __sk_buff *skb, int *verdict, __u32 *too_big)
{
	const struct sl_ep_val *src = NULL, *dst;
	struct sl_ct_val *ct = NULL;
	struct ct4_pair p;
	struct l4_tuple f;
	struct ethhdr *eth;
	struct iphdr *ip4;
	__be32 saddr;
	__u32 gen;
	int ret, lb;

	ret = pkt_pull(skb, ETH_HLEN + sizeof(struct iphdr));
	if (ret)
		return ret;
	eth = pkt_eth(skb);
	ip4 = pkt_ipv4(skb);
	if (!eth || !ip4)
		return -SL_DROP_SHORT;

	saddr = ip4->saddr;
	ret = ep4_source_slot(skb, eth, saddr); /* src itself only when policy reads it */
	if (ret > 0)
		ret = ep4_source(skb, eth, saddr, &src);
	if (ret)
		return ret;
	p.fwd.proto = 0;
	f.proto = 0;
	if (ip4->protocol == IPPROTO_ICMP) /* a local backend's error, or a client's */
		lb = icmp4_err_rev_nat(skb, ICMP_ERR_TO_CLIENT | ICMP_ERR_TO_BACKEND);
	else
		lb = from_pod_lb4(skb, ip4, &f, &ct, &p, verdict);
	if (lb < 0 || lb == SL_PATH_SVC_REJECT)
		return lb;
	if (lb) { /* rewritten: the old packet pointers are gone */
		eth = pkt_eth(skb);
		ip4 = pkt_ipv4(skb);
		if (!eth || !ip4)
			return -SL_DROP_SHORT;
	}
	/* a reply keeps its pre-rewrite destination: the flow's client */
	dst = ep4_lookup(lb == SL_PATH_REVNAT ? f.daddr : ip4->daddr);
	if (f.proto) {
		/* judged before the redirect: it skips the destination's hooks */
		gen = pol_gen();
		if (!src && pol4_judges(ct, gen))
			ret = ep4_source(skb, eth, saddr, &src);
		if (!ret)
			ret = pol4_check_gen(src, dst, &f, ct, &p, false, gen);
		if (ret)
			return ret;
	}
	if (lb == SL_PATH_REVNAT && f.daddr != ip4->daddr)
		dst = ep4_lookup(ip4->daddr); /* after a hairpin: the real client */
	if (dst && pmtu4_candidate(skb, false)) {
		*too_big = pmtu4_exceeded(skb, dst->ifindex);
		if (*too_big)
			return SL_PATH_PMTU; /* answered by sl_from_pod */
	}
	if (dst)
		ret = fwd_local4(eth, ip4, dst, verdict);
	else
		ret = fwd_fib4(skb, eth, ip4, verdict);
	return ret < 0 || !lb ? ret : lb;
}

/* >= 0: the SL_PATH_* taken, with *verdict set (*too_big set instead for
 * SL_PATH_PMTU); < 0: a -SL_DROP_* reason. */
static __always_inline int from_pod(struct __sk_buff *skb, int *verdict, __u32 *too_big)
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
		return from_pod_ipv4(skb, verdict, too_big);
	case ETH_P_ARP:
		return from_pod_arp(skb, verdict);
	default:
		return -SL_DROP_L3_PROTO;
	}
}

SEC("tc")
int sl_from_pod(struct __sk_buff *skb)
{
	__u32 len = skb->len; /* a reject changes it */
	int verdict = TC_ACT_OK;
	__u32 too_big = 0;
	int ret = from_pod(skb, &verdict, &too_big);

	if (too_big) /* built here, where from_pod's stack is free again */
		ret = pmtu4_answer(skb, too_big, &verdict);
	metrics_count(ret < 0 ? -ret : ret, len);
	if (ret < 0)
		events_drop(skb, -ret);
	return ret < 0 ? TC_ACT_SHOT : verdict;
}

/* A flow sl_from_net DNATed to this pod (NodePort, external or LB IP): its
 * packets carry the pod's address, so only the reply entry, keyed by t
 * turned round, knows it. It was judged as it opened; here it is judged
 * again by that entry when policy changed, and no policy entry is written
 * over it. 0 when t is such a flow and allowed, 1 when it is none, else the
 * drop reason. */
static __always_inline int to_pod_ns(const struct l4_tuple *t)
{
	struct l4_tuple r = *t;
	struct sl_ct_val *rep;

	r.saddr = t->daddr;
	r.daddr = t->saddr;
	r.sport = t->dport;
	r.dport = t->sport;
	rep = ct4_lookup(&r);
	if (!rep || (rep->flags & (SL_CT_F_REPLY | SL_CT_F_POLICY)) != SL_CT_F_REPLY)
		return 1;
	return pol4_check(ep4_lookup(t->daddr), NULL, &r, rep, NULL, false);
}

/* Into the pod from the node's stack (another node, the node itself):
 * ingress policy on the tuple as it arrives, then the service's address
 * back on replies of load-balanced flows whose backend is elsewhere, and on
 * ICMP errors about them. 0 when nothing was done, else as lb4_rev_nat,
 * icmp4_err_rev_nat or a -SL_DROP_* reason. */
static __always_inline int to_pod(struct __sk_buff *skb)
{
	struct sl_ct_val *ct;
	struct l4_tuple t;
	struct ethhdr *eth;
	struct iphdr *ip4;
	int ret;

	if (pkt_pull(skb, ETH_HLEN))
		return 0;
	eth = pkt_eth(skb);
	if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	if (pkt_pull(skb, ETH_HLEN + sizeof(struct iphdr)))
		return 0;
	ip4 = pkt_ipv4(skb);
	if (ip4 && ip4->protocol == IPPROTO_ICMP) /* from a remote backend, or a router */
		return icmp4_err_rev_nat(skb, ICMP_ERR_TO_CLIENT);
	if (!ip4 || !l4_supported(ip4->protocol))
		return 0;
	ret = l4_tuple_load(skb, ip4, &t);
	if (ret)
		return 0; /* not ours to judge: the pod's stack will */
	/* a DSR flow's frontend, from the entry node (lib/dsr.h)? */
	if (nodeport_dsr && ip4->ihl > 5) {
		ret = dsr4_to_pod(skb, ip4, &t);
		if (ret)
			return ret;
	}
	ct = ct4_lookup(&t);
	if (ct && !(ct->flags & SL_CT_F_REPLY) && ct4_opens(&t))
		ct = NULL; /* a new connection on an old tuple */
	if (!ct)
		ret = to_pod_ns(&t);
	if (!ct && ret <= 0)
		return ret;
	/* sent by this node's own stack: no receiving interface */
	ret = pol4_check(NULL, ep4_lookup(t.daddr), &t, ct, NULL, skb->ingress_ifindex == 0);
	if (ret)
		return ret;
	return lb4_rev_nat(skb, &t, ct);
}

SEC("tc")
int sl_to_pod(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	int ret = to_pod(skb);

	if (ret)
		metrics_count(ret < 0 ? -ret : ret, len);
	if (ret < 0)
		events_drop(skb, -ret);
	return ret < 0 ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
