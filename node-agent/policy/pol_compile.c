// SPDX-License-Identifier: Apache-2.0
/* Compiles Pods, Namespaces and NetworkPolicies into the desired datapath
 * state: identities, the IP cache, and per local endpoint its isolation,
 * allow entries and ipBlock prefixes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "pol.h"
#include "vec.h"

/* A resolved port range of one protocol; lo 0: every port. */
struct pport {
	__u8 proto;
	__u16 lo, hi;
};

struct cpod {
	const struct kube_obj *o;
	__be32 ip;
	struct pol_ident *id;
};

/* An ipBlock peer of the endpoint and direction being compiled, with the
 * ports of its rule (an offset into the compiler's block port list), and
 * the rule when it is an egress rule with named ports. */
struct cblock {
	const struct kube_np_peer *peer;
	size_t off, n;
	const struct kube_np_rule *named;
};

/* The identities a pod/namespace peer selects, computed once per compile
 * however many local endpoints the policy selects (ids in idbuf). */
struct peer_ids {
	const struct kube_np_peer *pe;
	size_t off, n;
};

struct compiler {
	const struct pol_input *in;
	struct pol_ids *ids;
	struct vec pods, ipc, pol, cidr, blocks, bports, peers, idbuf;
	struct vec reused; /* ep_ids whose entries are copied from in->prev */
	unsigned long compiled;
	int err;
};

/* A new zeroed element of v; out of memory: NULL, and c fails. */
static void *compiler_push(struct compiler *c, struct vec *v)
{
	void *e = vec_push(v, 64);

	if (!e)
		c->err = -ENOMEM;
	return e;
}

static size_t vec_sort_uniq(struct vec *v, int (*cmp)(const void *, const void *))
{
	size_t out = 0;

	if (!v->n)
		return 0;
	qsort(v->v, v->n, v->elem, cmp);
	for (size_t i = 1; i < v->n; i++)
		if (cmp((char *)v->v + out * v->elem, (char *)v->v + i * v->elem))
			memcpy((char *)v->v + ++out * v->elem, (char *)v->v + i * v->elem, v->elem);
	return v->n = out + 1;
}

int pol_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct sl_pol_key));
}

int pol_cidr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct sl_polcidr_key));
}

int pol_ipc_cmp(const void *a, const void *b)
{
	const struct pol_ipc *x = a, *y = b;

	if (x->ip != y->ip)
		return ntohl(x->ip) < ntohl(y->ip) ? -1 : 1;
	return x->prefix == y->prefix ? 0 : x->prefix < y->prefix ? -1 : 1;
}

int pol_ep_ip_cmp(const void *a, const void *b)
{
	const struct pol_ep *x = a, *y = b;

	return x->ip == y->ip ? 0 : ntohl(x->ip) < ntohl(y->ip) ? -1 : 1;
}

static int cpod_cmp(const void *a, const void *b)
{
	const struct cpod *x = a, *y = b;

	return x->ip == y->ip ? 0 : ntohl(x->ip) < ntohl(y->ip) ? -1 : 1;
}

static void ipc_add(struct compiler *c, __be32 ip, __u32 prefix, __u32 id)
{
	struct pol_ipc *e = compiler_push(c, &c->ipc);

	if (e)
		*e = (struct pol_ipc){.ip = ip, .prefix = prefix, .id = id};
}

/* The number ip had when last published (kept across restarts), 0 if none. */
static __u32 ipc_hint(const struct compiler *c, __be32 ip)
{
	struct pol_ipc key = {.ip = ip, .prefix = 32};
	const struct pol_ipc *h;

	if (!c->in->n_hints)
		return 0;
	h = bsearch(&key, c->in->hints, c->in->n_hints, sizeof(key), pol_ipc_cmp);
	return h ? h->id : 0;
}

/* Pods that are endpoints of policy: not hostNetwork (they are the node),
 * not finished, with an IPv4 address. */
