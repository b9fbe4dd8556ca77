// SPDX-License-Identifier: Apache-2.0
/* Parses Kubernetes JSON (jansson) into the compact objects of kube_objects.h. */
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

/* Parse state of one object: where errors are written. */
struct pctx {
	char *why;
	size_t why_len;
};

__attribute__((format(printf, 2, 3))) static int bad(struct pctx *pc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pc->why, pc->why_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const struct {
	const char *name;
	bool namespaced;
} kinds[KUBE_KIND_MAX] = {
    [KUBE_SERVICE] = {"Service", true},	     [KUBE_ENDPOINTSLICE] = {"EndpointSlice", true},
    [KUBE_NODE] = {"Node", false},	     [KUBE_POD] = {"Pod", true},
    [KUBE_NAMESPACE] = {"Namespace", false}, [KUBE_NETPOL] = {"NetworkPolicy", true},
};

const char *kube_kind_name(enum kube_kind k)
{
	return k < KUBE_KIND_MAX ? kinds[k].name : "?";
}

bool kube_kind_namespaced(enum kube_kind k)
{
	return k < KUBE_KIND_MAX && kinds[k].namespaced;
}

const char *kube_ip_str(const struct kube_ip *ip, char *buf, size_t len)
{
	if (!ip->family ||
	    !inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->addr, buf, (socklen_t)len))
		snprintf(buf, len, "-");
	return buf;
}

/* --- typed field access: absent and null read as "not set" ----------------- */

static json_t *field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

