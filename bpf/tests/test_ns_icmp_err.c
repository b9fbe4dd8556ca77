// SPDX-License-Identifier: Apache-2.0
/* BPF_PROG_TEST_RUN tests of ICMP errors about north-south flows: a local backend's port
 * unreachable (DNAT only, sl_from_pod), a router's fragmentation needed and a remote backend's
 * port unreachable about SNAT flows (sl_from_net), the client's or a router's errors about replies
 * sent on to a local backend and to a remote one (SNAT), the node's own fragmentation needed for a
 * datagram too big for a local backend, errors about other flows left alone; every checksum
 * verified. Root; private network namespace. */
#define _GNU_SOURCE
#include <linux/tcp.h>
#include <linux/udp.h>

#include "icmp_pkt.h"
#include "l4_pkt.h"
#include "node_fixture.h"

#define IP_ROUTER IP(10, 0, 0, 2) /* the router, also before the remote backend */
#define NP_ULOCAL 30090		  /* UDP -> IP_B:5353, on this node */
#define QLEN_UDP  (sizeof(struct iphdr) + sizeof(struct udphdr))

static const char *const netns_setup[] = {
    POD_FIXTURE_LINKS, NODE_FIXTURE_ROUTES, /* the other node's pods, the clients */
    "ip route add 10.244.1.11/32 dev hb",   /* pod B */
    "ip link set hb mtu 1400",		    /* B's veth: smaller than the uplink */
};

static struct node_fds net;	       /* the uplink program and its maps */
static struct err_at from_net, from_b; /* sl_from_net on up0, sl_from_pod on B's veth */

static void seed(const struct fds *f)
{
	struct sl_ep_val b = {.ifindex = if_b, .ep_id = if_b};

	memcpy(b.pod_mac, mac_b, 6);
	memcpy(b.host_mac, host_b, 6);
	CHECK_INT(dp_ep_update(&f->eps, IP_B, &b), 0);
	CHECK_INT(dp_ep_update(&net.eps, IP_B, &b), 0); /* one pinned map on a node */
	node_fixture_be_put(&net.lb, 1, IP_B, 5353, IPPROTO_UDP, SL_BE_F_LOCAL);
	node_fixture_svc_one(&net.lb, NODE_IP, NP_ULOCAL, IPPROTO_UDP, 1, 1, 0);
	node_fixture_seed_remote(&net.lb, 3);
}

/* An error from src to the node, as it arrives from the router. */
static struct err_send err_in(__be32 src, __u8 type, __u8 code, __u16 mtu, const void *q,
			      size_t qlen)
{
	return (struct err_send){mac_router, mac_uplink, src, NODE_IP, type, code, mtu, q, qlen};
}

/* The error s through sl_from_net, checked against w. */
static void net_err(struct err_send s, const struct err_want *w)
{
	err_expect(&from_net, &s, w);
}

static void test_local(void)
{
	struct udp_pkt sent = node_fixture_udp_in(CLIENT, NODE_IP, 5000, NP_ULOCAL);
	struct udp_pkt seen = node_fixture_udp_in(CLIENT, IP_B, 5000, 5353);

	UNIT_CASE("(nodeport) the client's UDP flow goes to the local backend B (DNAT only)");
	expect(net.prog, net.metrics, &sent, sizeof(sent), if_up, TC_ACT_OK, SL_PATH_NS_LOCAL, NULL,
	       NULL);

	UNIT_CASE("(nodeport) B's port unreachable leaves for the client from the NodePort, "
		  "quoting the client's own datagram (sl_from_pod)");
	err_expect(&from_b,
		   &(struct err_send){mac_b, host_b, IP_B, CLIENT, 3, 3, 0, &seen.ip, QLEN_UDP},
		   &(struct err_want){.verdict = TC_ACT_REDIRECT,
				      .metric = SL_PATH_ICMP_REVNAT,
				      .len_kept = true,
				      .saddr = NODE_IP,
				      .daddr = CLIENT,
				      .eth_src = mac_uplink,
				      .eth_dst = mac_router,
				      .ip = sent.ip,
				      .l4 = &sent.udp,
				      .l4len = sizeof(sent.udp)});
}

