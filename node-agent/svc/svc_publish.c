// SPDX-License-Identifier: Apache-2.0
/* The service publisher: per-Service diff against the published state, ordered writes, rollback,
 * restart reuse. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp.h"
#include "svc_ids.h"
#include "svc_publish.h"
#include "svc_select.h"

#define REC_BUCKETS 4096
#define RETRY_MS    5000
#define SVC_KEY_MAX (KUBE_NS_MAX + KUBE_NAME_MAX + 1)

/* One Service (ns/name) the publisher knows: from the Service store, from
 * EndpointSlices naming it, or from ports it still has published. */
struct svc_rec {
	struct svc_rec *next, *dirty_next;
	bool dirty, failed, full_logged;
	char **slices; /* EndpointSlice names in the namespace */
	size_t n_slices, slices_cap;
	__u32 *ports; /* published svc ids */
	size_t n_ports, ports_cap;
	__u32 vips[2]; /* VIP marker ids held (vip table), 0 unused */
	char key[];    /* "ns/name" */
};

/* One published service port, indexed by svc_id. */
struct pub_port {
	bool present, master, revnat;
	struct svc_rec *owner; /* NULL: found in the maps at restart, nobody wants it yet */
	__u16 count, flags;    /* master */
	__u32 timeout;
	__u32 n_slots; /* slots 1..n_slots are in sl_svc4 */
	__u32 *slots;  /* backend ids, n_slots entries (0: slot absent) */
};

struct pub_be {
	bool in_map;
	__u32 refs; /* slots pointing at it */
	struct sl_be_val val;
};

struct stale_slot {
	struct sl_svc_key key;
};

struct svc_pub {
	const struct svc_map_ops *ops;
	void *ops_ctx;
	svc_note_fn note;
	void *note_ctx;
	char *node, *zone;
	struct svc_rec *recs[REC_BUCKETS];
	struct svc_rec *dirty;
	struct svc_ids svc_ids, be_ids, vip_ids;
	struct pub_port *ports;
	size_t ports_cap;
	struct pub_be *bes;
	size_t bes_cap;
	bool *vip_in_map;
	size_t vip_cap;
	__u32 *stale_revnat, *stale_be; /* found at restart, removed after the first sync */
	size_t n_stale_revnat, stale_revnat_cap, n_stale_be, stale_be_cap;
	struct stale_slot *stale_slots;
	size_t n_stale_slots, stale_slots_cap;
	unsigned long long pending_since, retry_ms;
	bool any_failed;
	unsigned long n_services, n_failing; /* records with ports, failed records */
	struct svc_stats st;
};

const char *svc_map_name(enum svc_map m)
{
	static const char *const names[SVC_MAP_N] = {SL_PIN_SVC4, SL_PIN_BE4, SL_PIN_REVNAT4};

	return names[m];
}

__attribute__((format(printf, 3, 4))) static void note(struct svc_pub *p, enum log_level level,
						       const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!p->note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->note(p->note_ctx, level, msg);
}

static bool map_full(int err)
{
	return err == -E2BIG || err == -ENOSPC || err == -ENOMEM;
}

static const char *proto_name(__u8 proto)
{
	return proto == IPPROTO_TCP    ? "TCP"
	       : proto == IPPROTO_UDP  ? "UDP"
	       : proto == IPPROTO_SCTP ? "SCTP"
				       : "?";
}

/* --- the pinned maps -------------------------------------------------------- */

static int dp_svc_up(void *ctx, const struct sl_svc_key *k, const struct sl_svc_val *v)
{
	return dp_svc_update(((struct svc_dp *)ctx)->fd[SVC_MAP_SVC], k, v);
}

static int dp_svc_del(void *ctx, const struct sl_svc_key *k)
{
	return dp_svc_delete(((struct svc_dp *)ctx)->fd[SVC_MAP_SVC], k);
}

static int dp_be_up(void *ctx, __u32 id, const struct sl_be_val *v)
{
	return dp_be_update(((struct svc_dp *)ctx)->fd[SVC_MAP_BE], id, v);
}

static int dp_be_del(void *ctx, __u32 id)
{
	return dp_be_delete(((struct svc_dp *)ctx)->fd[SVC_MAP_BE], id);
}

static int dp_revnat_up(void *ctx, __u32 id, const struct sl_revnat_val *v)
{
	return dp_revnat_update(((struct svc_dp *)ctx)->fd[SVC_MAP_REVNAT], id, v);
}

