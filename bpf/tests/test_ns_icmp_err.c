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

#define NODE_IP	  IP(10, 0, 0, 1)   /* the node's address on up0 */
#define IP_ROUTER IP(10, 0, 0, 2)   /* the router, also before the remote backend */
#define CLIENT	  IP(192, 0, 2, 50) /* outside, behind the router */
#define IP_REMOTE IP(10, 244, 2, 5) /* backend pod on another node */
#define NP_ULOCAL 30090		    /* UDP -> IP_B:5353, on this node */
#define NP_REMOTE 30081		    /* TCP -> IP_REMOTE:8080, Cluster: SNAT */
#define NP_UDP	  30084		    /* UDP -> IP_REMOTE:5353, Cluster: SNAT */
#define QLEN_UDP  (sizeof(struct iphdr) + sizeof(struct udphdr))

static const char *const netns_setup[] = {
    POD_FIXTURE_LINKS,
    "ip route add 10.244.2.0/24 via 10.0.0.2 dev up0",
    "ip route add 192.0.2.0/24 via 10.0.0.2 dev up0",
    "ip route add 10.244.1.11/32 dev hb", /* pod B */
    "ip link set hb mtu 1400",		  /* B's veth: smaller than the uplink */
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
};

static int net_prog, net_metrics;
static struct node_fixture_lb lb; /* the node's frontends and backends */
static struct dp_ep_maps net_eps;

static void seed(const struct fds *f)
{
	struct sl_ep_val b = {.ifindex = if_b, .ep_id = if_b};

	memcpy(b.pod_mac, mac_b, 6);
	memcpy(b.host_mac, host_b, 6);
	CHECK_INT(dp_ep_update(&f->eps, IP_B, &b), 0);
	CHECK_INT(dp_ep_update(&net_eps, IP_B, &b), 0); /* one pinned map on a node */
	node_fixture_be_put(&lb, 1, IP_B, 5353, IPPROTO_UDP, SL_BE_F_LOCAL);
	node_fixture_be_put(&lb, 2, IP_REMOTE, 8080, IPPROTO_TCP, 0);
	node_fixture_be_put(&lb, 3, IP_REMOTE, 5353, IPPROTO_UDP, 0);
	node_fixture_svc_ext(&lb, NODE_IP, 0, 0, 0, 0, 0, SL_SVC_F_NODEIP);
	node_fixture_svc_one(&lb, NODE_IP, NP_ULOCAL, IPPROTO_UDP, 1, 1, 0);
	node_fixture_svc_one(&lb, NODE_IP, NP_REMOTE, IPPROTO_TCP, 2, 2, 0);
	node_fixture_svc_one(&lb, NODE_IP, NP_UDP, IPPROTO_UDP, 3, 3, 0);
}

/* The client's UDP datagram, as it arrives from the router. */
static struct udp_pkt udp_from_client(__be32 dst, __u16 sport, __u16 dport)
{
	struct udp_pkt p = udp_build(CLIENT, dst, sport, dport, false);

	memcpy(p.eth.h_source, mac_router, 6);
	memcpy(p.eth.h_dest, mac_uplink, 6);
	return p;
}