static int get_str(struct pctx *pc, json_t *obj, const char *key, const char *path,
		   const char **out)
{
	json_t *v = field(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return bad(pc, "%s%s: expected a string", path, key);
	*out = json_string_value(v);
	return 0;
}

static int get_int(struct pctx *pc, json_t *obj, const char *key, const char *path, long long min,
		   long long max, long long *out)
{
	json_t *v = field(obj, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return bad(pc, "%s%s: expected an integer in %lld..%lld", path, key, min, max);
	*out = json_integer_value(v);
	return 1;
}

static int get_bool(struct pctx *pc, json_t *obj, const char *key, const char *path, bool *out)
{
	json_t *v = field(obj, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return bad(pc, "%s%s: expected true or false", path, key);
	*out = json_is_true(v);
	return 1;
}

static int get_typed(struct pctx *pc, json_t *obj, const char *key, const char *path, int type,
		     json_t **out)
{
	json_t *v = field(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if ((int)json_typeof(v) != type)
		return bad(pc, "%s%s: expected %s", path, key,
			   type == JSON_ARRAY ? "an array" : "an object");
	*out = v;
	return 0;
}

static int ip_parse(struct pctx *pc, const char *s, int family, const char *path,
		    struct kube_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (family != 6 && inet_pton(AF_INET, s, ip->addr) == 1) {
		ip->family = 4;
		return 0;
	}
	if (family != 4 && inet_pton(AF_INET6, s, ip->addr) == 1) {
		ip->family = 6;
		return 0;
	}
	return bad(pc, "%s: '%.64s' is not an IP%s address", path, s,
		   family == 4	 ? "v4"
		   : family == 6 ? "v6"
				 : "");
}

static int cidr_parse(struct pctx *pc, const char *s, const char *path, struct kube_cidr *c)
{
	const char *slash = strchr(s, '/');
	char addr[INET6_ADDRSTRLEN];
	char *end;
	long n;

	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return bad(pc, "%s: '%.64s' is not a CIDR", path, s);
	memcpy(addr, s, slash - s);
	addr[slash - s] = '\0';
	if (ip_parse(pc, addr, 0, path, &c->ip) < 0)
		return -EINVAL;
	n = strtol(slash + 1, &end, 10);
	if (slash[1] < '0' || slash[1] > '9' || *end || n > (c->ip.family == 4 ? 32 : 128))
		return bad(pc, "%s: '%.64s' has an invalid prefix length", path, s);
	c->prefix = (__u8)n;
	return 0;
}

static int proto_parse(struct pctx *pc, json_t *obj, const char *path, __u8 *proto)
{
	const char *s;

	if (get_str(pc, obj, "protocol", path, &s) < 0)
		return -EINVAL;
	if (!s || !strcmp(s, "TCP"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(s, "UDP"))
		*proto = IPPROTO_UDP;
	else if (!strcmp(s, "SCTP"))
		*proto = IPPROTO_SCTP;
	else
		return bad(pc, "%sprotocol: unknown protocol '%.16s'", path, s);
	return 0;
}

/* Label maps: string to string. */
static int labels_parse(struct pctx *pc, json_t *meta, struct kube_label **out, __u16 *n_out)
{
	const char *key;
	json_t *labels, *v;
	size_t i = 0, n;

	if (get_typed(pc, meta, "labels", "metadata.", JSON_OBJECT, &labels) < 0)
		return -EINVAL;
	n = labels ? json_object_size(labels) : 0;
	if (!n)
		return 0;
	if (n > 0xffff)
		return bad(pc, "metadata.labels: too many labels");
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return bad(pc, "out of memory");
	*n_out = (__u16)n;
	json_object_foreach(labels, key, v)
	{
		if (!json_is_string(v))
			return bad(pc, "metadata.labels.%.64s: expected a string", key);
		(*out)[i].key = intern_get(key);
		(*out)[i].value = intern_get(json_string_value(v));
		if (!(*out)[i].key || !(*out)[i].value)
			return bad(pc, "out of memory");
		i++;
	}
	return 0;
}

static const char *label_get(json_t *meta, const char *key)
{
	json_t *v = json_object_get(json_object_get(meta, "labels"), key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* --- per kind ---------------------------------------------------------------- */

static int svc_port_parse(struct pctx *pc, json_t *p, size_t i, struct kube_svc_port *sp)
{
	char path[64];
	long long v = 0;
	const char *s;
	json_t *tp;
	int r;

	snprintf(path, sizeof(path), "spec.ports[%zu].", i);
	if (!json_is_object(p))
		return bad(pc, "spec.ports[%zu]: expected an object", i);
	if (get_str(pc, p, "name", path, &s) < 0 || proto_parse(pc, p, path, &sp->proto) < 0)
		return -EINVAL;
	sp->name = intern_get(s ? s : "");
	r = get_int(pc, p, "port", path, 1, 65535, &v);
	if (r < 0)
		return r;
	if (!r)
		return bad(pc, "%sport: missing", path);
	sp->port = (__u16)v;
	v = 0;
	if (get_int(pc, p, "nodePort", path, 0, 65535, &v) < 0)
		return -EINVAL;
	sp->node_port = (__u16)v;
	tp = field(p, "targetPort");
	if (!tp) {
		sp->target_port = sp->port;
	} else if (json_is_integer(tp) && json_integer_value(tp) >= 1 &&
		   json_integer_value(tp) <= 65535) {
		sp->target_port = (__u16)json_integer_value(tp);
	} else if (json_is_string(tp) && json_string_length(tp)) {
		sp->target_name = intern_get(json_string_value(tp));
	} else {
		return bad(pc, "%stargetPort: expected a port number or name", path);
	}
	if (!sp->name || (tp && json_is_string(tp) && !sp->target_name))
		return bad(pc, "out of memory");
	return 0;
}

static int ip_list_parse(struct pctx *pc, json_t *arr, const char *path, struct kube_ip *out,
			 size_t max, size_t *n)
{
	json_t *v;
	size_t i;
	char p[64];

	json_array_foreach(arr, i, v)
	{
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (!json_is_string(v))
			return bad(pc, "%s: expected a string", p);
		if (*n >= max)
			return bad(pc, "%s: too many addresses", path);
		if (ip_parse(pc, json_string_value(v), 0, p, &out[(*n)++]) < 0)
			return -EINVAL;
	}
	return 0;
}

static int svc_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	static const char *const types[] = {"ClusterIP", "NodePort", "LoadBalancer",
					    "ExternalName"};
	struct kube_service *s = &o->u.svc;
	json_t *spec, *ports, *ips, *ext, *ingress, *v, *cip;
	size_t i, n = 0, n_lb = 0;
	long long timeout = 10800;
	const char *str, *cip_str;

	if (get_typed(pc, root, "spec", "", JSON_OBJECT, &spec) < 0)
		return -EINVAL;
	if (!spec)
		return bad(pc, "spec: missing");
	if (get_str(pc, spec, "type", "spec.", &str) < 0)
		return -EINVAL;
	s->type = KUBE_SVC_CLUSTER_IP;
	if (str) {
		for (i = 0; i < sizeof(types) / sizeof(types[0]) && strcmp(types[i], str); i++)
			;
		if (i == sizeof(types) / sizeof(types[0]))
			return bad(pc, "spec.type: unknown type '%.32s'", str);
		s->type = (__u8)i;
	}

	if (get_typed(pc, spec, "clusterIPs", "spec.", JSON_ARRAY, &ips) < 0)
		return -EINVAL;
	if (get_str(pc, spec, "clusterIP", "spec.", &cip_str) < 0)
		return -EINVAL;
	if (ips) {
		json_array_foreach(ips, i, cip)
		{
			if (json_is_string(cip) && !strcmp(json_string_value(cip), "None"))
				s->headless = true;
		}
	} else if (cip_str && !strcmp(cip_str, "None")) {
		s->headless = true;
	}
	if (!s->headless) {
		size_t nc = 0;

		if (ips && ip_list_parse(pc, ips, "spec.clusterIPs", s->cluster_ips, 2, &nc) < 0)
			return -EINVAL;
		if (!ips && cip_str && cip_str[0] &&
		    ip_parse(pc, cip_str, 0, "spec.clusterIP", &s->cluster_ips[nc++]) < 0)
			return -EINVAL;
		s->n_cluster_ips = (__u8)nc;
	}

	if (get_typed(pc, spec, "ports", "spec.", JSON_ARRAY, &ports) < 0)
		return -EINVAL;
	if (ports && json_array_size(ports)) {
		if (json_array_size(ports) > 0xffff)
			return bad(pc, "spec.ports: too many ports");
		s->ports = calloc(json_array_size(ports), sizeof(*s->ports));
		if (!s->ports)
			return bad(pc, "out of memory");
		s->n_ports = (__u16)json_array_size(ports);
		json_array_foreach(ports, i, v)
		{
			if (svc_port_parse(pc, v, i, &s->ports[i]) < 0)
				return -EINVAL;
		}
	}

	if (get_str(pc, spec, "sessionAffinity", "spec.", &str) < 0)
		return -EINVAL;
	if (str && strcmp(str, "None") && strcmp(str, "ClientIP"))
		return bad(pc, "spec.sessionAffinity: unknown value '%.32s'", str);
	s->affinity_client_ip = str && !strcmp(str, "ClientIP");
	if (s->affinity_client_ip) {
		json_t *cfg =
		    json_object_get(json_object_get(spec, "sessionAffinityConfig"), "clientIP");

		if (json_is_object(cfg) &&
		    get_int(pc, cfg, "timeoutSeconds", "spec.sessionAffinityConfig.clientIP.", 1,
			    86400, &timeout) < 0)
			return -EINVAL;
		s->affinity_timeout = (__u32)timeout;
	}
	if (get_str(pc, spec, "externalTrafficPolicy", "spec.", &str) < 0)
		return -EINVAL;
	if (str && str[0] && strcmp(str, "Cluster") && strcmp(str, "Local"))
		return bad(pc, "spec.externalTrafficPolicy: unknown value '%.32s'", str);
	s->etp_local = str && !strcmp(str, "Local");
	if (get_str(pc, spec, "internalTrafficPolicy", "spec.", &str) < 0)
		return -EINVAL;
	if (str && str[0] && strcmp(str, "Cluster") && strcmp(str, "Local"))
		return bad(pc, "spec.internalTrafficPolicy: unknown value '%.32s'", str);
	s->itp_local = str && !strcmp(str, "Local");

	if (get_typed(pc, spec, "externalIPs", "spec.", JSON_ARRAY, &ext) < 0)
		return -EINVAL;
	ingress = json_object_get(json_object_get(json_object_get(root, "status"), "loadBalancer"),
				  "ingress");
	if (ingress && !json_is_array(ingress))
		return bad(pc, "status.loadBalancer.ingress: expected an array");
	n = (ext ? json_array_size(ext) : 0) + (ingress ? json_array_size(ingress) : 0);
	if (n > 0xffff)
		return bad(pc, "spec.externalIPs: too many addresses");
	if (n) {
		s->external_ips = calloc(n, sizeof(*s->external_ips));
		if (!s->external_ips)
			return bad(pc, "out of memory");
		if (ext &&
		    ip_list_parse(pc, ext, "spec.externalIPs", s->external_ips, n, &n_lb) < 0)
			return -EINVAL;
		s->n_external_ips = (__u16)n_lb;
		json_array_foreach(ingress, i, v)
		{
			const char *ip = NULL, *mode = NULL;
			char p[64];

			snprintf(p, sizeof(p), "status.loadBalancer.ingress[%zu].", i);
			if (!json_is_object(v))
				return bad(pc, "%s: expected an object", p);
			if (get_str(pc, v, "ip", p, &ip) < 0 ||
			    get_str(pc, v, "ipMode", p, &mode) < 0)
				return -EINVAL;
			if (!ip ||
			    (mode &&
			     strcmp(mode, "VIP"))) /* only VIP mode is captured (kube-proxy) */
				continue;
			if (ip_parse(pc, ip, 0, p, &s->external_ips[n_lb++]) < 0)
				return -EINVAL;
		}
		s->n_lb_ips = (__u16)(n_lb - s->n_external_ips);
	}
	(void)meta;
	return 0;
}

static int hints_parse(struct pctx *pc, json_t *hints, const char *key, const char *path,
		       json_t **arr)
{
	json_t *v;
	size_t i;

	if (get_typed(pc, hints, key, path, JSON_ARRAY, arr) < 0)
		return -EINVAL;
	if (*arr && json_array_size(*arr) > 255)
		return bad(pc, "%s%s: too many hints", path, key);
	json_array_foreach(*arr, i, v)
	{
		if (!json_is_object(v) || !json_is_string(json_object_get(v, "name")))
			return bad(pc, "%s%s[%zu].name: expected a string", path, key, i);
	}
	return 0;
}

static int endpoint_parse(struct pctx *pc, json_t *e, size_t i, int family,
			  struct kube_endpoint *ep)
{
	json_t *addrs, *cond, *hints, *zones = NULL, *nodes = NULL, *v;
	bool ready = true, serving = true, terminating = false;
	const char *node, *zone;
	char path[64];
	size_t j, n = 0;

	snprintf(path, sizeof(path), "endpoints[%zu].", i);
	if (!json_is_object(e))
		return bad(pc, "endpoints[%zu]: expected an object", i);
	if (get_typed(pc, e, "addresses", path, JSON_ARRAY, &addrs) < 0)
		return -EINVAL;
	if (!addrs || !json_array_size(addrs) || !json_is_string(json_array_get(addrs, 0)))
		return bad(pc, "%saddresses: expected at least one address string", path);
	if (family) {
		snprintf(path, sizeof(path), "endpoints[%zu].addresses[0]", i);
		if (ip_parse(pc, json_string_value(json_array_get(addrs, 0)), family, path,
			     &ep->addr) < 0)
			return -EINVAL;
		snprintf(path, sizeof(path), "endpoints[%zu].", i);
	}
	if (get_typed(pc, e, "conditions", path, JSON_OBJECT, &cond) < 0)
		return -EINVAL;
	if (cond && (get_bool(pc, cond, "ready", "conditions.", &ready) < 0 ||
		     get_bool(pc, cond, "serving", "conditions.", &serving) < 0 ||
		     get_bool(pc, cond, "terminating", "conditions.", &terminating) < 0))
		return -EINVAL;
	ep->cond = (ready ? KUBE_EP_READY : 0) | (serving ? KUBE_EP_SERVING : 0) |
		   (terminating ? KUBE_EP_TERMINATING : 0);
	if (get_str(pc, e, "nodeName", path, &node) < 0 || get_str(pc, e, "zone", path, &zone) < 0)
		return -EINVAL;
	if ((node && !(ep->node = intern_get(node))) || (zone && !(ep->zone = intern_get(zone))))
		return bad(pc, "out of memory");
	if (get_typed(pc, e, "hints", path, JSON_OBJECT, &hints) < 0)
		return -EINVAL;
	if (hints && (hints_parse(pc, hints, "forZones", "hints.", &zones) < 0 ||
		      hints_parse(pc, hints, "forNodes", "hints.", &nodes) < 0))
		return -EINVAL;
	if (!json_array_size(zones) && !json_array_size(nodes))
		return 0;
	ep->hints = calloc(json_array_size(zones) + json_array_size(nodes), sizeof(*ep->hints));
	if (!ep->hints)
		return bad(pc, "out of memory");
	ep->n_zone_hints = (__u8)json_array_size(zones);
	ep->n_node_hints = (__u8)json_array_size(nodes);
	json_array_foreach(zones, j, v) ep->hints[n++] =
	    intern_get(json_string_value(json_object_get(v, "name")));
	json_array_foreach(nodes, j, v) ep->hints[n++] =
	    intern_get(json_string_value(json_object_get(v, "name")));
	for (j = 0; j < n; j++)
		if (!ep->hints[j])
			return bad(pc, "out of memory");
	return 0;
}

static int eps_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	static const char *const types[] = {"IPv4", "IPv6", "FQDN"};
	struct kube_endpointslice *s = &o->u.eps;
	const char *str, *svc;
	json_t *ports, *eps, *v;
	size_t i;

	if (get_str(pc, root, "addressType", "", &str) < 0)
		return -EINVAL;
	if (!str)
		return bad(pc, "addressType: missing");
	for (i = 0; i < 3 && strcmp(types[i], str); i++)
		;
	if (i == 3)
		return bad(pc, "addressType: unknown type '%.16s'", str);
	s->address_type = (__u8)i;
	svc = label_get(meta, "kubernetes.io/service-name");
	if (svc && !(s->service = intern_get(svc)))
		return bad(pc, "out of memory");

	if (get_typed(pc, root, "ports", "", JSON_ARRAY, &ports) < 0)
		return -EINVAL;
	if (ports && json_array_size(ports)) {
		if (json_array_size(ports) > 0xffff)
			return bad(pc, "ports: too many ports");
		s->ports = calloc(json_array_size(ports), sizeof(*s->ports));
		if (!s->ports)
			return bad(pc, "out of memory");
		s->n_ports = (__u16)json_array_size(ports);
		json_array_foreach(ports, i, v)
		{
			char path[64];
			long long port = 0;

			snprintf(path, sizeof(path), "ports[%zu].", i);
			if (!json_is_object(v))
				return bad(pc, "ports[%zu]: expected an object", i);
			if (get_str(pc, v, "name", path, &str) < 0 ||
			    proto_parse(pc, v, path, &s->ports[i].proto) < 0 ||
			    get_int(pc, v, "port", path, 0, 65535, &port) < 0)
				return -EINVAL;
			if (str && !(s->ports[i].name = intern_get(str)))
				return bad(pc, "out of memory");
			s->ports[i].port = (__u16)port;
		}
	}

	if (get_typed(pc, root, "endpoints", "", JSON_ARRAY, &eps) < 0)
		return -EINVAL;
	if (eps && json_array_size(eps)) {
		int family = s->address_type == KUBE_ADDR_IPV4	 ? 4
			     : s->address_type == KUBE_ADDR_IPV6 ? 6
								 : 0;

		s->endpoints = calloc(json_array_size(eps), sizeof(*s->endpoints));
		if (!s->endpoints)
			return bad(pc, "out of memory");
		s->n_endpoints = (__u32)json_array_size(eps);
		json_array_foreach(eps, i, v)
		{
			if (endpoint_parse(pc, v, i, family, &s->endpoints[i]) < 0)
				return -EINVAL;
		}
	}
	return 0;
}

static int node_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	struct kube_node *n = &o->u.node;
	json_t *spec, *cidrs, *status, *addrs, *v;
	const char *str, *zone;
	size_t i;

	if (get_typed(pc, root, "spec", "", JSON_OBJECT, &spec) < 0 ||
	    get_typed(pc, spec, "podCIDRs", "spec.", JSON_ARRAY, &cidrs) < 0 ||
	    get_str(pc, spec, "podCIDR", "spec.", &str) < 0)
		return -EINVAL;
	if (cidrs && json_array_size(cidrs)) {
		json_array_foreach(cidrs, i, v)
		{
			char path[64];

			snprintf(path, sizeof(path), "spec.podCIDRs[%zu]", i);
			if (!json_is_string(v))
				return bad(pc, "%s: expected a string", path);
			if (i >= 2)
				return bad(pc, "spec.podCIDRs: more than 2 entries");
			if (cidr_parse(pc, json_string_value(v), path,
				       &n->pod_cidrs[n->n_pod_cidrs++]) < 0)
				return -EINVAL;
		}
	} else if (str && str[0]) {
		if (cidr_parse(pc, str, "spec.podCIDR", &n->pod_cidrs[n->n_pod_cidrs++]) < 0)
			return -EINVAL;
	}

	if (get_typed(pc, root, "status", "", JSON_OBJECT, &status) < 0 ||
	    get_typed(pc, status, "addresses", "status.", JSON_ARRAY, &addrs) < 0)
		return -EINVAL;
	json_array_foreach(addrs, i, v)
	{
		const char *type, *addr;
		char path[64];
		struct kube_ip ip;

		snprintf(path, sizeof(path), "status.addresses[%zu].", i);
		if (!json_is_object(v))
			return bad(pc, "status.addresses[%zu]: expected an object", i);
		if (get_str(pc, v, "type", path, &type) < 0 ||
		    get_str(pc, v, "address", path, &addr) < 0)
			return -EINVAL;
		if (!type || !addr || (strcmp(type, "InternalIP") && strcmp(type, "ExternalIP")))
			continue;
		snprintf(path, sizeof(path), "status.addresses[%zu].address", i);
		if (ip_parse(pc, addr, 0, path, &ip) < 0)
			return -EINVAL;
		if (!strcmp(type, "InternalIP") && n->n_internal_ips < 2)
			n->internal_ips[n->n_internal_ips++] = ip;
		else if (!strcmp(type, "ExternalIP") && n->n_external_ips < 2)
			n->external_ips[n->n_external_ips++] = ip;
	}
	zone = label_get(meta, "topology.kubernetes.io/zone");
	if (zone && !(n->zone = intern_get(zone)))
		return bad(pc, "out of memory");
	return 0;
}

static int pod_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	static const char *const phases[] = {"Pending", "Running", "Succeeded", "Failed",
					     "Unknown"};
	struct kube_pod *p = &o->u.pod;
	json_t *spec, *status, *ips, *v;
	const char *str;
	size_t i;

	if (get_str(pc, meta, "uid", "metadata.", &str) < 0)
		return -EINVAL;
	if (str && !(p->uid = strdup(str)))
		return bad(pc, "out of memory");
	if (labels_parse(pc, meta, &p->labels, &p->n_labels) < 0)
		return -EINVAL;
	if (get_typed(pc, root, "spec", "", JSON_OBJECT, &spec) < 0 ||
	    get_bool(pc, spec, "hostNetwork", "spec.", &p->host_network) < 0)
		return -EINVAL;
	if (get_typed(pc, root, "status", "", JSON_OBJECT, &status) < 0 ||
	    get_str(pc, status, "phase", "status.", &str) < 0 ||
	    get_typed(pc, status, "podIPs", "status.", JSON_ARRAY, &ips) < 0)
		return -EINVAL;
	p->phase = KUBE_POD_PENDING;
	for (i = 0; str && i < sizeof(phases) / sizeof(phases[0]); i++)
		if (!strcmp(phases[i], str))
			p->phase = (__u8)i;
	json_array_foreach(ips, i, v)
	{
		char path[64];

		snprintf(path, sizeof(path), "status.podIPs[%zu].ip", i);
		if (!json_is_object(v) || !json_is_string(json_object_get(v, "ip")))
			return bad(pc, "%s: expected a string", path);
		if (p->n_ips >= 2)
			return bad(pc, "status.podIPs: more than 2 entries");
		if (ip_parse(pc, json_string_value(json_object_get(v, "ip")), 0, path,
			     &p->ips[p->n_ips++]) < 0)
			return -EINVAL;
	}
	if (!p->n_ips) {
		if (get_str(pc, status, "podIP", "status.", &str) < 0)
			return -EINVAL;
		if (str && str[0] && ip_parse(pc, str, 0, "status.podIP", &p->ips[p->n_ips++]) < 0)
			return -EINVAL;
	}
	return 0;
}

static int ns_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	return labels_parse(pc, meta, &o->u.ns.labels, &o->u.ns.n_labels);
}

static int netpol_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	json_t *spec;

	if (get_typed(pc, root, "spec", "", JSON_OBJECT, &spec) < 0)
		return -EINVAL;
	if (!spec)
		return bad(pc, "spec: missing");
	if (!json_is_object(json_object_get(spec, "podSelector")))
		return bad(pc, "spec.podSelector: expected an object");
	o->u.np.spec = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
	return o->u.np.spec ? 0 : bad(pc, "out of memory");
}

static int (*const parsers[KUBE_KIND_MAX])(struct pctx *pc, json_t *root, json_t *meta,
					   struct kube_obj *o) = {
    [KUBE_SERVICE] = svc_parse, [KUBE_ENDPOINTSLICE] = eps_parse, [KUBE_NODE] = node_parse,
    [KUBE_POD] = pod_parse,	[KUBE_NAMESPACE] = ns_parse,	  [KUBE_NETPOL] = netpol_parse,
};

static void labels_free(struct kube_label *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		intern_put(l[i].key);
		intern_put(l[i].value);
	}
	free(l);
}

