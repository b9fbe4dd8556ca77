/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ICMP errors about load-balanced flows, translated for the other end: the quoted packet back to
 * the service's address and port for the client, back to the backend's reply for the backend. */
#ifndef SL_LIB_ICMP_ERR_H
#define SL_LIB_ICMP_ERR_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/csum.h"
#include "lib/ct.h"
#include "lib/icmp.h"
#include "lib/l4.h"
#include "lib/maps.h"
#include "sluice/abi.h"

#define ICMP_TIME_EXCEEDED 11

/* What an error's rewrite touches, after the Ethernet header: its own IPv4
 * header, the ICMP header, the quoted IPv4 header and the quote's first 8
 * L4 bytes (the ports; for UDP also its checksum). */
struct icmp4_err_head {
	struct iphdr ip;
	struct icmp4_hdr icmp;
	struct iphdr qip;
	__be16 qsport;
	__be16 qdport;
	__be16 qword;	/* UDP: length */
	__sum16 qcheck; /* UDP: checksum */
};

/* The fields of the quoted packet a translation changes: its addresses and ports. */
struct icmp4_err_ids {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
};

#define ICMP_ERR_QUOTE_OFF (ETH_HLEN + sizeof(struct iphdr) + sizeof(struct icmp4_hdr))
#define ICMP_ERR_TCP_CSUM  (ICMP_ERR_QUOTE_OFF + sizeof(struct iphdr) + 16)

/* The quoted TCP checksum, when the quote holds it (kernels quote up to 576
 * bytes): updated by pdiff; its change folded into *qdiff, the change of the
 * quote that the ICMP checksum covers. */
static __always_inline int icmp4_err_tcp_csum(struct __sk_buff *skb, __s64 pdiff, __s64 *qdiff)
{
	__be32 old, cur;

	if (skb->len < ICMP_ERR_TCP_CSUM + 4)
		return 0;
	if (bpf_skb_load_bytes(skb, ICMP_ERR_TCP_CSUM, &old, 4) < 0)
		return -SL_DROP_NAT;
	cur = old;
	*(__sum16 *)&cur = csum_apply(*(__sum16 *)&old, pdiff);
	*qdiff = bpf_csum_diff(&old, 4, &cur, 4, (__u32)*qdiff);
	if (bpf_skb_store_bytes(skb, ICMP_ERR_TCP_CSUM, &cur, 4, BPF_F_RECOMPUTE_CSUM) < 0)
		return -SL_DROP_NAT;
	return 0;
}

/* The quote of h becomes the client's packet as it sent it (the ids cur:
 * from the client, to the frontend), with its checksums, and the ICMP
 * checksum follows. */
static __always_inline int icmp4_err_quote(struct __sk_buff *skb, struct icmp4_err_head *h,
					   const struct icmp4_err_ids *cur)
{
	struct icmp4_err_ids old = {h->qip.saddr, h->qip.daddr, h->qsport, h->qdport};
	__u8 quote_old[sizeof(struct iphdr) + 8];
	__s64 pdiff, qdiff;
	int ret;

	__builtin_memcpy(quote_old, &h->qip, sizeof(quote_old));
	pdiff = bpf_csum_diff((__be32 *)&old, sizeof(old), (__be32 *)cur, sizeof(*cur), 0);
	h->qip.saddr = cur->saddr;
	h->qip.daddr = cur->daddr;
	h->qsport = cur->sport;
	h->qdport = cur->dport;
	h->qip.check = 0;
	h->qip.check = csum_of(&h->qip, sizeof(h->qip));
	if (h->qip.protocol == IPPROTO_UDP && h->qcheck) {
		h->qcheck = csum_apply(h->qcheck, pdiff);
		if (!h->qcheck)
			h->qcheck = (__sum16)0xffff; /* 0 would mean "no checksum" */
	}
	qdiff = bpf_csum_diff((__be32 *)quote_old, sizeof(quote_old), (__be32 *)&h->qip,
			      sizeof(quote_old), 0);
	if (h->qip.protocol == IPPROTO_TCP) {
		ret = icmp4_err_tcp_csum(skb, pdiff, &qdiff);
		if (ret)
			return ret;
	}
	h->icmp.checksum = csum_apply(h->icmp.checksum, qdiff);
	return 0;
}

/* Loads the head of an ICMP error (destination unreachable, fragmentation
 * needed among them, or time exceeded) quoting a TCP/UDP/SCTP packet into h.
 * false when the packet is no such error, also with IP options (the layout
 * is fixed) or a quoted fragment that is not the first. */
static __always_inline bool icmp4_err_load(struct __sk_buff *skb, struct icmp4_err_head *h)
{
	if (bpf_skb_load_bytes(skb, ETH_HLEN, h, sizeof(*h)) < 0)
		return false;
	return h->ip.ihl == 5 && h->ip.protocol == IPPROTO_ICMP &&
	       !(h->ip.frag_off & bpf_htons(0x3fff)) &&
	       (h->icmp.type == ICMP_DEST_UNREACH || h->icmp.type == ICMP_TIME_EXCEEDED) &&
	       h->qip.ihl == 5 && l4_supported(h->qip.protocol) &&
	       !(h->qip.frag_off & bpf_htons(0x1fff));
}

