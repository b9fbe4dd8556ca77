// SPDX-License-Identifier: Apache-2.0
/* Parses what network policy selects on: Pods and Namespaces. */
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

/* The ports of every container in spec[key] appended to p->ports. */
static int pod_ports_parse(struct pctx *pc, json_t *spec, const char *key, struct kube_pod *p)
{
	json_t *ctrs, *c, *ports, *v;
	size_t i, j;

	if (kp_get_typed(pc, spec, key, "spec.", JSON_ARRAY, &ctrs) < 0)
		return -EINVAL;
	json_array_foreach(ctrs, i, c) {
		struct kube_pod_port *np;
		char path[64];

		snprintf(path, sizeof(path), "spec.%s[%zu].", key, i);
		if (!json_is_object(c))
			return kp_bad(pc, "spec.%s[%zu]: expected an object", key, i);
		if (kp_get_typed(pc, c, "ports", path, JSON_ARRAY, &ports) < 0)
			return -EINVAL;
		if (!ports || !json_array_size(ports))
			continue;
		if (p->n_ports + json_array_size(ports) > 0xffff)
			return kp_bad(pc, "%sports: too many ports", path);
		np = realloc(p->ports, (p->n_ports + json_array_size(ports)) * sizeof(*np));
		if (!np)
			return kp_bad(pc, "out of memory");
		p->ports = np;
		json_array_foreach(ports, j, v) {
			struct kube_pod_port *pp = &p->ports[p->n_ports];
			long long port = 0;
			const char *name = NULL;

			snprintf(path, sizeof(path), "spec.%s[%zu].ports[%zu].", key, i, j);
			memset(pp, 0, sizeof(*pp));
			if (!json_is_object(v))
				return kp_bad(pc, "%s: expected an object", path);
			if (kp_get_str(pc, v, "name", path, &name) < 0 ||
			    kp_get_int(pc, v, "containerPort", path, 1, 65535, &port) < 0 ||
			    kp_proto_parse(pc, v, path, &pp->proto) < 0)
				return -EINVAL;
			if (!port)
				return kp_bad(pc, "%scontainerPort: missing", path);
			pp->port = (__u16)port;
			if (name && name[0] && !(pp->name = intern_get(name)))
				return kp_bad(pc, "out of memory");
			p->n_ports++;
		}
	}
	return 0;
}

int kube_pod_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	static const char *const phases[] = {"Pending", "Running", "Succeeded", "Failed",
					     "Unknown"};
	struct kube_pod *p = &o->u.pod;
	json_t *spec, *status, *ips, *v;
	const char *str;
	size_t i;

	if (kp_get_str(pc, meta, "uid", "metadata.", &str) < 0)
		return -EINVAL;
	if (str && !(p->uid = strdup(str)))
		return kp_bad(pc, "out of memory");
	if (kp_labels_parse(pc, meta, &p->labels, &p->n_labels) < 0)
		return -EINVAL;
	if (kp_get_typed(pc, root, "spec", "", JSON_OBJECT, &spec) < 0 ||
	    kp_get_bool(pc, spec, "hostNetwork", "spec.", &p->host_network) < 0 ||
	    kp_get_str(pc, spec, "nodeName", "spec.", &str) < 0)
		return -EINVAL;
	if (str && str[0] && !(p->node = intern_get(str)))
		return kp_bad(pc, "out of memory");
	if (spec && (pod_ports_parse(pc, spec, "containers", p) < 0 ||
		     pod_ports_parse(pc, spec, "initContainers", p) < 0))
		return -EINVAL;
	if (kp_get_typed(pc, root, "status", "", JSON_OBJECT, &status) < 0 ||
	    kp_get_str(pc, status, "phase", "status.", &str) < 0 ||
	    kp_get_typed(pc, status, "podIPs", "status.", JSON_ARRAY, &ips) < 0)
		return -EINVAL;
	p->phase = KUBE_POD_PENDING;
	for (i = 0; str && i < sizeof(phases) / sizeof(phases[0]); i++)
		if (!strcmp(phases[i], str))
			p->phase = (__u8)i;
	json_array_foreach(ips, i, v) {
		char path[64];

		snprintf(path, sizeof(path), "status.podIPs[%zu].ip", i);
		if (!json_is_object(v) || !json_is_string(json_object_get(v, "ip")))
			return kp_bad(pc, "%s: expected a string", path);
		if (p->n_ips >= 2)
			return kp_bad(pc, "status.podIPs: more than 2 entries");
		if (kp_ip_parse(pc, json_string_value(json_object_get(v, "ip")), 0, path,
				&p->ips[p->n_ips++]) < 0)
			return -EINVAL;
	}
	if (!p->n_ips) {
		if (kp_get_str(pc, status, "podIP", "status.", &str) < 0)
			return -EINVAL;
		if (str && str[0] &&
		    kp_ip_parse(pc, str, 0, "status.podIP", &p->ips[p->n_ips++]) < 0)
			return -EINVAL;
	}
	return 0;
}

int kube_ns_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	return kp_labels_parse(pc, meta, &o->u.ns.labels, &o->u.ns.n_labels);
}