static int pod_collect(const struct kube_obj *o, void *ctx)
{
	struct compiler *c = ctx;
	const struct kube_pod *p = &o->u.pod;
	struct cpod *cp;

	if (p->host_network || p->phase == KUBE_POD_SUCCEEDED || p->phase == KUBE_POD_FAILED)
		return 0;
	for (int i = 0; i < p->n_ips; i++) {
		if (p->ips[i].family != 4 || !(cp = compiler_push(c, &c->pods)))
			continue;
		cp->o = o;
		memcpy(&cp->ip, p->ips[i].addr, 4);
		cp->id = pol_ids_ref(c->ids, o->ns, p->labels, p->n_labels, ipc_hint(c, cp->ip));
		if (!cp->id)
			c->err = -ENOMEM;
		else
			ipc_add(c, cp->ip, 32, cp->id->id);
	}
	return c->err;
}

static void node_collect(struct compiler *c)
{
	const struct kube_obj *n = kube_store_get(c->in->nodes, "", c->in->node);

	for (int i = 0; n && i < n->u.node.n_internal_ips; i++)
		if (n->u.node.internal_ips[i].family == 4)
			ipc_add(c, *(__be32 *)n->u.node.internal_ips[i].addr, 32, SL_ID_HOST);
	for (int i = 0; n && i < n->u.node.n_external_ips; i++)
		if (n->u.node.external_ips[i].family == 4)
			ipc_add(c, *(__be32 *)n->u.node.external_ips[i].addr, 32, SL_ID_HOST);
}

static bool peer_selects(struct compiler *c, const struct kube_np_peer *pe, const char *pol_ns,
			 const char *ns, const struct kube_label *l, size_t n)
{
	return pol_peer_selects(c->in->nss, pe, pol_ns, ns, l, n);
}

static __u16 port_by_name(const struct kube_obj *pod, const char *name, __u8 proto)
{
	for (size_t i = 0; pod && i < pod->u.pod.n_ports; i++)
		if (pod->u.pod.ports[i].name == name && pod->u.pod.ports[i].proto == proto)
			return pod->u.pod.ports[i].port;
	return 0;
}

/* The rule's ports into v: numeric ones (unless named_only), and named ones
 * resolved against pod (none without it). No ports: every port of each
 * protocol. */
static void ports_of(struct compiler *c, const struct kube_np_rule *r, const struct kube_obj *pod,
		     bool named_only, struct vec *v)
{
	static const __u8 all[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP};
	struct pport *p;

	for (size_t i = 0; !r->n_ports && !named_only && i < sizeof(all); i++)
		if ((p = compiler_push(c, v)))
			p->proto = all[i];
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct kube_np_port *np = &r->ports[i];
		__u16 port = np->name ? port_by_name(pod, np->name, np->proto) : np->port;

		if ((np->name && !port) || (!np->name && named_only) || !(p = compiler_push(c, v)))
			continue;
		p->proto = np->proto;
		p->lo = port;
		p->hi = np->end_port ? np->end_port : port;
		if (p->lo == 1 && p->hi == 65535)
			p->lo = p->hi = 0; /* every port: one entry, not 65535 */
	}
}

static bool rule_named(const struct kube_np_rule *r)
{
	for (size_t i = 0; i < r->n_ports; i++)
		if (r->ports[i].name)
			return true;
	return false;
}

static void emit(struct compiler *c, __u32 ep_id, __u8 dir, __u32 peer, const struct pport *p,
		 size_t n)
{
	struct sl_pol_key *k;

	for (size_t i = 0; i < n; i++)
		for (__u32 q = p[i].lo; q <= p[i].hi; q++) {
			if (!(k = compiler_push(c, &c->pol)))
				return;
			k->ep_id = ep_id;
			k->peer = peer;
			k->dport = htons((__u16)q);
			k->proto = p[i].proto;
			k->dir = dir;
		}
}

/* Egress named ports: resolved per destination pod, so each pod the peer
 * selects (all pods for an absent `to`) adds its own port under its identity. */
