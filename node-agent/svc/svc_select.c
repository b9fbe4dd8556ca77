// SPDX-License-Identifier: Apache-2.0
/* kube-proxy's endpoint choice for one Service port (pkg/proxy/topology.go CategorizeEndpoints). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/abi.h"
#include "svc_select.h"

enum topo_mode { TOPO_NONE, TOPO_NODE, TOPO_ZONE };

struct cand {
	struct svc_backend be;
	__u8 cond;
	bool local;
	const struct kube_endpoint *ep;
};

bool svc_proxied(const struct kube_service *svc)
{
	if (svc->type == KUBE_SVC_EXTERNAL_NAME || svc->headless)
		return false;
	for (int i = 0; i < svc->n_cluster_ips; i++)
		if (svc->cluster_ips[i].family == 4)
			return true;
	return false;
}

static bool ready(const struct cand *c)
{
	return c->cond & KUBE_EP_READY;
}

static bool serving_terminating(const struct cand *c)
{
	return (c->cond & KUBE_EP_SERVING) && (c->cond & KUBE_EP_TERMINATING);
}

/* hints[first..first+n) holds want (interned strings compared by content). */
static bool hint_has(const struct kube_endpoint *ep, size_t first, size_t n, const char *want)
{
	for (size_t i = first; want && i < first + n; i++)
		if (!strcmp(ep->hints[i], want))
			return true;
	return false;
}

static bool node_hinted(const struct cand *c, const struct svc_node *node)
{
	return hint_has(c->ep, c->ep->n_zone_hints, c->ep->n_node_hints, node->name);
}

static bool zone_hinted(const struct cand *c, const struct svc_node *node)
{
	return hint_has(c->ep, 0, c->ep->n_zone_hints, node->zone);
}

/* PreferSameNode when every ready endpoint has a node hint and one is for
 * this node; else PreferSameZone likewise with zones; else none. */
static enum topo_mode topo_mode(const struct cand *c, size_t n, const struct svc_node *node)
{
	bool all_node = true, all_zone = true, match_node = false, match_zone = false, any = false;

	for (size_t i = 0; i < n; i++) {
		if (!ready(&c[i]))
			continue;
		any = true;
		all_node &= c[i].ep->n_node_hints > 0;
		all_zone &= c[i].ep->n_zone_hints > 0;
		match_node |= node_hinted(&c[i], node);
		match_zone |= zone_hinted(&c[i], node);
	}
	if (!any)
		return TOPO_NONE;
	if (all_node && match_node)
		return TOPO_NODE;
	if (all_zone && match_zone)
		return TOPO_ZONE;
	return TOPO_NONE;
}

static bool topo_available(const struct cand *c, enum topo_mode mode, const struct svc_node *node)
{
	switch (mode) {
	case TOPO_NODE:
		return node_hinted(c, node);
	case TOPO_ZONE:
		return zone_hinted(c, node);
	default:
		return true;
	}
}

/* The slice's port for sp: same name ("" and absent are the same) and protocol. */
static const struct kube_eps_port *slice_port(const struct kube_endpointslice *s,
					      const struct kube_svc_port *sp)
{
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct kube_eps_port *p = &s->ports[i];
		const char *name = p->name ? p->name : "";

		if (p->port && p->proto == sp->proto && !strcmp(name, sp->name ? sp->name : ""))
			return p;
	}
	return NULL;
}

static bool cand_seen(const struct cand *c, size_t n, __be32 ip, __be16 port)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].be.ip == ip && c[i].be.port == port)
			return true;
	return false;
}

static int backend_cmp(const void *x, const void *y)
{
	const struct svc_backend *a = x, *b = y;

	if (a->ip != b->ip)
		return ntohl(a->ip) < ntohl(b->ip) ? -1 : 1;
	return ntohs(a->port) < ntohs(b->port) ? -1 : ntohs(a->port) > ntohs(b->port);
}

