// SPDX-License-Identifier: Apache-2.0
/* Which Services get a health check node port, and their local ready endpoints (kube-proxy's
 * HealthCheckNodePorts() and LocalReadyEndpoints()). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hcnp.h"
#include "svc_select.h"
#include "vec.h"

struct wants_ctx {
	struct vec wants; /* struct hcnp_want */
	struct vec *eps;  /* per want: __u64 ip << 16 | port of local ready endpoints */
	const char *node;
};

/* apiservice.NeedsHealthCheck() on a Service kube-proxy proxies, with a port set. */
static int want_add(const struct kube_obj *o, void *ctx)
{
	const struct kube_service *s = &o->u.svc;
	struct wants_ctx *w = ctx;
	struct hcnp_want *want;

	if (!svc_proxied(s) || !s->n_ports || s->type != KUBE_SVC_LOAD_BALANCER || !s->etp_local ||
	    !s->hc_node_port)
		return 0;
	want = vec_push(&w->wants, 8);
	if (!want)
		return -ENOMEM;
	want->ns = o->ns;
	want->name = o->name;
	want->port = s->hc_node_port;
	return 0;
}

static int want_cmp(const void *x, const void *y)
{
	const struct hcnp_want *a = x, *b = y;
	int r = strcmp(a->ns, b->ns);

	return r ? r : strcmp(a->name, b->name);
}

static int u64_cmp(const void *x, const void *y)
{
	__u64 a = *(const __u64 *)x, b = *(const __u64 *)y;

	return a < b ? -1 : a > b;
}

/* The local ready endpoints of one slice into the set of the Service it names. */
static int slice_count(const struct kube_obj *o, void *ctx)
{
	const struct kube_endpointslice *eps = &o->u.eps;
	struct wants_ctx *w = ctx;
	struct hcnp_want key = {.ns = o->ns, .name = eps->service}, *want;
	struct vec *set;

	if (!eps->service || eps->address_type != KUBE_ADDR_IPV4 || !w->wants.n)
		return 0;
	want = bsearch(&key, w->wants.v, w->wants.n, sizeof(key), want_cmp);
	if (!want)
		return 0;
	set = &w->eps[want - (struct hcnp_want *)w->wants.v];
	for (size_t p = 0; p < eps->n_ports; p++) {
		if (!eps->ports[p].name || !eps->ports[p].port) /* skipped by kube-proxy */
			continue;
		for (size_t i = 0; i < eps->n_endpoints; i++) {
			const struct kube_endpoint *ep = &eps->endpoints[i];
			__u32 ip;
			__u64 *v;

			if (ep->addr.family != 4 || !(ep->cond & KUBE_EP_READY) || !ep->node ||
			    strcmp(ep->node, w->node))
				continue;
			if (!(v = vec_push(set, 8)))
				return -ENOMEM;
			memcpy(&ip, ep->addr.addr, 4);
			*v = (__u64)ip << 16 | eps->ports[p].port;
		}
	}
	return 0;
}

/* Distinct values in the set (endpoints may repeat across slices). */
static __u32 set_count(struct vec *set)
{
	__u64 *v = set->v;
	__u32 n = 0;

	if (!set->n)
		return 0;
	qsort(v, set->n, sizeof(*v), u64_cmp);
	for (size_t i = 0; i < set->n; i++)
		n += !i || v[i] != v[i - 1];
	return n;
}

int hcnp_wants(const struct kube_store *svcs, const struct kube_store *slices, const char *node,
	       struct hcnp_want **out, size_t *n)
{
	struct wants_ctx w = {.wants.elem = sizeof(struct hcnp_want), .node = node};
	int r;

	r = kube_store_foreach(svcs, want_add, &w);
	if (!r && w.wants.n) {
		qsort(w.wants.v, w.wants.n, sizeof(struct hcnp_want), want_cmp);
		w.eps = calloc(w.wants.n, sizeof(*w.eps));
		if (!w.eps)
			r = -ENOMEM;
		for (size_t i = 0; !r && i < w.wants.n; i++)
			w.eps[i].elem = sizeof(__u64);
		if (!r)
			r = kube_store_foreach(slices, slice_count, &w);
	}
	for (size_t i = 0; w.eps && i < w.wants.n; i++) {
		((struct hcnp_want *)w.wants.v)[i].local_eps = set_count(&w.eps[i]);
		free(w.eps[i].v);
	}
	free(w.eps);
	if (r < 0) {
		free(w.wants.v);
		return r;
	}
	*out = w.wants.v;
	*n = w.wants.n;
	return 0;
}
