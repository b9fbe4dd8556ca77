// SPDX-License-Identifier: Apache-2.0
/* Parses a Service: type, cluster IPs, ports, session affinity, traffic policies, external IPs,
 * load balancer source ranges. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kube_intern.h"
#include "kube_objects.h"
#include "kube_parse.h"

static int svc_port_parse(struct pctx *pc, json_t *p, size_t i, struct kube_svc_port *sp)
{
	char path[64];
	long long v = 0;
	const char *s;
	json_t *tp;
	int r;

	snprintf(path, sizeof(path), "spec.ports[%zu].", i);
	if (!json_is_object(p))
		return kp_bad(pc, "spec.ports[%zu]: expected an object", i);
	if (kp_get_str(pc, p, "name", path, &s) < 0 || kp_proto_parse(pc, p, path, &sp->proto) < 0)
		return -EINVAL;
	sp->name = intern_get(s ? s : "");
	r = kp_get_int(pc, p, "port", path, 1, 65535, &v);
	if (r < 0)
		return r;
	if (!r)
		return kp_bad(pc, "%sport: missing", path);
	sp->port = (__u16)v;
	v = 0;
	if (kp_get_int(pc, p, "nodePort", path, 0, 65535, &v) < 0)
		return -EINVAL;
	sp->node_port = (__u16)v;
	tp = kp_field(p, "targetPort");
	if (!tp) {
		sp->target_port = sp->port;
	} else if (json_is_integer(tp) && json_integer_value(tp) >= 1 &&
		   json_integer_value(tp) <= 65535) {
		sp->target_port = (__u16)json_integer_value(tp);
	} else if (json_is_string(tp) && json_string_length(tp)) {
		sp->target_name = intern_get(json_string_value(tp));
	} else {
		return kp_bad(pc, "%stargetPort: expected a port number or name", path);
	}
	if (!sp->name || (tp && json_is_string(tp) && !sp->target_name))
		return kp_bad(pc, "out of memory");
	return 0;
}

static int svc_type_parse(struct pctx *pc, json_t *spec, struct kube_service *s)
{
	static const char *const types[] = {"ClusterIP", "NodePort", "LoadBalancer",
					    "ExternalName"};
	const char *str;
	size_t i;

	if (kp_get_str(pc, spec, "type", "spec.", &str) < 0)
		return -EINVAL;
	s->type = KUBE_SVC_CLUSTER_IP;
	if (!str)
		return 0;
	for (i = 0; i < sizeof(types) / sizeof(types[0]) && strcmp(types[i], str); i++)
		;
	if (i == sizeof(types) / sizeof(types[0]))
		return kp_bad(pc, "spec.type: unknown type '%.32s'", str);
	s->type = (__u8)i;
	return 0;
}

/* clusterIPs, else the older clusterIP; "None" makes the Service headless. */
static int svc_cluster_ips_parse(struct pctx *pc, json_t *spec, struct kube_service *s)
{
	json_t *ips, *cip;
	const char *cip_str;
	size_t i, nc = 0;

	if (kp_get_typed(pc, spec, "clusterIPs", "spec.", JSON_ARRAY, &ips) < 0)
		return -EINVAL;
	if (kp_get_str(pc, spec, "clusterIP", "spec.", &cip_str) < 0)
		return -EINVAL;
	if (ips) {
		json_array_foreach(ips, i, cip) {
			if (json_is_string(cip) && !strcmp(json_string_value(cip), "None"))
				s->headless = true;
		}
	} else if (cip_str && !strcmp(cip_str, "None")) {
		s->headless = true;
	}
	if (s->headless)
		return 0;
	if (ips && kp_ip_list_parse(pc, ips, "spec.clusterIPs", s->cluster_ips, 2, &nc) < 0)
		return -EINVAL;
	if (!ips && cip_str && cip_str[0] &&
	    kp_ip_parse(pc, cip_str, 0, "spec.clusterIP", &s->cluster_ips[nc++]) < 0)
		return -EINVAL;
	s->n_cluster_ips = (__u8)nc;
	return 0;
}

