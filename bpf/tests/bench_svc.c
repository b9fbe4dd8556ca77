// SPDX-License-Identifier: Apache-2.0
/* ns per packet of sl_from_pod's service paths (conntrack hit, new flow,
 * reject) with 1, 10k and 100k services in sl_svc4, and of the same paths
 * with NetworkPolicy on the backend (0, 1, 100 and 10k allows), by
 * BPF_PROG_TEST_RUN, as the mean and the median of the runs, and of all of
 * them with a monitor listening (events written to sl_events and read by a
 * thread) and without; and, needing no harness estimate, pod-to-pod
 * forwarding and an established Service packet each repeated 100 times in
 * one run, also net of a no-op program timed the same way, against the
 * target (<= 150 ns net with policy). Root; runs in a private network namespace.
 * Usage: bpf_bench_svc [out.json] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "log.h"
#include "noop_prog.h"
#include "pkt.h"
#include "pod.skel.h"
#include "unit.h"

#define RUNS	   200000     /* packets per measurement */
#define N_BACKENDS 1000	      /* shared by all services */
#define VIP_BASE   0x0a600000 /* 10.96.0.0: service i is VIP_BASE + i + 1, port 80 */
#define VIP_REJECT IP(10, 95, 0, 1)
#define VIP_DROP   IP(10, 95, 0, 2) /* Local traffic policy, no local backend: a drop */

static const __u8 mac_a[6] = {0x02, 0xaa, 0, 0, 0, 0x0a};
static const __u8 host_a[6] = {0x02, 0xbb, 0, 0, 0, 0x0a};
static const __u8 mac_b[6] = {0x02, 0xaa, 0, 0, 0, 0x0b};
static const __u8 host_b[6] = {0x02, 0xbb, 0, 0, 0, 0x0b};

#define IP_A IP(10, 244, 1, 10)
#define IP_B IP(10, 244, 1, 11)

static const char *const netns_setup[] = {
    "ip link set lo up",
    "ip link add ha type veth peer name pa",
    "ip link add hb type veth peer name pb",
    "ip link set ha up && ip link set pa up && ip link set hb up && ip link set pb up",
};

struct tcp_pkt {
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
	__u8 payload[6];
} __attribute__((packed));

struct fds {
	int prog, ep, svc, be, ct, ipc, pol, cfg, metrics;
	struct dp_ep_maps eps; /* sl_ep4 (ep) and sl_epsrc4, written together */
};

#define ID_CLIENT 256 /* pod A's identity in the policy rounds */
#define ID_SERVER 257

/* A figure both ways: the mean of the runs, and their median, which a run
 * preempted on a loaded machine does not move. */
struct ns_stat {
	double mean, med;
};

static __u32 durations[RUNS]; /* of the runs of one measurement */

static int u32_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