static void emit_named_out(struct compiler *c, __u32 ep_id, const struct kube_np_rule *r,
			   const struct kube_np_peer *pe, const char *pol_ns)
{
	const struct cpod *pods = c->pods.v;
	struct vec v = {.elem = sizeof(struct pport)};

	for (size_t i = 0; i < c->pods.n; i++) {
		const struct kube_obj *o = pods[i].o;

		if (pe && !peer_selects(c, pe, pol_ns, o->ns, o->u.pod.labels, o->u.pod.n_labels))
			continue;
		v.n = 0;
		ports_of(c, r, o, true, &v);
		emit(c, ep_id, SL_POL_DIR_OUT, pods[i].id->id, v.v, v.n);
	}
	free(v.v);
}

static const struct peer_ids *peer_idents(struct compiler *c, const struct kube_np_peer *pe,
					  const char *pol_ns)
{
	struct peer_ids *pi = c->peers.v;
	__u32 *id;

	for (size_t i = 0; i < c->peers.n; i++)
		if (pi[i].pe == pe)
			return &pi[i];
	if (!(pi = compiler_push(c, &c->peers)))
		return NULL;
	pi->pe = pe;
	pi->off = c->idbuf.n;
	for (size_t h = 0; h < c->ids->size; h++)
		for (struct pol_ident *e = c->ids->tab[h]; e; e = e->next)
			if (e->refs && peer_selects(c, pe, pol_ns, e->ns, e->labels, e->n_labels) &&
			    (id = compiler_push(c, &c->idbuf)))
				*id = e->id;
	pi->n = c->idbuf.n - pi->off;
	return pi;
}

static void rule_compile(struct compiler *c, const struct pol_ep *ep, __u8 dir,
			 const struct kube_np_rule *r, const char *pol_ns)
{
	struct vec ports = {.elem = sizeof(struct pport)};
	bool named_out = dir == SL_POL_DIR_OUT && rule_named(r);
	const struct peer_ids *pi;
	struct cblock *b;

	ports_of(c, r, dir == SL_POL_DIR_IN ? ep->pod : NULL, false, &ports);
	if (!r->n_peers) {
		emit(c, ep->ep_id, dir, SL_ID_ANY, ports.v, ports.n);
		if (named_out)
			emit_named_out(c, ep->ep_id, r, NULL, pol_ns);
	}
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct kube_np_peer *pe = &r->peers[i];

		if (pe->ip_block) {
			if (pe->cidr.ip.family != 4 || !(b = compiler_push(c, &c->blocks)))
				continue;
			b->peer = pe;
			b->off = c->bports.n;
			b->n = ports.n;
			b->named = named_out ? r : NULL;
			for (size_t j = 0; j < ports.n; j++) {
				struct pport *p = compiler_push(c, &c->bports);

				if (p)
					*p = ((struct pport *)ports.v)[j];
			}
			continue;
		}
		pi = peer_idents(c, pe, pol_ns);
		for (size_t k = 0; pi && k < pi->n; k++)
			emit(c, ep->ep_id, dir, ((__u32 *)c->idbuf.v)[pi->off + k], ports.v,
			     ports.n);
		if (named_out)
			emit_named_out(c, ep->ep_id, r, pe, pol_ns);
	}
	free(ports.v);
}

static bool cidr_in(const struct kube_cidr *in, const struct kube_cidr *out)
{
	__u32 a, b, mask;

	if (in->ip.family != 4 || out->ip.family != 4 || in->prefix < out->prefix)
		return false;
	memcpy(&a, in->ip.addr, 4);
	memcpy(&b, out->ip.addr, 4);
	mask = out->prefix ? htonl(~0u << (32 - out->prefix)) : 0;
	return (a & mask) == (b & mask);
}

/* Whether block b's cidr-minus-except holds every address of prefix p. */
static bool block_holds(const struct kube_np_peer *b, const struct kube_cidr *p)
{
	if (!cidr_in(p, &b->cidr))
		return false;
	for (size_t i = 0; i < b->n_except; i++)
		if (cidr_in(p, &b->except[i]))
			return false;
	return true;
}