static int dp_revnat_del(void *ctx, __u32 id)
{
	return dp_revnat_delete(((struct svc_dp *)ctx)->fd[SVC_MAP_REVNAT], id);
}

static int dp_svc_each(void *ctx,
		       int (*fn)(const struct sl_svc_key *, const struct sl_svc_val *, void *),
		       void *c)
{
	return dp_svc_foreach(((struct svc_dp *)ctx)->fd[SVC_MAP_SVC], fn, c);
}

static int dp_be_each(void *ctx, int (*fn)(__u32, const struct sl_be_val *, void *), void *c)
{
	return dp_be_foreach(((struct svc_dp *)ctx)->fd[SVC_MAP_BE], fn, c);
}

static int dp_revnat_each(void *ctx, int (*fn)(__u32, const struct sl_revnat_val *, void *),
			  void *c)
{
	return dp_revnat_foreach(((struct svc_dp *)ctx)->fd[SVC_MAP_REVNAT], fn, c);
}

const struct svc_map_ops svc_dp_ops = {
    .svc_update = dp_svc_up,
    .svc_delete = dp_svc_del,
    .be_update = dp_be_up,
    .be_delete = dp_be_del,
    .revnat_update = dp_revnat_up,
    .revnat_delete = dp_revnat_del,
    .svc_foreach = dp_svc_each,
    .be_foreach = dp_be_each,
    .revnat_foreach = dp_revnat_each,
};

int svc_dp_open(const char *pin_dir, struct svc_dp *d)
{
	for (int m = 0; m < SVC_MAP_N; m++)
		d->fd[m] = -1;
	for (int m = 0; m < SVC_MAP_N; m++) {
		d->fd[m] = dp_pin_open(pin_dir, svc_map_name(m));
		if (d->fd[m] < 0) {
			int r = d->fd[m];

			svc_dp_close(d);
			return r;
		}
	}
	return 0;
}

void svc_dp_close(struct svc_dp *d)
{
	for (int m = 0; m < SVC_MAP_N; m++) {
		if (d->fd[m] >= 0)
			close(d->fd[m]);
		d->fd[m] = -1;
	}
}

/* --- growable tables indexed by id ---------------------------------------- */

static int grow(void **arr, size_t *cap, size_t want, size_t elem)
{
	size_t ncap = *cap ? *cap : 256;
	char *n;

	if (want < *cap)
		return 0;
	while (ncap <= want)
		ncap *= 2;
	n = realloc(*arr, ncap * elem);
	if (!n)
		return -ENOMEM;
	memset(n + *cap * elem, 0, (ncap - *cap) * elem);
	*arr = n;
	*cap = ncap;
	return 0;
}

#define GROW(p, field, cap, id) grow((void **)&(p)->field, &(p)->cap, (id), sizeof(*(p)->field))

static int arr_push(void **arr, size_t *n, size_t *cap, const void *v, size_t elem)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		void *a = realloc(*arr, ncap * elem);

		if (!a)
			return -ENOMEM;
		*arr = a;
		*cap = ncap;
	}
	memcpy((char *)*arr + *n * elem, v, elem);
	(*n)++;
	return 0;
}

/* --- records ------------------------------------------------------------------ */

static size_t rec_bucket(const char *key)
{
	size_t h = 5381;

	for (; *key; key++)
		h = h * 33 + (unsigned char)*key;
	return h & (REC_BUCKETS - 1);
}

static struct svc_rec *rec_find(struct svc_pub *p, const char *key)
{
	for (struct svc_rec *r = p->recs[rec_bucket(key)]; r; r = r->next)
		if (!strcmp(r->key, key))
			return r;
	return NULL;
}

static struct svc_rec *rec_get(struct svc_pub *p, const char *ns, const char *name)
{
	char key[SVC_KEY_MAX];
	struct svc_rec *r;
	size_t b;

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	r = rec_find(p, key);
	if (r)
		return r;
	r = calloc(1, sizeof(*r) + strlen(key) + 1);
	if (!r)
		return NULL;
	strcpy(r->key, key);
	b = rec_bucket(key);
	r->next = p->recs[b];
	p->recs[b] = r;
	return r;
}