static double median_of(__u32 *v, int n)
{
	qsort(v, n, sizeof(*v), u32_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

/* What one row of the table measures. */
struct bench_case {
	const char *name;
	__be32 daddr;
	__u8 tcp_flags;
	int want_retval;
};

static struct tcp_pkt pkt_build(__be32 daddr, __u8 flags)
{
	struct tcp_pkt p = {};
	struct iphdr ip = {};

	memcpy(p.eth.h_dest, host_a, 6);
	memcpy(p.eth.h_source, mac_a, 6);
	p.eth.h_proto = htons(ETH_P_IP);
	ip.version = 4;
	ip.ihl = 5;
	ip.tot_len = htons(sizeof(p) - sizeof(p.eth));
	ip.ttl = 64;
	ip.protocol = IPPROTO_TCP;
	ip.saddr = IP_A;
	ip.daddr = daddr;
	ip.check = csum(&ip, sizeof(ip));
	memcpy(&p.ip, &ip, sizeof(ip));
	p.tcp.source = htons(40000);
	p.tcp.dest = htons(80);
	p.tcp.doff = 5;
	((__u8 *)&p.tcp)[13] = flags;
	return p;
}

/* Fills the maps with n services of one slot each (all on port 80/TCP). */
static int services_fill(const struct fds *f, int n)
{
	struct sl_ep_val a = {.ifindex = if_nametoindex("ha")},
			 b = {.ifindex = if_nametoindex("hb")};
	int err;

	memcpy(a.pod_mac, mac_a, 6);
	memcpy(a.host_mac, host_a, 6);
	memcpy(b.pod_mac, mac_b, 6);
	memcpy(b.host_mac, host_b, 6);
	if ((err = dp_ep_update(&f->eps, IP_A, &a)) || (err = dp_ep_update(&f->eps, IP_B, &b)))
		return err;
	for (__u32 id = 1; id <= N_BACKENDS; id++) {
		struct sl_be_val be = {.ip = IP_B, .port = htons(8080), .proto = IPPROTO_TCP};

		err = dp_be_update(f->be, id, &be);
		if (err)
			return err;
	}
	for (int i = 0; i < n; i++) {
		struct sl_svc_key k = {
		    .vip = htonl(VIP_BASE + i + 1), .port = htons(80), .proto = IPPROTO_TCP};
		struct sl_svc_val master = {.id = i + 1, .count = 1};
		struct sl_svc_val slot = {.id = i % N_BACKENDS + 1};

		struct sl_svc_key marker = {.vip = k.vip};
		struct sl_svc_val vip = {.flags = SL_SVC_F_VIP};

		/* As the agent publishes it: the ClusterIP marker, the master, a slot. */
		if ((err = dp_svc_update(f->svc, &marker, &vip)))
			return err;
		if ((err = dp_svc_update(f->svc, &k, &master)))
			return err;
		k.slot = 1;
		if ((err = dp_svc_update(f->svc, &k, &slot)))
			return err;
	}
	for (int i = 0; !err && i < 2; i++) {
		__be32 v = i ? VIP_DROP : VIP_REJECT;
		struct sl_svc_key k = {.vip = v, .port = htons(80), .proto = IPPROTO_TCP};
		struct sl_svc_key marker = {.vip = v};
		struct sl_svc_val empty = {.id = SL_SVC_IDS_MAX - i,
					   .flags = i ? SL_SVC_F_DROP_EMPTY : 0},
				  vip = {.flags = SL_SVC_F_VIP};

		err = dp_svc_update(f->svc, &marker, &vip);
		if (!err)
			err = dp_svc_update(f->svc, &k, &empty);
	}
	return err;
}

/* NetworkPolicy in force in the cluster; the backend pod B is isolated for
 * ingress with n allows (n > 0), the last two admitting A on 8080/TCP (the
 * service's backend port) and 80/TCP (pod_to_pod); the others name other
 * identities and ports, as a busy endpoint's would.
 * n == 0: policies exist but none selects B (what an unpoliced pod pays). */
static int policy_fill(const struct fds *f, int n)
{
	__u32 ep_b = if_nametoindex("hb");
	struct sl_polcfg_val cfg = {.flags = SL_POLCFG_F_ACTIVE, .gen = 1};
	struct sl_ipcache_key ka = {.prefixlen = 32, .ip = IP_A},
			      kb = {.prefixlen = 32, .ip = IP_B};
	struct sl_ipcache_val va = {.identity = ID_CLIENT}, vb = {.identity = ID_SERVER};
	struct sl_ep_val a = {.ifindex = if_nametoindex("ha"), .identity = ID_CLIENT},
			 b = {.ifindex = ep_b, .identity = ID_SERVER};
	int err;

	a.ep_id = a.ifindex;
	b.ep_id = ep_b;
	b.flags = n ? SL_EP_F_ISO_IN : 0;
	memcpy(a.pod_mac, mac_a, 6);
	memcpy(a.host_mac, host_a, 6);
	memcpy(b.pod_mac, mac_b, 6);
	memcpy(b.host_mac, host_b, 6);
	if (bpf_map_update_elem(f->ipc, &ka, &va, BPF_ANY) ||
	    bpf_map_update_elem(f->ipc, &kb, &vb, BPF_ANY) ||
	    bpf_map_update_elem(f->cfg, &(__u32){0}, &cfg, BPF_ANY))
		return -errno;
	for (int i = 0; i < n; i++) {
		bool mine = i >= n - 2;
		struct sl_pol_key k = {.ep_id = ep_b,
				       .peer = mine ? ID_CLIENT : ID_SERVER + 1 + i / 8,
				       .dport =
					   htons(mine ? (i == n - 1 ? 8080 : 80) : 1000 + i % 8),
				       .proto = IPPROTO_TCP,
				       .dir = SL_POL_DIR_IN};
		struct sl_pol_val v = {};

		if (bpf_map_update_elem(f->pol, &k, &v, BPF_ANY))
			return -errno;
	}
	if ((err = dp_ep_update(&f->eps, IP_A, &a)) || (err = dp_ep_update(&f->eps, IP_B, &b)))
		return err;
	return 0;
}

/* ns per packet over RUNS single runs: every run starts from the original
 * packet (a repeat would run on the rewritten one). */
static int case_measure(const struct fds *f, const struct bench_case *c, struct ns_stat *ns)
{
	struct tcp_pkt in = pkt_build(c->daddr, c->tcp_flags);
	struct __sk_buff ctx = {};
	__u8 out[256];
	__u64 total = 0;
	int err;

	ctx.ifindex = ctx.ingress_ifindex = if_nametoindex("ha");
	for (int i = -RUNS / 10; i < RUNS; i++) { /* the first tenth warms up */
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &in, .data_size_in = sizeof(in),
			    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1);

		err = bpf_prog_test_run_opts(f->prog, &opts);
		if (err)
			return err;
		if ((int)opts.retval != c->want_retval)
			return -EPROTO;
		if (i >= 0) {
			total += opts.duration;
			durations[i] = opts.duration;
		}
	}
	ns->mean = (double)total / RUNS;
	ns->med = median_of(durations, RUNS);
	return 0;
}

/* Packets through path `path` (per-CPU counters summed). */
static __u64 path_count(const struct fds *f, __u32 path)
{
	int n = libbpf_num_possible_cpus();
	struct sl_metric_val v[n > 0 ? n : 1];
	__u64 sum = 0;

	if (n <= 0 || bpf_map_lookup_elem(f->metrics, &path, v))
		return 0;
	for (int i = 0; i < n; i++)
		sum += v[i].packets;
	return sum;
}

/* ns per packet of program prog on `in` run RUNS times as RUNS/100 runs of
 * 100 repetitions, each repetition on the packet the one before returned,
 * every one answering verdict. */
static int repeat_time(int prog, struct tcp_pkt in, int verdict, struct ns_stat *ns)
{
	struct __sk_buff ctx = {};
	__u64 total = 0;
	int err;

	in.ip.ttl = 255; /* 100 decrements later still forwarded */
	in.ip.check = 0;
	in.ip.check = csum(&in.ip, sizeof(in.ip));
	ctx.ifindex = ctx.ingress_ifindex = if_nametoindex("ha");
	for (int i = 0; i < RUNS / 100; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &in, .data_size_in = sizeof(in),
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 100);

		err = bpf_prog_test_run_opts(prog, &opts);
		if (err)
			return err;
		if ((int)opts.retval != verdict)
			return -EPROTO;
		total += opts.duration;
		durations[i] = opts.duration; /* already per repetition */
	}
	ns->mean = (double)total / (RUNS / 100);
	ns->med = median_of(durations, RUNS / 100);
	return 0;
}

