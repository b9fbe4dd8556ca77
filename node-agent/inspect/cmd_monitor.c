// SPDX-License-Identifier: Apache-2.0
/* `sluice-agent monitor`: datapath events from sl_events, one line each, for
 * as long as it runs; it holds the listener's lease in sl_evcfg meanwhile. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cleanup.h"
#include "cmd.h"
#include "config.h"
#include "dp.h"
#include "inspect.h"
#include "names.h"

#define LEASE_MS 3000 /* events stop this long after a monitor dies unannounced */
#define RENEW_MS 1000
#define POLL_MS	 100 /* events show this late at most (no wakeups, events.h) */

struct mon {
	struct status_flags f;
	struct inspect_maps m;
	struct names *names;
	__be32 pod_ip;
	__u64 mono_to_real; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

static void monitor_usage(FILE *f)
{
	fprintf(f, "usage: sluice-agent monitor [--pin-dir DIR] [--cni-state-dir DIR] [--type "
		   "drop,flow,policy] [--pod NS/NAME] [--service NS/NAME] [--ip IP] [--port N] "
		   "[--json]\n");
}

/* The svc_id an event concerns: the flow's, else the service port its
 * destination is (a drop before DNAT); 0 none. */
static __u32 event_svc(const struct mon *mo, const struct sl_event *e)
{
	struct sl_svc_key k = {.vip = e->daddr, .port = e->dport, .proto = e->proto};
	struct sl_svc_val v;

	if (e->type == SL_EV_FLOW)
		return e->svc_id;
	return e->proto && !dp_svc_lookup(mo->m.svc, &k, &v) ? v.id : 0;
}

static bool event_match(const struct mon *mo, const struct sl_event *e)
{
	const struct status_flags *f = &mo->f;
	const char *svc;
	size_t len;

	if ((f->set & CLI_F_IP) && e->saddr != f->ip && e->daddr != f->ip && e->be_ip != f->ip)
		return false;
	if ((f->set & CLI_F_POD) && e->saddr != mo->pod_ip && e->daddr != mo->pod_ip &&
	    e->be_ip != mo->pod_ip)
		return false;
	if ((f->set & CLI_F_PORT) && ntohs(e->sport) != f->port && ntohs(e->dport) != f->port &&
	    ntohs(e->be_port) != f->port)
		return false;
	if (!(f->set & CLI_F_SERVICE))
		return true;
	svc = names_svc(mo->names, event_svc(mo, e));
	len = strlen(f->service);
	return svc && !strncmp(svc, f->service, len) && (svc[len] == ':' || !svc[len]);
}

static const char *const type_names[] = {
    [SL_EV_DROP] = "drop", [SL_EV_FLOW] = "flow", [SL_EV_POLICY] = "policy"};

static json_t *event_json(const struct mon *mo, const struct sl_event *e)
{
	char src[INSPECT_ADDR_MAX], dst[INSPECT_ADDR_MAX], be[INSPECT_ADDR_MAX], p[8], ts[40];
	time_t secs = (time_t)((e->ts_ns + mo->mono_to_real) / 1000000000ull);
	__u32 svc_id = event_svc(mo, e);
	struct tm tm;
	json_t *j;

	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%03lluZ",
		 (unsigned long long)((e->ts_ns + mo->mono_to_real) / 1000000ull % 1000));
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "time", ts, "type",
		      e->type < 4 && type_names[e->type] ? type_names[e->type] : "?", "proto",
		      e->proto ? inspect_proto_name(e->proto, p) : "-", "src",
		      inspect_addr(e->saddr, e->sport, src), "dst",
		      inspect_addr(e->daddr, e->dport, dst), "srcPod",
		      json_string_nocheck(names_pod(mo->names, e->saddr) ?: ""), "dstPod",
		      json_string_nocheck(names_pod(mo->names, e->daddr) ?: ""));
	if (e->type == SL_EV_DROP) {
		json_object_set_new(j, "reason", json_string(dp_metric_name(e->code) ?: "?"));
		json_object_set_new(j, "why", json_string(dp_metric_desc(e->code) ?: "?"));
		json_object_set_new(j, "ifindex", json_integer(e->ifindex));
		if (e->eth_proto != htons(0x0800))
			json_object_set_new(j, "etherType",
					    json_sprintf("0x%04x", ntohs(e->eth_proto)));
	}
	if (svc_id)
		json_object_set_new(j, "service",
				    names_svc(mo->names, svc_id)
					? json_string(names_svc(mo->names, svc_id))
					: json_sprintf("svc %u", svc_id));
	if (e->type == SL_EV_FLOW && !e->saddr) /* from the socket programs */
		json_object_set_new(j, "src", json_string("this node"));
	if (e->type == SL_EV_FLOW) {
		json_object_set_new(j, "backend",
				    json_string(inspect_addr(e->be_ip, e->be_port, be)));
		json_object_set_new(j, "backendId", json_integer(e->backend_id));
		json_object_set_new(j, "backendPod",
				    json_string(names_pod(mo->names, e->be_ip) ?: ""));
	}
	if (e->type == SL_EV_POLICY)
		json_object_set_new(j, "verdict", json_string("allow"));
	return j;
}

static const char *jstr(json_t *j, const char *k)
{
	return json_string_value(json_object_get(j, k)) ?: "";
}

/* "ip:port (ns/pod)" */
static void end_text(json_t *j, const char *addr, const char *pod, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", jstr(j, addr), *jstr(j, pod) ? " (" : "", jstr(j, pod),
		 *jstr(j, pod) ? ")" : "");
}

