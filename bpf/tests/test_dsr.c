// SPDX-License-Identifier: Apache-2.0
/* BPF_PROG_TEST_RUN tests of Direct Server Return (lib/dsr.h): the entry node's uplink program
 * and the backend node's pod programs, each loaded in DSR mode with maps of its own, as two
 * nodes are. Root; private netns. */
#define _GNU_SOURCE
#include <time.h>

#include <linux/tcp.h>
#include <linux/udp.h>

#include "l4_pkt.h"
#include "node_fixture.h"

#define LB_IP	 IP(203, 0, 113, 10) /* an LB ingress IP */
#define NP_LOCAL 30080		     /* -> IP_B:8080, on this node */

static const char *const netns_setup[] = {POD_FIXTURE_LINKS, NODE_FIXTURE_ROUTES};

/* A TCP segment whose IPv4 header carries one 8-byte option. */
struct tcp_opt_pkt {
	struct ethhdr eth;
	struct iphdr ip;
	struct sl_dsr_opt4 opt;
	struct tcphdr tcp;
	__u8 payload[4];
} __attribute__((packed));

struct udp_opt_pkt {
	struct ethhdr eth;
	struct iphdr ip;
	struct sl_dsr_opt4 opt;
	struct udphdr udp;
	__u8 payload[8];
} __attribute__((packed));

/* The entry node (node skeleton) and the backend's node (pod skeleton). */
static struct node_fds en;
static struct fds bn;

static void seed_entry(void)
{
	node_fixture_be_put(&en.lb, 1, IP_B, 8080, IPPROTO_TCP, SL_BE_F_LOCAL);
	node_fixture_seed_remote(&en.lb, 5);
	node_fixture_svc_one(&en.lb, NODE_IP, NP_LOCAL, IPPROTO_TCP, 1, 1, 0);
	node_fixture_svc_ext(&en.lb, LB_IP, 0, 0, 0, 0, 0, SL_SVC_F_VIP);
	node_fixture_svc_one(&en.lb, LB_IP, 80, IPPROTO_TCP, 6, 2, 0);
}

static struct tcp_pkt from_client(__be32 dst, __u16 sport, __u16 dport, __u8 flags)
{
	return node_fixture_tcp_in(CLIENT, dst, sport, dport, flags);
}

static struct udp_pkt udp_from_client(__u16 sport)
{
	return node_fixture_udp_in(CLIENT, NODE_IP, sport, NP_UDP);
}

/* The segment p with the option {type, len, port, addr} after its base header. */
static struct tcp_opt_pkt opt_insert(const struct tcp_pkt *p, __u8 type, __u8 len, __u16 port,
				     __be32 addr)
{
	struct tcp_opt_pkt o = {};

	o.eth = p->eth;
	o.ip = p->ip;
	o.opt = (struct sl_dsr_opt4){.type = type, .len = len, .port = htons(port), .addr = addr};
	o.tcp = p->tcp;
	memcpy(o.payload, p->payload, sizeof(o.payload));
	o.ip.ihl = 7;
	o.ip.tot_len = htons(ntohs(p->ip.tot_len) + 8);
	o.ip.check = 0;
	o.ip.check = csum(&o.ip, 28);
	return o;
}

static bool tcp_opt_csums_ok(const struct tcp_opt_pkt *p)
{
	return csum(&p->ip, 28) == 0 && csum_l4(p->ip.saddr, p->ip.daddr, IPPROTO_TCP, &p->tcp,
						sizeof(p->tcp) + sizeof(p->payload)) == 0;
}

/* The option as the entry node must write it (at opt_bytes): frontend fe:port. */
static void opt_is(const void *opt_bytes, __be32 fe, __u16 port)
{
	struct sl_dsr_opt4 opt;

	memcpy(&opt, opt_bytes, sizeof(opt));
	CHECK_INT(opt.type, SL_DSR_OPT_TYPE);
	CHECK_INT(opt.len, 8);
	CHECK_INT(ntohs(opt.port), port);
	CHECK_INT(opt.addr, fe);
}

