/* SPDX-License-Identifier: Apache-2.0 */
/* TCP and UDP test packets from the pods of pod_fixture.h, built with valid
 * checksums, and the checks of their checksums and addresses (test_svc.c,
 * test_policy.c, the uplink tests). */
#ifndef SLUICE_TESTS_L4_PKT_H
#define SLUICE_TESTS_L4_PKT_H

#include <stdbool.h>

#include <linux/tcp.h>
#include <linux/udp.h>

#include "pod_fixture.h"

struct tcp_pkt {
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
	__u8 payload[4];
} __attribute__((packed));

struct udp_pkt {
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	__u8 payload[8];
} __attribute__((packed));

/* Ethernet + IPv4 header at frame (34 bytes), header checksum set. */
static inline void ip_fill(void *frame, const __u8 *src_mac, const __u8 *dst_mac, __be32 saddr,
			   __be32 daddr, __u8 proto, size_t l4_len)
{
	struct ethhdr eth = {};
	struct iphdr ip = {};

	memcpy(eth.h_dest, dst_mac, ETH_ALEN);
	memcpy(eth.h_source, src_mac, ETH_ALEN);
	eth.h_proto = htons(ETH_P_IP);
	ip.version = 4;
	ip.ihl = 5;
	ip.tot_len = htons(sizeof(ip) + l4_len);
	ip.id = htons(0x4242);
	ip.frag_off = htons(0x4000);
	ip.ttl = 64;
	ip.protocol = proto;
	ip.saddr = saddr;
	ip.daddr = daddr;
	ip.check = csum(&ip, sizeof(ip));
	memcpy(frame, &eth, sizeof(eth));
	memcpy((char *)frame + sizeof(eth), &ip, sizeof(ip));
}

/* A TCP segment; flags as in the header's 14th byte (SYN 0x02, ACK 0x10). */
static inline struct tcp_pkt tcp_build(const __u8 *src_mac, const __u8 *dst_mac, __be32 saddr,
				       __be32 daddr, __u16 sport, __u16 dport, __u8 flags)
{
	struct tcp_pkt p = {};
	size_t l4 = sizeof(p.tcp) + sizeof(p.payload);

	ip_fill(&p, src_mac, dst_mac, saddr, daddr, IPPROTO_TCP, l4);
	p.tcp.source = htons(sport);
	p.tcp.dest = htons(dport);
	p.tcp.seq = htonl(0x11223344);
	p.tcp.ack_seq = htonl(flags & 0x10 ? 0x55667788 : 0);
	p.tcp.doff = 5;
	((__u8 *)&p.tcp)[13] = flags;
	p.tcp.window = htons(64240);
	memcpy(p.payload, "ping", 4);
	p.tcp.check = csum_l4(saddr, daddr, IPPROTO_TCP, &p.tcp, l4);
	return p;
}

static inline struct udp_pkt udp_build(__be32 saddr, __be32 daddr, __u16 sport, __u16 dport,
				       bool no_csum)
{
	struct udp_pkt p = {};
	size_t l4 = sizeof(p.udp) + sizeof(p.payload);

	ip_fill(&p, mac_a, host_a, saddr, daddr, IPPROTO_UDP, l4);
	p.udp.source = htons(sport);
	p.udp.dest = htons(dport);
	p.udp.len = htons(l4);
	memcpy(p.payload, "queryxyz", 8);
	if (!no_csum)
		p.udp.check = csum_l4(saddr, daddr, IPPROTO_UDP, &p.udp, l4);
	return p;
}

/* A datagram saddr:sport -> daddr:dport whose checksum, once rewritten to
 * daddr_to:dport_to, sums to 0 (two payload bytes chosen for it). */
static inline struct udp_pkt udp_csum_zero_after(__be32 saddr, __be32 daddr, __u16 sport,
						 __u16 dport, __be32 daddr_to, __u16 dport_to)
{
	struct udp_pkt p = udp_build(saddr, daddr_to, sport, dport_to, true);
	size_t l4 = sizeof(p.udp) + sizeof(p.payload);

	for (__u32 w = 0; w <= 0xffff; w++) {
		p.payload[0] = w >> 8;
		p.payload[1] = w & 0xff;
		if (csum_l4(saddr, daddr_to, IPPROTO_UDP, &p.udp, l4) == 0)
			break;
	}
	p.ip.daddr = daddr;
	p.ip.check = 0;
	p.ip.check = csum(&p.ip, sizeof(p.ip));
	p.udp.dest = htons(dport);
	p.udp.check = csum_l4(saddr, daddr, IPPROTO_UDP, &p.udp, l4);
	return p;
}

/* The packet whose IPv4 header is at ip and L4 header at l4 (ports first, as TCP and UDP have
 * them) goes saddr:sport -> daddr:dport; the fields given as 0 are not checked. */
static inline void l4_tuple_is(const void *ip, const void *l4, __be32 saddr, __u16 sport,
			       __be32 daddr, __u16 dport)
{
	struct iphdr h;
	__be16 port[2];

	memcpy(&h, ip, sizeof(h));
	memcpy(port, l4, sizeof(port));
	if (saddr)
		CHECK_INT(h.saddr, saddr);
	if (sport)
		CHECK_INT(ntohs(port[0]), sport);
	if (daddr)
		CHECK_INT(h.daddr, daddr);
	if (dport)
		CHECK_INT(ntohs(port[1]), dport);
}

/* BPF_PROG_TEST_RUN hands programs a CHECKSUM_NONE skb (ip_summed 0), so
 * these checks verify lib/nat.h's update of the whole L4 checksum by hand;
 * the helper and the CHECKSUM_PARTIAL update are checked by e2e traffic
 * (e2e/services.bats, "checksums"). */
static inline bool tcp_csums_ok(const struct tcp_pkt *p)
{
	return csum(&p->ip, sizeof(p->ip)) == 0 &&
	       csum_l4(p->ip.saddr, p->ip.daddr, IPPROTO_TCP, &p->tcp,
		       sizeof(p->tcp) + sizeof(p->payload)) == 0;
}

static inline bool udp_csums_ok(const struct udp_pkt *p)
{
	return csum(&p->ip, sizeof(p->ip)) == 0 &&
	       csum_l4(p->ip.saddr, p->ip.daddr, IPPROTO_UDP, &p->udp,
		       sizeof(p->udp) + sizeof(p->payload)) == 0;
}

#endif
