// SPDX-License-Identifier: Apache-2.0
/* BPF_PROG_TEST_RUN tests of NetworkPolicy in the pod programs: one case
 * per verdict branch (not policed, pending, ingress, egress, ipBlock, service
 * backend, arrival from the stack, established and reply, generation change).
 * Root; runs in a private network namespace. */
#define _GNU_SOURCE

#include "l4_pkt.h"
#include "pod_fixture.h"

#define IP_REMOTE IP(10, 244, 2, 5) /* a pod on another node */
#define IP_OTHER  IP(10, 244, 2, 6) /* another pod there, same ipBlock */
#define IP_NODE	  IP(10, 0, 0, 1)   /* this node (up0) */
#define VIP	  IP(10, 96, 0, 10) /* TCP 80 -> B:8080 */

#define ID_A	  300
#define ID_B	  301
#define ID_REMOTE 302
#define SET_CIDR  (SL_ID_CIDR_BASE + 1)

static const char *const netns_setup[] = {
    POD_FIXTURE_LINKS,
    "ip route add 10.244.2.0/24 via 10.0.0.2 dev up0",
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
};

static void ep_put(const struct fds *f, __be32 ip, int ifindex, const __u8 *mac, const __u8 *host,
		   __u32 identity, __u32 flags)
{
	struct sl_ep_val v = {
	    .ifindex = ifindex, .ep_id = ifindex, .identity = identity, .flags = flags};

	memcpy(v.pod_mac, mac, 6);
	memcpy(v.host_mac, host, 6);
	CHECK_INT(dp_ep_update(&f->eps, ip, &v), 0);
}

static void ep_set(const struct fds *f, char pod, __u32 identity, __u32 flags)
{
	if (pod == 'a')
		ep_put(f, IP_A, if_a, mac_a, host_a, identity, flags);
	else
		ep_put(f, IP_B, if_b, mac_b, host_b, identity, flags);
}

static void ipc_put(const struct fds *f, __be32 ip, __u32 prefix, __u32 identity)
{
	struct sl_ipcache_key k = {.prefixlen = prefix, .ip = ip};
	struct sl_ipcache_val v = {.identity = identity};

	CHECK_INT(bpf_map_update_elem(f->ipc, &k, &v, BPF_ANY), 0);
}

static struct sl_pol_key pol_key(int ep, __u8 dir, __u32 peer, __u8 proto, __u16 port)
{
	return (struct sl_pol_key){
	    .ep_id = ep, .peer = peer, .dport = htons(port), .proto = proto, .dir = dir};
}

static void pol_put(const struct fds *f, int ep, __u8 dir, __u32 peer, __u8 proto, __u16 port)
{
	struct sl_pol_key k = pol_key(ep, dir, peer, proto, port);
	struct sl_pol_val v = {};

	CHECK_INT(bpf_map_update_elem(f->pol, &k, &v, BPF_ANY), 0);
}

static void pol_del(const struct fds *f, int ep, __u8 dir, __u32 peer, __u8 proto, __u16 port)
{
	struct sl_pol_key k = pol_key(ep, dir, peer, proto, port);

	CHECK_INT(bpf_map_delete_elem(f->pol, &k), 0);
}

static void cidr_put(const struct fds *f, int ep, __u8 dir, __be32 ip, __u32 prefix, __u32 set)
{
	struct sl_polcidr_key k = {.prefixlen = 64 + prefix, .ep_id = ep, .dir = dir, .ip = ip};
	struct sl_polcidr_val v = {.set_id = set};

	CHECK_INT(bpf_map_update_elem(f->cidr, &k, &v, BPF_ANY), 0);
}

static void cfg_set(const struct fds *f, __u32 flags, __u32 gen)
{
	struct sl_polcfg_val v = {.flags = flags, .gen = gen};

	CHECK_INT(bpf_map_update_elem(f->cfg, &(__u32){0}, &v, BPF_ANY), 0);
}

/* Policy drops counted for endpoint ep, summed over CPUs. */
static struct sl_poldrop_val drops(const struct fds *f, int ep)
{
	int ncpu = libbpf_num_possible_cpus();
	struct sl_poldrop_val v[ncpu > 0 ? ncpu : 1], sum = {};
	struct sl_poldrop_key k = {.ep_id = ep};

	if (ncpu > 0 && bpf_map_lookup_elem(f->drop, &k, v) == 0)
		for (int i = 0; i < ncpu; i++) {
			sum.ingress += v[i].ingress;
			sum.egress += v[i].egress;
		}
	return sum;
}