void kube_obj_free(struct kube_obj *o)
{
	if (!o)
		return;
	switch (o->kind) {
	case KUBE_SERVICE:
		for (size_t i = 0; i < o->u.svc.n_ports; i++) {
			intern_put(o->u.svc.ports[i].name);
			intern_put(o->u.svc.ports[i].target_name);
		}
		free(o->u.svc.ports);
		free(o->u.svc.external_ips);
		break;
	case KUBE_ENDPOINTSLICE:
		intern_put(o->u.eps.service);
		for (size_t i = 0; i < o->u.eps.n_ports; i++)
			intern_put(o->u.eps.ports[i].name);
		for (size_t i = 0; i < o->u.eps.n_endpoints; i++) {
			struct kube_endpoint *e = &o->u.eps.endpoints[i];

			intern_put(e->node);
			intern_put(e->zone);
			for (size_t j = 0; j < (size_t)e->n_zone_hints + e->n_node_hints; j++)
				intern_put(e->hints[j]);
			free(e->hints);
		}
		free(o->u.eps.ports);
		free(o->u.eps.endpoints);
		break;
	case KUBE_NODE:
		intern_put(o->u.node.zone);
		break;
	case KUBE_POD:
		free(o->u.pod.uid);
		labels_free(o->u.pod.labels, o->u.pod.n_labels);
		break;
	case KUBE_NAMESPACE:
		labels_free(o->u.ns.labels, o->u.ns.n_labels);
		break;
	case KUBE_NETPOL:
		free(o->u.np.spec);
		break;
	}
	intern_put(o->ns);
	free(o);
}

