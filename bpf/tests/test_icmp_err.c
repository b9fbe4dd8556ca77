// SPDX-License-Identifier: Apache-2.0
/* BPF_PROG_TEST_RUN tests of ICMP errors about load-balanced flows: port unreachable from a local
 * backend, fragmentation needed from a router before a remote one, time exceeded, the client's
 * errors about replies sent on to local, remote and hairpin backends, the node's own fragmentation
 * needed for a packet too big for a local pod, errors about other flows left alone; every checksum
 * verified. Root; runs in a private network namespace. */
#define _GNU_SOURCE
#include <linux/tcp.h>
#include <linux/udp.h>

#include "icmp_pkt.h"
#include "l4_pkt.h"
#include "pod_fixture.h"

#define IP_REMOTE   IP(10, 244, 2, 5) /* backend pod on another node */
#define IP_ROUTER   IP(10, 0, 0, 2)
#define VIP	    IP(10, 96, 0, 10) /* UDP 53 -> B:5353 (svc 1), TCP 80 -> REMOTE:8080 (svc 2) */
#define VIP_HAIRPIN IP(10, 96, 0, 30) /* UDP 53 -> A:5353 (svc 3), the client itself */
#define LOOPBACK    htonl(SL_SVC_LOOPBACK4)

static const char *const netns_setup[] = {
    POD_FIXTURE_LINKS, "ip route add 10.244.2.0/24 via 10.0.0.2 dev up0",
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
    "ip link set hb mtu 1400", /* pod B's veth: smaller than A's */
};

static void seed(const struct fds *f)
{
	struct sl_svc_key k = {.vip = VIP, .port = htons(53), .proto = IPPROTO_UDP};
	struct sl_svc_val v = {.id = 1, .count = 1};
	struct sl_be_val be = {.ip = IP_B, .port = htons(5353), .proto = IPPROTO_UDP};

	pod_fixture_eps_put(&f->eps);
	CHECK_INT(dp_be_update(f->be, 1, &be), 0);
	k.slot = 1;
	v.id = 1;
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.id = 1}), 0);
	k.slot = 0;
	CHECK_INT(dp_svc_update(f->svc, &k, &v), 0);

	be = (struct sl_be_val){.ip = IP_REMOTE, .port = htons(8080), .proto = IPPROTO_TCP};
	k = (struct sl_svc_key){.vip = VIP, .port = htons(80), .proto = IPPROTO_TCP, .slot = 1};
	CHECK_INT(dp_be_update(f->be, 2, &be), 0);
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.id = 2}), 0);
	k.slot = 0;
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.id = 2, .count = 1}), 0);
	k = (struct sl_svc_key){.vip = VIP};
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.flags = SL_SVC_F_VIP}), 0);

	be = (struct sl_be_val){.ip = IP_A, .port = htons(5353), .proto = IPPROTO_UDP};
	k = (struct sl_svc_key){
	    .vip = VIP_HAIRPIN, .port = htons(53), .proto = IPPROTO_UDP, .slot = 1};
	CHECK_INT(dp_be_update(f->be, 3, &be), 0);
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.id = 3}), 0);
	k.slot = 0;
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.id = 3, .count = 1}), 0);
	k = (struct sl_svc_key){.vip = VIP_HAIRPIN};
	CHECK_INT(dp_svc_update(f->svc, &k, &(struct sl_svc_val){.flags = SL_SVC_F_VIP}), 0);
}

/* Where the errors run: sl_from_pod on B's and on A's veth, sl_to_pod toward A. */
static struct err_at from_b, from_a, to_a;