/* Whether the conntrack entry of the tuple is of kind (SL_CT_F_POLICY and/or
 * SL_CT_F_REPLY bits) and allowed under policy generation gen. */
static bool ct_allowed(const struct fds *f, __be32 s, __be32 d, __u16 sp, __u16 dp, __u8 kind,
		       __u32 gen)
{
	struct sl_ct_key k = {
	    .saddr = s, .daddr = d, .sport = htons(sp), .dport = htons(dp), .proto = IPPROTO_TCP};
	struct sl_ct_val v;

	return bpf_map_lookup_elem(f->ct, &k, &v) == 0 &&
	       (v.flags & (SL_CT_F_POLICY | SL_CT_F_REPLY)) == kind && v.pol_gen == gen;
}

/* Whether the policed flow s:sp -> d:dp has both its entries, allowed under gen. */
static bool pol_ct_has(const struct fds *f, __be32 s, __be32 d, __u16 sp, __u16 dp, __u32 gen)
{
	return ct_allowed(f, s, d, sp, dp, SL_CT_F_POLICY, gen) &&
	       ct_allowed(f, d, s, dp, sp, SL_CT_F_POLICY | SL_CT_F_REPLY, gen);
}

static bool ct_exists(const struct fds *f, __be32 s, __be32 d, __u16 sp, __u16 dp)
{
	struct sl_ct_key k = {
	    .saddr = s, .daddr = d, .sport = htons(sp), .dport = htons(dp), .proto = IPPROTO_TCP};
	struct sl_ct_val v;

	return bpf_map_lookup_elem(f->ct, &k, &v) == 0;
}

/* A TCP segment from pod a or b through sl_from_pod: verdict and metric. */
static void from(const struct fds *f, char pod, __be32 daddr, __u16 sport, __u16 dport, __u8 flags,
		 int verdict, unsigned int metric)
{
	bool a = pod == 'a';
	struct tcp_pkt in = tcp_build(a ? mac_a : mac_b, a ? host_a : host_b, a ? IP_A : IP_B,
				      daddr, sport, dport, flags);

	expect(f->from_pod, f->metrics, &in, sizeof(in), a ? if_a : if_b, verdict, metric, NULL,
	       NULL);
}

/* A TCP segment from saddr to pod B through sl_to_pod, arriving on the
 * uplink (or from the node's own stack when host is set). */
static void to_b(const struct fds *f, __be32 saddr, __u16 sport, __u16 dport, __u8 flags, bool host,
		 int verdict, unsigned int metric)
{
	struct tcp_pkt in = tcp_build(mac_uplink, host_b, saddr, IP_B, sport, dport, flags);

	expect_at(f->to_pod, f->metrics, &in, sizeof(in), if_up, !host, verdict, metric, NULL,
		  NULL);
}

static void seed(const struct fds *f)
{
	struct sl_svc_key mk = {.vip = VIP, .port = htons(80), .proto = IPPROTO_TCP};
	struct sl_svc_val mv = {.id = 1, .count = 1};
	struct sl_svc_key vk = {.vip = VIP};
	struct sl_svc_val vv = {.flags = SL_SVC_F_VIP};
	struct sl_svc_key sk = mk;
	struct sl_svc_val sv = {.id = 1};
	struct sl_be_val be = {.ip = IP_B, .port = htons(8080), .proto = IPPROTO_TCP};

	ep_set(f, 'a', SL_ID_PENDING, 0);
	ep_set(f, 'b', SL_ID_PENDING, 0);
	sk.slot = 1;
	CHECK_INT(dp_svc_update(f->svc, &sk, &sv), 0);
	CHECK_INT(dp_be_update(f->be, 1, &be), 0);
	CHECK_INT(dp_svc_update(f->svc, &mk, &mv), 0);
	CHECK_INT(dp_svc_update(f->svc, &vk, &vv), 0);
}

static void test_unpoliced_and_pending(const struct fds *f)
{
	UNIT_CASE("without any policy, pods talk and no policy conntrack entry is made");
	from(f, 'a', IP_B, 1000, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_LOCAL);
	CHECK(!ct_exists(f, IP_A, IP_B, 1000, 80) && !ct_exists(f, IP_B, IP_A, 80, 1000));

	UNIT_CASE(
	    "a pending endpoint is denied both ways while policies exist, counted per endpoint");
	cfg_set(f, SL_POLCFG_F_ACTIVE, 1);
	ipc_put(f, IP_NODE, 32, SL_ID_HOST);
	from(f, 'a', IP_B, 1001, 80, 0x02, TC_ACT_SHOT, SL_DROP_POLICY_PENDING);
	CHECK_INT(drops(f, if_a).egress, 1);
	to_b(f, IP_REMOTE, 1002, 80, 0x02, false, TC_ACT_SHOT, SL_DROP_POLICY_PENDING);
	CHECK_INT(drops(f, if_b).ingress, 1);

	UNIT_CASE("a pending endpoint still reaches its node and hears from it");
	from(f, 'a', IP_NODE, 1003, 80, 0x02, TC_ACT_OK, SL_PATH_STACK);
	to_b(f, IP_NODE, 1004, 80, 0x02, true, TC_ACT_OK, 0);
}

