// SPDX-License-Identifier: Apache-2.0
/* `sluice-agent explain SRC[:PORT] DST:PORT[/PROTO]`: what the datapath would
 * do with such a packet, step by step, from the pinned maps. */
#define _GNU_SOURCE /* asprintf */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cleanup.h"
#include "cmd.h"
#include "config.h"
#include "dp.h"
#include "explain.h"
#include "names.h"
#include "pol_step.h"

static void explain_usage(FILE *f)
{
	fprintf(f, "usage: sluice-agent explain [--pin-dir DIR] [--cni-state-dir DIR] [--json] "
		   "SRC[:PORT] DST:PORT[/tcp|udp|sctp]\n"
		   "  SRC without PORT: a new connection; with PORT: a packet of that flow\n");
}

/* "ip[:port][/proto]"; port required when need_port. -EINVAL when malformed. */
static int endpoint_parse(const char *s, bool need_port, __be32 *ip, __be16 *port, __u8 *proto)
{
	char buf[64], *colon, *slash, *end;
	long n;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash++ = '\0';
		if (!proto)
			return -EINVAL;
		*proto = !strcasecmp(slash, "tcp")    ? IPPROTO_TCP
			 : !strcasecmp(slash, "udp")  ? IPPROTO_UDP
			 : !strcasecmp(slash, "sctp") ? IPPROTO_SCTP
						      : 0;
		if (!*proto)
			return -EINVAL;
	}
	colon = strchr(buf, ':');
	*port = 0;
	if (colon) {
		*colon++ = '\0';
		n = strtol(colon, &end, 10);
		if (!*colon || *end || n < 1 || n > 65535)
			return -EINVAL;
		*port = htons((__u16)n);
	}
	if (need_port && !colon)
		return -EINVAL;
	return inet_pton(AF_INET, buf, ip) == 1 ? 0 : -EINVAL;
}

/* "ns/name, ..." of the NetworkPolicies agent-policy.json says select the
 * local endpoint ip; NULL when none or unknown. */
static char *policies_of(json_t *report, const char *ip)
{
	char *out = NULL, *prev;
	json_t *e, *p;
	size_t i, j;

	json_array_foreach(json_object_get(report, "endpoints"), i, e) {
		if (strcmp(json_string_value(json_object_get(e, "ip")) ?: "", ip))
			continue;
		json_array_foreach(json_object_get(e, "policies"), j, p) {
			prev = out;
			if (asprintf(&out, "%s%s%s/%s", prev ? prev : "", prev ? ", " : "",
				     json_string_value(json_object_get(p, "namespace")) ?: "?",
				     json_string_value(json_object_get(p, "name")) ?: "?") < 0)
				out = NULL;
			free(prev);
		}
	}
	return out;
}

/* Adds "policies" (the NetworkPolicies selecting each local end) to the
 * outcomes whose verdict came from an isolated endpoint. */
static void policies_add(json_t *j, const struct explain_q *q, const char *report_path)
{
	json_t *report = json_load_file(report_path, 0, NULL), *o;
	char a[INSPECT_ADDR_MAX];
	size_t i;

	if (!report)
		return;
	json_array_foreach(json_object_get(j, "outcomes"), i, o) {
		const char *why = json_string_value(json_object_get(o, "why")) ?: "";
		_cleanup_free_ char *src = NULL, *dst = NULL;
		char ip[INSPECT_ADDR_MAX], *colon;

		if (!strstr(why, " of endpoint "))
			continue;
		snprintf(ip, sizeof(ip), "%s", json_string_value(json_object_get(o, "dst")) ?: "");
		colon = strchr(ip, ':');
		if (colon)
			*colon = '\0';
		src = policies_of(report, inspect_addr(q->src, 0, a));
		dst = policies_of(report, ip);
		json_object_set_new(o, "policies",
				    json_pack("{s:s?, s:s?}", "source", src, "destination", dst));
	}
	json_decref(report);
}

