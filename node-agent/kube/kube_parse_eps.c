// SPDX-License-Identifier: Apache-2.0
/* Parses an EndpointSlice: its Service, ports and endpoints with conditions and topology hints. */
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

static int hints_parse(struct pctx *pc, json_t *hints, const char *key, const char *path,
		       json_t **arr)
{
	json_t *v;
	size_t i;

	if (kp_get_typed(pc, hints, key, path, JSON_ARRAY, arr) < 0)
		return -EINVAL;
	if (*arr && json_array_size(*arr) > 255)
		return kp_bad(pc, "%s%s: too many hints", path, key);
	json_array_foreach(*arr, i, v) {
		if (!json_is_object(v) || !json_is_string(json_object_get(v, "name")))
			return kp_bad(pc, "%s%s[%zu].name: expected a string", path, key, i);
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
		return kp_bad(pc, "endpoints[%zu]: expected an object", i);
	if (kp_get_typed(pc, e, "addresses", path, JSON_ARRAY, &addrs) < 0)
		return -EINVAL;
	if (!addrs || !json_array_size(addrs) || !json_is_string(json_array_get(addrs, 0)))
		return kp_bad(pc, "%saddresses: expected at least one address string", path);
	if (family) {
		snprintf(path, sizeof(path), "endpoints[%zu].addresses[0]", i);
		if (kp_ip_parse(pc, json_string_value(json_array_get(addrs, 0)), family, path,
				&ep->addr) < 0)
			return -EINVAL;
		snprintf(path, sizeof(path), "endpoints[%zu].", i);
	}
	if (kp_get_typed(pc, e, "conditions", path, JSON_OBJECT, &cond) < 0)
		return -EINVAL;
	if (cond && (kp_get_bool(pc, cond, "ready", "conditions.", &ready) < 0 ||
		     kp_get_bool(pc, cond, "serving", "conditions.", &serving) < 0 ||
		     kp_get_bool(pc, cond, "terminating", "conditions.", &terminating) < 0))
		return -EINVAL;
	ep->cond = (ready ? KUBE_EP_READY : 0) | (serving ? KUBE_EP_SERVING : 0) |
		   (terminating ? KUBE_EP_TERMINATING : 0);
	if (kp_get_str(pc, e, "nodeName", path, &node) < 0 ||
	    kp_get_str(pc, e, "zone", path, &zone) < 0)
		return -EINVAL;
	if ((node && !(ep->node = intern_get(node))) || (zone && !(ep->zone = intern_get(zone))))
		return kp_bad(pc, "out of memory");
	if (kp_get_typed(pc, e, "hints", path, JSON_OBJECT, &hints) < 0)
		return -EINVAL;
	if (hints && (hints_parse(pc, hints, "forZones", "hints.", &zones) < 0 ||
		      hints_parse(pc, hints, "forNodes", "hints.", &nodes) < 0))
		return -EINVAL;
	if (!json_array_size(zones) && !json_array_size(nodes))
		return 0;
	ep->hints = calloc(json_array_size(zones) + json_array_size(nodes), sizeof(*ep->hints));
	if (!ep->hints)
		return kp_bad(pc, "out of memory");
	ep->n_zone_hints = (__u8)json_array_size(zones);
	ep->n_node_hints = (__u8)json_array_size(nodes);
	json_array_foreach(zones, j, v)
		ep->hints[n++] = intern_get(json_string_value(json_object_get(v, "name")));
	json_array_foreach(nodes, j, v)
		ep->hints[n++] = intern_get(json_string_value(json_object_get(v, "name")));
	for (j = 0; j < n; j++)
		if (!ep->hints[j])
			return kp_bad(pc, "out of memory");
	return 0;
}

int kube_eps_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	static const char *const types[] = {"IPv4", "IPv6", "FQDN"};
	struct kube_endpointslice *s = &o->u.eps;
	const char *str, *svc;
	json_t *ports, *eps, *v;
	size_t i;

	if (kp_get_str(pc, root, "addressType", "", &str) < 0)
		return -EINVAL;
	if (!str)
		return kp_bad(pc, "addressType: missing");
	for (i = 0; i < 3 && strcmp(types[i], str); i++)
		;
	if (i == 3)
		return kp_bad(pc, "addressType: unknown type '%.16s'", str);
	s->address_type = (__u8)i;
	svc = kp_label_get(meta, "kubernetes.io/service-name");
	if (svc && !(s->service = intern_get(svc)))
		return kp_bad(pc, "out of memory");

	if (kp_get_typed(pc, root, "ports", "", JSON_ARRAY, &ports) < 0)
		return -EINVAL;
	if (kp_ports_alloc(pc, ports, "ports", sizeof(*s->ports), (void **)&s->ports, &s->n_ports) <
	    0)
		return -EINVAL;
	json_array_foreach(ports, i, v) {
		char path[64];
		long long port = 0;

		snprintf(path, sizeof(path), "ports[%zu].", i);
		if (!json_is_object(v))
			return kp_bad(pc, "ports[%zu]: expected an object", i);
		if (kp_get_str(pc, v, "name", path, &str) < 0 ||
		    kp_proto_parse(pc, v, path, &s->ports[i].proto) < 0 ||
		    kp_get_int(pc, v, "port", path, 0, 65535, &port) < 0)
			return -EINVAL;
		if (str && !(s->ports[i].name = intern_get(str)))
			return kp_bad(pc, "out of memory");
		s->ports[i].port = (__u16)port;
	}

	if (kp_get_typed(pc, root, "endpoints", "", JSON_ARRAY, &eps) < 0)
		return -EINVAL;
	if (eps && json_array_size(eps)) {
		int family = s->address_type == KUBE_ADDR_IPV4	 ? 4
			     : s->address_type == KUBE_ADDR_IPV6 ? 6
								 : 0;

		s->endpoints = calloc(json_array_size(eps), sizeof(*s->endpoints));
		if (!s->endpoints)
			return kp_bad(pc, "out of memory");
		s->n_endpoints = (__u32)json_array_size(eps);
		json_array_foreach(eps, i, v) {
			if (endpoint_parse(pc, v, i, family, &s->endpoints[i]) < 0)
				return -EINVAL;
		}
	}
	return 0;
}
