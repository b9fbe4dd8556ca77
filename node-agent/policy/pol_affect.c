// SPDX-License-Identifier: Apache-2.0
/* Which local endpoints an API change can affect: marks them dirty in the
 * state last compiled, so the next compile recompiles them and reuses the
 * others as they were. */
#include <string.h>

#include "pol.h"

static bool ep_holds_pol(const struct pol_ep *ep, const struct kube_obj *np)
{
	for (size_t i = 0; i < ep->n_pols; i++)
		if (ep->pols[i] == np)
			return true;
	return false;
}

static bool pod_has_ip(const struct kube_obj *pod, __be32 ip)
{
	for (int i = 0; pod && i < pod->u.pod.n_ips; i++)
		if (pod->u.pod.ips[i].family == 4 && !memcmp(pod->u.pod.ips[i].addr, &ip, 4))
			return true;
	return false;
}

static bool rule_named(const struct kube_np_rule *r)
{
	for (size_t i = 0; i < r->n_ports; i++)
		if (r->ports[i].name)
			return true;
	return false;
}

/* Whether a rule of a policy in pol_ns reads pod o (NULL: none): a peer
 * that selects it (its identity is among the peer's), or named egress ports
 * resolved against every pod (no peers, or ipBlocks: a pod's own /32). */
static bool rule_reads_pod(const struct kube_store *nss, const struct kube_np_rule *r, bool out,
			   const char *pol_ns, const struct kube_obj *o)
{
	bool named = out && rule_named(r);

	if (!o)
		return false;
	if (!r->n_peers)
		return named;
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct kube_np_peer *pe = &r->peers[i];

		if (pe->ip_block ? named
				 : pol_peer_selects(nss, pe, pol_ns, o->ns, o->u.pod.labels,
						    o->u.pod.n_labels))
			return true;
	}
	return false;
}

/* Whether a rule has a namespaceSelector peer that selects namespace a or
 * b (a Namespace before and after; NULL: not there): the identities it
 * admits may change. */
static bool rule_reads_ns(const struct kube_np_rule *r, const struct kube_obj *a,
			  const struct kube_obj *b)
{
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct kube_np_peer *pe = &r->peers[i];

		if (pe->ip_block || !pe->nss.present)
			continue;
		/* a Namespace not (or no longer) there is compiled as one without
		 * labels, which NotIn and DoesNotExist select */
		if (pol_sel_match(&pe->nss, a ? a->u.ns.labels : NULL, a ? a->u.ns.n_labels : 0) ||
		    pol_sel_match(&pe->nss, b ? b->u.ns.labels : NULL, b ? b->u.ns.n_labels : 0))
			return true;
	}
	return false;
}

/* Whether a policy of ep has a rule that reads pod (old or cur) or, for a
 * Namespace change, the namespace (old or cur). */
static bool ep_reads(const struct kube_store *nss, const struct pol_ep *ep,
		     const struct kube_obj *old, const struct kube_obj *cur)
{
	const struct kube_obj *o = old ? old : cur;

	for (size_t i = 0; i < ep->n_pols; i++) {
		const struct kube_netpol *np = &ep->pols[i]->u.np;
		const char *pol_ns = ep->pols[i]->ns;

		for (size_t j = 0; j < np->n_in + np->n_out; j++) {
			bool out = j >= np->n_in;
			const struct kube_np_rule *r = out ? &np->out[j - np->n_in] : &np->in[j];

			if (o->kind == KUBE_NAMESPACE
				? rule_reads_ns(r, old, cur)
				: rule_reads_pod(nss, r, out, pol_ns, old) ||
				      rule_reads_pod(nss, r, out, pol_ns, cur))
				return true;
		}
	}
	return false;
}

/* Whether policy np (may be NULL) selects the endpoint's pod as its subject. */
static bool pol_selects_ep(const struct kube_obj *np, const struct pol_ep *ep)
{
	const struct kube_obj *pod = ep->pod;

	return np && pod && np->ns == pod->ns && np->u.np.sel_ok &&
	       pol_sel_match(&np->u.np.pod_sel, pod->u.pod.labels, pod->u.pod.n_labels);
}

static bool pod_finished(const struct kube_pod *p)
{
	return p->phase == KUBE_POD_SUCCEEDED || p->phase == KUBE_POD_FAILED;
}

/* Whether two versions of a Pod agree on all that policy reads of it as a
 * peer: labels, addresses, ports, hostNetwork, whether it has finished
 * (a status update of a running pod changes none of them). */
static bool pod_same(const struct kube_obj *a, const struct kube_obj *b)
{
	const struct kube_pod *x = &a->u.pod, *y = &b->u.pod;

	if (x->n_labels != y->n_labels || x->n_ips != y->n_ips || x->n_ports != y->n_ports ||
	    x->host_network != y->host_network || pod_finished(x) != pod_finished(y) ||
	    memcmp(x->ips, y->ips, x->n_ips * sizeof(x->ips[0])))
		return false;
	for (size_t i = 0; i < x->n_labels; i++) /* interned: pointers compare */
		if (x->labels[i].key != y->labels[i].key ||
		    x->labels[i].value != y->labels[i].value)
			return false;
	for (size_t i = 0; i < x->n_ports; i++)
		if (x->ports[i].name != y->ports[i].name || x->ports[i].port != y->ports[i].port ||
		    x->ports[i].proto != y->ports[i].proto)
			return false;
	return true;
}

static bool ep_affected(const struct kube_store *nss, const struct pol_ep *ep,
			const struct kube_obj *old, const struct kube_obj *cur)
{
	switch ((old ? old : cur)->kind) {
	case KUBE_POD: /* its subject, or a peer */
		if ((old && ep->pod == old) || pod_has_ip(old, ep->ip) || pod_has_ip(cur, ep->ip))
			return true;
		return !(old && cur && pod_same(old, cur)) && ep_reads(nss, ep, old, cur);
	case KUBE_NAMESPACE:
		return ep_reads(nss, ep, old, cur);
	case KUBE_NETPOL: /* selected before, or now */
		return ep_holds_pol(ep, old) || pol_selects_ep(cur, ep);
	default: /* Nodes: only the IP cache, rebuilt on every compile */
		return false;
	}
}

void pol_affect(struct pol_state *s, const struct kube_store *nss, const struct kube_obj *old,
		const struct kube_obj *cur)
{
	if (!old && !cur)
		return;
	/* an endpoint already dirty may hold pointers to objects gone since:
	 * it is recompiled anyway and not looked at */
	for (size_t i = 0; i < s->n_eps; i++)
		if (!s->eps[i].dirty && ep_affected(nss, &s->eps[i], old, cur))
			s->eps[i].dirty = true;
}
