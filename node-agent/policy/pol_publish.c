// SPDX-License-Identifier: Apache-2.0
/* Publishes the compiled policy state to the pinned maps by difference. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp.h"
#include "kube_store.h"
#include "pol_publish.h"
#include "vec.h"

struct pol_pub {
	int ep, ipc, pol, cidr, cfg, drop;
	struct pol_ids ids;
	struct pol_state cur; /* as published */
	struct pol_stats st;
	bool published;
};

/* One array of the state: element size, order, and its map operations. */
struct diff_ops {
	size_t elem;
	enum pol_map map;
	int (*cmp)(const void *a, const void *b);
	bool (*same)(const void *a, const void *b); /* values equal (keys are) */
	int (*write)(struct pol_pub *p, const void *e);
	int (*del)(struct pol_pub *p, const void *e);
	__u32 (*ep_of)(const void *e); /* the endpoint an entry belongs to, 0 if none */
};

static bool ipc_same(const void *a, const void *b)
{
	return ((const struct pol_ipc *)a)->id == ((const struct pol_ipc *)b)->id;
}

static int ipc_write(struct pol_pub *p, const void *e)
{
	const struct pol_ipc *x = e;

	return dp_ipcache_update(p->ipc, x->ip, x->prefix, x->id);
}

static int ipc_del(struct pol_pub *p, const void *e)
{
	const struct pol_ipc *x = e;

	return dp_ipcache_delete(p->ipc, x->ip, x->prefix);
}

static __u32 no_ep(const void *e)
{
	return 0;
}

static bool always_same(const void *a, const void *b)
{
	return true;
}

static int pol_write(struct pol_pub *p, const void *e)
{
	return dp_pol_update(p->pol, e);
}

static int pol_del(struct pol_pub *p, const void *e)
{
	return dp_pol_delete(p->pol, e);
}

static __u32 pol_ep(const void *e)
{
	return ((const struct sl_pol_key *)e)->ep_id;
}

static bool cidr_same(const void *a, const void *b)
{
	return ((const struct pol_cidr *)a)->set_id == ((const struct pol_cidr *)b)->set_id;
}

static int cidr_write(struct pol_pub *p, const void *e)
{
	const struct pol_cidr *x = e;

	return dp_polcidr_update(p->cidr, &x->key, x->set_id);
}

static int cidr_del(struct pol_pub *p, const void *e)
{
	return dp_polcidr_delete(p->cidr, &((const struct pol_cidr *)e)->key);
}

static __u32 cidr_ep(const void *e)
{
	return ((const struct pol_cidr *)e)->key.ep_id;
}

static const struct diff_ops ipc_ops = {
    sizeof(struct pol_ipc), POL_MAP_IPCACHE, pol_ipc_cmp, ipc_same, ipc_write, ipc_del, no_ep};
static const struct diff_ops pol_ops = {
    sizeof(struct sl_pol_key), POL_MAP_POL, pol_key_cmp, always_same, pol_write, pol_del, pol_ep};
static const struct diff_ops cidr_ops = {
    sizeof(struct pol_cidr), POL_MAP_CIDR, pol_cidr_cmp, cidr_same, cidr_write, cidr_del, cidr_ep};

static void ep_fail(struct pol_state *s, __u32 ep_id)
{
	for (size_t i = 0; ep_id && i < s->n_eps; i++)
		if (s->eps[i].ep_id == ep_id)
			s->eps[i].failed = true;
}

static void write_failed(struct pol_pub *p, const struct diff_ops *o, int err)
{
	if (err == -E2BIG || err == -ENOSPC || err == -ENOMEM)
		p->st.full[o->map]++;
	else
		p->st.errors++;
}

/* Writes the entries of want that old lacks or holds with another value.
 * A refused write is dropped from want (retried next sync) and its endpoint
 * marked failed: it stays isolated without that allow. */