static void event_print(json_t *j, bool as_json)
{
	char src[INSPECT_ADDR_MAX + 300], dst[INSPECT_ADDR_MAX + 300];
	_cleanup_free_ char *text = NULL;
	const char *type = jstr(j, "type");

	if (as_json) {
		text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (text)
			printf("%s\n", text);
		fflush(stdout);
		return;
	}
	end_text(j, "src", "srcPod", src, sizeof(src));
	end_text(j, "dst", "dstPod", dst, sizeof(dst));
	printf("%s %-6s %-4s %s -> %s", jstr(j, "time"), type, jstr(j, "proto"), src, dst);
	if (json_object_get(j, "service"))
		printf(" service %s", jstr(j, "service"));
	if (json_object_get(j, "etherType"))
		printf(" ethertype %s", jstr(j, "etherType"));
	if (!strcmp(type, "drop"))
		printf(": %s (%s)", jstr(j, "reason"), jstr(j, "why"));
	else if (!strcmp(type, "flow"))
		printf(": backend %s%s%s%s", jstr(j, "backend"), *jstr(j, "backendPod") ? " (" : "",
		       jstr(j, "backendPod"), *jstr(j, "backendPod") ? ")" : "");
	else if (!strcmp(type, "policy"))
		printf(": allowed by NetworkPolicy");
	printf("\n");
	fflush(stdout);
}

static int event_seen(const struct sl_event *e, void *ctx)
{
	struct mon *mo = ctx;
	json_t *j;

	if (!(SL_EV_F(e->type) & mo->f.types) || !event_match(mo, e))
		return 0;
	j = event_json(mo, e);
	if (j)
		event_print(j, mo->f.json);
	json_decref(j);
	return 0;
}

/* Renews the lease every RENEW_MS and reads the ring until a signal. */
static int monitor_loop(struct mon *mo, struct dp_events *ev)
{
	__u64 renew = 0;
	int r = 0;

	while (!stop) {
		if (inspect_mono_ns() >= renew) {
			r = dp_evcfg_lease(mo->m.evcfg, mo->f.types, LEASE_MS);
			if (r < 0)
				return r;
			renew = inspect_mono_ns() + RENEW_MS * 1000000ull;
		}
		r = dp_events_poll(ev, POLL_MS);
		if (r < 0 && r != -EINTR)
			return r;
	}
	return 0;
}

static int monitor_setup(struct mon *mo)
{
	struct timespec rt, mt;
	struct sigaction sa = {.sa_handler = on_signal};

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	mo->mono_to_real = ((__u64)rt.tv_sec - (__u64)mt.tv_sec) * 1000000000ull +
			   (__u64)rt.tv_nsec - (__u64)mt.tv_nsec;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (!(mo->f.set & CLI_F_TYPE))
		mo->f.types = SL_EV_F(SL_EV_DROP) | SL_EV_F(SL_EV_FLOW) | SL_EV_F(SL_EV_POLICY);
	if ((mo->f.set & CLI_F_POD) && names_pod_ip(mo->names, mo->f.pod, &mo->pod_ip) < 0) {
		fprintf(stderr,
			"sluice-agent monitor: unknown pod '%s' (not in the agent's names)\n",
			mo->f.pod);
		return -ENOENT;
	}
	if (mo->m.events < 0 || mo->m.evcfg < 0) {
		fprintf(stderr,
			"sluice-agent monitor: no %s/%s under '%s': %s (an agent too old?)\n",
			SL_PIN_EVENTS, SL_PIN_EVCFG, mo->f.pin_dir,
			strerror(-(mo->m.events < 0 ? mo->m.events : mo->m.evcfg)));
		return -ENOENT;
	}
	return 0;
}

int agent_cmd_monitor(int argc, char **argv)
{
	struct mon mo = {
	    .f = {.pin_dir = SL_DEFAULT_PIN_DIR,
		  .state_dir = CONFIG_DEFAULT_CNI_STATE_DIR,
		  .accept = CLI_F_TYPE | CLI_F_POD | CLI_F_SERVICE | CLI_F_IP | CLI_F_PORT}};
	char path[CONFIG_PATH_MAX + 32];
	struct sl_evcfg_val before = {}, after = {};
	struct dp_events *ev = NULL;
	int r;

	r = status_flags_parse("monitor", monitor_usage, argc, argv, &mo.f);
	if (r >= 0)
		return r;
	if (inspect_maps_open(mo.f.pin_dir, &mo.m) < 0) {
		fprintf(stderr, "sluice-agent monitor: nothing pinned under '%s'\n", mo.f.pin_dir);
		return 1;
	}
	names_load(status_flags_file(&mo.f, NAMES_FILE, path, sizeof(path)), &mo.names);
	r = monitor_setup(&mo);
	if (!r)
		r = dp_events_open(mo.m.events, event_seen, &mo, &ev);
	if (!r) {
		dp_evcfg_read(mo.m.evcfg, &before);
		r = monitor_loop(&mo, ev);
		dp_evcfg_read(mo.m.evcfg, &after);
		dp_evcfg_clear(mo.m.evcfg);
	}
	if (after.lost > before.lost)
		fprintf(stderr, "sluice-agent monitor: %u events lost (ring buffer full)\n",
			after.lost - before.lost);
	if (r < 0 && r != -ENOENT)
		fprintf(stderr, "sluice-agent monitor: failed to read events: %s\n", strerror(-r));
	dp_events_free(ev);
	names_free(mo.names);
	inspect_maps_close(&mo.m);
	return r < 0 ? 1 : 0;
}
