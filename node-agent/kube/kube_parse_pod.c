// SPDX-License-Identifier: Apache-2.0
/* Parses what network policy selects on: Pods, Namespaces, and NetworkPolicies. */
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
	    kp_get_bool(pc, spec, "hostNetwork", "spec.", &p->host_network) < 0)
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

int kube_netpol_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	json_t *spec;

	if (kp_get_typed(pc, root, "spec", "", JSON_OBJECT, &spec) < 0)
		return -EINVAL;
	if (!spec)
		return kp_bad(pc, "spec: missing");
	if (!json_is_object(json_object_get(spec, "podSelector")))
		return kp_bad(pc, "spec.podSelector: expected an object");
	o->u.np.spec = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
	return o->u.np.spec ? 0 : kp_bad(pc, "out of memory");
}