static void diff_write(struct pol_pub *p, const struct diff_ops *o, const void *old, size_t n_old,
		       void *want, size_t *n_want, struct pol_state *ns)
{
	size_t i = 0, j = 0, out = 0;

	for (; j < *n_want; j++) {
		const char *nj = (const char *)want + j * o->elem;
		int c = 1, err;

		while (i < n_old && (c = o->cmp((const char *)old + i * o->elem, nj)) < 0)
			i++;
		if (i < n_old && c == 0 && o->same((const char *)old + i * o->elem, nj)) {
			memmove((char *)want + out++ * o->elem, nj, o->elem);
			continue;
		}
		err = o->write(p, nj);
		if (err < 0) {
			write_failed(p, o, err);
			ep_fail(ns, o->ep_of(nj));
			continue;
		}
		p->st.writes++;
		memmove((char *)want + out++ * o->elem, nj, o->elem);
	}
	*n_want = out;
}

/* Deletes the entries of old that want lacks. */
static void diff_delete(struct pol_pub *p, const struct diff_ops *o, const void *old, size_t n_old,
			const void *want, size_t n_want)
{
	size_t j = 0;

	for (size_t i = 0; i < n_old; i++) {
		const char *oi = (const char *)old + i * o->elem;
		int c = -1, err;

		while (j < n_want && (c = o->cmp((const char *)want + j * o->elem, oi)) < 0)
			j++;
		if (j < n_want && c == 0)
			continue;
		err = o->del(p, oi);
		if (err < 0 && err != -ENOENT)
			p->st.errors++;
		else
			p->st.deletes++;
	}
}

struct restore {
	struct pol_pub *p;
	struct vec arr;
	int err;
};

static void *restore_push(struct restore *r)
{
	void *e = vec_push(&r->arr, 256);

	if (!e)
		r->err = -ENOMEM;
	return e;
}

static int ipc_restore(const void *key, const void *val, void *ctx)
{
	const struct sl_ipcache_key *k = key;
	const struct sl_ipcache_val *v = val;
	struct restore *r = ctx;
	struct pol_ipc *e = restore_push(r);

	if (!e)
		return r->err;
	*e = (struct pol_ipc){.ip = k->ip, .prefix = k->prefixlen, .id = v->identity};
	/* fresh identities never take a number the maps still hold; a pod's
	 * own number is kept (pol_compile's hints) */
	if (v->identity >= r->p->ids.next_id && v->identity < SL_ID_CIDR_BASE)
		r->p->ids.next_id = v->identity + 1;
	return 0;
}

static int pol_restore(const void *key, const void *val, void *ctx)
{
	struct restore *r = ctx;
	struct sl_pol_key *e = restore_push(r);

	if (!e)
		return r->err;
	memcpy(e, key, sizeof(*e));
	return 0;
}

static int cidr_restore(const void *key, const void *val, void *ctx)
{
	struct restore *r = ctx;
	struct pol_cidr *e = restore_push(r);

	if (!e)
		return r->err;
	memcpy(&e->key, key, sizeof(e->key));
	e->set_id = ((const struct sl_polcidr_val *)val)->set_id;
	return 0;
}

static int restore_one(struct pol_pub *p, int (*walk)(int, dp_walk_fn, void *), int fd,
		       dp_walk_fn fn, const struct diff_ops *o, void **arr, size_t *n)
{
	struct restore r = {.p = p, .arr.elem = o->elem};
	int err = walk(fd, fn, &r);

	if (err < 0 || r.err < 0) {
		free(r.arr.v);
		return err < 0 ? err : r.err;
	}
	if (r.arr.n)
		qsort(r.arr.v, r.arr.n, r.arr.elem, o->cmp);
	*arr = r.arr.v;
	*n = r.arr.n;
	return 0;
}

void pol_pub_free(struct pol_pub *p)
{
	if (!p)
		return;
	pol_state_free(&p->cur);
	pol_ids_fini(&p->ids);
	for (int *fd = &p->ep; fd <= &p->drop; fd++)
		if (*fd >= 0)
			close(*fd);
	free(p);
}