static void test_port_unreachable(const struct fds *f)
{
	struct udp_pkt sent = udp_build(IP_A, VIP, 40000, 53, false);
	struct udp_pkt seen = udp_build(IP_A, IP_B, 40000, 5353, false);
	const size_t qlen = sizeof(struct iphdr) + sizeof(struct udphdr);

	UNIT_CASE("the client's UDP flow to the VIP goes to the local backend B");
	expect(f->from_pod, f->metrics, &sent, sizeof(sent), if_a, TC_ACT_REDIRECT, SL_PATH_SVC_NEW,
	       NULL, NULL);

	UNIT_CASE("B's port unreachable reaches the client from VIP:53, quoting its own packet");
	/* the quote is now exactly the header the client sent, checksums included */
	err_expect(&from_b,
		   &(struct err_send){mac_b, host_b, IP_B, IP_A, 3, 3, 0, &seen.ip, qlen, true},
		   &(struct err_want){.verdict = TC_ACT_REDIRECT,
				      .metric = SL_PATH_ICMP_REVNAT,
				      .len_kept = true,
				      .saddr = VIP,
				      .daddr = IP_A,
				      .type = 3,
				      .code = 3,
				      .eth_src = host_a,
				      .eth_dst = mac_a,
				      .ip = sent.ip,
				      .l4 = &sent.udp,
				      .l4len = sizeof(sent.udp)});
}

/* A router's error, or the remote backend's own, about the client's segment to that backend:
 * the case, its source, type, code, MTU and bytes of TCP quoted, and the addresses the client
 * must see (0: not checked). */
struct frag_case {
	const char *name;
	__be32 src;
	__u8 type, code;
	__u16 mtu;
	size_t l4len;
	__be32 want_src, want_dst;
};

static void test_frag_needed(const struct fds *f)
{
	struct tcp_pkt sent = tcp_build(mac_a, host_a, IP_A, VIP, 41000, 80, 0x10);
	struct tcp_pkt seen = tcp_build(mac_a, host_a, IP_A, IP_REMOTE, 41000, 8080, 0x10);
	const size_t whole = sizeof(struct tcphdr) + 4;
	const struct frag_case cases[] = {
	    {"a router's fragmentation needed keeps its source, MTU; the quote is the "
	     "client's, TCP checksum too (sl_to_pod)",
	     IP_ROUTER, 3, 4, 1400, whole, IP_ROUTER, IP_A},
	    {"time exceeded quoting 8 bytes of TCP: quote rewritten, ICMP checksum right",
	     IP_ROUTER, 11, 0, 0, 8, 0, 0},
	    {"the remote backend's own error also gets the VIP as its source", IP_REMOTE, 3, 3, 0,
	     whole, VIP, 0},
	};

	UNIT_CASE("the client's TCP flow to the VIP goes to the remote backend");
	sent.tcp.syn = 1;
	sent.tcp.ack = 0;
	sent.tcp.check = 0;
	sent.tcp.check = csum_l4(IP_A, VIP, IPPROTO_TCP, &sent.tcp, sizeof(sent.tcp) + 4);
	expect(f->from_pod, f->metrics, &sent, sizeof(sent), if_a, TC_ACT_REDIRECT, SL_PATH_SVC_NEW,
	       NULL, NULL);
	sent = tcp_build(mac_a, host_a, IP_A, VIP, 41000, 80, 0x10);

	for (const struct frag_case *c = cases; c < cases + sizeof(cases) / sizeof(cases[0]); c++) {
		UNIT_CASE(c->name);
		err_expect(&to_a,
			   &(struct err_send){mac_uplink, host_a, c->src, IP_A, c->type, c->code,
					      c->mtu, &seen.ip, sizeof(struct iphdr) + c->l4len},
			   &(struct err_want){.verdict = TC_ACT_OK,
					      .metric = SL_PATH_ICMP_REVNAT,
					      .saddr = c->want_src,
					      .daddr = c->want_dst,
					      .mtu = c->mtu,
					      .ip = sent.ip,
					      .l4 = &sent.tcp,
					      .l4len = c->l4len});
	}
}

static void test_hairpin(const struct fds *f)
{
	struct udp_pkt sent = udp_build(IP_A, VIP_HAIRPIN, 40002, 53, false);
	struct udp_pkt seen = udp_build(LOOPBACK, IP_A, 40002, 5353, false);
	const size_t qlen = sizeof(struct iphdr) + sizeof(struct udphdr);

	UNIT_CASE("a pod reaching itself through its Service: the error comes back as the VIP's");
	expect(f->from_pod, f->metrics, &sent, sizeof(sent), if_a, TC_ACT_REDIRECT, SL_PATH_SVC_NEW,
	       NULL, NULL);
	/* its own stack answers the loopback address it saw as the client */
	err_expect(&from_a,
		   &(struct err_send){mac_a, host_a, IP_A, LOOPBACK, 3, 3, 0, &seen.ip, qlen},
		   &(struct err_want){.verdict = TC_ACT_REDIRECT,
				      .metric = SL_PATH_ICMP_REVNAT,
				      .saddr = VIP_HAIRPIN,
				      .daddr = IP_A,
				      .ip = sent.ip,
				      .l4 = &sent.udp,
				      .l4len = sizeof(sent.udp)});
}