static void test_ingress(const struct fds *f)
{
	ipc_put(f, IP_A, 32, ID_A);
	ipc_put(f, IP_B, 32, ID_B);
	ipc_put(f, IP_REMOTE, 32, ID_REMOTE);
	ep_set(f, 'a', ID_A, 0);
	ep_set(f, 'b', ID_B, SL_EP_F_ISO_IN);

	UNIT_CASE("same node: ingress isolation without allows drops before the redirect");
	from(f, 'a', IP_B, 2000, 80, 0x02, TC_ACT_SHOT, SL_DROP_POLICY_INGRESS);
	CHECK_INT(drops(f, if_b).ingress, 2);

	UNIT_CASE("an allow for the source identity on TCP 80 opens 80 only, not 81, not UDP");
	pol_put(f, if_b, SL_POL_DIR_IN, ID_A, IPPROTO_TCP, 80);
	from(f, 'a', IP_B, 2001, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_LOCAL);
	CHECK(pol_ct_has(f, IP_A, IP_B, 2001, 80, 1));
	from(f, 'a', IP_B, 2002, 81, 0x02, TC_ACT_SHOT, SL_DROP_POLICY_INGRESS);
	{
		struct udp_pkt u = udp_build(IP_A, IP_B, 2003, 80, false);

		expect(f->from_pod, f->metrics, &u, sizeof(u), if_a, TC_ACT_SHOT,
		       SL_DROP_POLICY_INGRESS, NULL, NULL);
	}

	UNIT_CASE("the server's reply passes as part of the allowed flow, even egress-isolated");
	ep_set(f, 'b', ID_B, SL_EP_F_ISO_IN | SL_EP_F_ISO_OUT);
	from(f, 'b', IP_A, 80, 2001, 0x12, TC_ACT_REDIRECT, SL_PATH_LOCAL);
	UNIT_CASE("but the server cannot open a flow of its own");
	from(f, 'b', IP_A, 3000, 2001, 0x02, TC_ACT_SHOT, SL_DROP_POLICY_EGRESS);
	ep_set(f, 'b', ID_B, SL_EP_F_ISO_IN);

	UNIT_CASE("cross-node arrival is judged in sl_to_pod by the source's identity");
	to_b(f, IP_REMOTE, 2004, 80, 0x02, false, TC_ACT_SHOT, SL_DROP_POLICY_INGRESS);
	pol_put(f, if_b, SL_POL_DIR_IN, ID_REMOTE, IPPROTO_TCP, 0); /* any TCP port */
	to_b(f, IP_REMOTE, 2005, 8443, 0x02, false, TC_ACT_OK, 0);
	UNIT_CASE("an address outside sl_ipcache4 is the world: denied; the node always passes");
	to_b(f, IP(192, 0, 2, 1), 2006, 80, 0x02, false, TC_ACT_SHOT, SL_DROP_POLICY_INGRESS);
	to_b(f, IP(192, 0, 2, 1), 2007, 80, 0x02, true, TC_ACT_OK, 0);

	UNIT_CASE(
	    "a Service flow is judged on the chosen backend's port with the client's address");
	from(f, 'a', VIP, 2008, 80, 0x02, TC_ACT_SHOT, SL_DROP_POLICY_INGRESS); /* 8080 not open */
	UNIT_CASE("a denied Service flow leaves no conntrack entry");
	CHECK(!ct_exists(f, IP_A, VIP, 2008, 80) && !ct_exists(f, IP_B, IP_A, 8080, 2008));
	pol_put(f, if_b, SL_POL_DIR_IN, ID_A, IPPROTO_TCP, 8080);
	from(f, 'a', VIP, 2009, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW);
	UNIT_CASE("an allowed Service flow keeps its verdict in its own two entries, none more");
	CHECK(ct_allowed(f, IP_A, VIP, 2009, 80, 0, 1));
	CHECK(ct_allowed(f, IP_B, IP_A, 8080, 2009, SL_CT_F_REPLY, 1));
	CHECK(!ct_exists(f, IP_A, IP_B, 2009, 8080));
	from(f, 'a', VIP, 2009, 80, 0x10, TC_ACT_REDIRECT, SL_PATH_SVC_CT);
	UNIT_CASE("the backend's reply is reverse-NATed and passes");
	from(f, 'b', IP_A, 8080, 2009, 0x12, TC_ACT_REDIRECT, SL_PATH_REVNAT);
}

