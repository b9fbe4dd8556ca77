// SPDX-License-Identifier: Apache-2.0
/* Publishing one service port as a transaction: all of it, or the previous version stays. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "svc_txn.h"
#include "svc_writes.h"

struct undo_be {
	__u32 id;
	bool created_id, was_in_map;
	struct sl_be_val old;
};

struct port_txn {
	struct undo_be *bes;
	size_t n_bes;
	__u32 *ids; /* new slot backend ids */
	size_t n_slots_written;
	enum svc_map failed_map;
};

static void txn_rollback(struct svc_pub *p, __u32 svc_id, __u64 key, struct port_txn *t)
{
	struct pub_port *pp = &p->ports[svc_id];

	for (__u32 s = 1; s <= t->n_slots_written; s++) {
		struct sl_svc_key k = svc_key_slot(key, (__u16)s);
		struct sl_svc_val v = {};

		if (s <= pp->n_slots && pp->slots[s - 1] == t->ids[s - 1])
			continue; /* not written */
		if (s <= pp->n_slots && pp->slots[s - 1]) {
			v.id = pp->slots[s - 1];
			pub_svc_write(p, &k, &v);
		} else {
			pub_svc_delete(p, &k);
		}
	}
	for (size_t i = t->n_bes; i-- > 0;) {
		struct undo_be *u = &t->bes[i];

		if (u->was_in_map) {
			pub_be_write(p, u->id, &u->old);
			p->bes[u->id].val = u->old;
			continue;
		}
		pub_be_delete(p, u->id);
		p->bes[u->id].in_map = false;
		if (u->created_id) {
			memset(&p->bes[u->id], 0, sizeof(p->bes[u->id]));
			svc_ids_put(&p->be_ids, u->id);
		}
	}
}

static int fail(struct port_txn *t, enum svc_map m, int err)
{
	t->failed_map = m;
	return err;
}

/* One backend of the new version: its id in t->ids[i], written when it
 * changed, the old value kept for the rollback. */
static int port_write_be(struct svc_pub *p, const struct svc_backend *b, size_t i,
			 struct port_txn *t)
{
	struct sl_be_val bv = {.ip = b->ip, .port = b->port, .proto = b->proto, .flags = b->flags};
	bool created;
	int id = svc_ids_get(&p->be_ids, svc_ids_key(b->ip, b->port, b->proto), &created), r;
	struct undo_be *u = &t->bes[t->n_bes];

	if (id < 0)
		return fail(t, SVC_MAP_BE, id);
	t->ids[i] = (__u32)id;
	if (GROW(p, bes, bes_cap, (size_t)id) < 0) {
		if (created)
			svc_ids_put(&p->be_ids, (__u32)id);
		return fail(t, SVC_MAP_BE, -ENOMEM);
	}
	if (p->bes[id].in_map && !memcmp(&p->bes[id].val, &bv, sizeof(bv)))
		return 0;
	*u = (struct undo_be){.id = (__u32)id,
			      .created_id = created,
			      .was_in_map = p->bes[id].in_map,
			      .old = p->bes[id].val};
	t->n_bes++;
	r = pub_be_write(p, (__u32)id, &bv);
	if (r < 0) {
		t->n_bes--;
		if (created)
			svc_ids_put(&p->be_ids, (__u32)id);
		return fail(t, SVC_MAP_BE, r);
	}
	p->bes[id].in_map = true;
	p->bes[id].val = bv;
	return 0;
}

/* Slots 1..c->n pointing at the new backends, where they differ. */
static int port_write_slots(struct svc_pub *p, __u32 svc_id, __u64 key, const struct svc_choice *c,
			    struct port_txn *t)
{
	struct pub_port *pp = &p->ports[svc_id];

	for (size_t i = 0; i < c->n; i++) {
		struct sl_svc_key k;
		struct sl_svc_val v;
		int r;

		if (i < pp->n_slots && pp->slots[i] == t->ids[i]) {
			t->n_slots_written = i + 1;
			continue;
		}
		k = svc_key_slot(key, (__u16)(i + 1));
		v = (struct sl_svc_val){.id = t->ids[i]};
		r = pub_svc_write(p, &k, &v);
		if (r < 0)
			return fail(t, SVC_MAP_SVC, r);
		t->n_slots_written = i + 1;
	}
	return 0;
}