int pol_pub_open(const char *pin_dir, struct pol_pub **out)
{
	static const char *const pins[] = {SL_PIN_EP4,	    SL_PIN_IPCACHE4, SL_PIN_POL,
					   SL_PIN_POLCIDR4, SL_PIN_POLCFG,   SL_PIN_POLDROP};
	struct pol_pub *p = calloc(1, sizeof(*p));
	struct sl_polcfg_val cfg = {};
	int *fds, err = 0;

	if (!p)
		return -ENOMEM;
	fds = &p->ep;
	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++)
		fds[i] = -1;
	for (size_t i = 0; !err && i < sizeof(pins) / sizeof(pins[0]); i++)
		if ((fds[i] = dp_pin_open(pin_dir, pins[i])) < 0)
			err = fds[i];
	pol_ids_init(&p->ids, SL_ID_FIRST);
	if (!err)
		err = restore_one(p, dp_ipcache_foreach, p->ipc, ipc_restore, &ipc_ops,
				  (void **)&p->cur.ipc, &p->cur.n_ipc);
	if (!err)
		err = restore_one(p, dp_pol_foreach, p->pol, pol_restore, &pol_ops,
				  (void **)&p->cur.pol, &p->cur.n_pol);
	if (!err)
		err = restore_one(p, dp_polcidr_foreach, p->cidr, cidr_restore, &cidr_ops,
				  (void **)&p->cur.cidr, &p->cur.n_cidr);
	if (!err && dp_polcfg_read(p->cfg, &cfg) == 0)
		p->st.gen = cfg.gen;
	if (err) {
		pol_pub_free(p);
		return err;
	}
	*out = p;
	return 0;
}

struct ep_scan {
	struct pol_ep *eps;
	size_t n, cap;
	bool drift; /* an entry's identity or isolation is not what we published */
	const struct pol_state *cur;
};

/* The published endpoint of ip (published endpoints are sorted by ip). */
static const struct pol_ep *ep_find(const struct pol_state *s, __be32 ip)
{
	struct pol_ep key = {.ip = ip};

	return s->n_eps ? bsearch(&key, s->eps, s->n_eps, sizeof(key), pol_ep_ip_cmp) : NULL;
}

static int ep_scan_one(__be32 ip, const struct sl_ep_val *val, void *ctx)
{
	struct ep_scan *x = ctx;
	const struct pol_ep *was = ep_find(x->cur, ip);

	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		struct pol_ep *e = realloc(x->eps, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		x->eps = e;
		x->cap = cap;
	}
	x->eps[x->n++] = (struct pol_ep){.ip = ip,
					 .ep_id = val->ep_id,
					 .identity = val->identity,
					 .flags = val->flags & (SL_EP_F_ISO_IN | SL_EP_F_ISO_OUT)};
	if (!was || was->ep_id != val->ep_id || was->identity != val->identity ||
	    was->flags != (val->flags & (SL_EP_F_ISO_IN | SL_EP_F_ISO_OUT)))
		x->drift = true;
	return 0;
}

/* Identity and isolation of each endpoint where sl_ep4 (actual, in the
 * same order) differs; then the drop counters of endpoints that are gone,
 * so a reused ep_id starts from zero. */
static void eps_publish(struct pol_pub *p, const struct pol_state *ns, const struct pol_ep *actual)
{
	for (size_t i = 0; i < ns->n_eps; i++) {
		const struct pol_ep *e = &ns->eps[i];
		int err;

		if (actual[i].identity == e->identity && actual[i].flags == e->flags)
			continue;
		err = dp_ep_policy_set(p->ep, e->ip, e->identity, e->flags);
		if (err < 0 && err != -ENOENT)
			p->st.errors++;
		else
			p->st.writes++;
	}
	for (size_t i = 0; i < p->cur.n_eps; i++) {
		bool kept = false;

		for (size_t j = 0; j < ns->n_eps && !kept; j++)
			kept = ns->eps[j].ep_id == p->cur.eps[i].ep_id;
		if (!kept)
			dp_poldrop_delete(p->drop, p->cur.eps[i].ep_id);
	}
}