static void rec_dirty(struct svc_pub *p, struct svc_rec *r, unsigned long long now)
{
	if (!p->pending_since)
		p->pending_since = now ? now : 1;
	if (r->dirty)
		return;
	r->dirty = true;
	r->dirty_next = p->dirty;
	p->dirty = r;
}

static void rec_free(struct svc_rec *r)
{
	for (size_t i = 0; i < r->n_slices; i++)
		free(r->slices[i]);
	free(r->slices);
	free(r->ports);
	free(r);
}

/* Unlinks r when nothing refers to it any more. */
static void rec_maybe_drop(struct svc_pub *p, struct svc_rec *r, bool svc_exists)
{
	struct svc_rec **pp;

	if (svc_exists || r->n_slices || r->n_ports || r->vips[0] || r->vips[1] || r->dirty ||
	    r->failed)
		return;
	for (pp = &p->recs[rec_bucket(r->key)]; *pp && *pp != r; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = r->next;
	rec_free(r);
}

static int rec_slice_add(struct svc_rec *r, const char *slice)
{
	char *s;

	for (size_t i = 0; i < r->n_slices; i++)
		if (!strcmp(r->slices[i], slice))
			return 0;
	s = strdup(slice);
	if (!s || arr_push((void **)&r->slices, &r->n_slices, &r->slices_cap, &s, sizeof(s)) < 0) {
		free(s);
		return -ENOMEM;
	}
	return 0;
}

static void rec_slice_del(struct svc_rec *r, const char *slice)
{
	for (size_t i = 0; i < r->n_slices; i++) {
		if (strcmp(r->slices[i], slice))
			continue;
		free(r->slices[i]);
		r->slices[i] = r->slices[--r->n_slices];
		return;
	}
}

static void rec_port_del(struct svc_rec *r, __u32 id)
{
	for (size_t i = 0; i < r->n_ports; i++) {
		if (r->ports[i] != id)
			continue;
		r->ports[i] = r->ports[--r->n_ports];
		return;
	}
}

/* --- keys ------------------------------------------------------------------ */

static void key_split(__u64 k, __be32 *ip, __be16 *port, __u8 *proto)
{
	*ip = (__be32)(k >> 24);
	*port = (__be16)(k >> 8);
	*proto = (__u8)k;
}

static struct sl_svc_key svc_key(__u64 k, __u16 slot)
{
	struct sl_svc_key key = {};

	key_split(k, &key.vip, &key.port, &key.proto);
	key.slot = slot;
	return key;
}

static void port_str(__u64 k, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];
	__be32 vip;
	__be16 port;
	__u8 proto;

	key_split(k, &vip, &port, &proto);
	inet_ntop(AF_INET, &vip, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u/%s", ip, ntohs(port), proto_name(proto));
}

/* --- counting writes -------------------------------------------------------- */

static int w_svc(struct svc_pub *p, const struct sl_svc_key *k, const struct sl_svc_val *v)
{
	p->st.writes++;
	return p->ops->svc_update(p->ops_ctx, k, v);
}

static int d_svc(struct svc_pub *p, const struct sl_svc_key *k)
{
	int r;

	p->st.deletes++;
	r = p->ops->svc_delete(p->ops_ctx, k);
	return r == -ENOENT ? 0 : r;
}

static int d_be(struct svc_pub *p, __u32 id)
{
	int r;

	p->st.deletes++;
	r = p->ops->be_delete(p->ops_ctx, id);
	return r == -ENOENT ? 0 : r;
}

static int d_revnat(struct svc_pub *p, __u32 id)
{
	int r;

	p->st.deletes++;
	r = p->ops->revnat_delete(p->ops_ctx, id);
	return r == -ENOENT ? 0 : r;
}

/* --- backends ------------------------------------------------------------ */

/* Drops one reference; an unreferenced backend leaves sl_be4 and its id is freed. */
static int be_unref(struct svc_pub *p, __u32 id)
{
	struct pub_be *b = id < p->bes_cap ? &p->bes[id] : NULL;
	int r = 0;

	if (!b || !svc_ids_ent(&p->be_ids, id))
		return 0;
	if (b->refs)
		b->refs--;
	if (b->refs)
		return 0;
	if (b->in_map)
		r = d_be(p, id);
	if (r < 0)
		return r;
	memset(b, 0, sizeof(*b));
	svc_ids_put(&p->be_ids, id);
	return 0;
}

/* --- publishing one service port ------------------------------------------- */

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
	bool revnat_written;
	enum svc_map failed_map;
};