/* The master, when it changed. */
static int port_write_master(struct svc_pub *p, __u32 svc_id, __u64 key, const struct svc_choice *c,
			     struct port_txn *t)
{
	struct pub_port *pp = &p->ports[svc_id];
	struct sl_svc_key k;
	struct sl_svc_val v;
	int r;

	if (pp->master && pp->count == c->n && pp->flags == c->flags &&
	    pp->timeout == c->affinity_timeout && pp->snat_ip == c->snat_ip)
		return 0;
	k = svc_key_slot(key, 0);
	v = (struct sl_svc_val){.id = svc_id,
				.count = (__u16)c->n,
				.flags = c->flags,
				.affinity_timeout = c->affinity_timeout,
				.snat_ip = c->snat_ip};
	r = pub_svc_write(p, &k, &v);
	return r < 0 ? fail(t, SVC_MAP_SVC, r) : 0;
}

/* Writes backends, slots, master; on failure the caller undoes what
 * it wrote, so the previously published version stays in place. */
static int port_write(struct svc_pub *p, __u32 svc_id, __u64 key, const struct svc_choice *c,
		      struct port_txn *t)
{
	int r;

	for (size_t i = 0; i < c->n; i++) {
		r = port_write_be(p, &c->backends[i], i, t);
		if (r < 0)
			return r;
	}
	r = port_write_slots(p, svc_id, key, c, t);
	if (r < 0)
		return r;
	return port_write_master(p, svc_id, key, c, t);
}

/* After the master points at the new slots: stale slots and backend refs.
 * Takes ids (c->n backend ids, malloc'd) as the published slots. */
static int port_commit(struct svc_pub *p, __u32 svc_id, __u64 key, const struct svc_choice *c,
		       __u32 *ids)
{
	struct pub_port *pp = &p->ports[svc_id];
	__u32 *old = pp->slots, n_old = pp->n_slots, *slots = ids;
	int r = 0, e;

	for (size_t i = 0; i < c->n; i++)
		p->bes[ids[i]].refs++;
	pp->present = pp->master = true;
	pp->count = (__u16)c->n;
	pp->flags = c->flags;
	pp->timeout = c->affinity_timeout;
	pp->snat_ip = c->snat_ip;
	pp->slots = slots;
	pp->n_slots = (__u32)c->n;
	for (__u32 s = (__u32)c->n + 1; s <= n_old; s++) {
		struct sl_svc_key k = svc_key_slot(key, (__u16)s);

		e = pub_svc_delete(p, &k);
		if (e < 0 && !r)
			r = e;
	}
	for (__u32 i = 0; i < n_old; i++) {
		e = pub_be_unref(p, old[i]);
		if (e < 0 && !r)
			r = e;
	}
	free(old);
	return r;
}

/* Counts a failed port write and notes it, once until the record publishes again. */
static void port_failed(struct svc_pub *p, struct svc_rec *rec, __u64 key,
			const struct svc_choice *c, const struct port_txn *t, int err)
{
	char where[64];

	svc_key_str(key, where, sizeof(where));
	if (svc_map_full(err)) {
		p->st.full[t->failed_map]++;
		if (!rec->full_logged)
			svc_pub_note(p, LOG_LVL_ERROR,
				     "Failed to publish service '%s' port %s: %s full (%zu "
				     "backends)",
				     rec->key, where, svc_map_name(t->failed_map), c->n);
	} else {
		p->st.errors++;
		if (!rec->full_logged)
			svc_pub_note(p, LOG_LVL_ERROR,
				     "Failed to publish service '%s' port %s: %s: %s", rec->key,
				     where, svc_map_name(t->failed_map), strerror(-err));
	}
	rec->full_logged = true;
}

int pub_port_publish(struct svc_pub *p, struct svc_rec *rec, __u32 svc_id, __u64 key,
		     const struct svc_choice *c)
{
	struct port_txn t = {};
	int r;

	if (c->n) {
		t.bes = calloc(c->n, sizeof(*t.bes));
		t.ids = calloc(c->n, sizeof(*t.ids));
		if (!t.bes || !t.ids) {
			free(t.bes);
			free(t.ids);
			return -ENOMEM;
		}
	}
	r = port_write(p, svc_id, key, c, &t);
	if (r < 0) {
		txn_rollback(p, svc_id, key, &t);
		port_failed(p, rec, key, c, &t, r);
	} else {
		r = port_commit(p, svc_id, key, c, t.ids);
		t.ids = NULL; /* now the published slots */
	}
	free(t.bes);
	free(t.ids);
	return r;
}
