// SPDX-License-Identifier: Apache-2.0
/* BPF_PROG_TEST_RUN tests of ClusterIP load balancing in the pod programs:
 * DNAT with conntrack, reverse NAT, affinity, reject, hairpin, service map
 * operations. Root; runs in a private network namespace. */
#define _GNU_SOURCE
#include <time.h>
#include <sys/socket.h>

#include <linux/if_packet.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "l4_pkt.h"
#include "pod_fixture.h"

#define IP_REMOTE   IP(10, 244, 2, 5) /* backend pod on another node */
#define IP_REMOTE2  IP(10, 244, 2, 6)
#define VIP	    IP(10, 96, 0, 10) /* TCP 80 (svc 1), UDP 53 (svc 2), TCP 443 (svc 3) */
#define VIP_EMPTY   IP(10, 96, 0, 20) /* TCP 80: no backends; TCP 81: Local, none */
#define VIP_HAIRPIN IP(10, 96, 0, 30) /* TCP 80 -> A itself */
#define LOOPBACK    htonl(SL_SVC_LOOPBACK4)
#define NODE_IP	    IP(10, 0, 0, 1) /* NodePort 30080/TCP -> B:8080 */

static const char *const netns_setup[] = {
    POD_FIXTURE_LINKS,
    "ip route add 10.244.2.0/24 via 10.0.0.2 dev up0",
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
};

struct icmp_err_pkt {
	struct ethhdr eth;
	struct iphdr ip;
	struct icmphdr icmp;
	struct iphdr qip;
	__u8 ql4[8];
} __attribute__((packed));

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void svc_put(const struct fds *f, __be32 vip, __u16 port, __u8 proto, __u16 slot, __u32 id,
		    __u16 count, __u16 flags, __u32 aff_timeout)
{
	struct sl_svc_key k = {.vip = vip, .port = htons(port), .proto = proto, .slot = slot};
	struct sl_svc_val v = {
	    .id = id, .count = count, .flags = flags, .affinity_timeout = aff_timeout};

	CHECK_INT(dp_svc_update(f->svc, &k, &v), 0);
}

static void be_put(const struct fds *f, __u32 id, __be32 ip, __u16 port, __u8 proto)
{
	struct sl_be_val v = {.ip = ip, .port = htons(port), .proto = proto};

	CHECK_INT(dp_be_update(f->be, id, &v), 0);
}

#define CT_FWD	 0	       /* a Service flow's forward entry */
#define CT_REPLY SL_CT_F_REPLY /* ... its reply entry */

/* The conntrack entry of a tuple, if it is of the kind expected. */
static int ct_get(const struct fds *f, __be32 saddr, __be32 daddr, __u16 sport, __u16 dport,
		  __u8 proto, __u8 kind, struct sl_ct_val *val)
{
	struct sl_ct_key k = {.saddr = saddr,
			      .daddr = daddr,
			      .sport = htons(sport),
			      .dport = htons(dport),
			      .proto = proto};

	if (bpf_map_lookup_elem(f->ct, &k, val))
		return -errno;
	return (val->flags & (SL_CT_F_REPLY | SL_CT_F_POLICY)) == kind ? 0 : -EPROTO;
}

/* Pod a's or b's TCP segment from its address to daddr through sl_from_pod
 * at its veth, run by expect(): verdict and metric checked, and with out the
 * output copied there (as long as the segment). Returns the segment sent. */
static struct tcp_pkt tcp_from(const struct fds *f, char pod, __be32 daddr, __u16 sport,
			       __u16 dport, __u8 flags, int verdict, unsigned int metric,
			       struct tcp_pkt *out)
{
	bool a = pod == 'a';
	struct tcp_pkt in = tcp_build(a ? mac_a : mac_b, a ? host_a : host_b, a ? IP_A : IP_B,
				      daddr, sport, dport, flags);
	__u32 len = sizeof(in);

	expect(f->from_pod, f->metrics, &in, sizeof(in), a ? if_a : if_b, verdict, metric, out,
	       out ? &len : NULL);
	return in;
}

/* A TCP segment from saddr beyond the uplink to pod A, leaving by veth ha
 * through sl_to_pod, run by expect_at(): verdict and metric checked, the
 * output copied to out and its size to *len if len is set. Returns the
 * segment sent. */
static struct tcp_pkt tcp_to_a(const struct fds *f, __be32 saddr, __u16 sport, __u16 dport,
			       __u8 flags, int verdict, unsigned int metric, struct tcp_pkt *out,
			       __u32 *len)
{
	struct tcp_pkt in = tcp_build(mac_uplink, host_a, saddr, IP_A, sport, dport, flags);
	__u32 n = sizeof(*out);

	expect_at(f->to_pod, f->metrics, &in, sizeof(in), if_a, false, verdict, metric, out, &n);
	if (len)
		*len = n;
	return in;
}

/* Pod A's datagram in through sl_from_pod at veth ha, run by expect():
 * verdict and metric checked, the output (as long as in) copied to out. */
