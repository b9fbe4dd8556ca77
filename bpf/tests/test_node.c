// SPDX-License-Identifier: Apache-2.0
/* BPF_PROG_TEST_RUN tests of the uplink program (node.bpf.c): NodePort to local and remote
 * backends, SNAT and its reverse, Local policy, reject, source ranges. Root; private netns. */
#define _GNU_SOURCE
#include <time.h>

#include <linux/tcp.h>
#include <linux/udp.h>

#include "l4_pkt.h"
#include "node_fixture.h"

#define CLIENT_BAD IP(198, 51, 100, 7) /* outside loadBalancerSourceRanges */
#define OLD_CLIENT IP(192, 0, 2, 51)   /* outside: flows that closed */
#define EXT_IP	   IP(192, 0, 2, 200)  /* an externalIP */
#define LB_IP	   IP(203, 0, 113, 10) /* an LB ingress IP */
#define NP_LOCAL   30080	       /* -> IP_B:8080, on this node */
#define NP_NOLOCAL 30082	       /* Local, endpoints elsewhere only: drop */
#define NP_EMPTY   30083	       /* no endpoints: reject */

static const char *const netns_setup[] = {
    POD_FIXTURE_LINKS,
    NODE_FIXTURE_ROUTES,
    "ip route add 198.51.100.0/24 via 10.0.0.2 dev up0",
};

static struct node_fds nf;

/* The SNAT key of the TCP flow saddr:sport -> daddr:dport in direction dir. */
static struct sl_nat_key nat_key(__be32 saddr, __be32 daddr, __u16 sport, __u16 dport, __u8 dir)
{
	return (struct sl_nat_key){.saddr = saddr,
				   .daddr = daddr,
				   .sport = htons(sport),
				   .dport = htons(dport),
				   .proto = IPPROTO_TCP,
				   .dir = dir};
}

static int nat_get(__be32 saddr, __be32 daddr, __u16 sport, __u16 dport, __u8 dir,
		   struct sl_nat_val *v)
{
	struct sl_nat_key k = nat_key(saddr, daddr, sport, dport, dir);

	return bpf_map_lookup_elem(nf.nat, &k, v);
}

static void seed(void)
{
	struct sl_lbsrc_key lk = {.prefixlen = 32 + 24, .svc_id = 6, .ip = IP(192, 0, 2, 0)};

	node_fixture_be_put(&nf.lb, 1, IP_B, 8080, IPPROTO_TCP, SL_BE_F_LOCAL);
	node_fixture_seed_remote(&nf.lb, 5);
	node_fixture_svc_one(&nf.lb, NODE_IP, NP_LOCAL, IPPROTO_TCP, 1, 1, 0);
	node_fixture_svc_ext(&nf.lb, NODE_IP, NP_NOLOCAL, IPPROTO_TCP, 0, 3, 0,
			     SL_SVC_F_DROP_EMPTY);
	node_fixture_svc_ext(&nf.lb, NODE_IP, NP_EMPTY, IPPROTO_UDP, 0, 4, 0, 0);
	/* an externalIP (marker: other ports rejected) and an LB IP with ranges */
	node_fixture_svc_one(&nf.lb, EXT_IP, 80, IPPROTO_TCP, 7, 1, 0);
	node_fixture_svc_ext(&nf.lb, EXT_IP, 0, 0, 0, 0, 0, SL_SVC_F_VIP);
	node_fixture_svc_ext(&nf.lb, LB_IP, 0, 0, 0, 0, 0, SL_SVC_F_VIP);
	node_fixture_svc_one(&nf.lb, LB_IP, 80, IPPROTO_TCP, 6, 1, SL_SVC_F_SRC_RANGES);
	CHECK_INT(dp_lbsrc_update(nf.lbsrc, &lk), 0);
}

/* North-south flows, packets and bytes of service port id (sl_svcstat). */
static void svcstat_is(__u32 id, __u64 flows, __u64 packets, __u64 bytes)
{
	struct sl_svcstat_val st;

	CHECK_INT(dp_svcstat_read(nf.svcstat, id, &st), 0);
	CHECK_INT(st.flows, flows);
	CHECK_INT(st.packets, packets);
	CHECK_INT(st.bytes, bytes);
}