/* metadata.namespace and .name into ns/name (either may be NULL). */
static int meta_key(struct pctx *pc, enum kube_kind k, json_t *root, json_t **meta, char *ns,
		    char *name)
{
	const char *n = NULL, *s = NULL;

	if (get_typed(pc, root, "metadata", "", JSON_OBJECT, meta) < 0)
		return -EINVAL;
	if (!*meta)
		return bad(pc, "metadata: missing");
	if (get_str(pc, *meta, "namespace", "metadata.", &s) < 0)
		return -EINVAL;
	if (s && ns && strlen(s) < KUBE_NS_MAX)
		strcpy(ns, s);
	if (get_str(pc, *meta, "name", "metadata.", &n) < 0)
		return -EINVAL;
	if (n && name && strlen(n) < KUBE_NAME_MAX)
		strcpy(name, n);
	if (!n || !n[0])
		return bad(pc, "metadata.name: missing");
	if (strlen(n) >= KUBE_NAME_MAX)
		return bad(pc, "metadata.name: longer than %d characters", KUBE_NAME_MAX - 1);
	if (kube_kind_namespaced(k) && (!s || !s[0]))
		return bad(pc, "metadata.namespace: missing");
	if (s && strlen(s) >= KUBE_NS_MAX)
		return bad(pc, "metadata.namespace: longer than %d characters", KUBE_NS_MAX - 1);
	return 0;
}