static void test_entry_syn(void)
{
	struct tcp_pkt in = from_client(NODE_IP, 40000, NP_REMOTE, 0x02);
	struct tcp_opt_pkt out;
	struct sl_nat_key nk = {};
	struct sl_ct_val ct;
	__u32 len = sizeof(out);

	UNIT_CASE("(dsr) entry node: a SYN to a remote backend leaves with the client's source, "
		  "the backend's address and the frontend in the option, by the FIB");
	expect_at(en.prog, en.metrics, &in, sizeof(in), if_up, true, TC_ACT_REDIRECT,
		  SL_PATH_NS_DSR, &out, &len);
	CHECK_INT(len, sizeof(in) + 8);
	l4_tuple_is(&out.ip, &out.tcp, CLIENT, 40000, IP_REMOTE, 8080);
	CHECK_INT(out.ip.ihl, 7);
	CHECK_INT(ntohs(out.ip.tot_len), len - ETH_HLEN);
	opt_is((const __u8 *)&out + sizeof(struct ethhdr) + 20, NODE_IP, NP_REMOTE);
	CHECK(tcp_opt_csums_ok(&out));
	CHECK_INT(out.ip.ttl, 63);
	CHECK(!memcmp(out.eth.h_source, mac_uplink, 6) && !memcmp(out.eth.h_dest, mac_router, 6));

	UNIT_CASE("(dsr) entry node: the flow's forward entry keeps its backend; no SNAT state");
	CHECK_INT(node_fixture_ct_get(en.ct, CLIENT, NODE_IP, 40000, NP_REMOTE, IPPROTO_TCP, &ct),
		  0);
	CHECK_INT(ct.flags, SL_CT_F_DSR);
	CHECK_INT(ct.nat_ip, IP_REMOTE);
	CHECK_INT(ct.backend_id, 2);
	CHECK_INT(bpf_map_get_next_key(en.nat, NULL, &nk), -ENOENT);
}

static void test_entry_established(void)
{
	struct tcp_pkt in = from_client(NODE_IP, 40000, NP_REMOTE, 0x10), plain;
	__u32 len = sizeof(plain);

	UNIT_CASE("(dsr) entry node: the flow's next segment goes to its backend without option");
	node_fixture_svc_ext(&en.lb, NODE_IP, NP_REMOTE, IPPROTO_TCP, 1, 1, 0,
			     0); /* slot now local: kept anyway */
	expect_at(en.prog, en.metrics, &in, sizeof(in), if_up, true, TC_ACT_REDIRECT,
		  SL_PATH_NS_DSR_CT, &plain, &len);
	CHECK_INT(len, sizeof(in));
	CHECK_INT(plain.ip.ihl, 5);
	l4_tuple_is(&plain.ip, &plain.tcp, CLIENT, 0, IP_REMOTE, 0);
	CHECK(tcp_csums_ok(&plain));
	node_fixture_svc_ext(&en.lb, NODE_IP, NP_REMOTE, IPPROTO_TCP, 1, 2, 0, 0);
}

/* Frontends other than a NodePort to a remote backend. */
static void test_entry_other(void)
{
	struct tcp_pkt in = from_client(LB_IP, 40001, 80, 0x02), plain;
	struct tcp_opt_pkt out;
	__u32 len = sizeof(out);

	UNIT_CASE("(dsr) entry node: an LB IP frontend travels in the option as it is");
	expect_at(en.prog, en.metrics, &in, sizeof(in), if_up, true, TC_ACT_REDIRECT,
		  SL_PATH_NS_DSR, &out, &len);
	opt_is((const __u8 *)&out + sizeof(struct ethhdr) + 20, LB_IP, 80);
	CHECK_INT(out.ip.daddr, IP_REMOTE);
	CHECK(tcp_opt_csums_ok(&out));

	UNIT_CASE("(dsr) entry node: a local backend is DNATed as without DSR (no option)");
	in = from_client(NODE_IP, 40002, NP_LOCAL, 0x02);
	expect(en.prog, en.metrics, &in, sizeof(in), if_up, TC_ACT_OK, SL_PATH_NS_LOCAL, &plain,
	       &len);
	CHECK_INT(plain.ip.ihl, 5);
	CHECK_INT(plain.ip.daddr, IP_B);
}