static void test_not_ours(const struct fds *f)
{
	struct tcp_pkt other = tcp_build(mac_a, host_a, IP_A, IP_REMOTE, 41001, 8080, 0x10);
	const size_t qlen = sizeof(other) - sizeof(struct ethhdr);
	const struct err_send frag = {mac_uplink, host_a, IP_ROUTER, IP_A, 3,
				      4,	  1400,	  &other.ip, qlen};
	const struct err_want untouched = {.verdict = TC_ACT_OK, .untouched = true};
	struct sl_ct_key rk = {.saddr = IP_REMOTE,
			       .daddr = IP_A,
			       .sport = htons(8080),
			       .dport = htons(41001),
			       .proto = IPPROTO_TCP};
	struct sl_ct_val rv = {.flags = SL_CT_F_POLICY | SL_CT_F_REPLY};

	UNIT_CASE("an error about a flow that is no service's passes untouched");
	err_expect(&to_a, &frag, &untouched);

	UNIT_CASE("an error about a policed flow that is no service's (policy entries) passes "
		  "untouched");
	CHECK_INT(bpf_map_update_elem(f->ct, &rk, &rv, BPF_ANY), 0);
	err_expect(&to_a, &frag, &untouched);
	bpf_map_delete_elem(f->ct, &rk);

	UNIT_CASE("an echo request is no error: untouched");
	err_expect(
	    &to_a,
	    &(struct err_send){mac_uplink, host_a, IP_ROUTER, IP_A, 8, 0, 0, &other.ip, qlen},
	    &untouched);
}

/* Errors about replies, from the client: each goes to the backend, quoting its reply as sent. */

static void test_reply_local(const struct fds *f)
{
	struct udp_pkt sent = udp_build(IP_A, VIP, 40010, 53, false);
	struct udp_pkt reply = udp_build(IP_B, IP_A, 5353, 40010, false), got;
	const size_t qlen = sizeof(struct iphdr) + sizeof(struct udphdr);
	__u32 len = sizeof(got);

	UNIT_CASE("the client's UDP flow to the VIP goes to B; B's reply comes from VIP:53");
	expect(f->from_pod, f->metrics, &sent, sizeof(sent), if_a, TC_ACT_REDIRECT, SL_PATH_SVC_NEW,
	       NULL, NULL);
	memcpy(reply.eth.h_source, mac_b, 6);
	memcpy(reply.eth.h_dest, host_b, 6);
	expect(f->from_pod, f->metrics, &reply, sizeof(reply), if_b, TC_ACT_REDIRECT,
	       SL_PATH_REVNAT, &got, &len);
	CHECK_INT(got.ip.saddr, VIP);

	UNIT_CASE("the client's port unreachable about that reply reaches B from the client, "
		  "quoting B's reply as B sent it");
	err_expect(&from_a,
		   &(struct err_send){mac_a, host_a, IP_A, VIP, 3, 3, 0, &got.ip, qlen, true},
		   &(struct err_want){.verdict = TC_ACT_REDIRECT,
				      .metric = SL_PATH_ICMP_TO_BE,
				      .len_kept = true,
				      .saddr = IP_A,
				      .daddr = IP_B,
				      .type = 3,
				      .code = 3,
				      .eth_src = host_b,
				      .eth_dst = mac_b,
				      .ip = reply.ip,
				      .fwd = true,
				      .l4 = &reply.udp,
				      .l4len = sizeof(reply.udp)});
}