static void test_frag_needed(void)
{
	struct tcp_pkt sent = node_fixture_tcp_in(CLIENT, NODE_IP, 40001, NP_REMOTE, 0x02);
	const size_t qlen = sizeof(sent) - sizeof(struct ethhdr); /* the whole segment */
	struct err_send in;
	struct tcp_pkt seen;
	__u32 len = sizeof(seen);

	UNIT_CASE("(nodeport) the client's TCP flow goes to the remote backend (DNAT + SNAT)");
	expect(net.prog, net.metrics, &sent, sizeof(sent), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT,
	       &seen, &len);

	UNIT_CASE("(nodeport) a router's fragmentation needed to the SNAT port reaches the client: "
		  "router's source and MTU kept, the quote the client's segment, TCP checksum too");
	in = err_in(IP_ROUTER, 3, 4, 1400, &seen.ip, qlen);
	in.in_csums = true;
	net_err(in, &(struct err_want){.verdict = TC_ACT_REDIRECT,
				       .metric = SL_PATH_NS_ICMP,
				       .len_kept = true,
				       .saddr = IP_ROUTER,
				       .daddr = CLIENT,
				       .ttl = 63,
				       .mtu = 1400,
				       .eth_src = mac_uplink,
				       .eth_dst = mac_router,
				       .ip = sent.ip,
				       .fwd = true,
				       .l4 = &sent.tcp,
				       .l4len = qlen - sizeof(sent.ip)});
}

static void test_port_unreachable(void)
{
	struct udp_pkt sent = node_fixture_udp_in(CLIENT, NODE_IP, 5001, NP_UDP), seen;
	__u32 len = sizeof(seen);

	UNIT_CASE("(nodeport) the client's UDP flow goes to the remote backend (DNAT + SNAT)");
	expect(net.prog, net.metrics, &sent, sizeof(sent), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT,
	       &seen, &len);

	UNIT_CASE("(nodeport) the remote backend's port unreachable reaches the client from the "
		  "NodePort, the quoted UDP checksum the client's");
	net_err(err_in(IP_REMOTE, 3, 3, 0, &seen.ip, QLEN_UDP),
		&(struct err_want){.verdict = TC_ACT_REDIRECT,
				   .metric = SL_PATH_NS_ICMP,
				   .len_kept = true,
				   .saddr = NODE_IP,
				   .daddr = CLIENT,
				   .ip = sent.ip,
				   .fwd = true,
				   .l4 = &sent.udp,
				   .l4len = sizeof(sent.udp)});
}

/* Passed (TC_ACT_OK), counted nowhere, every byte as it came. */
static const struct err_want untouched = {
    .verdict = TC_ACT_OK, .untouched = true, .len_kept = true};

static void test_not_ours(void)
{
	struct udp_pkt q = node_fixture_udp_in(CLIENT, IP_REMOTE, 5002, 5353);
	struct err_send in;

	UNIT_CASE("(nodeport) an error quoting a SNAT-range port no flow holds passes untouched");
	q.ip.saddr = NODE_IP;
	q.udp.source = htons(12345);
	in = err_in(IP_REMOTE, 3, 3, 0, &q.ip, QLEN_UDP);
	net_err(in, &untouched);

	UNIT_CASE(
	    "(nodeport) an error about the node's own flow (ephemeral port) passes untouched");
	q.udp.source = htons(40000);
	net_err(in, &untouched);

	UNIT_CASE("(nodeport) an echo request to the node is no error: untouched");
	in = err_in(CLIENT, 8, 0, 0, &q.ip, QLEN_UDP);
	net_err(in, &untouched);
}