static void txn_rollback(struct svc_pub *p, __u32 svc_id, __u64 key, struct port_txn *t)
{
	struct pub_port *pp = &p->ports[svc_id];

	if (t->revnat_written)
		d_revnat(p, svc_id);
	for (__u32 s = 1; s <= t->n_slots_written; s++) {
		struct sl_svc_key k = svc_key(key, (__u16)s);
		struct sl_svc_val v = {};

		if (s <= pp->n_slots && pp->slots[s - 1] == t->ids[s - 1])
			continue; /* not written */
		if (s <= pp->n_slots && pp->slots[s - 1]) {
			v.id = pp->slots[s - 1];
			w_svc(p, &k, &v);
		} else {
			d_svc(p, &k);
		}
	}
	for (size_t i = t->n_bes; i-- > 0;) {
		struct undo_be *u = &t->bes[i];

		if (u->was_in_map) {
			p->ops->be_update(p->ops_ctx, u->id, &u->old);
			p->bes[u->id].val = u->old;
			p->st.writes++;
			continue;
		}
		d_be(p, u->id);
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

/* Writes backends, slots, revnat, master; on failure undoes what it wrote, so
 * the previously published version stays in place. */
static int port_write(struct svc_pub *p, __u32 svc_id, __u64 key, const struct svc_choice *c,
		      struct port_txn *t)
{
	struct pub_port *pp = &p->ports[svc_id];
	struct sl_svc_key k;
	struct sl_svc_val v;
	int r;

	for (size_t i = 0; i < c->n; i++) {
		const struct svc_backend *b = &c->backends[i];
		struct sl_be_val bv = {
		    .ip = b->ip, .port = b->port, .proto = b->proto, .flags = b->flags};
		bool created;
		int id = svc_ids_get(&p->be_ids, svc_ids_key(b->ip, b->port, b->proto), &created);
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
			continue;
		*u = (struct undo_be){.id = (__u32)id,
				      .created_id = created,
				      .was_in_map = p->bes[id].in_map,
				      .old = p->bes[id].val};
		t->n_bes++;
		p->st.writes++;
		r = p->ops->be_update(p->ops_ctx, (__u32)id, &bv);
		if (r < 0) {
			t->n_bes--;
			if (created)
				svc_ids_put(&p->be_ids, (__u32)id);
			return fail(t, SVC_MAP_BE, r);
		}
		p->bes[id].in_map = true;
		p->bes[id].val = bv;
	}
	for (size_t i = 0; i < c->n; i++) {
		if (i < pp->n_slots && pp->slots[i] == t->ids[i]) {
			t->n_slots_written = i + 1;
			continue;
		}
		k = svc_key(key, (__u16)(i + 1));
		v = (struct sl_svc_val){.id = t->ids[i]};
		r = w_svc(p, &k, &v);
		if (r < 0)
			return fail(t, SVC_MAP_SVC, r);
		t->n_slots_written = i + 1;
	}
	if (!pp->revnat) {
		struct sl_revnat_val rv = {};
		__u8 proto;

		key_split(key, &rv.vip, &rv.port, &proto);
		p->st.writes++;
		r = p->ops->revnat_update(p->ops_ctx, svc_id, &rv);
		if (r < 0)
			return fail(t, SVC_MAP_REVNAT, r);
		t->revnat_written = true;
	}
	if (!pp->master || pp->count != c->n || pp->flags != c->flags ||
	    pp->timeout != c->affinity_timeout) {
		k = svc_key(key, 0);
		v = (struct sl_svc_val){.id = svc_id,
					.count = (__u16)c->n,
					.flags = c->flags,
					.affinity_timeout = c->affinity_timeout};
		r = w_svc(p, &k, &v);
		if (r < 0)
			return fail(t, SVC_MAP_SVC, r);
	}
	return 0;
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
	pp->present = pp->master = pp->revnat = true;
	pp->count = (__u16)c->n;
	pp->flags = c->flags;
	pp->timeout = c->affinity_timeout;
	pp->slots = slots;
	pp->n_slots = (__u32)c->n;
	for (__u32 s = (__u32)c->n + 1; s <= n_old; s++) {
		struct sl_svc_key k = svc_key(key, (__u16)s);

		e = d_svc(p, &k);
		if (e < 0 && !r)
			r = e;
	}
	for (__u32 i = 0; i < n_old; i++) {
		e = be_unref(p, old[i]);
		if (e < 0 && !r)
			r = e;
	}
	free(old);
	return r;
}

static int port_publish(struct svc_pub *p, struct svc_rec *rec, __u32 svc_id, __u64 key,
			const struct svc_choice *c)
{
	struct port_txn t = {};
	char where[64];
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
		port_str(key, where, sizeof(where));
		if (map_full(r)) {
			p->st.full[t.failed_map]++;
			if (!rec->full_logged)
				note(p, LOG_LVL_ERROR,
				     "Failed to publish service '%s' port %s: %s full (%zu "
				     "backends)",
				     rec->key, where, svc_map_name(t.failed_map), c->n);
			rec->full_logged = true;
		} else {
			p->st.errors++;
			if (!rec->full_logged)
				note(p, LOG_LVL_ERROR,
				     "Failed to publish service '%s' port %s: %s: %s", rec->key,
				     where, svc_map_name(t.failed_map), strerror(-r));
			rec->full_logged = true;
		}
	} else {
		r = port_commit(p, svc_id, key, c, t.ids);
		t.ids = NULL; /* now the published slots */
	}
	free(t.bes);
	free(t.ids);
	return r;
}

/* Master first (new packets then hit the VIP marker and are rejected), then
 * slots, revnat, backend refs; the id is freed. */
static int port_remove(struct svc_pub *p, __u32 svc_id)
{
	struct pub_port *pp = &p->ports[svc_id];
	__u64 key;
	int r = 0, e;

	if (!svc_ids_key_of(&p->svc_ids, svc_id, &key))
		return 0;
	if (pp->master) {
		struct sl_svc_key k = svc_key(key, 0);

		r = d_svc(p, &k);
		if (r < 0)
			return r;
	}
	for (__u32 s = 1; s <= pp->n_slots; s++) {
		struct sl_svc_key k = svc_key(key, (__u16)s);

		e = d_svc(p, &k);
		if (e < 0 && !r)
			r = e;
	}
	if (pp->revnat && (e = d_revnat(p, svc_id)) < 0 && !r)
		r = e;
	for (__u32 i = 0; i < pp->n_slots; i++)
		if (pp->slots[i] && (e = be_unref(p, pp->slots[i])) < 0 && !r)
			r = e;
	free(pp->slots);
	memset(pp, 0, sizeof(*pp));
	svc_ids_put(&p->svc_ids, svc_id);
	return r;
}

/* --- VIP markers --------------------------------------------------------------- */

static int vip_ref(struct svc_pub *p, __be32 vip, __u32 *out)
{
	struct sl_svc_key k = {.vip = vip};
	struct sl_svc_val v = {.flags = SL_SVC_F_VIP};
	bool created;
	int id = svc_ids_get(&p->vip_ids, vip, &created), r;

	if (id < 0)
		return id;
	if (GROW(p, vip_in_map, vip_cap, (size_t)id) < 0)
		return -ENOMEM;
	if (!p->vip_in_map[id]) {
		r = w_svc(p, &k, &v);
		if (r < 0) {
			if (created)
				svc_ids_put(&p->vip_ids, (__u32)id);
			return r;
		}
		p->vip_in_map[id] = true;
	}
	svc_ids_ent(&p->vip_ids, (__u32)id)->refs++;
	*out = (__u32)id;
	return 0;
}

static int vip_unref(struct svc_pub *p, __u32 id)
{
	struct svc_ids_ent *e = svc_ids_ent(&p->vip_ids, id);
	struct sl_svc_key k = {};
	int r = 0;

	if (!e)
		return 0;
	if (e->refs)
		e->refs--;
	if (e->refs)
		return 0;
	k.vip = (__be32)e->key;
	if (p->vip_in_map[id])
		r = d_svc(p, &k);
	if (r < 0)
		return r;
	p->vip_in_map[id] = false;
	svc_ids_put(&p->vip_ids, id);
	return 0;
}

/* --- one Service ----------------------------------------------------------------- */

struct want_port {
	__u64 key;
	const struct kube_svc_port *sp;
};

static int rec_publish(struct svc_pub *p, struct svc_rec *rec, const struct kube_store *svcs,
		       const struct kube_store *slice_store)
{
	char ns[KUBE_NS_MAX], name[KUBE_NAME_MAX];
	const char *slash = strchr(rec->key, '/');
	const struct kube_obj *o;
	const struct kube_service *svc = NULL;
	const struct kube_endpointslice **slices = NULL;
	struct want_port *want = NULL;
	struct svc_node node = {.name = p->node, .zone = p->zone};
	size_t n_slices = 0, n_want = 0;
	__u32 vips[2] = {};
	int r = 0, e;

	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - rec->key), rec->key);
	snprintf(name, sizeof(name), "%s", slash + 1);
	o = kube_store_get(svcs, ns, name);
	if (o && svc_proxied(&o->u.svc))
		svc = &o->u.svc;
	if (svc) {
		slices = calloc(rec->n_slices + 1, sizeof(*slices));
		want = calloc((size_t)svc->n_cluster_ips * svc->n_ports + 1, sizeof(*want));
		if (!slices || !want) {
			r = -ENOMEM;
			goto out_free;
		}
		for (size_t i = 0; i < rec->n_slices; i++) {
			const struct kube_obj *so = kube_store_get(slice_store, ns, rec->slices[i]);

			if (so)
				slices[n_slices++] = &so->u.eps;
		}
		for (int i = 0; i < svc->n_cluster_ips; i++) {
			__be32 vip;

			if (svc->cluster_ips[i].family != 4)
				continue;
			memcpy(&vip, svc->cluster_ips[i].addr, 4);
			for (int j = 0; j < svc->n_ports; j++)
				want[n_want++] =
				    (struct want_port){svc_ids_key(vip, htons(svc->ports[j].port),
								   svc->ports[j].proto),
						       &svc->ports[j]};
		}
	}

	/* VIP markers first: the new ports' VIPs reject unknown ports from the start. */
	for (int i = 0, n = 0; svc && i < svc->n_cluster_ips && n < 2; i++) {
		__be32 vip;

		if (svc->cluster_ips[i].family != 4)
			continue;
		memcpy(&vip, svc->cluster_ips[i].addr, 4);
		e = vip_ref(p, vip, &vips[n]);
		if (e < 0) {
			if (map_full(e))
				p->st.full[SVC_MAP_SVC]++;
			if (!r)
				r = e;
			continue;
		}
		n++;
	}

	for (size_t i = 0; i < n_want; i++) {
		struct svc_choice c;
		bool created;
		int id;

		e = svc_select(svc, want[i].sp, slices, n_slices, &node, &c);
		if (e < 0) {
			r = r ? r : e;
			continue;
		}
		id = svc_ids_get(&p->svc_ids, want[i].key, &created);
		if (id < 0 || GROW(p, ports, ports_cap, (size_t)id) < 0) {
			if (id >= 0 && created)
				svc_ids_put(&p->svc_ids, (__u32)id);
			e = id < 0 ? id : -ENOMEM;
			if (map_full(e)) {
				p->st.full[SVC_MAP_REVNAT]++;
				if (!rec->full_logged)
					note(p, LOG_LVL_ERROR,
					     "Failed to publish service '%s': %s full (no free "
					     "service id)",
					     rec->key, SL_PIN_REVNAT4);
				rec->full_logged = true;
			}
			free(c.backends);
			r = r ? r : e;
			continue;
		}
		if (p->ports[id].owner != rec) {
			/* new, found at restart, or taken over from another Service */
			if (p->ports[id].owner) {
				rec_port_del(p->ports[id].owner, (__u32)id);
				p->n_services -= !p->ports[id].owner->n_ports;
			}
			e = arr_push((void **)&rec->ports, &rec->n_ports, &rec->ports_cap, &id,
				     sizeof(__u32));
			if (e < 0) {
				if (created)
					svc_ids_put(&p->svc_ids, (__u32)id);
				free(c.backends);
				r = r ? r : e;
				continue;
			}
			p->ports[id].owner = rec;
		}
		e = port_publish(p, rec, (__u32)id, want[i].key, &c);
		free(c.backends);
		if (e < 0 && !p->ports[id].present) {
			rec_port_del(rec, (__u32)id);
			memset(&p->ports[id], 0, sizeof(p->ports[id]));
			svc_ids_put(&p->svc_ids, (__u32)id);
		}
		if (e < 0 && !r)
			r = e;
	}

	/* Ports this Service no longer has. */
	for (size_t i = rec->n_ports; i-- > 0;) {
		__u32 id = rec->ports[i];
		__u64 key;
		bool keep = false;

		if (!svc_ids_key_of(&p->svc_ids, id, &key))
			continue;
		for (size_t j = 0; j < n_want && !keep; j++)
			keep = want[j].key == key;
		if (keep)
			continue;
		e = port_remove(p, id);
		if (e < 0 && !r)
			r = e;
		rec->ports[i] = rec->ports[--rec->n_ports];
	}
	for (int i = 0; i < 2; i++)
		if (rec->vips[i] && (e = vip_unref(p, rec->vips[i])) < 0 && !r)
			r = e;
	memcpy(rec->vips, vips, sizeof(vips));
	if (!r)
		rec->full_logged = false;
