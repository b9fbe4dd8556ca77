/* SPDX-License-Identifier: Apache-2.0 */
/* ICMP error test packets quoting a packet, and their checksum check (test_icmp_err.c,
 * test_ns_icmp_err.c). */
#ifndef SLUICE_TESTS_ICMP_PKT_H
#define SLUICE_TESTS_ICMP_PKT_H

#include <stdbool.h>

#include "l4_pkt.h" /* pod_fixture.h: <linux/icmp.h> after <net/if.h> */

/* An ICMP error quoting up to 64 bytes of a packet. */
struct icmp_err {
	struct ethhdr eth;
	struct iphdr ip;
	struct icmphdr icmp;
	__u8 quote[64];
} __attribute__((packed));

#define ERR_LEN(qlen)                                                                              \
	(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct icmphdr) + (qlen))

/* The error from saddr to daddr quoting qlen bytes of the IP packet q. */
static inline struct icmp_err err_build(const __u8 *src_mac, const __u8 *dst_mac, __be32 saddr,
					__be32 daddr, __u8 type, __u8 code, __u16 mtu,
					const void *q, size_t qlen)
{
	struct icmp_err e = {};

	ip_fill(&e, src_mac, dst_mac, saddr, daddr, IPPROTO_ICMP, sizeof(e.icmp) + qlen);
	e.icmp.type = type;
	e.icmp.code = code;
	e.icmp.un.frag.mtu = htons(mtu);
	memcpy(e.quote, q, qlen);
	e.icmp.checksum = csum(&e.icmp, sizeof(e.icmp) + qlen);
	return e;
}

/* A UDP datagram up to 1500 bytes of IP long, DF set (pmtu.h's tests). */
struct udp_big {
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	__u8 payload[1500 - sizeof(struct iphdr) - sizeof(struct udphdr)];
} __attribute__((packed));

#define BIG_LEN(ip_len) (sizeof(struct ethhdr) + (ip_len))

/* The datagram of ip_len bytes of IP from src_mac to dst_mac, checksums set. */
static inline struct udp_big udp_big_build(const __u8 *src_mac, const __u8 *dst_mac, __be32 saddr,
					   __be32 daddr, __u16 sport, __u16 dport, size_t ip_len)
{
	struct udp_big p = {};
	size_t l4 = ip_len - sizeof(p.ip);

	ip_fill(&p, src_mac, dst_mac, saddr, daddr, IPPROTO_UDP, l4);
	p.udp.source = htons(sport);
	p.udp.dest = htons(dport);
	p.udp.len = htons(l4);
	memset(p.payload, 'x', l4 - sizeof(p.udp));
	p.udp.check = csum_l4(saddr, daddr, IPPROTO_UDP, &p.udp, l4);
	return p;
}

/* An IP header as a forwarding hop left it (TTL one less). */
static inline struct iphdr ip_forwarded(struct iphdr ip)
{
	ip.ttl--;
	ip.check = 0;
	ip.check = csum(&ip, sizeof(ip));
	return ip;
}

/* Whether the quote of e is ip (as a forwarding hop left it when fwd is set)
 * followed by the l4len bytes at l4. */
static inline bool err_quotes(const struct icmp_err *e, struct iphdr ip, bool fwd, const void *l4,
			      size_t l4len)
{
	if (fwd)
		ip = ip_forwarded(ip);
	return !memcmp(e->quote, &ip, sizeof(ip)) && !memcmp(e->quote + sizeof(ip), l4, l4len);
}

static inline bool err_csums_ok(const struct icmp_err *e, size_t qlen)
{
	return csum(&e->ip, sizeof(e->ip)) == 0 && csum(&e->icmp, sizeof(e->icmp) + qlen) == 0 &&
	       csum(e->quote, sizeof(struct iphdr)) == 0;
}

/* Where a test runs an error: the program, its metrics, the link, tc ingress or not. */
struct err_at {
	int prog, metrics, ifindex;
	bool ingress;
};

/* The error a test sends: from smac/saddr to dmac/daddr, type, code and MTU, quoting qlen bytes
 * of the IP packet at q; in_csums: its own checksums checked before it is sent. */
struct err_send {
	const __u8 *smac, *dmac;
	__be32 saddr, daddr;
	__u8 type, code;
	__u16 mtu;
	const void *q;
	size_t qlen;
	bool in_csums;
};

/* What the program must make of an error: its verdict and metric; untouched: every byte as it
 * came; else the quote (the header ip, as a forwarding hop left it when fwd, then l4len bytes
 * at l4) and every checksum. The other fields are checked when set: the length kept, addresses,
 * TTL, type, code, MTU, MACs (no case expects a 0 there). */
struct err_want {
	int verdict;
	unsigned int metric;
	bool untouched, len_kept;
	__be32 saddr, daddr;
	__u8 ttl, type, code;
	__u16 mtu;
	const __u8 *eth_src, *eth_dst;
	struct iphdr ip;
	bool fwd;
	const void *l4;
	size_t l4len;
};

/* The error out (len bytes, qlen of them quoted) checked against w; in: what was sent. */
static inline void err_check(const struct icmp_err *out, __u32 len, const void *in, size_t qlen,
			     const struct err_want *w)
{
	if (w->len_kept)
		CHECK_INT(len, ERR_LEN(qlen));
	if (w->untouched) {
		CHECK(!memcmp(in, out, ERR_LEN(qlen)));
		return;
	}
	if (w->saddr)
		CHECK_INT(out->ip.saddr, w->saddr);
	if (w->daddr)
		CHECK_INT(out->ip.daddr, w->daddr);
	if (w->ttl)
		CHECK_INT(out->ip.ttl, w->ttl);
	if (w->type)
		CHECK_INT(out->icmp.type, w->type);
	if (w->code)
		CHECK_INT(out->icmp.code, w->code);
	if (w->mtu)
		CHECK_INT(ntohs(out->icmp.un.frag.mtu), w->mtu);
	CHECK(err_quotes(out, w->ip, w->fwd, w->l4, w->l4len));
	CHECK(err_csums_ok(out, qlen));
	if (w->eth_src || w->eth_dst)
		CHECK((!w->eth_src || !memcmp(out->eth.h_source, w->eth_src, ETH_ALEN)) &&
		      (!w->eth_dst || !memcmp(out->eth.h_dest, w->eth_dst, ETH_ALEN)));
}

/* Runs the len bytes at pkt as at says and checks what comes out against w (qlen bytes quoted). */
static inline void err_run(const struct err_at *at, const void *pkt, __u32 len, size_t qlen,
			   const struct err_want *w)
{
	struct icmp_err out;
	__u32 out_len = sizeof(out);

	expect_at(at->prog, at->metrics, pkt, len, at->ifindex, at->ingress, w->verdict, w->metric,
		  &out, &out_len);
	err_check(&out, out_len, pkt, qlen, w);
}

/* Builds the error s says, runs it as at says and checks its translation against w. */
static inline void err_expect(const struct err_at *at, const struct err_send *s,
			      const struct err_want *w)
{
	struct icmp_err in = err_build(s->smac, s->dmac, s->saddr, s->daddr, s->type, s->code,
				       s->mtu, s->q, s->qlen);

	if (s->in_csums)
		CHECK(err_csums_ok(&in, s->qlen));
	err_run(at, &in, ERR_LEN(s->qlen), s->qlen, w);
}

#endif
