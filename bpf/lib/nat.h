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

#include "lib/l4.h"
#include "lib/parse.h"
#include "sluice/abi.h"

/* A zero UDP checksum means "none" and stays zero. */
static __always_inline __u64 nat_l4_flags(const struct l4_tuple *t)
{
	return t->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
}

/* RFC 1624 incremental update of a checksum for a 32-bit word change. */
static __always_inline void csum4_replace(__sum16 *sum, __be32 from, __be32 to)
{
	__u32 s =
	    (~(__u32)*sum & 0xffff) + (~from & 0xffff) + (~from >> 16) + (to & 0xffff) + (to >> 16);

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	*sum = (__sum16)~s;
}

/* Rewrites the source (src) or destination address; the L4 checksum covers
 * it through the pseudo header (the helper knows the skb's checksum state),
 * the IPv4 header checksum is updated in place. Invalidates packet pointers. */
static __always_inline int nat4_addr(struct __sk_buff *skb, struct l4_tuple *t, bool src, __be32 to)
{
	__be32 from = src ? t->saddr : t->daddr;
	struct iphdr *ip4;

	if (from == to)
		return 0;
	if (t->csum_off && bpf_l4_csum_replace(skb, t->csum_off, from, to,
					       BPF_F_PSEUDO_HDR | nat_l4_flags(t) | 4) < 0)
		return -SL_DROP_NAT;
	ip4 = pkt_at(skb, ETH_HLEN, sizeof(*ip4));
	if (!ip4)
		return -SL_DROP_NAT;
	csum4_replace(&ip4->check, from, to);
	if (src) {
		ip4->saddr = to;
		t->saddr = to;
	} else {
		ip4->daddr = to;
		t->daddr = to;
	}
	return 0;
}

/* The same for the source (src) or destination port. */
static __always_inline int nat4_port(struct __sk_buff *skb, struct l4_tuple *t, bool src, __be16 to)
{
	__be16 from = src ? t->sport : t->dport;
	__be16 *ports;

	if (from == to)
		return 0;
	if (t->csum_off && bpf_l4_csum_replace(skb, t->csum_off, from, to, nat_l4_flags(t) | 2) < 0)
		return -SL_DROP_NAT;
	ports = pkt_at(skb, t->l4_off, 4);
	if (ports) {
		ports[src ? 0 : 1] = to;
	} else if (bpf_skb_store_bytes(skb, t->l4_off + (src ? 0 : 2), &to, 2, 0) < 0) {
		return -SL_DROP_NAT;
	}
	if (src)
		t->sport = to;
	else
		t->dport = to;
	return 0;
}

#endif