out_free:
	free(slices);
	free(want);
	rec->failed = r < 0;
	return r;
}

/* --- restore ------------------------------------------------------------------- */

static int restore_svc(const struct sl_svc_key *k, const struct sl_svc_val *v, void *ctx)
{
	struct svc_pub *p = ctx;
	__u64 key = svc_ids_key(k->vip, k->port, k->proto);
	struct pub_port *pp;
	int r;

	if (v->flags & SL_SVC_F_VIP || (!k->port && !k->proto && !k->slot)) {
		r = svc_ids_set(&p->vip_ids, k->vip, (__u32)p->vip_ids.count + 1);
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

		return arr_push((void **)&p->stale_slots, &p->n_stale_slots, &p->stale_slots_cap,
				&s, sizeof(s));
	}
	if (r < 0 || GROW(p, ports, ports_cap, v->id) < 0)
		return r < 0 ? r : -ENOMEM;
	pp = &p->ports[v->id];
	pp->present = pp->master = true;
	pp->count = v->count;
	pp->flags = v->flags;
	pp->timeout = v->affinity_timeout;
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
	id = svc_ids_find(&p->svc_ids, svc_ids_key(k->vip, k->port, k->proto));
	pp = id ? &p->ports[id] : NULL;
	if (!pp || !svc_ids_ent(&p->be_ids, v->id)) {
		struct stale_slot s = {.key = *k};

		return arr_push((void **)&p->stale_slots, &p->n_stale_slots, &p->stale_slots_cap,
				&s, sizeof(s));
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
		return arr_push((void **)&p->stale_be, &p->n_stale_be, &p->stale_be_cap, &id,
				sizeof(id));
	if (r < 0 || GROW(p, bes, bes_cap, id) < 0)
		return r < 0 ? r : -ENOMEM;
	p->bes[id] = (struct pub_be){.in_map = true, .val = *v};
	p->st.restored_backends++;
	return 0;
}

static int restore_revnat(__u32 id, const struct sl_revnat_val *v, void *ctx)
{
	struct svc_pub *p = ctx;
	__u64 key;

	if (svc_ids_key_of(&p->svc_ids, id, &key)) {
		__be32 vip;
		__be16 port;
		__u8 proto;

		key_split(key, &vip, &port, &proto);
		if (vip == v->vip && port == v->port) {
			p->ports[id].revnat = true;
			return 0;
		}
	}
	return arr_push((void **)&p->stale_revnat, &p->n_stale_revnat, &p->stale_revnat_cap, &id,
			sizeof(id));
}

int svc_pub_restore(struct svc_pub *p)
{
	int r;

	r = p->ops->be_foreach(p->ops_ctx, restore_be, p);
	if (r < 0)
		return r;
	r = p->ops->svc_foreach(p->ops_ctx, restore_svc, p);
	if (r < 0)
		return r;
	r = p->ops->svc_foreach(p->ops_ctx, restore_slot, p);
	if (r < 0)
		return r;
	r = p->ops->revnat_foreach(p->ops_ctx, restore_revnat, p);
	if (r < 0)
		return r;
	/* A master without revnat (a crash in between) gets it on its first publish. */
	return 0;
}

/* After the first full publish: what the maps held but nobody wants. */
static int leftovers_remove(struct svc_pub *p)
{
	int r = 0, e;

	for (size_t id = 1; id < p->ports_cap; id++) {
		if (!p->ports[id].present || p->ports[id].owner)
			continue;
		e = port_remove(p, (__u32)id);
		if (e < 0 && !r)
			r = e;
	}
	for (size_t i = 0; i < p->n_stale_slots; i++) {
		const struct sl_svc_key *k = &p->stale_slots[i].key;
		__u32 id = svc_ids_find(&p->svc_ids, svc_ids_key(k->vip, k->port, k->proto));

		if (id && (k->slot ? k->slot <= p->ports[id].n_slots : p->ports[id].master))
			continue; /* published again since */
		e = d_svc(p, k);
		if (e < 0 && !r)
			r = e;
	}
	for (size_t i = 0; i < p->n_stale_revnat; i++) {
		if (svc_ids_ent(&p->svc_ids, p->stale_revnat[i]))
			continue;
		e = d_revnat(p, p->stale_revnat[i]);
		if (e < 0 && !r)
			r = e;
	}
	for (size_t i = 0; i < p->n_stale_be; i++) {
		if (svc_ids_ent(&p->be_ids, p->stale_be[i]))
			continue;
		e = d_be(p, p->stale_be[i]);
		if (e < 0 && !r)
			r = e;
	}
	for (size_t id = 1; id < p->vip_cap; id++) {
		struct svc_ids_ent *v = svc_ids_ent(&p->vip_ids, (__u32)id);

		if (!v || v->refs || !p->vip_in_map[id])
			continue;
		v->refs = 1;
		e = vip_unref(p, (__u32)id);
		if (e < 0 && !r)
			r = e;
	}
	for (size_t id = 1; id < p->bes_cap; id++) {
		if (!p->bes[id].in_map || p->bes[id].refs)
			continue;
		p->bes[id].refs = 1;
		e = be_unref(p, (__u32)id);
		if (e < 0 && !r)
			r = e;
	}
	free(p->stale_slots);
	free(p->stale_revnat);
	free(p->stale_be);
	p->stale_slots = NULL;
	p->stale_revnat = p->stale_be = NULL;
	p->n_stale_slots = p->n_stale_revnat = p->n_stale_be = 0;
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
	if (!(p->node = strdup(node)) || svc_ids_init(&p->svc_ids, SL_REVNAT_MAX) < 0 ||
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
			rec_free(r);
		}
	}
	for (size_t id = 0; id < p->ports_cap; id++)
		free(p->ports[id].slots);
	free(p->ports);
	free(p->bes);
	free(p->vip_in_map);
	free(p->stale_slots);
	free(p->stale_revnat);
	free(p->stale_be);
	svc_ids_fini(&p->svc_ids);
	svc_ids_fini(&p->be_ids);
	svc_ids_fini(&p->vip_ids);
	free(p->node);
	free(p->zone);
	free(p);
}