static void test_local(const struct fds *f)
{
	struct udp_pkt sent = udp_from_client(NODE_IP, 5000, NP_ULOCAL);
	struct udp_pkt seen = udp_from_client(IP_B, 5000, 5353);
	struct icmp_err in, out;
	__u32 len = sizeof(sent);

	UNIT_CASE("(nodeport) the client's UDP flow goes to the local backend B (DNAT only)");
	expect(net_prog, net_metrics, &sent, sizeof(sent), if_up, TC_ACT_OK, SL_PATH_NS_LOCAL, NULL,
	       NULL);

	UNIT_CASE("(nodeport) B's port unreachable leaves for the client from the NodePort, "
		  "quoting the client's own datagram (sl_from_pod)");
	in = err_build(mac_b, host_b, IP_B, CLIENT, 3, 3, 0, &seen.ip, QLEN_UDP);
	len = sizeof(out);
	expect_at(f->from_pod, f->metrics, &in, ERR_LEN(QLEN_UDP), if_b, true, TC_ACT_REDIRECT,
		  SL_PATH_ICMP_REVNAT, &out, &len);
	CHECK_INT(len, ERR_LEN(QLEN_UDP));
	CHECK_INT(out.ip.saddr, NODE_IP);
	CHECK_INT(out.ip.daddr, CLIENT);
	CHECK(!memcmp(out.quote, &sent.ip, QLEN_UDP));
	CHECK(err_csums_ok(&out, QLEN_UDP));
	CHECK(!memcmp(out.eth.h_source, mac_uplink, 6) && !memcmp(out.eth.h_dest, mac_router, 6));
}

static void test_frag_needed(void)
{
	struct tcp_pkt sent =
	    tcp_build(mac_router, mac_uplink, CLIENT, NODE_IP, 40001, NP_REMOTE, 0x02);
	const size_t qlen = sizeof(sent) - sizeof(struct ethhdr); /* the whole segment */
	struct tcp_pkt seen;
	struct icmp_err in, out;
	struct iphdr want;
	__u32 len = sizeof(seen);

	UNIT_CASE("(nodeport) the client's TCP flow goes to the remote backend (DNAT + SNAT)");
	expect(net_prog, net_metrics, &sent, sizeof(sent), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT,
	       &seen, &len);

	UNIT_CASE("(nodeport) a router's fragmentation needed to the SNAT port reaches the client: "
		  "router's source and MTU kept, the quote the client's segment, TCP checksum too");
	in = err_build(mac_router, mac_uplink, IP_ROUTER, NODE_IP, 3, 4, 1400, &seen.ip, qlen);
	CHECK(err_csums_ok(&in, qlen));
	len = sizeof(out);
	expect(net_prog, net_metrics, &in, ERR_LEN(qlen), if_up, TC_ACT_REDIRECT, SL_PATH_NS_ICMP,
	       &out, &len);
	CHECK_INT(out.ip.saddr, IP_ROUTER);
	CHECK_INT(out.ip.daddr, CLIENT);
	CHECK_INT(out.ip.ttl, 63);
	CHECK_INT(ntohs(out.icmp.un.frag.mtu), 1400);
	want = ip_forwarded(sent.ip);
	CHECK(!memcmp(out.quote, &want, sizeof(want)));
	CHECK(!memcmp(out.quote + sizeof(want), &sent.tcp, qlen - sizeof(want)));
	CHECK(err_csums_ok(&out, qlen));
	CHECK(!memcmp(out.eth.h_source, mac_uplink, 6) && !memcmp(out.eth.h_dest, mac_router, 6));
}

static void test_port_unreachable(void)
{
	struct udp_pkt sent = udp_from_client(NODE_IP, 5001, NP_UDP), seen;
	struct icmp_err in, out;
	struct iphdr want;
	__u32 len = sizeof(seen);

	UNIT_CASE("(nodeport) the client's UDP flow goes to the remote backend (DNAT + SNAT)");
	expect(net_prog, net_metrics, &sent, sizeof(sent), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT,
	       &seen, &len);

	UNIT_CASE("(nodeport) the remote backend's port unreachable reaches the client from the "
		  "NodePort, the quoted UDP checksum the client's");
	in = err_build(mac_router, mac_uplink, IP_REMOTE, NODE_IP, 3, 3, 0, &seen.ip, QLEN_UDP);
	len = sizeof(out);
	expect(net_prog, net_metrics, &in, ERR_LEN(QLEN_UDP), if_up, TC_ACT_REDIRECT,
	       SL_PATH_NS_ICMP, &out, &len);
	CHECK_INT(out.ip.saddr, NODE_IP);
	CHECK_INT(out.ip.daddr, CLIENT);
	want = ip_forwarded(sent.ip);
	CHECK(!memcmp(out.quote, &want, sizeof(want)));
	CHECK(!memcmp(out.quote + sizeof(want), &sent.udp, sizeof(sent.udp)));
	CHECK(err_csums_ok(&out, QLEN_UDP));
}