static void test_egress_and_ipblock(const struct fds *f)
{
	ep_set(f, 'a', ID_A, SL_EP_F_ISO_OUT);

	UNIT_CASE("egress isolation drops what the destination's ingress allows");
	from(f, 'a', IP_B, 4000, 80, 0x02, TC_ACT_SHOT, SL_DROP_POLICY_EGRESS);
	CHECK_INT(drops(f, if_a).egress, 2);
	UNIT_CASE("an any-peer allow opens it; both ends allow");
	pol_put(f, if_a, SL_POL_DIR_OUT, SL_ID_ANY, IPPROTO_TCP, 80);
	from(f, 'a', IP_B, 4001, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_LOCAL);
	pol_del(f, if_a, SL_POL_DIR_OUT, SL_ID_ANY, IPPROTO_TCP, 80);

	UNIT_CASE("ipBlock: the cidr's set allows, an except carved out of it does not");
	cidr_put(f, if_a, SL_POL_DIR_OUT, IP(10, 244, 2, 0), 24, SET_CIDR);
	cidr_put(f, if_a, SL_POL_DIR_OUT, IP_REMOTE, 32, SL_ID_CIDR_BASE + 2);
	pol_put(f, if_a, SL_POL_DIR_OUT, SET_CIDR, IPPROTO_TCP, 0);
	from(f, 'a', IP_OTHER, 4002, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_FIB);
	from(f, 'a', IP_REMOTE, 4003, 80, 0x02, TC_ACT_SHOT, SL_DROP_POLICY_EGRESS);
	UNIT_CASE("ipBlock sets are per endpoint: B's ingress does not see A's");
	to_b(f, IP_OTHER, 4004, 80, 0x02, false, TC_ACT_SHOT, SL_DROP_POLICY_INGRESS);
	UNIT_CASE("an egress-isolated pod still reaches its node");
	from(f, 'a', IP_NODE, 4005, 22, 0x02, TC_ACT_OK, SL_PATH_STACK);
}

static void test_generation(const struct fds *f)
{
	ep_set(f, 'a', ID_A, 0);

	UNIT_CASE("an established flow is judged again after a policy change: removed allow drops");
	from(f, 'a', IP_B, 5000, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_LOCAL);
	from(f, 'a', IP_B, 5000, 80, 0x10, TC_ACT_REDIRECT, SL_PATH_LOCAL);
	pol_del(f, if_b, SL_POL_DIR_IN, ID_A, IPPROTO_TCP, 80);
	from(f, 'a', IP_B, 5000, 80, 0x10, TC_ACT_REDIRECT, SL_PATH_LOCAL); /* gen unchanged */
	cfg_set(f, SL_POLCFG_F_ACTIVE, 2);
	from(f, 'a', IP_B, 5000, 80, 0x10, TC_ACT_SHOT, SL_DROP_POLICY_INGRESS);
	UNIT_CASE("its replies are judged as the flow was opened, and drop too");
	from(f, 'b', IP_A, 80, 5000, 0x10, TC_ACT_SHOT, SL_DROP_POLICY_INGRESS);
	UNIT_CASE("a still-allowed flow survives the change, replies first");
	pol_put(f, if_b, SL_POL_DIR_IN, ID_A, IPPROTO_TCP, 80);
	from(f, 'a', IP_B, 5001, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_LOCAL);
	cfg_set(f, SL_POLCFG_F_ACTIVE, 3);
	from(f, 'b', IP_A, 80, 5001, 0x12, TC_ACT_REDIRECT, SL_PATH_LOCAL);
	from(f, 'a', IP_B, 5001, 80, 0x10, TC_ACT_REDIRECT, SL_PATH_LOCAL);
	CHECK(pol_ct_has(f, IP_A, IP_B, 5001, 80, 3));
	UNIT_CASE("a Service flow is judged again too: the reply as opened (client to backend)");
	from(f, 'a', VIP, 5003, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_SVC_NEW);
	pol_del(f, if_b, SL_POL_DIR_IN, ID_A, IPPROTO_TCP, 8080);
	cfg_set(f, SL_POLCFG_F_ACTIVE, 4);
	from(f, 'b', IP_A, 8080, 5003, 0x12, TC_ACT_SHOT, SL_DROP_POLICY_INGRESS);
	from(f, 'a', VIP, 5003, 80, 0x10, TC_ACT_SHOT, SL_DROP_POLICY_INGRESS);
	pol_put(f, if_b, SL_POL_DIR_IN, ID_A, IPPROTO_TCP, 8080);
	cfg_set(f, SL_POLCFG_F_ACTIVE, 5);
	from(f, 'b', IP_A, 8080, 5003, 0x10, TC_ACT_REDIRECT, SL_PATH_REVNAT);
	CHECK(ct_allowed(f, IP_B, IP_A, 8080, 5003, SL_CT_F_REPLY, 5));
	CHECK(ct_allowed(f, IP_A, VIP, 5003, 80, 0, 3)); /* judged at its own next packet */
	UNIT_CASE("a hairpin to itself is never judged");
	ep_set(f, 'a', ID_A, SL_EP_F_ISO_OUT | SL_EP_F_ISO_IN);
	from(f, 'a', IP_A, 5002, 80, 0x02, TC_ACT_REDIRECT, SL_PATH_LOCAL);
}

