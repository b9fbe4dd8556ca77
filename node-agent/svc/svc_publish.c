// SPDX-License-Identifier: Apache-2.0
/* The service publisher: which Services changed, and each one's ports diffed against what is
 * published. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "svc_frontends.h"
#include "svc_restore.h"
#include "svc_select.h"
#include "svc_txn.h"
#include "svc_writes.h"

#define RETRY_MS 5000

/* What one Service wants published: none of it when it is gone or not proxied. */
struct rec_want {
	const struct kube_service *svc;
	const struct kube_endpointslice **slices;
	size_t n_slices;
	struct svc_frontend *ports;
	size_t n_ports;
};

static void rec_want_free(struct rec_want *w)
{
	free(w->slices);
	free(w->ports);
}

static int rec_want_build(const struct svc_pub *p, const struct svc_rec *rec,
			  const struct kube_store *svcs, const struct kube_store *slice_store,
			  struct rec_want *w)
{
	char ns[KUBE_NS_MAX], name[KUBE_NAME_MAX];
	const struct kube_service *svc;
	const struct kube_obj *o;

	svc_rec_name(rec, ns, name);
	o = kube_store_get(svcs, ns, name);
	if (!o || !svc_proxied(&o->u.svc))
		return 0;
	w->svc = svc = &o->u.svc;
	w->slices = calloc(rec->n_slices + 1, sizeof(*w->slices));
	w->ports = calloc(svc_frontends_max(svc, p->n_node_ips) + 1, sizeof(*w->ports));
	if (!w->slices || !w->ports)
		return -ENOMEM;
	for (size_t i = 0; i < rec->n_slices; i++) {
		const struct kube_obj *so = kube_store_get(slice_store, ns, rec->slices[i]);

		if (so)
			w->slices[w->n_slices++] = &so->u.eps;
	}
	w->n_ports = svc_frontends_build(svc, p->node_ips, p->n_node_ips, w->ports);
	return 0;
}

/* Markers first: the new ports' VIPs reject unknown ports from the start.
 * The ids held in vips (*n_vips of them, vips sized for every marker); the
 * first error, the others still tried. */