static void test_not_ours(void)
{
	struct udp_pkt q = udp_from_client(IP_REMOTE, 5002, 5353);
	struct icmp_err in, out;
	__u32 len;

	UNIT_CASE("(nodeport) an error quoting a SNAT-range port no flow holds passes untouched");
	q.ip.saddr = NODE_IP;
	q.udp.source = htons(12345);
	in = err_build(mac_router, mac_uplink, IP_REMOTE, NODE_IP, 3, 3, 0, &q.ip, QLEN_UDP);
	len = sizeof(out);
	expect(net_prog, net_metrics, &in, ERR_LEN(QLEN_UDP), if_up, TC_ACT_OK, 0, &out, &len);
	CHECK(!memcmp(&in, &out, ERR_LEN(QLEN_UDP)));

	UNIT_CASE(
	    "(nodeport) an error about the node's own flow (ephemeral port) passes untouched");
	q.udp.source = htons(40000);
	in = err_build(mac_router, mac_uplink, IP_REMOTE, NODE_IP, 3, 3, 0, &q.ip, QLEN_UDP);
	len = sizeof(out);
	expect(net_prog, net_metrics, &in, ERR_LEN(QLEN_UDP), if_up, TC_ACT_OK, 0, &out, &len);
	CHECK(!memcmp(&in, &out, ERR_LEN(QLEN_UDP)));

	UNIT_CASE("(nodeport) an echo request to the node is no error: untouched");
	in = err_build(mac_router, mac_uplink, CLIENT, NODE_IP, 8, 0, 0, &q.ip, QLEN_UDP);
	len = sizeof(out);
	expect(net_prog, net_metrics, &in, ERR_LEN(QLEN_UDP), if_up, TC_ACT_OK, 0, &out, &len);
	CHECK(!memcmp(&in, &out, ERR_LEN(QLEN_UDP)));
}

/* Errors about replies, from the outside client or a router between: each goes to the backend. */

static void test_reply_local(const struct fds *f)
{
	struct udp_pkt sent = udp_from_client(NODE_IP, 5010, NP_ULOCAL);
	struct udp_pkt reply = udp_build(IP_B, CLIENT, 5353, 5010, false), got;
	struct icmp_err in, out;
	__u32 len = sizeof(got);

	UNIT_CASE("(nodeport) the client's UDP flow goes to the local backend B; B's reply leaves "
		  "from the NodePort");
	expect(net_prog, net_metrics, &sent, sizeof(sent), if_up, TC_ACT_OK, SL_PATH_NS_LOCAL, NULL,
	       NULL);
	memcpy(reply.eth.h_source, mac_b, 6);
	memcpy(reply.eth.h_dest, host_b, 6);
	expect(f->from_pod, f->metrics, &reply, sizeof(reply), if_b, TC_ACT_REDIRECT,
	       SL_PATH_REVNAT, &got, &len);
	CHECK_INT(got.ip.saddr, NODE_IP);

	UNIT_CASE("(nodeport) the client's port unreachable about the reply goes to B from the "
		  "client, quoting B's reply as B sent it (sl_from_net, conntrack)");
	in = err_build(mac_router, mac_uplink, CLIENT, NODE_IP, 3, 3, 0, &got.ip, QLEN_UDP);
	CHECK(err_csums_ok(&in, QLEN_UDP));
	len = sizeof(out);
	expect(net_prog, net_metrics, &in, ERR_LEN(QLEN_UDP), if_up, TC_ACT_REDIRECT,
	       SL_PATH_ICMP_TO_BE, &out, &len);
	CHECK_INT(out.ip.saddr, CLIENT);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(out.icmp.code, 3);
	CHECK(err_quotes(&out, reply.ip, true, &reply.udp, sizeof(reply.udp)));
	CHECK(err_csums_ok(&out, QLEN_UDP));
	CHECK_INT(len, ERR_LEN(QLEN_UDP));

	UNIT_CASE("(nodeport) a router's fragmentation needed about the reply goes to B, router's "
		  "source and MTU kept");
	in = err_build(mac_router, mac_uplink, IP_ROUTER, NODE_IP, 3, 4, 1400, &got.ip, QLEN_UDP);
	len = sizeof(out);
	expect(net_prog, net_metrics, &in, ERR_LEN(QLEN_UDP), if_up, TC_ACT_REDIRECT,
	       SL_PATH_ICMP_TO_BE, &out, &len);
	CHECK_INT(out.ip.saddr, IP_ROUTER);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(ntohs(out.icmp.un.frag.mtu), 1400);
	CHECK(err_quotes(&out, reply.ip, true, &reply.udp, sizeof(reply.udp)));
	CHECK(err_csums_ok(&out, QLEN_UDP));
}