static struct tcp_pkt from_client(__be32 src, __be32 dst, __u16 sport, __u16 dport, __u8 flags)
{
	return node_fixture_tcp_in(src, dst, sport, dport, flags);
}

/* The client's segment in through the uplink program: its verdict and path, out what leaves. */
static void uplink_run(const struct tcp_pkt *in, int verdict, int path, struct tcp_pkt *out)
{
	__u32 len = sizeof(*out);

	expect(nf.prog, nf.metrics, in, sizeof(*in), if_up, verdict, path, out, &len);
}

static void test_local(void)
{
	struct tcp_pkt in, out;
	struct sl_ct_val ct;

	UNIT_CASE("(nodeport) to a local backend: DNAT, the client's address kept, to the stack");
	in = from_client(CLIENT, NODE_IP, 40000, NP_LOCAL, 0x02);
	uplink_run(&in, TC_ACT_OK, SL_PATH_NS_LOCAL, &out);
	l4_tuple_is(&out.ip, &out.tcp, CLIENT, 40000, IP_B, 8080);
	CHECK(tcp_csums_ok(&out));

	UNIT_CASE("(nodeport) the local flow is in conntrack for the pod's reply (svc 1)");
	CHECK_INT(node_fixture_ct_get(nf.ct, CLIENT, NODE_IP, 40000, NP_LOCAL, IPPROTO_TCP, &ct),
		  0);
	CHECK_INT(ct.svc_id, 1);
	CHECK_INT(ct.client_ip, CLIENT);
	CHECK_INT(ct.flags, 0);
	CHECK_INT(ct.nat_ip, IP_B);
	CHECK_INT(ntohs(ct.nat_port), 8080);
	CHECK_INT(node_fixture_ct_get(nf.ct, IP_B, CLIENT, 8080, 40000, IPPROTO_TCP, &ct), 0);
	CHECK_INT(ct.flags, SL_CT_F_REPLY); /* the reply comes from the node address again */
	CHECK_INT(ct.nat_ip, NODE_IP);
	CHECK_INT(ntohs(ct.nat_port), NP_LOCAL);

	UNIT_CASE("(nodeport) an established local flow keeps its backend");
	in = from_client(CLIENT, NODE_IP, 40000, NP_LOCAL, 0x10);
	uplink_run(&in, TC_ACT_OK, SL_PATH_NS_CT, &out);
	l4_tuple_is(&out.ip, &out.tcp, 0, 0, IP_B, 0);
	CHECK(tcp_csums_ok(&out));

	UNIT_CASE("(nodeport) the frontend's counters: one flow, its two packets (svc 1)");
	svcstat_is(1, 1, 2, 2 * sizeof(in));
}

/* The local flow's tuple used again: straight to the pod, then to the frontend once its slot is
 * remote. */
static void test_local_reused(void)
{
	struct tcp_pkt in, out;
	struct sl_ct_val ct;

	UNIT_CASE("(nodeport) a SYN from the same client port straight to the pod forgets the "
		  "reply entry");
	in = from_client(CLIENT, IP_B, 40000, 8080, 0x02);
	uplink_run(&in, TC_ACT_OK, 0, &out);
	CHECK(!memcmp(&in, &out, sizeof(in)));
	CHECK_INT(node_fixture_ct_get(nf.ct, IP_B, CLIENT, 8080, 40000, IPPROTO_TCP, &ct), -ENOENT);

	UNIT_CASE("(nodeport) a new connection on the local flow's tuple to a remote backend: "
		  "SNATed, and its next segment too (the old local entry is forgotten)");
	node_fixture_svc_ext(&nf.lb, NODE_IP, NP_LOCAL, IPPROTO_TCP, 1, 2, 0,
			     0); /* the slot now remote */
	in = from_client(CLIENT, NODE_IP, 40000, NP_LOCAL, 0x02);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT, NULL,
	       NULL);
	in = from_client(CLIENT, NODE_IP, 40000, NP_LOCAL, 0x10);
	uplink_run(&in, TC_ACT_REDIRECT, SL_PATH_NS_NAT, &out);
	l4_tuple_is(&out.ip, &out.tcp, NODE_IP, 0, IP_REMOTE, 0);
	node_fixture_svc_ext(&nf.lb, NODE_IP, NP_LOCAL, IPPROTO_TCP, 1, 1, 0, 0);
}