static void test_entry_udp(void)
{
	struct udp_pkt in = udp_from_client(5000);
	struct sl_svcstat_val st;
	static __u8 big[ETH_HLEN + 1500];
	struct udp_opt_pkt out;
	struct iphdr *ih, q;
	__u8 icmp[128];
	struct udp_pkt *b;
	__u32 len = sizeof(out);

	UNIT_CASE("(dsr) entry node: UDP carries the option on every datagram, checksums valid");
	expect_at(en.prog, en.metrics, &in, sizeof(in), if_up, true, TC_ACT_REDIRECT,
		  SL_PATH_NS_DSR, &out, &len);
	CHECK_INT(len, sizeof(in) + 8);
	opt_is((const __u8 *)&out + sizeof(struct ethhdr) + 20, NODE_IP, NP_UDP);
	CHECK_INT(out.ip.daddr, IP_REMOTE);
	CHECK_INT(ntohs(out.udp.dest), 5353);
	CHECK(csum(&out.ip, 28) == 0);
	CHECK(csum_l4(out.ip.saddr, out.ip.daddr, IPPROTO_UDP, &out.udp,
		      sizeof(out.udp) + sizeof(out.payload)) == 0);
	len = sizeof(out);
	expect_at(en.prog, en.metrics, &in, sizeof(in), if_up, true, TC_ACT_REDIRECT,
		  SL_PATH_NS_DSR_CT, &out, &len);
	CHECK_INT(len, sizeof(in) + 8);
	opt_is((const __u8 *)&out + sizeof(struct ethhdr) + 20, NODE_IP, NP_UDP);
	CHECK_INT(dp_svcstat_read(en.svcstat, 5, &st), 0);
	CHECK_INT(st.flows, 1);
	CHECK_INT(st.packets, 2);

	UNIT_CASE("(dsr) entry node: a full-size datagram has no room for the option: dropped, "
		  "counted, answered with fragmentation needed (MTU 1492) from the NodePort");
	b = (struct udp_pkt *)big;
	memset(big, 'x', sizeof(big));
	*b = udp_from_client(5001);
	b->ip.tot_len = htons(1500);
	b->udp.len = htons(1500 - 20);
	b->udp.check = 0; /* none: its bytes are not what this test is about */
	b->ip.check = 0;
	b->ip.check = csum(&b->ip, 20);
	len = sizeof(icmp);
	expect_at(en.prog, en.metrics, big, sizeof(big), if_up, true, TC_ACT_SHOT,
		  SL_DROP_DSR_TOO_BIG, icmp, &len);
	CHECK_INT(len, ETH_HLEN + 20 + 8 + 28);
	ih = (struct iphdr *)(icmp + ETH_HLEN);
	CHECK_INT(ih->protocol, IPPROTO_ICMP);
	CHECK_INT(ih->saddr, NODE_IP);
	CHECK_INT(ih->daddr, CLIENT);
	CHECK(csum(ih, 20) == 0);
	CHECK_INT(icmp[ETH_HLEN + 20], 3); /* destination unreachable */
	CHECK_INT(icmp[ETH_HLEN + 21], 4); /* fragmentation needed */
	CHECK_INT((icmp[ETH_HLEN + 26] << 8) | icmp[ETH_HLEN + 27], 1492);
	CHECK(csum(icmp + ETH_HLEN + 20, 8 + 28) == 0);
	memcpy(&q, icmp + ETH_HLEN + 28, sizeof(q)); /* the client's packet, as it sent it */
	CHECK_INT(q.daddr, NODE_IP);
	CHECK_INT(q.saddr, CLIENT);
	CHECK_INT((icmp[ETH_HLEN + 50] << 8) | icmp[ETH_HLEN + 51], NP_UDP);
	CHECK(!memcmp(icmp, mac_router, 6)); /* back where it came from */
}

