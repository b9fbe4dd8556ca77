// SPDX-License-Identifier: Apache-2.0
/* What /metrics shows: the datapath's counters and map fill, the API sync, the service publisher,
 * the CNI plugin's calls and the agent process, gathered at each scrape. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cleanup.h"
#include "dp.h"
#include "kube_sync.h"
#include "metrics.h"
#include "metrics_collect.h"
#include "pin_step.h"
#include "svc_ids.h"
#include "svc_publish.h"
#include "vec.h"
#include "version.h"

#define L(n, v) ((struct metrics_label){(n), (v)})

/* SL_DROP_SPOOF_IP -> "spoof_ip": the X-macro name without its prefix, lowercase. */
static void label_of(const char *sym, char *out, size_t len)
{
	const char *s = sym + strlen("SL_DROP_"); /* as long as SL_PATH_ */
	size_t i = 0;

	for (; s[i] && i + 1 < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

/* Drops and forwards per reason and path: every one the X-macros name, zeros included. */
static void datapath_write(struct http_buf *b, const char *pin_dir)
{
	static const struct {
		const char *name, *help, *label;
		unsigned int lo, hi;
		bool bytes;
	} fams[] = {
	    {"sluice_datapath_drops_total", "Packets the datapath dropped, by reason.", "reason", 1,
	     32, false},
	    {"sluice_datapath_drop_bytes_total", "Bytes the datapath dropped, by reason.", "reason",
	     1, 32, true},
	    {"sluice_datapath_forwards_total", "Packets the datapath forwarded, by path.", "path",
	     32, 64, false},
	    {"sluice_datapath_forward_bytes_total", "Bytes the datapath forwarded, by path.",
	     "path", 32, 64, true},
	};
	struct sl_metric_val vals[SL_METRICS_MAX];
	_cleanup_close_ int fd = dp_pin_open(pin_dir, SL_PIN_METRICS);
	char label[32];

	if (fd < 0 || dp_metrics_read(fd, vals) < 0)
		return; /* no datapath pinned: nothing to show */
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		metrics_family(b, fams[f].name, "counter", fams[f].help);
		for (unsigned int i = fams[f].lo; i < fams[f].hi; i++) {
			const char *sym = dp_metric_name(i);

			if (!sym)
				continue;
			label_of(sym, label, sizeof(label));
			metrics_sample(b, fams[f].name, &L(fams[f].label, label), 1,
				       (double)(fams[f].bytes ? vals[i].bytes : vals[i].packets));
		}
	}
}

/* One service port's counters; svc points into the publisher, which does not
 * change while the page is built. */
struct svc_sample {
	const char *svc; /* "namespace/name" */
	__be32 vip;
	__be16 port;
	__u8 proto;
	struct sl_svcstat_val v;
};

struct svc_walk {
	int fd;
	const struct svc_pub *pub;
	struct vec samples; /* struct svc_sample */
};

static const char *proto_name(__u8 proto)
{
	return proto == IPPROTO_TCP ? "TCP" : proto == IPPROTO_UDP ? "UDP" : "SCTP";
}

static int svc_sample_add(__u32 id, const char *svc, __be32 vip, __be16 port, __u8 proto, void *ctx)
{
	struct svc_walk *w = ctx;
	struct sl_svcstat_val v, ext;
	struct svc_sample *s;
	__u32 ext_id;

	if (dp_svcstat_read(w->fd, id, &v) < 0)
		return 0; /* beyond the map: not counted */
	/* an external frontend: its EXT twin counts the clients from outside */
	ext_id = svc_pub_port_id(w->pub, svc_ids_key_scoped(vip, port, proto, SL_SVC_SCOPE_EXT));
	if (ext_id && dp_svcstat_read(w->fd, ext_id, &ext) == 0) {
		v.flows += ext.flows;
		v.packets += ext.packets;
		v.bytes += ext.bytes;
	}
	s = vec_push(&w->samples, 64);
	if (!s)
		return -ENOMEM;
	*s = (struct svc_sample){svc, vip, port, proto, v};
	return 0;
}

static void svc_sample_write(struct http_buf *b, const char *name, const struct svc_sample *s,
			     __u64 value)
{
	const char *slash = strchr(s->svc, '/');
	char ns[256], port[8], ip[INET_ADDRSTRLEN];
	struct metrics_label l[] = {L("namespace", ns), L("service", slash ? slash + 1 : s->svc),
				    L("ip", ip), L("port", port),
				    L("protocol", proto_name(s->proto))};

	snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - s->svc) : 0, s->svc);
	snprintf(port, sizeof(port), "%u", ntohs(s->port));
	inet_ntop(AF_INET, &s->vip, ip, sizeof(ip));
	metrics_sample(b, name, l, sizeof(l) / sizeof(l[0]), (double)value);
}