static size_t cands_gather(const struct kube_svc_port *sp,
			   const struct kube_endpointslice *const *slices, size_t n_slices,
			   const struct svc_node *node, struct cand *c)
{
	size_t n = 0;

	for (size_t s = 0; s < n_slices; s++) {
		const struct kube_endpointslice *eps = slices[s];
		const struct kube_eps_port *p;

		if (eps->address_type != KUBE_ADDR_IPV4 || !(p = slice_port(eps, sp)))
			continue;
		for (size_t i = 0; i < eps->n_endpoints; i++) {
			const struct kube_endpoint *ep = &eps->endpoints[i];
			__be32 ip;

			if (ep->addr.family != 4)
				continue;
			memcpy(&ip, ep->addr.addr, 4);
			if (cand_seen(c, n, ip, htons(p->port)))
				continue;
			c[n] = (struct cand){
			    .be = {.ip = ip, .port = htons(p->port), .proto = sp->proto},
			    .cond = ep->cond,
			    .local = ep->node && node->name && !strcmp(ep->node, node->name),
			    .ep = ep,
			};
			c[n].be.flags = (c[n].local ? SL_BE_F_LOCAL : 0) |
					(ep->cond & KUBE_EP_TERMINATING ? SL_BE_F_TERMINATING : 0);
			n++;
		}
	}
	return n;
}

/* Copies the candidates keep() accepts to out; how many. */
static size_t cands_pick(const struct cand *c, size_t n, struct svc_backend *out,
			 bool (*keep)(const struct cand *c, enum topo_mode mode,
				      const struct svc_node *node),
			 enum topo_mode mode, const struct svc_node *node)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (keep(&c[i], mode, node))
			out[k++] = c[i].be;
	return k;
}

static bool keep_cluster_ready(const struct cand *c, enum topo_mode mode,
			       const struct svc_node *node)
{
	return ready(c) && topo_available(c, mode, node);
}

static bool keep_cluster_fallback(const struct cand *c, enum topo_mode mode,
				  const struct svc_node *node)
{
	return !ready(c) && serving_terminating(c);
}

static bool keep_local_ready(const struct cand *c, enum topo_mode mode, const struct svc_node *node)
{
	return c->local && ready(c);
}

static bool keep_local_fallback(const struct cand *c, enum topo_mode mode,
				const struct svc_node *node)
{
	return c->local && !ready(c) && serving_terminating(c);
}

int svc_select(const struct kube_service *svc, const struct kube_svc_port *sp,
	       const struct kube_endpointslice *const *slices, size_t n_slices,
	       const struct svc_node *node, struct svc_choice *out)
{
	return svc_select_policy(svc, sp, slices, n_slices, node, svc->itp_local, out);
}

int svc_select_policy(const struct kube_service *svc, const struct kube_svc_port *sp,
		      const struct kube_endpointslice *const *slices, size_t n_slices,
		      const struct svc_node *node, bool local, struct svc_choice *out)
{
	struct cand *c = NULL;
	size_t total = 0, n;
	bool any = false;

	memset(out, 0, sizeof(*out));
	if (svc->affinity_client_ip) {
		out->flags |= SL_SVC_F_AFFINITY;
		out->affinity_timeout = svc->affinity_timeout ? svc->affinity_timeout : 10800;
	}
	for (size_t s = 0; s < n_slices; s++)
		total += slices[s]->n_endpoints;
	if (total) {
		c = calloc(total, sizeof(*c));
		out->backends = calloc(total, sizeof(*out->backends));
		if (!c || !out->backends) {
			free(c);
			free(out->backends);
			out->backends = NULL;
			return -ENOMEM;
		}
	}
	n = cands_gather(sp, slices, n_slices, node, c);
	for (size_t i = 0; i < n; i++)
		any |= ready(&c[i]) || serving_terminating(&c[i]);
	if (local) {
		out->n = cands_pick(c, n, out->backends, keep_local_ready, TOPO_NONE, node);
		if (!out->n)
			out->n =
			    cands_pick(c, n, out->backends, keep_local_fallback, TOPO_NONE, node);
		if (!out->n && any)
			out->flags |= SL_SVC_F_DROP_EMPTY;
	} else {
		out->n = cands_pick(c, n, out->backends, keep_cluster_ready, topo_mode(c, n, node),
				    node);
		if (!out->n)
			out->n =
			    cands_pick(c, n, out->backends, keep_cluster_fallback, TOPO_NONE, node);
	}
	if (out->n)
		qsort(out->backends, out->n, sizeof(*out->backends), backend_cmp);
	if (out->n > SL_MAX_BACKENDS)
		out->n = SL_MAX_BACKENDS;
	free(c);
	return 0;
}