static struct kube_obj *obj_from_json(enum kube_kind k, json_t *root, char *ns, char *name,
				      char *why, size_t why_len)
{
	struct pctx pc = {why, why_len};
	char ns_buf[KUBE_NS_MAX] = "", name_buf[KUBE_NAME_MAX] = "";
	struct kube_obj *o;
	const char *n;
	json_t *meta;

	if (ns)
		ns[0] = '\0';
	if (name)
		name[0] = '\0';
	if (!json_is_object(root)) {
		bad(&pc, "not a JSON object");
		return NULL;
	}
	if (meta_key(&pc, k, root, &meta, ns ? ns : ns_buf, name ? name : name_buf) < 0)
		return NULL;
	n = json_string_value(json_object_get(meta, "name"));
	o = calloc(1, sizeof(*o) + strlen(n) + 1);
	if (!o) {
		bad(&pc, "out of memory");
		return NULL;
	}
	o->kind = (__u8)k;
	strcpy(o->name, n);
	o->ns = intern_get(
	    kube_kind_namespaced(k) ? json_string_value(json_object_get(meta, "namespace")) : "");
	if (!o->ns) {
		bad(&pc, "out of memory");
		goto out_free;
	}
	if (parsers[k](&pc, root, meta, o) < 0)
		goto out_free;
	return o;
out_free:
	kube_obj_free(o);
	return NULL;
}