/* Flows, packets and bytes per published service port. */
static void services_write(struct http_buf *b, const struct metrics_src *src)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} fams[] = {
	    {"sluice_service_flows_total",
	     "New flows to the service port from this node's pods, or from outside through this "
	     "node (external frontends).",
	     offsetof(struct sl_svcstat_val, flows)},
	    {"sluice_service_packets_total",
	     "Packets sent to the service port through this node (client to backend).",
	     offsetof(struct sl_svcstat_val, packets)},
	    {"sluice_service_bytes_total",
	     "Bytes sent to the service port through this node (client to backend).",
	     offsetof(struct sl_svcstat_val, bytes)},
	};
	struct svc_walk w = {.pub = src->svc, .samples.elem = sizeof(struct svc_sample)};

	if (!src->svc || (w.fd = dp_pin_open(src->pin_dir, SL_PIN_SVCSTAT)) < 0)
		return;
	if (svc_pub_port_foreach(src->svc, svc_sample_add, &w) < 0)
		b->failed = true;
	close(w.fd);
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]) && !b->failed; f++) {
		metrics_family(b, fams[f].name, "counter", fams[f].help);
		for (size_t i = 0; i < w.samples.n; i++) {
			const struct svc_sample *s = (struct svc_sample *)w.samples.v + i;

			svc_sample_write(b, fams[f].name, s,
					 *(const __u64 *)((const char *)&s->v + fams[f].off));
		}
	}
	free(w.samples.v);
}

/* Entries and capacity of the hash maps whose filling a user must watch. */
static void maps_write(struct http_buf *b, const char *pin_dir)
{
	static const char *const maps[] = {
	    SL_PIN_CT4, SL_PIN_AFF4,	 SL_PIN_SVC4, SL_PIN_BE4,    SL_PIN_EP4,   SL_PIN_IPCACHE4,
	    SL_PIN_POL, SL_PIN_POLCIDR4, SL_PIN_NAT4, SL_PIN_LBSRC4, SL_PIN_HPORT4};
	struct dp_obj_info info[sizeof(maps) / sizeof(maps[0])];
	bool ok[sizeof(maps) / sizeof(maps[0])];

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		ok[i] = dp_pin_info(pin_dir, maps[i], &info[i]) == 0;
	metrics_family(b, "sluice_bpf_map_entries", "gauge",
		       "Entries in a datapath map (conntrack, NAT, affinity, services, ...).");
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (ok[i])
			metrics_sample(b, "sluice_bpf_map_entries", &L("map", maps[i]), 1,
				       info[i].entries);
	metrics_family(b, "sluice_bpf_map_max_entries", "gauge",
		       "Capacity of a datapath map; entries / max_entries is its fill.");
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (ok[i])
			metrics_sample(b, "sluice_bpf_map_max_entries", &L("map", maps[i]), 1,
				       info[i].max_entries);
}

