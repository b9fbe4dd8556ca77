/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The IPv4 5-tuple of a TCP, UDP or SCTP packet, read without packet pointers. */
#ifndef SL_LIB_L4_H
#define SL_LIB_L4_H

#include <stdbool.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

#include "lib/parse.h"
#include "sluice/abi.h"

/* Bits of the TCP header's flags byte (<linux/tcp.h>'s TCP_FLAG_* mask the
 * 32-bit word instead). */
#define TCP_FL_FIN 0x01
#define TCP_FL_SYN 0x02
#define TCP_FL_ACK 0x10

/* What the load balancer needs to know about a packet, in wire order. */
struct l4_tuple {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 tcp_flags;
	__u16 l4_off;	/* offset of the L4 header in the frame */
	__u16 csum_off; /* offset of the L4 checksum, 0 when it has none we keep */
	__u16 pad;
};

static __always_inline bool l4_supported(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/* Fills t from a well-formed IPv4 header (pkt_ipv4) of a supported protocol;
 * -SL_DROP_SHORT when the ports are not in the packet. Fragments other than
 * the first carry no ports and are left alone (1). */
static __always_inline int l4_tuple_load(struct __sk_buff *skb, const struct iphdr *ip4,
					 struct l4_tuple *t)
{
	__u8 hdr[14];
	const __u8 *l4;
	__u32 need;

	if (ip4->frag_off & bpf_htons(0x1fff))
		return 1;
	t->saddr = ip4->saddr;
	t->daddr = ip4->daddr;
	t->proto = ip4->protocol;
	t->l4_off = ETH_HLEN + ip4->ihl * 4;
	t->tcp_flags = 0;
	t->csum_off = 0;
	need = t->proto == IPPROTO_TCP ? 14 : 4;
	l4 = pkt_at(skb, t->l4_off, 14);
	if (!l4) { /* short UDP/SCTP header in the linear part, or paged */
		if (bpf_skb_load_bytes(skb, t->l4_off, hdr, need) < 0)
			return -SL_DROP_SHORT;
		l4 = hdr;
	}
	__builtin_memcpy(&t->sport, l4, 2);
	__builtin_memcpy(&t->dport, l4 + 2, 2);
	if (t->proto == IPPROTO_TCP) {
		t->tcp_flags = l4[13];
		t->csum_off = t->l4_off + 16;
	} else if (t->proto == IPPROTO_UDP) {
		t->csum_off = t->l4_off + 6;
	}
	return 0;
}

#endif