struct kube_obj *kube_obj_parse(enum kube_kind k, const char *buf, size_t len, char *ns_out,
				char *name_out, char *why, size_t why_len)
{
	json_auto_t *root = NULL;
	json_error_t jerr;

	if (ns_out)
		ns_out[0] = '\0';
	if (name_out)
		name_out[0] = '\0';
	root = json_loadb(buf, len, 0, &jerr);
	if (!root) {
		snprintf(why, why_len, "not JSON: %s", jerr.text);
		return NULL;
	}
	return obj_from_json(k, root, ns_out, name_out, why, why_len);
}

int kube_page_parse(enum kube_kind k, const char *buf, size_t len, const struct kube_page_ops *ops,
		    void *ctx, char *rv, char **cont, char *why, size_t why_len)
{
	json_auto_t *root = NULL;
	json_error_t jerr;
	json_t *meta, *items, *item, *v;
	size_t i;

	*cont = NULL;
	rv[0] = '\0';
	root = json_loadb(buf, len, 0, &jerr);
	if (!root) {
		snprintf(why, why_len, "list is not JSON: %s", jerr.text);
		return -EBADMSG;
	}
	meta = json_object_get(root, "metadata");
	v = json_object_get(meta, "resourceVersion");
	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= KUBE_RV_MAX) {
		snprintf(why, why_len, "list has no valid metadata.resourceVersion");
		return -EBADMSG;
	}
	strcpy(rv, json_string_value(v));
	items = json_object_get(root, "items");
	if (items && !json_is_null(items) && !json_is_array(items)) {
		snprintf(why, why_len, "list items is not an array");
		return -EBADMSG;
	}
	v = json_object_get(meta, "continue");
	if (json_is_string(v) && json_string_length(v)) {
		*cont = strdup(json_string_value(v));
		if (!*cont)
			return -ENOMEM;
	}
	json_array_foreach(items, i, item)
	{
		char ns[KUBE_NS_MAX], name[KUBE_NAME_MAX], reason[KUBE_WHY_MAX];
		struct kube_obj *o = obj_from_json(k, item, ns, name, reason, sizeof(reason));

		if (o)
			ops->item(ctx, o);
		else
			ops->bad(ctx, ns, name, reason);
	}
	return 0;
}