/* A new flow to the remote backend: SNATed, both its entries; returns its SNAT port. */
static __u16 test_snat_new(void)
{
	struct tcp_pkt in, out;
	struct sl_nat_val v;
	__u16 port;

	UNIT_CASE("(nodeport) to a remote backend: DNAT + SNAT to the node, forwarded by the FIB");
	in = from_client(CLIENT, NODE_IP, 40001, NP_REMOTE, 0x02);
	uplink_run(&in, TC_ACT_REDIRECT, SL_PATH_NS_SNAT, &out);
	l4_tuple_is(&out.ip, &out.tcp, NODE_IP, 0, IP_REMOTE, 8080);
	port = ntohs(out.tcp.source);
	CHECK(port >= 10000 && port <= 29999); /* below the NodePort and ephemeral ranges */
	CHECK(tcp_csums_ok(&out));
	CHECK_INT(out.ip.ttl, 63);
	CHECK(!memcmp(out.eth.h_source, mac_uplink, 6) && !memcmp(out.eth.h_dest, mac_router, 6));

	UNIT_CASE("(nodeport) both SNAT entries hold the flow");
	CHECK_INT(nat_get(CLIENT, NODE_IP, 40001, NP_REMOTE, SL_NAT_DIR_FWD, &v), 0);
	CHECK_INT(ntohs(v.sport), port);
	CHECK_INT(v.backend_id, 2);
	CHECK_INT(nat_get(IP_REMOTE, NODE_IP, 8080, port, SL_NAT_DIR_REV, &v), 0);
	CHECK_INT(v.daddr, CLIENT);
	CHECK_INT(ntohs(v.sport), NP_REMOTE);
	return port;
}

/* The SNAT flow on port, established: its next segment and the backend's reply. */
static void test_snat_established(__u16 port)
{
	struct tcp_pkt in, out;

	UNIT_CASE("(nodeport) an established SNAT flow keeps its port and backend");
	node_fixture_svc_ext(&nf.lb, NODE_IP, NP_REMOTE, IPPROTO_TCP, 1, 1, 0,
			     0); /* slot now local */
	in = from_client(CLIENT, NODE_IP, 40001, NP_REMOTE, 0x10);
	uplink_run(&in, TC_ACT_REDIRECT, SL_PATH_NS_NAT, &out);
	l4_tuple_is(&out.ip, &out.tcp, 0, port, IP_REMOTE, 0);
	CHECK(tcp_csums_ok(&out));
	node_fixture_svc_ext(&nf.lb, NODE_IP, NP_REMOTE, IPPROTO_TCP, 1, 2, 0, 0);

	UNIT_CASE(
	    "(nodeport) the remote backend's reply goes back to the client from the NodePort");
	in = from_client(IP_REMOTE, NODE_IP, 8080, port, 0x12);
	uplink_run(&in, TC_ACT_REDIRECT, SL_PATH_NS_REVSNAT, &out);
	l4_tuple_is(&out.ip, &out.tcp, NODE_IP, NP_REMOTE, CLIENT, 40001);
	CHECK(tcp_csums_ok(&out));
}

/* The SNAT flow on port closed: its entries closing, then free once idle. */
static void test_snat_close(__u16 port)
{
	struct sl_nat_key k = nat_key(IP_REMOTE, NODE_IP, 8080, port, SL_NAT_DIR_REV);
	struct sl_nat_val v;
	struct tcp_pkt in;

	UNIT_CASE("(nodeport) a FIN marks both SNAT entries closing (their port is free sooner)");
	in = from_client(CLIENT, NODE_IP, 40001, NP_REMOTE, 0x11);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_REDIRECT, SL_PATH_NS_NAT, NULL,
	       NULL);
	CHECK_INT(nat_get(CLIENT, NODE_IP, 40001, NP_REMOTE, SL_NAT_DIR_FWD, &v), 0);
	CHECK_INT(v.tcp_flags, SL_NAT_F_REPLIED | 0x01);
	CHECK_INT(nat_get(IP_REMOTE, NODE_IP, 8080, port, SL_NAT_DIR_REV, &v), 0);
	CHECK_INT(v.tcp_flags, SL_NAT_F_REPLIED | 0x01);

	UNIT_CASE("(nodeport) a closed flow idle past 10 s translates no more: its port is free");
	v.last_seen_ns -= 11ull * 1000000000ull;
	CHECK_INT(bpf_map_update_elem(nf.nat, &k, &v, BPF_EXIST), 0);
	in = from_client(IP_REMOTE, NODE_IP, 8080, port, 0x10);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_OK, 0, NULL, NULL);
}