static void test_reply_remote(const struct fds *f)
{
	struct tcp_pkt sent = tcp_build(mac_a, host_a, IP_A, VIP, 41010, 80, 0x02);
	struct tcp_pkt reply = tcp_build(mac_uplink, host_a, IP_REMOTE, IP_A, 8080, 41010, 0x12);
	const size_t qlen = sizeof(reply) - sizeof(struct ethhdr); /* the whole segment */
	struct tcp_pkt got;
	__u32 len = sizeof(got);

	UNIT_CASE("the client's TCP flow goes to the remote backend; its reply comes from VIP:80");
	expect(f->from_pod, f->metrics, &sent, sizeof(sent), if_a, TC_ACT_REDIRECT, SL_PATH_SVC_NEW,
	       NULL, NULL);
	expect_at(f->to_pod, f->metrics, &reply, sizeof(reply), if_a, false, TC_ACT_OK,
		  SL_PATH_REVNAT, &got, &len);
	CHECK_INT(got.ip.saddr, VIP);

	UNIT_CASE("the client's fragmentation needed about that reply leaves by the FIB for the "
		  "remote backend, MTU kept, quoting its segment as sent, TCP checksum too");
	err_expect(&from_a, &(struct err_send){mac_a, host_a, IP_A, VIP, 3, 4, 1400, &got.ip, qlen},
		   &(struct err_want){.verdict = TC_ACT_REDIRECT,
				      .metric = SL_PATH_ICMP_TO_BE,
				      .saddr = IP_A,
				      .daddr = IP_REMOTE,
				      .mtu = 1400,
				      .eth_dst = mac_router,
				      .ip = reply.ip,
				      .l4 = &reply.tcp,
				      .l4len = qlen - sizeof(reply.ip)});

	UNIT_CASE("time exceeded quoting 8 bytes of the reply: the backend's, ICMP checksum right");
	err_expect(&from_a,
		   &(struct err_send){mac_a, host_a, IP_A, VIP, 11, 0, 0, &got.ip,
				      sizeof(struct iphdr) + 8},
		   &(struct err_want){.verdict = TC_ACT_REDIRECT,
				      .metric = SL_PATH_ICMP_TO_BE,
				      .ip = reply.ip,
				      .l4 = &reply.tcp,
				      .l4len = 8});
}

static void test_reply_hairpin(const struct fds *f)
{
	struct udp_pkt sent = udp_build(IP_A, VIP_HAIRPIN, 40012, 53, false);
	struct udp_pkt reply = udp_build(IP_A, LOOPBACK, 5353, 40012, false), got;
	const size_t qlen = sizeof(struct iphdr) + sizeof(struct udphdr);
	__u32 len = sizeof(got);

	UNIT_CASE("a pod reaching itself through its Service answers itself from the VIP");
	expect(f->from_pod, f->metrics, &sent, sizeof(sent), if_a, TC_ACT_REDIRECT, SL_PATH_SVC_NEW,
	       NULL, NULL);
	expect(f->from_pod, f->metrics, &reply, sizeof(reply), if_a, TC_ACT_REDIRECT,
	       SL_PATH_REVNAT, &got, &len);
	CHECK_INT(got.ip.saddr, VIP_HAIRPIN);
	CHECK_INT(got.ip.daddr, IP_A);

	UNIT_CASE("its port unreachable about the reply comes back from the loopback address, "
		  "quoting the reply as it sent it");
	err_expect(&from_a,
		   &(struct err_send){mac_a, host_a, IP_A, VIP_HAIRPIN, 3, 3, 0, &got.ip, qlen},
		   &(struct err_want){.verdict = TC_ACT_REDIRECT,
				      .metric = SL_PATH_ICMP_TO_BE,
				      .saddr = LOOPBACK,
				      .daddr = IP_A,
				      .ip = reply.ip,
				      .fwd = true,
				      .l4 = &reply.udp,
				      .l4len = sizeof(reply.udp)});
}

static void test_reply_not_ours(const struct fds *f)
{
	struct tcp_pkt other = tcp_build(mac_uplink, host_a, IP_REMOTE, IP_A, 8080, 41011, 0x12);
	const size_t qlen = sizeof(other) - sizeof(struct ethhdr);
	struct icmp_err in, out;
	__u32 len = sizeof(out);

	UNIT_CASE("a pod's error about a packet of no service flow is forwarded as it is");
	in = err_build(mac_a, host_a, IP_A, IP_REMOTE, 3, 3, 0, &other.ip, qlen);
	expect_at(f->from_pod, f->metrics, &in, ERR_LEN(qlen), if_a, true, TC_ACT_REDIRECT,
		  SL_PATH_FIB, &out, &len);
	CHECK(!memcmp(&in.icmp, &out.icmp, sizeof(in.icmp) + qlen));
	CHECK_INT(out.ip.daddr, IP_REMOTE);
}