static void test_reply_snat(void)
{
	struct tcp_pkt sent =
	    tcp_build(mac_router, mac_uplink, CLIENT, NODE_IP, 40011, NP_REMOTE, 0x02);
	const size_t qlen = sizeof(sent) - sizeof(struct ethhdr); /* the whole segment */
	struct tcp_pkt seen, reply, got;
	struct icmp_err in, out;
	__u32 len = sizeof(seen);

	UNIT_CASE("(nodeport) the client's TCP flow goes to the remote backend (SNAT); its reply "
		  "leaves from the NodePort");
	expect(net_prog, net_metrics, &sent, sizeof(sent), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT,
	       &seen, &len);
	reply = tcp_build(mac_router, mac_uplink, IP_REMOTE, NODE_IP, 8080, ntohs(seen.tcp.source),
			  0x12);
	len = sizeof(got);
	expect(net_prog, net_metrics, &reply, sizeof(reply), if_up, TC_ACT_REDIRECT,
	       SL_PATH_NS_REVSNAT, &got, &len);
	CHECK_INT(got.ip.saddr, NODE_IP);
	CHECK_INT(got.ip.daddr, CLIENT);

	UNIT_CASE("(nodeport) a router's fragmentation needed about the reply goes to the backend: "
		  "router's source and MTU kept, the quote its segment to the SNAT port, TCP "
		  "checksum too");
	in = err_build(mac_router, mac_uplink, IP_ROUTER, NODE_IP, 3, 4, 1400, &got.ip, qlen);
	len = sizeof(out);
	expect(net_prog, net_metrics, &in, ERR_LEN(qlen), if_up, TC_ACT_REDIRECT,
	       SL_PATH_ICMP_TO_BE, &out, &len);
	CHECK_INT(out.ip.saddr, IP_ROUTER);
	CHECK_INT(out.ip.daddr, IP_REMOTE);
	CHECK_INT(ntohs(out.icmp.un.frag.mtu), 1400);
	CHECK(err_quotes(&out, reply.ip, true, &reply.tcp, qlen - sizeof(reply.ip)));
	CHECK(err_csums_ok(&out, qlen));

	UNIT_CASE("(nodeport) the client's own port unreachable about the reply reaches the "
		  "backend from the SNAT address");
	in = err_build(mac_router, mac_uplink, CLIENT, NODE_IP, 3, 3, 0, &got.ip, qlen);
	len = sizeof(out);
	expect(net_prog, net_metrics, &in, ERR_LEN(qlen), if_up, TC_ACT_REDIRECT,
	       SL_PATH_ICMP_TO_BE, &out, &len);
	CHECK_INT(out.ip.saddr, NODE_IP);
	CHECK_INT(out.ip.daddr, IP_REMOTE);
	CHECK(err_quotes(&out, reply.ip, true, &reply.tcp, qlen - sizeof(reply.ip)));
	CHECK(err_csums_ok(&out, qlen));
}