static void test_snat_backend_gone(void)
{
	struct tcp_pkt in, out;

	UNIT_CASE("(nodeport) a SNAT flow whose backend is gone is balanced again");
	CHECK_INT(dp_be_delete(nf.lb.be, 2), 0);
	node_fixture_svc_ext(&nf.lb, NODE_IP, NP_REMOTE, IPPROTO_TCP, 1, 1, 0, 0);
	in = from_client(CLIENT, NODE_IP, 40001, NP_REMOTE, 0x10);
	uplink_run(&in, TC_ACT_OK, SL_PATH_NS_LOCAL, &out);
	CHECK_INT(out.ip.daddr, IP_B);
	node_fixture_be_put(&nf.lb, 2, IP_REMOTE, 8080, IPPROTO_TCP, 0);
	node_fixture_svc_ext(&nf.lb, NODE_IP, NP_REMOTE, IPPROTO_TCP, 1, 2, 0, 0);
}

/* Every SNAT port toward IP_REMOTE:8080 held by a closed (FIN) flow of
 * OLD_CLIENT:port, both its entries, last seen age_ns ago; del: removed. */
static void nat_fill_closed(__u64 age_ns, bool del)
{
	struct timespec ts;
	__u64 now;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns's clock */
	now = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	for (__u32 p = 10000; p <= 29999; p++) {
		struct sl_nat_key rk = nat_key(IP_REMOTE, NODE_IP, 8080, p, SL_NAT_DIR_REV);
		struct sl_nat_key fk = nat_key(OLD_CLIENT, NODE_IP, p, NP_REMOTE, SL_NAT_DIR_FWD);
		struct sl_nat_val rv = {.saddr = NODE_IP,
					.sport = htons(NP_REMOTE),
					.daddr = OLD_CLIENT,
					.dport = htons(p),
					.tcp_flags = 0x01,
					.last_seen_ns = now - age_ns};
		struct sl_nat_val fv = {.saddr = NODE_IP,
					.sport = htons(p),
					.daddr = IP_REMOTE,
					.dport = htons(8080),
					.backend_id = 2,
					.tcp_flags = 0x01,
					.last_seen_ns = now - age_ns};

		if (del) {
			bpf_map_delete_elem(nf.nat, &rk);
			bpf_map_delete_elem(nf.nat, &fk);
		} else if (bpf_map_update_elem(nf.nat, &rk, &rv, BPF_ANY) ||
			   bpf_map_update_elem(nf.nat, &fk, &fv, BPF_ANY)) {
			CHECK(!"sl_nat4 filled");
			return;
		}
	}
}

/* The SNAT range full of recently closed flows: a new connection takes a
 * port over once they are closed for 1 s, not before, and the old flow's
 * FWD entry goes with it. */
