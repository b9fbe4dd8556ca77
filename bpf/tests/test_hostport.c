// SPDX-License-Identifier: Apache-2.0
/* BPF_PROG_TEST_RUN tests of hostPort (lib/hostport.h) in the uplink program and the pod
 * programs: hostIP and protocol honoured, every-address mappings on the node's addresses only,
 * DNAT with the client kept, established flows, replies, hairpin. Root; private netns. */
#define _GNU_SOURCE
#include <linux/tcp.h>
#include <linux/udp.h>

#include "l4_pkt.h"
#include "node_fixture.h"
#include "pod_fixture.h"

#define NODE_IP2 IP(10, 0, 0, 5) /* a second address of the node: no marker */
#define LOOPBACK htonl(SL_SVC_LOOPBACK4)
#define HP_IP	 8081 /* TCP, hostIP NODE_IP -> B:80 */
#define HP_ANY	 8083 /* TCP, every address -> B:80; UDP, every address -> A:53 */

static const char *const netns_setup[] = {
    POD_FIXTURE_LINKS,
    "ip addr add 10.0.0.5/24 dev up0",
    NODE_FIXTURE_ROUTES,
};

static void hp_put(int hp, int gate, __be32 ip, __u16 port, __u8 proto, __be32 pod, __u16 pod_port)
{
	struct sl_hport_key k = {.ip = ip, .port = htons(port), .proto = proto};
	struct sl_hport_val v = {.pod_ip = pod, .pod_port = htons(pod_port)};

	CHECK_INT(dp_hport_insert(hp, &k, &v), 0);
	CHECK_INT(dp_hpgate_sync(hp, gate, k.port, proto), 0);
}

static void hp_seed(int hp, int gate)
{
	hp_put(hp, gate, NODE_IP, HP_IP, IPPROTO_TCP, IP_B, 80);
	hp_put(hp, gate, 0, HP_ANY, IPPROTO_TCP, IP_B, 80);
	hp_put(hp, gate, 0, HP_ANY, IPPROTO_UDP, IP_A, 53);
}

static struct tcp_pkt from_client(__be32 dst, __u16 sport, __u16 dport, __u8 flags)
{
	return node_fixture_tcp_in(CLIENT, dst, sport, dport, flags);
}