/* Rewrites the error h for the other end of the flow: its quote becomes cur
 * (the packet as that end sent it), the error's source src where the
 * quoted packet's addressee sent it itself (a router's address stays), its
 * destination dst. path once written, -SL_DROP_NAT when that failed. */
static __always_inline int icmp4_err_write(struct __sk_buff *skb, struct icmp4_err_head *h,
					   const struct icmp4_err_ids *cur, __be32 src, __be32 dst,
					   int path)
{
	__be32 addressee = h->qip.daddr;
	int ret;

	ret = icmp4_err_quote(skb, h, cur);
	if (ret)
		return ret;
	if (h->ip.saddr == addressee)
		h->ip.saddr = src;
	h->ip.daddr = dst;
	h->ip.check = 0;
	h->ip.check = csum_of(&h->ip, sizeof(h->ip));
	if (bpf_skb_store_bytes(skb, ETH_HLEN, h, sizeof(*h), BPF_F_RECOMPUTE_CSUM) < 0)
		return -SL_DROP_NAT;
	return path;
}

/* Which errors icmp4_err_ct translates: those about the client's
 * packets (for the client), those about the replies (for the backend). */
#define ICMP_ERR_TO_CLIENT  0x1
#define ICMP_ERR_TO_BACKEND 0x2

/* An error about the client's packet (ct its flow's reply entry): the
 * quote is that packet as the backend saw it (to backend:port) and becomes
 * the client's own again (to frontend:port), so the client's socket learns
 * of the error (ECONNREFUSED, a smaller path MTU); the error's source
 * becomes the frontend where the backend itself sent it. */
static __always_inline int icmp4_err_to_client(struct __sk_buff *skb, struct icmp4_err_head *h,
					       const struct sl_ct_val *ct)
{
	struct icmp4_err_ids cur;
	__be32 dst;

	/* after a hairpin the backend saw the loopback address as the client */
	cur.saddr = ct->flags & SL_CT_F_HAIRPIN ? ct->client_ip : h->qip.saddr;
	cur.daddr = ct->nat_ip;
	cur.sport = h->qsport;
	cur.dport = ct->nat_port;
	dst = ct->flags & SL_CT_F_HAIRPIN ? cur.saddr : h->ip.daddr;
	return icmp4_err_write(skb, h, &cur, ct->nat_ip, dst, SL_PATH_ICMP_REVNAT);
}

/* An error about a reply (ct its flow's forward entry), from the client or
 * a router between: the quote is the reply as the client got it (from
 * frontend:port) and becomes the reply as the backend sent it (from
 * backend:port, to the client or after a hairpin to the loopback address),
 * the error goes to the backend, from the loopback address after a hairpin
 * where the client sent it itself. So a backend learns that its client is
 * gone, or a smaller path MTU toward it. */
static __always_inline int icmp4_err_to_backend(struct __sk_buff *skb, struct icmp4_err_head *h,
						const struct sl_ct_val *ct)
{
	struct icmp4_err_ids cur;

	cur.saddr = ct->nat_ip;
	cur.daddr = ct->flags & SL_CT_F_HAIRPIN ? bpf_htonl(SL_SVC_LOOPBACK4) : h->qip.daddr;
	cur.sport = ct->nat_port;
	cur.dport = h->qdport;
	return icmp4_err_write(skb, h, &cur, cur.daddr, ct->nat_ip, SL_PATH_ICMP_TO_BE);
}

/* The error h about a load-balanced flow (a ClusterIP's, a hostPort's, or
 * a north-south one DNATed to a backend on this node), sent by its backend,
 * its client, or a router between: the flow's conntrack entry is keyed by
 * the quoted tuple turned round, its reply entry when the quote is the
 * client's packet (to the backend), its forward entry when the quote is a
 * reply (to the client); dirs (ICMP_ERR_TO_*) says which to translate. 0
 * when the packet is no such error, SL_PATH_ICMP_REVNAT or
 * SL_PATH_ICMP_TO_BE once rewritten, -SL_DROP_NAT when that failed.
 * (North-south flows SNATed to a remote backend: np4_icmp_err, by sl_nat4.) */
static __always_inline int icmp4_err_ct(struct __sk_buff *skb, struct icmp4_err_head *h, int dirs)
{
	struct sl_ct_key key;
	struct sl_ct_val *ct;

	key = ct4_key(h->qip.daddr, h->qip.saddr, h->qdport, h->qsport, h->qip.protocol);
	ct = bpf_map_lookup_elem(&sl_ct4, &key);
	if (!ct || (ct->flags & SL_CT_F_POLICY))
		return 0; /* not about a load-balanced flow (a policed one has no VIP) */
	if (ct->flags & SL_CT_F_REPLY)
		return dirs & ICMP_ERR_TO_CLIENT ? icmp4_err_to_client(skb, h, ct) : 0;
	return dirs & ICMP_ERR_TO_BACKEND ? icmp4_err_to_backend(skb, h, ct) : 0;
}

/* The packet, when it is an ICMP error about a load-balanced flow: as icmp4_err_ct. */
static __always_inline int icmp4_err_rev_nat(struct __sk_buff *skb, int dirs)
{
	struct icmp4_err_head h;

	if (!icmp4_err_load(skb, &h))
		return 0;
	return icmp4_err_ct(skb, &h, dirs);
}

#endif