static void boundary_add(struct compiler *c, const struct pol_ep *ep, __u8 dir,
			 const struct kube_cidr *p, __u32 set)
{
	const struct cblock *blocks = c->blocks.v;
	struct pol_cidr *e = compiler_push(c, &c->cidr);

	if (!e)
		return;
	e->key.prefixlen = 64 + p->prefix;
	e->key.ep_id = ep->ep_id;
	e->key.dir = dir;
	memcpy(&e->key.ip, p->ip.addr, 4);
	e->set_id = set;
	for (size_t i = 0; i < c->blocks.n; i++)
		if (block_holds(blocks[i].peer, p))
			emit(c, ep->ep_id, dir, set, (struct pport *)c->bports.v + blocks[i].off,
			     blocks[i].n);
}

/* The set of the boundary prefix p among those from index first on, or a
 * new boundary with its allows (++*set). */
static __u32 boundary_set(struct compiler *c, const struct pol_ep *ep, __u8 dir,
			  const struct kube_cidr *p, size_t first, __u32 *set)
{
	const struct pol_cidr *e = c->cidr.v;

	for (size_t i = first; i < c->cidr.n; i++)
		if (e[i].key.prefixlen == 64u + p->prefix && !memcmp(&e[i].key.ip, p->ip.addr, 4))
			return e[i].set_id;
	boundary_add(c, ep, dir, p, ++*set);
	return *set;
}

/* Egress named ports towards ipBlocks: a name resolves only on a pod (the
 * destination's container ports), so every known pod an ipBlock holds gets
 * a /32 boundary whose set adds the ports its rule names, as that pod
 * serves them. Other addresses in the block open nothing by name. */
static void blocks_named(struct compiler *c, const struct pol_ep *ep, size_t first, __u32 *set)
{
	const struct cblock *blocks = c->blocks.v;
	const struct cpod *pods = c->pods.v;
	struct vec v = {.elem = sizeof(struct pport)};
	struct kube_cidr p = {.ip.family = 4, .prefix = 32};
	__u32 id = 0;

	for (size_t i = 0; i < c->pods.n; i++) {
		memcpy(p.ip.addr, &pods[i].ip, 4);
		for (size_t j = 0, found = 0; j < c->blocks.n; j++) {
			if (!blocks[j].named || !block_holds(blocks[j].peer, &p))
				continue;
			if (!found++)
				id = boundary_set(c, ep, SL_POL_DIR_OUT, &p, first, set);
			v.n = 0;
			ports_of(c, blocks[j].named, pods[i].o, true, &v);
			emit(c, ep->ep_id, SL_POL_DIR_OUT, id, v.v, v.n);
		}
	}
	free(v.v);
}

/* The ipBlocks gathered for ep and dir: each boundary prefix (every cidr
 * and except) gets a set of its own holding the rules that cover it whole,
 * so the longest prefix match answers for any address. */
static void blocks_compile(struct compiler *c, const struct pol_ep *ep, __u8 dir)
{
	const struct cblock *blocks = c->blocks.v;
	size_t first = c->cidr.n;
	__u32 set = SL_ID_CIDR_BASE;

	for (size_t i = 0; i < c->blocks.n; i++) {
		const struct kube_np_peer *pe = blocks[i].peer;

		boundary_set(c, ep, dir, &pe->cidr, first, &set);
		for (size_t j = 0; j < pe->n_except; j++)
			boundary_set(c, ep, dir, &pe->except[j], first, &set);
	}
	if (dir == SL_POL_DIR_OUT)
		blocks_named(c, ep, first, &set);
	c->blocks.n = c->bports.n = 0;
}

struct ep_ctx {
	struct compiler *c;
	struct pol_ep *ep;
};