static void udp_from_a(const struct fds *f, const struct udp_pkt *in, int verdict,
		       unsigned int metric, struct udp_pkt *out)
{
	__u32 len = sizeof(*out);

	expect(f->from_pod, f->metrics, in, sizeof(*in), if_a, verdict, metric, out, &len);
}

static void seed(const struct fds *f)
{
	pod_fixture_eps_put(&f->eps);

	/* svc 1: VIP:80/TCP -> B:8080 (local), backend 2 is remote */
	be_put(f, 1, IP_B, 8080, IPPROTO_TCP);
	be_put(f, 2, IP_REMOTE, 8080, IPPROTO_TCP);
	svc_put(f, VIP, 80, IPPROTO_TCP, 1, 1, 0, 0, 0);
	svc_put(f, VIP, 80, IPPROTO_TCP, 0, 1, 1, 0, 0);
	/* svc 2: VIP:53/UDP -> B:5353 */
	be_put(f, 3, IP_B, 5353, IPPROTO_UDP);
	be_put(f, 4, IP_REMOTE2, 5353, IPPROTO_UDP);
	svc_put(f, VIP, 53, IPPROTO_UDP, 1, 3, 0, 0, 0);
	svc_put(f, VIP, 53, IPPROTO_UDP, 0, 2, 1, 0, 0);
	/* svc 3: VIP:443/TCP with ClientIP affinity (1 s) -> B:8443 */
	be_put(f, 5, IP_B, 8443, IPPROTO_TCP);
	be_put(f, 6, IP_REMOTE, 8443, IPPROTO_TCP);
	svc_put(f, VIP, 443, IPPROTO_TCP, 1, 5, 0, 0, 0);
	svc_put(f, VIP, 443, IPPROTO_TCP, 0, 3, 1, SL_SVC_F_AFFINITY, 1);
	svc_put(f, VIP, 0, 0, 0, 0, 0, SL_SVC_F_VIP, 0);
	/* VIP_EMPTY: 80 has no endpoints (reject), 81 is Local without any (drop) */
	svc_put(f, VIP_EMPTY, 80, IPPROTO_TCP, 0, 4, 0, 0, 0);
	svc_put(f, VIP_EMPTY, 81, IPPROTO_TCP, 0, 5, 0, SL_SVC_F_DROP_EMPTY, 0);
	svc_put(f, VIP_EMPTY, 0, 0, 0, 0, 0, SL_SVC_F_VIP, 0);
	/* VIP_HAIRPIN:80 -> A:8080, the client itself */
	be_put(f, 7, IP_A, 8080, IPPROTO_TCP);
	svc_put(f, VIP_HAIRPIN, 80, IPPROTO_TCP, 1, 7, 0, 0, 0);
	svc_put(f, VIP_HAIRPIN, 80, IPPROTO_TCP, 0, 6, 1, 0, 0);
	svc_put(f, VIP_HAIRPIN, 0, 0, 0, 0, 0, SL_SVC_F_VIP, 0);
}