static void test_reply_not_ours(void)
{
	struct udp_pkt q = udp_build(NODE_IP, CLIENT, NP_ULOCAL, 5099, false);
	struct icmp_err in, out;
	__u32 len = sizeof(out);

	UNIT_CASE("(nodeport) an error quoting a NodePort reply of no flow passes untouched");
	in = err_build(mac_router, mac_uplink, CLIENT, NODE_IP, 3, 3, 0, &q.ip, QLEN_UDP);
	expect(net_prog, net_metrics, &in, ERR_LEN(QLEN_UDP), if_up, TC_ACT_OK, 0, &out, &len);
	CHECK(!memcmp(&in, &out, ERR_LEN(QLEN_UDP)));
}

static void test_pmtu(void)
{
	struct udp_big fits =
	    udp_big_build(mac_router, mac_uplink, CLIENT, NODE_IP, 5020, NP_ULOCAL, 1400);
	struct udp_big big =
	    udp_big_build(mac_router, mac_uplink, CLIENT, NODE_IP, 5020, NP_ULOCAL, 1401);
	const size_t qlen = sizeof(struct iphdr) + 8;
	struct icmp_err out;
	__u32 len = sizeof(out);

	UNIT_CASE("(nodeport) a DF datagram as long as the local backend's veth MTU goes to it");
	expect(net_prog, net_metrics, &fits, BIG_LEN(1400), if_up, TC_ACT_OK, SL_PATH_NS_LOCAL,
	       NULL, NULL);

	UNIT_CASE("(nodeport) one byte longer: the node's fragmentation needed (MTU 1400) leaves "
		  "by the uplink for the client, from the NodePort, quoting the client's datagram");
	expect_at(net_prog, net_metrics, &big, BIG_LEN(1401), if_up, true, TC_ACT_REDIRECT,
		  SL_PATH_PMTU, &out, &len);
	CHECK_INT(len, ERR_LEN(qlen));
	CHECK_INT(out.ip.saddr, NODE_IP);
	CHECK_INT(out.ip.daddr, CLIENT);
	CHECK_INT(out.icmp.code, 4);
	CHECK_INT(ntohs(out.icmp.un.frag.mtu), 1400);
	CHECK(err_quotes(&out, big.ip, false, &big.udp, 8));
	CHECK(err_csums_ok(&out, qlen));
	CHECK(!memcmp(out.eth.h_source, mac_uplink, 6) && !memcmp(out.eth.h_dest, mac_router, 6));
}

/* The uplink program with private maps; the pod programs share its conntrack. */
static void test_all(struct sl_node *node)
{
	struct sl_pod *pod = pod_fixture_load(bpf_map__fd(node->maps.sl_ct4));
	struct fds f;

	if (!pod)
		return;
	f = fds_of(pod);
	net_prog = bpf_program__fd(node->progs.sl_from_net);
	net_metrics = bpf_map__fd(node->maps.sl_metrics);
	lb = (struct node_fixture_lb){.svc = bpf_map__fd(node->maps.sl_svc4),
				      .be = bpf_map__fd(node->maps.sl_be4),
				      .snat_ip = NODE_IP};
	net_eps.ep = bpf_map__fd(node->maps.sl_ep4);
	net_eps.src = bpf_map__fd(node->maps.sl_epsrc4);
	if (net_prog >= 0 && f.from_pod >= 0) {
		seed(&f);
		test_local(&f);
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
	struct sl_node *node;

	if (pod_fixture_enter("bpf_test_ns_icmp_err", netns_setup,
			      sizeof(netns_setup) / sizeof(netns_setup[0])) < 0)
		return 1;
	node = node_fixture_load("(nodeport) the uplink program loads");
	if (!node)
		return unit_done();
	test_all(node);
	sl_node__destroy(node);
	return unit_done();
}