static void bn_seed(void)
{
	pod_fixture_eps_put(&bn.eps);
}

/* The segment the entry node sends pod A for frontend NODE_IP:NP_REMOTE. */
static struct tcp_opt_pkt to_backend(__u16 sport, __u8 flags)
{
	struct tcp_pkt p = tcp_build(mac_router, mac_uplink, CLIENT, IP_A, sport, 8080, flags);

	return opt_insert(&p, SL_DSR_OPT_TYPE, 8, NP_REMOTE, NODE_IP);
}

static void test_backend(void)
{
	struct tcp_opt_pkt in = to_backend(41000, 0x02), same;
	struct tcp_pkt rep, out, plain;
	struct sl_ct_val ct;
	__u32 len = sizeof(same);

	UNIT_CASE("(dsr) backend node: the SYN with the option is recorded, delivered unchanged");
	expect_at(bn.to_pod, bn.metrics, &in, sizeof(in), if_a, false, TC_ACT_OK, SL_PATH_DSR_IN,
		  &same, &len);
	CHECK(!memcmp(&in, &same, sizeof(in)));
	CHECK_INT(node_fixture_ct_get(bn.ct, IP_A, CLIENT, 8080, 41000, IPPROTO_TCP, &ct), 0);
	CHECK_INT(ct.flags, SL_CT_F_REPLY | SL_CT_F_DSR);
	CHECK_INT(ct.nat_ip, NODE_IP);
	CHECK_INT(ntohs(ct.nat_port), NP_REMOTE);
	CHECK_INT(ct.client_ip, CLIENT);

	UNIT_CASE("(dsr) backend node: the pod's reply leaves from the frontend, to the client, by "
		  "the FIB");
	rep = tcp_build(mac_a, host_a, IP_A, CLIENT, 8080, 41000, 0x12);
	len = sizeof(out);
	expect_at(bn.from_pod, bn.metrics, &rep, sizeof(rep), if_a, true, TC_ACT_REDIRECT,
		  SL_PATH_REVNAT, &out, &len);
	l4_tuple_is(&out.ip, &out.tcp, NODE_IP, NP_REMOTE, CLIENT, 41000);
	CHECK(tcp_csums_ok(&out));
	CHECK(!memcmp(out.eth.h_source, mac_uplink, 6) && !memcmp(out.eth.h_dest, mac_router, 6));

	UNIT_CASE("(dsr) backend node: the flow's next segments (no option) pass as a NodePort "
		  "flow's");
	plain = tcp_build(mac_router, mac_uplink, CLIENT, IP_A, 41000, 8080, 0x10);
	expect_at(bn.to_pod, bn.metrics, &plain, sizeof(plain), if_a, false, TC_ACT_OK, 0, NULL,
		  NULL);

	UNIT_CASE("(dsr) backend node: a packet without our option is unaffected");
	in = to_backend(41001, 0x02);
	in.opt.type = 0x94; /* router alert's number, another option */
	in.ip.check = 0;
	in.ip.check = csum(&in.ip, 28);
	len = sizeof(same);
	expect_at(bn.to_pod, bn.metrics, &in, sizeof(in), if_a, false, TC_ACT_OK, 0, &same, &len);
	CHECK(!memcmp(&in, &same, sizeof(in)));
	CHECK_INT(node_fixture_ct_get(bn.ct, IP_A, CLIENT, 8080, 41001, IPPROTO_TCP, &ct), -ENOENT);
}