/* repeat_time of sl_from_pod, forwarding: every repetition must take `path`
 * (counted), so nothing is timed that was not forwarded. */
static int repeat_measure(const struct fds *f, struct tcp_pkt in, __u32 path, struct ns_stat *ns)
{
	__u64 before = path_count(f, path);
	int err = repeat_time(f->prog, in, TC_ACT_REDIRECT, ns);

	if (!err && path_count(f, path) - before != RUNS)
		err = -EPROTO;
	return err;
}

/* The harness of the repeated columns (noop_repeat): a program that only
 * returns TC_ACT_OK, timed as they are on the same packet; what is left of
 * them net of it is the program's own cost. */
static int noop_measure(struct ns_stat *ns)
{
	int fd = noop_prog_load(TC_ACT_OK), err;

	if (fd < 0)
		return fd;
	err = repeat_time(fd, pkt_build(htonl(VIP_BASE + 1), 0x10), TC_ACT_OK, ns);
	close(fd);
	return err;
}

/* The forwarding rewrites the source MAC to the destination's host MAC: made
 * the client's own, a forwarded packet passes the client's anti-spoofing
 * check again when repeated (same work, same path). ip: the destination
 * endpoint to change, as (a copy) at `as` when as != ip. */
static int ep_loop_macs(const struct fds *f, __be32 ip, __be32 as)
{
	struct sl_ep_val v;
	int err = dp_ep_lookup(f->ep, ip, &v);

	if (err)
		return err;
	memcpy(v.host_mac, mac_a, 6);
	return dp_ep_update(&f->eps, as, &v);
}

/* Pod-to-pod forwarding repeated (p2p_repeat): with policy on the server,
 * an established packet of a policed flow. The harness's own cost per
 * single run is the same path timed one run at a time minus that. */