static void all_dirty(struct svc_pub *p, unsigned long long now)
{
	for (size_t b = 0; b < REC_BUCKETS; b++)
		for (struct svc_rec *r = p->recs[b]; r; r = r->next)
			rec_dirty(p, r, now);
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
		    const struct kube_obj *new, unsigned long long now)
{
	const struct kube_obj *o = new ? new : old;
	struct svc_rec *r;

	switch (o->kind) {
	case KUBE_SERVICE:
		if (!(r = rec_get(p, o->ns, o->name)))
			return -ENOMEM;
		rec_dirty(p, r, now);
		return 0;
	case KUBE_ENDPOINTSLICE:
		if (old && old->u.eps.service) {
			if (!(r = rec_get(p, old->ns, old->u.eps.service)))
				return -ENOMEM;
			rec_slice_del(r, old->name);
			rec_dirty(p, r, now);
		}
		if (new &&new->u.eps.service) {
			if (!(r = rec_get(p, new->ns, new->u.eps.service)))
				return -ENOMEM;
			rec_dirty(p, r, now);
			return rec_slice_add(r, new->name);
		}
		return 0;
	case KUBE_NODE:
		return node_changed(p, op == KUBE_OP_DELETE ? NULL : new, now);
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
					rec_dirty(p, rec, now);
		p->any_failed = false;
	}
	list = p->dirty;
	p->dirty = NULL;
	while (list) {
		struct svc_rec *rec = list;
		const char *slash = strchr(rec->key, '/');
		char ns[KUBE_NS_MAX];
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
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - rec->key), rec->key);
		rec_maybe_drop(p, rec, kube_store_get(svcs, ns, slash + 1) != NULL);
	}
	if (!p->st.gc_done) {
		e = leftovers_remove(p);
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