/* Errors about replies, from the outside client or a router between: each goes to the backend. */

static void test_reply_local(const struct fds *f)
{
	struct udp_pkt sent = node_fixture_udp_in(CLIENT, NODE_IP, 5010, NP_ULOCAL);
	struct udp_pkt reply = udp_build(IP_B, CLIENT, 5353, 5010, false), got;
	struct err_send in;
	__u32 len = sizeof(got);

	UNIT_CASE("(nodeport) the client's UDP flow goes to the local backend B; B's reply leaves "
		  "from the NodePort");
	expect(net.prog, net.metrics, &sent, sizeof(sent), if_up, TC_ACT_OK, SL_PATH_NS_LOCAL, NULL,
	       NULL);
	memcpy(reply.eth.h_source, mac_b, 6);
	memcpy(reply.eth.h_dest, host_b, 6);
	expect(f->from_pod, f->metrics, &reply, sizeof(reply), if_b, TC_ACT_REDIRECT,
	       SL_PATH_REVNAT, &got, &len);
	CHECK_INT(got.ip.saddr, NODE_IP);

	UNIT_CASE("(nodeport) the client's port unreachable about the reply goes to B from the "
		  "client, quoting B's reply as B sent it (sl_from_net, conntrack)");
	in = err_in(CLIENT, 3, 3, 0, &got.ip, QLEN_UDP);
	in.in_csums = true;
	net_err(in, &(struct err_want){.verdict = TC_ACT_REDIRECT,
				       .metric = SL_PATH_ICMP_TO_BE,
				       .len_kept = true,
				       .saddr = CLIENT,
				       .daddr = IP_B,
				       .code = 3,
				       .ip = reply.ip,
				       .fwd = true,
				       .l4 = &reply.udp,
				       .l4len = sizeof(reply.udp)});

	UNIT_CASE("(nodeport) a router's fragmentation needed about the reply goes to B, router's "
		  "source and MTU kept");
	net_err(err_in(IP_ROUTER, 3, 4, 1400, &got.ip, QLEN_UDP),
		&(struct err_want){.verdict = TC_ACT_REDIRECT,
				   .metric = SL_PATH_ICMP_TO_BE,
				   .len_kept = true,
				   .saddr = IP_ROUTER,
				   .daddr = IP_B,
				   .mtu = 1400,
				   .ip = reply.ip,
				   .fwd = true,
				   .l4 = &reply.udp,
				   .l4len = sizeof(reply.udp)});
}

/* The errors about the reply of a SNAT flow to the remote backend: {case, source, code, MTU,
 * the source the backend sees}. */
struct reply_case {
	const char *name;
	__be32 src;
	__u8 code;
	__u16 mtu;
	__be32 want_src;
};

static void test_reply_snat(void)
{
	struct tcp_pkt sent = node_fixture_tcp_in(CLIENT, NODE_IP, 40011, NP_REMOTE, 0x02);
	const size_t qlen = sizeof(sent) - sizeof(struct ethhdr); /* the whole segment */
	const struct reply_case cases[] = {
	    {"(nodeport) a router's fragmentation needed about the reply goes to the backend: "
	     "router's source and MTU kept, the quote its segment to the SNAT port, TCP checksum "
	     "too",
	     IP_ROUTER, 4, 1400, IP_ROUTER},
	    {"(nodeport) the client's own port unreachable about the reply reaches the backend "
	     "from the SNAT address",
	     CLIENT, 3, 0, NODE_IP},
	};
	struct tcp_pkt seen, reply, got;
	__u32 len = sizeof(seen);

	UNIT_CASE("(nodeport) the client's TCP flow goes to the remote backend (SNAT); its reply "
		  "leaves from the NodePort");
	expect(net.prog, net.metrics, &sent, sizeof(sent), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT,
	       &seen, &len);
	reply = node_fixture_tcp_in(IP_REMOTE, NODE_IP, 8080, ntohs(seen.tcp.source), 0x12);
	len = sizeof(got);
	expect(net.prog, net.metrics, &reply, sizeof(reply), if_up, TC_ACT_REDIRECT,
	       SL_PATH_NS_REVSNAT, &got, &len);
	CHECK_INT(got.ip.saddr, NODE_IP);
	CHECK_INT(got.ip.daddr, CLIENT);

	for (const struct reply_case *c = cases; c < cases + sizeof(cases) / sizeof(cases[0]);
	     c++) {
		UNIT_CASE(c->name);
		net_err(err_in(c->src, 3, c->code, c->mtu, &got.ip, qlen),
			&(struct err_want){.verdict = TC_ACT_REDIRECT,
					   .metric = SL_PATH_ICMP_TO_BE,
					   .len_kept = true,
					   .saddr = c->want_src,
					   .daddr = IP_REMOTE,
					   .mtu = c->mtu,
					   .ip = reply.ip,
					   .fwd = true,
					   .l4 = &reply.tcp,
					   .l4len = qlen - sizeof(reply.ip)});
	}
}