static int pol_select(const struct kube_obj *o, void *ctx)
{
	struct ep_ctx *x = ctx;
	const struct kube_obj *pod = x->ep->pod;
	const struct kube_obj **pols;

	if (o->ns != pod->ns || !o->u.np.sel_ok ||
	    !pol_sel_match(&o->u.np.pod_sel, pod->u.pod.labels, pod->u.pod.n_labels))
		return 0;
	pols = realloc(x->ep->pols, (x->ep->n_pols + 1) * sizeof(*pols));
	if (!pols)
		return x->c->err = -ENOMEM;
	pols[x->ep->n_pols++] = o;
	x->ep->pols = pols;
	if (o->u.np.types & KUBE_NP_INGRESS)
		x->ep->flags |= SL_EP_F_ISO_IN;
	if (o->u.np.types & KUBE_NP_EGRESS)
		x->ep->flags |= SL_EP_F_ISO_OUT;
	return 0;
}

/* The endpoint at ip as compiled last (prev's endpoints are sorted by ip). */
static const struct pol_ep *prev_find(const struct compiler *c, __be32 ip)
{
	const struct pol_state *prev = c->in->prev;
	struct pol_ep key = {.ip = ip};

	if (!prev || !prev->n_eps)
		return NULL;
	return bsearch(&key, prev->eps, prev->n_eps, sizeof(key), pol_ep_ip_cmp);
}

/* Takes ep as compiled last (was) when no change affected it and it is
 * still the same endpoint of the same Pod object with the same identity,
 * with nothing refused; its entries are copied by reused_copy. */
static bool ep_reuse(struct compiler *c, struct pol_ep *ep, const struct pol_ep *was,
		     const struct cpod *cp)
{
	const struct kube_obj **pols = NULL;
	__u32 *id;

	if (!was || was->dirty || was->failed || was->ep_id != ep->ep_id ||
	    was->pod != (cp ? cp->o : NULL) || (cp && was->identity != cp->id->id))
		return false;
	if (was->n_pols && !(pols = malloc(was->n_pols * sizeof(*pols)))) {
		c->err = -ENOMEM;
		return true;
	}
	if (pols)
		memcpy(pols, was->pols, was->n_pols * sizeof(*pols));
	*ep = *was;
	ep->pols = pols;
	ep->n_entries = 0; /* eps_count */
	if ((id = compiler_push(c, &c->reused)))
		*id = ep->ep_id;
	return true;
}

static int u32_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* The allow entries and prefixes of the reused endpoints, from in->prev. */
static void reused_copy(struct compiler *c)
{
	const struct pol_state *prev = c->in->prev;
	void *e;

	if (!c->reused.n)
		return;
	qsort(c->reused.v, c->reused.n, sizeof(__u32), u32_cmp);
	for (size_t i = 0; i < prev->n_pol; i++)
		if (bsearch(&prev->pol[i].ep_id, c->reused.v, c->reused.n, sizeof(__u32),
			    u32_cmp) &&
		    (e = compiler_push(c, &c->pol)))
			memcpy(e, &prev->pol[i], sizeof(prev->pol[i]));
	for (size_t i = 0; i < prev->n_cidr; i++)
		if (bsearch(&prev->cidr[i].key.ep_id, c->reused.v, c->reused.n, sizeof(__u32),
			    u32_cmp) &&
		    (e = compiler_push(c, &c->cidr)))
			memcpy(e, &prev->cidr[i], sizeof(prev->cidr[i]));
}