static int overhead_measure(const struct fds *f, struct ns_stat *ns, struct ns_stat *rep)
{
	struct bench_case c = {"pod_to_pod", IP_B, 0x10, TC_ACT_REDIRECT};
	struct ns_stat single;
	int err;

	err = case_measure(f, &c, &single);
	if (!err)
		err = ep_loop_macs(f, IP_B, IP_B);
	if (!err)
		err = repeat_measure(f, pkt_build(c.daddr, c.tcp_flags), SL_PATH_LOCAL, rep);
	if (err)
		return err;
	ns->mean = single.mean - rep->mean;
	ns->med = single.med - rep->med;
	return 0;
}

/* An established Service packet repeated (svc_repeat): the flow client:40000
 * -> service 1 (DNAT to the backend B:8080) is in conntrack from the cases
 * before; a mirror entry for B:8080 DNATs back to the VIP, and the VIP is
 * given B's endpoint, so each repetition takes the same path (conntrack
 * hit, DNAT, endpoint, policy generation, redirect) on the packet the one
 * before rewrote. After overhead_measure (B's MACs loop). */
static int svc_repeat_measure(const struct fds *f, struct ns_stat *ns)
{
	const __be32 vip = htonl(VIP_BASE + 1);
	struct sl_ct_key fwd = {.saddr = IP_A,
				.daddr = vip,
				.sport = htons(40000),
				.dport = htons(80),
				.proto = IPPROTO_TCP},
			 mirror = fwd;
	struct sl_ct_val v;
	int err;

	if (bpf_map_lookup_elem(f->ct, &fwd, &v))
		return -ENOENT;
	mirror.daddr = IP_B;
	mirror.dport = htons(8080);
	v.nat_ip = vip;
	v.nat_port = htons(80);
	if (bpf_map_update_elem(f->ct, &mirror, &v, BPF_ANY))
		return -errno;
	err = ep_loop_macs(f, IP_B, vip);
	if (!err)
		err = repeat_measure(f, pkt_build(vip, 0x10), SL_PATH_SVC_CT, ns);
	return err;
}

/* A monitor: every event type leased for the round, the ring read by a
 * thread as `sluice-agent monitor` reads it. */
struct listener {
	pthread_t thread;
	struct dp_events *ev;
	volatile bool stop;
	unsigned long events;
};

static int listener_count(const struct sl_event *e, void *ctx)
{
	((struct listener *)ctx)->events++;
	return 0;
}

static void *listener_run(void *arg)
{
	struct listener *l = arg;

	while (!l->stop)
		dp_events_poll(l->ev, 10);
	return NULL;
}

static int listener_start(struct listener *l, int ring_fd, int cfg_fd)
{
	int err;

	err = dp_evcfg_lease(
	    cfg_fd, SL_EV_F(SL_EV_DROP) | SL_EV_F(SL_EV_FLOW) | SL_EV_F(SL_EV_POLICY), 600 * 1000);
	if (!err)
		err = dp_events_open(ring_fd, listener_count, l, &l->ev);
	if (!err)
		err = -pthread_create(&l->thread, NULL, listener_run, l);
	return err;
}

static void listener_stop(struct listener *l)
{
	l->stop = true;
	pthread_join(l->thread, NULL);
	dp_events_free(l->ev);
}

/* One round on a fresh object: n_svc services, then (n_rules >= 0) the
 * policy of policy_fill, then each case and the harness. */
static int round_run(int n_svc, int n_rules, bool monitor, const struct bench_case *cases,
		     int n_cases, struct ns_stat *res, struct ns_stat *overhead)
{
	struct sl_pod *skel = sl_pod__open();
	struct listener l = {};
	struct bpf_map *map;
	struct fds f;
	int err;

	if (!skel)
		return -errno;
	bpf_object__for_each_map(map, skel->obj) bpf_map__set_pin_path(map, NULL);
	err = sl_pod__load(skel);
	if (err)
		goto out_destroy;
	f = (struct fds){
	    .prog = bpf_program__fd(skel->progs.sl_from_pod),
	    .ep = bpf_map__fd(skel->maps.sl_ep4),
	    .svc = bpf_map__fd(skel->maps.sl_svc4),
	    .be = bpf_map__fd(skel->maps.sl_be4),
	    .ct = bpf_map__fd(skel->maps.sl_ct4),
	    .ipc = bpf_map__fd(skel->maps.sl_ipcache4),
	    .pol = bpf_map__fd(skel->maps.sl_pol),
	    .cfg = bpf_map__fd(skel->maps.sl_polcfg),
	    .metrics = bpf_map__fd(skel->maps.sl_metrics),
	    .eps = {.ep = bpf_map__fd(skel->maps.sl_ep4), .src = bpf_map__fd(skel->maps.sl_epsrc4)},
	};
	err = services_fill(&f, n_svc);
	if (!err && n_rules >= 0)
		err = policy_fill(&f, n_rules);
	if (!err && monitor)
		err = listener_start(&l, bpf_map__fd(skel->maps.sl_events),
				     bpf_map__fd(skel->maps.sl_evcfg));
	for (int i = 0; !err && i < n_cases; i++)
		err = case_measure(&f, &cases[i], &res[i]);
	if (!err)
		err = overhead_measure(&f, overhead, &res[n_cases]); /* the repeat columns */
	if (!err)
		err = svc_repeat_measure(&f, &res[n_cases + 1]);
	if (!err)
		err = noop_measure(&res[n_cases + 2]);
	if (monitor && l.ev)
		listener_stop(&l);
	if (!err && monitor && !l.events)
		err = -ENODATA; /* the listener must have seen the rounds' events */
out_destroy:
	sl_pod__destroy(skel);
	return err;
}