static void test_snat_reuse(void)
{
	struct tcp_pkt in, out;
	struct sl_nat_val v;
	__u32 len = sizeof(out);
	__u16 port;

	UNIT_CASE("(nodeport) every SNAT port held by a flow closed 0.5 s ago: a new connection is "
		  "dropped");
	nat_fill_closed(500000000ull, false);
	in = from_client(CLIENT, NODE_IP, 40002, NP_REMOTE, 0x02);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_SHOT, SL_DROP_SNAT_PORT, NULL,
	       NULL);

	UNIT_CASE("(nodeport) closed 2 s ago: a new connection takes a port over, the old flow's "
		  "FWD entry goes");
	nat_fill_closed(2000000000ull, false);
	in = from_client(CLIENT, NODE_IP, 40003, NP_REMOTE, 0x02);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT, &out,
	       &len);
	port = ntohs(out.tcp.source);
	CHECK(port >= 10000 && port <= 29999);
	CHECK_INT(nat_get(IP_REMOTE, NODE_IP, 8080, port, SL_NAT_DIR_REV, &v), 0);
	CHECK_INT(v.daddr, CLIENT);
	CHECK_INT(ntohs(v.dport), 40003);
	CHECK_INT(nat_get(OLD_CLIENT, NODE_IP, port, NP_REMOTE, SL_NAT_DIR_FWD, &v), -ENOENT);
	CHECK_INT(nat_get(OLD_CLIENT, NODE_IP, port == 10000 ? 10001 : 10000, NP_REMOTE,
			  SL_NAT_DIR_FWD, &v),
		  0);

	UNIT_CASE("(nodeport) a packet that opens no connection takes no closed flow's port");
	in = from_client(CLIENT, NODE_IP, 40004, NP_REMOTE, 0x10);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_SHOT, SL_DROP_SNAT_PORT, NULL,
	       NULL);
	nat_fill_closed(0, true);
}

/* 31 of every 32 SNAT ports held by flows closed 0.5 s ago (not free yet):
 * every new connection finds one of the others. A run of 16 ports from a
 * random start (the search before) found one for half the SYNs here, so
 * 20 SYNs in a row all passing fails it. */
static void test_snat_scarce(void)
{
	struct tcp_pkt in, out;
	int spread_ok = 0;

	UNIT_CASE("(nodeport) 31 of every 32 SNAT ports held: 20 new connections in a row each "
		  "find a free one");
	nat_fill_closed(500000000ull, false);
	for (__u32 p = 10000; p <= 29999; p += 32) {
		struct sl_nat_key rk = nat_key(IP_REMOTE, NODE_IP, 8080, p, SL_NAT_DIR_REV);

		bpf_map_delete_elem(nf.nat, &rk);
	}
	for (__u16 i = 0; i < 20; i++) {
		struct sl_nat_key fk =
		    nat_key(CLIENT, NODE_IP, 41000 + i, NP_REMOTE, SL_NAT_DIR_FWD);
		__u16 port;

		in = from_client(CLIENT, NODE_IP, 41000 + i, NP_REMOTE, 0x02);
		memset(&out, 0, sizeof(out));
		uplink_run(&in, TC_ACT_REDIRECT, SL_PATH_NS_SNAT, &out);
		port = ntohs(out.tcp.source);
		spread_ok += port >= 10000 && (port - 10000) % 32 == 0;
		bpf_map_delete_elem(nf.nat, &fk);
	}
	CHECK_INT(spread_ok, 20);
	nat_fill_closed(0, true);
}

#define SEC_NS 1000000000ull

/* CLOCK_MONOTONIC in ns: bpf_ktime_get_ns's clock. */
static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * SEC_NS + (__u64)ts.tv_nsec;
}

/* Both entries of the SNAT flow whose FWD key is fk: flags set, last seen
 * age_ns before the REV entry's last refresh. */
static void nat_flow_age(struct sl_nat_key fk, __u8 flags, __u64 age_ns)
{
	struct sl_nat_val f, r;
	struct sl_nat_key rk;

	CHECK_INT(bpf_map_lookup_elem(nf.nat, &fk, &f), 0);
	rk = (struct sl_nat_key){.saddr = f.daddr,
				 .daddr = f.saddr,
				 .sport = f.dport,
				 .dport = f.sport,
				 .proto = fk.proto,
				 .dir = SL_NAT_DIR_REV};
	CHECK_INT(bpf_map_lookup_elem(nf.nat, &rk, &r), 0);
	f.tcp_flags = r.tcp_flags = flags;
	f.last_seen_ns = r.last_seen_ns = r.last_seen_ns - age_ns;
	CHECK_INT(bpf_map_update_elem(nf.nat, &fk, &f, BPF_EXIST), 0);
	CHECK_INT(bpf_map_update_elem(nf.nat, &rk, &r, BPF_EXIST), 0);
}

static struct sl_nat_key udp_key(__be32 saddr, __be32 daddr, __u16 sport, __u16 dport, __u8 dir)
{
	struct sl_nat_key k = nat_key(saddr, daddr, sport, dport, dir);

	k.proto = IPPROTO_UDP;
	return k;
}