/* The node's own fragmentation needed for a packet too big for the pod it goes to (lib/pmtu.h). */

static void test_pmtu_client(const struct fds *f)
{
	struct udp_big fits = udp_big_build(mac_a, host_a, IP_A, VIP, 40020, 53, 1400);
	struct udp_big big = udp_big_build(mac_a, host_a, IP_A, VIP, 40020, 53, 1401);

	UNIT_CASE("a DF datagram to the VIP as long as B's veth MTU goes to B");
	expect(f->from_pod, f->metrics, &fits, BIG_LEN(1400), if_a, TC_ACT_REDIRECT,
	       SL_PATH_SVC_NEW, NULL, NULL);

	UNIT_CASE("one byte longer: the node's fragmentation needed (MTU 1400) goes back to the "
		  "client from VIP:53, quoting the client's own datagram");
	err_run(&from_a, &big, BIG_LEN(1401), sizeof(struct iphdr) + 8,
		&(struct err_want){.verdict = TC_ACT_REDIRECT,
				   .metric = SL_PATH_PMTU,
				   .len_kept = true,
				   .saddr = VIP,
				   .daddr = IP_A,
				   .type = 3,
				   .code = 4,
				   .mtu = 1400,
				   .eth_src = host_a,
				   .eth_dst = mac_a,
				   .ip = big.ip,
				   .l4 = &big.udp,
				   .l4len = 8});

	UNIT_CASE("without DF it is left to the redirect");
	big.ip.frag_off = 0;
	big.ip.check = 0;
	big.ip.check = csum(&big.ip, sizeof(big.ip));
	expect(f->from_pod, f->metrics, &big, BIG_LEN(1401), if_a, TC_ACT_REDIRECT, SL_PATH_SVC_CT,
	       NULL, NULL);
}

static void test_pmtu_reply(const struct fds *f)
{
	struct udp_pkt sent = udp_build(IP_B, VIP_HAIRPIN, 40021, 53, false);
	struct udp_big reply = udp_big_build(mac_a, host_a, IP_A, IP_B, 5353, 40021, 1450);

	UNIT_CASE("B's flow to a Service goes to A; A's reply too big for B's veth comes back to A "
		  "as fragmentation needed from B, quoting the reply as A sent it");
	memcpy(sent.eth.h_source, mac_b, 6);
	memcpy(sent.eth.h_dest, host_b, 6);
	expect(f->from_pod, f->metrics, &sent, sizeof(sent), if_b, TC_ACT_REDIRECT, SL_PATH_SVC_NEW,
	       NULL, NULL);
	err_run(&from_a, &reply, BIG_LEN(1450), sizeof(struct iphdr) + 8,
		&(struct err_want){.verdict = TC_ACT_REDIRECT,
				   .metric = SL_PATH_PMTU,
				   .saddr = IP_B,
				   .daddr = IP_A,
				   .mtu = 1400,
				   .ip = reply.ip,
				   .l4 = &reply.udp,
				   .l4len = 8});
}

static void test_all(const struct fds *f)
{
	from_b = (struct err_at){f->from_pod, f->metrics, if_b, true};
	from_a = (struct err_at){f->from_pod, f->metrics, if_a, true};
	to_a = (struct err_at){f->to_pod, f->metrics, if_a, false};
	seed(f);
	test_port_unreachable(f);
	test_frag_needed(f);
	test_hairpin(f);
	test_not_ours(f);
	test_reply_local(f);
	test_reply_remote(f);
	test_reply_hairpin(f);
	test_reply_not_ours(f);
	test_pmtu_client(f);
	test_pmtu_reply(f);
}

int main(void)
{
	if (pod_fixture_run("bpf_test_icmp_err", netns_setup,
			    sizeof(netns_setup) / sizeof(netns_setup[0]), test_all) < 0)
		return 1;
	return unit_done();
}