/* Per resource: sync state, objects, requests, failures, watch events. */
static void api_write(struct http_buf *b, const struct kube_sync *ks)
{
	static const char *const ev_names[KUBE_EV_TYPES] = {[KUBE_EV_ADDED] = "ADDED",
							    [KUBE_EV_MODIFIED] = "MODIFIED",
							    [KUBE_EV_DELETED] = "DELETED",
							    [KUBE_EV_BOOKMARK] = "BOOKMARK",
							    [KUBE_EV_ERROR] = "ERROR"};
	static const struct {
		const char *name, *type, *help;
		size_t off;
		bool is_bool;
	} fams[] = {
#define F(n, t, h, field, isb) {n, t, h, offsetof(struct kube_reflector, field), isb}
	    F("sluice_api_synced", "gauge", "1 once the resource's first full list completed.",
	      synced, true),
	    F("sluice_api_lists_total", "counter", "List requests (pages) sent.", lists, false),
	    F("sluice_api_watches_total", "counter", "Watch requests sent.", watches, false),
	    F("sluice_api_relists_total", "counter",
	      "Full relists after a watch expired (410 Gone) or failed.", relists, false),
	    F("sluice_api_errors_total", "counter", "Failed list or watch requests.", errors,
	      false),
	    F("sluice_api_malformed_objects_total", "counter",
	      "Objects skipped because they could not be parsed.", malformed, false),
#undef F
	};

	if (!ks)
		return;
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		metrics_family(b, fams[f].name, fams[f].type, fams[f].help);
		for (int k = 0; k < KUBE_KIND_MAX; k++) {
			const struct kube_reflector *r = &ks->slots[k].ref;
			const char *p = (const char *)r + fams[f].off;
			double v = fams[f].is_bool ? *(const bool *)p : *(const unsigned int *)p;

			metrics_sample(b, fams[f].name, &L("resource", r->res->name), 1, v);
		}
	}
	metrics_family(b, "sluice_api_objects", "gauge", "Objects of the resource held in memory.");
	for (int k = 0; k < KUBE_KIND_MAX; k++)
		metrics_sample(b, "sluice_api_objects", &L("resource", ks->slots[k].ref.res->name),
			       1, ks->slots[k].ref.store.count);
	metrics_family(b, "sluice_api_watch_events_total", "counter",
		       "Watch events received, by type.");
	for (int k = 0; k < KUBE_KIND_MAX; k++)
		for (int t = 0; t < KUBE_EV_TYPES; t++) {
			const struct kube_reflector *r = &ks->slots[k].ref;
			struct metrics_label l[] = {L("resource", r->res->name),
						    L("type", ev_names[t])};

			metrics_sample(b, "sluice_api_watch_events_total", l, 2,
				       r->watch_events[t]);
		}
}

/* The service publisher: what is published, map operations and failures, latency. */
static void publisher_write(struct http_buf *b, const struct metrics_src *src)
{
	struct svc_stats st;

	if (!src->svc)
		return;
	svc_pub_stats(src->svc, &st);
	metrics_family(b, "sluice_services", "gauge", "Services with at least one published port.");
	metrics_sample(b, "sluice_services", NULL, 0, st.services);
	metrics_family(b, "sluice_service_ports", "gauge", "Published service ports.");
	metrics_sample(b, "sluice_service_ports", NULL, 0, st.ports);
	metrics_family(b, "sluice_service_backends", "gauge", "Backends in sl_be4.");
	metrics_sample(b, "sluice_service_backends", NULL, 0, st.backends);
	metrics_family(b, "sluice_service_map_writes_total", "counter",
		       "Service map updates written since start.");
	metrics_sample(b, "sluice_service_map_writes_total", NULL, 0, st.writes);
	metrics_family(b, "sluice_service_map_deletes_total", "counter",
		       "Service map entries deleted since start.");
	metrics_sample(b, "sluice_service_map_deletes_total", NULL, 0, st.deletes);
	metrics_family(b, "sluice_service_map_errors_total", "counter",
		       "Service map writes that failed for another reason than a full map.");
	metrics_sample(b, "sluice_service_map_errors_total", NULL, 0, st.errors);
	metrics_family(b, "sluice_service_map_full_total", "counter",
		       "Service map writes refused because the map was full, by map.");
	for (int m = 0; m < SVC_MAP_N; m++)
		metrics_sample(b, "sluice_service_map_full_total", &L("map", svc_map_name(m)), 1,
			       st.full[m]);
	metrics_family(b, "sluice_service_ids_full_total", "counter",
		       "Service ports refused because every service id was taken.");
	metrics_sample(b, "sluice_service_ids_full_total", NULL, 0, st.ids_full);
	metrics_family(b, "sluice_service_ports_failing", "gauge",
		       "Service ports not published as wanted right now (retried).");
	metrics_sample(b, "sluice_service_ports_failing", NULL, 0, st.failing);
	metrics_family(
	    b, "sluice_service_publish_latency_seconds", "histogram",
	    "From the oldest pending Service or EndpointSlice change to its map writes.");
	metrics_hist_write(b, "sluice_service_publish_latency_seconds", NULL, 0, src->publish);
}