/* A UDP flow from sport, aged age_ns with flags: its next datagram keeps
 * the mapping (SL_PATH_NS_NAT) or, expired, is a new flow (NS_SNAT). */
static void udp_after(__u16 sport, __u8 flags, __u64 age_ns, unsigned int path)
{
	struct sl_nat_key fk = udp_key(CLIENT, NODE_IP, sport, NP_UDP, SL_NAT_DIR_FWD);
	struct udp_pkt in = udp_build(CLIENT, NODE_IP, sport, NP_UDP, false);

	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT, NULL,
	       NULL);
	nat_flow_age(fk, flags, age_ns);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_REDIRECT, path, NULL, NULL);
}

/* The same for a TCP flow opened by a SYN from sport, its next segment an ACK. */
static void tcp_after(__u16 sport, __u8 flags, __u64 age_ns, unsigned int path)
{
	struct sl_nat_key fk = nat_key(CLIENT, NODE_IP, sport, NP_REMOTE, SL_NAT_DIR_FWD);
	struct tcp_pkt in = from_client(CLIENT, NODE_IP, sport, NP_REMOTE, 0x02);

	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT, NULL,
	       NULL);
	nat_flow_age(fk, flags, age_ns);
	in = from_client(CLIENT, NODE_IP, sport, NP_REMOTE, 0x10);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_REDIRECT, path, NULL, NULL);
}

/* conntrack's timeouts: an exchange or a flow nobody answered frees its
 * port soon, an answered one that goes on keeps it. */
static void test_nat_timeouts(void)
{
	struct sl_nat_key fk, rk;
	struct sl_nat_val v;
	struct udp_pkt u;
	__u16 port;

	UNIT_CASE("(nodeport) UDP nobody answered, idle 31 s: its port is free (a new flow)");
	udp_after(5101, 0, 31 * SEC_NS, SL_PATH_NS_SNAT);
	UNIT_CASE("(nodeport) UDP answered once (a query and its answer), idle 31 s: free");
	udp_after(5102, SL_NAT_F_REPLIED, 31 * SEC_NS, SL_PATH_NS_SNAT);
	UNIT_CASE("(nodeport) a UDP stream idle 31 s keeps its port; idle 121 s, free");
	udp_after(5103, SL_NAT_F_REPLIED | SL_NAT_F_STREAM, 31 * SEC_NS, SL_PATH_NS_NAT);
	udp_after(5104, SL_NAT_F_REPLIED | SL_NAT_F_STREAM, 121 * SEC_NS, SL_PATH_NS_SNAT);
	UNIT_CASE("(nodeport) unanswered UDP idle 29 s keeps its port");
	udp_after(5105, 0, 29 * SEC_NS, SL_PATH_NS_NAT);

	UNIT_CASE("(nodeport) a SYN nobody answered, idle 61 s: its port is free; answered, kept");
	tcp_after(41101, 0, 61 * SEC_NS, SL_PATH_NS_SNAT);
	tcp_after(41102, SL_NAT_F_REPLIED, 61 * SEC_NS, SL_PATH_NS_NAT);

	UNIT_CASE("(nodeport) a reply a second after the last refresh makes the flow a stream, "
		  "both entries refreshed alike");
	u = udp_build(CLIENT, NODE_IP, 5106, NP_UDP, false);
	expect(nf.prog, nf.metrics, &u, sizeof(u), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT, NULL,
	       NULL);
	fk = udp_key(CLIENT, NODE_IP, 5106, NP_UDP, SL_NAT_DIR_FWD);
	CHECK_INT(bpf_map_lookup_elem(nf.nat, &fk, &v), 0);
	port = ntohs(v.sport);
	nat_flow_age(fk, 0, 2 * SEC_NS);
	u = udp_build(IP_REMOTE, NODE_IP, 5353, port, false);
	expect(nf.prog, nf.metrics, &u, sizeof(u), if_up, TC_ACT_REDIRECT, SL_PATH_NS_REVSNAT, NULL,
	       NULL);
	rk = udp_key(IP_REMOTE, NODE_IP, 5353, port, SL_NAT_DIR_REV);
	for (int i = 0; i < 2; i++) {
		CHECK_INT(bpf_map_lookup_elem(nf.nat, i ? &rk : &fk, &v), 0);
		CHECK_INT(v.tcp_flags, SL_NAT_F_REPLIED | SL_NAT_F_STREAM);
		CHECK(mono_ns() - v.last_seen_ns < SEC_NS);
	}
}