static json_t *explain_json(const struct explain *x, const struct names *names)
{
	json_t *steps = json_array(), *outs = json_array();
	char a[INSPECT_ADDR_MAX];

	for (int i = 0; i < x->n_steps; i++)
		json_array_append_new(steps, json_string(x->steps[i]));
	for (int i = 0; i < x->n_out; i++) {
		const struct explain_out *o = &x->out[i];
		const char *pod = names_pod(names, o->dst);

		json_array_append_new(
		    outs,
		    json_pack("{s:I, s:s, s:o, s:s, s:s, s:s}", "backendId",
			      (json_int_t)o->backend_id, "dst", inspect_addr(o->dst, o->dport, a),
			      "dstPod", pod ? json_string(pod) : json_null(), "fate",
			      explain_fate_name(o->fate), "result",
			      dp_metric_name(o->ret < 0 ? -o->ret : o->ret) ?: "none", "why",
			      o->why));
	}
	return json_pack("{s:b, s:I, s:b, s:o, s:o}", "srcLocal", x->src_local, "serviceId",
			 (json_int_t)x->svc_id, "deterministic", x->deterministic, "steps", steps,
			 "outcomes", outs);
}

static void explain_print(json_t *j, const char *src, const char *dst)
{
	json_t *v, *pols;
	size_t i, n = json_array_size(json_object_get(j, "outcomes"));

	printf("%s -> %s\n", src, dst);
	json_array_foreach(json_object_get(j, "steps"), i, v)
		printf("  %s\n", json_string_value(v));
	printf("%s:\n",
	       n == 1 ? "outcome" : "outcomes (one per new flow, the slot picked at random)");
	json_array_foreach(json_object_get(j, "outcomes"), i, v) {
		json_int_t id = json_integer_value(json_object_get(v, "backendId"));

		if (id)
			printf("  backend %lld %s: ", id,
			       json_string_value(json_object_get(v, "dst")));
		else
			printf("  ");
		printf("%s => %s (%s)\n", json_string_value(json_object_get(v, "why")),
		       json_string_value(json_object_get(v, "fate")),
		       json_string_value(json_object_get(v, "result")));
		pols = json_object_get(v, "policies");
		if (json_string_value(json_object_get(pols, "source")))
			printf("    NetworkPolicies selecting the source: %s\n",
			       json_string_value(json_object_get(pols, "source")));
		if (json_string_value(json_object_get(pols, "destination")))
			printf("    NetworkPolicies selecting the destination: %s\n",
			       json_string_value(json_object_get(pols, "destination")));
	}
}

int agent_cmd_explain(int argc, char **argv)
{
	struct status_flags f = {.pin_dir = SL_DEFAULT_PIN_DIR,
				 .state_dir = CONFIG_DEFAULT_CNI_STATE_DIR,
				 .max_args = 2};
	struct explain_q q = {.proto = IPPROTO_TCP};
	_cleanup_free_ struct explain *x = calloc(1, sizeof(*x));
	_cleanup_names_ struct names *names = NULL;
	char path[CONFIG_PATH_MAX + 32];
	struct inspect_maps m;
	json_t *j;
	int r;

	r = status_flags_parse("explain", explain_usage, argc, argv, &f);
	if (r >= 0)
		return r;
	if (f.n_args != 2 || endpoint_parse(f.args[0], false, &q.src, &q.sport, NULL) ||
	    endpoint_parse(f.args[1], true, &q.dst, &q.dport, &q.proto)) {
		explain_usage(stderr);
		return EXIT_USAGE;
	}
	if (!x || inspect_maps_open(f.pin_dir, &m) < 0) {
		fprintf(stderr, "sluice-agent explain: nothing pinned under '%s'\n", f.pin_dir);
		return 1;
	}
	names_load(status_flags_file(&f, NAMES_FILE, path, sizeof(path)), &names);
	r = explain_run(&m, names, &q, x);
	inspect_maps_close(&m);
	if (r < 0) {
		fprintf(stderr, "sluice-agent explain: cannot read the maps: %s\n", strerror(-r));
		return 1;
	}
	j = explain_json(x, names);
	policies_add(j, &q, status_flags_file(&f, POL_REPORT_FILE, path, sizeof(path)));
	if (f.json) {
		_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", text ? text : "null");
	} else {
		explain_print(j, f.args[0], f.args[1]);
	}
	json_decref(j);
	return 0;
}