/* Column c: a case, or after the last the repeated runs and their harness. */
static const char *col_name(const struct bench_case *cases, int n_cases, int c)
{
	static const char *const repeated[] = {"p2p_repeat", "svc_repeat", "noop_repeat"};

	return c < n_cases ? cases[c].name : repeated[c - n_cases];
}

/* A repeated column (0: p2p, 1: svc) net of noop_repeat. */
static double net_of(const struct ns_stat *r, int n_cases, int rep, bool med)
{
	const struct ns_stat *x = &r[n_cases + rep], *noop = &r[n_cases + 2];

	return med ? x->med - noop->med : x->mean - noop->mean;
}

static void table_print(const char *what, const int *rows, int n_rows,
			const struct bench_case *cases, int n_cases, struct ns_stat res[][8],
			const struct ns_stat *overhead, bool med)
{
	printf("%-10s", what);
	for (int c = 0; c <= n_cases + 2; c++)
		printf(" %12s", col_name(cases, n_cases, c));
	printf(" %12s %12s %12s\n", "p2p_net", "svc_net", "harness");
	for (int s = 0; s < n_rows; s++) {
		printf("%-10d", rows[s]);
		for (int c = 0; c <= n_cases + 2; c++)
			printf(" %12.1f", med ? res[s][c].med : res[s][c].mean);
		printf(" %12.1f %12.1f %12.1f\n", net_of(res[s], n_cases, 0, med),
		       net_of(res[s], n_cases, 1, med), med ? overhead[s].med : overhead[s].mean);
	}
}

static void json_rows(FILE *json, const char *what, const int *rows, int n_rows,
		      const struct bench_case *cases, int n_cases, struct ns_stat res[][8],
		      const struct ns_stat *overhead)
{
	for (int s = 0; s < n_rows; s++) {
		fprintf(json, "%s{\"%s\":%d", s ? "," : "", what, rows[s]);
		for (int c = 0; c <= n_cases + 2; c++)
			fprintf(json, ",\"%s\":%.1f,\"%s_median\":%.1f",
				col_name(cases, n_cases, c), res[s][c].mean,
				col_name(cases, n_cases, c), res[s][c].med);
		for (int r = 0; r < 2; r++)
			fprintf(json, ",\"%s_net\":%.1f,\"%s_net_median\":%.1f",
				col_name(cases, n_cases, n_cases + r),
				net_of(res[s], n_cases, r, false),
				col_name(cases, n_cases, n_cases + r),
				net_of(res[s], n_cases, r, true));
		fprintf(json,
			",\"harness\":%.1f,\"ct_hit_net\":%.1f,\"harness_median\":%.1f,"
			"\"ct_hit_net_median\":%.1f}",
			overhead[s].mean, res[s][0].mean - overhead[s].mean, overhead[s].med,
			res[s][0].med - overhead[s].med);
	}
}

#define TARGET_SVC_NET 150.0 /* ns, issue 14: an established packet, policy on */

/* The worst svc_net median of the policy rounds (the target's figure), and at which row. */
static double target_worst(const struct ns_stat res[][8], int n_rows, int n_cases, int *row)
{
	double worst = 0;

	for (int s = 0; s < n_rows; s++) {
		double v = net_of(res[s], n_cases, 1, true);

		if (s == 0 || v > worst) {
			worst = v;
			*row = s;
		}
	}
	return worst;
}

