/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Bounds-checked access to the Ethernet, ARP and IPv4 headers of an skb. */
#ifndef SL_LIB_PARSE_H
#define SL_LIB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/consts.h"
#include "sluice/abi.h"

/* The fixed part of an ARP header, as <linux/if_arp.h>'s struct arphdr
 * (that header pulls in libc's <sys/socket.h>, unusable in BPF programs). */
struct arp_fixed {
	__be16 ar_hrd;
	__be16 ar_pro;
	__u8 ar_hln;
	__u8 ar_pln;
	__be16 ar_op;
};

/* The Ethernet/IPv4 body of an ARP packet (struct arp_fixed stops at ar_op). */
struct arp_eth {
	struct arp_fixed hdr;
	__u8 sha[ETH_ALEN];
	__be32 spa;
	__u8 tha[ETH_ALEN];
	__be32 tpa;
} __attribute__((packed));

/* Reads skb->data / data_end. The barrier keeps clang from merging the reads
 * of different call sites into a ctx pointer with a variable offset, which
 * the verifier rejects ("dereference of modified ctx ptr"). */
static __always_inline void *pkt_data(struct __sk_buff *skb)
{
	asm volatile("" : "+r"(skb));
	return (void *)(long)skb->data;
}

static __always_inline void *pkt_end(struct __sk_buff *skb)
{
	asm volatile("" : "+r"(skb));
	return (void *)(long)skb->data_end;
}

/* Makes the first len bytes linear. Invalidates every packet pointer, so call
 * it once per packet before taking any. 0 or -SL_DROP_SHORT. */
static __always_inline int pkt_pull(struct __sk_buff *skb, __u32 len)
{
	if (pkt_data(skb) + len <= pkt_end(skb))
		return 0;
	if (skb->len < len || bpf_skb_pull_data(skb, len) < 0)
		return -SL_DROP_SHORT;
	return 0;
}

/* A pointer to len bytes at off, or NULL when the linear data is shorter. */
static __always_inline void *pkt_at(struct __sk_buff *skb, __u32 off, __u32 len)
{
	void *data = pkt_data(skb);
	void *end = pkt_end(skb);

	if (data + off + len > end)
		return NULL;
	return data + off;
}

static __always_inline struct ethhdr *pkt_eth(struct __sk_buff *skb)
{
	return pkt_at(skb, 0, sizeof(struct ethhdr));
}

/* The ARP body if it is Ethernet/IPv4 ARP, else NULL. */
static __always_inline struct arp_eth *pkt_arp(struct __sk_buff *skb)
{
	struct arp_eth *arp = pkt_at(skb, ETH_HLEN, sizeof(struct arp_eth));

	if (!arp || arp->hdr.ar_hrd != bpf_htons(ARPHRD_ETHER) ||
	    arp->hdr.ar_pro != bpf_htons(ETH_P_IP) || arp->hdr.ar_hln != ETH_ALEN ||
	    arp->hdr.ar_pln != 4)
		return NULL;
	return arp;
}

/* The IPv4 header if it is well formed and whole, else NULL. */
static __always_inline struct iphdr *pkt_ipv4(struct __sk_buff *skb)
{
	struct iphdr *ip4 = pkt_at(skb, ETH_HLEN, sizeof(struct iphdr));
	__u32 hlen;

	if (!ip4 || ip4->version != 4 || ip4->ihl < 5)
		return NULL;
	hlen = ip4->ihl * 4;
	if (bpf_ntohs(ip4->tot_len) < hlen || ETH_HLEN + hlen > skb->len)
		return NULL;
	return ip4;
}

#endif