static void test_udp(void)
{
	struct udp_pkt in, out;
	__u32 len = sizeof(out);
	__u16 port;

	UNIT_CASE("(nodeport) UDP to a remote backend: SNAT with a valid checksum, and back");
	in = node_fixture_udp_in(CLIENT, NODE_IP, 5000, NP_UDP);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT, &out,
	       &len);
	l4_tuple_is(&out.ip, &out.udp, NODE_IP, 0, IP_REMOTE, 5353);
	CHECK(udp_csums_ok(&out));
	port = ntohs(out.udp.source);
	svcstat_is(5, 1, 1, sizeof(in));

	UNIT_CASE("(nodeport) the flow's next datagram: counted for its frontend, no new flow");
	in = udp_build(CLIENT, NODE_IP, 5000, NP_UDP, false);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_REDIRECT, SL_PATH_NS_NAT, NULL,
	       NULL);
	svcstat_is(5, 1, 2, 2 * sizeof(in));

	UNIT_CASE("(nodeport) the backend's reply goes back to the client from the NodePort");
	in = udp_build(IP_REMOTE, NODE_IP, 5353, port, false);
	len = sizeof(out);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_REDIRECT, SL_PATH_NS_REVSNAT,
	       &out, &len);
	l4_tuple_is(&out.ip, &out.udp, NODE_IP, NP_UDP, CLIENT, 0);
	CHECK(udp_csums_ok(&out));
}

/* The client's TCP segment of len bytes (headers included) as a TSO sender
 * hands it on: one GSO packet of MSS-sized segments. */
static void gso_run(__u16 sport, __u32 len, int verdict, int path)
{
	static __u8 buf[4096], out[4096];
	struct tcp_pkt p = from_client(CLIENT, NODE_IP, sport, NP_REMOTE, 0x10);
	struct __sk_buff ctx = {.ifindex = if_up, .ingress_ifindex = if_up, .gso_size = 1448};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = 1);
	struct sl_metric_val before[SL_METRICS_MAX], after[SL_METRICS_MAX];

	ctx.gso_segs = (len - sizeof(struct ethhdr) - 40 + 1447) / 1448;
	p.ip.tot_len = htons(len - sizeof(struct ethhdr));
	p.ip.check = 0;
	p.ip.check = csum(&p.ip, sizeof(p.ip));
	memset(buf, 'x', len);
	memcpy(buf, &p, sizeof(p) - sizeof(p.payload));
	CHECK_INT(dp_metrics_read(nf.metrics, before), 0);
	CHECK_INT(bpf_prog_test_run_opts(nf.prog, &opts), 0);
	CHECK_INT(dp_metrics_read(nf.metrics, after), 0);
	CHECK_INT(opts.retval, verdict);
	CHECK_INT(after[path].packets - before[path].packets, 1);
}

static void test_gso(void)
{
	struct tcp_pkt in = from_client(CLIENT, NODE_IP, 40060, NP_REMOTE, 0x02);

	UNIT_CASE(
	    "(nodeport) a GSO packet of a SNAT flow, longer than the MTU in all, is forwarded "
	    "(its segments fit; the stack would drop it: a local source)");
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_REDIRECT, SL_PATH_NS_SNAT, NULL,
	       NULL);
	gso_run(40060, 3000, TC_ACT_REDIRECT, SL_PATH_NS_NAT); /* 2 segments */
}