static void test_reply_not_ours(void)
{
	struct udp_pkt q = udp_build(NODE_IP, CLIENT, NP_ULOCAL, 5099, false);

	UNIT_CASE("(nodeport) an error quoting a NodePort reply of no flow passes untouched");
	net_err(err_in(CLIENT, 3, 3, 0, &q.ip, QLEN_UDP), &untouched);
}

static void test_pmtu(void)
{
	struct udp_big fits =
	    udp_big_build(mac_router, mac_uplink, CLIENT, NODE_IP, 5020, NP_ULOCAL, 1400);
	struct udp_big big =
	    udp_big_build(mac_router, mac_uplink, CLIENT, NODE_IP, 5020, NP_ULOCAL, 1401);

	UNIT_CASE("(nodeport) a DF datagram as long as the local backend's veth MTU goes to it");
	expect(net.prog, net.metrics, &fits, BIG_LEN(1400), if_up, TC_ACT_OK, SL_PATH_NS_LOCAL,
	       NULL, NULL);

	UNIT_CASE("(nodeport) one byte longer: the node's fragmentation needed (MTU 1400) leaves "
		  "by the uplink for the client, from the NodePort, quoting the client's datagram");
	err_run(&from_net, &big, BIG_LEN(1401), sizeof(struct iphdr) + 8,
		&(struct err_want){.verdict = TC_ACT_REDIRECT,
				   .metric = SL_PATH_PMTU,
				   .len_kept = true,
				   .saddr = NODE_IP,
				   .daddr = CLIENT,
				   .code = 4,
				   .mtu = 1400,
				   .eth_src = mac_uplink,
				   .eth_dst = mac_router,
				   .ip = big.ip,
				   .l4 = &big.udp,
				   .l4len = 8});
}

/* The uplink program with private maps; the pod programs share its conntrack. */
static void test_all(const struct node_fds *nf)
{
	struct sl_pod *pod = pod_fixture_load(nf->ct);
	struct fds f;

	if (!pod)
		return;
	f = fds_of(pod);
	net = *nf;
	from_net = (struct err_at){net.prog, net.metrics, if_up, true};
	from_b = (struct err_at){f.from_pod, f.metrics, if_b, true};
	if (f.from_pod >= 0) {
		seed(&f);
		test_local();
		test_frag_needed();
		test_port_unreachable();
		test_not_ours();
		test_reply_local(&f);
		test_reply_snat();
		test_reply_not_ours();
		test_pmtu();
	}
	sl_pod__destroy(pod);
}

int main(void)
{
	if (node_fixture_run("bpf_test_ns_icmp_err", netns_setup,
			     sizeof(netns_setup) / sizeof(netns_setup[0]),
			     "(nodeport) the uplink program loads", false, test_all) < 0)
		return 1;
	return unit_done();
}
