// SPDX-License-Identifier: Apache-2.0
/* Label selector matching, as apimachinery's Requirement.Matches, and
 * whether a policy peer selects a pod. */
#include <stdbool.h>
#include <stddef.h>

#include "pol.h"

const char *pol_label_get(const struct kube_label *l, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].key == key) /* both interned */
			return l[i].value;
	return NULL;
}

static bool req_match(const struct kube_sel_req *r, const struct kube_label *l, size_t n)
{
	const char *v = pol_label_get(l, n, r->key);
	bool in = false;

	for (size_t i = 0; v && i < r->n_values; i++)
		in |= r->values[i] == v;
	switch (r->op) {
	case KUBE_SEL_IN:
		return in;
	case KUBE_SEL_NOT_IN:
		return !in;
	case KUBE_SEL_EXISTS:
		return v != NULL;
	case KUBE_SEL_NOT_EXISTS:
		return v == NULL;
	}
	return false;
}

bool pol_sel_match(const struct kube_selector *s, const struct kube_label *l, size_t n)
{
	if (!s->present)
		return false;
	for (size_t i = 0; i < s->n_reqs; i++)
		if (!req_match(&s->reqs[i], l, n))
			return false;
	return true;
}

bool pol_peer_selects(const struct kube_store *nss, const struct kube_np_peer *pe,
		      const char *pol_ns, const char *ns, const struct kube_label *l, size_t n)
{
	const struct kube_obj *nso;

	if (pe->nss.present) {
		nso = kube_store_get(nss, "", ns);
		if (!pol_sel_match(&pe->nss, nso ? nso->u.ns.labels : NULL,
				   nso ? nso->u.ns.n_labels : 0))
			return false;
	} else if (ns != pol_ns) {
		return false;
	}
	return !pe->pods.present || pol_sel_match(&pe->pods, l, n);
}