static void stats_update(struct pol_pub *p, const struct pol_input *in, const struct pol_state *s)
{
	struct pol_stats *st = &p->st;

	st->active = s->active;
	st->identities = p->ids.count;
	st->ipcache = s->n_ipc;
	st->entries = s->n_pol;
	st->cidrs = s->n_cidr;
	st->endpoints = s->n_eps;
	st->iso_in = st->iso_out = st->pending = st->failed = 0;
	for (size_t i = 0; i < s->n_eps; i++) {
		st->iso_in += !!(s->eps[i].flags & SL_EP_F_ISO_IN);
		st->iso_out += !!(s->eps[i].flags & SL_EP_F_ISO_OUT);
		st->pending += s->eps[i].identity == SL_ID_PENDING;
		st->failed += s->eps[i].failed;
	}
}

int pol_pub_sync(struct pol_pub *p, struct pol_input *in, bool force)
{
	struct ep_scan x = {.cur = &p->cur};
	unsigned long ops = p->st.writes + p->st.deletes;
	struct sl_polcfg_val cfg = {};
	struct pol_state ns;
	int err;

	err = dp_ep_foreach(p->ep, ep_scan_one, &x);
	if (err < 0 || (!force && !x.drift && x.n == p->cur.n_eps && p->published)) {
		free(x.eps);
		return err < 0 ? err : 0;
	}
	if (x.n) /* compiled in this order: published endpoints stay sorted */
		qsort(x.eps, x.n, sizeof(*x.eps), pol_ep_ip_cmp);
	in->eps = x.eps;
	in->n_eps = x.n;
	in->hints = p->cur.ipc;
	in->n_hints = p->cur.n_ipc;
	in->prev = p->published ? &p->cur : NULL;
	err = pol_compile(&p->ids, in, &ns);
	in->eps = NULL;
	in->hints = NULL;
	in->prev = NULL;
	if (err < 0) {
		free(x.eps);
		return err;
	}
	/* allows first: an endpoint never sees its isolation before them, and
	 * an address never maps to an identity whose allows are not written */
	diff_write(p, &cidr_ops, p->cur.cidr, p->cur.n_cidr, ns.cidr, &ns.n_cidr, &ns);
	diff_write(p, &pol_ops, p->cur.pol, p->cur.n_pol, ns.pol, &ns.n_pol, &ns);
	diff_write(p, &ipc_ops, p->cur.ipc, p->cur.n_ipc, ns.ipc, &ns.n_ipc, &ns);
	eps_publish(p, &ns, x.eps);
	diff_delete(p, &pol_ops, p->cur.pol, p->cur.n_pol, ns.pol, ns.n_pol);
	diff_delete(p, &cidr_ops, p->cur.cidr, p->cur.n_cidr, ns.cidr, ns.n_cidr);
	diff_delete(p, &ipc_ops, p->cur.ipc, p->cur.n_ipc, ns.ipc, ns.n_ipc);
	/* last: flows judged under the old state are judged again */
	if (p->st.writes + p->st.deletes != ops || ns.active != p->st.active || !p->published) {
		cfg.flags = ns.active ? SL_POLCFG_F_ACTIVE : 0;
		cfg.gen = ++p->st.gen;
		if (dp_polcfg_write(p->cfg, &cfg) < 0)
			p->st.errors++;
	}
	free(x.eps);
	stats_update(p, in, &ns);
	p->st.compiles += ns.compiled;
	p->st.syncs++;
	pol_state_free(&p->cur);
	p->cur = ns;
	p->published = true;
	return 1;
}

void pol_pub_note(struct pol_pub *p, const struct kube_store *nss, const struct kube_obj *old,
		  const struct kube_obj *cur)
{
	pol_affect(&p->cur, nss, old, cur);
}

void pol_pub_stats(const struct pol_pub *p, struct pol_stats *st)
{
	*st = p->st;
}

const struct pol_state *pol_pub_state(const struct pol_pub *p)
{
	return &p->cur;
}