static void test_node_port(const struct fds *f)
{
	struct tcp_pkt in, out;

	/* the node's address: a NodePort (scope INT, as pods see it) and its marker */
	svc_put(f, NODE_IP, 30080, IPPROTO_TCP, 1, 1, 0, 0, 0);
	svc_put(f, NODE_IP, 30080, IPPROTO_TCP, 0, 8, 1, 0, 0);
	svc_put(f, NODE_IP, 0, 0, 0, 0, 0, SL_SVC_F_NODEIP, 0);
	UNIT_CASE("a pod's SYN to a NodePort on the node's address is balanced like a ClusterIP");
	tcp_from(f, 'a', NODE_IP, 43000, 30080, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(ntohs(out.tcp.dest), 8080);
	CHECK(tcp_csums_ok(&out));

	UNIT_CASE(
	    "a pod's packet to another port of the node's address goes to the node, not rejected");
	in = tcp_from(f, 'a', NODE_IP, 43001, 22, 0x02, TC_ACT_OK, SL_PATH_STACK, &out);
	CHECK(!memcmp(&in, &out, sizeof(in)));
}

/* A new flow: DNAT to the backend and both conntrack entries. */
static void test_tcp_new_flow(const struct fds *f)
{
	struct sl_ct_val ct;
	struct tcp_pkt out;

	UNIT_CASE("SYN to a ClusterIP is DNATed to the backend with valid checksums");
	tcp_from(f, 'a', VIP, 40000, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(ntohs(out.tcp.dest), 8080);
	CHECK_INT(out.ip.saddr, IP_A);
	CHECK_INT(ntohs(out.tcp.source), 40000);
	CHECK(tcp_csums_ok(&out));
	CHECK(!memcmp(out.eth.h_source, host_b, 6) && !memcmp(out.eth.h_dest, mac_b, 6));
	CHECK_INT(out.ip.ttl, 63);

	UNIT_CASE("the new flow has both conntrack entries");
	CHECK_INT(ct_get(f, IP_A, VIP, 40000, 80, IPPROTO_TCP, CT_FWD, &ct), 0);
	CHECK_INT(ct.backend_id, 1);
	CHECK_INT(ct.svc_id, 1);
	CHECK_INT(ct.client_ip, IP_A);
	CHECK_INT(ct.tcp_flags, 0x02);
	CHECK(ct.last_seen_ns > 0 && ct.last_seen_ns <= mono_ns());
	CHECK_INT(ct.nat_ip, IP_B); /* DNAT from the entry, no backend lookup */
	CHECK_INT(ntohs(ct.nat_port), 8080);
	CHECK_INT(ct_get(f, IP_B, IP_A, 8080, 40000, IPPROTO_TCP, CT_REPLY, &ct), 0);
	CHECK_INT(ct.backend_id, 1);
	CHECK_INT(ct.flags, SL_CT_F_REPLY);
	CHECK_INT(ct.nat_ip, VIP); /* reverse NAT from the entry */
	CHECK_INT(ntohs(ct.nat_port), 80);
}

/* The flow of test_tcp_new_flow once slot 1 names the remote backend (until
 * test_tcp_reuse puts it back): its packets keep their backend, are counted
 * since st0, and its reply is reverse-NATed. */
static void test_tcp_established(const struct fds *f, const struct sl_svcstat_val *st0)
{
	struct sl_svcstat_val st;
	struct sl_ct_val ct;
	struct tcp_pkt out;

	UNIT_CASE("an established packet keeps its backend after the slots change");
	svc_put(f, VIP, 80, IPPROTO_TCP, 1, 2, 0, 0, 0); /* slot 1 -> remote backend */
	tcp_from(f, 'a', VIP, 40000, 80, 0x10, TC_ACT_REDIRECT, SL_PATH_SVC_CT, &out);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(ntohs(out.tcp.dest), 8080);
	CHECK(tcp_csums_ok(&out));
	CHECK_INT(ct_get(f, IP_A, VIP, 40000, 80, IPPROTO_TCP, CT_FWD, &ct), 0);
	CHECK_INT(ct.tcp_flags, 0x12);

	UNIT_CASE("the service port counts the new flow and both packets with their bytes");
	CHECK_INT(dp_svcstat_read(f->svcstat, 1, &st), 0);
	CHECK_INT(st.flows - st0->flows, 1);
	CHECK_INT(st.packets - st0->packets, 2);
	CHECK_INT(st.bytes - st0->bytes, 2 * sizeof(struct tcp_pkt));
	CHECK_INT(dp_svcstat_reset(f->svcstat, 1), 0);
	CHECK_INT(dp_svcstat_read(f->svcstat, 1, &st), 0);
	CHECK_INT(st.flows + st.packets + st.bytes, 0);

	UNIT_CASE("the local backend's reply is reverse-NATed to VIP:port");
	tcp_from(f, 'b', IP_A, 8080, 40000, 0x12, TC_ACT_REDIRECT, SL_PATH_REVNAT, &out);
	CHECK_INT(out.ip.saddr, VIP);
	CHECK_INT(ntohs(out.tcp.source), 80);
	CHECK_INT(out.ip.daddr, IP_A);
	CHECK_INT(ntohs(out.tcp.dest), 40000);
	CHECK(tcp_csums_ok(&out));
	CHECK(!memcmp(out.eth.h_source, host_a, 6) && !memcmp(out.eth.h_dest, mac_a, 6));
}

/* A SYN on the same tuple while slot 1 is remote: a new flow to the remote
 * backend, whose reply is reverse-NATed on the way into the pod. */
static void test_tcp_reuse(const struct fds *f)
{
	struct tcp_pkt in, out;
	struct sl_ct_val ct;
	__u32 len;

	UNIT_CASE("a SYN reusing an old tuple is balanced anew");
	tcp_from(f, 'a', VIP, 40000, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.ip.daddr, IP_REMOTE);
	CHECK(!memcmp(out.eth.h_source, mac_uplink, 6) && !memcmp(out.eth.h_dest, mac_router, 6));
	CHECK(tcp_csums_ok(&out));
	CHECK_INT(ct_get(f, IP_B, IP_A, 8080, 40000, IPPROTO_TCP, CT_REPLY, &ct), -ENOENT);
	CHECK_INT(ct_get(f, IP_REMOTE, IP_A, 8080, 40000, IPPROTO_TCP, CT_REPLY, &ct), 0);

	UNIT_CASE("a remote backend's reply is reverse-NATed at tc egress (sl_to_pod)");
	in = tcp_to_a(f, IP_REMOTE, 8080, 40000, 0x12, TC_ACT_OK, SL_PATH_REVNAT, &out, &len);
	CHECK_INT(len, sizeof(in));
	CHECK_INT(out.ip.saddr, VIP);
	CHECK_INT(ntohs(out.tcp.source), 80);
	CHECK_INT(out.ip.daddr, IP_A);
	CHECK_INT(out.ip.ttl, 64); /* not forwarded here, only rewritten */
	CHECK(tcp_csums_ok(&out));
	svc_put(f, VIP, 80, IPPROTO_TCP, 1, 1, 0, 0, 0); /* slot 1 -> B again */
}

/* Replies of no flow pass as they are, from a pod and into one. */
static void test_tcp_no_ct(const struct fds *f)
{
	struct tcp_pkt in, out;

	UNIT_CASE("a reply without conntrack is not reverse-NATed (sl_from_pod)");
	tcp_from(f, 'b', IP_A, 8080, 40999, 0x12, TC_ACT_REDIRECT, SL_PATH_LOCAL, &out);
	CHECK_INT(out.ip.saddr, IP_B);
	CHECK_INT(ntohs(out.tcp.source), 8080);
	CHECK(tcp_csums_ok(&out));

	UNIT_CASE("a reply without conntrack is not reverse-NATed (sl_to_pod)");
	in = tcp_to_a(f, IP_REMOTE, 8080, 40999, 0x12, TC_ACT_OK, 0, &out, NULL);
	CHECK(!memcmp(&in, &out, sizeof(in)));
}

/* Drops: a pod's spoofed VIP source, a slot naming no backend. */
static void test_tcp_drops(const struct fds *f)
{
	struct tcp_pkt in;

	UNIT_CASE("a pod claiming to be the VIP is dropped as spoofed");
	in = tcp_build(mac_b, host_b, VIP, IP_A, 80, 40999, 0x12);
	expect(f->from_pod, f->metrics, &in, sizeof(in), if_b, TC_ACT_SHOT, SL_DROP_SPOOF_IP, NULL,
	       NULL);

	UNIT_CASE("a slot pointing to no backend drops the packet");
	svc_put(f, VIP, 80, IPPROTO_TCP, 1, 999, 0, 0, 0);
	tcp_from(f, 'a', VIP, 40001, 80, 0x02, TC_ACT_SHOT, SL_DROP_BACKEND_MISSING, NULL);
	svc_put(f, VIP, 80, IPPROTO_TCP, 1, 1, 0, 0, 0);
}

/* Connections straight to a pod: not balanced, and a backend's ports taken
 * by one drop (or keep) the reply entry of a Service flow. */
static void test_tcp_direct(const struct fds *f)
{
	struct sl_ct_val ct;
	struct tcp_pkt out;

	UNIT_CASE("traffic to a pod (not a VIP) is not load-balanced");
	tcp_from(f, 'a', IP_B, 40002, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_LOCAL, &out);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(ntohs(out.tcp.dest), 80);
	CHECK_INT(ct_get(f, IP_A, IP_B, 40002, 80, IPPROTO_TCP, CT_FWD, &ct), -ENOENT);

	UNIT_CASE("a SYN straight to a backend forgets an old flow's reply entry on its ports");
	tcp_from(f, 'a', VIP, 40003, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(ct_get(f, IP_B, IP_A, 8080, 40003, IPPROTO_TCP, CT_REPLY, &ct), 0);
	tcp_from(f, 'a', IP_B, 40003, 8080, 0x02, TC_ACT_REDIRECT, SL_PATH_LOCAL, &out);
	CHECK_INT(ct_get(f, IP_B, IP_A, 8080, 40003, IPPROTO_TCP, CT_REPLY, &ct), -ENOENT);
	tcp_from(f, 'b', IP_A, 8080, 40003, 0x12, TC_ACT_REDIRECT, SL_PATH_LOCAL, &out);
	CHECK_INT(out.ip.saddr, IP_B); /* the new connection's SYN-ACK, not the old flow's */
	CHECK_INT(ntohs(out.tcp.source), 8080);

	UNIT_CASE("a packet of an established direct connection keeps a reply entry");
	tcp_from(f, 'a', VIP, 40004, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, NULL);
	tcp_from(f, 'a', IP_B, 40004, 8080, 0x10, TC_ACT_REDIRECT, SL_PATH_LOCAL, NULL);
	CHECK_INT(ct_get(f, IP_B, IP_A, 8080, 40004, IPPROTO_TCP, CT_REPLY, &ct), 0);
}

/* A flow whose backend is deleted lives on its conntrack entries; a new SYN
 * on its tuple finds no backend. Restores backend 1. */
static void test_tcp_backend_deleted(const struct fds *f)
{
	struct tcp_pkt out;

	UNIT_CASE("an established TCP flow rewrites from its entries alone, both ways");
	tcp_from(f, 'a', VIP, 40005, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, NULL);
	CHECK_INT(dp_be_delete(f->be, 1), 0);
	tcp_from(f, 'a', VIP, 40005, 80, 0x10, TC_ACT_REDIRECT, SL_PATH_SVC_CT, &out);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(ntohs(out.tcp.dest), 8080);
	tcp_from(f, 'b', IP_A, 8080, 40005, 0x10, TC_ACT_REDIRECT, SL_PATH_REVNAT, &out);
	CHECK_INT(out.ip.saddr, VIP);
	CHECK_INT(ntohs(out.tcp.source), 80);
	CHECK(tcp_csums_ok(&out));
	UNIT_CASE("a SYN on its tuple is balanced anew, not sent to the deleted backend");
	tcp_from(f, 'a', VIP, 40005, 80, 0x02, TC_ACT_SHOT, SL_DROP_BACKEND_MISSING, NULL);
	be_put(f, 1, IP_B, 8080, IPPROTO_TCP);
}

/* In this order: each part starts from the conntrack and map state the one
 * before it left. */
static void test_tcp(const struct fds *f)
{
	struct sl_svcstat_val st0;

	CHECK_INT(dp_svcstat_read(f->svcstat, 1, &st0), 0);
	test_tcp_new_flow(f);
	test_tcp_established(f, &st0);
	test_tcp_reuse(f);
	test_tcp_no_ct(f);
	test_tcp_drops(f);
	test_tcp_direct(f);
	test_tcp_backend_deleted(f);
}

static void test_udp(const struct fds *f)
{
	struct udp_pkt in, out;
	struct sl_ct_val ct;
	__u32 len;

	UNIT_CASE("UDP to a ClusterIP is DNATed with a valid checksum");
	in = udp_build(IP_A, VIP, 5000, 53, false);
	udp_from_a(f, &in, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(ntohs(out.udp.dest), 5353);
	CHECK(udp_csums_ok(&out));
	CHECK_INT(ct_get(f, IP_A, VIP, 5000, 53, IPPROTO_UDP, CT_FWD, &ct), 0);
	CHECK_INT(ct.backend_id, 3);

	UNIT_CASE("a UDP flow whose backend was deleted picks a live one");
	CHECK_INT(dp_be_delete(f->be, 3), 0);
	svc_put(f, VIP, 53, IPPROTO_UDP, 1, 4, 0, 0, 0);
	udp_from_a(f, &in, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.ip.daddr, IP_REMOTE2);
	CHECK(udp_csums_ok(&out));
	CHECK_INT(ct_get(f, IP_A, VIP, 5000, 53, IPPROTO_UDP, CT_FWD, &ct), 0);
	CHECK_INT(ct.backend_id, 4);
	CHECK_INT(ct_get(f, IP_REMOTE2, IP_A, 5353, 5000, IPPROTO_UDP, CT_REPLY, &ct), 0);

	UNIT_CASE("a UDP flow whose backend id now names another address follows it");
	be_put(f, 4, IP_B, 5353, IPPROTO_UDP); /* ids are reused by the agent */
	udp_from_a(f, &in, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.ip.daddr, IP_B);
	be_put(f, 4, IP_REMOTE2, 5353, IPPROTO_UDP);

	UNIT_CASE("a UDP datagram without checksum keeps checksum 0");
	in = udp_build(IP_A, VIP, 5001, 53, true);
	udp_from_a(f, &in, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.udp.check, 0);
	CHECK_INT(out.ip.daddr, IP_REMOTE2);
	CHECK_INT(csum(&out.ip, sizeof(out.ip)), 0);

	UNIT_CASE("a UDP checksum that sums to 0 after DNAT is sent as 0xffff, not as 'none'");
	in = udp_csum_zero_after(IP_A, VIP, 5002, 53, IP_REMOTE2, 5353);
	CHECK(in.udp.check != 0);
	udp_from_a(f, &in, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.ip.daddr, IP_REMOTE2);
	CHECK_INT(out.udp.check, 0xffff);
	CHECK(udp_csums_ok(&out));

	UNIT_CASE("the UDP reply is reverse-NATed at tc egress");
	in = udp_build(IP_REMOTE2, IP_A, 5353, 5000, false);
	len = sizeof(out);
	expect_at(f->to_pod, f->metrics, &in, sizeof(in), if_a, false, TC_ACT_OK, SL_PATH_REVNAT,
		  &out, &len);
	CHECK_INT(out.ip.saddr, VIP);
	CHECK_INT(ntohs(out.udp.source), 53);
	CHECK(udp_csums_ok(&out));
}

static void test_affinity(const struct fds *f)
{
	struct sl_aff_key key = {.client = IP_A, .svc_id = 3};
	struct sl_aff_val aff = {};
	struct tcp_pkt out;

	UNIT_CASE("a new flow records the client's backend for affinity");
	tcp_from(f, 'a', VIP, 41000, 443, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(bpf_map_lookup_elem(f->aff, &key, &aff), 0);
	CHECK_INT(aff.backend_id, 5);
	CHECK(aff.last_used_ns > 0 && aff.last_used_ns <= mono_ns());

	UNIT_CASE("within the affinity timeout a new flow goes to the same backend");
	aff.backend_id = 6; /* not in any slot: only affinity can choose it */
	aff.last_used_ns = mono_ns();
	CHECK_INT(bpf_map_update_elem(f->aff, &key, &aff, BPF_ANY), 0);
	tcp_from(f, 'a', VIP, 41001, 443, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.ip.daddr, IP_REMOTE);
	CHECK_INT(ntohs(out.tcp.dest), 8443);
	CHECK(tcp_csums_ok(&out));

	UNIT_CASE("after the affinity timeout the backend is chosen anew");
	aff.backend_id = 6;
	aff.last_used_ns = mono_ns() - 5000000000ull;
	CHECK_INT(bpf_map_update_elem(f->aff, &key, &aff, BPF_ANY), 0);
	tcp_from(f, 'a', VIP, 41002, 443, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(bpf_map_lookup_elem(f->aff, &key, &aff), 0);
	CHECK_INT(aff.backend_id, 5);

	UNIT_CASE("affinity to a deleted backend is not followed");
	aff.backend_id = 42;
	aff.last_used_ns = mono_ns();
	CHECK_INT(bpf_map_update_elem(f->aff, &key, &aff, BPF_ANY), 0);
	tcp_from(f, 'a', VIP, 41003, 443, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.ip.daddr, IP_B);
}

/* The reply to in is an ICMP port unreachable from its destination. */
static void check_reject(const struct tcp_pkt *in, const struct icmp_err_pkt *out, __u32 len)
{
	CHECK_INT(len, sizeof(*out));
	CHECK(!memcmp(out->eth.h_dest, mac_a, 6) && !memcmp(out->eth.h_source, host_a, 6));
	CHECK_INT(ntohs(out->eth.h_proto), ETH_P_IP);
	CHECK_INT(out->ip.protocol, IPPROTO_ICMP);
	CHECK_INT(out->ip.saddr, in->ip.daddr);
	CHECK_INT(out->ip.daddr, in->ip.saddr);
	CHECK_INT(ntohs(out->ip.tot_len), sizeof(*out) - sizeof(out->eth));
	CHECK_INT(csum(&out->ip, sizeof(out->ip)), 0);
	CHECK_INT(out->icmp.type, ICMP_DEST_UNREACH);
	CHECK_INT(out->icmp.code, ICMP_PORT_UNREACH);
	CHECK_INT(csum(&out->icmp, sizeof(*out) - offsetof(struct icmp_err_pkt, icmp)), 0);
	CHECK(!memcmp(&out->qip, &in->ip, sizeof(in->ip)));
	CHECK(!memcmp(out->ql4, &in->tcp, 8));
}

/* A packet socket on the pod side of veth ha: sees what is sent into pod A. */
static int pod_a_tap(void)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));

	sll.sll_ifindex = if_nametoindex("pa");
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The first TCP segment the tap saw within a second, 0 if it got one. */
static int tap_tcp(int fd, struct tcp_pkt *out)
{
	__u8 buf[2048];

	for (int i = 0; i < 100; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			usleep(10000);
			continue;
		}
		if (n >= (ssize_t)(sizeof(*out) - sizeof(out->payload)) &&
		    buf[offsetof(struct tcp_pkt, ip.protocol)] == IPPROTO_TCP) {
			memset(out, 0, sizeof(*out));
			memcpy(out, buf, sizeof(*out) - sizeof(out->payload));
			return 0;
		}
	}
	return -ETIMEDOUT;
}

/* A reject quotes a fixed-size IP header: a packet with IP options gets no
 * answer and is dropped as a reject failure, not counted as a NAT failure. */
static void test_reject_options(const struct fds *f)
{
	struct {
		struct ethhdr eth;
		struct iphdr ip;
		__u8 opts[4];
		struct tcphdr tcp;
	} __attribute__((packed)) in = {};
	struct tcp_pkt t = tcp_build(mac_a, host_a, IP_A, VIP_EMPTY, 42003, 80, 0x02);

	UNIT_CASE("a reject that cannot be built drops as SL_DROP_REJECT");
	in.eth = t.eth;
	in.ip = t.ip;
	in.ip.ihl = 6;
	in.ip.tot_len = htons(sizeof(in) - sizeof(in.eth));
	memset(in.opts, 1, sizeof(in.opts)); /* IPOPT_NOP */
	in.ip.check = 0;
	in.ip.check = csum(&in.ip, sizeof(in.ip) + sizeof(in.opts));
	in.tcp = t.tcp;
	in.tcp.check = 0;
	in.tcp.check = csum_l4(IP_A, VIP_EMPTY, IPPROTO_TCP, &in.tcp, sizeof(in.tcp));
	expect(f->from_pod, f->metrics, &in, sizeof(in), if_a, TC_ACT_SHOT, SL_DROP_REJECT, NULL,
	       NULL);
}

/* A SYN to a service without endpoints: the ICMP error back through the
 * program, and the reset the tap on pod A's side sees. */
static void test_reject_syn(const struct fds *f)
{
	struct tcp_pkt in, rst;
	struct icmp_err_pkt out;
	__u32 len;
	int tap = pod_a_tap();

	UNIT_CASE("a service without endpoints answers ICMP port unreachable");
	CHECK(tap >= 0);
	in = tcp_build(mac_a, host_a, IP_A, VIP_EMPTY, 42000, 80, 0x02);
	len = sizeof(out) + 64;
	{
		__u8 buf[sizeof(out) + 64];

		expect_at(f->from_pod, f->metrics, &in, sizeof(in), if_a, true, TC_ACT_REDIRECT,
			  SL_PATH_SVC_REJECT, buf, &len);
		memcpy(&out, buf, sizeof(out));
	}
	check_reject(&in, &out, len);

	UNIT_CASE("a rejected TCP SYN also gets a reset, so connect() fails at once");
	CHECK_INT(tap_tcp(tap, &rst), 0);
	CHECK(!memcmp(rst.eth.h_dest, mac_a, 6) && !memcmp(rst.eth.h_source, host_a, 6));
	CHECK_INT(rst.ip.saddr, VIP_EMPTY);
	CHECK_INT(rst.ip.daddr, IP_A);
	CHECK_INT(ntohs(rst.ip.tot_len), 40);
	CHECK_INT(csum(&rst.ip, sizeof(rst.ip)), 0);
	CHECK_INT(ntohs(rst.tcp.source), 80);
	CHECK_INT(ntohs(rst.tcp.dest), 42000);
	CHECK(rst.tcp.rst && rst.tcp.ack && !rst.tcp.syn);
	CHECK_INT(ntohl(rst.tcp.ack_seq),
		  ntohl(in.tcp.seq) + sizeof(in.payload) + 1); /* data + SYN */
	CHECK_INT(csum_l4(rst.ip.saddr, rst.ip.daddr, IPPROTO_TCP, &rst.tcp, sizeof(rst.tcp)), 0);
	if (tap >= 0)
		close(tap);
}

static void test_reject(const struct fds *f)
{
	struct tcp_pkt in;
	struct icmp_err_pkt out;
	struct udp_pkt uin;
	__u32 len;

	test_reject_syn(f);

	UNIT_CASE("a port the ClusterIP does not have is rejected");
	in = tcp_build(mac_a, host_a, IP_A, VIP, 42001, 8081, 0x02);
	len = sizeof(out);
	expect_at(f->from_pod, f->metrics, &in, sizeof(in), if_a, true, TC_ACT_REDIRECT,
		  SL_PATH_SVC_REJECT, &out, &len);
	check_reject(&in, &out, len);

	UNIT_CASE("a short UDP datagram to an empty service is rejected too (packet grows)");
	uin = udp_build(IP_A, VIP_EMPTY, 5002, 80, false);
	uin.ip.protocol = IPPROTO_UDP;
	svc_put(f, VIP_EMPTY, 80, IPPROTO_UDP, 0, 7, 0, 0, 0);
	len = sizeof(out);
	expect_at(f->from_pod, f->metrics, &uin, sizeof(uin) - 8, if_a, true, TC_ACT_REDIRECT,
		  SL_PATH_SVC_REJECT, &out, &len);
	CHECK_INT(len, sizeof(out));
	CHECK_INT(out.icmp.type, ICMP_DEST_UNREACH);
	CHECK_INT(csum(&out.icmp, sizeof(out) - offsetof(struct icmp_err_pkt, icmp)), 0);
	CHECK_INT(out.qip.protocol, IPPROTO_UDP);

	UNIT_CASE("a Local service without local endpoints drops, counted");
	tcp_from(f, 'a', VIP_EMPTY, 42002, 81, 0x02, TC_ACT_SHOT, SL_DROP_NO_LOCAL_BACKEND, NULL);

	test_reject_options(f);
}

static void test_hairpin(const struct fds *f)
{
	struct tcp_pkt out;
	struct sl_ct_val ct;

	UNIT_CASE("a pod reaching itself through its Service sees the loopback source");
	tcp_from(f, 'a', VIP_HAIRPIN, 43000, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW, &out);
	CHECK_INT(out.ip.saddr, LOOPBACK);
	CHECK_INT(out.ip.daddr, IP_A);
	CHECK_INT(ntohs(out.tcp.dest), 8080);
	CHECK(tcp_csums_ok(&out));
	CHECK(!memcmp(out.eth.h_dest, mac_a, 6));
	CHECK_INT(ct_get(f, IP_A, LOOPBACK, 8080, 43000, IPPROTO_TCP, CT_REPLY, &ct), 0);
	CHECK_INT(ct.flags, SL_CT_F_HAIRPIN | SL_CT_F_REPLY);
	CHECK_INT(ct.client_ip, IP_A);

	UNIT_CASE("the hairpin reply is restored to VIP -> client");
	tcp_from(f, 'a', LOOPBACK, 8080, 43000, 0x12, TC_ACT_REDIRECT, SL_PATH_REVNAT, &out);
	CHECK_INT(out.ip.saddr, VIP_HAIRPIN);
	CHECK_INT(ntohs(out.tcp.source), 80);
	CHECK_INT(out.ip.daddr, IP_A);
	CHECK_INT(ntohs(out.tcp.dest), 43000);
	CHECK(tcp_csums_ok(&out));

	UNIT_CASE("the hairpin flow's next packet keeps the loopback source");
	tcp_from(f, 'a', VIP_HAIRPIN, 43000, 80, 0x10, TC_ACT_REDIRECT, SL_PATH_SVC_CT, &out);
	CHECK_INT(out.ip.saddr, LOOPBACK);
	CHECK(tcp_csums_ok(&out));
}

static int svc_count(const struct sl_svc_key *key, const struct sl_svc_val *val, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static int be_count(__u32 id, const struct sl_be_val *val, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static int be_stop(__u32 id, const struct sl_be_val *val, void *ctx)
{
	return id == 2 ? 7 : 0;
}

static void test_maps(const struct fds *f)
{
	struct sl_svc_key k = {.vip = VIP, .port = htons(9), .proto = IPPROTO_TCP};
	int n = 0, purged;

	UNIT_CASE("service map operations");
	CHECK_INT(dp_svc_foreach(f->svc, svc_count, &n), 0);
	CHECK_INT(n, 14);
	CHECK_INT(dp_svc_delete(f->svc, &k), -ENOENT);
	n = 0;
	CHECK_INT(dp_be_foreach(f->be, be_count, &n), 0);
	CHECK_INT(n, 6); /* 7 seeded, backend 3 deleted */
	CHECK_INT(dp_be_delete(f->be, 3), -ENOENT);

	UNIT_CASE("a lookup keeps the key's scope: an external frontend is not its internal twin");
	{
		struct sl_svc_key ext = {.vip = VIP, .port = htons(80), .proto = IPPROTO_TCP};
		struct sl_svc_val v = {.id = 77, .count = 1}, got;

		ext.scope = SL_SVC_SCOPE_EXT;
		CHECK_INT(dp_svc_update(f->svc, &ext, &v), 0);
		CHECK_INT(dp_svc_lookup(f->svc, &ext, &got), 0);
		CHECK_INT(got.id, 77);
		ext.scope = SL_SVC_SCOPE_INT;
		CHECK_INT(dp_svc_lookup(f->svc, &ext, &got), 0);
		CHECK(got.id != 77);
		ext.scope = SL_SVC_SCOPE_EXT;
		CHECK_INT(dp_svc_delete(f->svc, &ext), 0);
		CHECK_INT(dp_svc_lookup(f->svc, &ext, &got), -ENOENT);
	}
	CHECK_INT(dp_be_foreach(f->be, be_stop, NULL), 7); /* a walk stops at a non-zero return */
	CHECK_INT(dp_be_delete(f->be, 99), -ENOENT);

	UNIT_CASE("conntrack entries of a backend are purged, UDP only on request");
	purged = dp_ct_purge_backend(f->ct, 2, true);
	CHECK_INT(purged, 0); /* backend 2 has a TCP flow only */
	purged = dp_ct_purge_backend(f->ct, 4, true);
	/* three UDP flows, both directions, and the reply entry of 5000 via IP_B */
	CHECK_INT(purged, 7);
	purged = dp_ct_purge_backend(f->ct, 2, false);
	CHECK_INT(purged, 2);
	/* flows 40003 and 40005 (forward entry only), 40004 */
	CHECK_INT(dp_ct_purge_backend(f->ct, 1, false), 4);
	CHECK_INT(dp_ct_purge_backend(-1, 1, false), -EINVAL);
}

/* A conntrack map that refuses new entries: a full one-entry hash stands in
 * for an LRU that cannot evict. The flow is dropped and counted as conntrack
 * full, a cause a user can tell from a failed NAT rewrite. */
static void test_ct_full(void)
{
	struct sl_ct_key k = {.saddr = IP(192, 0, 2, 1), .proto = IPPROTO_UDP};
	struct sl_ct_val v = {};
	struct sl_pod *skel;
	struct fds f;
	int ct;

	UNIT_CASE("a new flow the conntrack map cannot hold drops as SL_DROP_CT_FULL");
	ct = bpf_map_create(BPF_MAP_TYPE_HASH, "sl_ct4", sizeof(k), sizeof(v), 1, NULL);
	CHECK(ct >= 0);
	if (ct < 0)
		return;
	CHECK_INT(bpf_map_update_elem(ct, &k, &v, BPF_ANY), 0);
	skel = pod_fixture_load(ct);
	close(ct);
	if (!skel)
		return;
	f = fds_of(skel);
	if (f.from_pod >= 0) {
		seed(&f);
		tcp_from(&f, 'a', VIP, 43000, 80, 0x02, TC_ACT_SHOT, SL_DROP_CT_FULL, NULL);
	}
	sl_pod__destroy(skel);
}

static void test_all(const struct fds *f)
{
	seed(f);
	test_tcp(f);
	test_udp(f);
	test_affinity(f);
	test_reject(f);
	test_hairpin(f);
	test_maps(f);
	test_node_port(f); /* last: test_maps counts the entries before it */
}

int main(void)
{
	int ran = pod_fixture_run("bpf_test_svc", netns_setup,
				  sizeof(netns_setup) / sizeof(netns_setup[0]), test_all);

	if (ran < 0)
		return 1;
	if (ran == 0)
		test_ct_full();
	return unit_done();
}
