// SPDX-License-Identifier: Apache-2.0
/* agent-names.json (jansson): the Kubernetes names behind the maps' ids and
 * addresses (service ports, pods, nodes), for the CLI's tables, `monitor`
 * and `explain`, which read it without the API and while the agent is down.
 * Written entry by entry: 10k Services must not build a 10k-object tree. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "kube_store.h"
#include "names.h"
#include "status.h"
#include "svc_publish.h"

struct names_out {
	FILE *f;
	const struct svc_pub *svc;
	const struct kube_store *svcs, *pods, *nodes;
	bool first; /* no entry yet in the current array */
};

/* One array element; o is consumed. */
static int entry_put(struct names_out *c, json_t *o)
{
	int r;

	if (!o)
		return -ENOMEM;
	r = fputs(c->first ? "\n  " : ",\n  ", c->f) == EOF ||
		    json_dumpf(o, c->f, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0
		? -EIO
		: 0;
	c->first = false;
	json_decref(o);
	return r;
}

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

/* svc is the Service's "namespace/name". */
static int port_add(__u32 id, const char *svc, __be32 vip, __be16 port, __u8 proto, void *ctx)
{
	struct names_out *c = ctx;
	const char *slash = strchr(svc, '/');
	char ns[KUBE_NS_MAX];
	const char *pn;

	(void)vip;
	if (!slash || (size_t)(slash - svc) >= sizeof(ns))
		return 0;
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - svc), svc);
	pn = port_name(c->svcs, ns, slash + 1, port, proto);
	return entry_put(c, json_pack("{s:I, s:s, s:s, s:s?}", "id", (json_int_t)id, "namespace",
				      ns, "name", slash + 1, "port", pn));
}

static int pod_add(const struct kube_obj *o, void *ctx)
{
	char ip[INET_ADDRSTRLEN];
	int r;

	for (int i = 0; i < o->u.pod.n_ips; i++) {
		if (o->u.pod.ips[i].family != 4 || o->u.pod.host_network)
			continue;
		inet_ntop(AF_INET, o->u.pod.ips[i].addr, ip, sizeof(ip));
		r = entry_put(ctx, json_pack("{s:s, s:s, s:s, s:s?}", "ip", ip, "namespace", o->ns,
					     "name", o->name, "node", o->u.pod.node));
		if (r)
			return r;
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
	return entry_put(ctx,
			 json_pack("{s:s, s:s, s:s}", "name", o->name, "podCIDR", cidr, "ip", ip));
}

/* "name": [entries...] with the entries fn writes; sep leads it. */
static int array_put(struct names_out *c, const char *sep, const char *name,
		     int (*fn)(struct names_out *c))
{
	int r;

	if (fprintf(c->f, "%s\"%s\": [", sep, name) < 0)
		return -EIO;
	c->first = true;
	r = fn(c);
	if (!r && fputs(c->first ? "]" : "\n]", c->f) == EOF)
		r = -EIO;
	return r;
}

static int ports_put(struct names_out *c)
{
	return c->svc ? svc_pub_port_foreach(c->svc, port_add, c) : 0;
}

static int pods_put(struct names_out *c)
{
	return c->pods ? kube_store_foreach(c->pods, pod_add, c) : 0;
}

static int nodes_put(struct names_out *c)
{
	return c->nodes ? kube_store_foreach(c->nodes, node_add, c) : 0;
}

static int names_fill(FILE *f, void *ctx)
{
	struct names_out *c = ctx;
	int r;

	c->f = f;
	if (fprintf(f, "{\"version\": %d", NAMES_VERSION) < 0)
		return -EIO;
	r = array_put(c, ",\n", "servicePorts", ports_put);
	if (!r)
		r = array_put(c, ",\n", "pods", pods_put);
	if (!r)
		r = array_put(c, ",\n", "nodes", nodes_put);
	if (!r && fputs("}\n", f) == EOF)
		r = -EIO;
	return r;
}

int names_publish(const char *path, const struct svc_pub *svc, const struct kube_store *svcs,
		  const struct kube_store *pods, const struct kube_store *nodes)
{
	struct names_out c = {.svc = svc, .svcs = svcs, .pods = pods, .nodes = nodes};

	return status_file_write_with(path, names_fill, &c);
}