static int rec_vips_ref(struct svc_pub *p, const struct kube_service *svc, __u32 *vips,
			size_t *n_vips)
{
	struct svc_marker *m;
	size_t n;
	int r = 0, e;

	*n_vips = 0;
	if (!svc)
		return 0;
	m = calloc(svc_frontends_max(svc, p->n_node_ips) + 1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	n = svc_markers_build(svc, p->node_ips, p->n_node_ips, m);
	for (size_t i = 0; i < n; i++) {
		e = pub_vip_ref(p, m[i].ip, m[i].scope, m[i].flags, &vips[*n_vips]);
		if (e < 0) {
			if (svc_map_full(e))
				p->st.full[SVC_MAP_SVC]++;
			if (!r)
				r = e;
			continue;
		}
		(*n_vips)++;
	}
	free(m);
	return r;
}

/* The service id of key, owned by rec: new, found at restart, or taken over
 * from another Service. */
static int rec_port_id(struct svc_pub *p, struct svc_rec *rec, __u64 key)
{
	bool created;
	int id = svc_ids_get(&p->svc_ids, key, &created), e;

	if (id < 0 || GROW(p, ports, ports_cap, (size_t)id) < 0) {
		if (id >= 0 && created)
			svc_ids_put(&p->svc_ids, (__u32)id);
		e = id < 0 ? id : -ENOMEM;
		if (svc_map_full(e)) {
			p->st.ids_full++;
			if (!rec->full_logged)
				svc_pub_note(p, LOG_LVL_ERROR,
					     "Failed to publish service '%s': no free service id "
					     "(%d service ports at most)",
					     rec->key, SL_SVC_IDS_MAX);
			rec->full_logged = true;
		}
		return e;
	}
	/* a new id starts its counters at 0; failing that, they go on from the old port's */
	if (created && p->ops->stats_reset)
		(void)p->ops->stats_reset(p->ops_ctx, (__u32)id);
	if (p->ports[id].owner == rec)
		return id;
	if (p->ports[id].owner) {
		svc_rec_port_del(p->ports[id].owner, (__u32)id);
		p->n_services -= !p->ports[id].owner->n_ports;
	}
	e = svc_tab_push((void **)&rec->ports, &rec->n_ports, &rec->ports_cap, &id, sizeof(__u32));
	if (e < 0) {
		if (created)
			svc_ids_put(&p->svc_ids, (__u32)id);
		return e;
	}
	p->ports[id].owner = rec;
	return id;
}

/* One wanted service port: backends chosen, id taken, published. */
static int rec_port_publish(struct svc_pub *p, struct svc_rec *rec, const struct rec_want *w,
			    const struct svc_frontend *wp)
{
	struct svc_node node = {.name = p->node, .zone = p->zone};
	struct svc_choice c;
	int id, e;

	e = svc_select_policy(w->svc, wp->sp, w->slices, w->n_slices, &node, wp->local, &c);
	if (e < 0)
		return e;
	c.flags |= wp->flags;
	c.snat_ip = wp->snat_ip;
	id = rec_port_id(p, rec, wp->key);
	if (id < 0) {
		free(c.backends);
		return id;
	}
	e = pub_port_publish(p, rec, (__u32)id, wp->key, &c);
	free(c.backends);
	if (e < 0 && !p->ports[id].present) {
		svc_rec_port_del(rec, (__u32)id);
		memset(&p->ports[id], 0, sizeof(p->ports[id]));
		svc_ids_put(&p->svc_ids, (__u32)id);
	}
	return e;
}

/* Removes the ports this Service no longer has. */
static int rec_ports_prune(struct svc_pub *p, struct svc_rec *rec, const struct rec_want *w)
{
	int r = 0, e;

	for (size_t i = rec->n_ports; i-- > 0;) {
		__u32 id = rec->ports[i];
		__u64 key;
		bool keep = false;

		if (!svc_ids_key_of(&p->svc_ids, id, &key))
			continue;
		for (size_t j = 0; j < w->n_ports && !keep; j++)
			keep = w->ports[j].key == key;
		if (keep)
			continue;
		e = pub_port_remove(p, id);
		if (e < 0 && !r)
			r = e;
		rec->ports[i] = rec->ports[--rec->n_ports];
	}
	return r;
}

/* Publishes one Service as the stores have it now: VIP markers, wanted
 * ports, removal of the unwanted ones, then the old VIP markers released. */
static int rec_publish(struct svc_pub *p, struct svc_rec *rec, const struct kube_store *svcs,
		       const struct kube_store *slice_store)
{
	struct rec_want w = {};
	__u32 *vips = NULL;
	size_t n_vips = 0;
	int r, e;

	r = rec_want_build(p, rec, svcs, slice_store, &w);
	if (r < 0)
		goto out_free;
	if (w.svc && !(vips = calloc(svc_frontends_max(w.svc, p->n_node_ips) + 1, sizeof(*vips)))) {
		r = -ENOMEM;
		goto out_free;
	}
	r = rec_vips_ref(p, w.svc, vips, &n_vips);
	for (size_t i = 0; i < w.n_ports; i++)
		if ((e = rec_port_publish(p, rec, &w, &w.ports[i])) < 0 && !r)
			r = e;
	if ((e = rec_ports_prune(p, rec, &w)) < 0 && !r)
		r = e;
	for (size_t i = 0; i < rec->n_vips; i++)
		if ((e = pub_vip_unref(p, rec->vips[i])) < 0 && !r)
			r = e;
	free(rec->vips);
	rec->vips = vips;
	rec->n_vips = n_vips;
	vips = NULL;
	if (!r)
		rec->full_logged = false;
out_free:
	free(vips);
	rec_want_free(&w);
	rec->failed = r < 0;
	return r;
}

/* --- public ------------------------------------------------------------------ */

int svc_pub_new(const struct svc_map_ops *ops, void *ops_ctx, const char *node, svc_note_fn note_fn,
		void *note_ctx, struct svc_pub **out)
{
	struct svc_pub *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->ops = ops;
	p->ops_ctx = ops_ctx;
	p->note = note_fn;
	p->note_ctx = note_ctx;
	if (!(p->node = strdup(node)) || svc_ids_init(&p->svc_ids, SL_SVC_IDS_MAX) < 0 ||
	    svc_ids_init(&p->be_ids, SL_BE_MAX) < 0 || svc_ids_init(&p->vip_ids, SL_SVC_MAX) < 0) {
		svc_pub_free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

void svc_pub_free(struct svc_pub *p)
{
	if (!p)
		return;
	for (size_t b = 0; b < REC_BUCKETS; b++) {
		for (struct svc_rec *r = p->recs[b], *n; r; r = n) {
			n = r->next;
			svc_rec_free(r);
		}
	}
	for (size_t id = 0; id < p->ports_cap; id++)
		free(p->ports[id].slots);
	free(p->ports);
	free(p->bes);
	free(p->vip_in_map);
	free(p->stale_slots);
	free(p->stale_be);
	svc_ids_fini(&p->svc_ids);
	svc_ids_fini(&p->be_ids);
	svc_ids_fini(&p->vip_ids);
	free(p->node);
	free(p->zone);
	free(p->node_ips);
	free(p);
}

static void all_dirty(struct svc_pub *p, unsigned long long now)
{
	for (size_t b = 0; b < REC_BUCKETS; b++)
		for (struct svc_rec *r = p->recs[b]; r; r = r->next)
			svc_rec_dirty(p, r, now);
}

int svc_pub_node_ips(struct svc_pub *p, const __be32 *ips, size_t n, unsigned long long now)
{
	__be32 *copy = NULL;

	if (n == p->n_node_ips && (!n || !memcmp(ips, p->node_ips, n * sizeof(*ips))))
		return 0;
	if (n && !(copy = malloc(n * sizeof(*ips))))
		return -ENOMEM;
	if (n)
		memcpy(copy, ips, n * sizeof(*ips));
	free(p->node_ips);
	p->node_ips = copy;
	p->n_node_ips = n;
	all_dirty(p, now);
	return 0;
}

__u32 svc_pub_port_id(const struct svc_pub *p, __u64 key)
{
	__u32 id = svc_ids_find(&p->svc_ids, key);

	return id && id < p->ports_cap && p->ports[id].present ? id : 0;
}

static int node_changed(struct svc_pub *p, const struct kube_obj *n, unsigned long long now)
{
	const char *zone = n ? n->u.node.zone : NULL;
	char *z = NULL;

	if (n && strcmp(n->name, p->node))
		return 0;
	if ((!zone && !p->zone) || (zone && p->zone && !strcmp(zone, p->zone)))
		return 0;
	if (zone && !(z = strdup(zone)))
		return -ENOMEM;
	free(p->zone);
	p->zone = z;
	all_dirty(p, now);
	return 0;
}

int svc_pub_changed(struct svc_pub *p, enum kube_op op, const struct kube_obj *old,
		    const struct kube_obj *cur, unsigned long long now)
{
	const struct kube_obj *o = cur ? cur : old;
	struct svc_rec *r;

	switch (o->kind) {
	case KUBE_SERVICE:
		if (!(r = svc_rec_get(p, o->ns, o->name)))
			return -ENOMEM;
		svc_rec_dirty(p, r, now);
		return 0;
	case KUBE_ENDPOINTSLICE:
		if (old && old->u.eps.service) {
			if (!(r = svc_rec_get(p, old->ns, old->u.eps.service)))
				return -ENOMEM;
			svc_rec_slice_del(r, old->name);
			svc_rec_dirty(p, r, now);
		}
		if (cur && cur->u.eps.service) {
			if (!(r = svc_rec_get(p, cur->ns, cur->u.eps.service)))
				return -ENOMEM;
			svc_rec_dirty(p, r, now);
			return svc_rec_slice_add(r, cur->name);
		}
		return 0;
	case KUBE_NODE:
		return node_changed(p, op == KUBE_OP_DELETE ? NULL : cur, now);
	default:
		return 0;
	}
}

int svc_pub_sync(struct svc_pub *p, const struct kube_store *svcs, const struct kube_store *slices,
		 bool synced, unsigned long long now)
{
	struct svc_rec *list;
	int r = 0, e;

	if (!synced)
		return 0;
	if (p->any_failed && now >= p->retry_ms) {
		for (size_t b = 0; b < REC_BUCKETS; b++)
			for (struct svc_rec *rec = p->recs[b]; rec; rec = rec->next)
				if (rec->failed)
					svc_rec_dirty(p, rec, now);
		p->any_failed = false;
	}
	list = p->dirty;
	p->dirty = NULL;
	while (list) {
		struct svc_rec *rec = list;
		char ns[KUBE_NS_MAX], name[KUBE_NAME_MAX];
		bool had_ports, was_failed;

		list = rec->dirty_next;
		rec->dirty = false;
		rec->dirty_next = NULL;
		had_ports = rec->n_ports > 0;
		was_failed = rec->failed;
		e = rec_publish(p, rec, svcs, slices);
		p->n_services += (rec->n_ports > 0) - had_ports;
		p->n_failing += rec->failed - was_failed;
		if (e < 0) {
			p->any_failed = true;
			p->retry_ms = now + RETRY_MS;
			if (!r)
				r = e;
		}
		svc_rec_name(rec, ns, name);
		svc_rec_maybe_drop(p, rec, kube_store_get(svcs, ns, name) != NULL);
	}
	if (!p->st.gc_done) {
		e = pub_leftovers_remove(p);
		if (e < 0 && !r)
			r = e;
		if (!e)
			p->st.gc_done = true;
		else
			p->any_failed = true;
	}
	if (!p->any_failed && !p->dirty)
		p->pending_since = 0;
	return r;
}

bool svc_pub_pending(const struct svc_pub *p, unsigned long long *since)
{
	*since = p->pending_since;
	return p->pending_since != 0;
}

void svc_pub_stats(const struct svc_pub *p, struct svc_stats *st)
{
	*st = p->st;
	st->ports = p->svc_ids.count;
	st->backends = p->be_ids.count;
	st->vips = p->vip_ids.count;
	st->services = p->n_services;
	st->failing = p->n_failing;
}

int svc_pub_port_foreach(const struct svc_pub *p, svc_port_fn fn, void *ctx)
{
	for (size_t id = 1; id < p->ports_cap; id++) {
		const struct pub_port *pp = &p->ports[id];
		__u64 key;
		int r;

		if (!pp->present || !pp->owner || !svc_ids_key_of(&p->svc_ids, (__u32)id, &key))
			continue;
		if (key >> 56 != SL_SVC_SCOPE_INT)
			continue; /* an external frontend's twin: same labels, pods never use it */
		r = fn((__u32)id, pp->owner->key, (__be32)(key >> 24), (__be16)(key >> 8),
		       (__u8)key, ctx);
		if (r)
			return r;
	}
	return 0;
}