static void test_policy_reject(void)
{
	struct tcp_pkt in, out;
	struct udp_pkt uin;
	__u8 buf[256];
	__u32 len;

	UNIT_CASE("(nodeport) Local without a local endpoint drops, counted");
	in = from_client(CLIENT, NODE_IP, 40010, NP_NOLOCAL, 0x02);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_SHOT, SL_DROP_NO_LOCAL_BACKEND,
	       NULL, NULL);

	UNIT_CASE("(nodeport) no endpoints: ICMP port unreachable back out of the uplink");
	uin = udp_build(CLIENT, NODE_IP, 5001, NP_EMPTY, false);
	len = sizeof(buf);
	expect_at(nf.prog, nf.metrics, &uin, sizeof(uin), if_up, true, TC_ACT_REDIRECT,
		  SL_PATH_SVC_REJECT, buf, &len);
	CHECK_INT(((struct iphdr *)(buf + ETH_HLEN))->protocol, IPPROTO_ICMP);
	CHECK_INT(((struct iphdr *)(buf + ETH_HLEN))->saddr, NODE_IP);
	CHECK_INT(((struct iphdr *)(buf + ETH_HLEN))->daddr, CLIENT);

	UNIT_CASE("(nodeport) a port an external IP's Services lack is rejected");
	in = from_client(CLIENT, EXT_IP, 40011, 81, 0x02);
	len = sizeof(buf);
	expect_at(nf.prog, nf.metrics, &in, sizeof(in), if_up, true, TC_ACT_REDIRECT,
		  SL_PATH_SVC_REJECT, buf, &len);

	UNIT_CASE("(nodeport) the external IP's own port is served");
	in = from_client(CLIENT, EXT_IP, 40012, 80, 0x02);
	len = sizeof(out);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_OK, SL_PATH_NS_LOCAL, &out,
	       &len);
	CHECK_INT(out.ip.daddr, IP_B);

	UNIT_CASE("(nodeport) the node's other ports are the node's: passed untouched, uncounted");
	in = from_client(CLIENT, NODE_IP, 40013, 22, 0x02);
	len = sizeof(out);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_OK, 0, &out, &len);
	CHECK(!memcmp(&in, &out, sizeof(in)));

	UNIT_CASE("(nodeport) traffic to an address without a marker passes after one lookup");
	in = from_client(CLIENT, IP_B, 40016, 8080, 0x02);
	len = sizeof(out);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_OK, 0, &out, &len);
	CHECK(!memcmp(&in, &out, sizeof(in)));

	UNIT_CASE("(lb) a source inside loadBalancerSourceRanges reaches the LB IP");
	in = from_client(CLIENT, LB_IP, 40014, 80, 0x02);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_OK, SL_PATH_NS_LOCAL, NULL,
	       NULL);

	UNIT_CASE("(lb) a source outside loadBalancerSourceRanges is dropped, counted");
	in = from_client(CLIENT_BAD, LB_IP, 40015, 80, 0x02);
	expect(nf.prog, nf.metrics, &in, sizeof(in), if_up, TC_ACT_SHOT, SL_DROP_LB_SOURCE, NULL,
	       NULL);
}

static void test_attach(void)
{
	enum dp_attach_mode mode;
	char name[16] = "";
	__u32 id = 0;

	UNIT_CASE("(nodeport) the uplink program attaches at tc ingress, found by its name");
	CHECK_INT(dp_tc_attach_uplink(if_up, nf.prog, &mode), 0);
	CHECK_INT(dp_tc_attach_uplink(if_up, nf.prog, &mode), 0); /* again: replaced */
	CHECK_INT(dp_tc_query_uplink(if_up, &id, name, NULL), 0);
	CHECK_STR(name, SL_PIN_FROM_NET);

	UNIT_CASE("(nodeport) detached, it is gone; detaching again is success");
	CHECK_INT(dp_tc_detach_uplink(if_up), 0);
	CHECK_INT(dp_tc_query_uplink(if_up, &id, name, NULL), -ENOENT);
	CHECK_INT(dp_tc_detach_uplink(if_up), 0);
}

static void test_all(const struct node_fds *f)
{
	__u16 port;

	nf = *f;
	seed();
	test_local();
	test_local_reused();
	port = test_snat_new();
	test_snat_established(port);
	test_snat_close(port);
	test_snat_backend_gone();
	test_snat_reuse();
	test_snat_scarce();
	test_udp();
	test_nat_timeouts();
	test_gso();
	test_policy_reject();
	test_attach();
}

int main(void)
{
	if (node_fixture_run("bpf_test_node", netns_setup,
			     sizeof(netns_setup) / sizeof(netns_setup[0]),
			     "(nodeport) the uplink program loads", false, test_all) < 0)
		return 1;
	return unit_done();
}
