/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Rejects a packet: ICMP port unreachable, plus a TCP reset for TCP. */
#ifndef SL_LIB_ICMP_H
#define SL_LIB_ICMP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/csum.h"
#include "lib/fwd.h"
#include "lib/l4.h"
#include "sluice/abi.h"

/* <linux/icmp.h> pulls in libc (through <linux/if.h>): its few names here. */
#define ICMP_DEST_UNREACH 3
#define ICMP_PORT_UNREACH 3
#define ICMP_FRAG_NEEDED  4
#define ICMP_QUOTE_LEN	  (sizeof(struct iphdr) + 8) /* RFC 792: header + 64 bits */

/* The header of an ICMP error, as struct icmphdr for destination unreachable. */
struct icmp4_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 unused;
};

/* Everything after the Ethernet header of the error. */
struct icmp4_err {
	struct iphdr ip;
	struct icmp4_hdr icmp;
	__u8 quote[ICMP_QUOTE_LEN];
};

/* The TCP reset answering a segment, with the pseudo header its checksum covers. */
struct tcp4_rst {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
	struct tcphdr tcp;
};

/* Rewrites the frame (whose Ethernet header eth already answers) into a TCP
 * reset for the segment orig_tcp of orig_ip, as a closed port's stack would
 * send (RFC 9293 3.10.7.1). */
static __always_inline int tcp4_reset(struct __sk_buff *skb, const struct ethhdr *eth,
				      const struct iphdr *orig_ip)
{
	struct tcp4_rst rst = {};
	struct tcphdr th;
	struct iphdr ip = {};
	__u32 seg_len;
	__u8 flags;

	if (bpf_skb_load_bytes(skb, ETH_HLEN + sizeof(struct iphdr), &th, sizeof(th)) < 0)
		return -SL_DROP_SHORT;
	flags = ((__u8 *)&th)[13];
	seg_len = bpf_ntohs(orig_ip->tot_len) - sizeof(struct iphdr) - th.doff * 4;
	seg_len += !!(flags & TCP_FL_SYN) + !!(flags & TCP_FL_FIN);

	rst.saddr = orig_ip->daddr;
	rst.daddr = orig_ip->saddr;
	rst.proto = IPPROTO_TCP;
	rst.len = bpf_htons(sizeof(rst.tcp));
	rst.tcp.source = th.dest;
	rst.tcp.dest = th.source;
	rst.tcp.doff = 5;
	if (flags & TCP_FL_ACK) {
		rst.tcp.seq = th.ack_seq;
		rst.tcp.rst = 1;
	} else {
		rst.tcp.ack_seq = bpf_htonl(bpf_ntohl(th.seq) + seg_len);
		rst.tcp.rst = 1;
		rst.tcp.ack = 1;
	}
	rst.tcp.check = csum_of(&rst, sizeof(rst));

	ip.version = 4;
	ip.ihl = 5;
	ip.tot_len = bpf_htons(sizeof(ip) + sizeof(rst.tcp));
	ip.ttl = 64;
	ip.protocol = IPPROTO_TCP;
	ip.saddr = rst.saddr;
	ip.daddr = rst.daddr;
	ip.check = csum_of(&ip, sizeof(ip));

	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(ip) + sizeof(rst.tcp), 0) < 0 ||
	    bpf_skb_store_bytes(skb, 0, eth, sizeof(*eth), 0) < 0 ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &ip, sizeof(ip), 0) < 0 ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(ip), &rst.tcp, sizeof(rst.tcp), 0) < 0)
		return -SL_DROP_REJECT;
	return 0;
}

/* Rewrites the frame into the ICMP destination unreachable error code
 * (next-hop MTU mtu: fragmentation needed) about the packet whose Ethernet
 * header is orig and whose IP header and first 8 payload bytes err->quote
 * holds (IP options refused: the quote would not fit the fixed layout): from
 * its destination to its source, the MACs swapped, for the caller to send
 * back out of the interface it came in by. */
static __always_inline int icmp4_err_build(struct __sk_buff *skb, const struct ethhdr *orig,
					   struct icmp4_err *err, __u8 code, __u16 mtu)
{
	const struct iphdr *q = (const struct iphdr *)err->quote;
	struct ethhdr eth;

	if (q->ihl != 5)
		return -SL_DROP_REJECT;
	mac_copy(eth.h_dest, orig->h_source);
	mac_copy(eth.h_source, orig->h_dest);
	eth.h_proto = orig->h_proto;
	err->ip.version = 4;
	err->ip.ihl = 5;
	err->ip.tos = 0xc0; /* internetwork control, as the kernel's own errors */
	err->ip.tot_len = bpf_htons(sizeof(*err));
	err->ip.ttl = 64;
	err->ip.protocol = IPPROTO_ICMP;
	err->ip.saddr = q->daddr;
	err->ip.daddr = q->saddr;
	err->ip.check = csum_of(&err->ip, sizeof(err->ip));
	err->icmp.type = ICMP_DEST_UNREACH;
	err->icmp.code = code;
	err->icmp.unused = bpf_htonl(mtu); /* RFC 1191: the low 16 bits */
	err->icmp.checksum = csum_of(&err->icmp, sizeof(err->icmp) + sizeof(err->quote));

	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(*err), 0) < 0 ||
	    bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0) < 0 ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, err, sizeof(*err), 0) < 0)
		return -SL_DROP_REJECT;
	return 0;
}

/* The packet's Ethernet header and its quote for an ICMP error. */
static __always_inline int icmp4_quote_take(struct __sk_buff *skb, struct ethhdr *orig,
					    struct icmp4_err *err)
{
	if (bpf_skb_load_bytes(skb, 0, orig, sizeof(*orig)) < 0 ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, err->quote, sizeof(err->quote)) < 0)
		return -SL_DROP_SHORT;
	return 0;
}

/* Answers the packet with "port unreachable" from its destination to its
 * source, quoting its IP header and first 8 payload bytes, sent back out of
 * the interface it came in by (into the pod). For TCP the ICMP error goes as
 * a copy and the packet itself becomes a reset: the pod's connect() holds
 * its socket while the SYN is forwarded, so an ICMP error that arrives in
 * that window is only a soft error, while a reset is queued to the socket
 * and refuses the connection at once. Packets with IP options are dropped:
 * the quote would not fit the fixed layout. */
static __always_inline int icmp4_reject(struct __sk_buff *skb, int *verdict)
{
	struct icmp4_err err = {};
	struct ethhdr eth, orig;
	struct iphdr orig_ip;
	int ret;

	ret = icmp4_quote_take(skb, &orig, &err);
	if (ret)
		return ret;
	__builtin_memcpy(&orig_ip, err.quote, sizeof(orig_ip));
	if (orig_ip.ihl != 5)
		return -SL_DROP_REJECT;
	mac_copy(eth.h_dest, orig.h_source);
	mac_copy(eth.h_source, orig.h_dest);
	eth.h_proto = orig.h_proto;
	if (orig_ip.protocol == IPPROTO_TCP) {
		/* The reset first: the frame is still the segment it answers. */
		ret = tcp4_reset(skb, &eth, &orig_ip);
		if (ret)
			return ret;
		bpf_clone_redirect(skb, skb->ifindex, 0);
	}
	ret = icmp4_err_build(skb, &orig, &err, ICMP_PORT_UNREACH, 0);
	if (ret)
		return ret;
	return fwd_redirect_result(bpf_redirect(skb->ifindex, 0), SL_PATH_SVC_REJECT, verdict);
}

#endif
