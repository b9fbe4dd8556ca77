// SPDX-License-Identifier: Apache-2.0
/* agent-names.json (jansson): the Kubernetes names behind the maps' ids and
 * addresses (service ports, pods, nodes), for the CLI's tables, `monitor`
 * and `explain`, which read it without the API and while the agent is down. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "kube_store.h"
#include "names.h"
#include "status.h"
#include "svc_publish.h"

struct port_ctx {
	const struct kube_store *svcs;
	json_t *arr;
};

/* The Service port's name ("" unnamed) from the Service store, NULL unknown. */
static const char *port_name(const struct kube_store *svcs, const char *ns, const char *name,
			     __be16 port, __u8 proto)
{
	const struct kube_obj *o = svcs ? kube_store_get(svcs, ns, name) : NULL;

	for (size_t i = 0; o && i < o->u.svc.n_ports; i++)
		if (o->u.svc.ports[i].port == ntohs(port) && o->u.svc.ports[i].proto == proto)
			return o->u.svc.ports[i].name;
	return NULL;
}

static int port_add(__u32 id, const char *ns, const char *name, __u64 key, void *ctx)
{
	struct port_ctx *c = ctx;
	__be16 port = (__be16)(key >> 8);
	const char *pn = port_name(c->svcs, ns, name, port, (__u8)key);

	return json_array_append_new(c->arr,
				     json_pack("{s:I, s:s, s:s, s:s?}", "id", (json_int_t)id,
					       "namespace", ns, "name", name, "port", pn))
		   ? -ENOMEM
		   : 0;
}

static int pod_add(const struct kube_obj *o, void *ctx)
{
	char ip[INET_ADDRSTRLEN];

	for (int i = 0; i < o->u.pod.n_ips; i++) {
		if (o->u.pod.ips[i].family != 4 || o->u.pod.host_network)
			continue;
		inet_ntop(AF_INET, o->u.pod.ips[i].addr, ip, sizeof(ip));
		if (json_array_append_new(ctx,
					  json_pack("{s:s, s:s, s:s, s:s?}", "ip", ip, "namespace",
						    o->ns, "name", o->name, "node", o->u.pod.node)))
			return -ENOMEM;
	}
	return 0;
}

static int node_add(const struct kube_obj *o, void *ctx)
{
	const struct kube_node *n = &o->u.node;
	char ip[INET_ADDRSTRLEN] = "", cidr[INET_ADDRSTRLEN + 4] = "";

	for (int i = 0; i < n->n_pod_cidrs && !cidr[0]; i++)
		if (n->pod_cidrs[i].ip.family == 4) {
			inet_ntop(AF_INET, n->pod_cidrs[i].ip.addr, cidr, sizeof(cidr));
			snprintf(cidr + strlen(cidr), sizeof(cidr) - strlen(cidr), "/%u",
				 n->pod_cidrs[i].prefix);
		}
	for (int i = 0; i < n->n_internal_ips && !ip[0]; i++)
		if (n->internal_ips[i].family == 4)
			inet_ntop(AF_INET, n->internal_ips[i].addr, ip, sizeof(ip));
	return json_array_append_new(
		   ctx, json_pack("{s:s, s:s, s:s}", "name", o->name, "podCIDR", cidr, "ip", ip))
		   ? -ENOMEM
		   : 0;
}

int names_publish(const char *path, const struct svc_pub *svc, const struct kube_store *svcs,
		  const struct kube_store *pods, const struct kube_store *nodes)
{
	json_t *j = json_pack("{s:i, s:[], s:[], s:[]}", "version", NAMES_VERSION, "servicePorts",
			      "pods", "nodes");
	struct port_ctx pc = {.svcs = svcs};
	int r = j ? 0 : -ENOMEM;

	if (!r && svc) {
		pc.arr = json_object_get(j, "servicePorts");
		r = svc_pub_foreach_port(svc, port_add, &pc);
	}
	if (!r && pods)
		r = kube_store_foreach(pods, pod_add, json_object_get(j, "pods"));
	if (!r && nodes)
		r = kube_store_foreach(nodes, node_add, json_object_get(j, "nodes"));
	if (!r)
		r = status_file_write(path, j);
	json_decref(j);
	return r;
}