/* The uplink program: what arrives from outside. */
static void test_from_net(int prog, int metrics, int ct)
{
	struct tcp_pkt in, out;
	struct sl_ct_val v;
	__u32 len = sizeof(out);

	UNIT_CASE("(hostport) from outside to hostIP:hostPort: DNAT to the pod, client kept");
	in = from_client(NODE_IP, 40000, HP_IP, 0x02);
	expect(prog, metrics, &in, sizeof(in), if_up, TC_ACT_OK, SL_PATH_HOSTPORT, &out, &len);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(ntohs(out.tcp.dest), 80);
	CHECK_INT(out.ip.saddr, CLIENT);
	CHECK_INT(ntohs(out.tcp.source), 40000);
	CHECK(tcp_csums_ok(&out));

	UNIT_CASE("(hostport) the pod's reply entry brings back hostIP:hostPort");
	CHECK_INT(node_fixture_ct_get(ct, IP_B, CLIENT, 80, 40000, IPPROTO_TCP, &v), 0);
	CHECK_INT(v.flags, SL_CT_F_REPLY | SL_CT_F_HOSTPORT);
	CHECK_INT(v.nat_ip, NODE_IP);
	CHECK_INT(ntohs(v.nat_port), HP_IP);
	CHECK_INT(v.svc_id, 0);

	UNIT_CASE("(hostport) an established flow to a marked node address keeps its pod");
	in = from_client(NODE_IP, 40000, HP_IP, 0x10);
	len = sizeof(out);
	expect(prog, metrics, &in, sizeof(in), if_up, TC_ACT_OK, SL_PATH_NS_CT, &out, &len);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK(tcp_csums_ok(&out));

	UNIT_CASE("(hostport) hostIP honoured: the same port on another node address passes");
	in = from_client(NODE_IP2, 40001, HP_IP, 0x02);
	len = sizeof(out);
	expect(prog, metrics, &in, sizeof(in), if_up, TC_ACT_OK, 0, &out, &len);
	CHECK(!memcmp(&in, &out, sizeof(in)));

	UNIT_CASE("(hostport) protocol honoured: UDP to a TCP hostPort passes");
	{
		struct udp_pkt u = udp_build(CLIENT, NODE_IP, 40002, HP_IP, false), uo;
		__u32 ulen = sizeof(uo);

		expect(prog, metrics, &u, sizeof(u), if_up, TC_ACT_OK, 0, &uo, &ulen);
		CHECK(!memcmp(&u, &uo, sizeof(u)));
	}

	UNIT_CASE("(hostport) no hostIP: served on a node address without any Service marker");
	in = from_client(NODE_IP2, 40003, HP_ANY, 0x02);
	len = sizeof(out);
	expect(prog, metrics, &in, sizeof(in), if_up, TC_ACT_OK, SL_PATH_HOSTPORT, &out, &len);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(out.ip.saddr, CLIENT);

	UNIT_CASE("(hostport) an established flow to an unmarked node address keeps its pod");
	in = from_client(NODE_IP2, 40003, HP_ANY, 0x10);
	len = sizeof(out);
	expect(prog, metrics, &in, sizeof(in), if_up, TC_ACT_OK, SL_PATH_HOSTPORT_CT, &out, &len);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK(tcp_csums_ok(&out));

	UNIT_CASE("(hostport) no hostIP: also on the marked node address");
	in = from_client(NODE_IP, 40004, HP_ANY, 0x02);
	len = sizeof(out);
	expect(prog, metrics, &in, sizeof(in), if_up, TC_ACT_OK, SL_PATH_HOSTPORT, &out, &len);
	CHECK_INT(out.ip.daddr, IP_B);

	UNIT_CASE("(hostport) no hostIP: an address that is not the node's passes untouched");
	in = from_client(IP_REMOTE, 40005, HP_ANY, 0x02);
	len = sizeof(out);
	expect(prog, metrics, &in, sizeof(in), if_up, TC_ACT_OK, 0, &out, &len);
	CHECK(!memcmp(&in, &out, sizeof(in)));
	CHECK_INT(node_fixture_ct_get(ct, CLIENT, IP_REMOTE, 40005, HP_ANY, IPPROTO_TCP, &v),
		  -ENOENT);

	UNIT_CASE("(hostport) UDP to a UDP hostPort goes to its own pod");
	{
		struct udp_pkt u = udp_build(CLIENT, NODE_IP2, 40006, HP_ANY, false), uo;
		__u32 ulen = sizeof(uo);

		expect(prog, metrics, &u, sizeof(u), if_up, TC_ACT_OK, SL_PATH_HOSTPORT, &uo,
		       &ulen);
		CHECK_INT(uo.ip.daddr, IP_A);
		CHECK_INT(ntohs(uo.udp.dest), 53);
		CHECK(udp_csums_ok(&uo));
	}
}

/* The pod program: a pod of this node reaching a hostPort, and the replies. */
static void test_from_pod(const struct fds *f)
{
	struct tcp_pkt in, out;
	struct sl_ct_val v;
	__u32 len = sizeof(out);
	pod_fixture_eps_put(&f->eps);

	UNIT_CASE("(hostport) from a pod to hostIP:hostPort: DNAT, into the pod behind it");
	in = tcp_build(mac_a, host_a, IP_A, NODE_IP, 41000, HP_IP, 0x02);
	expect(f->from_pod, f->metrics, &in, sizeof(in), if_a, TC_ACT_REDIRECT, SL_PATH_HOSTPORT,
	       &out, &len);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK_INT(ntohs(out.tcp.dest), 80);
	CHECK_INT(out.ip.saddr, IP_A);
	CHECK(tcp_csums_ok(&out));
	CHECK(!memcmp(out.eth.h_dest, mac_b, 6));

	UNIT_CASE("(hostport) the pod's reply comes back from hostIP:hostPort");
	in = tcp_build(mac_b, host_b, IP_B, IP_A, 80, 41000, 0x12);
	len = sizeof(out);
	expect(f->from_pod, f->metrics, &in, sizeof(in), if_b, TC_ACT_REDIRECT, SL_PATH_REVNAT,
	       &out, &len);
	CHECK_INT(out.ip.saddr, NODE_IP);
	CHECK_INT(ntohs(out.tcp.source), HP_IP);
	CHECK_INT(out.ip.daddr, IP_A);
	CHECK(tcp_csums_ok(&out));

	UNIT_CASE("(hostport) the pod's established flow keeps its DNAT");
	in = tcp_build(mac_a, host_a, IP_A, NODE_IP, 41000, HP_IP, 0x10);
	len = sizeof(out);
	expect(f->from_pod, f->metrics, &in, sizeof(in), if_a, TC_ACT_REDIRECT, SL_PATH_SVC_CT,
	       &out, &len);
	CHECK_INT(out.ip.daddr, IP_B);

	UNIT_CASE("(hostport) a pod reaching its own hostPort sees the loopback source");
	in = tcp_build(mac_b, host_b, IP_B, NODE_IP2, 41001, HP_ANY, 0x02);
	len = sizeof(out);
	expect(f->from_pod, f->metrics, &in, sizeof(in), if_b, TC_ACT_REDIRECT, SL_PATH_HOSTPORT,
	       &out, &len);
	CHECK_INT(out.ip.saddr, LOOPBACK);
	CHECK_INT(out.ip.daddr, IP_B);
	CHECK(tcp_csums_ok(&out));
	CHECK_INT(node_fixture_ct_get(f->ct, IP_B, LOOPBACK, 80, 41001, IPPROTO_TCP, &v), 0);
	CHECK_INT(v.flags, SL_CT_F_HAIRPIN | SL_CT_F_REPLY | SL_CT_F_HOSTPORT);

	UNIT_CASE("(hostport) no hostIP: from a pod to another node's address, routed untouched");
	in = tcp_build(mac_a, host_a, IP_A, IP_REMOTE, 41002, HP_ANY, 0x02);
	len = sizeof(out);
	expect(f->from_pod, f->metrics, &in, sizeof(in), if_a, TC_ACT_REDIRECT, SL_PATH_FIB, &out,
	       &len);
	CHECK_INT(out.ip.daddr, IP_REMOTE);
	CHECK_INT(ntohs(out.tcp.dest), HP_ANY);
}