static int svc_ports_parse(struct pctx *pc, json_t *spec, struct kube_service *s)
{
	json_t *ports, *v;
	size_t i;

	if (kp_get_typed(pc, spec, "ports", "spec.", JSON_ARRAY, &ports) < 0)
		return -EINVAL;
	if (kp_ports_alloc(pc, ports, "spec.ports", sizeof(*s->ports), (void **)&s->ports,
			   &s->n_ports) < 0)
		return -EINVAL;
	json_array_foreach(ports, i, v) {
		if (svc_port_parse(pc, v, i, &s->ports[i]) < 0)
			return -EINVAL;
	}
	return 0;
}

static int svc_affinity_parse(struct pctx *pc, json_t *spec, struct kube_service *s)
{
	long long timeout = 10800;
	const char *str;
	json_t *cfg;

	if (kp_get_str(pc, spec, "sessionAffinity", "spec.", &str) < 0)
		return -EINVAL;
	if (str && strcmp(str, "None") && strcmp(str, "ClientIP"))
		return kp_bad(pc, "spec.sessionAffinity: unknown value '%.32s'", str);
	s->affinity_client_ip = str && !strcmp(str, "ClientIP");
	if (!s->affinity_client_ip)
		return 0;
	cfg = json_object_get(json_object_get(spec, "sessionAffinityConfig"), "clientIP");
	if (json_is_object(cfg) &&
	    kp_get_int(pc, cfg, "timeoutSeconds", "spec.sessionAffinityConfig.clientIP.", 1, 86400,
		       &timeout) < 0)
		return -EINVAL;
	s->affinity_timeout = (__u32)timeout;
	return 0;
}

/* spec.<key>: Cluster (or unset) or Local. */
static int svc_traffic_policy_parse(struct pctx *pc, json_t *spec, const char *key, bool *local)
{
	const char *str;

	if (kp_get_str(pc, spec, key, "spec.", &str) < 0)
		return -EINVAL;
	if (str && str[0] && strcmp(str, "Cluster") && strcmp(str, "Local"))
		return kp_bad(pc, "spec.%s: unknown value '%.32s'", key, str);
	*local = str && !strcmp(str, "Local");
	return 0;
}

/* The load balancer's VIP-mode ingress IPs, after the external IPs. */
static int svc_ingress_parse(struct pctx *pc, json_t *ingress, struct kube_service *s, size_t *n_lb)
{
	json_t *v;
	size_t i;

	json_array_foreach(ingress, i, v) {
		const char *ip = NULL, *mode = NULL;
		char p[64];

		snprintf(p, sizeof(p), "status.loadBalancer.ingress[%zu].", i);
		if (!json_is_object(v))
			return kp_bad(pc, "%s: expected an object", p);
		if (kp_get_str(pc, v, "ip", p, &ip) < 0 ||
		    kp_get_str(pc, v, "ipMode", p, &mode) < 0)
			return -EINVAL;
		if (!ip ||
		    (mode && strcmp(mode, "VIP"))) /* only VIP mode is captured (kube-proxy) */
			continue;
		if (kp_ip_parse(pc, ip, 0, p, &s->external_ips[(*n_lb)++]) < 0)
			return -EINVAL;
	}
	return 0;
}

/* spec.externalIPs and status.loadBalancer.ingress, in one array. */
static int svc_external_ips_parse(struct pctx *pc, json_t *root, json_t *spec,
				  struct kube_service *s)
{
	json_t *ext, *ingress;
	size_t n, n_lb = 0;