static const char *const ev_types[] = {
    [KUBE_EV_ADDED] = "ADDED",	     [KUBE_EV_MODIFIED] = "MODIFIED", [KUBE_EV_DELETED] = "DELETED",
    [KUBE_EV_BOOKMARK] = "BOOKMARK", [KUBE_EV_ERROR] = "ERROR",
};

int kube_event_parse(enum kube_kind k, const char *line, size_t len, struct kube_event *ev,
		     char *why, size_t why_len)
{
	json_auto_t *root = NULL;
	json_error_t jerr;
	const char *type;
	json_t *obj, *meta, *v;
	size_t i;

	memset(ev, 0, sizeof(*ev));
	root = json_loadb(line, len, 0, &jerr);
	if (!root) {
		snprintf(why, why_len, "watch line is not JSON: %s", jerr.text);
		return -EBADMSG;
	}
	type = json_string_value(json_object_get(root, "type"));
	obj = json_object_get(root, "object");
	if (!type || !json_is_object(obj)) {
		snprintf(why, why_len, "watch line has no type or object");
		return -EBADMSG;
	}
	for (i = 0; i < sizeof(ev_types) / sizeof(ev_types[0]) && strcmp(ev_types[i], type); i++)
		;
	if (i == sizeof(ev_types) / sizeof(ev_types[0])) {
		snprintf(why, why_len, "unknown watch event type '%.32s'", type);
		return -EBADMSG;
	}
	ev->type = (enum kube_ev_type)i;
	meta = json_object_get(obj, "metadata");
	v = json_object_get(meta, "resourceVersion");
	if (json_is_string(v) && json_string_length(v) < KUBE_RV_MAX)
		strcpy(ev->rv, json_string_value(v));

	switch (ev->type) {
	case KUBE_EV_ERROR:
		v = json_object_get(obj, "code");
		ev->code = json_is_integer(v) ? (int)json_integer_value(v) : 0;
		snprintf(ev->reason, sizeof(ev->reason), "%s",
			 json_string_value(json_object_get(obj, "reason")) ?: "");
		snprintf(ev->message, sizeof(ev->message), "%s",
			 json_string_value(json_object_get(obj, "message")) ?: "");
		return 0;
	case KUBE_EV_BOOKMARK:
		if (!ev->rv[0]) {
			snprintf(why, why_len, "BOOKMARK without metadata.resourceVersion");
			return -EBADMSG;
		}
		return 0;
	default:
		ev->obj = obj_from_json(k, obj, ev->ns, ev->name, why, why_len);
		return ev->obj ? 0 : -EINVAL;
	}
}

int kube_status_parse(const char *buf, size_t len, int *code, char *msg, size_t msg_len)
{
	json_auto_t *root = json_loadb(buf, len, 0, NULL);
	json_t *m;

	if (!json_is_object(root) || !json_is_string(json_object_get(root, "kind")) ||
	    strcmp(json_string_value(json_object_get(root, "kind")), "Status"))
		return -EBADMSG;
	*code = json_is_integer(json_object_get(root, "code"))
		    ? (int)json_integer_value(json_object_get(root, "code"))
		    : 0;
	m = json_object_get(root, "message");
	snprintf(msg, msg_len, "%s", json_is_string(m) ? json_string_value(m) : "");
	return 0;
}
