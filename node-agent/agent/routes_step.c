// SPDX-License-Identifier: Apache-2.0
/* The agent loop's routes step: a route to every other Node's pod CIDR via its InternalIP. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "routes_step.h"

#define ROUTES_RESYNC_MS 60000 /* puts back routes someone removed */
#define ROUTES_RETRY_MS	 5000

struct want_ctx {
	const char *node_name;
	struct route_want *want;
	size_t n, cap;
	char skips[512];
};

static int want_add(const struct kube_obj *o, void *ctx)
{
	struct want_ctx *w = ctx;
	const struct kube_node *n = &o->u.node;
	const struct kube_cidr *cidr = NULL;
	const struct kube_ip *via = NULL;
	size_t used = strlen(w->skips);

	if (!strcmp(o->name, w->node_name))
		return 0;
	for (int i = 0; i < n->n_pod_cidrs && !cidr; i++)
		if (n->pod_cidrs[i].ip.family == 4)
			cidr = &n->pod_cidrs[i];
	for (int i = 0; i < n->n_internal_ips && !via; i++)
		if (n->internal_ips[i].family == 4)
			via = &n->internal_ips[i];
	if (!cidr || !via) {
		snprintf(w->skips + used, sizeof(w->skips) - used, "%s'%s' (no IPv4 %s)",
			 used ? ", " : "", o->name, cidr ? "InternalIP" : "pod CIDR");
		return 0;
	}
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 16;
		struct route_want *nw = realloc(w->want, ncap * sizeof(*nw));

		if (!nw)
			return -ENOMEM;
		w->want = nw;
		w->cap = ncap;
	}
	memset(&w->want[w->n], 0, sizeof(w->want[w->n]));
	memcpy(&w->want[w->n].dst, cidr->ip.addr, 4);
	w->want[w->n].prefix_len = cidr->prefix;
	memcpy(&w->want[w->n].via, via->addr, 4);
	w->n++;
	return 0;
}

static int want_cmp(const void *x, const void *y)
{
	const struct route_want *a = x, *b = y;

	if (a->dst != b->dst)
		return ntohl(a->dst) < ntohl(b->dst) ? -1 : 1;
	if (a->prefix_len != b->prefix_len)
		return a->prefix_len < b->prefix_len ? -1 : 1;
	return ntohl(a->via) < ntohl(b->via) ? -1 : ntohl(a->via) > ntohl(b->via);
}

static int route_strs_set(struct routes_step *a, struct route_want *want, size_t n)
{
	struct status_route *s = n ? calloc(n, sizeof(*s)) : NULL;
	char ip[INET_ADDRSTRLEN];

	if (n && !s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		inet_ntop(AF_INET, &want[i].dst, ip, sizeof(ip));
		snprintf(s[i].dst, sizeof(s[i].dst), "%s/%u", ip, want[i].prefix_len);
		inet_ntop(AF_INET, &want[i].via, s[i].via, sizeof(s[i].via));
	}
	free(a->routes);
	free(a->strs);
	a->routes = want;
	a->strs = s;
	a->n = n;
	return 0;
}

/* Routes to every other Node's pod CIDR via its InternalIP, after the Node
 * store's first full list, on every Node change and periodically. */
bool routes_step_update(struct routes_step *a, const struct kube_sync *ks, const char *node_name,
			unsigned long long now)
{
	struct want_ctx w = {.node_name = node_name};
	struct routes_report rep = {};
	bool changed;
	int r;

	if (!ks->slots[KUBE_NODE].ref.synced || (!a->nodes_dirty && now < a->next_ms))
		return false;
	a->nodes_dirty = false;
	a->next_ms = now + ROUTES_RESYNC_MS;
	r = kube_store_foreach(kube_sync_store(ks, KUBE_NODE), want_add, &w);
	if (r < 0) {
		free(w.want);
		log_error_errno(r, "Failed to compute the routes to other nodes");
		a->next_ms = now + ROUTES_RETRY_MS;
		return false;
	}
	if (w.n)
		qsort(w.want, w.n, sizeof(*w.want), want_cmp);
	changed = w.n != a->n || (w.n && memcmp(w.want, a->routes, w.n * sizeof(*w.want)));
	if (strcmp(w.skips, a->skips)) {
		if (w.skips[0])
			log_warn("No route to the pod CIDR of node %s", w.skips);
		snprintf(a->skips, sizeof(a->skips), "%s", w.skips);
	}
	r = routes_sync(w.want, w.n, &rep);
	if (r < 0) {
		free(w.want);
		log_error_errno(r, "Failed to sync the routes to %zu node pod CIDRs", w.n);
		a->next_ms = now + ROUTES_RETRY_MS;
		return false;
	}
	if (rep.added || rep.replaced || rep.deleted)
		log_info("Routes to other nodes' pod CIDRs: %d added, %d replaced, %d deleted (%zu "
			 "wanted)",
			 rep.added, rep.replaced, rep.deleted, w.n);
	if (rep.skipped && (changed || rep.skipped != a->skipped)) {
		int n = rep.skipped < 8 ? rep.skipped : 8;

		for (int i = 0; i < n; i++)
			log_warn("Skipped route: %.96s", rep.why[i]);
	}
	if (rep.skipped)
		a->next_ms = now + ROUTES_RETRY_MS * 2; /* the next hop may become on-link */
	a->skipped = rep.skipped;
	if (changed && route_strs_set(a, w.want, w.n) < 0) {
		free(w.want);
		return false;
	}
	if (!changed)
		free(w.want);
	return changed;
}

void routes_step_free(struct routes_step *s)
{
	free(s->routes);
	free(s->strs);
}