/* The pin guard: objects held, pins made again after someone removed them. */
static void pins_write(struct http_buf *b, const struct pin_stats *st)
{
	if (!st)
		return;
	metrics_family(b, "sluice_agent_pins_held", "gauge",
		       "Pinned datapath objects the agent holds and keeps pinned.");
	metrics_sample(b, "sluice_agent_pins_held", NULL, 0, st->held);
	metrics_family(b, "sluice_agent_pins_restored_total", "counter",
		       "Pins the agent made again after they were removed under it.");
	metrics_sample(b, "sluice_agent_pins_restored_total", NULL, 0, st->restored);
	metrics_family(b, "sluice_agent_pins_foreign_total", "counter",
		       "Pins found holding an object this agent did not load (left alone).");
	metrics_sample(b, "sluice_agent_pins_foreign_total", NULL, 0, st->foreign);
}

/* The CNI plugin's ADD and DEL: calls, errors and latency, from sl_cnistat. */
static void cni_write(struct http_buf *b, const char *pin_dir)
{
	static const char *const ops[SL_CNI_OP_MAX] = {
	    [SL_CNI_OP_ADD] = "ADD", [SL_CNI_OP_DEL] = "DEL"};
	static const __u64 bounds_us[SL_CNI_BUCKETS] = SL_CNI_BUCKETS_US;
	double bounds[SL_CNI_BUCKETS];
	struct sl_cnistat_val v[SL_CNI_OP_MAX];
	_cleanup_close_ int fd = dp_pin_open(pin_dir, SL_PIN_CNISTAT);

	for (int op = 0; op < SL_CNI_OP_MAX; op++)
		if (fd < 0 || dp_cnistat_read(fd, op, &v[op]) < 0)
			return;
	metrics_family(b, "sluice_cni_operations_total", "counter",
		       "CNI calls of the plugin on this node, by command.");
	for (int op = 0; op < SL_CNI_OP_MAX; op++)
		metrics_sample(b, "sluice_cni_operations_total", &L("command", ops[op]), 1,
			       v[op].calls);
	metrics_family(b, "sluice_cni_errors_total", "counter",
		       "CNI calls that answered with an error, by command.");
	for (int op = 0; op < SL_CNI_OP_MAX; op++)
		metrics_sample(b, "sluice_cni_errors_total", &L("command", ops[op]), 1,
			       v[op].errors);
	metrics_family(b, "sluice_cni_duration_seconds", "histogram",
		       "Time the plugin took for a call, from its start to its answer.");
	for (int i = 0; i < SL_CNI_BUCKETS; i++)
		bounds[i] = bounds_us[i] / 1e6;
	for (int op = 0; op < SL_CNI_OP_MAX; op++) {
		struct metrics_hist h = {.bounds = bounds, .n_bounds = SL_CNI_BUCKETS};
		unsigned long long in_buckets = 0;

		for (int i = 0; i < SL_CNI_BUCKETS; i++)
			in_buckets += h.counts[i] = v[op].le[i];
		/* read while a plugin adds: never fewer calls than bucketed ones */
		h.counts[SL_CNI_BUCKETS] = v[op].calls > in_buckets ? v[op].calls - in_buckets : 0;
		h.sum = v[op].sum_us / 1e6;
		metrics_hist_write(b, "sluice_cni_duration_seconds", &L("command", ops[op]), 1, &h);
	}
}