static void ep_compile(struct compiler *c, struct pol_ep *ep)
{
	const struct cpod *pods = c->pods.v;
	struct cpod key = {.ip = ep->ip}, *cp;
	struct ep_ctx x = {c, ep};
	const struct pol_ep *was = prev_find(c, ep->ip);

	cp = c->pods.n ? bsearch(&key, pods, c->pods.n, sizeof(key), cpod_cmp) : NULL;
	if (ep_reuse(c, ep, was, cp))
		return;
	ep->compiles = (was && was->ep_id == ep->ep_id ? was->compiles : 0) + 1;
	c->compiled++;
	if (!cp)
		return; /* no Pod has its address (yet): stays pending */
	ep->pod = cp->o;
	ep->identity = cp->id->id;
	kube_store_foreach(c->in->pols, pol_select, &x);
	for (__u8 dir = SL_POL_DIR_IN; dir <= SL_POL_DIR_OUT; dir++) {
		for (size_t i = 0; i < ep->n_pols; i++) {
			const struct kube_netpol *np = &ep->pols[i]->u.np;
			bool in = dir == SL_POL_DIR_IN;

			if (!(np->types & (in ? KUBE_NP_INGRESS : KUBE_NP_EGRESS)))
				continue;
			for (size_t j = 0; j < (in ? np->n_in : np->n_out); j++)
				rule_compile(c, ep, dir, in ? &np->in[j] : &np->out[j],
					     ep->pols[i]->ns);
		}
		blocks_compile(c, ep, dir);
	}
}

static int netpol_any(const struct kube_obj *o, void *ctx)
{
	return 1;
}

/* n_entries of each endpoint, from the sorted allow entries. */
static void eps_count(struct pol_state *s)
{
	for (size_t i = 0, j; i < s->n_pol; i = j) {
		for (j = i; j < s->n_pol && s->pol[j].ep_id == s->pol[i].ep_id; j++)
			;
		for (size_t e = 0; e < s->n_eps; e++)
			if (s->eps[e].ep_id == s->pol[i].ep_id)
				s->eps[e].n_entries = j - i;
	}
}

int pol_compile(struct pol_ids *ids, const struct pol_input *in, struct pol_state *out)
{
	struct compiler c = {.in = in,
			     .ids = ids,
			     .pods.elem = sizeof(struct cpod),
			     .ipc.elem = sizeof(struct pol_ipc),
			     .pol.elem = sizeof(struct sl_pol_key),
			     .cidr.elem = sizeof(struct pol_cidr),
			     .blocks.elem = sizeof(struct cblock),
			     .bports.elem = sizeof(struct pport),
			     .peers.elem = sizeof(struct peer_ids),
			     .idbuf.elem = sizeof(__u32),
			     .reused.elem = sizeof(__u32)};

	memset(out, 0, sizeof(*out));
	pol_ids_mark(ids);
	kube_store_foreach(in->pods, pod_collect, &c);
	pol_ids_sweep(ids);
	node_collect(&c);
	vec_sort_uniq(&c.pods, cpod_cmp);
	out->active = kube_store_foreach(in->pols, netpol_any, NULL) != 0;
	out->eps = calloc(in->n_eps ? in->n_eps : 1, sizeof(*out->eps));
	if (!out->eps)
		c.err = -ENOMEM;
	for (size_t i = 0; !c.err && i < in->n_eps; i++) {
		out->eps[i] = (struct pol_ep){.ip = in->eps[i].ip, .ep_id = in->eps[i].ep_id};
		out->n_eps++;
		ep_compile(&c, &out->eps[i]);
	}
	if (!c.err)
		reused_copy(&c);
	out->compiled = c.compiled;
	out->n_ipc = vec_sort_uniq(&c.ipc, pol_ipc_cmp);
	out->ipc = c.ipc.v;
	out->n_pol = vec_sort_uniq(&c.pol, pol_key_cmp);
	out->pol = c.pol.v;
	out->n_cidr = vec_sort_uniq(&c.cidr, pol_cidr_cmp);
	out->cidr = c.cidr.v;
	eps_count(out);
	free(c.pods.v);
	free(c.blocks.v);
	free(c.bports.v);
	free(c.peers.v);
	free(c.idbuf.v);
	free(c.reused.v);
	if (c.err)
		pol_state_free(out);
	return c.err;
}

void pol_state_free(struct pol_state *s)
{
	for (size_t i = 0; i < s->n_eps; i++)
		free(s->eps[i].pols);
	free(s->eps);
	free(s->ipc);
	free(s->pol);
	free(s->cidr);
	memset(s, 0, sizeof(*s));
}