/* The conntrack pair sl_from_net writes for a NodePort flow client:cport ->
 * node:30080 to B:8080, allowed under gen. */
static void np_flow_put(const struct fds *f, __be32 client, __u16 cport, __u32 gen)
{
	struct sl_ct_key fk = {.saddr = client,
			       .daddr = IP_NODE,
			       .sport = htons(cport),
			       .dport = htons(30080),
			       .proto = IPPROTO_TCP};
	struct sl_ct_key rk = {.saddr = IP_B,
			       .daddr = client,
			       .sport = htons(8080),
			       .dport = htons(cport),
			       .proto = IPPROTO_TCP};
	struct sl_ct_val fv = {.svc_id = 7, .backend_id = 1, .client_ip = client, .pol_gen = gen};
	struct sl_ct_val rv = fv;

	fv.nat_ip = IP_B;
	fv.nat_port = htons(8080);
	rv.nat_ip = IP_NODE;
	rv.nat_port = htons(30080);
	rv.flags = SL_CT_F_REPLY;
	CHECK_INT(bpf_map_update_elem(f->ct, &fk, &fv, BPF_ANY), 0);
	CHECK_INT(bpf_map_update_elem(f->ct, &rk, &rv, BPF_ANY), 0);
}

static void test_nodeport_flow(const struct fds *f)
{
	UNIT_CASE("a NodePort flow DNATed by the uplink passes sl_to_pod by its reply entry, "
		  "which stays a Service entry (no policy entry written over it)");
	np_flow_put(f, IP_REMOTE, 6000, 5);
	to_b(f, IP_REMOTE, 6000, 8080, 0x10, false, TC_ACT_OK, 0);
	CHECK(ct_allowed(f, IP_B, IP_REMOTE, 8080, 6000, SL_CT_F_REPLY, 5));
	CHECK(!ct_exists(f, IP_REMOTE, IP_B, 6000, 8080));
	UNIT_CASE("after a policy change it is judged again there, as opened, and drops");
	pol_del(f, if_b, SL_POL_DIR_IN, ID_REMOTE, IPPROTO_TCP, 0);
	cfg_set(f, SL_POLCFG_F_ACTIVE, 6);
	to_b(f, IP_REMOTE, 6000, 8080, 0x10, false, TC_ACT_SHOT, SL_DROP_POLICY_INGRESS);
	CHECK(ct_allowed(f, IP_B, IP_REMOTE, 8080, 6000, SL_CT_F_REPLY, 5));
	UNIT_CASE("allowed again, it passes and its entry records the new generation");
	pol_put(f, if_b, SL_POL_DIR_IN, ID_REMOTE, IPPROTO_TCP, 0);
	cfg_set(f, SL_POLCFG_F_ACTIVE, 7);
	to_b(f, IP_REMOTE, 6000, 8080, 0x10, false, TC_ACT_OK, 0);
	CHECK(ct_allowed(f, IP_B, IP_REMOTE, 8080, 6000, SL_CT_F_REPLY, 7));
	CHECK(!ct_exists(f, IP_REMOTE, IP_B, 6000, 8080));
}

static void test_all(const struct fds *f)
{
	seed(f);
	test_unpoliced_and_pending(f);
	test_ingress(f);
	test_egress_and_ipblock(f);
	test_generation(f);
	test_nodeport_flow(f);
}

int main(void)
{
	if (pod_fixture_run("bpf_test_policy", netns_setup,
			    sizeof(netns_setup) / sizeof(netns_setup[0]), test_all) < 0)
		return 1;
	return unit_done();
}