static void test_gate(int hp, int gate)
{
	struct sl_hport_key k = {.ip = 0, .port = htons(HP_ANY), .proto = IPPROTO_TCP};
	__u32 idx = HP_ANY / 64;
	__u64 bits = 0;

	UNIT_CASE("(hostport) the gate keeps a port's bit while another mapping of it remains");
	hp_put(hp, gate, NODE_IP, HP_ANY + 64, IPPROTO_TCP, IP_B, 81); /* same bit, next word */
	CHECK_INT(dp_hport_delete(hp, &k), 0);
	CHECK_INT(dp_hpgate_sync(hp, gate, k.port, IPPROTO_TCP), 0);
	CHECK_INT(bpf_map_lookup_elem(gate, &idx, &bits), 0);
	CHECK(!(bits & (1ull << (HP_ANY % 64))));
	k.port = htons(HP_IP); /* NODE_IP:8081 stays */
	idx = HP_IP / 64;
	CHECK_INT(bpf_map_lookup_elem(gate, &idx, &bits), 0);
	CHECK(bits & (1ull << (HP_IP % 64)));
	UNIT_CASE("(hostport) a taken key is refused");
	k.ip = NODE_IP;
	CHECK_INT(dp_hport_insert(hp, &k, &(struct sl_hport_val){.pod_ip = IP_A}), -EEXIST);
}

int main(void)
{
	struct sl_node *node;
	struct sl_pod *pod;
	struct fds f;
	int hp, gate;

	if (pod_fixture_enter("bpf_test_hostport", netns_setup,
			      sizeof(netns_setup) / sizeof(netns_setup[0])) < 0)
		return 1;
	node = node_fixture_load("(hostport) the uplink program loads");
	if (!node)
		return unit_done();
	hp = bpf_map__fd(node->maps.sl_hport4);
	gate = bpf_map__fd(node->maps.sl_hpgate);
	if (hp >= 0) {
		struct sl_svc_key mk = {.vip = NODE_IP, .scope = SL_SVC_SCOPE_EXT};
		struct sl_svc_val mv = {.flags = SL_SVC_F_NODEIP};

		CHECK_INT(dp_svc_update(bpf_map__fd(node->maps.sl_svc4), &mk, &mv), 0);
		hp_seed(hp, gate);
		test_from_net(bpf_program__fd(node->progs.sl_from_net),
			      bpf_map__fd(node->maps.sl_metrics), bpf_map__fd(node->maps.sl_ct4));
	}
	sl_node__destroy(node);

	UNIT_CASE("(hostport) the pod programs load");
	pod = pod_fixture_load(-1);
	if (!pod)
		return unit_done();
	f = fds_of(pod);
	hp = bpf_map__fd(pod->maps.sl_hport4);
	gate = bpf_map__fd(pod->maps.sl_hpgate);
	if (f.from_pod >= 0 && hp >= 0) {
		hp_seed(hp, gate);
		test_from_pod(&f);
		test_gate(hp, gate);
	}
	sl_pod__destroy(pod);
	return unit_done();
}