	if (kp_get_typed(pc, spec, "externalIPs", "spec.", JSON_ARRAY, &ext) < 0)
		return -EINVAL;
	ingress = json_object_get(json_object_get(json_object_get(root, "status"), "loadBalancer"),
				  "ingress");
	if (ingress && !json_is_array(ingress))
		return kp_bad(pc, "status.loadBalancer.ingress: expected an array");
	n = (ext ? json_array_size(ext) : 0) + (ingress ? json_array_size(ingress) : 0);
	if (n > 0xffff)
		return kp_bad(pc, "spec.externalIPs: too many addresses");
	if (!n)
		return 0;
	s->external_ips = calloc(n, sizeof(*s->external_ips));
	if (!s->external_ips)
		return kp_bad(pc, "out of memory");
	if (ext && kp_ip_list_parse(pc, ext, "spec.externalIPs", s->external_ips, n, &n_lb) < 0)
		return -EINVAL;
	s->n_external_ips = (__u16)n_lb;
	if (svc_ingress_parse(pc, ingress, s, &n_lb) < 0)
		return -EINVAL;
	s->n_lb_ips = (__u16)(n_lb - s->n_external_ips);
	return 0;
}

/* Clears the host bits of an address under prefix bits. */
static void cidr_mask(struct kube_cidr *c)
{
	unsigned int len = c->ip.family == 4 ? 4 : 16;

	for (unsigned int i = 0; i < len; i++) {
		unsigned int keep = c->prefix > i * 8 ? c->prefix - i * 8 : 0;

		if (keep < 8)
			c->ip.addr[i] &= (__u8)(0xff00 >> keep);
	}
}

/* spec.loadBalancerSourceRanges (CIDRs, either family) and spec.healthCheckNodePort. */
static int svc_lb_parse(struct pctx *pc, json_t *spec, struct kube_service *s)
{
	long long hc = 0;
	json_t *ranges, *v;
	size_t i;

	if (kp_get_int(pc, spec, "healthCheckNodePort", "spec.", 0, 65535, &hc) < 0 ||
	    kp_get_typed(pc, spec, "loadBalancerSourceRanges", "spec.", JSON_ARRAY, &ranges) < 0)
		return -EINVAL;
	s->health_node_port = (__u16)hc;
	if (!ranges || !json_array_size(ranges))
		return 0;
	if (json_array_size(ranges) > 0xffff)
		return kp_bad(pc, "spec.loadBalancerSourceRanges: too many ranges");
	s->src_ranges = calloc(json_array_size(ranges), sizeof(*s->src_ranges));
	if (!s->src_ranges)
		return kp_bad(pc, "out of memory");
	json_array_foreach(ranges, i, v) {
		char p[64];

		snprintf(p, sizeof(p), "spec.loadBalancerSourceRanges[%zu]", i);
		if (!json_is_string(v))
			return kp_bad(pc, "%s: expected a CIDR string", p);
		if (kp_cidr_parse(pc, json_string_value(v), p, &s->src_ranges[i]) < 0)
			return -EINVAL;
		cidr_mask(&s->src_ranges[i]);
		s->n_src_ranges++;
	}
	return 0;
}

int kube_svc_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	struct kube_service *s = &o->u.svc;
	json_t *spec;

	if (kp_get_typed(pc, root, "spec", "", JSON_OBJECT, &spec) < 0)
		return -EINVAL;
	if (!spec)
		return kp_bad(pc, "spec: missing");
	if (svc_type_parse(pc, spec, s) < 0 || svc_cluster_ips_parse(pc, spec, s) < 0 ||
	    svc_ports_parse(pc, spec, s) < 0 || svc_affinity_parse(pc, spec, s) < 0 ||
	    svc_traffic_policy_parse(pc, spec, "externalTrafficPolicy", &s->etp_local) < 0 ||
	    svc_traffic_policy_parse(pc, spec, "internalTrafficPolicy", &s->itp_local) < 0 ||
	    kube_svc_hc_parse(pc, spec, s) < 0 || svc_lb_parse(pc, spec, s) < 0)
		return -EINVAL;
	(void)meta;
	return svc_external_ips_parse(pc, root, spec, s);
}