static void test_backend_bad(void)
{
	struct tcp_pkt p = tcp_build(mac_router, mac_uplink, CLIENT, IP_A, 41002, 8080, 0x02);
	struct tcp_opt_pkt in = opt_insert(&p, SL_DSR_OPT_TYPE, 6, NP_REMOTE, NODE_IP);

	UNIT_CASE("(dsr) backend node: our option with a wrong length is dropped, counted");
	expect_at(bn.to_pod, bn.metrics, &in, sizeof(in), if_a, false, TC_ACT_SHOT, SL_DROP_DSR_OPT,
		  NULL, NULL);

	UNIT_CASE("(dsr) backend node: our option without a frontend address is dropped, counted");
	in = opt_insert(&p, SL_DSR_OPT_TYPE, 8, NP_REMOTE, 0);
	expect_at(bn.to_pod, bn.metrics, &in, sizeof(in), if_a, false, TC_ACT_SHOT, SL_DROP_DSR_OPT,
		  NULL, NULL);
}

/* Pod A isolated for ingress: the DSR flow is judged with the client's real address. */
static void test_backend_policy(void)
{
	struct sl_ep_val a = {.ifindex = if_a, .ep_id = if_a, .identity = 300};
	struct sl_pol_key allow = {.ep_id = if_a,
				   .peer = SL_ID_WORLD,
				   .dport = htons(8080),
				   .proto = IPPROTO_TCP,
				   .dir = SL_POL_DIR_IN};
	struct tcp_opt_pkt in = to_backend(41003, 0x02);

	memcpy(a.pod_mac, mac_a, 6);
	memcpy(a.host_mac, host_a, 6);
	a.flags = SL_EP_F_ISO_IN;
	CHECK_INT(dp_ep_update(&bn.eps, IP_A, &a), 0);
	UNIT_CASE("(dsr) backend node: ingress policy without an allow drops the DSR SYN");
	expect_at(bn.to_pod, bn.metrics, &in, sizeof(in), if_a, false, TC_ACT_SHOT,
		  SL_DROP_POLICY_INGRESS, NULL, NULL);

	UNIT_CASE("(dsr) backend node: an allow of the outside world (the client, not a node "
		  "address) lets it in");
	CHECK_INT(dp_pol_update(bn.pol, &allow), 0);
	expect_at(bn.to_pod, bn.metrics, &in, sizeof(in), if_a, false, TC_ACT_OK, SL_PATH_DSR_IN,
		  NULL, NULL);
}

/* A node in SNAT mode never reads the option. */
static void test_mode_off(void)
{
	struct tcp_opt_pkt in = to_backend(41004, 0x02);
	struct sl_pod *skel;
	struct fds f;

	UNIT_CASE("(dsr) mode off: the pod programs load");
	skel = pod_fixture_load_mode(-1, false);
	if (!skel)
		return;
	f = fds_of(skel);
	UNIT_CASE("(dsr) mode off: a packet with the option passes unread, nothing recorded");
	pod_fixture_eps_put(&f.eps);
	expect_at(f.to_pod, f.metrics, &in, sizeof(in), if_a, false, TC_ACT_OK, 0, NULL, NULL);
	in.opt.len = 6; /* even a broken one */
	in.ip.check = 0;
	in.ip.check = csum(&in.ip, 28);
	expect_at(f.to_pod, f.metrics, &in, sizeof(in), if_a, false, TC_ACT_OK, 0, NULL, NULL);
	sl_pod__destroy(skel);
}

/* The entry node's uplink program nf and, with maps of their own, the backend node's pod
 * programs, both in DSR mode. */
static void test_all(const struct node_fds *nf)
{
	struct sl_pod *pod;

	UNIT_CASE("(dsr) the pod programs load in DSR mode");
	pod = pod_fixture_load_mode(-1, true);
	if (!pod)
		return;
	en = *nf;
	bn = fds_of(pod);
	if (bn.to_pod >= 0) {
		seed_entry();
		test_entry_syn();
		test_entry_established();
		test_entry_other();
		test_entry_udp();
		bn_seed();
		test_backend();
		test_backend_bad();
		test_backend_policy();
		test_mode_off();
	}
	sl_pod__destroy(pod);
}

int main(void)
{
	if (node_fixture_run("bpf_test_dsr", netns_setup,
			     sizeof(netns_setup) / sizeof(netns_setup[0]),
			     "(dsr) the uplink program loads in DSR mode", true, test_all) < 0)
		return 1;
	return unit_done();
}