/* Seconds since the epoch the machine booted at (/proc/stat btime); 0 unknown. */
static unsigned long long boot_time(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/stat", "re");
	unsigned long long bt = 0;
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %llu", &bt) == 1)
			break;
	return bt;
}

static int fds_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* The standard process_* metrics of Prometheus client libraries, from /proc/self. */
static void process_write(struct http_buf *b)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/stat", "re");
	unsigned long long ut, st, start, vsize, rss;
	double tck = (double)sysconf(_SC_CLK_TCK);
	char buf[1024], *p;
	struct rlimit rl;
	int fds = fds_count();

	if (!f || !fgets(buf, sizeof(buf), f) || !(p = strrchr(buf, ')')) ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
		   "%llu %llu %llu",
		   &ut, &st, &start, &vsize, &rss) != 5)
		return;
	metrics_family(b, "process_cpu_seconds_total", "counter",
		       "Total user and system CPU time spent in seconds.");
	metrics_sample(b, "process_cpu_seconds_total", NULL, 0, (double)(ut + st) / tck);
	metrics_family(b, "process_resident_memory_bytes", "gauge",
		       "Resident memory size in bytes.");
	metrics_sample(b, "process_resident_memory_bytes", NULL, 0,
		       (double)rss * (double)sysconf(_SC_PAGESIZE));
	metrics_family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
	metrics_sample(b, "process_virtual_memory_bytes", NULL, 0, (double)vsize);
	metrics_family(b, "process_start_time_seconds", "gauge",
		       "Start time of the process since unix epoch in seconds.");
	metrics_sample(b, "process_start_time_seconds", NULL, 0,
		       (double)boot_time() + (double)start / tck);
	if (fds >= 0) {
		metrics_family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
		metrics_sample(b, "process_open_fds", NULL, 0, fds);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		metrics_family(b, "process_max_fds", "gauge",
			       "Maximum number of open file descriptors.");
		metrics_sample(b, "process_max_fds", NULL, 0, (double)rl.rlim_cur);
	}
}

void metrics_collect(const struct metrics_src *src, struct http_buf *b)
{
	metrics_family(b, "sluice_build_info", "gauge",
		       "Always 1; the agent's version as a label.");
	metrics_sample(b, "sluice_build_info", &L("version", SLUICE_VERSION), 1, 1);
	datapath_write(b, src->pin_dir);
	services_write(b, src);
	maps_write(b, src->pin_dir);
	api_write(b, src->ks);
	publisher_write(b, src);
	cni_write(b, src->pin_dir);
	pins_write(b, src->pins);
	process_write(b);
}

/* kube-proxy's metrics server also names its mode at /proxyMode ("iptables",
 * "nftables", ...); tools and Kubernetes' e2e tests ask there. */
#define PROXY_MODE "sluice"

void metrics_handle(void *ctx, const char *path, struct http_reply *r)
{
	if (!strcmp(path, "/proxyMode")) {
		r->code = 200;
		r->type = "text/plain; charset=utf-8";
		http_buf_printf(&r->body, "%s", PROXY_MODE);
		return;
	}
	if (strcmp(path, "/metrics"))
		return; /* 404 */
	r->code = 200;
	r->type = METRICS_CONTENT_TYPE;
	metrics_collect(ctx, &r->body);
}
