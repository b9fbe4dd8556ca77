/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Address and port rewrites with incremental IPv4 and L4 checksum updates. */
#ifndef SL_LIB_NAT_H
#define SL_LIB_NAT_H

#include <stdbool.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

#include "lib/csum.h"
#include "lib/l4.h"
#include "lib/parse.h"
#include "lib/skb_csum.h"
#include "sluice/abi.h"

/* What a UDP checksum that sums to zero is sent as (0 means "none"). */
#define NAT_CSUM_MANGLED_0 ((__sum16)0xffff)

/* The one's complement sum of ~from and to, the RFC 1624 change of a
 * checksum when the 32-bit word from becomes to. */
static __always_inline __u32 nat_diff32(__be32 from, __be32 to)
{
	return (~from & 0xffff) + (~from >> 16) + (to & 0xffff) + (to >> 16);
}

static __always_inline __u32 nat_diff16(__be16 from, __be16 to)
{
	return (__u16)~from + (__u16)to;
}

/* The L4 checksum by the helper, which knows the skb's checksum state and
 * keeps skb->csum of a CHECKSUM_COMPLETE skb: one call for the addresses
 * (adiff, the pseudo header) and one for the ports (pdiff), each only when
 * changed. A zero UDP checksum means "none" and stays zero. */
static __always_inline int nat4_l4_csum_helper(struct __sk_buff *skb, const struct l4_tuple *t,
					       const struct l4_tuple *to, __u32 adiff, __u32 pdiff)
{
	__u64 mm = t->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if ((t->saddr != to->saddr || t->daddr != to->daddr) &&
	    bpf_l4_csum_replace(skb, t->csum_off, 0, adiff, BPF_F_PSEUDO_HDR | mm) < 0)
		return -SL_DROP_NAT;
	if ((t->sport != to->sport || t->dport != to->dport) &&
	    bpf_l4_csum_replace(skb, t->csum_off, 0, pdiff, mm) < 0)
		return -SL_DROP_NAT;
	return 0;
}

/* The L4 checksum of a rewrite by adiff (addresses) and pdiff (ports):
 * in place where the skb's state allows, no helper call (see skb_csum.h). */
static __always_inline int nat4_l4_csum(struct __sk_buff *skb, const struct l4_tuple *t,
					const struct l4_tuple *to, __u32 adiff, __u32 pdiff)
{
	enum skb_csum how;
	__sum16 *sum;

	if (!t->csum_off)
		return 0;
	how = skb_csum_of(skb);
	sum = how == SKB_CSUM_HELPER ? NULL : pkt_at(skb, t->csum_off, sizeof(*sum));
	if (!sum)
		return nat4_l4_csum_helper(skb, t, to, adiff, pdiff);
	if (t->proto == IPPROTO_UDP && !*sum)
		return 0;
	if (how == SKB_CSUM_FULL)
		*sum = csum_apply(*sum, adiff + pdiff);
	else /* PARTIAL: the pseudo header's sum, uncomplemented; ports not in it */
		*sum = (__sum16)~csum_apply((__sum16) ~*sum, adiff);
	if (t->proto == IPPROTO_UDP && !*sum)
		*sum = NAT_CSUM_MANGLED_0;
	return 0;
}

/* Rewrites t's packet to the addresses and ports of to (its other fields
 * unused) and t with it: one incremental update of the IPv4 header checksum
 * and one of the L4 checksum. -SL_DROP_NAT on failure. Invalidates packet
 * pointers. */
static __always_inline int nat4_rewrite(struct __sk_buff *skb, struct l4_tuple *t,
					const struct l4_tuple *to)
{
	__u32 adiff = nat_diff32(t->saddr, to->saddr) + nat_diff32(t->daddr, to->daddr);
	__u32 pdiff = nat_diff16(t->sport, to->sport) + nat_diff16(t->dport, to->dport);
	bool ports = t->sport != to->sport || t->dport != to->dport;
	__be16 port_to[2] = {to->sport, to->dport};
	struct iphdr *ip4;
	__be16 *l4;

	if (!ports && t->saddr == to->saddr && t->daddr == to->daddr)
		return 0;
	if (nat4_l4_csum(skb, t, to, adiff, pdiff) < 0)
		return -SL_DROP_NAT;
	ip4 = pkt_at(skb, ETH_HLEN, sizeof(*ip4));
	if (!ip4)
		return -SL_DROP_NAT;
	ip4->check = csum_apply(ip4->check, adiff);
	ip4->saddr = to->saddr;
	ip4->daddr = to->daddr;
	l4 = ports ? pkt_at(skb, t->l4_off, sizeof(port_to)) : NULL;
	if (l4) {
		l4[0] = port_to[0];
		l4[1] = port_to[1];
	} else if (ports && bpf_skb_store_bytes(skb, t->l4_off, port_to, sizeof(port_to), 0) < 0) {
		return -SL_DROP_NAT;
	}
	t->saddr = to->saddr;
	t->daddr = to->daddr;
	t->sport = to->sport;
	t->dport = to->dport;
	return 0;
}

#endif
