// SPDX-License-Identifier: Apache-2.0
/* Parses a Node: pod CIDRs, addresses, zone, and whether it is on its way out. */
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

/* kube-proxy's nodeEligible facts: a deletionTimestamp, the cluster autoscaler's taint. */
static int node_leaving_parse(struct pctx *pc, json_t *meta, json_t *spec, struct kube_node *n)
{
	json_t *taints, *v;
	size_t i;

	n->deleting = kp_field(meta, "deletionTimestamp") != NULL;
	if (kp_get_typed(pc, spec, "taints", "spec.", JSON_ARRAY, &taints) < 0)
		return -EINVAL;
	json_array_foreach(taints, i, v) {
		const char *key;
		char path[48];

		snprintf(path, sizeof(path), "spec.taints[%zu].", i);
		if (!json_is_object(v))
			return kp_bad(pc, "spec.taints[%zu]: expected an object", i);
		if (kp_get_str(pc, v, "key", path, &key) < 0)
			return -EINVAL;
		n->to_be_deleted |= key && !strcmp(key, "ToBeDeletedByClusterAutoscaler");
	}
	return 0;
}

int kube_node_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	struct kube_node *n = &o->u.node;
	json_t *spec, *cidrs, *status, *addrs, *v;
	const char *str, *zone;
	size_t i;

	if (kp_get_typed(pc, root, "spec", "", JSON_OBJECT, &spec) < 0 ||
	    kp_get_typed(pc, spec, "podCIDRs", "spec.", JSON_ARRAY, &cidrs) < 0 ||
	    kp_get_str(pc, spec, "podCIDR", "spec.", &str) < 0)
		return -EINVAL;
	if (node_leaving_parse(pc, meta, spec, n) < 0)
		return -EINVAL;
	if (cidrs && json_array_size(cidrs)) {
		json_array_foreach(cidrs, i, v) {
			char path[64];

			snprintf(path, sizeof(path), "spec.podCIDRs[%zu]", i);
			if (!json_is_string(v))
				return kp_bad(pc, "%s: expected a string", path);
			if (i >= 2)
				return kp_bad(pc, "spec.podCIDRs: more than 2 entries");
			if (kp_cidr_parse(pc, json_string_value(v), path,
					  &n->pod_cidrs[n->n_pod_cidrs++]) < 0)
				return -EINVAL;
		}
	} else if (str && str[0]) {
		if (kp_cidr_parse(pc, str, "spec.podCIDR", &n->pod_cidrs[n->n_pod_cidrs++]) < 0)
			return -EINVAL;
	}

	if (kp_get_typed(pc, root, "status", "", JSON_OBJECT, &status) < 0 ||
	    kp_get_typed(pc, status, "addresses", "status.", JSON_ARRAY, &addrs) < 0)
		return -EINVAL;
	json_array_foreach(addrs, i, v) {
		const char *type, *addr;
		char path[64];
		struct kube_ip ip;

		snprintf(path, sizeof(path), "status.addresses[%zu].", i);
		if (!json_is_object(v))
			return kp_bad(pc, "status.addresses[%zu]: expected an object", i);
		if (kp_get_str(pc, v, "type", path, &type) < 0 ||
		    kp_get_str(pc, v, "address", path, &addr) < 0)
			return -EINVAL;
		if (!type || !addr || (strcmp(type, "InternalIP") && strcmp(type, "ExternalIP")))
			continue;
		snprintf(path, sizeof(path), "status.addresses[%zu].address", i);
		if (kp_ip_parse(pc, addr, 0, path, &ip) < 0)
			return -EINVAL;
		if (!strcmp(type, "InternalIP") && n->n_internal_ips < 2)
			n->internal_ips[n->n_internal_ips++] = ip;
		else if (!strcmp(type, "ExternalIP") && n->n_external_ips < 2)
			n->external_ips[n->n_external_ips++] = ip;
	}
	zone = kp_label_get(meta, "topology.kubernetes.io/zone");
	if (zone && !(n->zone = intern_get(zone)))
		return kp_bad(pc, "out of memory");
	return 0;
}
