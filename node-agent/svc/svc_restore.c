// SPDX-License-Identifier: Apache-2.0
/* What the pinned maps held at start: rebuilt into the publisher's state, removed when unwanted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "svc_restore.h"
#include "svc_writes.h"

static int restore_svc(const struct sl_svc_key *k, const struct sl_svc_val *v, void *ctx)
{
	struct svc_pub *p = ctx;
	__u64 key = svc_key_of(k);
	struct pub_port *pp;
	int r;

	if (v->flags & SL_SVC_F_VIP || (!k->port && !k->proto && !k->slot)) {
		r = svc_ids_set(&p->vip_ids, svc_ids_marker_key(k->vip, k->scope, v->flags),
				(__u32)p->vip_ids.count + 1);
		if (r == -EEXIST)
			return 0;
		if (r < 0 || GROW(p, vip_in_map, vip_cap, p->vip_ids.count) < 0)
			return r < 0 ? r : -ENOMEM;
		p->vip_in_map[p->vip_ids.count] = true;
		p->st.restored_vips++;
		return 0;
	}
	if (k->slot)
		return 0; /* second pass */
	r = svc_ids_set(&p->svc_ids, key, v->id);
	if (r == -EEXIST || r == -ERANGE) {
		/* two masters claim one id: keep the first, remove this one later */
		struct stale_slot s = {.key = *k};

		return svc_tab_push((void **)&p->stale_slots, &p->n_stale_slots,
				    &p->stale_slots_cap, &s, sizeof(s));
	}
	if (r < 0 || GROW(p, ports, ports_cap, v->id) < 0)
		return r < 0 ? r : -ENOMEM;
	pp = &p->ports[v->id];
	pp->present = pp->master = true;
	pp->count = v->count;
	pp->flags = v->flags;
	pp->timeout = v->affinity_timeout;
	pp->snat_ip = v->snat_ip;
	p->st.restored_ports++;
	return 0;
}

static int restore_slot(const struct sl_svc_key *k, const struct sl_svc_val *v, void *ctx)
{
	struct svc_pub *p = ctx;
	__u32 id;
	struct pub_port *pp;

	if (!k->slot || v->flags & SL_SVC_F_VIP)
		return 0;
	id = svc_ids_find(&p->svc_ids, svc_key_of(k));
	pp = id ? &p->ports[id] : NULL;
	if (!pp || !svc_ids_ent(&p->be_ids, v->id)) {
		struct stale_slot s = {.key = *k};

		return svc_tab_push((void **)&p->stale_slots, &p->n_stale_slots,
				    &p->stale_slots_cap, &s, sizeof(s));
	}
	if (k->slot > pp->n_slots) {
		__u32 *n = realloc(pp->slots, k->slot * sizeof(*n));

		if (!n)
			return -ENOMEM;
		memset(n + pp->n_slots, 0, (k->slot - pp->n_slots) * sizeof(*n));
		pp->slots = n;
		pp->n_slots = k->slot;
	}
	pp->slots[k->slot - 1] = v->id;
	p->bes[v->id].refs++;
	return 0;
}

static int restore_be(__u32 id, const struct sl_be_val *v, void *ctx)
{
	struct svc_pub *p = ctx;
	int r = svc_ids_set(&p->be_ids, svc_ids_key(v->ip, v->port, v->proto), id);

	if (r == -EEXIST || r == -ERANGE) /* a duplicate: removed after the first sync */
		return svc_tab_push((void **)&p->stale_be, &p->n_stale_be, &p->stale_be_cap, &id,
				    sizeof(id));
	if (r < 0 || GROW(p, bes, bes_cap, id) < 0)
		return r < 0 ? r : -ENOMEM;
	p->bes[id] = (struct pub_be){.in_map = true, .val = *v};
	p->st.restored_backends++;
	return 0;
}

int svc_pub_restore(struct svc_pub *p)
{
	int r;

	/* Backends first (slots name them), masters before their slots. */
	if ((r = p->ops->be_foreach(p->ops_ctx, restore_be, p)) < 0 ||
	    (r = p->ops->svc_foreach(p->ops_ctx, restore_svc, p)) < 0 ||
	    (r = p->ops->svc_foreach(p->ops_ctx, restore_slot, p)) < 0)
		return r;
	return 0;
}

/* Ports nobody took over, and sl_svc4 entries that were stale at start and
 * were not published again since. */
static int leftover_ports_remove(struct svc_pub *p)
{
	int r = 0, e;

	for (size_t id = 1; id < p->ports_cap; id++) {
		if (!p->ports[id].present || p->ports[id].owner)
			continue;
		e = pub_port_remove(p, (__u32)id);
		if (e < 0 && !r)
			r = e;
	}
	for (size_t i = 0; i < p->n_stale_slots; i++) {
		const struct sl_svc_key *k = &p->stale_slots[i].key;
		__u32 id = svc_ids_find(&p->svc_ids, svc_key_of(k));

		if (id && (k->slot ? k->slot <= p->ports[id].n_slots : p->ports[id].master))
			continue; /* published again since */
		e = pub_svc_delete(p, k);
		if (e < 0 && !r)
			r = e;
	}
	return r;
}

/* Deletes, through del, each stale id that live does not hold (again). */
static int stale_ids_remove(struct svc_pub *p, const __u32 *stale, size_t n, struct svc_ids *live,
			    int (*del)(struct svc_pub *, __u32))
{
	int r = 0, e;

	for (size_t i = 0; i < n; i++) {
		if (svc_ids_ent(live, stale[i]))
			continue;
		e = del(p, stale[i]);
		if (e < 0 && !r)
			r = e;
	}
	return r;
}

/* VIP markers and backends in the maps that nothing refers to. */
static int unreferenced_remove(struct svc_pub *p)
{
	int r = 0, e;

	for (size_t id = 1; id < p->vip_cap; id++) {
		struct svc_ids_ent *v = svc_ids_ent(&p->vip_ids, (__u32)id);

		if (!v || v->refs || !p->vip_in_map[id])
			continue;
		v->refs = 1;
		e = pub_vip_unref(p, (__u32)id);
		if (e < 0 && !r)
			r = e;
	}
	for (size_t id = 1; id < p->bes_cap; id++) {
		if (!p->bes[id].in_map || p->bes[id].refs)
			continue;
		p->bes[id].refs = 1;
		e = pub_be_unref(p, (__u32)id);
		if (e < 0 && !r)
			r = e;
	}
	return r;
}

int pub_leftovers_remove(struct svc_pub *p)
{
	int r, e;

	r = leftover_ports_remove(p);
	e = stale_ids_remove(p, p->stale_be, p->n_stale_be, &p->be_ids, pub_be_delete);
	if (e < 0 && !r)
		r = e;
	e = unreferenced_remove(p);
	if (e < 0 && !r)
		r = e;
	free(p->stale_slots);
	free(p->stale_be);
	p->stale_slots = NULL;
	p->stale_be = NULL;
	p->n_stale_slots = p->n_stale_be = 0;
	return r;
}