int main(int argc, char **argv)
{
	static const int sizes[] = {1, 10000, 100000}, rules[] = {0, 100, 10000}, mon[] = {0, 1};
	const struct bench_case cases[] = {
	    {"ct_hit", htonl(VIP_BASE + 1), 0x10, TC_ACT_REDIRECT},
	    {"new_flow", htonl(VIP_BASE + 1), 0x02, TC_ACT_REDIRECT},
	    {"reject", VIP_REJECT, 0x02, TC_ACT_REDIRECT},
	    {"pod_to_pod", IP_B, 0x10, TC_ACT_REDIRECT},
	    {"drop", VIP_DROP, 0x02, TC_ACT_SHOT},
	};
	enum { N_CASES = sizeof(cases) / sizeof(cases[0]), N_SIZES = 3, N_RULES = 3, N_MON = 2 };
	struct ns_stat res[N_SIZES][8], overhead[N_SIZES], pres[N_RULES][8], poverhead[N_RULES];
	struct ns_stat mres[N_MON][8], moverhead[N_MON];
	FILE *json = NULL;
	int err = 0, worst_row = 0;
	double worst;

	if (bpf_test_enter("bpf_bench_svc", netns_setup,
			   sizeof(netns_setup) / sizeof(netns_setup[0])) < 0)
		return 1;
	for (int s = 0; !err && s < N_SIZES; s++)
		err = round_run(sizes[s], -1, false, cases, N_CASES, res[s], &overhead[s]);
	for (int s = 0; !err && s < N_RULES; s++)
		err = round_run(1, rules[s], false, cases, N_CASES, pres[s], &poverhead[s]);
	for (int s = 0; !err && s < N_MON; s++)
		err = round_run(1, -1, mon[s], cases, N_CASES, mres[s], &moverhead[s]);
	if (err) {
		fprintf(stderr, "bench failed: %s\n", strerror(-err));
		return 1;
	}

	for (int med = 0; med <= 1; med++) {
		printf("sl_from_pod, ns/packet (BPF_PROG_TEST_RUN, %s of %d runs)\n",
		       med ? "median" : "mean", RUNS);
		table_print("services", sizes, N_SIZES, cases, N_CASES, res, overhead, med);
		printf("with NetworkPolicy (1 service; the backend isolated for ingress with N "
		       "allows; 0: policies exist, none selects it)\n");
		table_print("allows", rules, N_RULES, cases, N_CASES, pres, poverhead, med);
		printf("with a monitor (1 service; 0: nobody listens, 1: every event type leased "
		       "and read; new_flow and drop write an event each)\n");
		table_print("monitor", mon, N_MON, cases, N_CASES, mres, moverhead, med);
	}
	printf("harness: the timing cost of a single run, included in every column but "
	       "the repeated ones\np2p_repeat: pod_to_pod timed over 100 repetitions of one run "
	       "(the packet is not rewritten): with allows, an established packet of a policed "
	       "flow\nsvc_repeat: an established Service packet (ct_hit) timed over 100 "
	       "repetitions\nnoop_repeat: a program returning TC_ACT_OK timed as they are, the "
	       "harness of a repetition; p2p_net, svc_net: the two net of it\n");
	worst = target_worst(pres, N_RULES, N_CASES, &worst_row);
	printf("target: svc_net with NetworkPolicy <= %.0f ns (worst median, %d allows): %.1f ns, "
	       "%s\n",
	       TARGET_SVC_NET, rules[worst_row], worst,
	       worst <= TARGET_SVC_NET ? "met" : "NOT met");
	if (argc > 1 && !(json = fopen(argv[1], "w"))) {
		fprintf(stderr, "cannot write %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (json) {
		fprintf(
		    json,
		    "{\"unit\":\"ns/packet\",\"runs\":%d,\"target_ct_hit_ns\":150,\"results\":[",
		    RUNS);
		json_rows(json, "services", sizes, N_SIZES, cases, N_CASES, res, overhead);
		fprintf(json, "],\"policy\":[");
		json_rows(json, "allows", rules, N_RULES, cases, N_CASES, pres, poverhead);
		fprintf(json, "],\"monitor\":[");
		json_rows(json, "monitor", mon, N_MON, cases, N_CASES, mres, moverhead);
		fprintf(json,
			"],\"target_svc_net_ns\":%.0f,\"svc_net_worst_median\":%.1f,"
			"\"svc_net_worst_allows\":%d,\"target_met\":%s}\n",
			TARGET_SVC_NET, worst, rules[worst_row],
			worst <= TARGET_SVC_NET ? "true" : "false");
		fclose(json);
	}
	return 0;
}
